"""The daemon's outward signs: the `stats` line, `STATUS=`, the status snapshot that
`syncd status` reads, metrics (`/metrics`, `/healthz`, the textfile) and the health state.

The snapshot (`daemon.status` in the state store) is written every few seconds while it
changes, so `status` shows what the daemon does now: its activity, the pending work, the
failing mappings (with since when) and the facts of the verdict (`obs.verdict`), which
`/healthz` computes from the same facts. The gauges are set from `live()` at each scrape.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog

from syncd.core.errors import StateError, SyncdError
from syncd.core.settings import Config
from syncd.daemon import sdnotify
from syncd.execute.context import Context
from syncd.obs.metrics import HealthState
from syncd.obs.stats import Stats
from syncd.obs.verdict import Facts, Verdict, verdict

log = structlog.get_logger(__name__)

SNAPSHOT_EVERY = 60.0  # an unchanged snapshot is written again this often (last seen)


@dataclass(frozen=True, slots=True)
class Live:
    """What the daemon is doing, read from its queues when asked."""

    settling: int = 0  # changed files waiting to be quiet for settle_seconds
    queued: int = 0  # settled, waiting for a worker
    in_flight: int = 0  # being uploaded (or moved, trashed) now
    retrying: int = 0  # failing files waiting for their next attempt
    watches: int = 0
    activity: str = "idle"
    failed_mappings: dict[str, dict[str, Any]] = field(default_factory=dict)


class Reporting:
    def __init__(
        self,
        config: Callable[[], Config],
        ctx: Context,
        stats: Stats,
        live: Callable[[], Live] = Live,
    ) -> None:
        self.config = config  # the current one (a reload replaces it)
        self.ctx, self.state, self.stats = ctx, ctx.state, stats
        self.live = live
        self.health = HealthState()
        self.metrics: Any = None
        self._written: tuple[Any, float] = (None, 0.0)  # the last snapshot (less time), when
        self.scan_since: float | None = None  # when the scan running now began (monotonic)

    def start_metrics(self) -> None:
        listen = self.config().metrics.listen
        if not listen:
            return
        from syncd.obs.metrics import MetricsServer

        try:
            self.metrics = MetricsServer(listen, self.stats, self.verdict, self.refresh)
        except OSError as exc:
            raise SyncdError(f"metrics.listen: cannot listen on {listen}: {exc.strerror}") from None
        self.metrics.start()
        log.info("metrics.listening", address=listen, port=self.metrics.port)

    def scanning(self, running: bool) -> None:
        """The scanner thread starts (True) or ends (False) a scan."""
        self.scan_since = time.monotonic() if running else None

    def stop_metrics(self) -> None:
        if self.metrics is not None:
            self.metrics.stop()

    def refresh(self) -> Live:
        """The live gauges, from the daemon's queues and the state store (each scrape)."""
        live = self.live()
        self.stats.set(
            queued=live.settling + live.queued,
            in_flight=live.in_flight,
            watches=live.watches,
            failed_mappings=len(live.failed_mappings),
        )
        self.issue_gauges()
        return live

    def facts(self, live: Live) -> Facts:
        gauges = self.stats.snapshot()["gauges"]
        broken = self.ctx.state_broken
        return Facts(
            failed_mappings=tuple(
                f"{f['local']}: {f['reason']}" for f in live.failed_mappings.values()
            ),
            state_broken=str(broken) if broken is not None else "",
            loop_silent_seconds=self.health.loop_silent(),
            remote_down_seconds=self.health.remote_down(),
            failing_files=int(gauges["failing"]),
            held_files=int(gauges["held_files"]),
            refused_files=int(gauges["refused_files"]),
            budget_exhausted=self.ctx.budget_exhausted() or "",
            pending_files=int(gauges["pending_files"]),
            scan_running_seconds=scan_running(self.scan_since, time.monotonic()),
            scan_expected_seconds=self.config().sync.rescan_interval_seconds,
        )

    def verdict(self) -> Verdict:
        """What `/healthz` answers (the same as the top line of `syncd status`)."""
        return verdict(self.facts(self.refresh()))

    def snapshot(self, *, force: bool = False) -> None:
        """The snapshot `syncd status` reads, when it changed (or once a minute)."""
        if self.state.readonly:  # a dry-run's store is read-only: nothing is written
            return
        live = self.refresh()
        facts = self.facts(live)
        body = {
            "counters": self.stats.line(),
            "pid": os.getpid(),
            "activity": live.activity,
            "pending": {
                "settling": live.settling,
                "queued": live.queued,
                "in_flight": live.in_flight,
                "retrying": live.retrying,
            },
            "failed_mappings": live.failed_mappings,
            "remote_down_seconds": round(facts.remote_down_seconds, 1),
            "state_broken": facts.state_broken,
        }
        now = time.time()
        last, when = self._written
        if not force and body == last and now - when < SNAPSHOT_EVERY:
            return
        self._written = (body, now)
        snap = {**body, "updated": now, "facts": asdict(facts)}
        self.ctx.write("status", lambda: self.state.set_meta("daemon.status", snap))

    def publish(self, *, mappings: int) -> None:
        """One `stats` line, `STATUS=`, the snapshot for `syncd status`, the textfile."""
        self.refresh()
        line = self.stats.line()
        log.info("stats", **line)
        sdnotify.notify(f"STATUS={self.stats.status_text(mappings)}")
        self.snapshot(force=True)
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
            pending_files=counts.get("pending", 0),
        )


def scan_running(since: float | None, now: float) -> float:
    """How long the scan running now has run (0: none runs)."""
    return 0.0 if since is None else now - since
