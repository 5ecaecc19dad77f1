"""The reconcile loop as tables: a real temp tree, a real SQLite store, a fake listing.

Each case sets up local files and the records a past sync left, runs a full scan and its
deletes (`scan` + `finish`), and asserts the exact plan, line by line, as `str(action)`
(b2sdk's `assert_folder_sync_actions`). Nothing is executed: a folder move goes through the
dry-run's executor (`Outcome.PLANNED`), and its action is listed where the loop asked for it.
Bookkeeping (`note folder …`) is left out unless a case asks for it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from syncd.config import load
from syncd.core.actions import Action, Adopt, FolderInode, Forget, MoveFolder, Outcome
from syncd.core.model import MARKER, Dentry, Issue, IssueKind, Record
from syncd.core.settings import Config, Mapping
from syncd.execute.context import Context
from syncd.execute.dry_run import DryRunExecutor
from syncd.local import walk as walk_module
from syncd.local.trees import Trees
from syncd.plan.decide import adopt_verdict
from syncd.plan.ports import ScanOptions
from syncd.reconcile.loop import Reconciler, ScanReport
from syncd.state.store import StateStore
from tests.conftest import ROOT_UUID, write_config

pytestmark = pytest.mark.integration

OTHER_UUID = "otherFolderUuid000000000000000002"


class _WalkOs:
    """`os` as the walk sees it, with two differences that make a table exact:
    `listdir` is sorted (the file system's own order is its hash order), and a folder
    without read permission cannot be opened even by root (as for the service user)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def listdir(fd: int) -> list[str]:
        return sorted(os.listdir(fd))

    @staticmethod
    def open(name: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if flags & os.O_DIRECTORY:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode) and not st.st_mode & stat.S_IRUSR:
                raise PermissionError(13, "Permission denied", name)
        return os.open(name, flags, mode, dir_fd=dir_fd)


@pytest.fixture(autouse=True)
def _exact_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(walk_module, "os", _WalkOs())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content(rel: str) -> bytes:
    """A file's default bytes: 8 of them, another 8 for each path (no two files pair up
    by content unless a case copies one)."""
    return sha(rel.encode())[:8].encode()


class FakeListings:
    """The `Listings` port: the given remote folders' entries; a folder not given has no
    listing (None: no such remote folder). `asked` is every folder listed, in order."""

    def __init__(self, folders: dict[str, dict[str, Dentry]], unseen: set[str]) -> None:
        self.folders = folders
        self.unseen_folders = unseen
        self.asked: list[str] = []

    def listing(self, m: Mapping, folder: str) -> dict[str, Dentry] | None:
        self.asked.append(folder)
        return self.folders.get(folder)

    def unseen(self, m: Mapping, folder: str) -> bool:
        return folder in self.unseen_folders

    def clear(self) -> None:
        pass


@dataclass
class World:
    """Two mapped folders (`one` first, then `two`) and the store a past sync left."""

    tmp: Path
    state: StateStore
    sync: dict[str, Any] = field(default_factory=dict)
    options: ScanOptions = field(default_factory=ScanOptions)
    remote: dict[str, dict[str, Dentry]] = field(default_factory=dict)
    unseen: set[str] = field(default_factory=set)
    listings: FakeListings | None = None
    folder_moves: list[MoveFolder] = field(default_factory=list)
    locked: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("one", "two"):
            (self.tmp / name).mkdir()

    def config(self) -> Config:
        mappings = [
            {"local": str(self.tmp / "one"), "parent_dentry_uuid": ROOT_UUID},
            {"local": str(self.tmp / "two"), "parent_dentry_uuid": OTHER_UUID},
        ]
        return load(write_config(self.tmp, None, mappings, sync=self.sync))

    def mapping(self, name: str = "one") -> Mapping:
        return next(m for m in self.config().mappings if m.local.name == name)

    # the local tree ("one/a.txt": mapping one's a.txt)

    def path(self, rel: str) -> Path:
        return self.tmp / rel

    def write(self, rel: str, data: bytes | None = None) -> Path:
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content(rel) if data is None else data)
        return p

    def touch(self, rel: str, seconds: int = 1) -> None:
        """Move the file's mtime on, its bytes and inode as they were."""
        st = self.path(rel).stat()
        os.utime(self.path(rel), ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 10**9))

    def lock(self, rel: str) -> None:
        """A folder the service user cannot read (mode 000)."""
        self.path(rel).chmod(0)
        self.locked.append(self.path(rel))

    def rename(self, old: str, new: str) -> None:
        self.path(new).parent.mkdir(parents=True, exist_ok=True)
        os.rename(self.path(old), self.path(new))

    # what a past sync recorded

    def synced(self, *rels: str) -> None:
        """Record each file as it is now (and its folders' inodes), as an upload would."""
        for rel in rels:
            self.record(rel)

    def record(self, rel: str, **changes: Any) -> Record:
        name, _, path = rel.partition("/")
        m, p = self.mapping(name), self.path(rel)
        st = p.stat()
        rec = Record(
            path,
            st.st_size,
            st.st_mtime_ns,
            st.st_ino,
            sha(p.read_bytes()),
            f"uuid-{path}",
            f"id-{path}",
            1,
            1.0,
        )._replace(**changes)
        self.state.put_record(m.key, rec)
        folder = rec.folder
        while True:
            self.state.set_dir_inode(m.key, folder, (m.local / folder).stat().st_ino)
            if not folder:
                break
            folder = folder.rpartition("/")[0]
        return rec

    # the plan

    def reconciler(self, lines: list[Action]) -> Reconciler:
        """A reconciler over this world; folder moves go to the dry-run's executor, and
        each is listed in `lines` where the loop asked for it."""
        config = self.config()
        executor = DryRunExecutor(Context(config, self.state))

        def move_folder(a: MoveFolder) -> Outcome:
            self.folder_moves.append(a)
            lines.append(a)
            return executor.execute(a)

        self.listings = FakeListings(self.remote, self.unseen)
        return Reconciler(
            config, self.state, Trees(config), self.listings, move_folder, self.options
        )

    def plan(self, *names: str, notes: bool = False) -> list[str]:
        """Scan (and finish) each mapping named, in turn: the plan's lines."""
        lines: list[Action] = []
        recon = self.reconciler(lines)
        for name in names or ("one",):
            m = self.mapping(name)
            report = ScanReport(m, "")
            for a in recon.scan(m, "", report):
                lines.append(a)
            lines.extend(recon.finish(report))
        return [str(a) for a in lines if notes or not isinstance(a, FolderInode)]


