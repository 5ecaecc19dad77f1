"""Storage 1.0 dentry calls on a space (§8.4-§8.6, §14): list, get, rename, move, delete,
app properties and version history. ``dentryId`` / ``parentId`` ``0`` is the space's root.

Inferred where the docs are silent: the root can be neither renamed, moved nor deleted
(400 paramError); a move's conflict strategy defaults to AUTO_RENAME; renames and moves set
``modifierId``/``modifiedTime`` but not ``version``; ``withThumbnail`` is accepted and
ignored (no thumbnails are made); version history and app-property updates are for files
and folders alike, except that only files have versions (a folder's history is 400).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from syncd.emulator import paging, props, views
from syncd.emulator.common import ApiError
from syncd.emulator.names import check_name, check_strategy
from syncd.emulator.routes_common import Call, dentry, obj, text
from syncd.emulator.tree import FILE, Node, Version

ORDER_BY = ("MODIFIED_TIME", "CREATE_TIME", "NAME", "SIZE")
MAX_APP_IDS = 20


def _key(order_by: str) -> Callable[[Node], paging.Key]:
    if order_by == "NAME":
        return lambda n: [n.name, int(n.id)]
    if order_by == "SIZE":
        return lambda n: [n.size, int(n.id)]
    if order_by == "CREATE_TIME":
        return lambda n: [n.created, int(n.id)]
    return lambda n: [n.modified, int(n.id)]


def _target(call: Call, write: bool) -> Node:
    """The dentry ``{spaceId}/dentries/{dentryId}`` of the path, checked for access."""
    node = call.emu.dentries.dentry(call.args[0], call.args[1])
    call.check(node, write)
    return node


def list_dentries(call: Call) -> Any:
    """§8.4: one folder's children, paginated (default order MODIFIED_TIME DESC). With the
    ``listing-without-app-properties`` variant the entries have no ``appProperties``."""
    parent_id = call.param("parentId")
    if not parent_id:
        raise ApiError(400, "paramError", "parentId is required")
    size = paging.max_results(call.param("maxResults"), 50, 50)
    order_by = call.choice("orderBy", ORDER_BY, "MODIFIED_TIME")
    order = call.choice("order", ("DESC", "ASC"), "DESC")
    call.flag("withThumbnail")
    tree = call.emu.dentries
    with tree.lock:
        parent = tree.folder_by_id(call.args[0], parent_id)
        call.check(parent, write=False)
        chunk, token = paging.page(
            list(parent.children.values()),
            _key(order_by),
            size,
            call.param("nextToken"),
            f"dentries/{parent.id}/{order_by}/{order}",
            descending=order == "DESC",
        )
        entries = [dentry(call, node) for node in chunk]
        if call.variant("listing-without-app-properties", parent):
            for entry in entries:
                del entry["appProperties"]
        out: dict[str, Any] = {"dentries": entries}
    if token:
        out["nextToken"] = token
    return out


def _app_ids(option: dict[str, Any]) -> list[str]:
    raw = option.get("appIdsForAppProperties")
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(a, (str, int)) for a in raw):
        raise ApiError(400, "paramError", "appIdsForAppProperties must be an array of app ids")
    if len(raw) > MAX_APP_IDS:
        raise ApiError(400, "paramError", f"at most {MAX_APP_IDS} appIdsForAppProperties")
    return [str(a) for a in raw]


def get_dentry(call: Call) -> Any:
    """§8.4 GetDentry. ``appProperties`` holds only the apps named in
    ``option.appIdsForAppProperties`` (others' PRIVATE ones hidden); ``{}`` when none are
    named (inferred)."""
    option = obj(call.body, "option")
    apps = _app_ids(option)
    tree = call.emu.dentries
    with tree.lock:
        node = _target(call, write=False)
        shown = props.visible(node.app_props, call.emu.app_id, apps)
        return {"dentry": views.dentry_json(tree, node, shown, with_category=False)}


BATCH_MAX = 30  # dentryIds per BatchGetDentries (§8.4)


def batch_get_dentries(call: Call) -> Any:
    """§8.4 BatchGetDentries: ``dentryIds`` (at most 30) of one space in one call, each
    answered in ``resultItems`` (``success``, ``errorCode`` or ``dentry``, inferred like
    GetDentry's). A missing space fails the whole call; a missing dentry only its item."""
    ids = call.body.get("dentryIds")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, "paramError", "dentryIds is required")
    if len(ids) > BATCH_MAX:
        raise ApiError(400, "paramError", f"dentryIds: at most {BATCH_MAX}")
    apps = _app_ids(obj(call.body, "option"))
    tree = call.emu.dentries
    space_id = call.args[0]
    items: list[dict[str, Any]] = []
    with tree.lock:
        tree.space(space_id)
        for dentry_id in ids:
            item: dict[str, Any] = {"spaceId": space_id, "dentryId": dentry_id}
            try:
                node = tree.dentry(space_id, dentry_id)
                call.check(node, write=False)
            except ApiError as err:
                item.update(success=False, errorCode=err.code)
            else:
                shown = props.visible(node.app_props, call.emu.app_id, apps)
                item.update(
                    success=True,
                    dentry=views.dentry_json(tree, node, shown, with_category=False),
                )
            items.append(item)
    return {"resultItems": items}


def rename(call: Call) -> Any:
    """§8.6; the ``no-rename-move`` variant refuses it: 400 operationNotSupported."""
    new_name = check_name(call.body.get("newName"), "newName")
    with call.emu.dentries.lock:
        node = _target(call, write=True)
        call.unsupported("no-rename-move", node)
        call.emu.dentries.rename(node, new_name, call.operator)
        return {"dentry": dentry(call, node, with_category=False)}


def move(call: Call) -> Any:
    """§8.6: into ``targetFolderId`` of ``targetSpaceId`` (another space too); synchronous.
    The ``no-rename-move`` variant in either space refuses it: 400 operationNotSupported."""
    space = text(call.body, "targetSpaceId", "paramError.targetSpaceId")
    folder = text(call.body, "targetFolderId", "paramError.targetFolderId")
    option = obj(call.body, "option")
    strategy = check_strategy(option)
    keep = option.get("presevePermissions")
    if keep is not None and not isinstance(keep, bool):
        raise ApiError(400, "paramError", "option.presevePermissions must be a boolean")
    tree = call.emu.dentries
    with tree.lock:
        node = _target(call, write=True)
        target = tree.folder_by_id(space, folder)
        call.check(target, write=True)
        call.unsupported("no-rename-move", node, target)
        moved = tree.move(node, target, strategy, call.operator)
        return {"dentry": dentry(call, moved, with_category=False), "async": False, "taskId": ""}


def delete(call: Call) -> Any:
    """§8.5: a permanent delete of the dentry and its subtree. Knowledge-base spaces have no
    recycle bin (§14): ``toRecycleBin=true`` -> 400 recycleBinNotSupportForSpace."""
    to_bin = call.flag("toRecycleBin")
    tree = call.emu.dentries
    with tree.lock:
        node = _target(call, write=True)
        if to_bin:
            raise ApiError(
                400,
                "recycleBinNotSupportForSpace",
                "the recycle bin is not supported for this space",
            )
        if node.parent is None:
            raise ApiError(400, "paramError", "the root folder cannot be deleted")
        tree.remove(node)
    return {"async": False, "taskId": ""}


def app_properties(call: Call) -> Any:
    """§14 PUT appProperties: the calling app's properties, updated by name (inferred)."""
    if call.body.get("appProperties") is None:
        raise ApiError(400, "paramError", "appProperties is required")
    items = props.parse(call.body["appProperties"], "appProperties")
    with call.emu.dentries.lock:
        node = _target(call, write=True)
        props.merge(node.app_props, call.emu.app_id, items)
    return {"success": True}


def versions(call: Call) -> Any:
    """§14: a file's versions, newest first (the current one included, inferred)."""
    size = paging.max_results(call.param("maxResults"), 100, 100)
    tree = call.emu.dentries
    with tree.lock:
        node = _target(call, write=False)
        if node.type != FILE:
            raise ApiError(400, "paramError", "only files have versions")

        def key(v: Version) -> paging.Key:
            return [v.version]

        chunk, token = paging.page(
            node.versions, key, size, call.param("nextToken"), f"versions/{node.id}", True
        )
        shown = props.visible(node.app_props, call.emu.app_id)
        out: dict[str, Any] = {
            "dentries": [views.version_json(tree, node, v, shown) for v in chunk]
        }
    if token:
        out["nextToken"] = token
    return out
