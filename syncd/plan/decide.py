"""The pure decisions: local entries x state records (x the remote listing) -> actions.

No I/O, no clock, no threads: callers pass `now`, the facts they gathered and, when asked
for it, a file's sha256. The change-detection ladder is rclone's: no record -> new; size
differs -> changed; same mtime and inode -> unchanged; otherwise hash it and compare.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from syncd.core.actions import (
    Action,
    Adopt,
    Defer,
    Hold,
    Move,
    Reason,
    Refuse,
    Touch,
    Upload,
    Verify,
)
from syncd.core.filters import MAX_SINGLE_UPLOAD, TOO_LARGE_REASON
from syncd.core.model import Dentry, Issue, IssueKind, LocalFile, Record, Refusal
from syncd.core.settings import AdoptMode, Config, Mapping, RemoteChangePolicy

PERMISSION_DENIED = "permission denied"
EMPTY_GUARD = "empty file would overwrite remote content"
NEW_EMPTY_WAIT = 10.0  # seconds a new empty file waits for its content (writers that stall)


@dataclass(frozen=True, slots=True)
class Policy:
    allow_empty_overwrite: bool = False
    honour_quarantine: bool = True  # False in one-shot `sync`: an explicit run retries failures
    max_size: int = MAX_SINGLE_UPLOAD
    adopt: AdoptMode = AdoptMode.STAMPED
    on_remote_change: RemoteChangePolicy = RemoteChangePolicy.OVERWRITE
    new_empty_wait: float = 0.0  # the daemon waits NEW_EMPTY_WAIT


def policy_of(config: Config, *, daemon: bool) -> Policy:
    """The policy `config` asks for. The daemon honours quarantines (an explicit `sync`
    retries failures) and lets a new empty file wait for its content (writers that stall)."""
    return Policy(
        allow_empty_overwrite=config.sync.allow_empty_overwrite,
        honour_quarantine=daemon,
        adopt=config.sync.adopt,
        on_remote_change=config.sync.on_remote_change,
        new_empty_wait=max(config.sync.settle_seconds, NEW_EMPTY_WAIT) if daemon else 0.0,
    )


def _issue_applies(issue: Issue, f: LocalFile | Refusal) -> bool:
    """The issue was recorded for this very version of the file (size, mtime and ctime)."""
    if not issue.matches(f.size, f.mtime_ns):
        return False
    return not (issue.ctime_ns and f.ctime_ns and issue.ctime_ns != f.ctime_ns)


def decide(
    m: Mapping,
    f: LocalFile,
    record: Record | None,
    issue: Issue | None,
    policy: Policy,
    now: float,
    sha256: str | None = None,
) -> Action | Defer | None:
    """What to do about local file `f` (None: nothing); `issue` is its open issue, if any."""
    if f.size > policy.max_size:
        return refuse(m, Refusal(f.rel_path, TOO_LARGE_REASON, "", f.size, f.mtime_ns), issue)
    if issue is not None and _issue_applies(issue, f):
        if issue.kind is IssueKind.REFUSED and issue.reason != PERMISSION_DENIED:
            return None  # reported once for this version; a change (or chmod) looks again
        if issue.kind is IssueKind.FAILED and policy.honour_quarantine and now < issue.next_retry:
            return None  # quarantined
    if record is None:
        if f.size == 0 and policy.new_empty_wait and now - f.mtime_ns / 1e9 < policy.new_empty_wait:
            return Defer(m, f, policy.new_empty_wait, "new empty file: waiting for its content")
        return Upload(m, f, Reason.NEW)
    if f.size == 0 and record.size > 0 and not policy.allow_empty_overwrite:
        already = (
            issue is not None and issue.kind is IssueKind.HELD and issue.matches(0, f.mtime_ns)
        )
        hint = "set sync.allow_empty_overwrite: true to upload it"
        return Hold(m, f, EMPTY_GUARD, report=not already, hint=hint)
    if f.size != record.size:
        return Upload(m, f, Reason.CHANGED, record)
    if f.mtime_ns == record.mtime_ns and f.inode == record.inode:
        return None
    if sha256 is None:
        return Verify(m, f, record)
    if sha256 == record.sha256:
        return Touch(m, f, record, sha256)
    return Upload(m, f, Reason.CHANGED, record)


def refuse(m: Mapping, r: Refusal, issue: Issue | None) -> Refuse:
    """A refused entry is reported once per version of the file, then stays quiet."""
    already = (
        issue is not None
        and issue.kind is IssueKind.REFUSED
        and issue.reason == r.reason
        and _issue_applies(issue, r)
    )
    return Refuse(m, r, report=not already)


def with_twin(action: Upload, twin: Dentry | None, policy: Policy) -> Action:
    """A new file whose folder was listed remotely: adopt its twin, or upload over it."""
    if twin is None or twin.is_folder:
        return action
    if twin.stamp:
        return Adopt(action.mapping, action.file, twin)
    if policy.adopt is AdoptMode.SIZE and twin.size == action.file.size:
        return Adopt(action.mapping, action.file, twin, by_size=True)
    return Upload(action.mapping, action.file, Reason.TWIN_UNSTAMPED, twin=twin)


def adopt_verdict(
    action: Adopt, sha256: str, own_ids: frozenset[str] = frozenset()
) -> Action | None:
    """After hashing: None when the twin is ours (record it), else the upload over it. A
    stamp alone proves nothing (an edit inside DingTalk may keep it): the twin is ours only
    with our content's stamp, our file's size, and one of `own_ids` (syncd's own modifier
    ids) as its last modifier; else a colleague edited it (`Reason.TWIN_EDITED`)."""
    twin = action.twin
    if action.by_size:
        return None
    if twin.stamp != sha256:
        return Upload(action.mapping, action.file, Reason.TWIN_DIFFERS, twin=twin)
    if twin.size != action.file.size or twin.modifier not in own_ids:
        return Upload(action.mapping, action.file, Reason.TWIN_EDITED, twin=twin)
    return None


class RemoteVerdict(enum.Enum):
    PROCEED = "proceed"  # remote is as we left it: overwrite
    OVERWRITE_CHANGED = "overwrite"  # changed by someone else; overwrite and say so
    KEEP_BOTH = "keep-both"  # upload ours beside theirs
    HOLD = "hold"  # upload nothing until resolved
    GONE = "gone"  # deleted remotely: upload as new


def remote_verdict(record: Record, remote: Dentry | None, policy: Policy) -> RemoteVerdict:
    """Before overwriting a recorded file: has someone else changed it since our commit?"""
    if remote is None:
        return RemoteVerdict.GONE
    same_file = not (remote.id and record.dentry_id) or remote.id == record.dentry_id
    if same_file and (not record.version or remote.version == record.version):
        return RemoteVerdict.PROCEED
    return changed_verdict(policy)


def changed_verdict(policy: Policy) -> RemoteVerdict:
    """Someone else changed the remote file: what `on_remote_change` says to do."""
    return {
        RemoteChangePolicy.OVERWRITE: RemoteVerdict.OVERWRITE_CHANGED,
        RemoteChangePolicy.KEEP_BOTH: RemoteVerdict.KEEP_BOTH,
        RemoteChangePolicy.HOLD: RemoteVerdict.HOLD,
    }[policy.on_remote_change]


def committed_verdict(record: Record, committed: Dentry) -> RemoteVerdict:
    """After overwriting a recorded file without looking first (`on_remote_change:
    overwrite`, §4.11): the version the commit returned tells whether someone else changed
    it since our commit (more than one version later), or deleted it (another dentry)."""
    if record.dentry_id and committed.id and committed.id != record.dentry_id:
        return RemoteVerdict.GONE
    if record.version and committed.version > record.version + 1:
        return RemoteVerdict.OVERWRITE_CHANGED
    return RemoteVerdict.PROCEED


def conflict_name(name: str, when: str) -> str:
    """`report.xlsx` -> `report (conflict 2026-11-27 1430).xlsx` (`when` as `YYYY-MM-DD HHMM`)."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return f"{name} (conflict {when})"
    return f"{stem} (conflict {when}).{ext}"


