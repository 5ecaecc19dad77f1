"""The ``loop`` fault: a paginated listing that never ends (raw HTTP, nothing mocked)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest
import requests

from syncd.emulator import Emulator
from syncd.emulator.cli import add_arguments, parse_fault
from syncd.emulator.paging import LOOP_TOKEN
from tests.contract import test_emulator_support as support
from tests.contract.test_emulator_support import Client, code

pytestmark = pytest.mark.contract

no_leaked_threads_fixture = support.no_leaked_threads_fixture
emu_fixture = support.emu_fixture
client_fixture = support.client_fixture
root_fixture = support.root_fixture
space_fixture = support.space_fixture

Lister = Callable[[Client, Emulator, str | None], requests.Response]


def _versions(c: Client, emu: Emulator, token: str | None) -> requests.Response:
    f = emu.files()["f0.txt"]
    space = c.space(emu.root_uuids[0])
    return c.dentry_call("GET", space, f["id"], "/versions", nextToken=token, maxResults=2)


LISTERS: dict[str, tuple[str, Lister]] = {
    "listDentries": (
        "dentries",
        lambda c, emu, t: c.list(c.space(emu.root_uuids[0]), nextToken=t, maxResults=2),
    ),
    "nodes": (
        "nodes",
        lambda c, emu, t: c.wiki(
            "nodes", parentNodeId=emu.root_uuids[0], nextToken=t, maxResults=2
        ),
    ),
    "workspaces": ("workspaces", lambda c, emu, t: c.wiki("workspaces", nextToken=t, maxResults=2)),
    "versions": ("dentries", _versions),
}


def _fill(emu: Emulator) -> None:
    """Three files (the first with three versions) in three knowledge bases."""
    root = emu.root_uuids[0]
    uuid = emu.put_file(root, "f0.txt", b"0")
    emu.edit(uuid, b"00")
    emu.edit(uuid, b"000")
    for i in (1, 2):
        emu.put_file(root, f"f{i}.txt", b"x")


@pytest.fixture
def full() -> Emulator:
    return Emulator(folders=["a" * 32, "b" * 32, "c" * 32])


@pytest.mark.parametrize("endpoint", list(LISTERS))
def test_loop_repeats_the_first_page_with_the_token_it_was_asked(
    full: Emulator, endpoint: str
) -> None:
    """Every answer has a non-empty nextToken: a fixed one on the first page, then the very
    token asked with; the entries are the first page's, every time."""
    key, lister = LISTERS[endpoint]
    with full as emu, requests.Session() as s:
        c = Client(emu, s)
        _fill(emu)
        normal = lister(c, emu, None).json()
        assert normal["nextToken"] and len(normal[key]) == 2
        emu.set_fault(endpoint, "loop")
        first = lister(c, emu, None).json()
        assert first == {key: normal[key], "nextToken": LOOP_TOKEN}
        token = first["nextToken"]
        for _ in range(3):
            again = lister(c, emu, token).json()
            assert again == {key: normal[key], "nextToken": token}
        real = lister(c, emu, normal["nextToken"]).json()
        assert real == {key: normal[key], "nextToken": normal["nextToken"]}
        assert emu.stats()["faults"] == 5


def test_loop_on_a_single_page_listing(client: Client, emu: Emulator, space: str) -> None:
    """A listing that fits one page still never ends; an empty folder too."""
    emu.put_file(emu.root_uuids[0], "only.txt", b"x")
    assert "nextToken" not in client.list(space).json()
    emu.set_fault("listDentries", "loop")
    body = client.list(space).json()
    assert [d["name"] for d in body["dentries"]] == ["only.txt"]
    assert body["nextToken"] == LOOP_TOKEN
    empty = client.add_folder(space, "0", "empty").json()["dentry"]
    assert client.list(space, empty["id"], nextToken="whatever").json() == {
        "dentries": [],
        "nextToken": "whatever",
    }


def test_loop_count_then_the_listing_ends(client: Client, emu: Emulator, root: str) -> None:
    """count=2: two looping answers, then the real listing; the loop's fixed token is then
    refused like any token the emulator did not issue."""
    emu.set_fault("nodes", "loop", count=2)
    assert client.wiki("nodes", parentNodeId=root).json()["nextToken"] == LOOP_TOKEN
    assert client.wiki("nodes", parentNodeId=root, nextToken="t").json()["nextToken"] == "t"
    assert client.wiki("nodes", parentNodeId=root).json() == {"nodes": []}
    r = client.wiki("nodes", parentNodeId=root, nextToken=LOOP_TOKEN)
    assert code(r) == (400, "paramError")


def test_loop_rate_is_seeded() -> None:
    """rate < 1: some pages loop, the same ones for the same seed."""

    def run() -> list[bool]:
        with Emulator(seed=7) as emu, requests.Session() as s:
            c = Client(emu, s)
            emu.set_fault("workspaces", "loop", rate=0.5)
            return ["nextToken" in c.wiki("workspaces").json() for _ in range(20)]

    first = run()
    assert 0 < sum(first) < 20
    assert run() == first


def test_loop_is_for_the_paginated_lists_only(client: Client, emu: Emulator, root: str) -> None:
    """loop on another endpoint is a ValueError; "*:loop" loops the lists and nothing else."""
    for endpoint in ("commit", "getDentry", "oss", "node", "getByMobile"):
        with pytest.raises(ValueError, match="paginated"):
            emu.set_fault(endpoint, "loop")
    emu.set_fault("*", "loop")
    assert client.upload(root, "a.txt", b"x").status_code == 200
    assert "nextToken" not in client.query(root).json()
    assert client.wiki("workspaces").json()["nextToken"] == LOOP_TOKEN
    emu.clear_faults()
    assert "nextToken" not in client.wiki("workspaces").json()


def test_cli_loop_fault() -> None:
    """--fault ENDPOINT:loop[:RATE] is accepted for the lists and refused elsewhere."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--fault", "listDentries:loop", "--fault", "versions:loop:0.25"])
    assert args.faults == [("listDentries", "loop", 1.0, None), ("versions", "loop", 0.25, None)]
    with pytest.raises(argparse.ArgumentTypeError, match="paginated"):
        parse_fault("commit:loop")
