"""Token (§2), upload info (§4), commit (§6), uuid -> id (§8.1) and add-folder (§8.3).

Each handler takes a :class:`Call` and returns the response JSON or raises
:class:`ApiError`. Calls that touch the tree hold ``Tree.lock`` for the whole
check-then-change sequence.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from syncd.emulator import props
from syncd.emulator.common import ApiError
from syncd.emulator.names import check_name, check_strategy, random_id
from syncd.emulator.routes_common import Call, dentry, obj, size
from syncd.emulator.signing import BUCKET, format_date, sign, string_to_sign
from syncd.emulator.tree import Node, Upload


def token(call: Call) -> Any:
    emu, body = call.emu, call.body
    if body.get("appKey") != emu.app_key or body.get("appSecret") != emu.app_secret:
        raise ApiError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
    return {"accessToken": emu.issue_token(), "expireIn": emu.token_ttl}


def _check_upload_body(body: dict[str, Any]) -> str | None:
    """Validate the upload-info body; the trimmed ``preCheckParam.name``, if any."""
    protocol = body.get("protocol")
    if not protocol:
        raise ApiError(400, "paramError.protocol", "protocol is required")
    if protocol != "HEADER_SIGNATURE":
        raise ApiError(400, "dentryUploadProtocolNotSupport", f"unsupported protocol: {protocol}")
    option = obj(body, "option")
    if (option.get("storageDriver") or "DINGTALK") != "DINGTALK":
        raise ApiError(400, "paramError.storageDriver", "only DINGTALK is supported")
    pre = obj(option, "preCheckParam")
    name = check_name(pre["name"]) if pre.get("name") is not None else None
    size(pre.get("size"), "option.preCheckParam.size")
    return name


def _parent(call: Call) -> Node:
    parent = call.emu.dentries.folder(call.args[0])
    if parent is None:
        raise ApiError(400, "paramError.parentDentryUuid", "parentDentryUuid is invalid")
    call.check(parent, write=True)
    return parent


def upload_info(call: Call) -> Any:
    """§4. With the ``upload-info-refuses-existing-name`` variant, a ``preCheckParam.name``
    already taken in the folder is 400 dentryNameConflict and no key is issued (§15.3.2)."""
    name = _check_upload_body(call.body)
    emu = call.emu
    object_path = f"/{BUCKET}/{random_id(40)}.file"
    key = secrets.token_urlsafe(36)
    tree = emu.dentries
    with tree.lock:
        parent = _parent(call)
        refuses = call.variant("upload-info-refuses-existing-name", parent)
        if name is not None and refuses and name in parent.children:
            raise ApiError(
                400, "dentryNameConflict", f"a dentry named {name} exists in this folder"
            )
        root = tree.root_uuid(parent)
        tree.add_upload(key, Upload(call.args[0], object_path, time.monotonic(), root_uuid=root))
    date = format_date()
    to_sign = string_to_sign("PUT", "", "", date, {"x-oss-date": date}, object_path)
    signature = sign(emu.oss_access_key_secret, to_sign)
    url = emu.oss_url + object_path
    return {
        "uploadKey": key,
        "storageDriver": "DINGTALK",
        "protocol": "HEADER_SIGNATURE",
        "headerSignatureInfo": {
            "resourceUrls": _resource_urls(call, url),
            "headers": {
                "Authorization": f"OSS {emu.oss_access_key_id}:{signature}",
                "x-oss-date": date,
            },
            "expirationSeconds": emu.expiration_seconds,
            "region": "ZHANGJIAKOU",
            "internalResourceUrls": [url],
        },
    }


UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there


def _resource_urls(call: Call, url: str) -> list[str]:
    """`resourceUrls`, "前面url优先" (§4.2). With `Emulator.intranet_first`, a request that
    does not say `preferIntranet: false` (the default is true, §4.1) gets an intranet URL
    first, unreachable from outside the cloud; `Emulator.unreachable_urls` puts that many
    dead URLs first whatever was asked (a URL that cannot be reached)."""
    emu = call.emu
    prefer = obj(call.body, "option").get("preferIntranet", True)
    path = url[len(emu.oss_url) :]
    dead = [f"{UNREACHABLE}/intranet{i}{path}" for i in range(emu.unreachable_urls)]
    if emu.intranet_first and prefer is not False:
        dead.insert(0, f"{UNREACHABLE}/intranet{path}")
    return [*dead, url]


def _upload(call: Call, key: str, size_wanted: int | None) -> tuple[Upload, Any]:
    """The unused, unexpired upload for ``key`` and its PUT object, or 400."""
    emu = call.emu
    upload = emu.dentries.uploads.get(key)
    if upload is None or upload.parent_uuid != call.args[0]:
        raise ApiError(400, "paramError.uploadKey", "invalid uploadKey")
    if upload.used:
        raise ApiError(400, "paramError.uploadKey", "uploadKey has already been used")
    if time.monotonic() - upload.issued > emu.expiration_seconds:
        raise ApiError(400, "paramError.uploadKey", "uploadKey has expired")
    stored = emu.objects.get(upload.object_path)
    if stored is None:
        raise ApiError(400, "dentryStoreError", "no file was uploaded for this uploadKey")
    if size_wanted is not None and size_wanted != stored.size:
        raise ApiError(
            400,
            "paramError",
            f"option.size {size_wanted} differs from the uploaded size {stored.size}",
        )
    return upload, stored


def commit(call: Call) -> Any:
    """§6: the four strategies; ``option.appProperties`` are stored for the calling app, and
    an OVERWRITE replaces that app's properties only when the request carries some
    (inferred; RETURN_DENTRY_IF_EXISTS changes nothing). With the ``commit-without-version``
    variant the answer's dentry has no ``version`` (the file has it, §15.3.4)."""
    key = call.body.get("uploadKey")
    if not key or not isinstance(key, str):
        raise ApiError(400, "paramError.uploadKey", "uploadKey is required")
    option = obj(call.body, "option")
    strategy = check_strategy(option)
    name = check_name(call.body.get("name"))
    wanted = size(option.get("size"), "option.size")
    items = props.parse(option.get("appProperties"))
    tree = call.emu.dentries
    with tree.lock:
        parent = _parent(call)
        upload, stored = _upload(call, key, wanted)
        before = parent.children.get(name)
        node = tree.commit_file(parent, name, strategy, stored, call.operator)
        if not (strategy == "RETURN_DENTRY_IF_EXISTS" and node is before):
            props.replace(node.app_props, call.emu.app_id, items)
        upload.used = True
        call.emu.objects.pop(upload.object_path)
        out = dentry(call, node)
        if call.variant("commit-without-version", parent):
            out.pop("version", None)
        return {"dentry": out}


def query_dentry_id(call: Call) -> Any:
    with call.emu.dentries.lock:
        node = call.emu.dentries.by_uuid.get(call.args[0])
        if node is None:
            raise ApiError(404, "documentNotExist", "The document does not exist.")
        call.check(node, write=False)
        return {"dentryUuid": node.uuid, "dentryId": node.id, "spaceId": node.space_id}


def add_folder(call: Call) -> Any:
    """§8.3; ``option.appProperties`` as for commit (OVERWRITE replaces the caller's). The
    ``no-folder-api`` variant refuses it: 400 operationNotSupported (§15.3.3)."""
    name = check_name(call.body.get("name"))
    option = obj(call.body, "option")
    strategy = check_strategy(option)
    items = props.parse(option.get("appProperties"))
    tree = call.emu.dentries
    with tree.lock:
        parent = tree.folder_by_id(call.args[0], call.args[1])
        call.unsupported("no-folder-api", parent)
        call.check(parent, write=True)
        before = parent.children.get(name)
        node = tree.add_folder(parent, name, strategy, call.operator)
        if node is not before or strategy == "OVERWRITE":
            props.replace(node.app_props, call.emu.app_id, items)
        return {"dentry": dentry(call, node, with_category=False)}
