"""Wiki 2.0 browsing (dingtalk-api.md §8.2): workspaces and nodes over raw HTTP."""

from __future__ import annotations

import datetime as dt

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


def test_workspaces_are_the_root_folders() -> None:
    """Each root folder is one TEAM workspace; names from workspace_names, else numbered."""
    names = {"b" * 32: "Reports"}
    roles = {"boss": "OWNER"}
    with (
        Emulator(
            folders=["a" * 32], workspace_names=names, union_ids=(UNION, "boss"), roles=roles
        ) as emu,
        requests.Session() as s,
    ):
        c = Client(emu, s)
        assert emu.root_uuids == ["a" * 32, "b" * 32]
        body = c.wiki("workspaces").json()
        assert "nextToken" not in body
        by_root = {w["rootNodeId"]: w for w in body["workspaces"]}
        assert {u: w["name"] for u, w in by_root.items()} == {
            "a" * 32: "Knowledge base 1",
            "b" * 32: "Reports",
        }
        ws = by_root["b" * 32]
        assert (ws["type"], len(ws["workspaceId"])) == ("TEAM", 16)
        assert ws["url"].startswith("https://")
        assert ws["creatorId"] == UNION
        assert "permissionRole" not in ws
        with_role = c.wiki("workspaces", withPermissionRole="true").json()["workspaces"]
        assert {w["permissionRole"] for w in with_role} == {"EDITOR"}
        boss = c.wiki("workspaces", operator="boss", withPermissionRole="true").json()
        assert {w["permissionRole"] for w in boss["workspaces"]} == {"OWNER"}
        one = c.wiki(f"workspaces/{ws['workspaceId']}").json()["workspace"]
        assert one == ws
        assert code(c.wiki("workspaces/nope")) == (404, "workspaceNotExist")


def test_workspace_pages_and_order() -> None:
    """More than 30 workspaces page by 30, each once; CREATE_TIME_DESC is newest first."""
    roots = [f"{i:032d}" for i in range(35)]
    with Emulator(folders=roots) as emu, requests.Session() as s:
        c = Client(emu, s)
        first = c.wiki("workspaces", orderBy="CREATE_TIME_DESC").json()
        assert len(first["workspaces"]) == 30
        second = c.wiki("workspaces", orderBy="CREATE_TIME_DESC", nextToken=first["nextToken"])
        rest = second.json()
        assert "nextToken" not in rest
        got = [w["rootNodeId"] for w in first["workspaces"] + rest["workspaces"]]
        assert got == list(reversed(roots))
        assert code(c.wiki("workspaces", maxResults=31)) == (400, "paramError")
        assert code(c.wiki("workspaces", orderBy="NAME")) == (400, "paramError")
        assert code(c.wiki("workspaces", operator="stranger")) == (403, "permissionDenied")
        assert code(c.wiki("workspaces", operator="")) == (400, "paramError")


def test_mine_workspace(client: Client) -> None:
    """One PERSONAL workspace per operator, made once; its root takes uploads."""
    a = client.wiki("mineWorkspaces").json()["workspace"]
    assert (a["type"], len(a["workspaceId"])) == ("PERSONAL", 16)
    assert client.wiki("mineWorkspaces").json()["workspace"] == a
    assert a["rootNodeId"] not in {
        w["rootNodeId"] for w in client.wiki("workspaces").json()["workspaces"]
    }
    r = client.upload(a["rootNodeId"], "mine.txt", b"x")
    assert r.status_code == 200, r.text
    nodes = client.wiki("nodes", parentNodeId=a["rootNodeId"]).json()["nodes"]
    assert [n["name"] for n in nodes] == ["mine.txt"]
    assert nodes[0]["workspaceId"] == a["workspaceId"]


def test_personal_workspace_is_private() -> None:
    """Another operator cannot see into someone's personal workspace."""
    with Emulator(union_ids=(UNION, "other")) as emu, requests.Session() as s:
        c = Client(emu, s)
        mine = c.wiki("mineWorkspaces").json()["workspace"]
        theirs = c.wiki("mineWorkspaces", operator="other").json()["workspace"]
        assert mine["rootNodeId"] != theirs["rootNodeId"]
        assert code(c.wiki("nodes", operator="other", parentNodeId=mine["rootNodeId"])) == (
            403,
            "permissionDenied",
        )
        assert code(c.upload_info(mine["rootNodeId"], union="other")) == (403, "permissionDenied")


