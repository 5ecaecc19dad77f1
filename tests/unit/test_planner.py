"""The pure planner: change-detection ladder, quarantine, refusals, empty-file guard."""

import pytest

from syncd.filters import MAX_SINGLE_UPLOAD
from syncd.model import Issue, IssueKind, LocalFile, Record, Refusal
from syncd.planner import Policy, decide, decide_refusal, quarantine_delay

NOW = 1_000_000.0
F = LocalFile("a/b.txt", 10, 5_000, 77)
REC = Record("a/b.txt", 10, 5_000, 77, "s" * 64, "uuid", "1", 1, 1.0)
POLICY = Policy()


def d(f=F, rec=REC, issue=None, policy=POLICY, sha=None):
    return str(decide(f, rec, issue, policy, NOW, sha256=sha))


@pytest.mark.parametrize(
    ("f", "rec", "sha", "expected"),
    [
        (F, None, None, "upload(new)"),
        (LocalFile("a/b.txt", 11, 5_000, 77), REC, None, "upload(changed)"),
        (F, REC, None, "skip(unchanged)"),
        (LocalFile("a/b.txt", 10, 6_000, 77), REC, None, "hash(mtime changed)"),
        (LocalFile("a/b.txt", 10, 5_000, 78), REC, None, "hash(mtime changed)"),
        (LocalFile("a/b.txt", 10, 6_000, 77), REC, "s" * 64, "touch(content unchanged)"),
        (LocalFile("a/b.txt", 10, 6_000, 77), REC, "t" * 64, "upload(changed)"),
    ],
)
def test_change_detection_ladder(f, rec, sha, expected):
    """No record -> new; size -> changed; same stat -> unchanged; else hash decides."""
    assert d(f, rec, sha=sha) == expected


def test_empty_file_over_non_empty_upload_is_held():
    """A file that became 0 bytes is held unless allow_empty_overwrite is set."""
    empty = LocalFile("a/b.txt", 0, 9_000, 77)
    assert d(empty) == "hold(empty file would overwrite remote content)"
    assert d(empty, policy=Policy(allow_empty_overwrite=True)) == "upload(changed)"
    assert d(LocalFile("new.txt", 0, 1, 2), None) == "upload(new)"


def test_held_file_is_reported_once():
    """The hold is reported the first time only, for the same version of the file."""
    empty = LocalFile("a/b.txt", 0, 9_000, 77)
    issue = Issue("a/b.txt", IssueKind.HELD, "empty", 0, 9_000)
    assert decide(empty, REC, None, POLICY, NOW).report
    assert not decide(empty, REC, issue, POLICY, NOW).report


def test_too_large_file_is_refused():
    """Files over 5 GiB are refused with the documented reason."""
    big = LocalFile("big.iso", MAX_SINGLE_UPLOAD + 1, 1, 1)
    assert d(big, None) == "refuse(too large for single upload (limit 5 GiB))"
    assert d(LocalFile("ok.iso", MAX_SINGLE_UPLOAD, 1, 1), None) == "upload(new)"


def test_quarantined_file_waits_until_next_retry():
    """A failed file is left alone until next_retry, unless it changed meanwhile."""
    issue = Issue(
        "a/b.txt", IssueKind.FAILED, "upload failed", 10, 5_000, attempts=2, next_retry=NOW + 60
    )
    assert d(F, None, issue) == "skip(quarantined)"
    assert d(F, None, issue, policy=Policy(honour_quarantine=False)) == "upload(new)"
    later = (
        Issue(**{**issue.__dict__, "next_retry": NOW - 1})
        if hasattr(issue, "__dict__")
        else Issue(
            "a/b.txt", IssueKind.FAILED, "upload failed", 10, 5_000, attempts=2, next_retry=NOW - 1
        )
    )
    assert d(F, None, later) == "upload(new)"
    changed = LocalFile("a/b.txt", 12, 5_000, 77)
    assert d(changed, None, issue) == "upload(new)"


def test_refused_file_is_retried_only_when_it_changes():
    """A permanent refusal stays quiet until size or mtime change."""
    issue = Issue("a/b.txt", IssueKind.REFUSED, "permission denied", 10, 5_000)
    assert d(F, None, issue) == "skip(permission denied)"
    assert d(LocalFile("a/b.txt", 10, 7_000, 77), None, issue) == "upload(new)"


def test_refusal_reported_once_per_version():
    """A refused entry is reported the first time, then not again until it changes."""
    r = Refusal("x*y.txt", "invalid name", "contains '*'", 3, 100)
    assert decide_refusal(r, None).report
    same = Issue("x*y.txt", IssueKind.REFUSED, "invalid name", 3, 100)
    assert not decide_refusal(r, same).report
    moved = Issue("x*y.txt", IssueKind.REFUSED, "invalid name", 3, 200)
    assert decide_refusal(r, moved).report


def test_quarantine_schedule_escalates_to_a_day():
    """30 s, x5 each failure, capped at 24 h (Nextcloud's blacklist)."""
    assert [quarantine_delay(n) for n in range(0, 4)] == [0.0, 30.0, 150.0, 750.0]
    assert quarantine_delay(6) == 24 * 3600
    assert quarantine_delay(50) == 24 * 3600
