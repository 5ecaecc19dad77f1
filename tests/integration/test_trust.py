"""What a remote change must prove (product.md §4.8, issue "Trust"), on real files and a
real state store, in process: the reconcile loop's decisions as `str(action)`."""

from __future__ import annotations

import hashlib
import os

import pytest

from syncd.config import load
from syncd.core.actions import FolderInode
from syncd.core.model import Record
from syncd.execute.listings import NoListings
from syncd.local.trees import Trees
from syncd.plan.ports import ScanOptions
from syncd.reconcile.loop import Reconciler, ScanReport
from syncd.state.store import StateStore
from tests.conftest import ROOT_UUID, write_config

pytestmark = pytest.mark.integration


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class World:
    """A share, its config, a real store, and a reconcile loop over them (no remote)."""

    def __init__(self, tmp_path, **sync) -> None:
        self.share = tmp_path / "share"
        self.share.mkdir()
        mapping = {"local": str(self.share), "parent_dentry_uuid": ROOT_UUID}
        self.config = load(write_config(tmp_path, None, [mapping], sync=sync))
        self.m = self.config.mappings[0]
        self.state = StateStore(self.config.state_dir)
        self.moved: list[str] = []

    def record(self, rel: str, data: bytes, *, like: str | None = None) -> None:
        """A record of `rel` with content `data`; its stat is that of file `like` (or rel)."""
        st = os.stat(self.share / (like or rel))
        rec = Record(
            rel, st.st_size, st.st_mtime_ns, st.st_ino, sha(data), "u-" + rel, "i-" + rel, 1
        )
        self.state.put_record(self.m.key, rec)

    def recon(self, **options) -> Reconciler:
        def move_folder(a):
            self.moved.append(str(a))
            from syncd.core.actions import Outcome

            return Outcome.PLANNED

        return Reconciler(
            self.config,
            self.state,
            Trees(self.config),
            NoListings(),
            move_folder,
            ScanOptions(**options),
        )

    def scan(self, **options) -> list[str]:
        recon = self.recon(**options)
        report = ScanReport(self.m, "")
        actions = list(recon.scan(self.m, "", report)) + list(recon.finish(report))
        return [str(a) for a in actions if not isinstance(a, FolderInode)]


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.state.close()


def test_a_new_file_with_a_gone_files_inode_size_and_mtime_is_not_that_file_moved(world):
    """Finding 1: `rm a.cfg`, then a new `b.cfg` with the same inode, size and mtime but
    other bytes (an unpacked archive): an upload of b, never a rename of a's remote copy."""
    (world.share / "b.cfg").write_bytes(b"BBBB")
    world.record("a.cfg", b"AAAA", like="b.cfg")  # what a.cfg was: same inode, size, mtime
    assert world.scan() == [
        "upload b.cfg (new, 4 bytes)",
        "forget 1 record (gone locally; nothing remote is touched)",
    ]
    (action,) = world.recon().path(world.m, "b.cfg")
    assert str(action) == "upload b.cfg (new, 4 bytes)"


def test_a_file_moved_with_its_content_is_still_a_move(world):
    (world.share / "b.cfg").write_bytes(b"AAAA")
    world.record("a.cfg", b"AAAA", like="b.cfg")
    assert world.scan()[0] == "move a.cfg -> b.cfg (same inode and content)"


def test_a_case_only_rename_is_a_rename(world):
    """Finding 5: `Report.txt` -> `report.txt` is a rename (one call), never a collision
    of the file with itself (which left no live remote copy under deletes: trash)."""
    (world.share / "report.txt").write_bytes(b"R")
    world.record("Report.txt", b"R", like="report.txt")
    assert world.scan()[0] == "move Report.txt -> report.txt (same inode and content)"
    (action,) = world.recon().path(world.m, "report.txt")
    assert str(action) == "move Report.txt -> report.txt (same inode and content)"


def test_a_real_case_collision_is_still_refused(world):
    (world.share / "Report.txt").write_bytes(b"R")
    world.record("Report.txt", b"R")
    (world.share / "report.txt").write_bytes(b"other")
    (action,) = world.recon().path(world.m, "report.txt")
    assert str(action) == "refuse report.txt (name differs only in case: from Report.txt)"


def synced(world: World, *files: str) -> None:
    """`files` (relative paths) exist with their own names as content, and are recorded
    with their folders, as after a sync."""
    for rel in files:
        path = world.share / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rel.encode())
        world.record(rel, rel.encode())
        folder = rel.rpartition("/")[0]
        while folder:
            world.state.set_dir_inode(world.m.key, folder, os.stat(world.share / folder).st_ino)
            folder = folder.rpartition("/")[0]


def test_an_excluded_folder_is_forgotten_never_trashed(tmp_path):
    """Finding 4: adding `exclude: ["drafts/"]` with deletes: trash moved the remote drafts/
    folder into the trash (then purged): an exclude is not a local delete."""
    w = World(tmp_path, deletes="trash", max_delete_percent=100)
    try:
        synced(w, "drafts/a.txt", "drafts/b.txt", "keep.txt")
        mapping = {"local": str(w.share), "parent_dentry_uuid": ROOT_UUID, "exclude": ["drafts/"]}
        w.config = load(write_config(tmp_path, None, [mapping], sync={"deletes": "trash"}))
        w.m = w.config.mappings[0]
        assert w.scan() == [
            "forget the records in 1 folder drafts (no longer synced: the config leaves it "
            "out; nothing remote is touched)"
        ]
    finally:
        w.state.close()


def test_a_deleted_file_that_is_excluded_now_is_forgotten(tmp_path):
    w = World(tmp_path, deletes="trash", max_delete_percent=100)
    try:
        synced(w, "notes.bak", "keep.txt")
        (w.share / "notes.bak").unlink()
        w.config = load(
            write_config(
                tmp_path,
                None,
                [{"local": str(w.share), "parent_dentry_uuid": ROOT_UUID, "exclude": ["*.bak"]}],
                sync={"deletes": "trash", "max_delete_percent": 100},
            )
        )
        assert w.scan() == [
            "forget 1 record (no longer a file of this mapping; nothing remote is touched)"
        ]
    finally:
        w.state.close()


def test_subfolders_false_forgets_the_subfolders_records(tmp_path):
    w = World(tmp_path, deletes="trash", max_delete_percent=100)
    try:
        synced(w, "sub/a.txt", "top.txt")
        mapping = {"local": str(w.share), "parent_dentry_uuid": ROOT_UUID, "subfolders": False}
        sync = {"deletes": "trash", "max_delete_percent": 100}
        w.config = load(write_config(tmp_path, None, [mapping], sync=sync))
        w.m = w.config.mappings[0]
        assert w.scan() == [
            "forget the records in 1 folder sub (no longer synced: the config leaves it "
            "out; nothing remote is touched)"
        ]
    finally:
        w.state.close()


def test_a_removed_mapping_is_forgotten(tmp_path):
    w = World(tmp_path)
    try:
        synced(w, "a.txt")
        other = tmp_path / "other"
        other.mkdir()
        mapping = {"local": str(other), "parent_dentry_uuid": "otherRootUuid0000000000000000002"}
        w.config = load(write_config(tmp_path, None, [mapping]))
        assert [str(a) for a in w.recon().removed_mappings()] == [
            f"forget 1 record of {w.share} (the mapping was removed from the config; "
            "nothing remote is touched)"
        ]
    finally:
        w.state.close()
