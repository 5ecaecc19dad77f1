"""The actions that only keep books: refusals and holds (reported once per version of a
file, shown by `status`), forgotten records, cleared issues, a folder's inode, a finished
remote check."""

from __future__ import annotations

import time

import structlog

from syncd.core.actions import (
    ClearIssues,
    FolderInode,
    Forget,
    ForgetMapping,
    Hold,
    Outcome,
    Refuse,
    RemoteChecked,
    Unsettled,
)
from syncd.core.budget import Exhausted
from syncd.core.errors import BudgetExhaustedError
from syncd.core.model import Issue, IssueKind, LocalFile
from syncd.core.settings import Mapping
from syncd.execute.context import Context

log = structlog.get_logger(__name__)


def refuse(ctx: Context, a: Refuse) -> Outcome:
    r = a.refusal
    if a.report:
        log.warning(
            "upload.skipped",
            mapping=str(a.mapping.local),
            path=r.rel_path,
            reason=r.reason,
            **({"rule": r.detail} if r.detail else {}),
        )
        issue = Issue(
            r.rel_path,
            IssueKind.REFUSED,
            r.reason,
            r.size,
            r.mtime_ns,
            message=r.detail,
            ctime_ns=r.ctime_ns,
        )
        ctx.write("refusal", lambda: ctx.state.put_issue(a.mapping.key, issue))
    ctx.stats.add(refused=1)  # after the store: a scrape never sees it ahead of the gauge
    return Outcome.REFUSED


def hold(ctx: Context, a: Hold) -> Outcome:
    if a.report:
        log.warning(
            "upload.skipped",
            mapping=str(a.mapping.local),
            path=a.file.rel_path,
            reason=a.reason,
            **({"hint": a.hint} if a.hint else {}),
        )
        issue = Issue(a.file.rel_path, IssueKind.HELD, a.reason, a.file.size, a.file.mtime_ns)
        ctx.write("hold", lambda: ctx.state.put_issue(a.mapping.key, issue))
    ctx.stats.add(held=1)
    return Outcome.HELD


PENDING_RETRY = 3600.0  # `run` looks again hourly: the meter's probe interval
PENDING_REASONS = {
    Exhausted.BUDGET: "waiting for budget: dingtalk.monthly_call_budget is spent this month",
    Exhausted.QUOTA: "waiting for budget: the org's monthly DingTalk API quota is spent",
}


def pending(ctx: Context, m: Mapping, f: LocalFile, exc: BudgetExhaustedError) -> Outcome:
    """A file the month's budget (or the org's quota) could not pay for: pending, never
    failed or refused. The meter said so once (`budget.exhausted` / `quota.exhausted`);
    the file is named at debug level only and in `status`."""
    log.debug("upload.pending", mapping=str(m.local), path=f.rel_path, reason=exc.kind.value)
    now = time.time()
    issue = Issue(
        f.rel_path,
        IssueKind.PENDING,
        PENDING_REASONS[exc.kind],
        f.size,
        f.mtime_ns,
        exc.code,
        "",
        0,
        now + PENDING_RETRY,
        now,
    )
    ctx.write("issue", lambda: ctx.state.put_issue(m.key, issue))
    ctx.stats.add(pending=1)
    return Outcome.PENDING


STILL_CHANGING = "still changing"


def unsettled(ctx: Context, a: Unsettled) -> Outcome:
    """A file that never settled: a failure `status` lists, tried again by the next run."""
    f = a.file
    message = f"it changed during each of {a.rounds} uploads; it is still being written"
    log.error(
        "upload.failed",
        mapping=str(a.mapping.local),
        path=f.rel_path,
        size=f.size,
        error_code="fileStillChanging",
        error=message,
        action="the next run tries it again once it has settled",
    )
    issue = Issue(
        f.rel_path,
        IssueKind.FAILED,
        STILL_CHANGING,
        f.size,
        f.mtime_ns,
        "fileStillChanging",
        message,
        a.rounds,
        0.0,
        time.time(),
    )
    ctx.write("issue", lambda: ctx.state.put_issue(a.mapping.key, issue))
    ctx.stats.failed("fileStillChanging")  # after the store, as in `refuse`
    return Outcome.FAILED


def forget(ctx: Context, a: Forget) -> Outcome:
    files = [len(a.paths)]

    def drop() -> None:
        for folder in a.folders:
            files[0] += ctx.state.forget_dir(a.mapping.key, folder)
        if a.paths:
            ctx.state.forget(a.mapping.key, a.paths)

    if ctx.write("forget", drop):
        (log.debug if a.why == "gone locally" else log.info)(
            "records.forgotten",
            mapping=str(a.mapping.local),
            files=files[0],
            folders=len(a.folders),
            why=a.why,
        )
    return Outcome.FORGOTTEN


def forget_mapping(ctx: Context, a: ForgetMapping) -> Outcome:
    if ctx.write("forget", lambda: ctx.state.forget_mapping(a.mapping.key)):
        log.info(
            "records.forgotten",
            mapping=str(a.mapping.local),
            files=a.files,
            why="the mapping was removed from the config; nothing remote is touched",
        )
    return Outcome.FORGOTTEN


def clear(ctx: Context, a: ClearIssues) -> Outcome:
    ctx.write("issues", lambda: ctx.state.clear_issues(a.mapping.key, a.paths))
    log.debug("issues.cleared", mapping=str(a.mapping.local), paths=len(a.paths))
    return Outcome.UNCHANGED


def folder_inode(ctx: Context, a: FolderInode) -> Outcome:
    ctx.write("folder", lambda: ctx.state.set_dir_inode(a.mapping.key, a.folder, a.inode))
    return Outcome.UNCHANGED


def remote_checked(ctx: Context, a: RemoteChecked) -> Outcome:
    key = a.mapping.key
    ctx.write("remote check", lambda: ctx.state.set_mapping_info(key, remote_checked=time.time()))
    return Outcome.UNCHANGED
