"""The one pool of upload threads, for `sync` and `run` alike.

A bounded queue of jobs (b2sdk's BoundedQueueExecutor: a producer waits while it is full,
so memory stays flat however large the tree) and up to `size` threads, started as jobs
arrive and ended by `drain` (so a pass between its mappings runs no thread, and may fork a
walk). Each job's outcome goes to `done`; a job that raises is a crash, logged and counted,
never the end of the pool.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import structlog

from syncd.core.actions import Outcome
from syncd.obs.stats import Stats

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    key: Hashable  # what it is about (the daemon's claim key)
    path: str  # for the log of a crash
    run: Callable[[], Outcome]
    payload: Any = None  # what the producer wants back with the outcome


Done = Callable[[Job, Outcome], None]


class Workers:
    def __init__(
        self, size: int, done: Done, *, bound: int | None = None, stats: Stats | None = None
    ) -> None:
        self.size = max(1, size)
        self.done = done
        self.stats = stats
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=bound or self.size * 4)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Semaphore(0)  # one per idle thread a new job may count on
        self._started = 0

    def __len__(self) -> int:
        """Jobs waiting for a thread."""
        return self._jobs.qsize()

    @property
    def full(self) -> bool:
        return self._jobs.full()

    def submit(self, job: Job, *, block: bool = True) -> bool:
        """Queue `job` (waiting while the queue is full, unless `block` is False: then
        False when it is full)."""
        try:
            self._jobs.put(job, block=block)
        except queue.Full:
            return False
        self._grow()
        return True

    def _grow(self) -> None:
        """A thread for the new job: an idle one (as ThreadPoolExecutor counts them), else a
        new one while there are fewer than `size`."""
        if self._idle.acquire(blocking=False):
            return
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            if len(self._threads) >= self.size:
                return
            self._started += 1
            t = threading.Thread(target=self._work, name=f"upload-{self._started}", daemon=True)
            self._threads.append(t)
        t.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                self._run(job)
            finally:
                self._jobs.task_done()
            self._idle.release()

    def _run(self, job: Job) -> None:
        try:
            outcome = job.run()
        except Exception as exc:  # a bug or an unexpected local error: this file failed, go on
            if self.stats is not None:
                self.stats.failed("crash")
            log.error("upload.crashed", path=job.path, error=repr(exc), exc_info=exc)
            outcome = Outcome.FAILED
        self.done(job, outcome)

    def drain(self) -> None:
        """Wait until every queued job has ended; then the threads end too."""
        self._jobs.join()
        self._end_threads(None)

    def abandon(self) -> int:
        """Drop the jobs that wait (those running finish); how many were dropped."""
        dropped = 0
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return dropped
            self._jobs.task_done()
            dropped += job is not None

    def stop(self, timeout: float | None = None) -> list[str]:
        """Drop what waits, let what runs end (within `timeout`); the threads still alive."""
        self.abandon()
        return self._end_threads(timeout)

    def _end_threads(self, timeout: float | None) -> list[str]:
        with self._lock:
            threads = [t for t in self._threads if t.is_alive()]
            self._threads = []
        for _ in threads:
            self._jobs.put(None)
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        alive = [t for t in threads if t.is_alive()]
        with self._lock:
            self._threads.extend(alive)
            self._idle = threading.Semaphore(0)  # no thread of those is idle any more
        return [t.name for t in alive]
