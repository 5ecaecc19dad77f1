"""Carry out one action: the only writer of records and issues, and the only place that logs
the canonical per-file line. Each action returns an `Outcome`.

`Executor` acts; `DryRunExecutor` (`dry_run.py`) prints each action instead. Both take the
same `Context`; which one runs is decided once, where a command opens its world
(`world.py`), and nothing below asks again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from syncd.core.actions import (
    Action,
    Adopt,
    Blocked,
    ClearIssues,
    Defer,
    FolderInode,
    Forget,
    ForgetMapping,
    Hold,
    Mkdir,
    Move,
    MoveFolder,
    Outcome,
    PurgeTrash,
    Refuse,
    RemoteChecked,
    ResolveRemoteChange,
    Reupload,
    Touch,
    Trash,
    Unsettled,
    Upload,
    Verify,
    WriteMarker,
)
from syncd.core.settings import Mapping
from syncd.execute import issues
from syncd.execute.context import Context
from syncd.execute.files import FileActions
from syncd.execute.marker import write_marker
from syncd.execute.purge import purge
from syncd.execute.trash import TrashActions
from syncd.execute.tree import TreeActions


class Executor:
    """Carries out actions for real; heavy ones (`HEAVY`) are worth a worker thread."""

    inline = False  # heavy actions run on the worker pool

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.files = FileActions(ctx)
        self.tree = TreeActions(ctx, self.files.upload, self.files.failure)
        self.trash = TrashActions(ctx)
        self._handlers = self._dispatch_table()

    def _dispatch_table(self) -> dict[type, Callable[[Any], Outcome]]:
        """Which function carries out each kind of action."""
        ctx, files, tree = self.ctx, self.files, self.tree
        return {
            Upload: files.upload,
            Reupload: files.reupload,
            ResolveRemoteChange: files.resolve,
            Verify: files.verify,
            Touch: files.touch,
            Adopt: files.adopt,
            Move: tree.move,
            MoveFolder: tree.move_folder,
            Trash: self.trash.trash,
            Mkdir: tree.mkdir,
            Blocked: tree.blocked,
            Refuse: lambda a: issues.refuse(ctx, a),
            Hold: files.hold,
            Forget: lambda a: issues.forget(ctx, a),
            ForgetMapping: lambda a: issues.forget_mapping(ctx, a),
            ClearIssues: lambda a: issues.clear(ctx, a),
            FolderInode: lambda a: issues.folder_inode(ctx, a),
            RemoteChecked: lambda a: issues.remote_checked(ctx, a),
            WriteMarker: lambda a: write_marker(ctx, a),
            PurgeTrash: lambda a: purge(ctx, a),
            Defer: lambda a: Outcome.DEFERRED,
            Unsettled: lambda a: issues.unsettled(ctx, a),
        }

    def execute(self, action: Action) -> Outcome:
        return self._handlers[type(action)](action)

    def looked(self, m: Mapping, uploads: list[Upload]) -> list[Action]:
        """Changed files' remote state, asked in batches (`FileActions.looked`)."""
        return self.files.looked(m, uploads)

    def new_round(self) -> None:
        """A full rescan starts (the dry-run's memo of what it said is emptied then)."""
