"""The forked walk: the same scans as the in-process walk, from a child process it reaps.

Real files, symlinks, a FIFO and a link loop in a temp dir; the child is a real fork.
"""

import logging
import os
from pathlib import Path

import pytest

from syncd.core.errors import RootUnavailable
from syncd.core.filters import ExcludeRules
from syncd.local.fs import LocalTree
from syncd.local.helper import BATCH_ENTRIES
from syncd.local.walk import WalkCounters, walk
from syncd.local.walk_forked import walk_forked
from tests.conftest import child_pids


@pytest.fixture
def share(tmp_path: Path) -> Path:
    root = tmp_path / "share"
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "docs" / "a.txt").write_text("a")
    (root / "docs" / "deep" / "b.txt").write_text("bb")
    (root / "docs" / "~$lock.docx").write_text("x")  # built-in ignore
    (root / "drafts").mkdir()
    (root / "drafts" / "d.txt").write_text("x")  # excluded below
    (root / "bad:name.txt").write_text("x")  # refused: invalid name
    (root / "报告.txt").write_text("中文")
    os.mkfifo(root / "pipe")  # refused: special file
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("canary")
    (root / "out").symlink_to(tmp_path / "outside")  # a link out of the mapping
    (root / "docs" / "loop").symlink_to(root / "docs")  # a link back to a folder above
    for i in range(3):  # enough entries for several batches
        (root / f"many{i}").mkdir()
        for j in range(BATCH_ENTRIES // 2):
            (root / f"many{i}" / f"f{j}").write_bytes(b"")
    return root


@pytest.mark.parametrize("follow", [False, True])
def test_the_forked_walk_yields_what_the_walk_yields(share: Path, follow: bool) -> None:
    """Same folders in the same order, same files, refusals and counters; nothing from
    outside the mapping (the link out is refused either way, the loop walked once)."""
    tree = LocalTree(share, ExcludeRules(["drafts/"]), follow_symlinks=follow)
    here, there = WalkCounters(), WalkCounters()
    expected = list(walk(tree, "", None, here))
    got = list(walk_forked(tree, None, there))
    assert got == expected
    assert there == here
    names = {f.rel_path for s in got for f in s.files}
    assert "报告.txt" in names and "docs/deep/b.txt" in names
    assert not any("secret" in n for n in names)
    assert not any(r.rel_path.startswith("out/") for s in got for r in s.refusals)


def test_known_for_is_called_in_walk_order_and_records_make_the_scan_incomplete(
    share: Path,
) -> None:
    """The parent calls known_for per folder; a folder that has records after all is left
    to the next walk and counted as unread, so nothing is deleted after this one."""
    calls: list[str] = []

    def known_for(rel: str, ino: int) -> dict[str, tuple[int, int, int]]:
        calls.append(rel)
        assert ino == os.stat(share / rel if rel else share).st_ino
        return {"a.txt": (9, 9, 9)} if rel == "docs" else {}

    counters = WalkCounters()
    scans = list(walk_forked(LocalTree(share), known_for, counters))
    assert calls == [s.rel for s in scans]
    assert counters.failed == ["docs"]


def test_a_consumer_that_stops_early_leaves_no_child_and_no_descriptor(share: Path) -> None:
    before_fds, before_children = len(os.listdir("/proc/self/fd")), child_pids()
    it = walk_forked(LocalTree(share), None, WalkCounters())
    next(it)
    assert child_pids() - before_children  # the child is there while the walk runs
    it.close()
    assert child_pids() == before_children
    assert len(os.listdir("/proc/self/fd")) == before_fds


def test_a_missing_root_is_root_unavailable_in_the_parent(tmp_path: Path) -> None:
    """The child's RootUnavailable reaches the caller as the in-process walk raises it."""
    tree = LocalTree(tmp_path / "nope")
    with pytest.raises(RootUnavailable) as here:
        list(walk(tree, "", None, WalkCounters()))
    with pytest.raises(RootUnavailable) as there:
        list(walk_forked(tree, None, WalkCounters()))
    assert (there.value.path, there.value.reason) == (here.value.path, here.value.reason)
    assert there.value.reason == "local folder missing"


def test_the_childs_scan_lines_are_logged_by_the_parent(
    share: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`scan.ignored` (debug) comes from the child's walk; the parent logs it."""
    caplog.set_level(logging.DEBUG)
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        list(walk_forked(LocalTree(share), None, WalkCounters()))
    ignored = [e for e in logs if e["event"] == "scan.ignored"]
    assert [e["path"] for e in ignored] == ["docs/~$lock.docx"]
