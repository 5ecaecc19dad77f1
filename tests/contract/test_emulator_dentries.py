"""Storage 1.0 dentry calls (dingtalk-api.md §8.4-§8.6, §14): raw HTTP, nothing mocked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from syncd.emulator import Emulator
from tests.contract import test_emulator_support as support
from tests.contract.test_emulator_support import UNION, Client, code

pytestmark = pytest.mark.contract

no_leaked_threads_fixture = support.no_leaked_threads_fixture
emu_fixture = support.emu_fixture
client_fixture = support.client_fixture
root_fixture = support.root_fixture
space_fixture = support.space_fixture

OTHER = "other-union-id"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
STAMP = {"name": "syncd.sha256", "value": "abc", "visibility": "PRIVATE"}


@pytest.fixture
def two() -> Iterator[tuple[Emulator, Client, Client]]:
    """An emulator with two operators, and a client for each."""
    with Emulator(union_ids=(UNION, OTHER)) as emu, requests.Session() as s:
        yield emu, Client(emu, s), Client(emu, s)


def file_in(client: Client, parent_uuid: str, name: str, data: bytes = b"x", **opt: Any):
    r = client.upload(parent_uuid, name, data, **opt)
    assert r.status_code == 200, r.text
    return r.json()["dentry"]


# -- list --------------------------------------------------------------------------------------


def test_list_shows_files_and_folders(client: Client, root: str, space: str) -> None:
    """A listing of the root (parentId 0) has both kinds; folders lack size and version."""
    f = file_in(client, root, "a.txt", b"abc")
    sub = client.add_folder(space, "0", "sub").json()["dentry"]
    r = client.list(space)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "nextToken" not in body  # one page only
    by_name = {d["name"]: d for d in body["dentries"]}
    assert set(by_name) == {"a.txt", "sub"}
    assert (by_name["a.txt"]["uuid"], by_name["a.txt"]["size"]) == (f["uuid"], 3)
    assert by_name["a.txt"]["category"] == "DOCUMENT"
    assert by_name["sub"]["id"] == sub["id"]
    assert not {"size", "version", "extension", "category"} & set(by_name["sub"])
    assert ISO.match(by_name["a.txt"]["modifiedTime"])
    inner = client.list(space, sub["id"]).json()
    assert inner == {"dentries": []}


def test_pagination_sees_every_entry_once(emu: Emulator, client: Client, root: str) -> None:
    """More than 50 entries: default pages of 50, each entry exactly once, no token at the end."""
    for i in range(120):
        emu.put_file(root, f"f{i:03d}.txt", b"x" * (i % 7))
    space = client.space(root)
    pages: list[int] = []
    token = None
    seen: list[str] = []
    while True:
        body = client.list(space, nextToken=token).json()
        pages.append(len(body["dentries"]))
        seen += [d["uuid"] for d in body["dentries"]]
        token = body.get("nextToken")
        if not token:
            break
    assert pages == [50, 50, 20]
    assert sorted(seen) == sorted(f["uuid"] for f in emu.files().values())
    assert len(set(seen)) == 120


@pytest.mark.parametrize(
    ("order_by", "order", "field"),
    [
        ("NAME", "ASC", "name"),
        ("NAME", "DESC", "name"),
        ("SIZE", "DESC", "size"),
        ("CREATE_TIME", "ASC", "createTime"),
        ("MODIFIED_TIME", "DESC", "modifiedTime"),
    ],
)
def test_ordered_pages(
    emu: Emulator, client: Client, root: str, order_by: str, order: str, field: str
) -> None:
    """Every orderBy/order pages through all entries in that order."""
    for i in range(23):
        emu.put_file(root, f"n{(i * 7) % 23:02d}.bin", b"x" * ((i * 5) % 11))
    got = client.list_all(client.space(root), maxResults=5, orderBy=order_by, order=order)
    assert len({d["uuid"] for d in got}) == 23
    values = [d[field] for d in got]
    assert values == sorted(values, reverse=order == "DESC")


def test_pagination_is_stable_under_changes(emu: Emulator, client: Client, root: str) -> None:
    """Entries added or removed between pages never make an unchanged entry repeat or vanish."""
    uuids = [emu.put_file(root, f"f{i:02d}", b"") for i in range(30)]
    space = client.space(root)
    params = {"maxResults": 10, "orderBy": "NAME", "order": "ASC"}
    first = client.list(space, **params).json()
    seen = [d["uuid"] for d in first["dentries"]]
    emu.delete(uuids[0])  # already sent
    emu.delete(uuids[25])  # not sent yet
    before = emu.put_file(root, "a-new", b"")  # sorts before the cursor
    after = emu.put_file(root, "f15b", b"")  # sorts after it
    token = first["nextToken"]
    while token:
        body = client.list(space, nextToken=token, **params).json()
        seen += [d["uuid"] for d in body["dentries"]]
        token = body.get("nextToken")
    assert len(seen) == len(set(seen))
    assert set(uuids) - {uuids[25]} <= set(seen)
    assert after in seen
    assert uuids[25] not in seen
    assert before not in seen


def test_list_parameter_errors(emu: Emulator, client: Client, root: str, space: str) -> None:
    """Bad maxResults, orderBy, order or nextToken -> 400 paramError; a token is per listing."""
    emu.put_file(root, "a", b"")
    emu.put_file(root, "b", b"")
    sub = emu.mkdir(root, "sub")
    for params in (
        {"maxResults": 51},
        {"maxResults": 0},
        {"maxResults": "many"},
        {"orderBy": "COLOUR"},
        {"order": "UP"},
        {"nextToken": "not-a-token"},
    ):
        assert code(client.list(space, **params)) == (400, "paramError"), params
    token = client.list(space, maxResults=1).json()["nextToken"]
    sub_id = emu.folders()["sub"]["id"]
    assert code(client.list(space, sub_id, nextToken=token)) == (400, "paramError")
    assert code(client.list(space, maxResults=1, order="ASC", nextToken=token)) == (
        400,
        "paramError",
    )
    assert client.list(space, maxResults=50).status_code == 200
    assert sub


def test_list_not_found_and_identity(emu: Emulator, client: Client, root: str, space: str) -> None:
    """Unknown space/parent, a file as parent, a missing parentId or operator."""
    f = file_in(client, root, "a.txt")
    assert code(client.list("999")) == (404, "spaceNotExist")
    assert code(client.list(space, "123")) == (404, "dentryNotExist")
    assert code(client.list(space, f["id"])) == (404, "dentryNotExist")
    assert code(client.list(space, "")) == (400, "paramError")
    assert code(client.list(space, union="stranger")) == (403, "permissionDenied")
    assert code(client.list(space, union="")) == (400, "paramError")


# -- get ---------------------------------------------------------------------------------------


def test_get_dentry(client: Client, root: str, space: str) -> None:
    """GetDentry answers {dentry} (no category); 0 is the root; unknown -> 404 dentryNotExist."""
    f = file_in(client, root, "a.txt", b"abc")
    r = client.get(space, f["id"])
    assert r.status_code == 200, r.text
    d = r.json()["dentry"]
    assert (d["uuid"], d["name"], d["size"], d["version"]) == (f["uuid"], "a.txt", 3, 1)
    assert "category" not in d
    assert d["appProperties"] == {}
    top = client.get(space, "0").json()["dentry"]
    assert (top["uuid"], top["type"], top["path"]) == (root, "FOLDER", "/")
    assert code(client.get(space, "123")) == (404, "dentryNotExist")
    assert code(client.get("999", f["id"])) == (404, "spaceNotExist")
    assert code(client.get(space, f["id"], [str(i) for i in range(21)])) == (400, "paramError")


def test_batch_get_dentries(client: Client, emu: Emulator, root: str, space: str) -> None:
    """BatchGetDentries (§8.4): up to 30 ids in one metered call, each item answered on its
    own; a missing dentry fails only its item, a missing space the call."""
    a = file_in(client, root, "a.txt", b"abc")
    b = file_in(client, root, "b.txt", b"de")
    path = f"/v1.0/storage/spaces/{space}/dentries/query"
    before = emu.calls("batchGetDentries")
    r = client.call("POST", path, {"dentryIds": [a["id"], "123", b["id"]]}, unionId=UNION)
    assert r.status_code == 200, r.text
    items = r.json()["resultItems"]
    assert [i["dentryId"] for i in items] == [a["id"], "123", b["id"]]
    assert [i["success"] for i in items] == [True, False, True]
    assert items[1]["errorCode"] == "dentryNotExist" and "dentry" not in items[1]
    assert (items[0]["dentry"]["name"], items[2]["dentry"]["version"]) == ("a.txt", 1)
    assert emu.calls("batchGetDentries") == before + 1
    many = {"dentryIds": [a["id"]] * 31}
    assert code(client.call("POST", path, many, unionId=UNION)) == (400, "paramError")
    assert code(client.call("POST", path, {"dentryIds": []}, unionId=UNION)) == (400, "paramError")
    other = "/v1.0/storage/spaces/999/dentries/query"
    assert code(client.call("POST", other, {"dentryIds": [a["id"]]}, unionId=UNION)) == (
        404,
        "spaceNotExist",
    )


# -- app properties ----------------------------------------------------------------------------


def test_app_properties_visibility(emu: Emulator, client: Client, root: str, space: str) -> None:
    """The caller sees its own properties and other apps' PUBLIC ones, keyed by app id."""
    public = {"name": "owner", "value": "me", "visibility": "PUBLIC"}
    f = file_in(client, root, "a.txt", appProperties=[STAMP, public])
    own = {emu.app_id: [STAMP, public]}
    assert f["appProperties"] == own
    hidden = {"name": "secret", "value": "s", "visibility": "PRIVATE"}
    shared = {"name": "tag", "value": "t", "visibility": "PUBLIC"}
    emu.set_app_properties(f["uuid"], {**own, "2000002": [hidden, shared]})
    (listed,) = client.list(space).json()["dentries"]
    assert listed["appProperties"] == {**own, "2000002": [shared]}
    assert client.get(space, f["id"], [emu.app_id]).json()["dentry"]["appProperties"] == own
    assert client.get(space, f["id"], ["2000002"]).json()["dentry"]["appProperties"] == {
        "2000002": [shared]
    }
    assert client.get(space, f["id"], ["3"]).json()["dentry"]["appProperties"] == {}
    assert emu.files()["a.txt"]["app_properties"]["2000002"] == [hidden, shared]


