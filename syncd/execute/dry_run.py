"""The dry-run's executor: print each action as a `plan.*` line and do nothing else.

No request of any kind and no state write (the store it is given is opened read-only). The
line for an upload keeps the fields operators script against (path, remote folder, reason,
size), preceded by a `plan.mkdir` for each remote folder it would create; every other line
carries the action's own text. A touch is told from an edit by hashing the file (a local
read). Bookkeeping actions say nothing.
"""

from __future__ import annotations

import time

import structlog

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
    Upload,
    Verify,
    WriteMarker,
)
from syncd.core.model import LocalFile
from syncd.core.settings import Mapping
from syncd.execute.context import Context
from syncd.obs.plan_lines import emit, emit_upload, flush
from syncd.plan.decide import decide

log = structlog.get_logger(__name__)

_EVENTS: dict[type, str] = {
    Adopt: "plan.adopt",
    Forget: "plan.forget",
    ForgetMapping: "plan.forget",
    Move: "plan.move",
    MoveFolder: "plan.move",
    Trash: "plan.trash",
    ResolveRemoteChange: "plan.resolve",
}

# isinstance with a tuple: `A | B` would build a union object at every call (a hot path)
_UPLOADS = (Upload, Reupload)
_SILENT = (Touch, ClearIssues, Defer, FolderInode, WriteMarker, RemoteChecked, PurgeTrash)


class DryRunExecutor:
    """Prints instead of acting. With `memo` (the daemon's dry-run), an upload is said once
    per version of the file until the next full rescan (`new_round`), and each line is
    written at once (a pass's are written in batches)."""

    inline = True  # nothing is sent: no action is worth a thread

    def __init__(self, ctx: Context, *, memo: bool = False) -> None:
        self.ctx = ctx
        self.memo = memo
        self._planned: dict[tuple[str, str], tuple[int, int]] = {}  # said once
        self._folders: dict[str, set[str]] = {}  # folders known (or said) remotely

    def new_round(self) -> None:
        self._planned.clear()
        self._folders.clear()

    def execute(self, a: Action) -> Outcome:
        if isinstance(a, _UPLOADS):
            return self._upload(a)
        if isinstance(a, Verify):
            return self._verify(a)
        if isinstance(a, Refuse):
            return self._skipped(a)
        if isinstance(a, Hold):
            return self._skipped(a)
        if isinstance(a, Mkdir):
            self._mkdir(a.mapping, a.folder)
            return Outcome.PLANNED
        if isinstance(a, _SILENT) or (isinstance(a, Forget) and not (a.paths or a.folders)):
            return Outcome.UNCHANGED
        if isinstance(a, Blocked):
            log.warning(
                "plan.blocked",
                mapping=str(a.mapping.local),
                action=str(a),
                reason=a.reason,
                **({"hint": a.hint} if a.hint else {}),
            )
            return Outcome.PLANNED
        if isinstance(a, Trash) and not a.folder and len(a.records) > 1:
            for r in a.records:  # every file the operator would lose, one line each
                log.info(
                    "plan.trash",
                    mapping=str(a.mapping.local),
                    action=f"trash {r.rel_path} (deleted locally)",
                )
            return Outcome.PLANNED
        log.info(_EVENTS.get(type(a), "plan.action"), mapping=str(a.mapping.local), action=str(a))
        return Outcome.PLANNED

    def _skipped(self, a: Refuse | Hold) -> Outcome:
        """A refusal or hold is said (once per version of the file) and counted."""
        if isinstance(a, Refuse):
            path, reason, extra = a.refusal.rel_path, a.refusal.reason, a.refusal.detail
            if a.report:
                log.warning(
                    "upload.skipped",
                    mapping=str(a.mapping.local),
                    path=path,
                    reason=reason,
                    **({"rule": extra} if extra else {}),
                )
            self.ctx.stats.add(refused=1)
            return Outcome.REFUSED
        if a.report:
            log.warning(
                "upload.skipped",
                mapping=str(a.mapping.local),
                path=a.file.rel_path,
                reason=a.reason,
                **({"hint": a.hint} if a.hint else {}),
            )
        self.ctx.stats.add(held=1)
        return Outcome.HELD

    def _upload(self, a: Upload | Reupload) -> Outcome:
        m, f = a.mapping, a.file
        if self.memo and not self._first_time(m, f):
            return Outcome.PLANNED  # the daemon's rescans do not repeat a plan line
        reason: str = a.reason if isinstance(a, Upload) else "deleted remotely"  # a StrEnum
        folder = f.rel_path.rpartition("/")[0]
        if folder:
            self._mkdir(m, folder)
        remote = f"{m.parent_dentry_uuid}/{folder}" if folder else m.parent_dentry_uuid
        emit_upload(str(m.local), f.rel_path, remote, reason, f.size)
        if self.memo:
            flush()
        return Outcome.PLANNED

    def _mkdir(self, m: Mapping, folder: str) -> None:
        """The remote folders an upload into `folder` would create, each said once."""
        known = self._folders.get(m.key)
        if known is None:
            known = self._folders[m.key] = set(self.ctx.state.folders(m.key))
        if folder in known:
            return
        parts = folder.split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub not in known:
                known.add(sub)
                remote = f"{m.parent_dentry_uuid}/{sub}"
                emit("plan.mkdir", mapping=str(m.local), folder=sub, remote_folder=remote)
        if self.memo:
            flush()

    def _first_time(self, m: Mapping, f: LocalFile) -> bool:
        memo = (m.key, f.rel_path)
        if self._planned.get(memo) == (f.size, f.mtime_ns):
            return False
        self._planned[memo] = (f.size, f.mtime_ns)
        return True

    def _verify(self, a: Verify) -> Outcome:
        try:
            sha = self.ctx.tree(a.mapping).hash(a.file)
        except (OSError, Exception):  # noqa: BLE001 - a dry-run never fails on one file
            return Outcome.UNCHANGED
        nxt = decide(a.mapping, a.file, a.record, None, self.ctx.policy, time.time(), sha256=sha)
        if isinstance(nxt, Upload):
            return self._upload(nxt)
        return Outcome.UNCHANGED
