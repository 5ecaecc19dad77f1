"""Test-side colleague operations on the emulator, checked through the API over raw HTTP."""

from __future__ import annotations

import hashlib

import pytest

from syncd.emulator import Emulator
from tests.contract import test_emulator_support as support
from tests.contract.test_emulator_support import UNION, Client, code

pytestmark = pytest.mark.contract

no_leaked_threads_fixture = support.no_leaked_threads_fixture
emu_fixture = support.emu_fixture
client_fixture = support.client_fixture
root_fixture = support.root_fixture
space_fixture = support.space_fixture

COLLEAGUE = "colleague-union-id"
STAMP = {"name": "syncd.sha256", "value": "abc", "visibility": "PRIVATE"}


def test_put_file_is_a_hand_upload(emu: Emulator, client: Client, root: str, space: str) -> None:
    """put_file makes version 1 by the colleague, unstamped unless properties are given."""
    uuid = emu.put_file(root, "hand.txt", b"hello")
    stamped = emu.put_file(
        root, "stamped.txt", b"x", modifier="bob", app_properties={emu.app_id: [STAMP]}
    )
    entry = emu.files()["hand.txt"]
    assert (entry["uuid"], entry["version"], entry["modifier"], entry["path"]) == (
        uuid,
        1,
        COLLEAGUE,
        "/hand.txt",
    )
    assert entry["sha256"] == hashlib.sha256(b"hello").hexdigest()
    assert entry["app_properties"] == {}
    listed = {d["name"]: d for d in client.list(space).json()["dentries"]}
    assert (listed["hand.txt"]["modifierId"], listed["hand.txt"]["creatorId"]) == (
        COLLEAGUE,
        COLLEAGUE,
    )
    assert listed["hand.txt"]["appProperties"] == {}
    assert listed["stamped.txt"]["uuid"] == stamped
    assert listed["stamped.txt"]["appProperties"] == {emu.app_id: [STAMP]}
    assert listed["stamped.txt"]["modifierId"] == "bob"


def test_put_file_refusals(emu: Emulator, root: str) -> None:
    """A taken name, a bad name, an unknown parent or too many properties are refused."""
    f = emu.put_file(root, "a.txt", b"")
    with pytest.raises(FileExistsError):
        emu.put_file(root, "a.txt", b"")
    with pytest.raises(ValueError, match="dentryNameIllegal"):
        emu.put_file(root, "a|b", b"")
    with pytest.raises(KeyError):
        emu.put_file("x" * 32, "b.txt", b"")
    with pytest.raises(KeyError):
        emu.put_file(f, "b.txt", b"")  # a file is no parent
    four = [{"name": f"p{i}", "value": "v", "visibility": "PUBLIC"} for i in range(4)]
    with pytest.raises(ValueError, match="ExceedsLimit"):
        emu.put_file(root, "c.txt", b"", app_properties={"1": four})


def test_edit_makes_a_new_version(emu: Emulator, client: Client, root: str, space: str) -> None:
    """edit: next version by another modifierId; app properties kept unless told otherwise."""
    d = client.upload(root, "a.txt", b"1", appProperties=[STAMP]).json()["dentry"]
    assert emu.edit(d["uuid"], b"22") == 2
    got = client.get(space, d["id"], [emu.app_id]).json()["dentry"]
    assert (got["version"], got["size"], got["modifierId"], got["creatorId"]) == (
        2,
        2,
        COLLEAGUE,
        UNION,
    )
    assert got["appProperties"] == {emu.app_id: [STAMP]}  # the stamp survives the edit
    assert emu.files()["a.txt"]["sha256"] == hashlib.sha256(b"22").hexdigest()
    assert emu.edit(d["uuid"], b"333", modifier="carol", keep_app_properties=False) == 3
    entry = emu.files()["a.txt"]
    assert (entry["version"], entry["modifier"], entry["app_properties"]) == (3, "carol", {})
    assert [v["modifier"] for v in emu.versions(d["uuid"])] == [UNION, COLLEAGUE, "carol"]
    with pytest.raises(KeyError):
        emu.edit(emu.mkdir(root, "d"), b"")


