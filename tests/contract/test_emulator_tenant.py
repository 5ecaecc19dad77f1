"""Tenant variants (dingtalk-api.md §15.3), each a switch per space: raw HTTP, nothing mocked."""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from syncd.emulator import Emulator
from syncd.emulator.cli import add_arguments, build, parse_variant, tenant_lines
from syncd.emulator.variants import VARIANTS
from tests.contract import test_emulator_support as support
from tests.contract.test_emulator_support import Client, code

pytestmark = pytest.mark.contract

no_leaked_threads_fixture = support.no_leaked_threads_fixture

A, B = "a" * 32, "b" * 32
APP = "1000001"
STAMP = {"name": "syncd.sha256", "value": "abc", "visibility": "PRIVATE"}
NOT_SUPPORTED = (400, "operationNotSupported")


@pytest.fixture
def two() -> Iterator[tuple[Emulator, Client]]:
    """An emulator with two knowledge bases (roots A and B), and a client."""
    with Emulator(folders=[A, B]) as emu, requests.Session() as s:
        yield emu, Client(emu, s)


def upload(client: Client, parent: str, name: str, data: bytes = b"x", **opt: Any):
    r = client.upload(parent, name, data, **opt)
    assert r.status_code == 200, r.text
    return r.json()["dentry"]


def pre_check(client: Client, parent: str, name: str) -> requests.Response:
    body = {"protocol": "HEADER_SIGNATURE", "option": {"preCheckParam": {"name": name}}}
    return client.upload_info(parent, body)


# -- listing-without-app-properties ------------------------------------------------------------


def test_listing_without_app_properties(two: tuple[Emulator, Client]) -> None:
    """ListDentries entries have no appProperties key in A; GetDentry with
    appIdsForAppProperties still shows them; B's listing keeps them; off again restores A."""
    emu, c = two
    emu.set_variant("listing-without-app-properties", root_uuid=A)
    for root in (A, B):
        upload(c, root, "f.txt", appProperties=[STAMP])
    space_a, space_b = c.space(A), c.space(B)
    (entry,) = c.list(space_a).json()["dentries"]
    assert "appProperties" not in entry
    assert entry["name"] == "f.txt" and entry["version"] == 1
    got = c.get(space_a, entry["id"], app_ids=[APP]).json()["dentry"]
    assert got["appProperties"] == {APP: [STAMP]}
    (other,) = c.list(space_b).json()["dentries"]
    assert other["appProperties"] == {APP: [STAMP]}
    emu.set_variant("listing-without-app-properties", False, A)
    assert c.list(space_a).json()["dentries"][0]["appProperties"] == {APP: [STAMP]}


# -- upload-info-refuses-existing-name ---------------------------------------------------------


def test_upload_info_refuses_an_existing_name(two: tuple[Emulator, Client]) -> None:
    """A preCheckParam.name taken by a file or folder of the parent: 400 dentryNameConflict
    and no uploadKey; another name, no name, or space B: a key as before."""
    emu, c = two
    emu.set_variant("upload-info-refuses-existing-name")
    upload(c, A, "a.txt")
    emu.mkdir(A, "docs")
    upload(c, B, "a.txt")
    emu.set_variant("upload-info-refuses-existing-name", False, B)
    for name in ("a.txt", " a.txt ", "docs"):
        r = pre_check(c, A, name)
        assert code(r) == (400, "dentryNameConflict")
        assert "exists" in r.json()["message"] and "uploadKey" not in r.json()
    assert pre_check(c, A, "b.txt").json()["uploadKey"]
    assert c.upload_info(A).json()["uploadKey"]
    assert pre_check(c, B, "a.txt").json()["uploadKey"]
    assert emu.stats()["status"]["uploadInfo"] == {400: 3, 200: 5}


def test_without_the_variant_an_existing_name_gets_a_key(two: tuple[Emulator, Client]) -> None:
    """The default: the pre-check name of an existing file does not stop upload info."""
    _, c = two
    upload(c, A, "a.txt")
    assert pre_check(c, A, "a.txt").json()["uploadKey"]


# -- no-folder-api, no-rename-move -------------------------------------------------------------


def test_no_folder_api(two: tuple[Emulator, Client]) -> None:
    """add-folder in A: 400 operationNotSupported, nothing made; uploads into an existing
    folder of A work; add-folder in B works."""
    emu, c = two
    emu.set_variant("no-folder-api", root_uuid=A)
    space_a = c.space(A)
    r = c.add_folder(space_a, "0", "new")
    assert code(r) == NOT_SUPPORTED
    assert r.json()["message"] == "the operation is not supported for this space"
    docs = emu.mkdir(A, "docs")
    docs_id = emu.folders(A)["docs"]["id"]
    assert code(c.add_folder(space_a, docs_id, "deeper")) == NOT_SUPPORTED
    assert set(emu.folders(A)) == {"docs"}
    upload(c, docs, "in.txt")
    assert set(emu.files(A)) == {"docs/in.txt"}
    assert c.add_folder(c.space(B), "0", "new").status_code == 200


def test_no_rename_move(two: tuple[Emulator, Client]) -> None:
    """rename and move in A: 400 operationNotSupported (moves into A too); B renames."""
    emu, c = two
    emu.set_variant("no-rename-move", root_uuid=A)
    f = upload(c, A, "a.txt")
    g = upload(c, B, "b.txt")
    space_a, space_b = f["spaceId"], g["spaceId"]
    sub = c.add_folder(space_a, "0", "sub").json()["dentry"]
    assert code(c.rename(space_a, f["id"], "c.txt")) == NOT_SUPPORTED
    assert code(c.move(space_a, f["id"], space_a, sub["id"])) == NOT_SUPPORTED
    assert code(c.move(space_b, g["id"], space_a, sub["id"])) == NOT_SUPPORTED
    assert set(emu.files(A)) == {"a.txt"} and set(emu.files(B)) == {"b.txt"}
    assert c.rename(space_b, g["id"], "d.txt").status_code == 200
    emu.set_variant("no-rename-move", False, A)
    assert c.rename(space_a, f["id"], "c.txt").status_code == 200


