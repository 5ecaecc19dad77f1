"""Shared pieces of the emulator's two HTTP servers: the server class, the quiet handler, stats.

Both servers speak HTTP/1.1 with keep-alive and always send ``Content-Length``, so a client's
connection pool behaves as it would against the real hosts. Every accepted connection is
tracked so that :meth:`TrackingServer.close_connections` can end idle keep-alive connections
and join their threads on stop (no leaked threads).
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import socketserver
import struct
import sys
import threading
import uuid
from typing import Any

CHUNK = 1 << 20  # request bodies are read in chunks of at most 1 MiB


class ApiError(Exception):
    """An error answer of the API: HTTP status, DingTalk error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def request_id() -> str:
    """A new upper-case UUID-style request id, as DingTalk's gateway returns them."""
    return str(uuid.uuid4()).upper()


class TrackingServer(http.server.ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its open connections and their handler threads."""

    daemon_threads = True
    block_on_close = False  # we join our own threads in close_connections()
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type, emulator: Any) -> None:
        self.emulator = emulator
        self._conns: dict[socket.socket, threading.Thread] = {}
        self._conns_lock = threading.Lock()
        self._closing = False
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can hang.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"syncd-emulator-conn-{self.server_port}",
            daemon=True,
        )
        with self._conns_lock:
            closing = self._closing
            if not closing:
                self._conns[request] = thread
        if closing:
            self.shutdown_request(request)
            return
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.pop(request, None)
        super().shutdown_request(request)

    def close_connections(self, timeout: float = 5.0) -> None:
        """Shut down every open connection (idle keep-alive ones too) and join the threads."""
        with self._conns_lock:
            self._closing = True
            items = list(self._conns.items())
            for sock, _ in items:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for _, thread in items:
            thread.join(timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return  # a client that went away is not an emulator error
        super().handle_error(request, client_address)


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler that never logs a request and buffers each response."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16  # headers and body leave in one send(); flushed after each request
    server: TrackingServer

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_expect_100(self) -> bool:
        ok = super().handle_expect_100()
        self.wfile.flush()  # "100 Continue" must leave now: the client waits for it to send
        return ok

    def content_length(self) -> int | None:
        """The request's Content-Length, or None when absent or malformed."""
        raw = self.headers.get("Content-Length")
        if raw is None or not raw.strip().isdigit():
            return None
        return int(raw)

    def drain(self, length: int) -> bool:
        """Read and discard ``length`` body bytes; False when the client went away first."""
        while length > 0:
            data = self.rfile.read(min(length, CHUNK))
            if not data:
                return False
            length -= len(data)
        return True

    def send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Send a complete response with Content-Length (and Connection: close when closing)."""
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def abort(self) -> None:
        """Drop the connection without an answer: the client sees a reset."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class StatusCounts(dict):  # type: ignore[type-arg]
    """``{status: count}`` keyed by int; string keys (``"200"``, as in the JSON) also work."""

    @staticmethod
    def _key(key: Any) -> Any:
        return int(key) if isinstance(key, str) and key.isdigit() else key

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._key(key))

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._key(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(self._key(key), default)


class Stats:
    """Thread-safe request counters per endpoint (API and OSS; never ``/_emulator/*``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: dict[str, int] = {}
            self._status: dict[str, dict[int, int]] = {}
            self._total = 0
            self._throttled = 0
            self._faults = 0

    def request(self, endpoint: str) -> None:
        with self._lock:
            self._requests[endpoint] = self._requests.get(endpoint, 0) + 1
            self._total += 1

    def status(self, endpoint: str, code: int) -> None:
        with self._lock:
            per = self._status.setdefault(endpoint, {})
            per[code] = per.get(code, 0) + 1

    def throttled(self) -> None:
        with self._lock:
            self._throttled += 1

    def fault(self) -> None:
        with self._lock:
            self._faults += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self._requests),
                "total": self._total,
                "throttled": self._throttled,
                "faults": self._faults,
                "status": {ep: StatusCounts(c) for ep, c in self._status.items()},
            }
