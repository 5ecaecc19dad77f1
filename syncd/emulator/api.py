"""The emulated api.dingtalk.com: routes, auth, identity, faults, QPS limit, error envelope.

Per request: route -> count -> latency (first half) -> injected fault -> access token ->
QPS limit -> monthly quota (§15.1, metered routes only) -> ``unionId`` / ``operatorId`` ->
handler -> latency (second half) -> answer.
Errors are the §9.1 envelope ``{"code","requestid","message"}`` (old-style contact calls:
``{"errcode","errmsg"}``, see :mod:`syncd.emulator.oapi`); ban pages and empty 401s are sent
raw. A ``lost`` fault applies the call and then drops the connection; ``lost5xx`` applies it
and answers 503 ``operationTimeout``; ``badnumbers`` applies it and answers with every
integer as text (``"1.0"``); ``loop`` answers the first page with a ``nextToken`` that never
runs out.

Inspection (never counted, never metered): ``GET /_emulator/tree``, ``GET /_emulator/stats``
and ``POST /_emulator/reset-month`` (a new month of the quota; answers ``{"metered"}``).
"""

from __future__ import annotations

import json
import secrets
import time
import traceback
import urllib.parse
from typing import Any

from syncd.emulator import answers, oapi, paging
from syncd.emulator.answers import QPM_APP_API, QPS_API, QPS_APP_API, RawAnswer
from syncd.emulator.common import ApiError, QuietHandler, request_id
from syncd.emulator.faults import Decision
from syncd.emulator.routes import HEADER, MISSING_TOKEN, QUERY, ROUTES, Route, throttled
from syncd.emulator.routes_common import Call

MAX_BODY = 4 << 20
_THROTTLE_CODES = {"throttle": QPS_APP_API, "qpm": QPM_APP_API, "qpsapi": QPS_API}
_INSPECTION = {
    ("GET", "/_emulator/tree"),
    ("GET", "/_emulator/stats"),
    ("POST", "/_emulator/reset-month"),
}


def envelope(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "requestid": "", "message": message}


