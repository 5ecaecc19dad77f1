"""Deletes into the trash folder (`deletes: trash`), and only of what syncd put there.

A file or folder deleted locally is moved remotely into
`<trash_folder>/<YYYY-MM-DD>/<its original folder>` under the mapping root, never deleted,
and each thing moved there is written down (`trashed`): only that is ever purged.

What is moved must be this mapping's own: a file at the version of syncd's last commit (a
colleague's later edit stays where it is), a folder as a whole only when everything in it
is (`ownership.survey`). A folder holding anything else stays, with what is not syncd's;
syncd's own files in it go to the trash one by one, and `trash.partial` says so.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime

import structlog

from syncd.core.actions import Outcome, Trash
from syncd.core.errors import BudgetExhaustedError, ParentMissingError, RemoteError
from syncd.core.model import Notice, NoticeKind, Record, Trashed
from syncd.core.settings import Mapping
from syncd.execute.context import Context
from syncd.execute.ownership import survey
from syncd.plan.deletes import trash_path

log = structlog.get_logger(__name__)


class TrashActions:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def trash(self, a: Trash) -> Outcome:
        if (why := self.ctx.blocked_reason(a.mapping)) is not None:
            return why
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        try:
            if a.folder:
                return self._folder(a, day)
            return self._files(a, day)
        except RemoteError as exc:
            return self._failed(a, exc)

    # -- a whole folder ----------------------------------------------------------------
    def _folder(self, a: Trash, day: str) -> Outcome:
        ctx, m = self.ctx, a.mapping
        row = ctx.state.dirs(m.key).get(a.folder)
        folder_id = row.dentry_id if row is not None else ""
        where = trash_path(ctx.config.sync.trash_folder, day, None, a.folder)
        if not folder_id:  # never made remotely: nothing there to move
            return self._done(a, [], day, forget_folder=True)
        try:
            found = survey(ctx, m, a.folder, folder_id)
        except ParentMissingError as exc:
            if exc.code != "dentryNotExist":
                raise
            return self._done(a, [], day, forget_folder=True)  # gone remotely already
        if found.ours:
            self._move(m, folder_id, where, a.folder, day, is_folder=True)
            return self._done(a, list(a.records), day, forget_folder=True)
        log.warning(
            "trash.partial",
            mapping=str(m.local),
            folder=a.folder,
            reason=found.summary(),
            action="syncd's own files in it go to the trash one by one; the folder and the "
            "rest stay where they are",
        )
        own = [r for r in a.records if r.dentry_id in found.files]
        moved = [r for r in own if self._move_file(m, r, day)]
        return self._done(a, moved, day, forget_folder=True)

    # -- files -------------------------------------------------------------------------
    def _files(self, a: Trash, day: str) -> Outcome:
        """Loose files, by folder: each folder listed once, afresh, so that a file changed
        remotely since syncd's commit (or gone) is told apart before anything moves."""
        ctx, m = self.ctx, a.mapping
        remote = ctx.remote()
        space = remote.folders.root(ctx.target(m)).space_id
        by_folder: dict[str, list[Record]] = {}
        for r in a.records:
            by_folder.setdefault(r.folder, []).append(r)
        moved: list[Record] = []
        for folder, records in by_folder.items():
            parent = remote.folders.known(ctx.target(m), folder)
            if parent is None:
                continue  # never made remotely: nothing to move
            try:
                there = {d.id: d for d in remote.dentries.list(space, parent.dentry_id)}
            except ParentMissingError:
                continue  # the folder is gone remotely, and the files with it
            for r in records:
                d = there.get(r.dentry_id)
                if d is None:
                    continue  # deleted remotely already
                if r.version and d.version != r.version:
                    log.warning(
                        "trash.skipped",
                        mapping=str(m.local),
                        path=r.rel_path,
                        reason=f"changed remotely by {d.modifier or '?'} since syncd's upload "
                        f"(version {r.version} -> {d.version})",
                        action="left where it is; its record is forgotten",
                    )
                    continue
                if self._move_file(m, r, day):
                    moved.append(r)
        return self._done(a, moved, day, forget_folder=False)

    def _move_file(self, m: Mapping, r: Record, day: str) -> bool:
        where = trash_path(self.ctx.config.sync.trash_folder, day, r)
        try:
            self._move(m, r.dentry_id, where, r.rel_path, day, is_folder=False)
        except ParentMissingError as exc:
            if exc.code != "dentryNotExist":
                raise
            return False
        return True

    def _move(
        self, m: Mapping, dentry_id: str, where: str, path: str, day: str, *, is_folder: bool
    ) -> None:
        """Move one dentry into the trash day folder `where`, and write it down."""
        ctx = self.ctx
        remote = ctx.remote()
        space = remote.folders.root(ctx.target(m)).space_id
        dest = remote.folders.ensure(ctx.target(m), where)
        remote.dentries.move(space, dentry_id, space, dest.dentry_id, "AUTO_RENAME")
        done = Trashed(dentry_id, space, day, path, is_folder, time.time())
        ctx.write("trash", lambda: ctx.state.add_trashed(m.key, done))

    # -- bookkeeping -------------------------------------------------------------------
    def _done(self, a: Trash, moved: list[Record], day: str, *, forget_folder: bool) -> Outcome:
        ctx, m = self.ctx, a.mapping
        paths = tuple(r.rel_path for r in a.records)

        def drop() -> None:
            if forget_folder:
                ctx.state.forget_dir(m.key, a.folder)
            else:
                ctx.state.forget(m.key, paths)

        if not ctx.write("trash", drop):
            return Outcome.FAILED
        if forget_folder:
            ctx.remote().folders.forget(ctx.target(m), a.folder)
        now = time.time()
        for r in moved:
            day_folder = trash_path(ctx.config.sync.trash_folder, day, r)
            log.info(
                "file.trashed",
                mapping=str(m.local),
                path=r.rel_path,
                trash=f"{day_folder}/{r.name}",
            )
            note = Notice(r.rel_path, NoticeKind.TRASHED, day_folder, now)
            ctx.write("notice", functools.partial(ctx.state.add_notice, m.key, note))
        ctx.stats.add(trashed=len(moved))
        if moved:
            ctx.write("tally", lambda: ctx.state.tally(m.key, "trashed", len(moved)))
        return Outcome.TRASHED

    def _failed(self, a: Trash, exc: RemoteError) -> Outcome:
        if isinstance(exc, BudgetExhaustedError):  # said once by the meter; kept for later
            log.debug("trash.pending", mapping=str(a.mapping.local), what=str(a))
            self.ctx.stats.add(pending=max(1, len(a.records)))
            return Outcome.PENDING
        log.error(
            "trash.failed",
            mapping=str(a.mapping.local),
            what=str(a),
            error_code=exc.code,
            error=exc.message,
            action="kept; tried again at the next pass",
        )
        self.ctx.stats.failed(exc.code)
        return Outcome.FAILED
