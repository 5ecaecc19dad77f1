"""`syncd sync`: one pass over every mapping, like `rclone copy`.

Scan, decide, upload with `sync.workers` threads, wait, summarise. Submission is bounded so
memory stays flat on huge trees. Files that changed during their upload are retried once
they have settled; files that fail are recorded for `syncd status` and tried again by the
next run.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import structlog

from syncd.config import Config, Mapping
from syncd.engine import Engine, Job, Progress, scan_options
from syncd.scanner import ScanCounters, scan, stat_path
from syncd.state import StateStore

log = structlog.get_logger(__name__)

DEFER_ROUNDS = 3


@dataclass
class SyncResult:
    counters: dict[str, int]
    seconds: float
    fatal: BaseException | None
    broken_roots: dict[str, str]

    @property
    def exit_code(self) -> int:
        if self.fatal is not None:
            return 3
        return 1 if self.counters["failed"] else 0


class _Pool:
    """A thread pool with bounded submission (b2sdk's BoundedQueueExecutor)."""

    def __init__(self, engine: Engine, workers: int) -> None:
        self.engine = engine
        self.workers = workers
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upload")
        self.slots = threading.BoundedSemaphore(workers * 4)
        self.deferred: list[Job] = []
        self._lock = threading.Lock()

    def submit(self, job: Job) -> None:
        self.slots.acquire()
        fut: Future[str] = self.executor.submit(self.engine.execute, job)
        fut.add_done_callback(lambda f, job=job: self._done(f, job))

    def _done(self, fut: Future[str], job: Job) -> None:
        self.slots.release()
        if not fut.cancelled() and fut.exception() is None and fut.result() == "deferred":
            with self._lock:
                self.deferred.append(job)
        elif not fut.cancelled() and (exc := fut.exception()) is not None:
            # a bug or an unexpected local error: this file failed, the pass goes on
            self.engine.counters.add(failed=1)
            log.error("upload.crashed", path=job.file.rel_path, error=repr(exc), exc_info=exc)

    def drain(self) -> list[Job]:
        self.executor.shutdown(wait=True)
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="upload")
        with self._lock:
            jobs, self.deferred = self.deferred, []
        return jobs

    def close(self) -> None:
        self.executor.shutdown(wait=True)


def _scan_mapping(engine: Engine, pool: _Pool, mapping: Mapping) -> None:
    started = time.monotonic()
    state = engine.state
    index = state.stat_index(mapping.key)
    issues = state.issues(mapping.key)
    counters = ScanCounters()
    planned_before = engine.counters.planned
    quiet = {path: st for path, st in index.items() if path not in issues}
    for entry in scan(scan_options(mapping, engine.config), counters=counters, unchanged=quiet):
        if engine.fatal is not None:
            break
        rel = entry.rel_path
        record = state.record(mapping.key, rel) if rel in index else None
        job = engine.consider(mapping, entry, record, issues.get(rel))
        if job is not None:
            pool.submit(job)
    changed = engine.counters.planned - planned_before
    log.info(
        "scan.finished",
        mapping=str(mapping.local),
        files=counters.files,
        changed=changed,
        ignored=counters.ignored,
        refused=counters.refused,
        seconds=round(time.monotonic() - started, 3),
    )


def _retry_deferred(engine: Engine, pool: _Pool, jobs: list[Job]) -> None:
    """Files that changed mid-upload: wait for them to settle, then try again."""
    settle = engine.config.sync.settle_seconds
    for _ in range(DEFER_ROUNDS):
        if not jobs or engine.fatal is not None:
            return
        time.sleep(max(settle, 0.5))  # the settle gate itself, not synchronisation
        for job in jobs:
            m = job.mapping
            entry = stat_path(scan_options(m, engine.config), job.file.rel_path)
            if entry is None:
                continue
            nxt = engine.consider(
                m,
                entry,
                engine.state.record(m.key, entry.rel_path),
                engine.state.issue(m.key, entry.rel_path),
            )
            if nxt is not None:
                pool.submit(nxt)
        jobs = pool.drain()
    for job in jobs:
        log.warning(
            "upload.deferred",
            mapping=str(job.mapping.local),
            path=job.file.rel_path,
            reason="still changing; the next run uploads it",
        )


def run_sync(
    config: Config,
    state: StateStore,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    client_factory=None,
) -> SyncResult:  # type: ignore[no-untyped-def]
    """One pass over every mapping; returns the counters and the exit code."""
    started = time.monotonic()
    engine = Engine(
        config,
        state,
        dry_run=dry_run,
        honour_quarantine=False,
        client_factory=client_factory,
        progress=progress,
    )
    pool = _Pool(engine, config.sync.workers)
    try:
        for mapping in config.mappings:
            if engine.fatal is not None:
                break
            _scan_mapping(engine, pool, mapping)
        _retry_deferred(engine, pool, pool.drain())
    except KeyboardInterrupt:  # SIGINT/SIGTERM: finish what is in flight, drop the queue
        engine.stopping.set()
        log.warning("sync.interrupted", in_flight="finishing", queued="left for the next run")
        raise
    finally:
        pool.close()
        engine.close()
    seconds = time.monotonic() - started
    counters = engine.counters.as_dict()
    event = "plan.finished" if dry_run else "sync.finished"
    log.info(event, seconds=round(seconds, 3), **counters)
    return SyncResult(counters, seconds, engine.fatal, dict(engine.broken_roots))