@pytest.fixture
def world(tmp_path: Path):
    state = StateStore(None)
    w = World(tmp_path, state)
    yield w
    for p in w.locked:
        p.chmod(0o755)
    state.close()


# -- the table: each case is a setup, decorated with the plan it must give ----------------


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[World], None]
    expected: list[str]
    scan: tuple[str, ...] = ("one",)
    notes: bool = False  # also list the bookkeeping (`note folder …`)
    asked: list[str] | None = None  # the remote folders listed, in order (None: not checked)
    folder_moves: int | None = None  # calls to the `move_folder` port (None: not checked)


CASES: list[Case] = []
TRASH = {"deletes": "trash", "max_delete_percent": 100}


def case(
    *expected: str,
    sync: dict[str, Any] | None = None,
    options: ScanOptions | None = None,
    scan: tuple[str, ...] = ("one",),
    notes: bool = False,
    asked: list[str] | None = None,
    folder_moves: int | None = None,
) -> Callable[[Callable[[World], None]], Callable[[World], None]]:
    """Register the decorated setup as a case named after it."""

    def register(setup: Callable[[World], None]) -> Callable[[World], None]:
        def full(w: World) -> None:
            w.sync = dict(sync or {})
            w.options = options or ScanOptions()
            setup(w)

        CASES.append(Case(setup.__name__, full, list(expected), scan, notes, asked, folder_moves))
        return setup

    return register


# new, unchanged, changed


