"""The pure planner, as tables: local file x record x remote -> the action (its printed text)."""

from pathlib import Path

import pytest

from syncd.core.actions import Adopt, Reason, Upload
from syncd.core.filters import MAX_SINGLE_UPLOAD
from syncd.core.model import Dentry, Issue, IssueKind, LocalFile, Record, Refusal
from syncd.core.settings import AdoptMode, Mapping, RemoteChangePolicy
from syncd.plan.decide import (
    CaseGuard,
    Policy,
    RemoteVerdict,
    adopt_verdict,
    case_refusal,
    conflict_name,
    decide,
    is_move,
    quarantine_delay,
    refuse,
    remote_verdict,
    with_twin,
)

NOW = 1_000_000.0
M = Mapping(Path("/share"), "rootUuid")
F = LocalFile("a/b.txt", 10, 5_000, 77)
REC = Record("a/b.txt", 10, 5_000, 77, "s" * 64, "uuid", "1", 1, 1.0)
POLICY = Policy()
SHA = "ab" * 32


def d(f=F, rec=REC, issue=None, policy=POLICY, sha=None):
    return str(decide(M, f, rec, issue, policy, NOW, sha256=sha))


@pytest.mark.parametrize(
    ("f", "rec", "sha", "expected"),
    [
        (F, None, None, "upload a/b.txt (new, 10 bytes)"),
        (LocalFile("a/b.txt", 11, 5_000, 77), REC, None, "upload a/b.txt (changed, 11 bytes)"),
        (F, REC, None, "None"),
        (
            LocalFile("a/b.txt", 10, 6_000, 77),
            REC,
            None,
            "verify a/b.txt (modified time changed; hash to compare)",
        ),
        (
            LocalFile("a/b.txt", 10, 5_000, 78),
            REC,
            None,
            "verify a/b.txt (modified time changed; hash to compare)",
        ),
        (
            LocalFile("a/b.txt", 10, 6_000, 77),
            REC,
            "s" * 64,
            "touch a/b.txt (content unchanged; record only)",
        ),
        (LocalFile("a/b.txt", 10, 6_000, 77), REC, "t" * 64, "upload a/b.txt (changed, 10 bytes)"),
    ],
)
def test_change_detection_ladder(f, rec, sha, expected):
    """No record -> new; size -> changed; same stat -> nothing; else the hash decides."""
    assert d(f, rec, sha=sha) == expected


def test_empty_file_over_non_empty_upload_is_held():
    """A file that became 0 bytes is held unless allow_empty_overwrite is set."""
    empty = LocalFile("a/b.txt", 0, 9_000, 77)
    assert d(empty) == "hold a/b.txt (empty file would overwrite remote content)"
    assert (
        d(empty, policy=Policy(allow_empty_overwrite=True)) == "upload a/b.txt (changed, 0 bytes)"
    )
    assert d(LocalFile("new.txt", 0, 1, 2), None) == "upload new.txt (new, 0 bytes)"


def test_a_new_empty_file_waits_for_its_content_in_the_daemon():
    """A brand-new 0-byte file waits (a writer may stall) when the policy asks for it."""
    fresh = LocalFile("n.txt", 0, int((NOW - 3) * 1e9), 5)
    old = LocalFile("n.txt", 0, int((NOW - 30) * 1e9), 5)
    daemon = Policy(new_empty_wait=10.0)
    assert d(fresh, None, policy=daemon) == "wait n.txt (new empty file: waiting for its content)"
    assert d(old, None, policy=daemon) == "upload n.txt (new, 0 bytes)"
    assert d(fresh, None) == "upload n.txt (new, 0 bytes)"  # one-shot sync does not wait


def test_held_file_is_reported_once():
    """The hold is reported the first time only, for the same version of the file."""
    empty = LocalFile("a/b.txt", 0, 9_000, 77)
    issue = Issue("a/b.txt", IssueKind.HELD, "empty", 0, 9_000)
    assert decide(M, empty, REC, None, POLICY, NOW).report  # type: ignore[union-attr]
    assert not decide(M, empty, REC, issue, POLICY, NOW).report  # type: ignore[union-attr]


