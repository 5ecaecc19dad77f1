"""`syncd sync`: one pass over every mapping, like `rclone copy`.

For each mapping: walk and plan (`reconcile`), carry out cheap actions at once and send
uploads to the worker pool (bounded submission keeps memory flat on huge trees), then drop
the records of what is gone. Files that changed during their upload are tried again once
they have settled; files that fail are recorded for `syncd status` and tried again by the
next run. SIGINT/SIGTERM finish what is in flight and abandon the rest.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from syncd.core.actions import (
    UPLOADS,
    Action,
    Defer,
    Outcome,
    Reason,
    Reupload,
    Unsettled,
    Upload,
    path_of,
)
from syncd.core.budget import COST_NEW_FILE, BudgetView
from syncd.core.errors import MappingFailedError, RootUnavailable, StateError
from syncd.core.settings import Config, Mapping, RemoteChangePolicy
from syncd.execute import requests
from syncd.execute.consume import Consumer
from syncd.execute.context import RemoteFactory
from syncd.execute.dry_run import DryRunExecutor
from syncd.execute.executor import Executor
from syncd.execute.pool import Job, Workers
from syncd.execute.world import World, open_world
from syncd.obs.progress import Progress
from syncd.obs.stats import Stats
from syncd.reconcile.drift import check_remote
from syncd.reconcile.loop import Reconciler, ScanReport
from syncd.state.store import StateStore

log = structlog.get_logger(__name__)

DEFER_ROUNDS = 3
CHECK_BATCH = 30  # changed files looked at in one BatchGetDentries call
HELD_MAX = 100_000  # uploads held back to be ordered (budgeted pass), at most


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
    dry_run: bool = False  # the actions were printed, not carried out
    budget: BudgetView | None = None  # the month's metered calls after the pass

    @property
    def exit_code(self) -> int:
        if self.fatal is not None:
            return 3
        if self.interrupted and self.abandoned:
            return 128 + self.interrupted
        failed = self.counters.get("failed", 0) or self.failed_mappings or self.state_broken
        failed = failed or self.counters.get("pending", 0)  # the month's budget ran out
        return 1 if failed else 0


class SyncPass:
    def __init__(
        self,
        config: Config,
        world: World,
        *,
        check_remote: bool = False,
        max_delete: int | None = None,
    ) -> None:
        self.config = config
        self.world = world
        self.ctx = ctx = world.ctx
        self.check_remote = check_remote
        options = world.scan_options(max_delete=max_delete)
        self.recon = Reconciler(
            config, ctx.state, ctx.trees, world.listings, world.executor.execute, options
        )
        self.acts = world.acts
        self.folders: set[tuple[str, str]] = set()
        self.planned = [0, 0]  # uploads planned in this pass and their bytes (see `run_sync`)
        self.bars = type(ctx.progress) is not Progress  # the default Progress draws nothing
        self.deferred: list[Action] = []
        # with a budget of its own (or the quota spent), a pass spends on what matters first
        self.budgeted = bool(config.dingtalk.monthly_call_budget) or (
            self.acts and ctx.budget_exhausted() is not None
        )
        self.held: list[Upload | Reupload] = []
        self.batch_checks = self.acts and config.sync.on_remote_change is not (
            RemoteChangePolicy.OVERWRITE
        )
        self.checks: list[Upload] = []
        self._lock = threading.Lock()
        self.pool = Workers(config.sync.workers, self._done, stats=ctx.stats)
        self.consumer = Consumer(
            world.executor,
            self._offer,
            deferred=self.deferred.append,
            stopped=self._stopped,
            planned=self._planned,
        )

    def _stopped(self) -> bool:
        return self.ctx.fatal is not None or self.ctx.state_broken is not None

    def _planned(self, action: Upload | Reupload) -> None:
        f = action.file
        self.planned[0] += 1  # added to the stats once, at the end (a hot path)
        self.planned[1] += f.size
        if self.bars:
            self.ctx.progress.planned(1, f.size)
        self.folders.add((action.mapping.key, f.rel_path.rpartition("/")[0]))

    def _offer(self, action: Action) -> None:
        if (
            self.batch_checks
            and isinstance(action, Upload)
            and action.reason is Reason.CHANGED
            and action.record is not None
            and action.record.dentry_id
        ):
            self.checks.append(action)  # keep-both / hold look first: 30 files a call
            if len(self.checks) >= CHECK_BATCH:
                self._check()
            return
        self._offer_now(action)

    def _check(self) -> None:
        checks, self.checks = self.checks, []
        executor = self.world.executor
        if not checks or not isinstance(executor, Executor):
            return
        groups: dict[str, list[Upload]] = {}
        for a in checks:
            groups.setdefault(a.mapping.key, []).append(a)
        for group in groups.values():
            for action in executor.looked(group[0].mapping, group):
                self._offer_now(action)

    def _offer_now(self, action: Action) -> None:
        if self.budgeted and isinstance(action, Upload | Reupload):
            self.held.append(action)  # moves and folders first, uploads oldest change first
            if len(self.held) >= HELD_MAX:
                self._release()
            return
        self._submit(action)

    def _submit(self, action: Action, *, banked: bool = False) -> None:
        run = self.world.executor.execute
        if banked:
            ctx = self.ctx

            def job() -> Outcome:
                ctx.claim_calls(COST_NEW_FILE)
                try:
                    return run(action)
                finally:
                    ctx.release_calls()

            self.pool.submit(Job(path_of(action), path_of(action), job, action))
            return
        self.pool.submit(Job(path_of(action), path_of(action), lambda: run(action), action))

    def _release(self) -> None:
        """The uploads held back while the month's budget is limited, oldest change first
        (§4.11: what has waited longest gets the calls that are left)."""
        held, self.held = self.held, []
        if not held:
            return
        self.pool.drain()  # the moves and folders queued meanwhile are paid for first
        held.sort(key=lambda a: a.file.mtime_ns)
        for action in held:
            if self.ctx.bank_calls(COST_NEW_FILE):  # paid for in this order, not the workers'
                self._submit(action, banked=True)
            else:
                self._submit(action)  # sends nothing: pending at once

    def _done(self, job: Job, outcome: Outcome) -> None:
        if outcome is Outcome.DEFERRED:
            with self._lock:
                self.deferred.append(job.payload)

    def _drain(self) -> None:
        self._check()
        self._release()
        self.pool.drain()

    def feed(self, actions: Iterable[Action]) -> None:
        self.consumer.feed(actions)

    def scan(self, m: Mapping, *, again: bool = False) -> ScanReport | None:
        """Walk mapping `m` and carry out its uploads and moves; None when it failed.

        Its deletes wait for `finish`, after every mapping was walked: a file moved out of
        this mapping into one walked later is paired there with its record, never trashed
        or forgotten first (and so never uploaded anew). A walk whose helper stalled, or
        that met folders renamed while it ran, is made once more (`again`)."""
        report = ScanReport(m, "")
        planned = self.planned[0]
        ctx, run = self.ctx, self.world.executor.execute
        try:
            verdict = self.recon.root_check(m)
            if verdict.problem is not None:
                hint = "nothing is deleted or uploaded for it until the folder is back"
                ctx.mapping_failed(m, MappingFailedError(verdict.problem, hint=hint))
                return None
            if verdict.marker is not None:
                run(verdict.marker)
            self.feed(self.recon.scan(m, "", report))
        except RootUnavailable as exc:
            ctx.mapping_failed(m, MappingFailedError(exc.reason, hint=f"check {m.local}"))
            return None
        except StateError as exc:
            ctx.state_failed(exc, "scan")
        self._drain()
        c = report.counters
        if (c.stalled or c.moving) and not again and not self._stopped():
            # once more: walked alone (the helper was killed), or to pair the folders that
            # were renamed while the walk ran
            return self.scan(m, again=True)
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
        return report

    def finish(self, report: ScanReport, moved: set[tuple[str, str]]) -> None:
        """Mapping `report.mapping`'s deletes (`moved`: every (mapping, path) some mapping's
        walk paired with a move), drift repair and housekeeping."""
        m, ctx, run = report.mapping, self.ctx, self.world.executor.execute
        report.gone.moved_sources |= moved
        if not self._stopped():
            try:
                for action in self.recon.finish(report):
                    run(action)
            except StateError as exc:
                ctx.state_failed(exc, "scan")
        if self.check_remote and ctx.blocked_reason(m) is None:
            self.repair(m)
        if ctx.blocked_reason(m) is None:
            for action in self.recon.housekeeping(m):
                run(action)

    def repair(self, m: Mapping) -> None:
        """`--check-remote`: list the mapped remote tree and repair drift."""
        if not self.acts:
            log.info(
                "plan.remote_check_skipped",
                mapping=str(m.local),
                reason="a dry-run makes no request; run without --dry-run to check",
            )
            return
        folders = len(self.ctx.state.dirs(m.key))
        if not self.ctx.can_afford(folders + 1):  # never a listing the budget cannot finish
            log.info(
                "remote.check_skipped",
                mapping=str(m.local),
                reason="the month's call budget cannot pay for listing every folder",
                folders=folders,
            )
            return
        tree = self.ctx.trees.of(m)
        self.feed(check_remote(self.ctx.state, tree, self.world.listings, m))
        self._drain()

    def retry_deferred(self) -> None:
        """Files that changed mid-upload (or are new and empty): wait, then try again."""
        self._drain()
        jobs, self.deferred[:] = list(self.deferred), []
        settle = self.config.sync.settle_seconds
        for _ in range(DEFER_ROUNDS):
            if not jobs or self.ctx.fatal is not None:
                return
            wait = max(settle, 0.5, *(j.seconds for j in jobs if isinstance(j, Defer)))
            time.sleep(min(wait, 15.0))  # the settle gate itself, not synchronisation
            for job in jobs:
                self.feed(self.recon.path(job.mapping, path_of(job)))
            self._drain()
            jobs, self.deferred[:] = list(self.deferred), []
        for job in jobs:
            if isinstance(job, UPLOADS):  # changed during each upload: a failure, not a wait
                self.world.executor.execute(Unsettled(job.mapping, job.file, DEFER_ROUNDS + 1))
                continue
            log.warning(
                "upload.deferred",
                mapping=str(job.mapping.local),
                path=path_of(job),
                reason="still changing; the next run uploads it",
            )


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
    world = open_world(
        config,
        state,
        dry_run=dry_run,
        remote_factory=remote_factory,
        progress=progress,
        stats=stats,
    )
    ctx = world.ctx
    run = SyncPass(config, world, check_remote=check_remote, max_delete=max_delete)
    result = SyncResult({}, 0.0)
    try:
        # `syncd resolve` left while no daemon ran (a retry needs nothing: a pass retries all)
        requests.take(ctx, [m.key for m in config.mappings])
        run.feed(run.recon.removed_mappings())
        reports: list[ScanReport] = []
        for m in config.mappings:
            if ctx.fatal is not None or ctx.state_broken is not None:
                break
            if (report := run.scan(m)) is not None:
                reports.append(report)
        # A real run's state says which file left which mapping (a move re-keys its record;
        # a move that fell back to an upload leaves the source recorded, to be trashed). A
        # dry-run records nothing, so the pairings the walks made are handed on instead.
        moved = set() if run.acts else {s for r in reports for s in r.gone.moved_sources}
        for report in reports:
            if ctx.fatal is not None or ctx.state_broken is not None:
                break
            run.finish(report, moved)
        run.retry_deferred()
    except KeyboardInterrupt:  # SIGINT/SIGTERM: finish what is in flight, drop the queue
        ctx.stopping.set()
        result.interrupted = interrupted() or signal.SIGINT
        run.pool.stop()
        result.abandoned = True  # the pass did not get to its end
        log.warning("sync.interrupted", in_flight="finished", queued="left for the next run")
    finally:
        run.pool.stop()
        ctx.close()
        stats.add(planned=run.planned[0], planned_bytes=run.planned[1])
        if isinstance(world.executor, DryRunExecutor):
            stats.add(api_calls=world.executor.api_calls)
        result.budget = ctx.budget_view()
    result.seconds = time.monotonic() - started
    result.counters = stats.summary()
    result.fatal, result.state_broken = ctx.fatal, ctx.state_broken
    result.failed_mappings = {**ctx.failed_subfolders, **ctx.failed_mappings}
    result.folders = len(run.folders)
    result.dry_run = not run.acts
    _report(config, stats, result)
    return result


def _report(config: Config, stats: Stats, result: SyncResult) -> None:
    """The pass's last line (`sync.finished` / `plan.finished`) and the metrics textfile."""
    if config.metrics.textfile and not result.dry_run:
        from syncd.obs.metrics import write_textfile

        try:
            write_textfile(Path(config.metrics.textfile), stats)
        except OSError as exc:
            log.warning("metrics.textfile_failed", path=config.metrics.textfile, error=exc.strerror)
    event = "plan.finished" if result.dry_run else "sync.finished"
    extra: dict[str, Any] = (
        {"failed_mappings": len(result.failed_mappings)} if result.failed_mappings else {}
    )
    if result.budget is not None:
        b = result.budget
        extra.update(api_calls_month=b.spent, **({"api_budget": b.budget} if b.budget else {}))
        if b.exhausted is not None and not result.dry_run:
            extra["stopped_by"] = f"{b.exhausted.value}.exhausted"
    log.info(event, seconds=round(result.seconds, 3), **result.counters, **extra)