# -- etag-not-md5, no-etag ---------------------------------------------------------------------


def test_etag_not_md5(two: tuple[Emulator, Client]) -> None:
    """Every PUT for A answers 200 with an ETag that is not the MD5 (and no Content-MD5);
    the file is stored all the same; B's PUT has the MD5 ETag."""
    emu, c = two
    emu.set_variant("etag-not-md5", root_uuid=A)
    for data in (b"one", b"two"):
        info = c.info(A)
        r = c.put(info, data)
        assert r.status_code == 200
        etag = r.headers["ETag"]
        assert etag.startswith('"') and len(etag) == 34
        assert etag.strip('"') != hashlib.md5(data).hexdigest().upper()
        assert "Content-MD5" not in r.headers
        assert c.commit(A, info["uploadKey"], data.decode() + ".txt").status_code == 200
    assert emu.files(A)["two.txt"]["md5"] == hashlib.md5(b"two").hexdigest()
    r = c.put(c.info(B), b"one")
    assert r.headers["ETag"] == f'"{hashlib.md5(b"one").hexdigest().upper()}"'


def test_no_etag(two: tuple[Emulator, Client]) -> None:
    """Every PUT answers 200 without ETag (it wins over etag-not-md5); commits work."""
    emu, c = two
    emu.set_variant("no-etag")
    emu.set_variant("etag-not-md5")
    for root in (A, B):
        info = c.info(root)
        r = c.put(info, b"abc")
        assert r.status_code == 200
        assert "ETag" not in r.headers and "Content-MD5" not in r.headers
        assert r.headers["x-oss-request-id"]
        assert c.commit(root, info["uploadKey"], "a.txt").status_code == 200
    emu.set_variant("no-etag", False)
    assert "ETag" in c.put(c.info(A), b"abc").headers


# -- commit-without-version --------------------------------------------------------------------


def test_commit_without_version(two: tuple[Emulator, Client]) -> None:
    """The commit answer's dentry has no version in A; get and list show the new version;
    B's commit answer has it."""
    emu, c = two
    emu.set_variant("commit-without-version", root_uuid=A)
    first = upload(c, A, "a.txt", b"1")
    assert "version" not in first and first["size"] == 1
    second = upload(c, A, "a.txt", b"22", conflictStrategy="OVERWRITE")
    assert "version" not in second and second["id"] == first["id"]
    assert c.get(first["spaceId"], first["id"]).json()["dentry"]["version"] == 2
    assert c.list(first["spaceId"]).json()["dentries"][0]["version"] == 2
    assert emu.files(A)["a.txt"]["version"] == 2
    assert upload(c, B, "a.txt")["version"] == 1


# -- switches ----------------------------------------------------------------------------------


def test_variants_from_the_constructor_and_on_everywhere_but_one() -> None:
    """Emulator(variants=[name, (name, root)]); on everywhere, then off for one space."""
    with (
        Emulator(folders=[A, B], variants=["no-folder-api", ("no-rename-move", B)]) as emu,
        requests.Session() as s,
    ):
        c = Client(emu, s)
        space_a, space_b = c.space(A), c.space(B)
        assert code(c.add_folder(space_a, "0", "x")) == NOT_SUPPORTED
        assert code(c.add_folder(space_b, "0", "x")) == NOT_SUPPORTED
        emu.set_variant("no-folder-api", False, B)
        assert code(c.add_folder(space_a, "0", "x")) == NOT_SUPPORTED
        assert c.add_folder(space_b, "0", "x").status_code == 200
        assert emu.variant("no-rename-move", B) and not emu.variant("no-rename-move", A)


def test_unknown_variants_and_roots_are_refused() -> None:
    """An unknown name is a ValueError naming the known ones; so is a uuid that is no root."""
    emu = Emulator(folders=[A])
    with pytest.raises(ValueError, match="no-etag") as err:
        emu.set_variant("no-such-thing")
    assert all(name in str(err.value) for name in VARIANTS)
    with pytest.raises(ValueError, match="root folder"):
        emu.set_variant("no-etag", root_uuid=B)
    with pytest.raises(ValueError, match="unknown variant"):
        Emulator(variants=["nope"])


def test_cli_variants_and_announcement() -> None:
    """--variant NAME[:ROOT_UUID] (repeatable) reaches the emulator; unknown names are a
    usage error listing the known ones; the printed lines name quota, variants, contacts."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = ["--folder", A, "--folder", B, "--variant", "no-etag"]
    argv += ["--variant", f"no-folder-api:{B}", "--monthly-quota", "7"]
    args = parser.parse_args(argv)
    assert args.variants == [("no-etag", None), ("no-folder-api", B)]
    with build(args) as emu:
        assert emu.variant("no-etag", A) and emu.variant("no-folder-api", B)
        assert not emu.variant("no-folder-api", A)
        text = "\n".join(tenant_lines(emu))
    assert "monthly API quota: 7" in text and "/_emulator/reset-month" in text
    assert "no-etag (every space)" in text and f"no-folder-api ({B})" in text
    assert "'Emulator Operator' mobile 13800000000 userid user-1" in text
    with pytest.raises(argparse.ArgumentTypeError, match="commit-without-version"):
        parse_variant("bogus")
    with pytest.raises(SystemExit):
        parser.parse_args(["--variant", "bogus"])
    help_text = parser.format_help()
    assert "--variant" in help_text and "listing-without-app-properties" in help_text
