"""The pure decision: what to do about one local file, given what the state store knows.

No I/O, no clock, no threads: the caller passes `now` and, when asked for it, the file's
sha256. The change-detection ladder is rclone's: no record -> new; size differs ->
changed; same mtime and inode -> unchanged; otherwise hash it and compare.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from syncd.filters import MAX_SINGLE_UPLOAD, TOO_LARGE_REASON
from syncd.model import Issue, IssueKind, LocalFile, Record, Refusal


class Verdict(enum.Enum):
    UPLOAD = "upload"  # run the three-step upload
    HASH = "hash"  # mtime/inode changed at the same size: hash the file, then decide again
    TOUCH = "touch"  # content unchanged: update the record's stat fields only, no upload
    SKIP = "skip"  # nothing to do
    REFUSE = "refuse"  # not uploaded by policy; record it for `status`
    HOLD = "hold"  # empty-file guard


@dataclass(frozen=True, slots=True)
class Policy:
    allow_empty_overwrite: bool = False
    honour_quarantine: bool = True  # False in one-shot `sync`: an explicit run retries failures
    max_size: int = MAX_SINGLE_UPLOAD


class Decision(NamedTuple):
    verdict: Verdict
    reason: str
    report: bool = True  # False when the same outcome was already reported for this version

    def __str__(self) -> str:
        return f"{self.verdict.value}({self.reason})"


def decide(
    f: LocalFile,
    record: Record | None,
    issue: Issue | None,
    policy: Policy,
    now: float,
    sha256: str | None = None,
) -> Decision:
    """Return what to do about `f`; `issue` is the file's open issue, if any."""
    if f.size > policy.max_size:
        return _refuse(TOO_LARGE_REASON, issue, f)
    if issue is not None and issue.matches(f.size, f.mtime_ns):
        if issue.kind is IssueKind.REFUSED:
            return Decision(Verdict.SKIP, issue.reason, report=False)
        if issue.kind is IssueKind.FAILED and policy.honour_quarantine and now < issue.next_retry:
            return Decision(Verdict.SKIP, "quarantined", report=False)
    if record is None:
        return Decision(Verdict.UPLOAD, "new")
    if f.size == 0 and record.size > 0 and not policy.allow_empty_overwrite:
        already = (
            issue is not None and issue.kind is IssueKind.HELD and issue.matches(0, f.mtime_ns)
        )
        return Decision(
            Verdict.HOLD, "empty file would overwrite remote content", report=not already
        )
    if f.size != record.size:
        return Decision(Verdict.UPLOAD, "changed")
    if f.mtime_ns == record.mtime_ns and f.inode == record.inode:
        return Decision(Verdict.SKIP, "unchanged", report=False)
    if sha256 is None:
        return Decision(Verdict.HASH, "mtime changed")
    if sha256 == record.sha256:
        return Decision(Verdict.TOUCH, "content unchanged")
    return Decision(Verdict.UPLOAD, "changed")


def decide_refusal(r: Refusal, issue: Issue | None) -> Decision:
    """A refused entry is reported once per version of the file, then stays quiet."""
    return _refuse(r.reason, issue, r)


def _refuse(reason: str, issue: Issue | None, f: LocalFile | Refusal) -> Decision:
    already = (
        issue is not None
        and issue.kind is IssueKind.REFUSED
        and issue.reason == reason
        and issue.matches(f.size, f.mtime_ns)
    )
    return Decision(Verdict.REFUSE, reason, report=not already)


def quarantine_delay(
    attempts: int, *, base: float = 30.0, factor: float = 5.0, cap: float = 24 * 3600.0
) -> float:
    """Seconds to leave a file alone after its `attempts`-th failed pass (Nextcloud blacklist).

    30 s, 2.5 min, 12.5 min, ~1 h, ~5 h, then 24 h.
    """
    if attempts < 1:
        return 0.0
    return min(cap, base * factor ** (attempts - 1))