def test_app_properties_limits(client: Client, root: str, space: str) -> None:
    """More than 3 per app -> 400 dentryAppPropertiesNumberExceedsLimit; bad items -> paramError."""
    many = [{"name": f"p{i}", "value": "v", "visibility": "PRIVATE"} for i in range(4)]
    r = client.upload(root, "a.txt", b"x", appProperties=many)
    assert code(r) == (400, "dentryAppPropertiesNumberExceedsLimit")
    bad = [{"name": "p", "value": "v", "visibility": "SECRET"}]
    assert code(client.upload(root, "a.txt", b"x", appProperties=bad)) == (400, "paramError")
    assert code(client.add_folder(space, "0", "d", app_properties=many)) == (
        400,
        "dentryAppPropertiesNumberExceedsLimit",
    )
    no_vis = file_in(client, root, "b.txt", appProperties=[{"name": "p", "value": "v"}])
    assert no_vis["appProperties"]["1000001"][0]["visibility"] == "PRIVATE"


def test_app_properties_on_overwrite(emu: Emulator, client: Client, root: str) -> None:
    """OVERWRITE replaces the caller's properties only when the request carries some."""
    file_in(client, root, "a.txt", appProperties=[STAMP], conflictStrategy="OVERWRITE")
    kept = file_in(client, root, "a.txt", b"2", conflictStrategy="OVERWRITE")
    assert kept["appProperties"] == {emu.app_id: [STAMP]}
    new = {"name": "syncd.sha256", "value": "def", "visibility": "PRIVATE"}
    again = file_in(client, root, "a.txt", b"3", conflictStrategy="OVERWRITE", appProperties=[new])
    assert (again["version"], again["appProperties"]) == (3, {emu.app_id: [new]})
    other = [{"name": "x", "value": "y", "visibility": "PUBLIC"}]
    same = file_in(
        client, root, "a.txt", conflictStrategy="RETURN_DENTRY_IF_EXISTS", appProperties=other
    )
    assert same["appProperties"] == {emu.app_id: [new]}


