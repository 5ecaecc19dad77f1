"""Wiki 2.0 browsing (§8.2): workspaces (knowledge bases) and their nodes, by ``operatorId``.

Every TEAM workspace is one root folder of the emulator; ``rootNodeId`` is that folder's
uuid and a node's ``nodeId`` is its dentry uuid, usable as ``parentDentryUuid``.

Inferred where §8.2 is silent: view times are not recorded, so ``VIEW_TIME_DESC`` (the
default) orders like ``MODIFIED_TIME_DESC``; the personal workspace (我的文档) of each
operator is made on first use and is not part of ``/workspaces``; a workspace whose role is
NONE is not listed; nodes come folders first, then by name; ``statisticalInfo`` is
``{"wordCount": 0}``; a denied operator gets 403 ``permissionDenied``.
"""

from __future__ import annotations

from typing import Any

from syncd.emulator import paging, views
from syncd.emulator.common import ApiError
from syncd.emulator.routes_common import Call
from syncd.emulator.tree import FOLDER, Node, Workspace

ORDER_BY = ("VIEW_TIME_DESC", "CREATE_TIME_DESC", "MODIFIED_TIME_DESC")


def _workspace(call: Call, ws: Workspace, with_role: bool) -> dict[str, Any]:
    role = call.emu.role(call.operator, ws) if with_role else None
    return views.workspace_json(ws, call.emu.corp_id, role)


def workspaces(call: Call) -> Any:
    size = paging.max_results(call.param("maxResults"), 30, 30)
    order_by = call.choice("orderBy", ORDER_BY, "VIEW_TIME_DESC")
    with_role = call.flag("withPermissionRole")
    by_create = order_by == "CREATE_TIME_DESC"
    tree = call.emu.dentries

    def key(ws: Workspace) -> paging.Key:
        return [ws.root.created if by_create else ws.root.modified, int(ws.root.id)]

    with tree.lock:
        team = [
            ws
            for ws in tree.spaces.values()
            if ws.type == "TEAM"
            and ws.root.uuid in tree.by_uuid
            and call.emu.role(call.operator, ws) != "NONE"
        ]
        chunk, token = paging.page(
            team, key, size, call.param("nextToken"), f"workspaces/{order_by}", True
        )
        out: dict[str, Any] = {"workspaces": [_workspace(call, ws, with_role) for ws in chunk]}
    if token:
        out["nextToken"] = token
    return out


def workspace(call: Call) -> Any:
    """``GET /v2.0/wiki/workspaces/{workspaceId}``; 404 workspaceNotExist."""
    tree = call.emu.dentries
    with tree.lock:
        found = [ws for ws in tree.spaces.values() if ws.workspace_id == call.args[0]]
        if not found or found[0].root.uuid not in tree.by_uuid:
            raise ApiError(404, "workspaceNotExist", "The workspace does not exist.")
        call.check(found[0].root, write=False)
        return {"workspace": _workspace(call, found[0], call.flag("withPermissionRole"))}


def mine_workspace(call: Call) -> Any:
    """The operator's PERSONAL workspace (我的文档), made on first use."""
    with call.emu.dentries.lock:
        ws = call.emu.personal_workspace(call.operator)
        return {"workspace": _workspace(call, ws, call.flag("withPermissionRole"))}


def _node(call: Call, node: Node) -> dict[str, Any]:
    role = call.role(node) if call.flag("withPermissionRole") else None
    stats = call.flag("withStatisticalInfo")
    return views.node_json(call.emu.dentries, node, role, stats)


def nodes(call: Call) -> Any:
    """The children of ``parentNodeId``; 404 parentNodeNotExist when it is no folder."""
    parent_uuid = call.param("parentNodeId")
    if not parent_uuid:
        raise ApiError(400, "paramError", "parentNodeId is required")
    size = paging.max_results(call.param("maxResults"), 50, 50)

    def key(n: Node) -> paging.Key:
        return [0 if n.type == FOLDER else 1, n.name, int(n.id)]

    tree = call.emu.dentries
    with tree.lock:
        parent = tree.folder(parent_uuid)
        if parent is None:
            raise ApiError(404, "parentNodeNotExist", "The parent node does not exist.")
        call.check(parent, write=False)
        chunk, token = paging.page(
            list(parent.children.values()), key, size, call.param("nextToken"), f"nodes/{parent.id}"
        )
        out: dict[str, Any] = {"nodes": [_node(call, n) for n in chunk]}
    if token:
        out["nextToken"] = token
    return out


def node(call: Call) -> Any:
    """``GET /v2.0/wiki/nodes/{nodeId}``; 404 nodeNotExist."""
    tree = call.emu.dentries
    with tree.lock:
        found = tree.by_uuid.get(call.args[0])
        if found is None:
            raise ApiError(404, "nodeNotExist", "The node does not exist.")
        call.check(found, write=False)
        return {"node": _node(call, found)}