class ApiHandler(QuietHandler):
    """Serves the API routes and the read-only ``/_emulator/{tree,stats}`` inspection."""

    server_version = "DingTalk/1.0.0"

    def _dispatch(self) -> None:
        emu = self.server.emulator
        # when the call reached the (modelled) server: received now, half the latency ago
        # in flight; the QPS limit judges this, not when this thread got round to it
        self.arrived = time.monotonic() + emu.latency.seconds / 2
        path, _, query = self.path.partition("?")
        body = self._read_body()
        if body is None:
            return
        if path.startswith("/_emulator/"):
            self._inspect(path)
            return
        route = next(
            (r for r in ROUTES if r.method == self.command and r.pattern.fullmatch(path)), None
        )
        endpoint = route.endpoint if route else "unknown"
        emu.counters.request(endpoint)
        emu.latency.wait(emu.stopping)
        decision = emu.faults.decide(endpoint) if route else Decision()
        try:
            answer = self._answer(route, path, query, body, decision)
        except RawAnswer as raw:
            emu.latency.wait(emu.stopping)
            emu.counters.status(endpoint, raw.status)
            self.send_bytes(raw.status, raw.body, raw.content_type, {})
            return
        if answer is None or decision.kind == "lost":
            if answer is not None:
                emu.latency.wait(emu.stopping)
            self.abort()  # connection reset: no answer at all (after the call, for "lost")
            return
        if decision.kind == "lost5xx":
            answer = _error(route, ApiError(503, "operationTimeout", "operation timeout"))
        if decision.kind == "badnumbers":
            answer = (answer[0], numbers_as_text(answer[1]))
        self._reply(endpoint, *answer)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    def _answer(
        self, route: Route | None, path: str, query: str, body: bytes, decision: Decision
    ) -> tuple[int, Any] | None:
        """(status, JSON) of the call; None to drop the connection; raises RawAnswer."""
        emu = self.server.emulator
        try:
            if route is None:
                raise ApiError(
                    404,
                    "InvalidAction.NotFound",
                    "Specified api is not found, please check your url and method.",
                )
            if self._fault(decision):
                return None
            params = urllib.parse.parse_qs(query, keep_blank_values=True)
            operator = self._authorize(route, params)
            match = route.pattern.fullmatch(path)
            assert match is not None
            args = tuple(urllib.parse.unquote(group) for group in match.groups())
            loop = decision.kind == "loop"
            asked = (params.pop("nextToken", None) or [""])[0] if loop else ""
            data = route.handler(Call(emu, args, self._body(route, body), params, operator))
            if loop:  # the first page, and a token that never runs out
                data["nextToken"] = asked or paging.LOOP_TOKEN
            return 200, data
        except ApiError as err:
            return _error(route, err)
        except RawAnswer:
            raise
        except Exception:  # noqa: BLE001 - an emulator bug answers 500, as the real API would
            traceback.print_exc()
            return 500, envelope("unknownError", "Unknown Error")

    def _fault(self, decision: Decision) -> bool:
        """Apply an injected fault before the call: sleep, raise its answer, or abort (True)."""
        emu = self.server.emulator
        kind = decision.kind
        if kind is None and not decision.delay:
            return False
        emu.counters.fault()
        if decision.delay:
            emu.stopping.wait(decision.delay)
        if kind == "reset":
            return True
        if kind in _THROTTLE_CODES:
            emu.counters.throttled()
            raise throttled(_THROTTLE_CODES[kind])
        if kind == "5xx":
            status = decision.status or (500 if decision.nth % 2 == 0 else 503)
            if status == 503:
                raise ApiError(503, "operationTimeout", "operation timeout")
            raise ApiError(status, "systemError", "System Error")
        if kind == "401":
            raise answers.unauthorized(decision.nth)
        if kind == "ban":
            raise answers.ban(decision.status or 403)
        if kind == "banhtml":
            raise answers.html(decision.status or 403, "Access Denied")
        return False  # lost, lost5xx, badnumbers, loop: after the call

    def _authorize(self, route: Route, params: dict[str, list[str]]) -> str:
        """Token, QPS limit, monthly quota, then the operator ("" when the route has none)."""
        emu = self.server.emulator
        if route.auth == HEADER:
            token = self.headers.get("x-acs-dingtalk-access-token")
            if not token:
                raise ApiError(400, "AuthenticationFailed.MissingParameter", MISSING_TOKEN)
            if not emu.token_valid(token):
                raise ApiError(400, "InvalidAuthentication", "不合法的access_token")
        elif route.auth == QUERY:
            token = (params.get("access_token") or [""])[0]
            if not token or not emu.token_valid(token):
                raise oapi.OapiError(oapi.INVALID_TOKEN)
        if not emu.qps_limiter.allow(route.endpoint, self.arrived):
            emu.counters.throttled()
            raise throttled()
        if route.metered:
            emu.meter.charge(route.endpoint)
        identity = route.identity
        if identity is None:
            return ""
        operator = (params.get(identity) or [""])[0]
        if not operator:
            raise ApiError(400, "paramError", f"{identity} is required")
        if operator not in emu.union_ids:
            raise ApiError(403, "permissionDenied", "The operator has no permission.")
        return operator

    def _read_body(self) -> bytes | None:
        length = self.content_length()
        if length is None:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                self.close_connection = True
            return b""
        if length > MAX_BODY:
            self.close_connection = True
            self._reply(None, 413, envelope("paramError", "request body too large"))
            return None
        return self.rfile.read(length)

    def _body(self, route: Route, body: bytes) -> dict[str, Any]:
        """The request body as an object: JSON, or for the old API a form too (its docs'
        curl samples send ``application/x-www-form-urlencoded``)."""
        ctype = self.headers.get("Content-Type", "").lower()
        if route.auth == QUERY and ctype.startswith("application/x-www-form-urlencoded"):
            try:
                form = urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                raise ApiError(400, "paramError", "request body is not UTF-8") from None
            return {key: values[0] for key, values in form.items()}
        return self._json(body)

    @staticmethod
    def _json(body: bytes) -> dict[str, Any]:
        if not body.strip():
            return {}
        try:
            value = json.loads(body)
        except ValueError:
            raise ApiError(400, "paramError", "request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise ApiError(400, "paramError", "request body must be a JSON object")
        return value

    def _inspect(self, path: str) -> None:
        emu = self.server.emulator
        if (self.command, path) not in _INSPECTION:
            self._reply(
                None, 404, envelope("InvalidAction.NotFound", "unknown inspection endpoint")
            )
            return
        if path == "/_emulator/reset-month":
            emu.reset_month()
            data: Any = {"metered": emu.meter.snapshot()}
        else:
            data = emu.tree() if path == "/_emulator/tree" else emu.stats()
        self._reply(None, 200, data)

    def _reply(self, endpoint: str | None, status: int, data: Any) -> None:
        rid = request_id()
        if isinstance(data, dict) and "requestid" in data:
            data["requestid"] = rid
        if endpoint is not None:
            emu = self.server.emulator
            emu.latency.wait(emu.stopping)
            emu.counters.status(endpoint, status)
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self.send_bytes(
            status,
            body,
            "application/json;charset=utf-8",
            {"x-acs-request-id": rid, "x-acs-trace-id": secrets.token_hex(16)},
        )


def _error(route: Route | None, err: ApiError) -> tuple[int, Any]:
    """(status, body) of an error: the §9.1 envelope, or errcode/errmsg on the old API."""
    if route is not None and route.auth == QUERY:
        return oapi.translate(err)
    return err.status, envelope(err.code, err.message)


def numbers_as_text(data: Any) -> Any:
    """The ``badnumbers`` fault: every integer of an answer as text that is no integer
    (``7200`` -> ``"7200.0"``), as a gateway that re-encodes JSON might send it."""
    if isinstance(data, dict):
        return {k: numbers_as_text(v) for k, v in data.items()}
    if isinstance(data, list):
        return [numbers_as_text(v) for v in data]
    if isinstance(data, int) and not isinstance(data, bool):
        return f"{data}.0"
    return data