@case(
    "upload a.txt (new, 8 bytes)",
    "upload docs/b.txt (new, 8 bytes)",
    "upload docs/c.txt (new, 8 bytes)",
    asked=["", "docs"],
)
def new_files_are_uploaded_and_each_folder_is_listed_once(w: World) -> None:
    for rel in ("one/a.txt", "one/docs/b.txt", "one/docs/c.txt"):
        w.write(rel)


@case("mkdir docs", "upload docs/b.txt (new, 8 bytes)", asked=["docs"])
def a_folder_unknown_remotely_is_created_before_its_first_upload(w: World) -> None:
    w.write("one/docs/b.txt")
    w.unseen = {"docs"}


@case(notes=True, asked=[])
def unchanged_files_plan_nothing_not_even_bookkeeping(w: World) -> None:
    for rel in ("one/a.txt", "one/docs/b.txt"):
        w.write(rel)
    w.synced("one/a.txt", "one/docs/b.txt")


@case("note folder docs (inode ?)", notes=True)
def a_folder_seen_for_the_first_time_has_its_inode_noted(w: World) -> None:
    w.write("one/a.txt")
    w.synced("one/a.txt")
    w.path("one/docs").mkdir()


@case("upload a.txt (changed, 11 bytes)", asked=[])
def a_file_of_another_size_is_uploaded_as_changed(w: World) -> None:
    w.write("one/a.txt")
    w.synced("one/a.txt")
    w.write("one/a.txt", b"new content")


@case("verify a.txt (modified time changed; hash to compare)")
def a_touched_file_is_verified_by_its_hash_not_uploaded(w: World) -> None:
    w.write("one/a.txt")
    w.synced("one/a.txt")
    w.touch("one/a.txt")


@case("hold a.txt (empty file would overwrite remote content)")
def a_file_emptied_is_held(w: World) -> None:
    w.write("one/a.txt")
    w.synced("one/a.txt")
    w.write("one/a.txt", b"")


# renames and moves


@case("move docs/a.txt -> docs/b.txt (same inode and content)", asked=[])
def a_file_renamed_in_its_folder_is_moved_not_uploaded_or_deleted(w: World) -> None:
    w.write("one/docs/a.txt")
    w.synced("one/docs/a.txt")
    w.rename("one/docs/a.txt", "one/docs/b.txt")


@case("move docs/a.txt -> archive/a.txt (same inode and content)", sync=TRASH, asked=[])
def a_file_moved_across_folders_is_moved_not_trashed(w: World) -> None:
    w.write("one/docs/a.txt")
    w.write("one/keep.txt")
    w.synced("one/docs/a.txt", "one/keep.txt")
    w.rename("one/docs/a.txt", "one/archive/a.txt")


@case("move inbox/report.txt -> filed/report.txt (same inode and content)", scan=("two",))
def a_file_moved_into_another_mapping_is_moved_there(w: World) -> None:
    w.write("one/inbox/report.txt")
    w.synced("one/inbox/report.txt")
    w.rename("one/inbox/report.txt", "two/filed/report.txt")


@case("move folder old -> new (3 files, one remote call)", asked=[], folder_moves=1)
def a_folder_renamed_is_one_remote_call_and_its_files_are_not_uploaded(w: World) -> None:
    for rel in ("one/old/x.txt", "one/old/y.txt", "one/old/sub/z.txt"):
        w.write(rel)
    w.synced("one/old/x.txt", "one/old/y.txt", "one/old/sub/z.txt")
    w.rename("one/old", "one/new")


# (a gone folder's records go with it: `Forget.folders`)
@case(
    "forget the records in 1 folder old (gone locally; nothing remote is touched)", folder_moves=0
)
def a_new_folder_that_got_a_gone_folders_inode_is_no_move(w: World) -> None:
    """Its inode number alone proves nothing: nothing recorded in `old` is in it."""
    w.write("one/old/x.txt")
    w.synced("one/old/x.txt")
    w.path("one/old/x.txt").unlink()
    w.path("one/old").rmdir()
    w.path("one/fresh").mkdir()
    w.state.set_dir_inode(w.mapping().key, "old", w.path("one/fresh").stat().st_ino)


