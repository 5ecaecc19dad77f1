"""The single place that turns a DingTalk or OSS error response into a typed error.

Built from dingtalk-api.md §4.3, §5.3, §6.3, §8, §9 and §13: the JSON envelope
``{"code","requestid","message"}`` for api.dingtalk.com, XML ``<Error><Code>`` for OSS, and
the bodies that are neither — the per-IP ban (JSON ``status: 1111`` or an HTML page, at any
HTTP status, even 200), a throttling JSON body from the OSS proxy, an empty 401.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from syncd.core.budget import QUOTA_CODES, Exhausted
from syncd.core.errors import (
    AuthError,
    BannedError,
    BudgetExhaustedError,
    CorruptTransferError,
    CredentialsError,
    ParentMissingError,
    PermanentError,
    RemoteError,
    ThrottledError,
    TransientError,
    UploadExpiredError,
)

BAN_DEFAULT = 300.0  # the ban lasts five minutes (§9.3) when the page does not say
_AUTH = {"InvalidAuthentication"}
_CREDENTIALS = {"invalidClientIdOrSecret"}
_UPLOAD_RESTART = {"paramError.uploadKey", "dentryStoreError"}
_PARENT_MISSING = {
    "dentryNotExist",
    "paramError.parentDentryUuid",
    "documentNotExist",
    "parentNodeNotExist",
    "nodeNotExist",
}
_TRANSIENT = {
    "operationTimeout",
    "systemError",
    "unknownError",
    "operationConcurrentControl",
    "system.busy",
    "systemBusy",
    "ServiceUnavailable",
    "InternalError",
}
_THROTTLE_RE = re.compile(r"^Forbidden\.AccessDenied\.Qp[sm]Limit")
_OSS_RESTART = {
    "RequestTimeTooSkewed",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "NoSuchUpload",
    "InvalidAccessKeyId",
}
_OSS_CODE_RE = re.compile(r"<Code>([^<]*)</Code>")
_OSS_MSG_RE = re.compile(r"<Message>([^<]*)</Message>")
_OSS_REQ_RE = re.compile(r"<RequestId>([^<]*)</RequestId>")


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare enough to fall back on the back-off schedule


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8")) if body.strip() else {}
    except (UnicodeDecodeError, ValueError):
        return None


def is_html(body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def ban_error(data: Any, body: bytes, status: int, api: str) -> BannedError | None:
    """The per-IP ban, recognised from the body whatever the HTTP status."""
    if isinstance(data, dict) and ("punish" in data or str(data.get("status")) == "1111"):
        try:
            wait = float(data.get("wait") or 0) * 60  # minutes: "wait":5 is the 5-minute ban
        except (TypeError, ValueError):
            wait = 0.0
        text = "calls from this IP address are banned for a while (per-IP limit, §9.3)"
        return BannedError(
            text, code="ipBanned", status=status, api=api, retry_after=wait or BAN_DEFAULT
        )
    if data is None and is_html(body) and status < 500:
        text = "an HTML page instead of an API answer (the per-IP ban page, §9.3)"
        return BannedError(text, code="ipBanned", status=status, api=api, retry_after=BAN_DEFAULT)
    return None


def api_error(status: int, body: bytes, headers: Mapping[str, str], api: str) -> RemoteError:
    """Classify an api.dingtalk.com error response."""
    retry_after = retry_after_seconds(headers)
    data = _json(body)
    banned = ban_error(data, body, status, api)
    if banned is not None:
        return banned
    if not isinstance(data, dict):
        text = body[:200].decode("utf-8", "replace").strip() or f"HTTP {status}"
        return _by_status(status, f"http{status}", text, api, retry_after, "")
    code = str(data.get("code") or data.get("Code") or "")
    message = str(data.get("message") or data.get("Message") or "")
    request_id = str(data.get("requestid") or data.get("RequestId") or "")
    detail = data.get("accessdenieddetail")
    if isinstance(detail, dict) and (scopes := detail.get("requiredScopes")):
        message = f"{message} (the app needs permission {', '.join(map(str, scopes))})"
    if status == 401 or code in _AUTH:
        return AuthError(
            message or "access token rejected",
            code=code or "http401",
            status=status,
            request_id=request_id,
            api=api,
            retry_after=retry_after,
        )
    kw: dict[str, Any] = {
        "code": code,
        "status": status,
        "request_id": request_id,
        "api": api,
        "retry_after": retry_after,
    }
    if code in _CREDENTIALS:
        return CredentialsError(message, **kw)
    if code in QUOTA_CODES:  # the org's monthly quota (§15.1): keyed on the code, not status
        return BudgetExhaustedError(message, kind=Exhausted.QUOTA, code=code, api=api)
    if _THROTTLE_RE.match(code) or status == 429:
        return ThrottledError(message, **kw)
    if code in _UPLOAD_RESTART:
        return UploadExpiredError(message, **kw)
    if code in _PARENT_MISSING:
        return ParentMissingError(message, **kw)
    if not code:
        return _by_status(
            status, f"http{status}", message or f"HTTP {status}", api, retry_after, request_id
        )
    if code in _TRANSIENT or status >= 500:
        return TransientError(message, **kw)
    return PermanentError(message, **kw)


def _by_status(
    status: int, code: str, text: str, api: str, retry_after: float | None, request_id: str
) -> RemoteError:
    kw: dict[str, Any] = {
        "code": code,
        "status": status,
        "api": api,
        "retry_after": retry_after,
        "request_id": request_id,
    }
    if status == 401:
        return AuthError(text, **kw)
    if status == 429:
        return ThrottledError(text, **kw)
    if status >= 500:
        return TransientError(text, **kw)
    return PermanentError(text, **kw)


def oss_error(status: int, body: bytes, headers: Mapping[str, str]) -> RemoteError:
    """Classify an OSS PUT error response (XML; a proxy may answer JSON or HTML)."""
    text = body[:4096].decode("utf-8", "replace")
    request_id = headers.get("x-oss-request-id", "")
    retry_after = retry_after_seconds(headers)
    data = _json(body) if text.lstrip().startswith("{") else None
    if isinstance(data, dict):  # the DingTalk gateway's envelope on the OSS host
        err = api_error(status, body, headers, "oss.put")
        if isinstance(err, ThrottledError | TransientError | AuthError):
            return err
        return UploadExpiredError(
            err.message,
            code=err.code,
            status=status,
            api="oss.put",
            request_id=err.request_id,
            retry_after=retry_after,
        )
    code_m, msg_m, req_m = (r.search(text) for r in (_OSS_CODE_RE, _OSS_MSG_RE, _OSS_REQ_RE))
    kw: dict[str, Any] = {
        "code": code_m.group(1) if code_m else f"http{status}",
        "status": status,
        "api": "oss.put",
        "request_id": req_m.group(1) if req_m else request_id,
        "retry_after": retry_after,
    }
    message = msg_m.group(1) if msg_m else _short(text, status)
    code = kw["code"]
    if code in _OSS_RESTART or (status == 403 and code_m is None):
        return UploadExpiredError(message, **kw)  # a fresh signed URL is the only cure
    if code in {"InvalidDigest", "BadDigest"}:
        return CorruptTransferError(message, **kw)
    if status == 429 or code == "SlowDown":  # OSS's own throttling
        return ThrottledError(message, **kw)
    if status >= 500 or code in _TRANSIENT:
        return TransientError(message, **kw)
    return PermanentError(message, **kw)


def _short(text: str, status: int) -> str:
    if is_html(text.encode()):
        return f"HTTP {status} with an HTML page"
    return text.strip()[:200] or f"HTTP {status}"
