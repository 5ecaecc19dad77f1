"""The SQLite state store on a real file: records, issues, folders, read-only access."""

import sqlite3

import pytest

from syncd.errors import StateError
from syncd.model import Issue, IssueKind, Record
from syncd.state import STATE_FILE, StateStore


@pytest.fixture
def store(tmp_path):
    s = StateStore(tmp_path / "state")
    yield s
    s.close()


def test_database_is_wal_and_private(tmp_path, store):
    """The store is a WAL database in a directory only the owner can read."""
    db = sqlite3.connect(tmp_path / "state" / STATE_FILE)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert (tmp_path / "state").stat().st_mode & 0o077 == 0


def test_record_roundtrip_and_issue_cleared_atomically(store):
    """Writing a record after a commit also clears the file's open issue."""
    store.put_issue(
        "m", Issue("a.txt", IssueKind.FAILED, "upload failed", 1, 2, "x", "y", 3, 9.0, 8.0)
    )
    assert store.issue("m", "a.txt").attempts == 3
    rec = Record("a.txt", 1, 2, 3, "h" * 64, "uuid", "42", 2, 5.0)
    store.put_record("m", rec)
    assert store.record("m", "a.txt") == rec
    assert store.records("m") == {"a.txt": rec}
    assert store.issue("m", "a.txt") is None
    assert store.records("other") == {}


def test_summary_counts_files_and_bytes(store):
    """status' summary: number of files, bytes, last upload time."""
    store.put_record("m", Record("a", 10, 1, 1, "h", "u", "1", 1, 100.0))
    store.put_record("m", Record("b", 5, 1, 2, "h", "u", "2", 1, 200.0))
    assert store.summary("m") == {"files": 2, "bytes": 15, "last_upload": 200.0}


def test_forget_folder_drops_the_subtree_only(store):
    """Forgetting a folder forgets its descendants but not siblings with a common prefix."""
    for path in ("", "a", "a/b", "a/b/c", "ab", "a_"):
        store.put_folder("root", path, "s", f"id-{path}", f"uuid-{path}")
    store.forget_folder("root", "a")
    assert sorted(store.folders("root")) == ["", "a_", "ab"]
    store.forget_folder("root", "")
    assert store.folders("root") == {}


def test_state_survives_reopen(tmp_path):
    """What was written is there after closing and opening again."""
    s = StateStore(tmp_path)
    s.put_record("m", Record("a", 1, 1, 1, "h", "u", "1", 1, 1.0))
    s.close()
    s = StateStore(tmp_path)
    assert "a" in s.records("m")
    s.close()


def test_readonly_store_reads_while_writer_is_open(tmp_path, store):
    """`status` can read while the daemon holds the database open."""
    store.put_record("m", Record("a", 1, 1, 1, "h", "u", "1", 1, 1.0))
    ro = StateStore(tmp_path / "state", readonly=True)
    assert ro.summary("m")["files"] == 1
    with pytest.raises(StateError):
        ro.put_record("m", Record("b", 1, 1, 1, "h", "u", "1", 1, 1.0))
    ro.close()


def test_dry_run_store_without_state_is_empty_and_creates_nothing(tmp_path):
    """A dry run before the first sync reads an empty store and writes no file."""
    s = StateStore.open(tmp_path / "never", dry_run=True)
    assert s.records("m") == {}
    s.close()
    assert not (tmp_path / "never").exists()


def test_unusable_state_dir_is_a_clear_error(tmp_path):
    """A state_dir that cannot be created gives a StateError naming it."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StateError, match="file"):
        StateStore(blocker / "sub")
