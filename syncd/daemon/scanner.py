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
from typing import TYPE_CHECKING

import structlog

from syncd.core.actions import HEAVY, Defer, Outcome, Upload
from syncd.core.errors import RootUnavailable, StateError
from syncd.core.model import IssueKind
from syncd.core.settings import Mapping
from syncd.daemon import sdnotify
from syncd.daemon.messages import Done, Fresh, PathJob, ScanRequest
from syncd.execute.purge import purge_trash
from syncd.reconcile.loop import ScanReport

if TYPE_CHECKING:
    from syncd.daemon.loop import Daemon

log = structlog.get_logger(__name__)


PURGE = "purge trash"


class Scanner:
    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon
        self.queue: queue.Queue[ScanRequest | None] = queue.Queue()
        self.pending: set[tuple[str, str]] = set()
        self.lock = threading.Lock()
        self.last_purge = 0.0

    def request(self, req: ScanRequest) -> None:
        """Queue a scan unless an equal or wider one is already waiting."""
        with self.lock:
            if (req.key, "") in self.pending or (req.key, req.start) in self.pending:
                return
            self.pending.add((req.key, req.start))
        self.queue.put(req)

    def full(self, reason: str) -> None:
        self.d.ex.new_round()
        for key in self.d.mappings:
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
            if req is None or self.d.stopping.is_set():
                return
            with self.lock:
                self.pending.discard((req.key, req.start))
            if req.reason == PURGE:
                for each in list(self.d.mappings.values()):
                    if self.d.ex.blocked_reason(each) is None:
                        purge_trash(self.d.ex, each)
                continue
            m = self.d.mappings.get(req.key)
            if m is None or m.key in self.d.maps.local_failed:
                continue
            try:
                self.scan(m, req)
            except RootUnavailable as exc:
                self.d.maps.root_failed(m, exc.reason)
            except StateError as exc:
                self.d.ex.state_failed(exc, "scan")
            except Exception as exc:
                log.exception("scan.failed", mapping=str(m.local), error=repr(exc))

    def scan(self, m: Mapping, req: ScanRequest) -> None:
        d = self.d
        if (problem := d.recon.root_problem(m)) is not None:
            d.maps.root_failed(m, problem)
            return
        sdnotify.notify(f"STATUS=scanning {m.local} ({req.reason})")
        report = ScanReport(m, req.start)
        settle_ns = int(d.config.sync.settle_seconds * 1e9)
        changed = 0
        for action in d.recon.scan(m, req.start, report):
            if d.stopping.is_set() or req.key not in d.mappings:
                return
            f = getattr(action, "file", None)
            if (
                isinstance(action, Upload)
                and f is not None
                and time.time_ns() - f.mtime_ns < settle_ns
            ):
                d.hints.put(Fresh(m.key, f))  # too fresh: settle first
                continue
            changed += isinstance(action, Upload)
            if isinstance(action, HEAVY) and not d.dry_run:
                d.offer(action)
            elif d.ex.execute(action) is Outcome.DEFERRED and isinstance(action, Defer):
                d.hints.put(Done(m.key, action.file.rel_path, Outcome.DEFERRED, action.seconds))
        for action in d.recon.finish(report):
            d.ex.execute(action)
        if d.dry_run:
            from syncd.obs.plan_lines import flush

            flush()
        d.stats.set(last_scan_seconds=report.seconds, last_scan_time=time.time())
        log.info(
            "scan.finished",
            mapping=str(m.local),
            reason=req.reason,
            folder=req.start or None,
            files=report.counters.files,
            changed=changed,
            seconds=round(report.seconds, 3),
        )
        sdnotify.notify(f"STATUS={d.stats.status_text(len(d.mappings))}")

    def work_path(self, job: PathJob) -> tuple[Outcome, float]:
        """On a worker: plan one settled path and carry it out."""
        d, m = self.d, job.mapping
        if m.key in d.maps.local_failed:
            return Outcome.ABANDONED, 0.0
        if job.force:
            issue = d.state.issue(m.key, job.rel)
            if issue is not None and issue.kind is IssueKind.FAILED:
                d.ex.write("retry", lambda: d.state.clear_issues(m.key, [job.rel]))
        outcome, defer = Outcome.UNCHANGED, 0.0
        try:
            for action in d.recon.path(m, job.rel):
                outcome = d.ex.execute(action)
                if isinstance(action, Defer):
                    defer = action.seconds
            if d.recon.gone_with_records(m, job.rel):  # deleted: the parent's scan decides
                self.request(ScanRequest(m.key, job.rel.rpartition("/")[0], "deleted"))
        except RootUnavailable as exc:
            d.maps.root_failed(m, exc.reason)
            return Outcome.ABANDONED, 0.0
        return outcome, defer
