"""The emulated api.dingtalk.com: routes, auth, identity, faults, QPS limit, error envelope.

Per request: route -> count -> injected fault -> access token -> QPS limit -> ``unionId`` /
``operatorId`` -> handler. Errors are the §9.1 envelope ``{"code","requestid","message"}``.
"""

from __future__ import annotations

import json
import secrets
import traceback
import urllib.parse
from typing import Any

from syncd.emulator.common import ApiError, QuietHandler, request_id
from syncd.emulator.routes import MISSING_TOKEN, ROUTES, throttled

MAX_BODY = 4 << 20


class ApiHandler(QuietHandler):
    """Serves the API routes and the read-only ``/_emulator/{tree,stats}`` inspection."""

    server_version = "DingTalk/1.0.0"

    def _dispatch(self) -> None:
        emu = self.server.emulator
        path, _, query = self.path.partition("?")
        body = self._read_body()
        if body is None:
            return
        if path.startswith("/_emulator/"):
            self._inspect(path)
            return
        route = next((r for r in ROUTES if r[0] == self.command and r[1].fullmatch(path)), None)
        endpoint = route[2] if route else "unknown"
        emu.counters.request(endpoint)
        try:
            if route is None:
                raise ApiError(
                    404,
                    "InvalidAction.NotFound",
                    "Specified api is not found, please check your url and method.",
                )
            if self._fault(endpoint):
                return  # connection reset: no answer at all
            params = urllib.parse.parse_qs(query)
            operator = self._authorize(endpoint, route[3], params)
            match = route[1].fullmatch(path)
            assert match is not None
            args = tuple(urllib.parse.unquote(group) for group in match.groups())
            result = route[4](emu, args, self._json(body), operator)
            self._reply(endpoint, 200, result)
        except ApiError as err:
            self._reply(
                endpoint, err.status, {"code": err.code, "requestid": "", "message": err.message}
            )
        except Exception:  # noqa: BLE001 - an emulator bug answers 500, as the real API would
            traceback.print_exc()
            self._reply(
                endpoint, 500, {"code": "unknownError", "requestid": "", "message": "Unknown Error"}
            )

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    def _fault(self, endpoint: str) -> bool:
        """Apply an injected fault: sleep, raise its error, or abort (True)."""
        emu = self.server.emulator
        decision = emu.faults.decide(endpoint)
        if decision.kind is None and not decision.delay:
            return False
        emu.counters.fault()
        if decision.delay:
            emu.stopping.wait(decision.delay)
        if decision.kind == "reset":
            self.abort()
            return True
        if decision.kind == "throttle":
            emu.counters.throttled()
            raise throttled()
        if decision.kind == "5xx" and decision.status == 500:
            raise ApiError(500, "systemError", "System Error")
        if decision.kind == "5xx":
            raise ApiError(503, "operationTimeout", "operation timeout")
        return False

    def _authorize(self, endpoint: str, identity: str | None, params: dict[str, list[str]]) -> str:
        emu = self.server.emulator
        if identity is None:
            if not emu.qps_limiter.allow(endpoint):
                emu.counters.throttled()
                raise throttled()
            return ""
        token = self.headers.get("x-acs-dingtalk-access-token")
        if not token:
            raise ApiError(400, "AuthenticationFailed.MissingParameter", MISSING_TOKEN)
        if not emu.token_valid(token):
            raise ApiError(400, "InvalidAuthentication", "不合法的access_token")
        if not emu.qps_limiter.allow(endpoint):
            emu.counters.throttled()
            raise throttled()
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
            self._reply(
                None,
                413,
                {"code": "paramError", "requestid": "", "message": "request body too large"},
            )
            return None
        return self.rfile.read(length)

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
        if self.command != "GET" or path not in ("/_emulator/tree", "/_emulator/stats"):
            self._reply(
                None,
                404,
                {
                    "code": "InvalidAction.NotFound",
                    "requestid": "",
                    "message": "unknown inspection endpoint",
                },
            )
            return
        data = emu.tree() if path == "/_emulator/tree" else emu.stats()
        self._reply(None, 200, data)

    def _reply(self, endpoint: str | None, status: int, data: Any) -> None:
        rid = request_id()
        if isinstance(data, dict) and "requestid" in data:
            data["requestid"] = rid
        if endpoint is not None:
            self.server.emulator.counters.status(endpoint, status)
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self.send_bytes(
            status,
            body,
            "application/json;charset=utf-8",
            {"x-acs-request-id": rid, "x-acs-trace-id": secrets.token_hex(16)},
        )
