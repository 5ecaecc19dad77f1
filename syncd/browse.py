"""`syncd ls`: find a `parent_dentry_uuid` without hand-made API calls (wiki 2.0, §8.2).

Without a uuid: the knowledge bases the operator can see, with the root uuid to paste into
the config. With a uuid: the folders and files under that folder. Both paginated with
`nextToken`; `--json` for scripts.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

from syncd.client import DingTalkClient
from syncd.errors import PermanentError, RemoteError

WORKSPACES_PAGE = 30  # maxResults is at most 30 for workspaces, 50 for nodes (§8.2)
NODES_PAGE = 50


def _pages(
    client: DingTalkClient, api: str, path: str, params: dict[str, str], key: str
) -> Iterator[dict[str, Any]]:
    token = ""
    while True:
        query = {**params, **({"nextToken": token} if token else {})}
        data = client.call(api, "GET", path, params=query)
        for item in data.get(key) or []:
            if isinstance(item, dict):
                yield item
        token = str(data.get("nextToken") or "")
        if not token:
            return


def workspaces(client: DingTalkClient) -> list[dict[str, Any]]:
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


def nodes(client: DingTalkClient, uuid: str) -> list[dict[str, Any]]:
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


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _size(n: Any) -> str:
    if not isinstance(n, int | float):
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return "-"


def show(client: DingTalkClient, uuid: str | None, *, as_json: bool) -> int:
    try:
        items = nodes(client, uuid) if uuid else workspaces(client)
    except RemoteError as exc:
        print(f"syncd ls: {exc.api} {exc.code}: {exc.message}{_hint(exc.code)}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(items, ensure_ascii=False, indent=2))
        return 0
    if not items:
        print("(empty)" if uuid else "no knowledge base visible to dingtalk.union_id")
        return 0
    if uuid:
        rows = [["NAME", "TYPE", "SIZE", "MODIFIED", "UUID"]]
        rows += [[n["name"], n["type"], _size(n["size"]), n["modified"], n["uuid"]] for n in items]
    else:
        rows = [["NAME", "TYPE", "ROLE", "PARENT_DENTRY_UUID"]]
        rows += [[w["name"], w["type"], w["role"], w["parent_dentry_uuid"]] for w in items]
    print("\n".join(_table(rows)))
    if not uuid:
        print(
            "\nPaste a PARENT_DENTRY_UUID into mappings[].parent_dentry_uuid, or look inside "
            "with `syncd ls UUID`."
        )
    return 0


def _hint(code: str) -> str:
    return {
        "Forbidden.AccessDenied.AccessTokenPermissionDenied": " (grant the app Wiki.Workspace.Read "
        "and Wiki.Node.Read)",
        "parentNodeNotExist": " (no folder with that uuid)",
        "nodeNotExist": " (no folder with that uuid)",
    }.get(code, "")
