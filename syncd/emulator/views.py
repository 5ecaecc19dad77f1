"""JSON views of the tree: the Dentry object (§7), wiki workspaces and nodes (§8.2), versions.

Times are ISO-8601 UTC with seconds (``2022-01-01T10:00:00Z``); wiki nodes add
millisecond timestamps. A root folder's name is its workspace's name (inferred).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from syncd.emulator import props
from syncd.emulator.props import Props
from syncd.emulator.tree import FILE, Node, Tree, Version, Workspace

_CATEGORIES = {
    "IMAGE": "jpg jpeg png gif bmp webp svg tif tiff heic ico",
    "VIDEO": "mp4 mov avi mkv wmv flv webm m4v",
    "AUDIO": "mp3 wav flac aac ogg m4a wma amr",
    "ARCHIVE": "zip rar 7z tar gz tgz bz2 xz",
    "DOCUMENT": "txt md pdf doc docx xls xlsx ppt pptx csv rtf odt ods odp xsl json xml html",
}
_CATEGORY_BY_EXT = {ext: cat for cat, exts in _CATEGORIES.items() for ext in exts.split()}
_FILE_ONLY = ("size", "version", "extension", "category")
DOCS_URL = "https://alidocs.dingtalk.com/i"


def iso(ts: float) -> str:
    """Epoch seconds as DingTalk prints them (``2022-01-01T10:00:00Z``)."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def extension(node: Node) -> str:
    return os.path.splitext(node.name)[1][1:]


def category(node: Node) -> str:
    return _CATEGORY_BY_EXT.get(extension(node).lower(), "OTHER")


def display_name(tree: Tree, node: Node) -> str:
    return node.name if node.parent is not None else tree.workspace(node).name


def dentry_json(
    tree: Tree, node: Node, app_props: Props, with_category: bool = True
) -> dict[str, Any]:
    """The Dentry object (§7). Folders lack size, version, extension and category; GetDentry,
    Move and Rename lack category (``with_category=False``, §7 variants)."""
    out: dict[str, Any] = {
        "id": node.id,
        "spaceId": node.space_id,
        "parentId": node.parent.id if node.parent is not None else "0",
        "type": node.type,
        "name": display_name(tree, node),
        "size": node.size,
        "path": node.path,
        "version": node.version,
        "status": "NORMAL",
        "extension": extension(node),
        "creatorId": node.creator,
        "modifierId": node.modifier,
        "createTime": iso(node.created),
        "modifiedTime": iso(node.modified),
        "properties": {"readOnly": False},
        "appProperties": app_props,
        "uuid": node.uuid,
        "partitionType": "PUBLIC_OSS_PARTITION",
        "storageDriver": "DINGTALK",
        "category": category(node),
    }
    for key in _FILE_ONLY if node.type != FILE else ():
        del out[key]
    if not with_category:
        out.pop("category", None)
    return out


def version_json(tree: Tree, node: Node, version: Version, app_props: Props) -> dict[str, Any]:
    """One entry of ListDentryVersions (§14): the dentry as it was at ``version``."""
    out = dentry_json(tree, node, app_props, with_category=False)
    out.update(
        version=version.version,
        size=version.size,
        modifierId=version.modifier,
        modifiedTime=iso(version.modified),
    )
    return out


def workspace_json(ws: Workspace, corp_id: str, role: str | None) -> dict[str, Any]:
    """The wiki Workspace object (§8.2); ``permissionRole`` only when asked for."""
    root = ws.root
    out: dict[str, Any] = {
        "workspaceId": ws.workspace_id,
        "corpId": corp_id,
        "rootNodeId": root.uuid,
        "name": ws.name,
        "type": ws.type,
        "description": "",
        "url": f"{DOCS_URL}/spaces/{ws.workspace_id}/overview",
        "creatorId": root.creator,
        "modifierId": root.modifier,
        "createTime": iso(root.created),
        "modifiedTime": iso(root.modified),
    }
    if role is not None:
        out["permissionRole"] = role
    return out


def node_json(tree: Tree, node: Node, role: str | None, stats: bool = False) -> dict[str, Any]:
    """The wiki Node object (§8.2); folders lack size, extension and category (inferred)."""
    out: dict[str, Any] = {
        "nodeId": node.uuid,
        "workspaceId": tree.workspace(node).workspace_id,
        "name": display_name(tree, node),
        "size": node.size,
        "type": node.type,
        "category": category(node),
        "extension": extension(node),
        "url": f"{DOCS_URL}/nodes/{node.uuid}",
        "creatorId": node.creator,
        "modifierId": node.modifier,
        "createTime": iso(node.created),
        "modifiedTime": iso(node.modified),
        "hasChildren": bool(node.children),
        "createTimestamp": int(node.created * 1000),
        "modifiedTimestamp": int(node.modified * 1000),
    }
    if node.type != FILE:
        for key in ("size", "category", "extension"):
            del out[key]
    if stats:
        out["statisticalInfo"] = {"wordCount": 0}
    if role is not None:
        out["permissionRole"] = role
    return out


def tree_json(node: Node) -> dict[str, Any]:
    """A nested JSON-able view of ``node`` and everything under it (inspection)."""
    out: dict[str, Any] = {
        "name": node.name,
        "type": node.type,
        "uuid": node.uuid,
        "id": node.id,
        "spaceId": node.space_id,
        "path": node.path,
        "modifier": node.modifier,
    }
    if node.type == FILE:
        out.update(size=node.size, version=node.version, sha256=node.sha256, md5=node.md5)
    else:
        out["children"] = [tree_json(node.children[k]) for k in sorted(node.children)]
    if node.app_props:
        out["appProperties"] = props.copy(node.app_props)
    return out
