"""The API's route handlers (§2, §4, §6, §8.1, §8.3) and the route table.

Each handler takes ``(emulator, path groups, JSON body, operator unionId)`` and returns the
response JSON or raises :class:`ApiError`. Calls that touch the tree hold ``Tree.lock`` for the
whole check-then-change sequence.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from syncd.emulator.common import ApiError
from syncd.emulator.oss import BUCKET, format_date, sign, string_to_sign
from syncd.emulator.tree import Upload, check_name, check_strategy, random_id

MISSING_TOKEN = "缺少参数：x-acs-dingtalk-access-token"  # noqa: RUF001 - the real message


def throttled() -> ApiError:
    return ApiError(
        403,
        "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
        "您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了",
    )


def _obj(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(400, "paramError", f"{key} must be an object")
    return value


def _size(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ApiError(400, "paramError", f"{field} must be an integer")
    try:
        size = int(value)
    except ValueError:
        raise ApiError(400, "paramError", f"{field} must be an integer") from None
    if size < 0:
        raise ApiError(400, "paramError", f"{field} must not be negative")
    return size


def token(emu: Any, args: tuple[str, ...], body: dict[str, Any], operator: str) -> Any:
    if body.get("appKey") != emu.app_key or body.get("appSecret") != emu.app_secret:
        raise ApiError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
    return {"accessToken": emu.issue_token(), "expireIn": emu.token_ttl}


def upload_info(emu: Any, args: tuple[str, ...], body: dict[str, Any], operator: str) -> Any:
    protocol = body.get("protocol")
    if not protocol:
        raise ApiError(400, "paramError.protocol", "protocol is required")
    if protocol != "HEADER_SIGNATURE":
        raise ApiError(400, "dentryUploadProtocolNotSupport", f"unsupported protocol: {protocol}")
    option = _obj(body, "option")
    if (option.get("storageDriver") or "DINGTALK") != "DINGTALK":
        raise ApiError(400, "paramError.storageDriver", "only DINGTALK is supported")
    pre = _obj(option, "preCheckParam")
    if pre.get("name") is not None:
        check_name(pre["name"])
    _size(pre.get("size"), "option.preCheckParam.size")
    object_path = f"/{BUCKET}/{random_id(40)}.file"
    key = secrets.token_urlsafe(36)
    with emu.dentries.lock:
        if emu.dentries.folder(args[0]) is None:
            raise ApiError(400, "paramError.parentDentryUuid", "parentDentryUuid is invalid")
        emu.dentries.uploads[key] = Upload(args[0], object_path, time.monotonic())
    date = format_date()
    to_sign = string_to_sign("PUT", "", "", date, {"x-oss-date": date}, object_path)
    signature = sign(emu.oss_access_key_secret, to_sign)
    url = emu.oss_url + object_path
    return {
        "uploadKey": key,
        "storageDriver": "DINGTALK",
        "protocol": "HEADER_SIGNATURE",
        "headerSignatureInfo": {
            "resourceUrls": [url],
            "headers": {
                "Authorization": f"OSS {emu.oss_access_key_id}:{signature}",
                "x-oss-date": date,
            },
            "expirationSeconds": emu.expiration_seconds,
            "region": "ZHANGJIAKOU",
            "internalResourceUrls": [url],
        },
    }


def commit(emu: Any, args: tuple[str, ...], body: dict[str, Any], operator: str) -> Any:
    key = body.get("uploadKey")
    if not key or not isinstance(key, str):
        raise ApiError(400, "paramError.uploadKey", "uploadKey is required")
    option = _obj(body, "option")
    strategy = check_strategy(option)
    name = check_name(body.get("name"))
    size = _size(option.get("size"), "option.size")
    tree = emu.dentries
    with tree.lock:
        parent = tree.folder(args[0])
        if parent is None:
            raise ApiError(400, "paramError.parentDentryUuid", "parentDentryUuid is invalid")
        upload = tree.uploads.get(key)
        if upload is None or upload.parent_uuid != args[0]:
            raise ApiError(400, "paramError.uploadKey", "invalid uploadKey")
        if upload.used:
            raise ApiError(400, "paramError.uploadKey", "uploadKey has already been used")
        if time.monotonic() - upload.issued > emu.expiration_seconds:
            raise ApiError(400, "paramError.uploadKey", "uploadKey has expired")
        obj = emu.objects.get(upload.object_path)
        if obj is None:
            raise ApiError(400, "dentryStoreError", "no file was uploaded for this uploadKey")
        if size is not None and size != obj.size:
            raise ApiError(
                400, "paramError", f"option.size {size} differs from the uploaded size {obj.size}"
            )
        node = tree.commit_file(parent, name, strategy, obj, operator)
        upload.used = True
        emu.objects.pop(upload.object_path)
        return {"dentry": tree.dentry_json(node)}


def query_dentry_id(emu: Any, args: tuple[str, ...], body: dict[str, Any], operator: str) -> Any:
    with emu.dentries.lock:
        node = emu.dentries.by_uuid.get(args[0])
        if node is None:
            raise ApiError(404, "documentNotExist", "The document does not exist.")
        return {"dentryUuid": node.uuid, "dentryId": node.id, "spaceId": node.space_id}


def add_folder(emu: Any, args: tuple[str, ...], body: dict[str, Any], operator: str) -> Any:
    name = check_name(body.get("name"))
    strategy = check_strategy(_obj(body, "option"))
    with emu.dentries.lock:
        parent = emu.dentries.folder_by_id(args[0], args[1])
        node = emu.dentries.add_folder(parent, name, strategy, operator)
        return {"dentry": emu.dentries.dentry_json(node)}


Handler = Callable[[Any, tuple[str, ...], dict[str, Any], str], Any]
# (method, path pattern, endpoint name, identity query parameter or None for no auth, handler)
ROUTES: list[tuple[str, re.Pattern[str], str, str | None, Handler]] = [
    ("POST", re.compile(r"/v1\.0/oauth2/accessToken"), "token", None, token),
    (
        "POST",
        re.compile(r"/v2\.0/storage/spaces/files/([^/]+)/uploadInfos/query"),
        "uploadInfo",
        "unionId",
        upload_info,
    ),
    (
        "POST",
        re.compile(r"/v2\.0/storage/spaces/files/([^/]+)/commit"),
        "commit",
        "unionId",
        commit,
    ),
    (
        "GET",
        re.compile(r"/v2\.0/doc/dentries/([^/]+)/queryDentryId"),
        "queryDentryId",
        "operatorId",
        query_dentry_id,
    ),
    (
        "POST",
        re.compile(r"/v1\.0/storage/spaces/([^/]+)/dentries/([^/]+)/folders"),
        "addFolder",
        "unionId",
        add_folder,
    ),
]
