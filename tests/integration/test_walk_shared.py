"""The shared rescan: parent and a forked helper walk disjoint subtrees of a real tree.

The records are plain dicts (what the state store would give), the files real, the helper
a real fork. The helper signals through a pipe each time it opens a folder, so a test can
make the parent wait until the helper holds work: who walks what is then known, not luck.
"""

from __future__ import annotations

import os
import select
import signal
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from syncd.core.model import Known
from syncd.local.fs import LocalTree
from syncd.local.walk import FolderScan, KnownFor, WalkCounters, walk
from syncd.local.walk_shared import walk_shared
from syncd.reconcile.helper_records import HelperRecords
from tests.conftest import child_pids, wait_until

pytestmark = pytest.mark.integration
FOLDERS = 24


def _records(root: Path) -> dict[str, Known]:
    """What a completed sync would have recorded: every regular file, as it is now."""
    out: dict[str, Known] = {}
    for dirpath, _, names in os.walk(root):
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
        known = out.setdefault("" if rel == "." else rel, {})
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            known[name] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


@pytest.fixture
def share(tmp_path: Path) -> tuple[Path, dict[str, Known]]:
    root = tmp_path / "share"
    root.mkdir()
    (root / "top.txt").write_text("t")
    for i in range(FOLDERS):
        d = root / f"d{i:02d}"
        (d / "sub").mkdir(parents=True)
        for j in range(3):
            (d / f"f{j}.txt").write_text(f"{i}-{j}")
        (d / "sub" / "deep.txt").write_text("deep")
    records = _records(root)
    (root / "d03" / "f0.txt").write_text("changed, longer")
    (root / "d09" / "f1.txt").unlink()
    (root / "d15" / "new.txt").write_text("new")
    (root / "d18" / "bad:name.txt").write_text("refused")
    os.mkfifo(root / "d20" / "pipe")
    (root / "d21" / "sub" / "newer.txt").write_text("new too")
    return root, records


class _Records:
    """The parent's and the helper's `known_for` over the same records; the helper's hands
    back `handed` folders and writes a byte per folder it opens."""

    def __init__(self, records: dict[str, Known], handed: set[str], wait_for: int = 1) -> None:
        self.records, self.handed = records, handed
        self.wait_for = wait_for  # folders the helper opens before the parent goes on
        self.read_fd, self.write_fd = os.pipe()
        self.parent: list[str] = []
        self.adopted: dict[str, FolderScan | None] = {}
        self.waited = False

    def known_for(self, rel: str, ino: int) -> Known:
        if rel and not self.waited:  # the parent's first folder below the top: wait until
            self.waited = True  # the helper has one of its own
            seen, deadline = 0, time.monotonic() + 20
            while seen < self.wait_for:
                left = deadline - time.monotonic()
                ready = left > 0 and select.select([self.read_fd], [], [], left)[0]
                assert ready, "the helper never started"
                seen += len(os.read(self.read_fd, 64))
        self.parent.append(rel)
        return dict(self.records.get(rel, {}))

    def child_known(self) -> KnownFor:
        first = [True]

        def known(rel: str, ino: int) -> Known | None:
            os.write(self.write_fd, b".")
            handed, first[0] = first[0] or rel in self.handed, False
            return None if handed else dict(self.records.get(rel, {}))

        return known

    def adopt(self, rel: str, scan: FolderScan | None) -> None:
        assert rel not in self.adopted
        self.adopted[rel] = scan

    def close(self) -> None:
        os.close(self.read_fd)
        os.close(self.write_fd)


def _single(root: Path, records: dict[str, Known]) -> tuple[dict[str, FolderScan], WalkCounters]:
    counters = WalkCounters()
    scans = walk(LocalTree(root), "", lambda rel, ino: dict(records.get(rel, {})), counters)
    return {s.rel: s for s in scans}, counters


def _quiet(scan: FolderScan) -> bool:
    return not (scan.files or scan.refusals or scan.vanished or scan.stale)


