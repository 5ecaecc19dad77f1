"""Old-style (``oapi.dingtalk.com``) answers: ``{"errcode", "errmsg", …, "request_id"}``.

The old API answers HTTP 200 whatever happened, errcode 0 meaning ok (§2.2, §15.2); its
calls take the new-style token as the ``access_token`` query parameter (§15.2). Codes from
the pages of the calls (``DOC:0056``, ``DOC:0063``, ``DOC:0064``, ``DOC:0081``): 400002
无效的参数, 60121 not found, 33012 无效的userId, 60003 未找到对应部门, -1 系统繁忙;
40014 不合法的access_token is DingTalk's old code for a bad token.

Errors raised on the common path (token, throttling, injected faults, a body that is no JSON)
come as :class:`ApiError` and are translated here (inferred): throttling -> 90002 (the old
code §9.3 gives for throttling), 5xx -> -1 系统繁忙 at the fault's own HTTP status (a gateway
failing), a 401 fault -> 40014 at 401, any paramError -> 400002, anything else -> -1.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from syncd.emulator.answers import QPM_APP_API, QPS_API, QPS_APP_API
from syncd.emulator.common import ApiError

INVALID_TOKEN = 40014
INVALID_PARAM = 400002
NOT_FOUND = 60121
INVALID_USERID = 33012
NO_DEPARTMENT = 60003
BUSY = -1
THROTTLED = 90002
_MESSAGES = {
    INVALID_TOKEN: "不合法的access_token",
    INVALID_PARAM: "无效的参数",
    BUSY: "系统繁忙",
}
_THROTTLING = (QPS_APP_API, QPM_APP_API, QPS_API)
_ALPHABET = string.ascii_lowercase + string.digits


class OapiError(ApiError):
    """An old-style error answer: HTTP 200 with ``errcode`` and ``errmsg``."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(200, str(errcode), errmsg or _MESSAGES.get(errcode, "error"))
        self.errcode = errcode


def request_id() -> str:
    """An old-style request id, 12 lower-case letters and digits (``"4e7ljtq91rgo"``)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


def body(errcode: int, errmsg: str, result: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"errcode": errcode, "errmsg": errmsg}
    if result is not None:
        out["result"] = result
    out["request_id"] = request_id()
    return out


def ok(result: Any) -> dict[str, Any]:
    return body(0, "ok", result)


def translate(err: ApiError) -> tuple[int, dict[str, Any]]:
    """(HTTP status, old-style body) for an error of an old-style call."""
    if isinstance(err, OapiError):
        return 200, body(err.errcode, err.message)
    if err.code in _THROTTLING:
        return 200, body(THROTTLED, err.message)
    if err.status >= 500:
        return err.status, body(BUSY, _MESSAGES[BUSY])
    if err.status == 401:
        return 401, body(INVALID_TOKEN, _MESSAGES[INVALID_TOKEN])
    if err.code.startswith("paramError"):
        return 200, body(INVALID_PARAM, _MESSAGES[INVALID_PARAM])
    return 200, body(BUSY, err.message)
