"""A rename while a scan runs (issue "Trust", finding 6): a folder listed in its parent and
gone when the walk comes to open it was renamed or moved meanwhile, not deleted. On real
files and a real store, in process; the rename happens at a known moment of the walk."""

from __future__ import annotations

import os

import pytest

from syncd.core.actions import FolderInode
from syncd.reconcile.loop import ScanReport
from tests.integration.test_trust import World, synced

pytestmark = pytest.mark.integration


class RenamingRecords:
    """The real store, but reading the records of the first folder below the root renames
    another of `folders` (once): after the root's listing, before that one is opened."""

    def __init__(self, w: World, folders: list[str]) -> None:
        self.w = w
        self.ids = {w.state.dirs(w.m.key)[f].id: f for f in folders}
        self.renamed: str | None = None

    def known_in(self, dir_id: int):
        first = self.ids.get(dir_id)
        if first is not None and self.renamed is None:
            self.renamed = next(f for f in self.ids.values() if f != first)
            os.rename(self.w.share / self.renamed, self.w.share / f"renamed-{self.renamed}")
        return self.w.state.known_in(dir_id)

    def __getattr__(self, name: str):
        return getattr(self.w.state, name)


def scan(w: World, records=None) -> tuple[list[str], ScanReport]:
    recon = w.recon()
    if records is not None:
        recon.records = records
    report = ScanReport(w.m, "")
    actions = list(recon.scan(w.m, "", report)) + list(recon.finish(report))
    return [str(a) for a in actions if not isinstance(a, FolderInode)], report


def test_a_folder_renamed_during_the_walk_is_not_trashed_and_the_next_scan_moves_it(tmp_path):
    w = World(tmp_path, deletes="trash", max_delete_percent=100)
    try:
        synced(w, *(f"d{i}/f{j}.txt" for i in range(4) for j in range(3)))
        records = RenamingRecords(w, [f"d{i}" for i in range(4)])
        got, report = scan(w, records)
        moved = records.renamed
        assert not [a for a in got if a.startswith(("trash", "forget"))], got
        assert report.complete and report.counters.moving == [moved]
        got, _ = scan(w)
        assert w.moved == [f"move folder {moved} -> renamed-{moved} (3 files, one remote call)"], (
            w.moved
        )
        assert not [a for a in got if a.startswith(("trash", "upload"))], got
    finally:
        w.state.close()