def test_delete_and_remove(emu: Emulator, client: Client, root: str, space: str) -> None:
    """delete (alias remove) drops a dentry and its subtree for every call."""
    d = emu.mkdir(root, "d")
    f = emu.put_file(d, "f.txt", b"")
    folder_id = emu.folders()["d"]["id"]
    emu.delete(d)
    assert code(client.list(space, folder_id)) == (404, "dentryNotExist")
    assert code(client.query(f)) == (404, "documentNotExist")
    g = emu.put_file(root, "g.txt", b"")
    emu.remove(g)
    assert emu.files() == {}
    with pytest.raises(KeyError):
        emu.delete(g)


def test_rename_keeps_the_uuid(emu: Emulator, client: Client, root: str, space: str) -> None:
    """rename: same uuid and id, new name and path (also for everything below a folder)."""
    d = emu.mkdir(root, "d")
    f = emu.put_file(d, "f.txt", b"")
    emu.put_file(root, "taken", b"")
    emu.rename(d, "e")
    assert emu.files()["e/f.txt"]["uuid"] == f
    assert emu.files()["e/f.txt"]["path"] == "/e/f.txt"
    assert emu.folders()["e"]["modifier"] == COLLEAGUE
    (folder,) = [x for x in client.list(space).json()["dentries"] if x["type"] == "FOLDER"]
    assert (folder["uuid"], folder["name"]) == (d, "e")
    with pytest.raises(FileExistsError):
        emu.rename(d, "taken")
    with pytest.raises(ValueError, match="dentryNameIllegal"):
        emu.rename(d, "bad.")
    with pytest.raises(ValueError, match="paramError"):
        emu.rename(root, "x")


def test_move_keeps_the_uuid(emu: Emulator, client: Client, root: str) -> None:
    """move: same uuid, new path; never into its own subtree; a taken name is refused."""
    a, b = emu.mkdir(root, "a"), emu.mkdir(root, "b")
    f = emu.put_file(a, "f.txt", b"x")
    emu.move(f, b)
    assert emu.files()["b/f.txt"]["uuid"] == f
    emu.move(b, a)
    assert emu.files()["a/b/f.txt"]["uuid"] == f
    assert client.upload(b, "g.txt", b"y").json()["dentry"]["path"] == "/a/b/g.txt"
    with pytest.raises(ValueError, match="paramError"):
        emu.move(a, b)
    emu.put_file(root, "f.txt", b"")
    with pytest.raises(FileExistsError):
        emu.move(f, root)
    with pytest.raises(KeyError):
        emu.move(f, f)  # a file is no target folder


def test_move_between_roots() -> None:
    """A move into another root (another space) keeps the uuid."""
    with Emulator(folders=["x" * 32, "y" * 32]) as emu:
        f = emu.put_file("x" * 32, "f.txt", b"")
        emu.move(f, "y" * 32)
        assert emu.files("y" * 32)["f.txt"]["uuid"] == f
        assert emu.files("x" * 32) == {}


def test_mkdir(emu: Emulator, client: Client, root: str) -> None:
    """mkdir returns the new folder's uuid, an upload parent; a taken name is refused."""
    d = emu.mkdir(root, "docs")
    assert emu.folders()["docs"] == {
        "uuid": d,
        "id": emu.folders()["docs"]["id"],
        "modifier": COLLEAGUE,
        "app_properties": {},
        "path": "/docs",
    }
    assert client.upload(d, "a.txt", b"x").status_code == 200
    with pytest.raises(FileExistsError):
        emu.mkdir(root, "docs")


def test_content_of_colleague_files() -> None:
    """With store_content, put_file and edit keep the bytes."""
    with Emulator(store_content=True) as emu:
        f = emu.put_file(emu.root_uuids[0], "a.bin", b"\x00\x01")
        assert emu.content(f) == b"\x00\x01"
        emu.edit(f, b"new")
        assert emu.content(f) == b"new"


def test_calls_counts_requests(emu: Emulator, client: Client, root: str) -> None:
    """calls(endpoint) is the request count of one endpoint since reset_stats()."""
    client.upload(root, "a.txt", b"x")
    assert (emu.calls("commit"), emu.calls("oss"), emu.calls("move")) == (1, 1, 0)
    emu.reset_stats()
    assert emu.calls("commit") == 0
