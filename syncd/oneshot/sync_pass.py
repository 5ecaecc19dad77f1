"""`syncd sync`: one pass over every mapping, like `rclone copy`.

For each mapping: walk and plan (`reconcile.py`), carry out cheap actions at once and send
uploads to `sync.workers` threads (bounded submission keeps memory flat on huge trees),
then drop the records of what is gone. Files that changed during their upload are tried
again once they have settled; files that fail are recorded for `syncd status` and tried
again by the next run. SIGINT/SIGTERM finish what is in flight and abandon the rest.
"""

from __future__ import annotations

import functools
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from syncd.core.actions import HEAVY, Defer, Outcome, Reupload, Upload
from syncd.core.errors import MappingFailedError, RootUnavailable, StateError
from syncd.core.model import LocalFile
from syncd.core.settings import Config, Mapping
from syncd.execute.executor import Executor, RemoteFactory
from syncd.execute.purge import purge_trash
from syncd.obs.progress import Progress
from syncd.obs.stats import Stats
from syncd.reconcile.drift import check_remote
from syncd.reconcile.loop import Planned, Reconciler, ScanReport
from syncd.state.store import StateStore

log = structlog.get_logger(__name__)

DEFER_ROUNDS = 3


@dataclass
class SyncResult:
    counters: dict[str, int]
    seconds: float
    fatal: BaseException | None = None
    failed_mappings: dict[str, MappingFailedError] = field(default_factory=dict)
    state_broken: StateError | None = None
    interrupted: int = 0  # the signal that stopped the pass early
    abandoned: bool = False  # work was left undone by the interruption
    folders: int = 0  # folders holding planned uploads (the dry-run summary)

    @property
    def exit_code(self) -> int:
        if self.fatal is not None:
            return 3
        if self.interrupted and self.abandoned:
            return 128 + self.interrupted
        failed = self.counters.get("failed", 0) or self.failed_mappings or self.state_broken
        return 1 if failed else 0


