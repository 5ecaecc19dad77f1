"""The SQLite state store on a real file: records per folder, issues, folders, migration."""

import shutil
import sqlite3
from pathlib import Path

import pytest

from syncd.core.errors import StateError
from syncd.core.model import Issue, IssueKind, Notice, NoticeKind, Record
from syncd.state.schema import SCHEMA_VERSION
from syncd.state.store import STATE_FILE, StateStore
from tests.conftest import run_as_nobody

M = "rootUuid:/srv/share"
H = "ab" * 32
V1 = Path(__file__).parent.parent / "data" / "state-v1.db"


@pytest.fixture
def store(tmp_path):
    s = StateStore(tmp_path / "state")
    yield s
    s.close()


def rec(path, size=1, inode=1, version=1, at=1.0):
    return Record(path, size, 1, inode, H, "uuid", "42", version, at)


def test_database_is_wal_and_private(tmp_path, store):
    """The store is a WAL database in a directory only the owner can read."""
    db = sqlite3.connect(tmp_path / "state" / STATE_FILE)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert (tmp_path / "state").stat().st_mode & 0o077 == 0


def test_the_state_files_are_never_world_readable(tmp_path):
    """The database (and SQLite's -wal/-shm) is 0600, or 0640 in a group-readable state dir
    (a unit's StateDirectoryMode=0750); a world-readable one made earlier is tightened."""
    private = tmp_path / "private"
    s = StateStore(private)
    s.put_record(M, rec("a.txt"))
    for name in (STATE_FILE, STATE_FILE + "-wal", STATE_FILE + "-shm"):
        assert (private / name).stat().st_mode & 0o777 == 0o600, name
    s.close()
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    shared.chmod(0o750)
    (shared / STATE_FILE).touch(mode=0o644)
    (shared / STATE_FILE).chmod(0o644)  # as an older syncd left it
    s = StateStore(shared)
    s.put_record(M, rec("a.txt"))
    assert (shared / STATE_FILE).stat().st_mode & 0o777 == 0o640
    assert (shared / (STATE_FILE + "-wal")).stat().st_mode & 0o007 == 0
    s.close()


def test_record_roundtrip_and_issue_cleared_atomically(store):
    """Writing a record after a commit also clears the file's open issue."""
    store.put_issue(
        M, Issue("d/a.txt", IssueKind.FAILED, "upload failed", 1, 2, "x", "y", 3, 9.0, 8.0)
    )
    assert store.issue(M, "d/a.txt").attempts == 3
    r = rec("d/a.txt")
    store.put_record(M, r)
    assert store.record(M, "d/a.txt") == r
    assert store.records_in(M, "d") == [r]
    assert store.issue(M, "d/a.txt") is None
    assert store.record("other:/x", "d/a.txt") is None


def test_known_reads_one_folder_only(store):
    """A rescan reads one folder's records at a time, without its subfolders."""
    store.put_record(M, rec("a.txt", inode=1))
    store.put_record(M, rec("d/b.txt", size=5, inode=2))
    store.put_record(M, rec("d/e/c.txt", inode=3))
    assert store.known(M, "") == {"a.txt": (1, 1, 1)}
    assert store.known(M, "d") == {"b.txt": (5, 1, 2)}
    assert store.known(M, "nowhere") == {}


def test_summary_counts_files_and_bytes(store):
    """status' summary: number of files, bytes, last upload time."""
    store.put_record(M, rec("a", size=10, at=100.0))
    store.put_record(M, rec("x/b", size=5, at=200.0))
    assert store.summary(M) == {"files": 2, "bytes": 15, "last_upload": 200.0}


def test_forget_drops_records_and_issues_of_gone_files(store):
    """Records (and issues) of files that are gone are removed, others stay."""
    store.put_record(M, rec("a"))
    store.put_record(M, rec("d/b"))
    store.put_issue(M, Issue("d/b", IssueKind.REFUSED, "x"))
    store.forget(M, ["d/b"])
    assert store.summary(M)["files"] == 1
    assert store.issue(M, "d/b") is None
    assert store.forget_dir(M, "") == 1


def test_forget_folder_drops_the_remote_ids_of_the_subtree_only(store):
    """Forgetting a remote folder forgets its descendants but not siblings with a common prefix."""
    for path in ("", "a", "a/b", "a/b/c", "ab", "a_"):
        store.put_folder(M, path, "s", f"id-{path}", f"uuid-{path}")
    store.forget_folder(M, "a")
    assert sorted(store.folders(M)) == ["", "a_", "ab"]
    store.forget_folder(M, "")
    assert store.folders(M) == {}


def test_a_folder_move_rewrites_folder_rows_only(store):
    """Renaming a folder moves its records and subfolders in one transaction."""
    store.put_record(M, rec("q3/a.txt"))
    store.put_record(M, rec("q3/deep/b.txt"))
    store.put_record(M, rec("q30/c.txt"))
    store.put_issue(M, Issue("q3/deep/x", IssueKind.REFUSED, "x"))
    store.move_dir(M, "q3", "2026/q3")
    assert store.record(M, "2026/q3/deep/b.txt") is not None
    assert store.record(M, "q3/a.txt") is None
    assert store.record(M, "q30/c.txt") is not None
    assert store.issue(M, "2026/q3/deep/x") is not None


