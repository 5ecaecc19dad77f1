"""The daemon's outward signs: the `stats` line, `STATUS=`, the status snapshot that
`syncd status` reads, metrics (`/metrics`, `/healthz`, the textfile) and the health state."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from syncd.core.errors import StateError, SyncdError
from syncd.core.settings import Config
from syncd.daemon import sdnotify
from syncd.execute.context import Context
from syncd.obs.metrics import HealthState
from syncd.obs.stats import Stats

log = structlog.get_logger(__name__)


class Reporting:
    def __init__(self, config: Callable[[], Config], ctx: Context, stats: Stats) -> None:
        self.config = config  # the current one (a reload replaces it)
        self.ctx, self.state, self.stats = ctx, ctx.state, stats
        self.health = HealthState()
        self.metrics: Any = None
        self.scan_since: float | None = None  # when the scan running now began (monotonic)

    def start_metrics(self) -> None:
        listen = self.config().metrics.listen
        if not listen:
            return
        from syncd.obs.metrics import MetricsServer

        try:
            self.metrics = MetricsServer(listen, self.stats, self.reason, self.issue_gauges)
        except OSError as exc:
            raise SyncdError(f"metrics.listen: cannot listen on {listen}: {exc.strerror}") from None
        self.metrics.start()
        log.info("metrics.listening", address=listen, port=self.metrics.port)

    def scanning(self, running: bool) -> None:
        """The scanner thread starts (True) or ends (False) a scan."""
        self.scan_since = time.monotonic() if running else None

    def reason(self) -> str | None:
        """Why /healthz answers 503, or None: the health state's reasons, or a scan that
        has not finished within its expected time (the rescan interval)."""
        expected = self.config().sync.rescan_interval_seconds
        return self.health.reason() or overdue_scan(self.scan_since, time.monotonic(), expected)

    def stop_metrics(self) -> None:
        if self.metrics is not None:
            self.metrics.stop()

    def publish(self, *, queued: int, in_flight: int, watches: int, mappings: int) -> None:
        """One `stats` line, `STATUS=`, the snapshot for `syncd status`, the textfile."""
        self.stats.set(queued=queued, in_flight=in_flight, watches=watches)
        self.issue_gauges()
        line = self.stats.line()
        log.info("stats", **line)
        sdnotify.notify(f"STATUS={self.stats.status_text(mappings)}")
        if not self.state.readonly:  # a dry-run's store is read-only: nothing is written
            snapshot = {**line, "pid": os.getpid(), "updated": time.time()}
            self.ctx.write("status", lambda: self.state.set_meta("daemon.status", snapshot))
        textfile = self.config().metrics.textfile
        if textfile:
            from syncd.obs.metrics import write_textfile

            try:
                write_textfile(Path(textfile), self.stats)
            except OSError as exc:
                log.warning("metrics.textfile_failed", path=textfile, error=exc.strerror)

    def issue_gauges(self) -> None:
        """The gauges that live in the state store (failing, held, refused files)."""
        try:
            counts = self.state.issue_counts()
        except StateError:
            return
        self.stats.set(
            failing=counts.get("failed", 0),
            held_files=counts.get("held", 0),
            refused_files=counts.get("refused", 0),
        )


def overdue_scan(since: float | None, now: float, expected: float) -> str | None:
    """A scan running for longer than `expected` seconds (a stalled walk), or None."""
    if since is None or now - since <= expected:
        return None
    return f"a scan has been running for {int(now - since)} s (expected within {expected:g} s)"