def test_add_folder_app_properties(emu: Emulator, client: Client, space: str) -> None:
    """add-folder stores option.appProperties on a new folder; RETURN_DENTRY keeps them."""
    d = client.add_folder(space, "0", "d", app_properties=[STAMP]).json()["dentry"]
    assert d["appProperties"] == {emu.app_id: [STAMP]}
    other = [{"name": "x", "value": "y", "visibility": "PUBLIC"}]
    same = client.add_folder(space, "0", "d", "RETURN_DENTRY_IF_EXISTS", other).json()["dentry"]
    assert same["appProperties"] == {emu.app_id: [STAMP]}
    assert emu.folders()["d"]["app_properties"] == {emu.app_id: [STAMP]}


def test_put_app_properties(emu: Emulator, client: Client, root: str, space: str) -> None:
    """PUT appProperties updates the caller's by name ({success: true}); > 3 is refused."""
    f = file_in(client, root, "a.txt", appProperties=[STAMP])
    new = {"name": "syncd.sha256", "value": "new", "visibility": "PRIVATE"}
    extra = [{"name": f"e{i}", "value": "v", "visibility": "PUBLIC"} for i in range(2)]
    r = client.dentry_call(
        "PUT", space, f["id"], "/appProperties", {"appProperties": [new, *extra]}
    )
    assert r.json() == {"success": True}
    assert emu.files()["a.txt"]["app_properties"] == {emu.app_id: [new, *extra]}
    one_more = [{"name": "e9", "value": "v", "visibility": "PUBLIC"}]
    r = client.dentry_call("PUT", space, f["id"], "/appProperties", {"appProperties": one_more})
    assert code(r) == (400, "dentryAppPropertiesNumberExceedsLimit")
    assert code(client.dentry_call("PUT", space, f["id"], "/appProperties", {})) == (
        400,
        "paramError",
    )