def test_each_folder_is_walked_once_by_one_of_them_with_the_same_result(
    share: tuple[Path, dict[str, Known]],
) -> None:
    """The helper walks some subtrees (and hands back its first folder and `d21/sub`,
    which the parent walks); every folder is seen once; what is yielded, adopted and
    counted matches the single walk."""
    root, records = share
    expected, expected_counters = _single(root, records)
    # it hands back its first folder: the parent waits until it has a second of its own
    rec = _Records(records, handed={"d21/sub"}, wait_for=2)
    counters = WalkCounters()
    with capture_logs() as logs:
        got = list(
            walk_shared(LocalTree(root), rec.known_for, rec.child_known, rec.adopt, counters)
        )
    rec.close()
    yielded = [s.rel for s in got]
    assert len(yielded) == len(set(yielded))
    assert set(rec.parent).isdisjoint(rec.adopted)
    assert set(rec.parent) | set(rec.adopted) == set(expected)
    assert rec.adopted, "the helper walked nothing"
    assert "d21/sub" in rec.parent  # handed back if the helper had d21: walked here
    for rel, scan in expected.items():
        if rel in rec.adopted and _quiet(scan):
            assert rel not in yielded and rec.adopted[rel] is None
        else:
            assert next(s for s in got if s.rel == rel) == scan
    assert counters == expected_counters
    shared = next(e for e in logs if e["event"] == "scan.shared")
    assert shared["runs"] == FOLDERS and shared["by_helper"] >= 1
    assert shared["handed_back"] == 1 + ("d21" in rec.adopted)


def test_a_helper_that_dies_leaves_its_folders_unread_and_no_process(
    share: tuple[Path, dict[str, Known]],
) -> None:
    """Killed in its first folder: the parent walks every run the helper had not taken,
    counts the one it had as unread (so the scan is incomplete) and reaps it."""
    root, records = share
    expected, _ = _single(root, records)
    rec = _Records(records, handed=set())
    before = child_pids()

    def dying() -> KnownFor:
        def known(rel: str, ino: int) -> Known | None:
            os.write(rec.write_fd, b".")
            os.kill(os.getpid(), signal.SIGKILL)
            return None  # pragma: no cover - never reached

        return known

    counters = WalkCounters()
    with capture_logs() as logs:
        got = list(walk_shared(LocalTree(root), rec.known_for, dying, rec.adopt, counters))
    rec.close()
    assert child_pids() == before
    assert not rec.adopted
    assert len(counters.failed) == 1 and counters.failed[0] in expected
    lost = counters.failed[0]
    walked = {s.rel for s in got}
    assert walked == {r for r in expected if r != lost and not r.startswith(lost + "/")}
    failed = [e for e in logs if e["event"] == "scan.helper_failed"]
    assert failed and failed[0]["error"] == "the helper process ended"


def test_a_helper_that_fails_to_start_leaves_the_whole_walk_to_the_parent(
    share: tuple[Path, dict[str, Known]],
) -> None:
    """Its records unreadable (an error before it took any run): the parent walks all of
    it, the scan is complete, and the error is logged."""
    root, records = share
    expected, expected_counters = _single(root, records)

    def broken() -> KnownFor:
        raise OSError("no state here")

    counters = WalkCounters()
    parent: list[str] = []
    before = child_pids()

    def ended(pid: str) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
        except FileNotFoundError:
            return True

    def known_for(rel: str, ino: int) -> Known:
        if rel and not parent[1:]:  # below the top: the helper has said its error and ended
            wait_until(lambda: all(ended(p) for p in child_pids() - before), timeout=20)
        parent.append(rel)
        return dict(records.get(rel, {}))

    with capture_logs() as logs:
        got = list(walk_shared(LocalTree(root), known_for, broken, lambda *a: None, counters))
    assert {s.rel: s for s in got} == expected
    assert counters == expected_counters and not counters.failed
    failed = next(e for e in logs if e["event"] == "scan.helper_failed")
    assert failed["error"] == "OSError: no state here"


