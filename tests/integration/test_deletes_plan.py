"""Planning deletes from what a walk saw, over a real state store."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.core.actions import Forget, Trash
from syncd.core.model import Record
from syncd.core.settings import DeleteMode, Mapping
from syncd.plan.deletes import Gone, plan_deletes
from syncd.plan.guards import DeleteLimits
from syncd.state.store import StateStore

pytestmark = pytest.mark.integration
LIMITS = DeleteLimits(1000, 100.0)


@pytest.fixture
def store(tmp_path: Path):
    state = StateStore(tmp_path / "state")
    m = Mapping(tmp_path / "share", "rootUuid")
    for i in range(4):
        rec = Record(f"d/f{i}.txt", 10 + i, 1000 + i, 500 + i, "00" * 32, f"u{i}", f"i{i}", 1, 0)
        state.put_record(m.key, rec)
    yield state, m
    state.close()


def test_a_file_renamed_to_a_refused_name_keeps_its_remote_copy(store) -> None:
    """The refused entry has the record's inode, size and mtime: it is that file, renamed."""
    state, m = store
    gone = Gone(vanished=["d/f2.txt"], refused={502: (12, 1002)})
    assert list(plan_deletes(state, m, gone, DeleteMode.TRASH, LIMITS)) == []


def test_a_new_refused_file_that_got_a_deleted_files_inode_does_not_keep_it(store) -> None:
    """Same inode number, other size and mtime: the inode was reused, the file is deleted."""
    state, m = store
    gone = Gone(vanished=["d/f2.txt"], refused={502: (7, 999_999)})
    planned = list(plan_deletes(state, m, gone, DeleteMode.TRASH, LIMITS))
    assert [type(a) for a in planned] == [Trash]
    assert isinstance(planned[0], Trash) and planned[0].records[0].rel_path == "d/f2.txt"
    kept = list(plan_deletes(state, m, gone, DeleteMode.KEEP, LIMITS))
    assert [type(a) for a in kept] == [Forget]
