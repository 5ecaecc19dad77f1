"""What each planned action says of itself: the line `--dry-run` prints for it."""

from pathlib import Path

import pytest

from syncd.core import actions as a
from syncd.core.model import Dentry, LocalFile, Record, Refusal
from syncd.core.settings import Mapping

M = Mapping(Path("/srv/share"), "rootUuid")
F = LocalFile("docs/q3.xlsx", 2048, 1, 7)
R = Record("docs/q3.xlsx", 1024, 0, 7, "ab" * 32, "u1", "d1", 2)
THEIRS = Dentry("u1", "d1", "q3.xlsx", 3, modifier="ann")
OLD = Record("docs/q2.xlsx", 2048, 1, 7, "ab" * 32, "u1", "d1", 2)


@pytest.mark.parametrize(
    ("action", "line"),
    [
        (a.Upload(M, F, a.Reason.NEW), "upload docs/q3.xlsx (new, 2048 bytes)"),
        (a.Verify(M, F, R), "verify docs/q3.xlsx (modified time changed; hash to compare)"),
        (a.Touch(M, F, R, "ab" * 32), "touch docs/q3.xlsx (content unchanged; record only)"),
        (
            a.Refuse(M, Refusal("a|b.txt", "invalid name", "contains |")),
            "refuse a|b.txt (invalid name: contains |)",
        ),
        (a.Hold(M, F, "became empty"), "hold docs/q3.xlsx (became empty)"),
        (a.Mkdir(M, "docs"), "mkdir docs"),
        (
            a.Adopt(M, F, THEIRS),
            "adopt docs/q3.xlsx (remote twin version 3; stamp matches if the hash does)",
        ),
        (
            a.Adopt(M, F, THEIRS, by_size=True),
            "adopt docs/q3.xlsx (remote twin version 3; same size)",
        ),
        (
            a.ResolveRemoteChange(M, F, R, THEIRS),
            "resolve docs/q3.xlsx (changed remotely by ann: version 2 -> 3)",
        ),
        (a.Reupload(M, F, R), "upload docs/q3.xlsx (deleted remotely, 2048 bytes)"),
        (a.Move(M, F, M.key, OLD), "move docs/q2.xlsx -> docs/q3.xlsx (same inode and content)"),
        (
            a.Move(M, F, M.key, OLD, by=a.MoveBy.CONTENT),
            "move docs/q2.xlsx -> docs/q3.xlsx (same content)",
        ),
        (
            a.MoveFolder(M, "docs", "papers", 1),
            "move folder docs -> papers (1 file, one remote call)",
        ),
        (a.Trash(M, (R,)), "trash docs/q3.xlsx (deleted locally)"),
        (a.Trash(M, (R, OLD), folder="docs"), "trash folder docs (2 files) (deleted locally)"),
        (a.Forget(M, ("x",)), "forget 1 record (gone locally; nothing remote is touched)"),
        (a.ClearIssues(M, ("x", "y")), "clear 2 stale issues"),
        (a.Blocked(M, "too many", 60), "blocked 60 deletes (too many)"),
    ],
)
def test_each_action_prints_what_it_would_do(action, line):
    assert str(action) == line