def test_too_large_file_is_refused():
    """Files over 5 GiB are refused with the documented reason."""
    big = LocalFile("big.iso", MAX_SINGLE_UPLOAD + 1, 1, 1)
    assert d(big, None) == "refuse big.iso (too large for single upload (limit 5 GiB))"
    assert d(LocalFile("ok.iso", MAX_SINGLE_UPLOAD, 1, 1), None).startswith("upload ok.iso (new")


def test_quarantined_file_waits_until_next_retry():
    """A failed file is left alone until next_retry, unless it changed meanwhile."""
    issue = Issue(
        "a/b.txt", IssueKind.FAILED, "upload failed", 10, 5_000, attempts=2, next_retry=NOW + 60
    )
    assert d(F, None, issue) == "None"
    assert d(F, None, issue, policy=Policy(honour_quarantine=False)).startswith("upload")
    assert d(F, None, issue._replace(next_retry=NOW - 1)).startswith("upload")
    assert d(LocalFile("a/b.txt", 12, 5_000, 77), None, issue).startswith("upload")


def test_refusal_is_looked_at_again_when_the_file_or_its_mode_changes():
    """A refusal stays quiet for the same version; a new size/mtime or ctime (chmod) and a
    `permission denied` (every pass) are looked at again."""
    issue = Issue(
        "a/b.txt", IssueKind.REFUSED, "too slow for the upload window", 10, 5_000, ctime_ns=9
    )
    assert d(F._replace(ctime_ns=9), None, issue) == "None"
    assert d(LocalFile("a/b.txt", 10, 7_000, 77), None, issue).startswith("upload")
    assert d(F._replace(ctime_ns=10), None, issue).startswith("upload")
    denied = Issue("a/b.txt", IssueKind.REFUSED, "permission denied", 10, 5_000)
    assert d(F, None, denied).startswith("upload")


def test_refusal_reported_once_per_version():
    """A refused entry is reported the first time, then not again until it changes."""
    r = Refusal("x*y.txt", "invalid name", "contains '*'", 3, 100)
    assert refuse(M, r, None).report
    assert str(refuse(M, r, None)) == "refuse x*y.txt (invalid name: contains '*')"
    same = Issue("x*y.txt", IssueKind.REFUSED, "invalid name", 3, 100)
    assert not refuse(M, r, same).report
    moved = Issue("x*y.txt", IssueKind.REFUSED, "invalid name", 3, 200)
    assert refuse(M, r, moved).report


def twin(**kw):
    base = {"uuid": "u1", "id": "9", "name": "b.txt", "version": 3, "size": 10}
    return Dentry(**{**base, **kw})


@pytest.mark.parametrize(
    ("remote", "policy", "expected"),
    [
        (None, POLICY, "upload a/b.txt (new, 10 bytes)"),
        (
            twin(stamp=SHA),
            POLICY,
            "adopt a/b.txt (remote twin version 3; stamp matches if the hash does)",
        ),
        (
            twin(),
            POLICY,
            "upload a/b.txt (remote file of that name was not uploaded by syncd, 10 bytes)",
        ),
        (twin(), Policy(adopt=AdoptMode.SIZE), "adopt a/b.txt (remote twin version 3; same size)"),
        (
            twin(size=11),
            Policy(adopt=AdoptMode.SIZE),
            "upload a/b.txt (remote file of that name was not uploaded by syncd, 10 bytes)",
        ),
        (twin(is_folder=True), POLICY, "upload a/b.txt (new, 10 bytes)"),
    ],
)
def test_adoption_of_remote_twins(remote, policy, expected):
    """A new file whose folder holds a twin: stamped -> adopt; unstamped -> by `sync.adopt`."""
    assert str(with_twin(Upload(M, F, Reason.NEW), remote, policy)) == expected