# -- rename ------------------------------------------------------------------------------------


def test_rename(two: tuple[Emulator, Client, Client]) -> None:
    """Rename keeps uuid and id, sets modifierId; clash -> dentryAlreadyExist; root refused."""
    emu, me, _ = two
    root = emu.root_uuids[0]
    space = me.space(root)
    f = file_in(me, root, "a.txt")
    file_in(me, root, "b.txt")
    r = me.rename(space, f["id"], " c.txt ", unionId=OTHER)
    assert r.status_code == 200, r.text
    d = r.json()["dentry"]
    assert (d["uuid"], d["id"], d["name"], d["path"]) == (f["uuid"], f["id"], "c.txt", "/c.txt")
    assert (d["modifierId"], d["version"]) == (OTHER, 1)
    assert "category" not in d
    assert code(me.rename(space, f["id"], "b.txt")) == (400, "dentryAlreadyExist")
    assert code(me.rename(space, f["id"], "a|b")) == (400, "dentryNameIllegal")
    assert code(me.rename(space, f["id"], None)) == (400, "paramError.name")
    assert me.rename(space, f["id"], "c.txt").status_code == 200  # same name: no-op
    assert code(me.rename(space, "0", "x")) == (400, "paramError")
    assert code(me.rename(space, me.query(root).json()["dentryId"], "x")) == (400, "paramError")
    assert code(me.rename(space, "123", "x")) == (404, "dentryNotExist")
    assert set(emu.files()) == {"b.txt", "c.txt"}
    assert emu.files()["c.txt"]["modifier"] == OTHER


# -- move --------------------------------------------------------------------------------------