class _Pool:
    """A thread pool with bounded submission (b2sdk's BoundedQueueExecutor)."""

    def __init__(self, ex: Executor, workers: int) -> None:
        self.ex = ex
        self.workers = workers
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upload")
        self.slots = threading.BoundedSemaphore(workers * 4)
        self.deferred: list[Planned] = []
        self.pending = 0
        self._lock = threading.Lock()

    def submit(self, action: Planned) -> None:
        self.slots.acquire()
        with self._lock:
            self.pending += 1
        fut: Future[Outcome] = self.executor.submit(self.ex.execute, action)
        fut.add_done_callback(functools.partial(self._done, action=action))

    def _done(self, fut: Future[Outcome], *, action: Planned) -> None:
        self.slots.release()
        with self._lock:
            self.pending -= 1
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:  # a bug or an unexpected local error: this file failed, go on
            self.ex.stats.failed("crash")
            path = getattr(getattr(action, "file", None), "rel_path", str(action))
            log.error("upload.crashed", path=path, error=repr(exc), exc_info=exc)
        elif fut.result() is Outcome.DEFERRED:
            with self._lock:
                self.deferred.append(action)

    def drain(self) -> list[Planned]:
        self.executor.shutdown(wait=True)
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="upload")
        with self._lock:
            jobs, self.deferred = self.deferred, []
        return jobs

    def abandon(self) -> bool:
        """Stop: drop what is queued, let what runs finish; True when work was dropped."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            dropped = self.pending > 0
        self.executor.shutdown(wait=True)
        return dropped

    def close(self) -> None:
        self.executor.shutdown(wait=True)


_UPLOADS = (Upload, Reupload)  # a tuple, not `Upload | Reupload`: built once, not per file


class SyncPass:
    def __init__(
        self,
        config: Config,
        ex: Executor,
        *,
        check_remote: bool = False,
        max_delete: int | None = None,
    ) -> None:
        self.config = config
        self.ex = ex
        self.check_remote = check_remote
        self.recon = Reconciler(ex)
        self.recon.max_delete = max_delete
        self.recon.fork_walk = ex.dry_run  # a dry-run sends nothing: no thread runs beside it
        self.recon.early_mkdir = not ex.dry_run
        self.recon.split_walk = True
        self.folders: set[tuple[str, str]] = set()
        self.planned = [0, 0]  # uploads planned in this pass and their bytes (see `run_sync`)
        self.bars = type(ex.progress) is not Progress  # the default Progress draws nothing
        self.pool = _Pool(ex, config.sync.workers)

    def dispatch(self, action: Planned) -> None:
        if isinstance(action, _UPLOADS):
            f = action.file
            self.planned[0] += 1  # added to the stats once, at the end (a hot path)
            self.planned[1] += f.size
            if self.bars:
                self.ex.progress.planned(1, f.size)
            self.folders.add((action.mapping.key, f.rel_path.rpartition("/")[0]))
        if isinstance(action, HEAVY) and not self.ex.dry_run:
            self.pool.submit(action)
        elif self.ex.execute(action) is Outcome.DEFERRED:
            self.pool.deferred.append(action)

    def mapping(self, m: Mapping) -> None:
        report = ScanReport(m, "")
        planned = self.planned[0]
        try:
            if (problem := self.recon.root_problem(m)) is not None:
                hint = "nothing is deleted or uploaded for it until the folder is back"
                self.ex.mapping_failed(m, MappingFailedError(problem, hint=hint))
                return
            for action in self.recon.scan(m, "", report):
                if self.ex.fatal is not None or self.ex.state_broken is not None:
                    break
                self.dispatch(action)
        except RootUnavailable as exc:
            self.ex.mapping_failed(m, MappingFailedError(exc.reason, hint=f"check {m.local}"))
            return
        except StateError as exc:
            self.ex.state_failed(exc, "scan")
        self.pool.deferred.extend(self.pool.drain())
        if self.ex.fatal is None and self.ex.state_broken is None:
            try:
                for action in self.recon.finish(report):
                    self.ex.execute(action)
            except StateError as exc:
                self.ex.state_failed(exc, "scan")
        if self.ex.dry_run:
            from syncd.obs.plan_lines import flush

            flush()
        if self.check_remote and self.ex.blocked_reason(m) is None:
            self.repair(m)
        if self.ex.blocked_reason(m) is None:
            purge_trash(self.ex, m)
        c = report.counters
        log.info(
            "scan.finished",
            mapping=str(m.local),
            files=c.files,
            changed=self.planned[0] - planned,
            ignored=c.ignored,
            refused=c.refused,
            **({"unreadable_folders": len(c.failed)} if c.failed else {}),
            seconds=round(report.seconds, 3),
        )

    def repair(self, m: Mapping) -> None:
        """`--check-remote`: list the mapped remote tree and repair drift."""
        if self.ex.dry_run:
            log.info(
                "plan.remote_check_skipped",
                mapping=str(m.local),
                reason="a dry-run makes no request; run without --dry-run to check",
            )
            return
        for action in check_remote(self.ex, m):
            self.dispatch(action)
        self.pool.deferred.extend(self.pool.drain())

    def retry_deferred(self) -> None:
        """Files that changed mid-upload (or are new and empty): wait, then try again."""
        jobs = self.pool.drain() + self.pool.deferred
        self.pool.deferred = []
        settle = self.config.sync.settle_seconds
        for _ in range(DEFER_ROUNDS):
            if not jobs or self.ex.fatal is not None:
                return
            wait = max(settle, 0.5, *(j.seconds for j in jobs if isinstance(j, Defer)))
            time.sleep(min(wait, 15.0))  # the settle gate itself, not synchronisation
            for job in jobs:
                for action in self.recon.path(job.mapping, _path(job)):
                    self.dispatch(action)
            jobs = self.pool.drain() + self.pool.deferred
            self.pool.deferred = []
        for job in jobs:
            log.warning(
                "upload.deferred",
                mapping=str(job.mapping.local),
                path=_path(job),
                reason="still changing; the next run uploads it",
            )


def _path(action: Planned) -> str:
    f = getattr(action, "file", None)
    return f.rel_path if isinstance(f, LocalFile) else str(action)


def run_sync(
    config: Config,
    state: StateStore,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    remote_factory: RemoteFactory | None = None,
    interrupted: Callable[[], int] = lambda: 0,
    check_remote: bool = False,
    max_delete: int | None = None,
) -> SyncResult:
    """One pass over every mapping; returns the counters and the exit code."""
    started = time.monotonic()
    stats = Stats()
    ex = Executor(
        config,
        state,
        dry_run=dry_run,
        honour_quarantine=False,
        remote_factory=remote_factory,
        progress=progress,
        stats=stats,
    )
    run = SyncPass(config, ex, check_remote=check_remote, max_delete=max_delete)
    result = SyncResult({}, 0.0)
    try:
        for m in config.mappings:
            if ex.fatal is not None or ex.state_broken is not None:
                break
            run.mapping(m)
        run.retry_deferred()
    except KeyboardInterrupt:  # SIGINT/SIGTERM: finish what is in flight, drop the queue
        ex.stopping.set()
        result.interrupted = interrupted() or signal.SIGINT
        run.pool.abandon()
        result.abandoned = True  # the pass did not get to its end
        log.warning("sync.interrupted", in_flight="finished", queued="left for the next run")
    finally:
        run.pool.close()
        ex.close()
        stats.add(planned=run.planned[0], planned_bytes=run.planned[1])
    result.seconds = time.monotonic() - started
    result.counters = stats.summary()
    result.fatal, result.state_broken = ex.fatal, ex.state_broken
    result.failed_mappings = dict(ex.failed_mappings)
    result.folders = len(run.folders)
    _report(config, stats, result, dry_run=dry_run)
    return result


def _report(config: Config, stats: Stats, result: SyncResult, *, dry_run: bool) -> None:
    """The pass's last line (`sync.finished` / `plan.finished`) and the metrics textfile."""
    if config.metrics.textfile and not dry_run:
        from syncd.obs.metrics import write_textfile

        try:
            write_textfile(Path(config.metrics.textfile), stats)
        except OSError as exc:
            log.warning("metrics.textfile_failed", path=config.metrics.textfile, error=exc.strerror)
    event = "plan.finished" if dry_run else "sync.finished"
    extra: dict[str, Any] = (
        {"failed_mappings": len(result.failed_mappings)} if result.failed_mappings else {}
    )
    log.info(event, seconds=round(result.seconds, 3), **result.counters, **extra)