@case("move docs/a.txt -> docs/b.txt (same content)", sync=TRASH)
def a_copy_then_delete_is_a_move_by_content(w: World) -> None:
    w.write("one/docs/a.txt")
    w.write("one/keep.txt")
    w.synced("one/docs/a.txt", "one/keep.txt")
    w.write("one/docs/b.txt", w.path("one/docs/a.txt").read_bytes())  # a new inode
    w.path("one/docs/a.txt").unlink()


@case(
    "upload docs/b.txt (new, 8 bytes)",
    "forget 1 record (gone locally; nothing remote is touched)",
    options=ScanOptions(content_moves=False),
    asked=["docs"],
)
def without_content_moves_a_copy_then_delete_is_an_upload_and_a_delete(w: World) -> None:
    w.write("one/docs/a.txt")
    w.synced("one/docs/a.txt")
    w.write("one/docs/b.txt", w.path("one/docs/a.txt").read_bytes())
    w.path("one/docs/a.txt").unlink()


@case("upload docs/b.txt (new, 8 bytes)")
def a_copy_whose_original_is_still_there_is_an_upload(w: World) -> None:
    w.write("one/docs/a.txt")
    w.synced("one/docs/a.txt")
    w.write("one/docs/b.txt", w.path("one/docs/a.txt").read_bytes())


# deletes


@case("forget 2 records (gone locally; nothing remote is touched)")
def under_deletes_keep_gone_files_are_only_forgotten(w: World) -> None:
    for rel in ("one/a.txt", "one/b.txt", "one/keep.txt"):
        w.write(rel)
    w.synced("one/a.txt", "one/b.txt", "one/keep.txt")
    w.path("one/a.txt").unlink()
    w.path("one/b.txt").unlink()


@case("forget 1 record (no longer a file of this mapping; nothing remote is touched)", sync=TRASH)
def a_recorded_file_that_became_a_folder_is_forgotten_not_trashed(w: World) -> None:
    w.write("one/a.txt")
    w.write("one/keep.txt")
    w.synced("one/a.txt", "one/keep.txt")
    w.path("one/a.txt").unlink()
    w.path("one/a.txt").mkdir()


@case("trash folder docs (2 files) (deleted locally)", "trash a.txt (deleted locally)", sync=TRASH)
def under_deletes_trash_a_gone_folder_is_one_trash_and_a_gone_file_another(w: World) -> None:
    files = ("one/a.txt", "one/keep.txt", "one/docs/b.txt", "one/docs/sub/c.txt")
    for rel in files:
        w.write(rel)
    w.synced(*files)
    w.path("one/a.txt").unlink()
    for rel in ("one/docs/b.txt", "one/docs/sub/c.txt"):
        w.path(rel).unlink()
    w.path("one/docs/sub").rmdir()
    w.path("one/docs").rmdir()


def _ten_files_then_delete(w: World, n: int) -> None:
    files = [f"one/f{i}.txt" for i in range(10)]
    for rel in files:
        w.write(rel)
    w.synced(*files)
    for rel in files[:n]:
        w.path(rel).unlink()


@case(
    "blocked 3 deletes (3 files would be trashed, more than sync.max_delete (2))",
    sync={**TRASH, "max_delete": 2},
)
def the_delete_guard_blocks_more_than_max_delete(w: World) -> None:
    _ten_files_then_delete(w, 3)


@case(
    "blocked 2 deletes (2 of 10 files (20 %) would be trashed, more than "
    "sync.max_delete_percent (10 %))",
    sync={"deletes": "trash"},
)
def the_delete_guard_blocks_more_than_max_delete_percent(w: World) -> None:
    _ten_files_then_delete(w, 2)


@case("trash f0.txt (deleted locally)", sync={"deletes": "trash"})
def one_delete_in_ten_is_within_max_delete_percent(w: World) -> None:
    _ten_files_then_delete(w, 1)


@case(
    "trash 3 files in the mapping root (deleted locally)",
    sync={"deletes": "trash", "max_delete": 2},
    options=ScanOptions(max_delete=3),
)
def a_max_delete_override_lifts_both_limits_up_to_its_count(w: World) -> None:
    _ten_files_then_delete(w, 3)