def test_move_keeps_uuid_and_id(emu: Emulator, client: Client, root: str, space: str) -> None:
    """A moved file keeps uuid and id; the answer is synchronous ({dentry, async, taskId})."""
    f = file_in(client, root, "a.txt")
    sub = client.add_folder(space, "0", "sub").json()["dentry"]
    r = client.move(space, f["id"], space, sub["id"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["async"], body["taskId"]) == (False, "")
    d = body["dentry"]
    assert (d["uuid"], d["id"], d["parentId"], d["path"]) == (
        f["uuid"],
        f["id"],
        sub["id"],
        "/sub/a.txt",
    )
    assert emu.files()["sub/a.txt"]["uuid"] == f["uuid"]
    back = client.move(space, f["id"], space, "0").json()["dentry"]
    assert back["path"] == "/a.txt"


def test_move_conflict_strategies(emu: Emulator, client: Client, root: str, space: str) -> None:
    """AUTO_RENAME (default), RETURN_ERROR, RETURN_DENTRY and OVERWRITE in the target folder."""
    sub = client.add_folder(space, "0", "sub").json()["dentry"]
    there = file_in(client, sub["uuid"], "a.txt", b"old")

    def fresh() -> dict[str, Any]:
        return file_in(client, root, "a.txt", b"new")

    f = fresh()
    assert code(client.move(space, f["id"], space, sub["id"], "RETURN_ERROR_IF_EXISTS")) == (
        400,
        "dentryAlreadyExist",
    )
    same = client.move(space, f["id"], space, sub["id"], "RETURN_DENTRY_IF_EXISTS").json()
    assert same["dentry"]["uuid"] == there["uuid"]
    assert emu.files()["a.txt"]["uuid"] == f["uuid"]  # nothing moved
    renamed = client.move(space, f["id"], space, sub["id"]).json()["dentry"]
    assert (renamed["name"], renamed["uuid"]) == ("a(1).txt", f["uuid"])
    g = fresh()
    over = client.move(space, g["id"], space, sub["id"], "OVERWRITE").json()["dentry"]
    assert (over["uuid"], over["path"]) == (g["uuid"], "/sub/a.txt")
    assert set(emu.files()) == {"sub/a.txt", "sub/a(1).txt"}
    assert emu.files()["sub/a.txt"]["size"] == 3
    assert code(client.query(there["uuid"])) == (404, "documentNotExist")


def test_move_folder_rules(emu: Emulator, client: Client, root: str, space: str) -> None:
    """No move into itself or its subtree, no move of the root; folders are never merged."""
    a = client.add_folder(space, "0", "a").json()["dentry"]
    b = client.add_folder(space, a["id"], "b").json()["dentry"]
    inner = file_in(client, b["uuid"], "f.txt")
    assert code(client.move(space, a["id"], space, a["id"])) == (400, "paramError")
    assert code(client.move(space, a["id"], space, b["id"])) == (400, "paramError")
    assert code(client.move(space, "0", space, b["id"])) == (400, "paramError")
    client.add_folder(space, "0", "b")
    assert code(client.move(space, b["id"], space, "0", "OVERWRITE")) == (
        400,
        "dentryAlreadyExist",
    )
    moved = client.move(space, b["id"], space, "0").json()["dentry"]
    assert moved["name"] == "b(1)"
    assert emu.files()["b(1)/f.txt"]["uuid"] == inner["uuid"]
    assert file_in(client, b["uuid"], "g.txt")["path"] == "/b(1)/g.txt"


def test_move_errors_and_other_space(emu: Emulator, client: Client, root: str, space: str) -> None:
    """Missing target ids, unknown target space/folder; a move into another space."""
    f = file_in(client, root, "a.txt")
    r = client.dentry_call("POST", space, f["id"], "/move", {"targetFolderId": "0"})
    assert code(r) == (400, "paramError.targetSpaceId")
    r = client.dentry_call("POST", space, f["id"], "/move", {"targetSpaceId": space})
    assert code(r) == (400, "paramError.targetFolderId")
    assert code(client.move(space, f["id"], "999", "0")) == (404, "spaceNotExist")
    assert code(client.move(space, f["id"], space, "123")) == (404, "dentryNotExist")
    assert code(client.move(space, "123", space, "0")) == (404, "dentryNotExist")
    with Emulator(folders=["x" * 32, "y" * 32]) as two, requests.Session() as s:
        c = Client(two, s)
        sx, sy = c.space("x" * 32), c.space("y" * 32)
        d = c.add_folder(sx, "0", "d").json()["dentry"]
        g = file_in(c, d["uuid"], "g.txt")
        moved = c.move(sx, d["id"], sy, "0").json()["dentry"]
        assert (moved["spaceId"], moved["uuid"]) == (sy, d["uuid"])
        assert c.query(g["uuid"]).json()["spaceId"] == sy
        assert two.files("y" * 32)["d/g.txt"]["uuid"] == g["uuid"]
        assert c.get(sy, g["id"]).status_code == 200
        assert code(c.get(sx, g["id"])) == (404, "dentryNotExist")


# -- delete ------------------------------------------------------------------------------------


def test_delete(emu: Emulator, client: Client, root: str, space: str) -> None:
    """A permanent delete of a subtree; no recycle bin in a knowledge base; root refused."""
    sub = client.add_folder(space, "0", "sub").json()["dentry"]
    f = file_in(client, sub["uuid"], "f.txt")
    r = client.delete(space, sub["id"], toRecycleBin="true")
    assert code(r) == (400, "recycleBinNotSupportForSpace")
    assert "sub/f.txt" in emu.files()
    assert code(client.delete(space, sub["id"], toRecycleBin="maybe")) == (400, "paramError")
    assert client.delete(space, sub["id"], toRecycleBin="false").json() == {
        "async": False,
        "taskId": "",
    }
    assert emu.files() == {}
    assert code(client.get(space, f["id"])) == (404, "dentryNotExist")
    assert code(client.delete(space, sub["id"])) == (404, "dentryNotExist")
    assert code(client.delete(space, "0")) == (400, "paramError")
    assert code(client.upload_info(sub["uuid"])) == (400, "paramError.parentDentryUuid")
    g = file_in(client, root, "g.txt")
    assert client.delete(space, g["id"]).status_code == 200
    assert emu.files() == {}


# -- versions, modifier ------------------------------------------------------------------------


def test_versions_and_modifier(two: tuple[Emulator, Client, Client]) -> None:
    """version starts at 1 and rises per OVERWRITE; modifierId is the last changer."""
    emu, me, _ = two
    root = emu.root_uuids[0]
    space = me.space(root)
    f = file_in(me, root, "a.txt", b"1", conflictStrategy="OVERWRITE")
    info = me.info(root)
    assert me.put(info, b"22").status_code == 200
    r = me.commit(root, info["uploadKey"], "a.txt", union=OTHER, conflictStrategy="OVERWRITE")
    d = r.json()["dentry"]
    assert (d["version"], d["modifierId"], d["creatorId"]) == (2, OTHER, UNION)
    emu.edit(f["uuid"], b"333")
    body = me.dentry_call("GET", space, f["id"], "/versions").json()
    got = [(v["version"], v["size"], v["modifierId"]) for v in body["dentries"]]
    assert got == [(3, 3, "colleague-union-id"), (2, 2, OTHER), (1, 1, UNION)]
    assert "nextToken" not in body
    page = me.dentry_call("GET", space, f["id"], "/versions", maxResults=2).json()
    assert [v["version"] for v in page["dentries"]] == [3, 2]
    rest = me.dentry_call("GET", space, f["id"], "/versions", nextToken=page["nextToken"])
    assert [v["version"] for v in rest.json()["dentries"]] == [1]
    folder = me.add_folder(space, "0", "d").json()["dentry"]
    assert code(me.dentry_call("GET", space, folder["id"], "/versions")) == (400, "paramError")
    assert code(me.dentry_call("GET", space, f["id"], "/versions", maxResults=101)) == (
        400,
        "paramError",
    )


# -- roles -------------------------------------------------------------------------------------


def test_roles_limit_what_an_operator_may_do() -> None:
    """READER may list but not write (403 permissionDenied); NONE may not even list."""
    roles = {"reader": "READER", "nobody": "NONE"}
    with (
        Emulator(union_ids=(UNION, "reader", "nobody"), roles=roles) as emu,
        requests.Session() as s,
    ):
        c, root = Client(emu, s), emu.root_uuids[0]
        space = c.space(root)
        f = file_in(c, root, "a.txt")
        assert c.list(space, union="reader").status_code == 200
        assert code(c.rename(space, f["id"], "b.txt", unionId="reader")) == (
            403,
            "permissionDenied",
        )
        assert code(c.upload_info(root, union="reader")) == (403, "permissionDenied")
        assert code(c.delete(space, f["id"], unionId="reader")) == (403, "permissionDenied")
        assert code(c.list(space, union="nobody")) == (403, "permissionDenied")
        assert code(c.query(root, operator="nobody")) == (403, "permissionDenied")