def is_move(f: LocalFile, source: Record, source_exists: bool) -> bool:
    """A new file is the recorded `source` moved here: same inode, size and mtime, and the
    source path is gone (an unrelated file that reuses a freed inode has another mtime)."""
    return (
        not source_exists
        and source.inode == f.inode
        and source.size == f.size
        and source.mtime_ns == f.mtime_ns
    )


def move_action(m: Mapping, f: LocalFile, source_key: str, source: Record) -> Move:
    return Move(m, f, source_key, source)


@dataclass
class CaseGuard:
    """Names that differ only in case within one remote folder would overwrite each other
    on a case-insensitive remote: the first (already recorded, or first in order) wins."""

    taken: dict[str, str] = field(default_factory=dict)  # casefolded -> the name that has it

    def claim(self, name: str) -> str | None:
        """None when `name` may be used; else the name it collides with."""
        folded = name.casefold()
        holder = self.taken.setdefault(folded, name)
        return None if holder == name else holder


def case_refusal(f: LocalFile, other: str) -> Refusal:
    return Refusal(
        f.rel_path, "name differs only in case", f"from {other}", f.size, f.mtime_ns, f.ctime_ns
    )


def quarantine_delay(
    attempts: int, *, base: float = 30.0, factor: float = 5.0, cap: float = 24 * 3600.0
) -> float:
    """Seconds to leave a file alone after its `attempts`-th failed pass (Nextcloud blacklist).

    30 s, 2.5 min, 12.5 min, ~1 h, ~5 h, then 24 h.
    """
    if attempts < 1:
        return 0.0
    return min(cap, base * factor ** (attempts - 1))