@case(
    "blocked 3 deletes (3 files would be trashed, more than --max-delete 2)",
    sync=TRASH,
    options=ScanOptions(max_delete=2),
)
def a_max_delete_override_is_itself_a_limit(w: World) -> None:
    _ten_files_then_delete(w, 3)


@case(
    "refuse locked (permission denied: folder cannot be read)",
    "blocked 1 delete (the scan could not read locked; nothing is deleted after a scan "
    "that missed folders)",
    sync=TRASH,
)
def an_incomplete_scan_trashes_nothing_and_says_why(w: World) -> None:
    for rel in ("one/a.txt", "one/keep.txt", "one/locked/b.txt"):
        w.write(rel)
    w.synced("one/a.txt", "one/keep.txt", "one/locked/b.txt")
    w.path("one/a.txt").unlink()
    w.lock("one/locked")


@case("refuse locked (permission denied: folder cannot be read)")
def an_incomplete_scan_forgets_nothing_under_deletes_keep(w: World) -> None:
    for rel in ("one/a.txt", "one/locked/b.txt"):
        w.write(rel)
    w.synced("one/a.txt", "one/locked/b.txt")
    w.path("one/a.txt").unlink()
    w.lock("one/locked")


# adoption: a new file whose remote folder already holds that name


def twin(**kw: Any) -> Dentry:
    return Dentry(**{"uuid": "uuid-twin", "id": "id-twin", "name": "a.txt", "version": 3, **kw})


@case("adopt a.txt (remote twin version 3; stamp matches if the hash does)", asked=[""])
def a_twin_stamped_with_the_files_sha256_is_adopted(w: World) -> None:
    w.write("one/a.txt")
    w.remote = {"": {"a.txt": twin(size=8, stamp=sha(content("one/a.txt")))}}


@case("adopt a.txt (remote twin version 3; same size)", sync={"adopt": "size"})
def an_unstamped_twin_of_the_same_size_is_adopted_under_adopt_size(w: World) -> None:
    w.write("one/a.txt")
    w.remote = {"": {"a.txt": twin(size=8)}}


@case("upload a.txt (remote file of that name was not uploaded by syncd, 8 bytes)")
def an_unstamped_twin_is_uploaded_over_under_adopt_stamped(w: World) -> None:
    w.write("one/a.txt")
    w.remote = {"": {"a.txt": twin(size=8)}}


@case(
    "upload a.txt (remote file of that name was not uploaded by syncd, 8 bytes)",
    sync={"adopt": "size"},
)
def a_twin_of_other_content_is_uploaded_over_even_under_adopt_size(w: World) -> None:
    w.write("one/a.txt")
    w.remote = {"": {"a.txt": twin(size=99)}}


@case("upload a.txt (new, 8 bytes)", asked=[""])
def a_remote_folder_of_that_name_is_no_twin(w: World) -> None:
    w.write("one/a.txt")
    w.remote = {"": {"a.txt": twin(is_folder=True)}}


# refusals


@case("refuse bad*name.txt (invalid name: contains '*')", asked=[])
def a_file_with_a_name_the_remote_refuses_is_refused(w: World) -> None:
    w.write("one/bad*name.txt")


@case("refuse link.txt (symlink: not followed (sync.follow_symlinks: false))")
def a_symlink_is_refused(w: World) -> None:
    w.write("one/a.txt")
    w.synced("one/a.txt")
    os.symlink("a.txt", w.path("one/link.txt"))


@case("refuse pipe (special file: FIFO)")
def a_special_file_is_refused_and_never_opened(w: World) -> None:
    os.mkfifo(w.path("one/pipe"))


@case("refuse report.txt (name differs only in case: from Report.txt)", asked=[])
def a_new_name_that_differs_from_a_recorded_one_only_in_case_is_refused(w: World) -> None:
    w.write("one/Report.txt")
    w.synced("one/Report.txt")
    w.write("one/report.txt")


@case("upload A.txt (new, 8 bytes)", "refuse a.txt (name differs only in case: from A.txt)")
def of_two_new_names_that_differ_only_in_case_the_first_wins(w: World) -> None:
    w.write("one/A.txt")
    w.write("one/a.txt")