def test_a_consumer_that_stops_early_leaves_no_helper_and_no_descriptor(
    share: tuple[Path, dict[str, Known]],
) -> None:
    root, records = share
    before_fds, before_children = len(os.listdir("/proc/self/fd")), child_pids()
    rec = _Records(records, handed=set())
    it = walk_shared(LocalTree(root), rec.known_for, rec.child_known, rec.adopt, WalkCounters())
    next(it)  # the root's scan: yielded after the fork
    assert child_pids() - before_children
    it.close()
    rec.close()
    assert child_pids() == before_children
    assert len(os.listdir("/proc/self/fd")) == before_fds


def test_a_small_tree_is_walked_by_the_parent_alone(tmp_path: Path) -> None:
    """Fewer folders than are worth sharing, three levels down: no fork at all."""
    root = tmp_path / "share"
    for d in ("a/x", "b", "c"):
        (root / d).mkdir(parents=True)
        (root / d / "f.txt").write_text(d)
    records = _records(root)
    expected, expected_counters = _single(root, records)
    before = child_pids()
    forked: list[bool] = []

    def child_known() -> KnownFor:  # pragma: no cover - must not run
        raise AssertionError("forked")

    counters = WalkCounters()
    got = walk_shared(
        LocalTree(root),
        lambda rel, ino: (forked.append(bool(child_pids() - before)), records.get(rel, {}))[1],
        child_known,
        lambda *a: None,
        counters,
    )
    assert {s.rel: s for s in got} == expected and counters == expected_counters
    assert not any(forked)


class _Signalling(HelperRecords):
    """The production `HelperRecords`, which also creates `flag` when the helper opens its
    first folder (and hands that one back): a spawned helper starts late, and the parent
    waits for the flag so that both have work. Defined here, so the helper can unpickle it."""

    def __init__(self, state_dir: Path, dirs: dict[str, tuple[int, int]], flag: str) -> None:
        super().__init__(state_dir, dirs, {})
        self.flag = flag

    def __call__(self) -> KnownFor:
        inner = super().__call__()
        first = [True]

        def known(rel: str, ino: int) -> Known | None:
            if first[0]:
                first[0] = False
                Path(self.flag).touch()
                return None
            return inner(rel, ino)

        return known


def _store(tmp_path: Path, root: Path, records: dict[str, Known]) -> tuple[Path, dict]:
    """A real state store holding `records`, each folder with its inode."""
    from syncd.core.model import Record
    from syncd.state.store import StateStore

    state = StateStore(tmp_path / "state")
    key = "rootUuid:" + str(root)
    for folder, known in records.items():
        state.set_dir_inode(key, folder, os.stat(root / folder).st_ino)
        for name, (size, mtime, ino) in known.items():
            rel = f"{folder}/{name}" if folder else name
            state.put_record(key, Record(rel, size, mtime, ino, "00" * 32, "u", "i", 1, 0))
    dirs = {p: (r.id, r.inode) for p, r in state.dirs(key).items()}
    shared = state.shared_dir
    state.close()
    assert shared is not None
    return shared, dirs


def test_a_spawned_helper_reads_the_store_and_matches_the_single_walk(
    tmp_path: Path, share: tuple[Path, dict[str, Known]]
) -> None:
    """`spawn=True` (as `syncd run` does, where a fork is unsafe): a new interpreter gets
    its work pickled, reads the records from a real store, hands back its first folder;
    every folder is walked once and the result is the single walk's."""
    root, records = share
    expected, expected_counters = _single(root, records)
    state_dir, dirs = _store(tmp_path, root, records)
    flag = tmp_path / "helper-started"
    rec = _Records(records, handed=set())
    waited: list[bool] = []

    def known_for(rel: str, ino: int) -> Known:
        if rel and not waited:
            waited.append(wait_until(flag.exists, timeout=30))
        rec.parent.append(rel)
        return dict(records.get(rel, {}))

    counters = WalkCounters()
    helper = _Signalling(state_dir, dirs, str(flag))
    with capture_logs() as logs:
        got = list(walk_shared(LocalTree(root), known_for, helper, rec.adopt, counters, spawn=True))
    rec.close()
    assert set(rec.parent).isdisjoint(rec.adopted)
    assert set(rec.parent) | set(rec.adopted) == set(expected)
    assert rec.adopted, "the helper walked nothing"
    for rel, scan in expected.items():
        if rel not in rec.adopted or not _quiet(scan):
            assert next(s for s in got if s.rel == rel) == scan
    assert counters == expected_counters
    shared = next(e for e in logs if e["event"] == "scan.shared")
    assert shared["by_helper"] >= 1 and shared["handed_back"] >= 1


