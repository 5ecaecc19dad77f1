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
