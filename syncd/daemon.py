"""`syncd run`: watch every mapping and keep DingTalk storage up to date.

Threads: watchdog's observer (events -> hint queue), one scanner thread (reconcile scans:
at start, every `rescan_interval_seconds`, on SIGHUP, for folders moved in), `workers`
upload threads, and the main loop below, which owns the settle gate and is the only
thread that decides when a file is handed to the uploaders. The main loop also sends
WATCHDOG=1, so the ping proves that the loop that makes progress is alive.

Order at start (lsyncd#226): observers are scheduled first and their events queued, then
the reconcile scan runs, so nothing that changes during the scan is lost.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from syncd import sdnotify
from syncd.config import Config, Mapping
from syncd.engine import Engine, Job, scan_options
from syncd.errors import ConfigError
from syncd.model import LocalFile, Refusal
from syncd.retries import RetryTimers
from syncd.scanner import ScanCounters, scan, stat_path
from syncd.settle import SettleGate, Stat
from syncd.state import StateStore
from syncd.watcher import Hint, WatchSet

log = structlog.get_logger(__name__)

STATS_INTERVAL = 60.0
IDLE_WAKEUP = 30.0  # upper bound on a quiet loop's sleep (keeps timers honest)


@dataclass(frozen=True)
class ScanRequest:
    key: str
    start: str = ""  # "" = the whole mapping
    reason: str = "rescan"


@dataclass
class _Control:
    """Messages for the main loop besides hints."""

    kind: str  # "stop" | "reload" | "done" | "scanned" | "scan_finished" | "retry"
    data: Any = None


@dataclass
class Daemon:
    config: Config
    state: StateStore
    dry_run: bool = False
    reload_config: Callable[[], Config] | None = None
    client_factory: Callable[[], Any] | None = None
    observer_factory: Callable[[], Any] | None = None
    hints: queue.Queue[Any] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        self.engine = Engine(
            self.config, self.state, dry_run=self.dry_run, client_factory=self.client_factory
        )
        self.mappings: dict[str, Mapping] = {m.key: m for m in self.config.mappings}
        self.gate = SettleGate(self.config.sync.settle_seconds)
        self.watches = (
            WatchSet(self.hints, self.observer_factory)
            if self.observer_factory
            else WatchSet(self.hints)
        )
        self.jobs: queue.Queue[Job | None] = queue.Queue(maxsize=self.config.sync.workers * 4)
        self.scans: queue.Queue[ScanRequest | None] = queue.Queue()
        self.inflight: set[tuple[str, str]] = set()
        self.dirty: set[tuple[str, str]] = set()
        self.claims_lock = threading.Lock()
        self.stopping = threading.Event()
        self.retries = RetryTimers()  # quarantined files (monotonic due times)
        self.forced: set[tuple[str, str]] = set()  # retries that are due: skip the quarantine
        self.scan_pending: set[tuple[str, str]] = set()  # queued scans, deduplicated
        self.scan_lock = threading.Lock()
        self.ready: deque[tuple[str, str]] = deque()  # settled, waiting for a free uploader
        self.scanning = 0
        self.threads: list[threading.Thread] = []
        self.started = time.monotonic()
        self.next_rescan = self.started + self.config.sync.rescan_interval_seconds
        self.next_stats = self.started + STATS_INTERVAL
        self.watchdog_every = sdnotify.watchdog_interval()
        self.next_ping = self.started

    # -- lifecycle -----------------------------------------------------------------------
    def run(self) -> int:
        self.watches.start()
        for m in self.mappings.values():
            self.watches.add(m.key, m.local, m.subfolders)
        for i in range(self.config.sync.workers):
            self._thread(self._worker, f"upload-{i}")
        self._thread(self._scanner, "scanner")
        for key in self.mappings:
            self._request_scan(key, "", "start")
        sdnotify.notify("READY=1", f"STATUS={self._status_text()}")
        log.info(
            "daemon.started",
            mappings=len(self.mappings),
            dry_run=self.dry_run,
            watching=len(self.watches.watches),
            settle_seconds=self.gate.settle,
        )
        try:
            self._loop()
        finally:
            self._shutdown()
        return 3 if self.engine.fatal is not None else 0

    def request_stop(self) -> None:
        self.hints.put(_Control("stop"))

    def request_reload(self) -> None:
        self.hints.put(_Control("reload"))

    def _thread(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self.threads.append(t)

    def _shutdown(self) -> None:
        sdnotify.notify("STOPPING=1", "STATUS=stopping")
        log.info(
            "daemon.stopping",
            queued=self.jobs.qsize() + len(self.gate),
            in_flight=len(self.inflight),
        )
        self.stopping.set()
        self.watches.stop()
        self.gate.clear()
        self.scans.put(None)
        while True:  # queued jobs are abandoned: the next start redoes them
            try:
                self.jobs.get_nowait()
            except queue.Empty:
                break
        for _ in range(self.config.sync.workers):
            try:
                self.jobs.put_nowait(None)
            except queue.Full:
                break
        deadline = time.monotonic() + self.config.sync.shutdown_timeout_seconds
        for t in self.threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        abandoned = [t.name for t in self.threads if t.is_alive()]
        if abandoned:
            log.warning(
                "daemon.abandoned",
                threads=abandoned,
                reason="shutdown_timeout_seconds reached; redone at next start",
            )
        self._publish_status()
        self.engine.close()
        log.info("daemon.stopped", **self.engine.counters.as_dict())

    # -- the main loop -------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            timeout = self._next_wakeup() - time.monotonic()
            try:
                item = self.hints.get(timeout=max(0.0, timeout))
            except queue.Empty:
                item = None
            while item is not None:
                if isinstance(item, _Control) and item.kind == "stop":
                    return
                self._handle(item)
                try:
                    item = self.hints.get_nowait()
                except queue.Empty:
                    item = None
            self._tick(time.monotonic())

    def _next_wakeup(self) -> float:
        now = time.monotonic()
        candidates = [now + IDLE_WAKEUP, self.next_rescan, self.next_stats]
        if (deadline := self.gate.next_deadline()) is not None:
            candidates.append(deadline)
        if self.watchdog_every:
            candidates.append(self.next_ping)
        if (due := self.retries.next_due()) is not None:
            candidates.append(due)
        return min(candidates)

    def _tick(self, now: float) -> None:
        self.ready.extend(self.gate.due(now, self._stat_key))  # type: ignore[arg-type]
        self._pump()
        for k in self.retries.pop_due(now):
            self.forced.add(k)  # type: ignore[arg-type]
            self._touch(k[0], k[1], now)  # type: ignore[index]
        if now >= self.next_rescan:
            self.next_rescan = now + self.config.sync.rescan_interval_seconds
            self._request_full_scan("interval")
        if self.watchdog_every and now >= self.next_ping:
            sdnotify.notify("WATCHDOG=1")
            self.next_ping = now + self.watchdog_every
        if now >= self.next_stats:
            self.next_stats = now + STATS_INTERVAL
            self.watches.check_health(
                {k: (m.local, m.subfolders) for k, m in self.mappings.items()}
            )
            self._publish_status()

    def _handle(self, item: Any) -> None:
        now = time.monotonic()
        if isinstance(item, Hint):
            if item.key not in self.mappings:
                return
            if item.kind == "gone":
                self.gate.discard((item.key, item.rel))
            elif item.kind == "dir":
                self._request_scan(item.key, item.rel, "folder appeared")
            else:
                self._touch(item.key, item.rel, now)
        elif isinstance(item, _Control):
            if item.kind == "done":
                self._done(*item.data)
            elif item.kind == "scanned":
                key, f = item.data
                self._touch(key, f.rel_path, now, (f.size, f.mtime_ns, f.inode))
            elif item.kind == "reload":
                self._reload()

    def _touch(self, key: str, rel: str, now: float, stat: Stat | None = None) -> None:
        if len(self.gate) + len(self.ready) >= self.config.sync.max_queue:
            # bounded: past the cap, forget the details and rescan the mapping instead
            self.gate.clear(lambda k: k[0] == key)
            self.ready = deque(r for r in self.ready if r[0] != key)
            log.warning(
                "queue.overflowed",
                mapping=str(self.mappings[key].local),
                limit=self.config.sync.max_queue,
                action="rescanning the mapping",
            )
            self._request_scan(key, "", "queue overflow")
            return
        self.gate.touch((key, rel), now, stat if stat is not None else self._stat_key((key, rel)))

    def _stat_key(self, k: Any) -> Stat | None:
        key, rel = k
        m = self.mappings.get(key)
        if m is None:
            return None
        try:
            st = (m.local / rel).stat()
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns, st.st_ino)

    # -- handing settled files to the uploaders ------------------------------------------
    def _pump(self) -> None:
        """Hand settled files to the uploaders while they have room."""
        while self.ready and not self.jobs.full():
            key, rel = self.ready.popleft()
            self._dispatch(key, rel)

    def _dispatch(self, key: str, rel: str) -> None:
        m = self.mappings.get(key)
        if m is None or self.stopping.is_set():
            return
        with self.claims_lock:
            if (key, rel) in self.inflight:
                self.dirty.add((key, rel))  # look again once the current upload ends
                return
        entry = stat_path(scan_options(m, self.config), rel)
        if entry is None:
            return
        if not self._offer(m, entry, blocking=False):
            self.ready.appendleft((key, rel))

    def _offer(
        self,
        m: Mapping,
        entry: LocalFile | Refusal,
        *,
        blocking: bool,
        record: Any = ...,
        issue: Any = ...,
    ) -> bool:
        """Plan `entry` and, when an upload is needed, queue it (one at a time per path).

        False when the upload queue is full (only with blocking=False)."""
        rel = entry.rel_path
        if record is ...:
            record = self.state.record(m.key, rel)
        if issue is ...:
            issue = self.state.issue(m.key, rel)
        if (m.key, rel) in self.forced:  # our own retry timer fired: the back-off is over
            self.forced.discard((m.key, rel))
            if issue is not None and issue.kind.value == "failed":
                issue = None
        job = self.engine.consider(m, entry, record, issue, defer_hash=True)
        if job is None:
            self._schedule_retry(m.key, rel, issue)
            return True
        with self.claims_lock:
            if (m.key, rel) in self.inflight:
                self.dirty.add((m.key, rel))
                return True
            self.inflight.add((m.key, rel))
        try:
            self.jobs.put(job, block=blocking)
        except queue.Full:  # the uploaders are saturated: the caller keeps it for later
            with self.claims_lock:
                self.inflight.discard((m.key, rel))
            self.engine.counters.add(planned=-1, planned_bytes=-entry.size)
            return False
        return True

    def _schedule_retry(self, key: str, rel: str, issue: Any) -> None:
        if issue is not None and issue.kind.value == "failed" and issue.next_retry:
            delay = max(0.0, issue.next_retry - time.time())
            transient = issue.reason == "upload failed"
            self.retries.schedule((key, rel), time.monotonic() + delay + 0.01, transient=transient)

    def _worker(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None or self.stopping.is_set():
                return
            outcome = "failed"
            try:
                outcome = self.engine.execute(job)
            except Exception as exc:
                log.exception("upload.crashed", path=job.file.rel_path, error=repr(exc))
            finally:
                self.hints.put(_Control("done", (job.mapping.key, job.file.rel_path, outcome)))
            if self.engine.fatal is not None:
                self.request_stop()

    def _done(self, key: str, rel: str, outcome: str) -> None:
        self._pump()
        with self.claims_lock:
            self.inflight.discard((key, rel))
            again = (key, rel) in self.dirty
            self.dirty.discard((key, rel))
        if outcome == "completed":
            for k in self.retries.succeeded((key, rel), time.monotonic()):
                log.debug("retry.fast_tracked", path=k[1])  # type: ignore[index]
        if again or outcome == "deferred":
            self._touch(key, rel, time.monotonic())
        elif outcome == "failed" and key in self.mappings:
            issue = self.state.issue(key, rel)
            self.retries.failed(
                (key, rel), transient=issue is not None and issue.reason == "upload failed"
            )
            self._schedule_retry(key, rel, issue)

    # -- scanning ------------------------------------------------------------------------
    def _request_full_scan(self, reason: str) -> None:
        self.engine.broken_roots.clear()  # a missing remote folder may have been restored
        for key in self.mappings:
            self._request_scan(key, "", reason)

    def _request_scan(self, key: str, start: str, reason: str) -> None:
        """Queue a scan unless an equal or wider one is already waiting (bounded: at most
        one queued full scan per mapping, however many events overflow the queue)."""
        with self.scan_lock:
            if (key, "") in self.scan_pending or (key, start) in self.scan_pending:
                return
            self.scan_pending.add((key, start))
        self.scans.put(ScanRequest(key, start, reason))

    def _scanner(self) -> None:
        while True:
            req = self.scans.get()
            if req is None or self.stopping.is_set():
                return
            with self.scan_lock:
                self.scan_pending.discard((req.key, req.start))
            m = self.mappings.get(req.key)
            if m is None:
                continue
            try:
                self._scan(m, req)
            except Exception as exc:
                log.exception("scan.failed", mapping=str(m.local), error=repr(exc))

    def _scan(self, m: Mapping, req: ScanRequest) -> None:
        started = time.monotonic()
        sdnotify.notify(f"STATUS=scanning {m.local} ({req.reason})")
        index = self.state.stat_index(m.key)
        issues = self.state.issues(m.key)
        counters = ScanCounters()
        changed = 0
        settle_ns = int(self.config.sync.settle_seconds * 1e9)
        quiet = {path: st for path, st in index.items() if path not in issues}
        for entry in scan(scan_options(m, self.config), req.start, counters, quiet):
            if self.stopping.is_set() or req.key not in self.mappings:
                return
            rel = entry.rel_path
            if isinstance(entry, LocalFile) and time.time_ns() - entry.mtime_ns < settle_ns:
                self.hints.put(_Control("scanned", (m.key, entry)))  # too fresh: settle first
                continue
            before = self.engine.counters.planned
            record = self.state.record(m.key, rel) if rel in index else None
            self._offer(m, entry, blocking=True, record=record, issue=issues.get(rel))
            changed += self.engine.counters.planned - before
        log.info(
            "scan.finished",
            mapping=str(m.local),
            reason=req.reason,
            folder=req.start or None,
            files=counters.files,
            changed=changed,
            seconds=round(time.monotonic() - started, 3),
        )
        sdnotify.notify(f"STATUS={self._status_text()}")

    # -- reload and status ---------------------------------------------------------------
    def _reload(self) -> None:
        sdnotify.reloading()
        try:
            if self.reload_config is None:
                raise ConfigError(["no config file to reload"])
            new = self.reload_config()
        except ConfigError as exc:
            log.error(
                "config.reload_failed",
                problems=exc.problems,
                action="keeping the running configuration",
            )
            sdnotify.notify("READY=1", f"STATUS={self._status_text()}")
            return
        old_keys, new_keys = set(self.mappings), {m.key for m in new.mappings}
        for key in old_keys - new_keys:
            self.watches.remove(key)
            self.gate.clear(lambda k, key=key: k[0] == key)
        restart_needed = ["sync.workers"] if new.sync.workers != self.config.sync.workers else []
        old_mappings = self.mappings
        self.config = new
        self.engine.reconfigure(new)
        self.mappings = {m.key: m for m in new.mappings}
        self.gate.settle = new.sync.settle_seconds
        for key, m in self.mappings.items():
            before = old_mappings.get(key)
            if before is not None and before.subfolders != m.subfolders:
                self.watches.remove(key)  # recursive or not: schedule the watch again
            if before is None or before.subfolders != m.subfolders:
                self.watches.add(key, m.local, m.subfolders)
        self.next_rescan = time.monotonic() + new.sync.rescan_interval_seconds
        self._request_full_scan("reload")
        log.info(
            "config.reloaded",
            mappings=len(new_keys),
            added=len(new_keys - old_keys),
            removed=len(old_keys - new_keys),
            **({"restart_needed": restart_needed} if restart_needed else {}),
        )
        sdnotify.notify("READY=1", f"STATUS={self._status_text()}")

    def _status_text(self) -> str:
        c = self.engine.counters
        queued = len(self.gate) + len(self.ready) + self.jobs.qsize()
        plural = "s" if len(self.mappings) != 1 else ""
        return (
            f"watching {len(self.mappings)} folder{plural}; queued {queued}, "
            f"uploading {len(self.inflight)}, uploaded {c.uploaded}, failed {c.failed}"
        )

    def _publish_status(self) -> None:
        c = self.engine.counters
        stats = {
            "queued": len(self.gate) + len(self.ready) + self.jobs.qsize(),
            "in_flight": len(self.inflight),
            "uploaded": c.uploaded,
            "failed": c.failed,
            "bytes": c.bytes,
        }
        log.info("stats", **stats)
        sdnotify.notify(f"STATUS={self._status_text()}")
        if not self.dry_run:
            try:
                self.state.set_meta("daemon.status", {**stats, "updated": time.time()})
            except Exception:  # noqa: BLE001 - status is best effort
                pass


def _log_thread_crash(args: threading.ExceptHookArgs) -> None:
    """Uncaught errors in any thread (watchdog's included) become one JSON log line."""
    log.error(
        "thread.crashed",
        thread=args.thread.name if args.thread else None,
        error=repr(args.exc_value),
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


class SignalRelay:
    """Turn SIGTERM/SIGINT/SIGHUP into daemon requests without running code in a handler.

    A Python signal handler runs in the main thread at an arbitrary point, possibly while
    that thread holds the hint queue's lock, so it must not touch the queue. The C-level
    handler writes the signal number to a pipe (`signal.set_wakeup_fd`); a small thread
    reads it and posts the request like any other thread would.
    """

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)
        self._previous = {
            sig: signal.signal(sig, lambda *_: None)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        }
        self._old_wakeup = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._relay, name="signals", daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        while True:
            try:
                data = os.read(self._read_fd, 16)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum == signal.SIGHUP:
                    self.daemon.request_reload()
                elif signum in (signal.SIGTERM, signal.SIGINT):
                    self.daemon.request_stop()

    def close(self) -> None:
        signal.set_wakeup_fd(self._old_wakeup)
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        os.close(self._write_fd)  # ends the relay thread's read
        self._thread.join(timeout=1)
        os.close(self._read_fd)


def run_daemon(
    config: Config,
    *,
    config_path: Path | None = None,
    dry_run: bool = False,
    reload_config: Callable[[], Config] | None = None,
) -> int:
    """Run until SIGTERM/SIGINT; SIGHUP reloads the config. Returns the exit code."""
    threading.excepthook = _log_thread_crash
    state = StateStore.open(config.state_dir, dry_run=dry_run)
    daemon = Daemon(config, state, dry_run=dry_run, reload_config=reload_config)
    relay = SignalRelay(daemon)
    try:
        return daemon.run()
    finally:
        relay.close()
        state.close()
