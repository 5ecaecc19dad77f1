"""`syncd run`: watch every mapping and keep DingTalk storage up to date.

Threads: watchdog's observer (events -> hints), one scanner thread (reconcile scans: at
start, every `rescan_interval_seconds`, on SIGHUP, for folders that appear), `workers`
worker threads, and the main loop below. The main loop owns the settle gate and the retry
timers and is the only thread that hands a settled path to the workers; a worker plans and
carries out that path (`reconcile.Reconciler.path`), so no planning or I/O runs on the
loop. The loop also sends WATCHDOG=1, so the ping proves that the loop that makes
progress is alive.

Order at start (lsyncd#226): the token is fetched (rejected credentials exit 3 at once),
the observers are scheduled and their events queued, then the reconcile scan runs, so
nothing that changes during the scan is lost.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import structlog

from syncd.core.actions import Action, Outcome, path_of
from syncd.core.errors import (
    ConfigError,
    CredentialsError,
    NotAskedError,
    RemoteError,
    StateError,
)
from syncd.core.settings import Config, Mapping
from syncd.daemon import sdnotify
from syncd.daemon.claims import Claims
from syncd.daemon.mappings import Mappings
from syncd.daemon.messages import Done, Fresh, PathJob, Reload, ScanRequest, Stop
from syncd.daemon.report import Live, Reporting
from syncd.daemon.retries import RetryTimers
from syncd.daemon.scanner import Scanner
from syncd.daemon.settle import SettleGate, Stat
from syncd.execute import requests
from syncd.execute.consume import Consumer
from syncd.execute.context import RemoteFactory
from syncd.execute.pool import Job, Workers
from syncd.execute.world import open_world
from syncd.local.watcher import Hint, HintKind, WatchSet
from syncd.obs.stats import Stats
from syncd.reconcile.drift import check_remote
from syncd.reconcile.loop import Reconciler
from syncd.state.store import StateStore

log = structlog.get_logger(__name__)

STATS_INTERVAL = 60.0
IDLE_WAKEUP = 30.0  # upper bound on a quiet loop's sleep (keeps timers honest)
ROOT_CHECK = 5.0  # how often the mapping roots are looked at (vanished, replaced, back)
Key = tuple[str, str]


@dataclass
class Daemon:
    config: Config
    state: StateStore
    dry_run: bool = False
    reload_config: Callable[[], Config] | None = None
    remote_factory: RemoteFactory | None = None
    observer_factory: Callable[[], Any] | None = None
    hints: queue.Queue[Any] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        self.stats = Stats()
        self.world = open_world(
            self.config,
            self.state,
            dry_run=self.dry_run,
            daemon=True,
            remote_factory=self.remote_factory,
            stats=self.stats,
        )
        self.ctx = ctx = self.world.ctx
        self.executor = self.world.executor
        options = self.world.scan_options()
        self.recon = Reconciler(
            self.config, self.state, ctx.trees, self.world.listings, self.executor.execute, options
        )
        self.maps = Mappings(self.config, ctx.mapping_failed, ctx.failed_mappings)
        self.gate = SettleGate(self.config.sync.settle_seconds)
        self.watches = WatchSet(
            self.hints, *((self.observer_factory,) if self.observer_factory else ())
        )
        self.pool = Workers(self.config.sync.workers, self._job_done, stats=self.stats)
        self.claims = Claims()
        self.retries = RetryTimers()  # quarantined files (monotonic due times)
        self.ready: deque[Key] = deque()  # settled, waiting for a free worker
        self.forced: set[Key] = set()  # retries that are due: skip the quarantine
        self.stopping = threading.Event()
        self.scanner = Scanner(
            self.recon,
            self.executor,
            self.maps,
            offer=self.offer,
            hints=self.hints,
            stopping=self.stopping,
            stats=self.stats,
            settle=lambda: self.config.sync.settle_seconds,
            blocked=ctx.blocked_reason,
            state_failed=ctx.state_failed,
        )
        self.threads: list[threading.Thread] = []
        self._defers: dict[Key, float] = {}  # a path's job asked to be looked at later
        now = time.monotonic()
        self.next_rescan = now + self.config.sync.rescan_interval_seconds
        self.next_stats = now + STATS_INTERVAL
        self.next_root_check = now + ROOT_CHECK
        self.watchdog_every = sdnotify.watchdog_interval()
        self.next_ping = now
        self.report = Reporting(lambda: self.config, ctx, self.stats, self._live)
        self.scanner.scanning = self.report.scanning

    def _live(self) -> Live:
        """What the daemon is doing now (read from other threads: only lengths and copies)."""
        in_flight = len(self.claims)
        activity = self.scanner.current or (f"uploading {in_flight}" if in_flight else "idle")
        return Live(
            settling=len(self.gate),
            queued=len(self.ready) + len(self.pool),
            in_flight=in_flight,
            retrying=len(self.retries),
            watches=len(self.watches.watches),
            activity=activity,
            failed_mappings=self.maps.failures(),
        )

    @property
    def mappings(self) -> dict[str, Mapping]:
        return self.maps.by_key

    # -- lifecycle -----------------------------------------------------------------------
    def run(self) -> int:
        self._check_credentials()
        self.report.start_metrics()
        self.watches.start()
        for m in self.mappings.values():
            self.maps.start_watching(m, self.watches)
        self._thread(self.scanner.run, "scanner")
        if self.config.sync.remote_check_interval_seconds and self.world.acts:
            self._thread(self._remote_checks, "remote-check")
        self._forget_removed()
        for key in self.mappings:
            self.scanner.request(ScanRequest(key, "", "start"))
        sdnotify.notify("READY=1", f"STATUS={self.stats.status_text(len(self.mappings))}")
        log.info(
            "daemon.started",
            mappings=len(self.mappings),
            dry_run=self.dry_run,
            watching=len(self.watches.watches),
            settle_seconds=self.gate.settle,
            pid=os.getpid(),
        )
        self._requests(time.monotonic())  # left while no daemon ran
        self.report.snapshot(force=True)  # `status` sees the daemon from its start
        try:
            self._loop()
        finally:
            self._shutdown()
        if self.ctx.fatal is not None:
            raise self.ctx.fatal
        return 0

    def _forget_removed(self) -> None:
        """The records of mappings no longer configured go (at start and at a reload)."""
        try:
            for action in self.recon.removed_mappings():
                self.executor.execute(action)
        except StateError as exc:
            self.ctx.state_failed(exc, "forget")

    def _probe_state(self) -> None:
        """Uploads are paused while the state store cannot record them: try it again."""
        if self.ctx.state_broken is None:
            return
        try:
            self.state.set_meta("daemon.probe", time.time())
            self.ctx.record_pending()
        except StateError as exc:
            log.debug("state.still_failing", path=str(self.state.path), error=str(exc))
            return
        self.ctx.state_broken = None
        log.warning(
            "state.recovered", path=str(self.state.path), action="uploads resume; rescanning"
        )
        self.scanner.full("state store recovered")

    def _check_credentials(self) -> None:
        """Fail fast: rejected credentials exit at start, not when a file needs uploading."""
        try:
            client = self.ctx.remote().transport
        except NotAskedError:
            return  # a dry-run has no remote
        attempts, client.max_attempts = client.max_attempts, 1  # no back-off before READY
        try:
            client.token()
        except CredentialsError:
            raise
        except RemoteError as exc:  # the network may come back: not fatal
            log.warning(
                "token.failed",
                error_code=exc.code,
                error=exc.message,
                action="starting anyway; uploads wait for the remote",
            )
        finally:
            client.max_attempts = attempts

    def _remote_checks(self) -> None:
        """Every `remote_check_interval_seconds`: list the remote trees, repair drift. On a
        thread of its own and the listing API's own budget, so uploads never wait for it."""
        consumer = Consumer(
            self.executor,
            self.offer,
            deferred=lambda a: None,  # a repair is looked at again by the next check
            stopped=self.stopping.is_set,
        )
        while not self.stopping.wait(self.config.sync.remote_check_interval_seconds):
            for m in list(self.mappings.values()):
                if self.ctx.blocked_reason(m) is not None or m.key in self.maps.local_failed:
                    continue
                if not self.ctx.can_afford(len(self.state.dirs(m.key)) + 1):
                    log.info("remote.check_skipped", mapping=str(m.local), reason="budget")
                    continue  # uploads come first; never a listing it cannot finish (§4.11)
                try:
                    tree = self.ctx.trees.of(m)
                    consumer.feed(check_remote(self.state, tree, self.world.listings, m))
                except Exception as exc:
                    log.exception("remote.check_crashed", mapping=str(m.local), error=repr(exc))

    def request_stop(self) -> None:
        self.hints.put(Stop())

    def request_reload(self) -> None:
        self.hints.put(Reload())

    def _thread(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self.threads.append(t)

    def _shutdown(self) -> None:
        sdnotify.notify("STOPPING=1", "STATUS=stopping")
        log.info(
            "daemon.stopping", queued=len(self.pool) + len(self.gate), in_flight=len(self.claims)
        )
        self.stopping.set()
        self.ctx.stopping.set()
        self.watches.stop()
        self.gate.clear()
        self.scanner.stop()
        deadline = time.monotonic() + self.config.sync.shutdown_timeout_seconds
        # queued jobs are abandoned (the next start redoes them); running ones get the time
        abandoned = self.pool.stop(timeout=self.config.sync.shutdown_timeout_seconds)
        for t in self.threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        abandoned += [t.name for t in self.threads if t.is_alive()]
        if abandoned:
            log.warning(
                "daemon.abandoned",
                threads=abandoned,
                reason="shutdown_timeout_seconds reached; redone at next start",
            )
        self._publish_status()
        self.report.stop_metrics()
        self.ctx.close()
        log.info("daemon.stopped", **self.stats.summary())

    # -- the main loop -------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            timeout = self._next_wakeup() - time.monotonic()
            try:
                item = self.hints.get(timeout=max(0.0, timeout))
            except queue.Empty:
                item = None
            while item is not None:
                if isinstance(item, Stop):
                    return
                self._handle(item)
                try:
                    item = self.hints.get_nowait()
                except queue.Empty:
                    item = None
            self._tick(time.monotonic())

    def _next_wakeup(self) -> float:
        now = time.monotonic()
        candidates = [now + IDLE_WAKEUP, self.next_rescan, self.next_stats, self.next_root_check]
        if (deadline := self.gate.next_deadline()) is not None:
            candidates.append(deadline)
        if self.watchdog_every:
            candidates.append(self.next_ping)
        if (due := self.retries.next_due()) is not None:
            candidates.append(due)
        if (poll := self.maps.next_poll()) is not None:
            candidates.append(poll)
        return min(candidates)

    def _tick(self, now: float) -> None:
        self.report.health.tick()
        self.ready.extend(self.gate.due(now, self._stat_key))  # type: ignore[arg-type]
        self._pump()
        for k in self.retries.pop_due(now):
            key: Key = k  # type: ignore[assignment]
            self.forced.add(key)
            self._touch(key[0], key[1], now)
        if now >= self.next_rescan:
            self.next_rescan = now + self.config.sync.rescan_interval_seconds
            self.ctx.failed_mappings.clear()  # a remote root may have been fixed meanwhile
            self.ctx.failed_subfolders.clear()
            self.scanner.full("interval")
            self.scanner.purge()
        for polled in self.maps.due_polls(now):
            self.scanner.request(ScanRequest(polled, "", "poll"))
        if now >= self.next_root_check:
            self.next_root_check = now + ROOT_CHECK
            self.maps.check_roots(self.watches, self.scanner.request, self.recon.root_check)
            self._probe_state()
            self._requests(now)
            self.report.snapshot()
        if self.watchdog_every and now >= self.next_ping:
            sdnotify.notify("WATCHDOG=1")
            self.next_ping = now + self.watchdog_every
        if now >= self.next_stats:
            self.next_stats = now + STATS_INTERVAL
            self.watches.check_health(
                {k: (m.local, m.subfolders) for k, m in self.mappings.items()}
            )
            self._publish_status()

    def _requests(self, now: float) -> None:
        """`syncd retry` / `syncd resolve`: look at their files again now, past any back-off."""
        for key, rel in requests.take(self.ctx, list(self.mappings)):
            self.retries.discard((key, rel))
            self.forced.add((key, rel))
            self._touch(key, rel, now)

    def _handle(self, item: Any) -> None:
        now = time.monotonic()
        if isinstance(item, Hint):
            if item.key not in self.mappings:
                return
            if item.kind is HintKind.MOVED_FROM:
                self.gate.discard((item.key, item.rel))  # the destination's work finds it
            elif item.kind is HintKind.GONE:
                self.gate.discard((item.key, item.rel))
                self._touch(item.key, item.rel, now)  # settles as "gone": records, issues
            elif item.kind is HintKind.DIR:
                self.scanner.request(ScanRequest(item.key, item.rel, "folder appeared"))
            elif item.kind is HintKind.ROOT:
                self.next_root_check = now
            else:
                self._touch(item.key, item.rel, now)
        elif isinstance(item, Done):
            self._done(item)
        elif isinstance(item, Fresh):
            self._touch(item.key, item.file.rel_path, now, item.file.key)
        elif isinstance(item, Reload):
            self._reload()

    def _touch(self, key: str, rel: str, now: float, stat: Stat | None = None) -> None:
        if len(self.gate) + len(self.ready) >= self.config.sync.max_queue:
            # bounded: past the cap, forget the details and rescan the mapping instead
            self.gate.clear(lambda k: k[0] == key)  # type: ignore[index]
            self.ready = deque(r for r in self.ready if r[0] != key)
            log.warning(
                "queue.overflowed",
                mapping=str(self.mappings[key].local),
                limit=self.config.sync.max_queue,
                action="rescanning the mapping",
            )
            self.scanner.request(ScanRequest(key, "", "queue overflow"))
            return
        self.gate.touch((key, rel), now, stat if stat is not None else self._stat_key((key, rel)))

    def _stat_key(self, k: Hashable) -> Stat | None:
        pair: Key = k  # type: ignore[assignment]
        m = self.mappings.get(pair[0])
        return None if m is None else self.ctx.trees.of(m).stat_key(pair[1])

    # -- handing settled paths to the workers --------------------------------------------
    def _pump(self) -> None:
        while self.ready and not self.pool.full and not self.stopping.is_set():
            key: str
            rel: str
            key, rel = self.ready.popleft()
            m = self.mappings.get(key)
            if m is None or not self.claims.claim((key, rel)):
                continue  # marked dirty: looked at again when the current work ends
            force = (key, rel) in self.forced
            self.forced.discard((key, rel))
            job = PathJob(m, rel, force)
            work = Job((key, rel), rel, functools.partial(self._path, job), job)
            if not self.pool.submit(work, block=False):
                self.claims.unclaim((key, rel))
                self.ready.appendleft((key, rel))
                return

    def _path(self, job: PathJob) -> Outcome:
        outcome, defer = self.scanner.work_path(job)
        self._defers[(job.mapping.key, job.rel)] = defer
        return outcome

    def offer(self, action: Action) -> None:
        """A scan's action for a worker (blocks while the workers are saturated)."""
        key = (action.mapping.key, path_of(action))
        if not self.claims.claim(key):
            return
        run = self.executor.execute
        self.pool.submit(Job(key, key[1], lambda: run(action), action))

    def _job_done(self, job: Job, outcome: Outcome) -> None:
        """On a worker: tell the main loop, which releases the claim."""
        key: Key = job.key  # type: ignore[assignment]
        defer = self._defers.pop(key, 0.0)
        self.hints.put(Done(key[0], key[1], outcome, defer))
        if self.ctx.fatal is not None:
            self.request_stop()

    def _done(self, d: Done) -> None:
        again = self.claims.release((d.key, d.rel))
        self._pump()
        now = time.monotonic()
        if d.outcome in (Outcome.COMPLETED, Outcome.ADOPTED, Outcome.MOVED):
            self.report.health.remote_ok()
            self.stats.set(remote_reachable=1)
        if d.outcome is Outcome.COMPLETED:
            for k in self.retries.succeeded((d.key, d.rel), now):
                log.debug("retry.fast_tracked", path=k[1])  # type: ignore[index]
        if d.outcome is Outcome.DEFERRED and d.defer:
            self.retries.schedule((d.key, d.rel), now + d.defer, transient=False)
        elif again or d.outcome is Outcome.DEFERRED:
            self._touch(d.key, d.rel, now)
        elif d.outcome is Outcome.FAILED and d.key in self.mappings:
            issue = self.state.issue(d.key, d.rel)
            transient = issue is not None and issue.reason == "upload failed"
            if transient:
                self.report.health.remote_failed()
                self.stats.set(remote_reachable=0)
            self.retries.failed((d.key, d.rel), transient=transient)
            self.schedule_retry(d.key, d.rel, issue)
        elif d.outcome is Outcome.PENDING and d.key in self.mappings:
            self.schedule_retry(d.key, d.rel, self.state.issue(d.key, d.rel))

    def schedule_retry(self, key: str, rel: str, issue: Any) -> None:
        if issue is not None and issue.kind.value in ("failed", "pending") and issue.next_retry:
            delay = max(0.0, issue.next_retry - time.time())
            transient = issue.reason == "upload failed"
            self.retries.schedule((key, rel), time.monotonic() + delay + 0.01, transient=transient)

    # -- reload and status ---------------------------------------------------------------
    def _publish_status(self) -> None:
        self.report.publish(mappings=len(self.mappings))

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
            sdnotify.notify("READY=1", f"STATUS={self.stats.status_text(len(self.mappings))}")
            return
        restart_needed = ["sync.workers"] if new.sync.workers != self.config.sync.workers else []
        added, removed = self.maps.reload(new, self.watches, self.gate)
        self.config = new
        self.ctx.reconfigure(new)
        self.recon.reconfigure(new)
        self.ctx.failed_mappings.clear()
        self.ctx.failed_subfolders.clear()
        self._forget_removed()
        self.gate.settle = new.sync.settle_seconds
        self.next_rescan = time.monotonic() + new.sync.rescan_interval_seconds
        self.scanner.full("reload")
        log.info(
            "config.reloaded",
            mappings=len(self.mappings),
            added=added,
            removed=removed,
            **({"restart_needed": restart_needed} if restart_needed else {}),
        )
        sdnotify.notify("READY=1", f"STATUS={self.stats.status_text(len(self.mappings))}")


def run_daemon(
    config: Config,
    *,
    dry_run: bool = False,
    reload_config: Callable[[], Config] | None = None,
) -> int:
    """Run until SIGTERM/SIGINT; SIGHUP reloads the config. Returns the exit code."""
    from syncd.daemon.signals import SignalRelay, log_thread_crash

    threading.excepthook = log_thread_crash
    state = StateStore.open(config.state_dir, dry_run=dry_run)
    daemon = Daemon(config, state, dry_run=dry_run, reload_config=reload_config)
    relay = SignalRelay(daemon.request_stop, daemon.request_reload)
    try:
        return daemon.run()
    finally:
        relay.close()
        state.close()