def test_records_are_found_by_inode_across_mappings(store):
    """Move detection looks a new file's inode up in every mapping."""
    store.put_record(M, rec("old/name.txt", inode=99))
    store.put_record("other:/srv/b", rec("x.txt", inode=5))
    assert [(k, r.rel_path) for k, r in store.records_with_inode(99)] == [(M, "old/name.txt")]


def test_notices_and_tallies_for_status(store):
    """Remote edits overwritten, adoptions… are kept for `status`, newest first."""
    store.add_notice(M, Notice("a", NoticeKind.REMOTE_OVERWRITTEN, "v3 by x", 1.0))
    store.add_notice(M, Notice("b", NoticeKind.KEPT_BOTH, "", 2.0))
    assert [n.rel_path for n in store.notices(M)] == ["b", "a"]
    store.tally(M, "adopted", 3)
    store.tally(M, "adopted")
    assert store.tallies(M) == {"adopted": 4}


def test_state_survives_reopen(tmp_path):
    """What was written is there after closing and opening again."""
    s = StateStore(tmp_path)
    s.put_record(M, rec("a"))
    s.close()
    s = StateStore(tmp_path)
    assert s.record(M, "a") is not None
    s.close()


def test_readonly_store_reads_while_writer_is_open(tmp_path, store):
    """`status` can read while the daemon holds the database open."""
    store.put_record(M, rec("a"))
    ro = StateStore(tmp_path / "state", readonly=True)
    assert ro.summary(M)["files"] == 1
    with pytest.raises(StateError):
        ro.put_issue(M, Issue("b", IssueKind.REFUSED, "x"))
    ro.close()


def test_status_reads_a_read_only_state_dir(shared_tmp):
    """A state dir the reader cannot write to (no -shm file possible) is still readable."""
    d = shared_tmp / "state"
    s = StateStore(d)
    s.put_record(M, rec("a"))
    s.close()
    for leftover in d.glob("state.db-*"):
        leftover.unlink()
    d.chmod(0o555)
    (d / STATE_FILE).chmod(0o644)
    code = (
        "from pathlib import Path; from syncd.state.store import StateStore; "
        f"s = StateStore(Path({str(d)!r}), readonly=True); print(s.summary({M!r})['files'])"
    )
    out = run_as_nobody(["-c", code])
    assert out.stdout.strip() == "1", out.stderr


def test_dry_run_store_without_state_is_empty_and_creates_nothing(tmp_path):
    """A dry run before the first sync reads an empty store and writes no file."""
    s = StateStore.open(tmp_path / "never", dry_run=True)
    assert s.known(M, "") == {}
    s.close()
    assert not (tmp_path / "never").exists()


def test_unusable_state_dir_is_a_clear_error(tmp_path):
    """A state_dir that cannot be created gives a StateError naming it."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StateError, match="file"):
        StateStore(blocker / "sub")


def test_a_v1_database_is_upgraded_in_place(tmp_path):
    """State written by the v1 store (before folder ids and binary hashes) is migrated:
    records, issues, the remote folder cache and the daemon snapshot survive."""
    shutil.copy(V1, tmp_path / STATE_FILE)
    s = StateStore(tmp_path)
    k1 = "rootFolderUuid0000000000000000001:/srv/share/reports"
    k2 = "otherRootUuid00000000000000000002:/srv/share/a:b"
    sales = s.record(k1, "q3/sales.xlsx")
    assert sales == Record(
        "q3/sales.xlsx",
        1234,
        1700000000000000001,
        12,
        "b" * 64,
        "uuidSales00000000000000000000001",
        "222892787488",
        3,
        1700000002.5,
    )
    assert s.known(k1, "q3/deep") == {"x y.txt": (0, 1700000000000000002, 13)}
    assert s.record(k2, "n.txt").version == 1
    assert s.issue(k1, "q3/fail.bin").attempts == 2
    assert s.issue(k1, "bad*name.txt").kind is IssueKind.REFUSED
    assert s.folders(k1)["q3/deep"] == (
        "2256226586",
        "222892787489",
        "uuidDeep0000000000000000000000001",
    )
    assert s.meta("daemon.status")["uploaded"] == 4
    assert s.summary(k1)["files"] == 3
    s.close()
    db = sqlite3.connect(tmp_path / STATE_FILE)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(
        SCHEMA_VERSION
    )
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def test_rows_are_smaller_than_in_v1(tmp_path):
    """An integer folder id and a 32-byte hash instead of a mapping key and 64 hex digits."""
    v1 = sqlite3.connect(V1)
    v1_row = v1.execute("SELECT * FROM files LIMIT 1").fetchone()
    v1.close()
    s = StateStore(tmp_path)
    s.put_record(M, rec("q3/sales.xlsx"))
    s.close()
    db = sqlite3.connect(tmp_path / STATE_FILE)
    row = db.execute("SELECT * FROM files").fetchone()
    db.close()
    assert isinstance(row[0], int) and isinstance(row[5], bytes) and len(row[5]) == 32
    assert isinstance(v1_row[0], str) and len(v1_row[5]) == 64


def test_a_newer_schema_is_refused(tmp_path):
    """A database from a newer syncd is not touched: a clear error says to upgrade."""
    s = StateStore(tmp_path)
    s.close()
    db = sqlite3.connect(tmp_path / STATE_FILE)
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(StateError, match="upgrade syncd"):
        StateStore(tmp_path)
