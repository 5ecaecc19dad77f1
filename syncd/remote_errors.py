"""The single place that turns a DingTalk or OSS error response into a typed error.

Built from dingtalk-api.md §4.3, §5.3, §6.3, §8 and §9: the JSON envelope
``{"code","requestid","message"}`` for api.dingtalk.com, XML ``<Error><Code>`` for OSS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from syncd.errors import (
    AuthError,
    CorruptTransferError,
    CredentialsError,
    ParentMissingError,
    PermanentError,
    RemoteError,
    ThrottledError,
    TransientError,
    UploadExpiredError,
)

_AUTH = {"InvalidAuthentication"}
_CREDENTIALS = {"invalidClientIdOrSecret"}
_UPLOAD_RESTART = {"paramError.uploadKey", "dentryStoreError"}
_PARENT_MISSING = {
    "dentryNotExist",
    "paramError.parentDentryUuid",
    "documentNotExist",
    "parentNodeNotExist",
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


def api_error(status: int, body: bytes, headers: Mapping[str, str], api: str) -> RemoteError:
    """Classify an api.dingtalk.com error response."""
    retry_after = retry_after_seconds(headers)
    try:
        data = json.loads(body.decode("utf-8")) if body else {}
    except (UnicodeDecodeError, ValueError):
        data = None
    if not isinstance(data, dict):
        text = body[:200].decode("utf-8", "replace").strip() or f"HTTP {status}"
        if status == 429 or status >= 500:
            cls = ThrottledError if status == 429 else TransientError
            return cls(text, code=f"http{status}", status=status, api=api, retry_after=retry_after)
        return PermanentError(text, code=f"http{status}", status=status, api=api)
    code = str(data.get("code") or data.get("Code") or "")
    message = str(data.get("message") or data.get("Message") or "")
    request_id = str(data.get("requestid") or data.get("RequestId") or "")
    kw = {
        "code": code,
        "status": status,
        "request_id": request_id,
        "api": api,
        "retry_after": retry_after,
    }
    if "wait" in data and "punish" in data:  # the per-IP ban page (§9.3): minutes to wait
        kw["code"] = "ipBanned"
        kw["retry_after"] = float(data.get("wait") or 5) * 60
        return ThrottledError("calls from this IP are banned for a while", **kw)
    if scopes := (data.get("accessdenieddetail") or {}).get("requiredScopes"):
        message = f"{message} (the app needs permission {', '.join(map(str, scopes))})"
    if code in _AUTH:
        return AuthError(message, **kw)
    if code in _CREDENTIALS:
        return CredentialsError(message, **kw)
    if _THROTTLE_RE.match(code) or status == 429:
        return ThrottledError(message, **kw)
    if code in _UPLOAD_RESTART:
        return UploadExpiredError(message, **kw)
    if code in _PARENT_MISSING:
        return ParentMissingError(message, **kw)
    if code in _TRANSIENT or status >= 500:
        return TransientError(message, **kw)
    return PermanentError(message, **kw)


def oss_error(status: int, body: bytes, headers: Mapping[str, str]) -> RemoteError:
    """Classify an OSS PUT error response (XML body)."""
    text = body[:4096].decode("utf-8", "replace")
    code_m, msg_m, req_m = (r.search(text) for r in (_OSS_CODE_RE, _OSS_MSG_RE, _OSS_REQ_RE))
    code = code_m.group(1) if code_m else f"http{status}"
    message = msg_m.group(1) if msg_m else (text.strip()[:200] or f"HTTP {status}")
    kw = {
        "code": code,
        "status": status,
        "api": "oss.put",
        "request_id": req_m.group(1) if req_m else headers.get("x-oss-request-id", ""),
        "retry_after": retry_after_seconds(headers),
    }
    if code in _OSS_RESTART:
        return UploadExpiredError(message, **kw)
    if code in {"InvalidDigest", "BadDigest"}:
        return CorruptTransferError(message, **kw)
    if status >= 500 or status == 429 or code in _TRANSIENT:
        return TransientError(message, **kw)
    return PermanentError(message, **kw)