def test_adoption_is_confirmed_by_the_hash():
    """A stamped twin is adopted only when the local hash equals the stamp; else uploaded."""
    a = Adopt(M, F, twin(stamp=SHA, modifier="us"))
    assert adopt_verdict(a, SHA, frozenset({"us"})) is None
    assert (
        str(adopt_verdict(a, "cd" * 32))
        == "upload a/b.txt (remote file of that name has other content, 10 bytes)"
    )
    assert adopt_verdict(Adopt(M, F, twin(), by_size=True), "cd" * 32) is None


@pytest.mark.parametrize(
    "remote",
    [
        twin(stamp=SHA, modifier="colleague"),  # an edit inside DingTalk kept our stamp
        twin(stamp=SHA, modifier="us", size=11),  # our stamp, another size
        twin(stamp=SHA),  # no modifier known: nothing proves it is ours
    ],
)
def test_a_stamp_alone_does_not_prove_a_twin_is_ours(remote):
    """Finding 13: adopted only with our size and our modifier; else a remote change."""
    verdict = adopt_verdict(Adopt(M, F, remote), SHA, frozenset({"us"}))
    assert isinstance(verdict, Upload) and verdict.reason is Reason.TWIN_EDITED


@pytest.mark.parametrize(
    ("remote", "policy", "verdict"),
    [
        (twin(version=1, id="1"), RemoteChangePolicy.OVERWRITE, RemoteVerdict.PROCEED),
        (twin(version=1, id="2"), RemoteChangePolicy.HOLD, RemoteVerdict.HOLD),  # another file
        (None, RemoteChangePolicy.OVERWRITE, RemoteVerdict.GONE),
        (
            twin(version=2, modifier="x"),
            RemoteChangePolicy.OVERWRITE,
            RemoteVerdict.OVERWRITE_CHANGED,
        ),
        (twin(version=2), RemoteChangePolicy.KEEP_BOTH, RemoteVerdict.KEEP_BOTH),
        (twin(version=2), RemoteChangePolicy.HOLD, RemoteVerdict.HOLD),
    ],
)
def test_remote_version_moved_follows_on_remote_change(remote, policy, verdict):
    """Before an overwrite: the version our commit made still there -> go; else the policy."""
    assert remote_verdict(REC, remote, Policy(on_remote_change=policy)) is verdict


def test_conflict_copy_name_keeps_the_extension():
    """keep-both names ours `name (conflict YYYY-MM-DD HHMM).ext`."""
    assert conflict_name("q3.xlsx", "2026-11-27 1430") == "q3 (conflict 2026-11-27 1430).xlsx"
    assert conflict_name("README", "2026-11-27 1430") == "README (conflict 2026-11-27 1430)"


def test_names_differing_only_in_case_collide():
    """The first name wins (recorded ones first); the second is refused, naming the first."""
    guard = CaseGuard()
    assert guard.claim("Report.txt") is None
    assert guard.claim("Report.txt") is None
    assert guard.claim("report.TXT") == "Report.txt"
    r = case_refusal(LocalFile("d/report.TXT", 1, 2, 3), "Report.txt")
    assert (
        str(refuse(M, r, None))
        == "refuse d/report.TXT (name differs only in case: from Report.txt)"
    )


@pytest.mark.parametrize(
    ("src", "exists", "expected"),
    [
        (REC, False, True),
        (REC, True, False),  # the old path is still there: a copy or a hard link
        (REC._replace(inode=78), False, False),
        (REC._replace(mtime_ns=1), False, False),  # an unrelated file reusing the inode
        (REC._replace(size=11), False, False),
    ],
)
def test_move_detection_pairs_a_vanished_record_with_a_new_file(src, exists, expected):
    """Same inode, size and mtime, and the recorded path gone: one move."""
    assert is_move(LocalFile("x/moved.txt", 10, 5_000, 77), src, exists) is expected


def test_quarantine_schedule_escalates_to_a_day():
    """30 s, x5 each failure, capped at 24 h (Nextcloud's blacklist)."""
    assert [quarantine_delay(n) for n in range(0, 4)] == [0.0, 30.0, 150.0, 750.0]
    assert quarantine_delay(6) == 24 * 3600
    assert quarantine_delay(50) == 24 * 3600