@case("refuse a*.txt (invalid name: contains '*')", sync=TRASH)
def a_file_renamed_to_a_refused_name_keeps_its_remote_copy(w: World) -> None:
    w.write("one/a.txt")
    w.write("one/keep.txt")
    w.synced("one/a.txt", "one/keep.txt")
    w.rename("one/a.txt", "one/a*.txt")


# issues


@case("refuse bad*.txt (invalid name: contains '*')", "clear 1 stale issue")
def the_issue_of_a_file_that_is_gone_is_cleared_and_a_present_ones_kept(w: World) -> None:
    w.write("one/bad*.txt")
    key = w.mapping().key
    w.state.put_issue(key, Issue("bad*.txt", IssueKind.REFUSED, "invalid name", 8, 1))
    w.state.put_issue(key, Issue("gone.txt", IssueKind.FAILED, "upload failed", 8, 1))


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.name)
def test_plan(world: World, c: Case) -> None:
    c.setup(world)
    got = world.plan(*c.scan, notes=c.notes)
    assert [_no_inode(line) for line in got] == c.expected
    if c.asked is not None:
        assert world.listings is not None and world.listings.asked == c.asked
    if c.folder_moves is not None:
        assert len(world.folder_moves) == c.folder_moves


def _no_inode(line: str) -> str:
    """`note folder x (inode 1234)` -> `note folder x (inode ?)`: inode numbers vary."""
    head, sep, _ = line.partition(" (inode ")
    return f"{head} (inode ?)" if sep and line.startswith("note folder ") else line


def test_a_gone_folder_under_deletes_keep_forgets_its_records_with_it(world: World) -> None:
    """The loose records by path, the folder (and what it held) by its path."""
    w = world
    for rel in ("one/a.txt", "one/keep.txt", "one/docs/b.txt", "one/docs/c.txt"):
        w.write(rel)
    w.synced("one/a.txt", "one/keep.txt", "one/docs/b.txt", "one/docs/c.txt")
    w.path("one/a.txt").unlink()
    shutil.rmtree(w.path("one/docs"))
    m = w.mapping()
    recon = w.reconciler([])
    report = ScanReport(m, "")
    assert not [a for a in recon.scan(m, "", report) if not isinstance(a, FolderInode)]
    (forget,) = recon.finish(report)
    assert isinstance(forget, Forget)
    assert (forget.paths, forget.folders) == (("a.txt",), ("docs",))


def test_a_stamped_twin_of_other_content_is_planned_as_an_adoption_then_uploaded_over(
    world: World,
) -> None:
    """The plan adopts any stamped twin; the executor's hash of the file tells it is not
    ours, and the upload goes over it."""
    w = world
    w.write("one/a.txt")
    w.remote = {"": {"a.txt": twin(size=8, stamp=sha(b"other content"))}}
    (adopt,) = [a for a in w.reconciler([]).path(w.mapping(), "a.txt")]
    assert isinstance(adopt, Adopt)
    file_sha = Trees(w.config()).of(w.mapping()).hash(adopt.file)
    assert str(adopt_verdict(adopt, file_sha)) == (
        "upload a.txt (remote file of that name has other content, 8 bytes)"
    )


# -- one path at a time: the daemon's events (`Reconciler.path`) -------------------------


def _path_new(w: World) -> None:
    w.write("one/a.txt")


def _path_renamed(w: World) -> None:
    w.write("one/a.txt")
    w.synced("one/a.txt")
    w.rename("one/a.txt", "one/b.txt")


def _path_gone_with_an_issue(w: World) -> None:
    w.state.put_issue(w.mapping().key, Issue("a.txt", IssueKind.FAILED, "upload failed", 8, 1))


def _path_case(w: World) -> None:
    w.write("one/A.txt")
    w.synced("one/A.txt")
    w.write("one/a.txt")


def _path_symlink(w: World) -> None:
    os.symlink("elsewhere", w.path("one/a.txt"))


def _path_twin(w: World) -> None:
    w.write("one/a.txt")
    w.remote = {"": {"a.txt": twin(size=8)}}