class _Scripted:
    """A helper's end of the pipe that says what a test scripted, then ends."""

    def __init__(self, messages: list[tuple[str, object]]) -> None:
        self.messages = messages
        self.done = False

    def ready(self) -> bool:
        return bool(self.messages)

    def receive(self) -> tuple[str, object]:
        return self.messages.pop(0) if self.messages else ("ended", None)


def test_a_helper_that_dies_before_done_still_leaves_its_unread_folders_unread(
    share: tuple[Path, dict[str, Known]],
) -> None:
    """Folders the helper could not read travel with the runs it reports done, so a helper
    that dies before its DONE cannot make the scan look complete (its recorded folders would
    then look gone, and be trashed)."""
    from syncd.local.walk_shared import _Claims, _Shared

    root, records = share
    runs = [["d00"], ["d01"]]
    claims = _Claims.offer(len(runs))
    assert claims is not None
    assert claims.take() == 0  # the helper's run
    # d00 unread; d00/gone was listed but renamed before it was opened
    failed_message = (["d00/sub"], [], [], [0], ["d00"], ["d00/gone"])
    helper = _Scripted([("scans", failed_message)])
    counters = WalkCounters()
    adopted: list[str] = []
    tree = LocalTree(root)
    with tree.root() as opened, capture_logs() as logs:
        shared = _Shared(
            tree,
            opened,
            lambda rel, ino: dict(records.get(rel, {})),
            lambda rel, scan: adopted.append(rel),
            counters,
            runs,
            claims,
            helper,  # type: ignore[arg-type]
        )
        got = [s.rel for s in shared.run([])]
    claims.close()
    assert counters.failed == ["d00"] and counters.moving == ["d00/gone"]
    assert adopted == ["d00/sub"] and "d01" in got and "d00" not in got
    assert any(e["event"] == "scan.helper_failed" for e in logs)


def test_a_message_cut_short_by_a_killed_helper_is_the_end_not_an_error(tmp_path: Path) -> None:
    """A header promising more than the pipe delivers: the helper died while writing."""
    import struct

    from syncd.local.helper import ENDED, Helper

    read_fd, write_fd = os.pipe()
    os.write(write_fd, struct.pack("<Q", 100) + b"x" * 10)
    os.close(write_fd)
    helper = Helper(0, read_fd)
    assert helper.ready()
    assert helper.receive() == (ENDED, None)
    os.close(read_fd)


def test_a_stopped_helper_is_killed_after_its_stall_time_and_the_scan_is_incomplete(
    share: tuple[Path, dict[str, Known]],
) -> None:
    """Finding 8: the helper is stopped (SIGSTOP) in its first folder. The parent walks
    everything else, waits `stall` seconds for it, kills and reaps it, and counts its run
    as unread (nothing is deleted after the scan); the walk ends instead of hanging."""
    root, records = share
    expected, _ = _single(root, records)
    rec = _Records(records, handed=set())
    before = child_pids()

    def stopping() -> KnownFor:
        def known(rel: str, ino: int) -> Known | None:
            os.write(rec.write_fd, b".")
            os.kill(os.getpid(), signal.SIGSTOP)
            return None  # pragma: no cover - never reached

        return known

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("the walk hung on a stopped helper")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)  # the bound on this test: without supervision the walk never ends
    counters = WalkCounters()
    try:
        with capture_logs() as logs:
            got = list(
                walk_shared(LocalTree(root), rec.known_for, stopping, rec.adopt, counters, stall=1)
            )
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        rec.close()
    assert child_pids() == before
    assert counters.stalled and len(counters.failed) == 1 and counters.failed[0] in expected
    lost = counters.failed[0]
    assert {s.rel for s in got} == {
        r for r in expected if r != lost and not r.startswith(lost + "/")
    }
    stalled = [e for e in logs if e["event"] == "scan.helper_stalled"]
    assert len(stalled) == 1 and stalled[0]["seconds"] == 1
