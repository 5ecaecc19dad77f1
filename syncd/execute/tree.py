"""The executor's tree actions: renames and moves done on the server, folders made ahead,
and the guard that blocks a pass's deletes (the deletes themselves: `trash.py`).

A move keeps the remote dentry (uuid, version history, links) and sends no byte. When it
cannot be done remotely — the source is gone there, the target name is taken, or the
mappings are in different spaces — the file is uploaded at its new place instead, with the
reason logged: never a duplicate, never a lost file. A folder moves as a whole once the walk
has proven it is the recorded folder (`reconcile.moves`: what it holds, by content); what a
colleague dropped into it moves with it, as it would in any synced folder. When it cannot be
moved, it stays, and the walk of the new folder pairs its files one by one.

In a space without rename/move (dingtalk-api.md §15.3.3, `operationNotSupported`), syncd
behaves as with `renames: upload` there: logged once (`renames.unsupported`), remembered,
and each later move is an upload at the new place without trying the call again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from syncd.core.actions import Blocked, Mkdir, Move, MoveFolder, Outcome, Reason, Upload
from syncd.core.capabilities import NOT_SUPPORTED, Capability
from syncd.core.errors import ParentMissingError, PermanentError, RemoteError
from syncd.core.model import Dentry, LocalFile, Record
from syncd.core.settings import Mapping
from syncd.execute.context import Context

log = structlog.get_logger(__name__)
TAKEN = {"dentryAlreadyExist", "dentryNameConflict"}


Failure = Callable[[Mapping, LocalFile, BaseException], Outcome]


class TreeActions:
    def __init__(self, ctx: Context, upload: Callable[[Upload], Outcome], failure: Failure) -> None:
        """`upload` sends a file at its new place when a move cannot be done remotely;
        `failure` bookkeeps a move that failed (as an upload's failure is)."""
        self.ctx = ctx
        self.upload = upload
        self.failure = failure
        self._told: set[str] = set()  # spaces whose missing rename/move was logged

    def handlers(self) -> dict[type, Callable[[Any], Outcome]]:
        return {Move: self.move, MoveFolder: self.move_folder, Mkdir: self.mkdir}

    def mkdir(self, a: Mkdir) -> Outcome:
        """Create a remote folder ahead of its first upload, only if nothing is there yet
        (`FolderResolver.create_new`). A folder that is there (`dentryAlreadyExist`) is
        found by the walk's listing as before; any other failure is left to the upload,
        which meets it again and reports it."""
        ctx = self.ctx
        if ctx.blocked_reason(a.mapping) is not None:
            return Outcome.ABANDONED
        try:
            ctx.remote().folders.create_new(ctx.target(a.mapping), a.folder)
        except RemoteError as exc:
            log.debug("folder.early_skipped", folder=a.folder, error_code=exc.code)
        return Outcome.UNCHANGED

    def blocked(self, a: Blocked) -> Outcome:
        log.error(
            "deletes.blocked",
            mapping=str(a.mapping.local),
            reason=a.reason,
            count=a.count,
            **({"hint": a.hint} if a.hint else {}),
        )
        return Outcome.ABANDONED

    # -- file moves ----------------------------------------------------------------------
    def move(self, a: Move) -> Outcome:
        ctx, m, f, rec = self.ctx, a.mapping, a.file, a.source
        if (why := ctx.blocked_reason(m)) is not None:
            return why
        current = ctx.state.record(a.source_key, rec.rel_path)
        source = ctx.mapping(a.source_key)
        if current is None or current.dentry_id != rec.dentry_id or source is None:
            return self._fallback(a, "the recorded source is gone")
        if (missing := self._unsupported(m)) is not None:
            return self._fallback(a, missing)
        try:
            dentry, calls = self._move_remote(source, m, rec, f.folder, f.name)
        except RemoteError as exc:
            if exc.code == NOT_SUPPORTED and exc.api in _MOVE_APIS:
                return self._fallback(a, self._not_supported(m, exc))
            if isinstance(exc, ParentMissingError) and exc.code == "dentryNotExist":
                return self._fallback(a, "the remote source is gone")
            if exc.code in TAKEN:
                return self._fallback(a, "the target name is taken remotely")
            if isinstance(exc, _OtherSpace):
                return self._fallback(a, str(exc))
            return self.failure(m, f, exc)
        moved = Record(
            f.rel_path,
            f.size,
            f.mtime_ns,
            f.inode,
            rec.sha256,
            rec.dentry_uuid,
            rec.dentry_id,
            dentry.version or rec.version,
            rec.uploaded_at,
        )
        if not ctx.write(
            "move", lambda: ctx.state.move_record(a.source_key, rec.rel_path, m.key, moved)
        ):
            return Outcome.FAILED
        ctx.stats.add(moved=1)
        ctx.write("tally", lambda: ctx.state.tally(m.key, "moved"))
        log.info(
            "file.moved",
            mapping=str(m.local),
            source=rec.rel_path,
            path=f.rel_path,
            dentry_uuid=rec.dentry_uuid,
            calls=calls,
        )
        return Outcome.MOVED

    def _move_remote(
        self, source: Mapping, m: Mapping, rec: Record | _FolderRef, folder: str, name: str
    ) -> tuple[Dentry, int]:
        """Rename and/or move `rec`'s dentry to `folder`/`name` under mapping `m`."""
        remote = self.ctx.remote()
        src_root = remote.folders.root(self.ctx.target(source))
        dst_root = remote.folders.root(self.ctx.target(m))
        if src_root.space_id != dst_root.space_id:
            raise _OtherSpace("the two mappings are in different spaces")
        space, calls, dentry = src_root.space_id, 0, None
        moves = source.key != m.key or rec.folder != folder
        renames = rec.name != name
        if moves:
            parent = remote.folders.ensure(self.ctx.target(m), folder)
            try:
                dentry = remote.dentries.move(space, rec.dentry_id, space, parent.dentry_id)
            except RemoteError as exc:  # its old name taken there: renamed first, it is not
                if not renames or exc.code not in TAKEN:
                    raise
                return self._rename_then_move(space, rec, parent.dentry_id, name)
            calls += 1
            remote.caps.learn(space, Capability.MOVE, True)
        if renames:
            dentry = remote.dentries.rename(space, rec.dentry_id, name)
            calls += 1
            remote.caps.learn(space, Capability.RENAME, True)
        return dentry or Dentry(rec.dentry_uuid, rec.dentry_id), calls

    def _rename_then_move(
        self, space: str, rec: Record | _FolderRef, parent_id: str, name: str
    ) -> tuple[Dentry, int]:
        """The other order, for a move whose old name is taken in the new folder (the
        reason one renames while moving). Should the new name be taken there as well, the
        old name is put back and the error raised: a rename left behind would be a change
        nobody made."""
        dentries = self.ctx.remote().dentries
        dentries.rename(space, rec.dentry_id, name)
        try:
            dentry = dentries.move(space, rec.dentry_id, space, parent_id)
        except RemoteError:
            try:
                dentries.rename(space, rec.dentry_id, rec.name)
            except RemoteError as exc:
                log.warning("move.undo_failed", path=rec.rel_path, error_code=exc.code)
            raise
        return dentry, 3

    def _space(self, m: Mapping) -> str:
        return self.ctx.remote().folders.root(self.ctx.target(m)).space_id

    def _unsupported(self, m: Mapping) -> str | None:
        """Why a move cannot be tried in `m`'s space (None: try it): rename or move is
        known to be missing there. (Both are needed, as the planner cannot tell which.)"""
        caps = self.ctx.remote().caps
        space = self._space(m)
        for cap in (Capability.RENAME, Capability.MOVE):
            if caps.known(space, cap) is False:
                return f"the remote space does not offer {cap.value} (renames: upload there)"
        return None

    def _not_supported(self, m: Mapping, exc: RemoteError) -> str:
        """A rename or move the space refused as unsupported: remembered, logged once."""
        cap = Capability.RENAME if exc.api == "storage.renameDentry" else Capability.MOVE
        space = self._space(m)
        self.ctx.remote().caps.learn(space, cap, False)
        if space not in self._told:
            self._told.add(space)
            log.warning(
                "renames.unsupported",
                mapping=str(m.local),
                capability=cap.value,
                error=exc.message,
                action="renames and moves in this space are uploads at the new place "
                "(as with `renames: upload`)",
            )
        return f"the remote space does not offer {cap.value} (renames: upload there)"

    def _fallback(self, a: Move, reason: str) -> Outcome:
        log.info(
            "move.fallback",
            mapping=str(a.mapping.local),
            source=a.source.rel_path,
            path=a.file.rel_path,
            reason=reason,
            action="uploading it at its new place",
        )
        return self.upload(Upload(a.mapping, a.file, Reason.MOVE_FAILED))

    # -- folder moves --------------------------------------------------------------------
    def move_folder(self, a: MoveFolder) -> Outcome:
        ctx, m = self.ctx, a.mapping
        row = ctx.state.dirs(m.key).get(a.old)
        if (why := ctx.blocked_reason(m)) is not None or row is None:
            return why or Outcome.UNCHANGED
        calls = 0
        if row.dentry_id:
            if (missing := self._unsupported(m)) is not None:
                return self._not_moved(a, missing)
            ref = _FolderRef(a.old, row.dentry_id, row.dentry_uuid)
            new_folder, _, new_name = a.new.rpartition("/")
            try:
                _, calls = self._move_remote(m, m, ref, new_folder, new_name)
            except RemoteError as exc:
                if exc.code == NOT_SUPPORTED and exc.api in _MOVE_APIS:
                    return self._not_moved(a, self._not_supported(m, exc))
                return self._folder_fallback(a, exc)
            ctx.remote().folders.moved(ctx.target(m), a.old, a.new)
        if not ctx.write("folder move", lambda: ctx.state.move_dir(m.key, a.old, a.new)):
            return Outcome.FAILED
        ctx.stats.add(moved=a.files)
        ctx.write("tally", lambda: ctx.state.tally(m.key, "moved", a.files))
        log.info(
            "folder.moved",
            mapping=str(m.local),
            source=a.old,
            path=a.new,
            files=a.files,
            calls=calls,
        )
        return Outcome.MOVED

    def _folder_fallback(self, a: MoveFolder, exc: RemoteError) -> Outcome:
        """The folder cannot be moved remotely (gone there, the name taken, an error)."""
        if not (isinstance(exc, ParentMissingError | PermanentError) or exc.code in TAKEN):
            log.warning(
                "folder.move_failed",
                mapping=str(a.mapping.local),
                source=a.old,
                path=a.new,
                error_code=exc.code,
                error=exc.message,
            )
        return self._not_moved(a, f"{exc.code}: {exc.message}")

    def _not_moved(self, a: MoveFolder, reason: str) -> Outcome:
        """Not moved as a whole: the walk of the new folder pairs its files with their
        records one by one (each a move, or an upload where that cannot be done), and the
        old remote folder stays with whatever is not syncd's."""
        log.info(
            "move.fallback",
            mapping=str(a.mapping.local),
            source=a.old,
            path=a.new,
            reason=reason,
            action="its files are moved (or uploaded) one by one; the folder stays",
        )
        return Outcome.FAILED


_MOVE_APIS = ("storage.renameDentry", "storage.moveDentry")


class _OtherSpace(RemoteError):
    """Mappings in two spaces: a move cannot cross them."""


class _FolderRef:
    """A recorded folder, shaped like a Record for `_move_remote`."""

    def __init__(self, path: str, dentry_id: str, uuid: str) -> None:
        self.rel_path, self.dentry_id, self.dentry_uuid = path, dentry_id, uuid

    @property
    def folder(self) -> str:
        return self.rel_path.rpartition("/")[0]

    @property
    def name(self) -> str:
        return self.rel_path.rpartition("/")[2]
