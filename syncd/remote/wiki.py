"""Wiki 2.0 calls (dingtalk-api.md §8.2): the knowledge bases the operator can see and
the nodes under a folder, both paginated with `nextToken` (what `syncd ls` shows)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from syncd.core.errors import PermanentError
from syncd.remote.paging import pages
from syncd.remote.transport import Transport

WORKSPACES_PAGE = 30  # maxResults is at most 30 for workspaces, 50 for nodes (§8.2)
NODES_PAGE = 50


def _pages(
    client: Transport, api: str, path: str, params: dict[str, str], key: str
) -> Iterator[dict[str, Any]]:
    def fetch(token: str) -> dict[str, Any]:
        query = {**params, **({"nextToken": token} if token else {})}
        return client.call(api, "GET", path, params=query)

    for data in pages(fetch, api):
        for item in data.get(key) or []:
            if isinstance(item, dict):
                yield item


def workspaces(client: Transport) -> list[dict[str, Any]]:
    """Knowledge bases: the personal one first (when the app may see it), then the teams'."""
    union = client.settings.union_id
    out: list[dict[str, Any]] = []
    try:
        mine = client.call(
            "wiki.mineWorkspaces", "GET", "/v2.0/wiki/mineWorkspaces", params={"operatorId": union}
        ).get("workspace")
        if isinstance(mine, dict):
            out.append(mine)
    except PermanentError:
        pass  # no personal space for this operator, or no permission for it
    params = {"operatorId": union, "maxResults": str(WORKSPACES_PAGE), "withPermissionRole": "true"}
    out += list(_pages(client, "wiki.workspaces", "/v2.0/wiki/workspaces", params, "workspaces"))
    return [
        {
            "name": str(w.get("name") or ""),
            "type": str(w.get("type") or ""),
            "role": str(w.get("permissionRole") or ""),
            "parent_dentry_uuid": str(w.get("rootNodeId") or ""),
            "workspace_id": str(w.get("workspaceId") or ""),
            "url": str(w.get("url") or ""),
        }
        for w in out
    ]


def nodes(client: Transport, uuid: str) -> list[dict[str, Any]]:
    """The folders and files directly under folder `uuid`, folders first."""
    params = {
        "parentNodeId": uuid,
        "operatorId": client.settings.union_id,
        "maxResults": str(NODES_PAGE),
    }
    found = [
        {
            "name": str(n.get("name") or ""),
            "type": str(n.get("type") or ""),
            "size": n.get("size"),
            "modified": str(n.get("modifiedTime") or ""),
            "uuid": str(n.get("nodeId") or ""),
        }
        for n in _pages(client, "wiki.nodes", "/v2.0/wiki/nodes", params, "nodes")
    ]
    return sorted(found, key=lambda n: (n["type"] != "FOLDER", n["name"].casefold()))
