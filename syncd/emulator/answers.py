"""Canned answers for throttling and injected faults (§9.2, §9.3) shared by both servers."""

from __future__ import annotations

import json
import uuid

from syncd.emulator.common import ApiError

MISSING_TOKEN = "缺少参数：x-acs-dingtalk-access-token"  # noqa: RUF001 - the real message
QPS_APP_API = "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
QPM_APP_API = "Forbidden.AccessDenied.QpmLimitForAppkeyAndApi"
QPS_API = "Forbidden.AccessDenied.QpsLimitForApi"
_THROTTLE_MESSAGES = {
    QPS_APP_API: "您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了",
    QPM_APP_API: "您的企业应用调用钉钉开放平台当前接口的每分钟请求次数超过了限制",  # inferred
    QPS_API: "钉钉开放平台当前接口的所有调用方的请求都被暂时限流了",  # inferred
}


class RawAnswer(Exception):
    """An answer outside the §9.1 envelope (ban pages, empty 401s, OSS JSON/HTML bodies)."""

    def __init__(self, status: int, body: bytes, content_type: str | None) -> None:
        super().__init__(f"{status} raw answer")
        self.status, self.body, self.content_type = status, body, content_type


def throttled(code: str = QPS_APP_API) -> ApiError:
    """The 403 throttling error (§9.2): never 429 on the new gateway."""
    return ApiError(403, code, _THROTTLE_MESSAGES[code])


def throttled_json(request_id: str) -> RawAnswer:
    """A JSON throttling body where OSS would send XML (seen through DingTalk's proxy)."""
    body = {
        "code": QPS_APP_API,
        "requestid": request_id,
        "message": _THROTTLE_MESSAGES[QPS_APP_API],
    }
    return RawAnswer(403, json.dumps(body, ensure_ascii=False).encode(), "application/json")


def ban(status: int) -> RawAnswer:
    """The per-IP ban body of §9.3 (not the normal envelope)."""
    body = {"status": 1111, "wait": 5, "source": "x5", "punish": "deny", "uuid": str(uuid.uuid4())}
    return RawAnswer(status, json.dumps(body).encode(), "application/json;charset=utf-8")


def html(status: int, title: str) -> RawAnswer:
    """An HTML page (per-IP ban page, or a proxy's 403 in front of OSS)."""
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
        f"{title}</title></head>\n<body><h1>{title}</h1>"
        "<p>Sorry, your request has been blocked.</p></body></html>\n"
    )
    return RawAnswer(status, page.encode(), "text/html;charset=utf-8")


def unauthorized(variant: int) -> RawAnswer | ApiError:
    """HTTP 401, alternating: an empty body, then an envelope with a code other than
    ``InvalidAuthentication`` (§9.2 documents "401 - Unauthorized"; the body is inferred)."""
    if variant % 2 == 0:
        return RawAnswer(401, b"", None)
    return ApiError(401, "Unauthorized", "access_token过期或者不存在，需要重新获取")  # noqa: RUF001
