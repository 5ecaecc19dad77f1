"""Prometheus metrics and a health check (`metrics.listen`, `metrics.textfile`).

The optional extra `syncd[metrics]` brings prometheus_client. The metrics are read at scrape
time from the same `Stats` that feeds the `stats` log line and systemd's STATUS= (the
daemon's `refresh` sets its live gauges, queues and issues, before each scrape), so the
numbers always agree. `/healthz` answers with the verdict of `syncd status`
(`obs.verdict`): 200 for `ok` and `degraded: …`, 503 for `failing: …`.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from syncd.obs.stats import COUNTERS, DURATION_BUCKETS, GAUGES, Stats
from syncd.obs.verdict import LOOP_STALE, REMOTE_DOWN, Verdict

Health = Callable[[], Verdict | None]  # None: ok


class _Collector:
    """A prometheus_client collector over `Stats` (read at each scrape)."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        snap = self.stats.snapshot()
        for name in COUNTERS:
            yield CounterMetricFamily(
                f"syncd_{name}", f"syncd {name.replace('_', ' ')}", value=snap["counters"][name]
            )
        failures = CounterMetricFamily(
            "syncd_failures_by_code", "failed uploads by error code", labels=["code"]
        )
        for code, n in sorted(snap["failures"].items()):
            failures.add_metric([code], n)
        yield failures
        for name in GAUGES:
            yield GaugeMetricFamily(
                f"syncd_{name}", f"syncd {name.replace('_', ' ')}", value=snap["gauges"][name]
            )
        buckets, total = [], 0
        for bound, n in zip(DURATION_BUCKETS, snap["durations"], strict=True):
            total += n
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), total))
        yield HistogramMetricFamily(
            "syncd_upload_duration_seconds",
            "time to upload a file",
            buckets=buckets,
            sum_value=snap["duration_sum"],
        )


def registry(stats: Stats) -> Any:
    from prometheus_client import CollectorRegistry

    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Collector(stats))
    return reg


def render(reg: Any) -> bytes:
    from prometheus_client import generate_latest

    return bytes(generate_latest(reg))


def _nothing() -> None:
    pass


MAX_CONNECTIONS = 16  # served at once; more are closed at once (a scraper needs one)
REQUEST_SECONDS = 5.0  # a connection that sends nothing (or too slowly) is dropped after it


class _BoundedServer(ThreadingHTTPServer):
    """A thread per connection, but never more than `limit` of them: a connection past the
    limit is closed at once, and each lives at most the handler's `timeout` while idle, so
    a flood of idle connections can neither take the daemon's file descriptors nor its
    threads (the uploaders' own are never used here)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any, limit: int) -> None:
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(limit)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # busy: the scraper tries again
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class MetricsServer:
    """/metrics and /healthz on a small threaded HTTP server of its own."""

    def __init__(
        self,
        listen: str,
        stats: Stats,
        health: Health,
        refresh: Callable[[], object] = _nothing,
        *,
        max_connections: int = MAX_CONNECTIONS,
        request_seconds: float = REQUEST_SECONDS,
    ) -> None:
        """`refresh` brings the gauges that live in the state store up to date (each scrape)."""
        host, _, port = listen.rpartition(":")
        reg = registry(stats)

        class Handler(BaseHTTPRequestHandler):
            timeout = request_seconds  # on the socket: a silent client is dropped

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    refresh()
                    self._send(200, render(reg), "text/plain; version=0.0.4; charset=utf-8")
                elif path == "/healthz":
                    verdict = health()
                    body = f"{verdict.line if verdict else 'ok'}\n".encode()
                    status = 200 if verdict is None or verdict.healthy else 503
                    self._send(status, body, "text/plain; charset=utf-8")
                else:
                    self._send(404, b"not found: try /metrics or /healthz\n", "text/plain")

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        address = (host.strip("[]") or "127.0.0.1", int(port))
        self.server = _BoundedServer(address, Handler, max_connections)
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            name="metrics",
            kwargs={"poll_interval": 0.2},
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> MetricsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def write_textfile(path: Path, stats: Stats) -> None:
    """The metrics, atomically, for node_exporter's textfile collector."""
    data = render(registry(stats))
    fd, tmp = tempfile.mkstemp(prefix=".syncd-", suffix=".prom.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class HealthState:
    """What /healthz judges: the main loop's heartbeat and the remote's last answers."""

    LOOP_STALE = LOOP_STALE
    REMOTE_DOWN = REMOTE_DOWN

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.beat = clock()
        self.remote_down_since: float | None = None

    def tick(self) -> None:
        self.beat = self.clock()

    def remote_ok(self) -> None:
        self.remote_down_since = None

    def remote_failed(self) -> None:
        if self.remote_down_since is None:
            self.remote_down_since = self.clock()

    def loop_silent(self) -> float:
        return self.clock() - self.beat

    def remote_down(self) -> float:
        """For how long the remote has been failing (0: it answers)."""
        since = self.remote_down_since
        return 0.0 if since is None else max(self.clock() - since, 1e-3)

    def reason(self) -> str | None:
        now = self.clock()
        if now - self.beat > self.LOOP_STALE:
            return f"main loop silent for {int(now - self.beat)} s"
        if self.remote_down_since is not None and now - self.remote_down_since > self.REMOTE_DOWN:
            return f"the remote has not answered for {int(now - self.remote_down_since)} s"
        return None
