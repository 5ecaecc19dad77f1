"""The daemon's scanner thread, and the work a worker does for one path.

The scanner runs reconcile scans one at a time (deduplicated: at most one queued full scan
per mapping, however many events overflow). Cheap actions are carried out on the scanner
thread; uploads and other remote work go to the workers through the per-path claims. A file
too fresh to upload (modified within `settle_seconds`) goes through the settle gate first.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from syncd.core.actions import Action, Blocked, Defer, Outcome, Trash, Upload
from syncd.core.errors import RootUnavailable, StateError
from syncd.core.settings import Mapping
from syncd.daemon import sdnotify
from syncd.daemon.delete_window import DeleteWindows, window_seconds
from syncd.daemon.mappings import Mappings
from syncd.daemon.messages import Done, Fresh, PathJob, ScanRequest
from syncd.execute.consume import Consumer, Executes
from syncd.obs.stats import Stats
from syncd.reconcile.loop import Reconciler, ScanReport

log = structlog.get_logger(__name__)

PURGE = "purge trash"
MOVING = "folders moved during a scan"


class Scanner:
    def __init__(
        self,
        recon: Reconciler,
        executor: Executes,
        maps: Mappings,
        *,
        offer: Callable[[Action], None],
        hints: queue.Queue[Any],
        stopping: threading.Event,
        stats: Stats,
        settle: Callable[[], float],
        blocked: Callable[[Mapping], Outcome | None],
        state_failed: Callable[[StateError, str], None],
    ) -> None:
        """`offer` hands heavy actions to the workers; `hints` is the main loop's queue;
        `settle` the current settle time; `blocked` why a mapping may not use the remote."""
        self.recon, self.executor, self.maps = recon, executor, maps
        self.offer, self.hints, self.stopping, self.stats = offer, hints, stopping, stats
        self.settle, self.blocked, self.state_failed = settle, blocked, state_failed
        self.queue: queue.Queue[ScanRequest | None] = queue.Queue()
        self.pending: set[tuple[str, str]] = set()
        self.lock = threading.Lock()
        self.last_purge = 0.0
        self.scanning: Callable[[bool], None] = lambda running: None  # the health report
        self.windows = DeleteWindows(
            lambda: window_seconds(self.recon.config.sync.rescan_interval_seconds)
        )
        self.current = ""  # what it is scanning now, for `status` ("" when idle)

    def request(self, req: ScanRequest) -> None:
        """Queue a scan unless an equal or wider one is already waiting."""
        with self.lock:
            if (req.key, "") in self.pending or (req.key, req.start) in self.pending:
                return
            self.pending.add((req.key, req.start))
        self.queue.put(req)

    def full(self, reason: str) -> None:
        self.executor.new_round()
        for key in self.maps.by_key:
            self.request(ScanRequest(key, "", reason))

    def stop(self) -> None:
        self.queue.put(None)

    def purge(self) -> None:
        """Empty old trash days (at most daily; on the scanner thread, off the loop)."""
        now = time.monotonic()
        if now - self.last_purge >= 24 * 3600 or not self.last_purge:
            self.last_purge = now
            self.queue.put(ScanRequest("", "", PURGE))

    def run(self) -> None:
        while True:
            req = self.queue.get()
            if req is None or self.stopping.is_set():
                return
            with self.lock:
                self.pending.discard((req.key, req.start))
            if req.reason == PURGE:
                for each in list(self.maps.by_key.values()):
                    if self.blocked(each) is None:
                        for action in self.recon.housekeeping(each):
                            self.executor.execute(action)
                continue
            m = self.maps.by_key.get(req.key)
            if m is None or m.key in self.maps.local_failed:
                continue
            self.scanning(True)
            self.current = f"scanning {m.local} ({req.reason})"
            try:
                self.scan(m, req)
            except RootUnavailable as exc:
                self.maps.root_failed(m, exc.reason)
            except StateError as exc:
                self.state_failed(exc, "scan")
            except Exception as exc:
                log.exception("scan.failed", mapping=str(m.local), error=repr(exc))
            finally:
                self.scanning(False)
                self.current = ""

    def _gone(self, key: str) -> bool:
        return self.stopping.is_set() or key not in self.maps.by_key

    def scan(self, m: Mapping, req: ScanRequest) -> None:
        verdict = self.recon.root_check(m)
        if verdict.problem is not None:
            self.maps.root_failed(m, verdict.problem)
            return
        if verdict.marker is not None:
            self.executor.execute(verdict.marker)
        sdnotify.notify(f"STATUS=scanning {m.local} ({req.reason})")
        report = ScanReport(m, req.start)
        settle_ns = int(self.settle() * 1e9)

        def fresh(action: Action) -> bool:
            """Too fresh to upload: through the settle gate first."""
            if isinstance(action, Upload) and time.time_ns() - action.file.mtime_ns < settle_ns:
                self.hints.put(Fresh(m.key, action.file))
                return True
            return False

        def deferred(action: Action) -> None:
            if isinstance(action, Defer):
                self.hints.put(Done(m.key, action.file.rel_path, Outcome.DEFERRED, action.seconds))

        consumer = Consumer(
            self.executor,
            self.offer,
            deferred=deferred,
            stopped=lambda: self._gone(req.key),
            divert=fresh,
        )
        changed = consumer.feed(self.recon.scan(m, req.start, report))
        if self._gone(req.key):
            return
        self._finish(m, report)
        if report.counters.stalled:  # retried at once (the reconciler walks it alone)
            self.request(ScanRequest(m.key, req.start, "helper stalled"))
        if report.counters.moving and req.reason != MOVING:  # once: a churning folder
            for parent in {p.rpartition("/")[0] for p in report.counters.moving}:  # waits
                self.request(ScanRequest(m.key, parent, MOVING))  # for the next rescan
        self.stats.set(last_scan_seconds=report.seconds, last_scan_time=time.time())
        log.info(
            "scan.finished",
            mapping=str(m.local),
            reason=req.reason,
            folder=req.start or None,
            files=report.counters.files,
            changed=changed,
            seconds=round(report.seconds, 3),
        )
        sdnotify.notify(f"STATUS={self.stats.status_text(len(self.maps.by_key))}")

    def _finish(self, m: Mapping, report: ScanReport) -> None:
        """What is gone: the guards count over the mapping's delete window, and a hold is
        said once per window."""
        gone = report.gone
        window = None
        if report.complete and (gone.vanished or gone.dirs):
            total = self.recon.records.summary(m.key)["files"]
            window = self.windows.counts(m.key, total, time.monotonic())
        for action in self.recon.finish(report, window):
            if isinstance(action, Blocked) and report.complete:  # noqa: SIM102
                if not self.windows.held(m.key, time.monotonic()):  # said once per window
                    log.debug("deletes.still_held", mapping=str(m.local), count=action.count)
                    continue
            outcome = self.executor.execute(action)
            if isinstance(action, Trash) and outcome is Outcome.TRASHED:
                self.windows.trashed(m.key, len(action.records), time.monotonic())

    def work_path(self, job: PathJob) -> tuple[Outcome, float]:
        """On a worker: plan one settled path and carry it out."""
        m = job.mapping
        if m.key in self.maps.local_failed:
            return Outcome.ABANDONED, 0.0
        outcome, defer = Outcome.UNCHANGED, 0.0
        try:
            for action in self.recon.path(m, job.rel, force=job.force):
                outcome = self.executor.execute(action)
                if isinstance(action, Defer):
                    defer = action.seconds
            if self.recon.gone_with_records(m, job.rel):  # deleted: the parent's scan decides
                self.request(ScanRequest(m.key, job.rel.rpartition("/")[0], "deleted"))
        except RootUnavailable as exc:
            self.maps.root_failed(m, exc.reason)
            return Outcome.ABANDONED, 0.0
        return outcome, defer