def test_nodes_page_folders_first(emu: Emulator, client: Client, root: str) -> None:
    """ListNodes pages by 50 (each node once), folders first, then files by name."""
    for i in range(55):
        emu.put_file(root, f"f{i:02d}.txt", b"abc")
    sub = emu.mkdir(root, "zz-folder")
    emu.put_file(sub, "inner.txt", b"")
    first = client.wiki("nodes", parentNodeId=root).json()
    assert len(first["nodes"]) == 50
    rest = client.wiki("nodes", parentNodeId=root, nextToken=first["nextToken"]).json()
    assert "nextToken" not in rest
    nodes = first["nodes"] + rest["nodes"]
    assert [n["name"] for n in nodes] == ["zz-folder"] + [f"f{i:02d}.txt" for i in range(55)]
    folder, file = nodes[0], nodes[1]
    assert (folder["nodeId"], folder["type"], folder["hasChildren"]) == (sub, "FOLDER", True)
    assert not {"size", "extension", "category"} & set(folder)
    assert (file["type"], file["size"], file["extension"], file["category"]) == (
        "FILE",
        3,
        "txt",
        "DOCUMENT",
    )
    assert file["hasChildren"] is False
    assert file["modifierId"] == "colleague-union-id"
    iso = dt.datetime.strptime(file["modifiedTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert int(iso.timestamp()) == file["modifiedTimestamp"] // 1000
    assert isinstance(file["createTimestamp"], int)
    small = client.wiki("nodes", parentNodeId=root, maxResults=7).json()
    assert len(small["nodes"]) == 7


def test_nodes_errors(emu: Emulator, client: Client, root: str) -> None:
    """Missing parent -> 400; unknown or file parent -> 404 parentNodeNotExist."""
    f = emu.put_file(root, "a.txt", b"")
    assert code(client.wiki("nodes")) == (400, "paramError")
    assert code(client.wiki("nodes", parentNodeId="x" * 32)) == (404, "parentNodeNotExist")
    assert code(client.wiki("nodes", parentNodeId=f)) == (404, "parentNodeNotExist")
    assert code(client.wiki("nodes", parentNodeId=root, maxResults=51)) == (400, "paramError")
    assert code(client.wiki("nodes", parentNodeId=root, nextToken="zzz")) == (400, "paramError")


def test_get_node(emu: Emulator, client: Client, root: str) -> None:
    """GetNode by uuid; the root node carries the workspace's name; 404 nodeNotExist."""
    sub = emu.mkdir(root, "docs")
    node = client.wiki(f"nodes/{sub}", withPermissionRole="true").json()["node"]
    assert (node["nodeId"], node["name"], node["type"]) == (sub, "docs", "FOLDER")
    assert node["permissionRole"] == "EDITOR"
    top = client.wiki(f"nodes/{root}", withStatisticalInfo="true").json()["node"]
    assert (top["name"], top["hasChildren"]) == ("Knowledge base 1", True)
    assert top["statisticalInfo"] == {"wordCount": 0}
    ws = client.wiki("workspaces").json()["workspaces"][0]
    assert top["workspaceId"] == ws["workspaceId"]
    assert code(client.wiki("nodes/" + "x" * 32)) == (404, "nodeNotExist")


def test_node_id_is_an_upload_parent(client: Client, root: str) -> None:
    """A folder's nodeId is its dentryUuid: usable as parentDentryUuid for uploads."""
    space = client.space(root)
    client.add_folder(space, "0", "sub")
    (folder,) = client.wiki("nodes", parentNodeId=root).json()["nodes"]
    d = client.upload(folder["nodeId"], "a.txt", b"x").json()["dentry"]
    assert d["path"] == "/sub/a.txt"


def test_unknown_roles_are_refused() -> None:
    """Roles are the §8.2 permissionRole values only."""
    with pytest.raises(ValueError, match="KING"):
        Emulator(roles={"someone": "KING"})
    with pytest.raises(ValueError, match="BOSS"):
        Emulator(default_role="BOSS")