@pytest.mark.parametrize(
    ("setup", "rel", "expected"),
    [
        pytest.param(_path_new, "a.txt", ["upload a.txt (new, 8 bytes)"], id="new"),
        pytest.param(
            _path_renamed, "b.txt", ["move a.txt -> b.txt (same inode and content)"], id="renamed"
        ),
        pytest.param(_path_gone_with_an_issue, "a.txt", ["clear 1 stale issue"], id="gone"),
        pytest.param(_path_new, "nothing.txt", [], id="gone-without-an-issue"),
        pytest.param(
            _path_case,
            "a.txt",
            ["refuse a.txt (name differs only in case: from A.txt)"],
            id="case-collision",
        ),
        pytest.param(
            _path_symlink,
            "a.txt",
            ["refuse a.txt (symlink: not followed (sync.follow_symlinks: false))"],
            id="symlink",
        ),
        pytest.param(
            _path_twin,
            "a.txt",
            ["upload a.txt (remote file of that name was not uploaded by syncd, 8 bytes)"],
            id="unstamped-twin",
        ),
    ],
)
def test_one_path(
    world: World, setup: Callable[[World], None], rel: str, expected: list[str]
) -> None:
    setup(world)
    assert [str(a) for a in world.reconciler([]).path(world.mapping(), rel)] == expected


# -- the root guard (`deletes: trash`): a root that looks unmounted is not synced ----------


def _first_sync(w: World) -> None:
    w.write("one/a.txt")


def _records_empty_root(w: World) -> None:
    w.write("one/a.txt")
    w.synced("one/a.txt")
    w.path("one/a.txt").unlink()


def _marked(w: World) -> None:
    """A sync with deletes on was made: the marker is there, the file system noted."""
    w.write("one/a.txt")
    w.synced("one/a.txt")
    w.path(f"one/{MARKER}").touch()
    dev = w.path("one").stat().st_dev
    w.state.set_mapping_info(w.mapping().key, first_synced=1.0, dev=dev)


def _marker_missing(w: World) -> None:
    _marked(w)
    w.path(f"one/{MARKER}").unlink()


def _only_the_marker(w: World) -> None:
    _marked(w)
    w.path("one/a.txt").unlink()


def _other_file_system(w: World) -> None:
    _marked(w)
    w.state.set_mapping_info(w.mapping().key, dev=w.path("one").stat().st_dev + 1)


def _synced_before_deletes_were_on(w: World) -> None:
    w.write("one/a.txt")
    w.synced("one/a.txt")


EMPTY = "local folder is empty but syncd has records for it (an unmounted share?)"
MARK = "mark <root> as a synced root"


@pytest.mark.parametrize(
    ("setup", "deletes", "expected"),
    [
        pytest.param(_first_sync, "trash", (None, MARK), id="first-sync-writes-the-marker"),
        pytest.param(_records_empty_root, "trash", (EMPTY, None), id="records-but-empty-root"),
        pytest.param(_only_the_marker, "trash", (EMPTY, None), id="root-with-only-its-marker"),
        pytest.param(
            _marker_missing,
            "trash",
            (
                f"the {MARKER} marker syncd wrote into the local folder is missing (unmounted?)",
                None,
            ),
            id="marker-missing",
        ),
        pytest.param(
            _other_file_system,
            "trash",
            ("local folder is on another file system than at its first sync (unmounted?)", None),
            id="another-file-system",
        ),
        pytest.param(_marked, "trash", (None, None), id="marked-root-goes-ahead"),
        pytest.param(
            _synced_before_deletes_were_on, "trash", (None, MARK), id="marker-written-late"
        ),
        pytest.param(_records_empty_root, "keep", (None, None), id="no-guard-under-keep"),
    ],
)
def test_root_guard(
    world: World,
    setup: Callable[[World], None],
    deletes: str,
    expected: tuple[str | None, str | None],
) -> None:
    world.sync = {"deletes": deletes}
    setup(world)
    verdict = world.reconciler([]).root_check(world.mapping())
    marker = (
        str(verdict.marker).replace(str(world.path("one")), "<root>") if verdict.marker else None
    )
    assert (verdict.problem, marker) == expected
