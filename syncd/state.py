"""The state store: SQLite in WAL mode, in `state_dir/state.db`.

Per file: what was committed (size, mtime_ns, inode, sha256, remote dentry). A file's record
is written only after its commit succeeded, so the store never claims an upload that did not
happen. Per file with a problem: an issue (failed with back-off, refused, held). Per remote
folder: its `(id, uuid)`, so subfolders are created once. `syncd status` opens the same file
read-only while the daemon runs (WAL lets readers and one writer work side by side).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from syncd.errors import StateError
from syncd.model import Issue, IssueKind, Record

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    mapping TEXT NOT NULL, path TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,
    sha256 TEXT NOT NULL, dentry_uuid TEXT NOT NULL, dentry_id TEXT NOT NULL,
    version INTEGER NOT NULL, uploaded_at REAL NOT NULL,
    PRIMARY KEY (mapping, path)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS issues (
    mapping TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL,
    attempts INTEGER NOT NULL, next_retry REAL NOT NULL, last_at REAL NOT NULL,
    PRIMARY KEY (mapping, path)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS folders (
    root TEXT NOT NULL, path TEXT NOT NULL,
    space_id TEXT NOT NULL, dentry_id TEXT NOT NULL, dentry_uuid TEXT NOT NULL,
    PRIMARY KEY (root, path)) WITHOUT ROWID;
-- a committed upload closes the file's issue in the same statement (one round trip)
CREATE TRIGGER IF NOT EXISTS files_close_issue AFTER INSERT ON files BEGIN
    DELETE FROM issues WHERE mapping = NEW.mapping AND path = NEW.path;
END;
"""
STATE_FILE = "state.db"


class StateStore:
    """Thread-safe access to the state database.

    Writes go through one connection under a lock, each a single statement where it can
    be (upload threads would otherwise queue behind a writer that is waiting for the GIL
    between statements). Reads use one connection per thread: WAL lets them run beside
    the writer, without the lock.
    """

    def __init__(
        self, state_dir: Path | None, *, readonly: bool = False, snapshot: bool = False
    ) -> None:
        """Open `state_dir/state.db`; `state_dir=None` is an empty in-memory store."""
        self.path = Path(state_dir) / STATE_FILE if state_dir is not None else Path(":memory:")
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._uri: str | None = None  # for per-thread readers; None: share the one connection
        try:
            if state_dir is None:
                self._db = sqlite3.connect(
                    ":memory:", check_same_thread=False, isolation_level=None
                )
                self._db.executescript(_SCHEMA)
            elif readonly:
                # snapshot (dry-run): immutable, so not even -wal/-shm files are created;
                # changes a running daemon has not checkpointed yet are not seen
                uri = f"file:{self.path}?mode=ro" + ("&immutable=1" if snapshot else "")
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
                self._check_version()
                self._uri = f"file:{self.path}?mode=ro"
            self._db.execute("PRAGMA busy_timeout=5000")
        except sqlite3.Error as exc:
            raise StateError(f"cannot open state store {self.path}: {exc}") from exc
        except OSError as exc:
            raise StateError(
                f"cannot create state directory {self.path.parent}: {exc.strerror}"
            ) from exc

    @classmethod
    def open(cls, state_dir: Path, *, dry_run: bool = False) -> StateStore:
        """The store for a command; in dry-run, read-only (or empty when there is none yet)."""
        if not dry_run:
            return cls(state_dir)
        return (
            cls(state_dir, readonly=True, snapshot=True)
            if (Path(state_dir) / STATE_FILE).exists()
            else cls(None)
        )

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self._db.execute(
                "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(row[0]) > SCHEMA_VERSION:
            raise StateError(
                f"state store {self.path} has schema {row[0]}, newer than this "
                f"syncd understands ({SCHEMA_VERSION}); upgrade syncd"
            )

    def close(self) -> None:
        with self._lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()
            self._db.close()

    def _reader(self) -> sqlite3.Connection | None:
        """This thread's read connection, or None when reads share the main connection."""
        if self._uri is None:
            return None
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        try:
            reader = self._reader()
            if reader is not None:
                return reader.execute(sql, args).fetchall()
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"state store {self.path}: {exc}") from exc

    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        """One statement in its own (implicit) transaction."""
        with self._lock:
            try:
                self._db.execute(sql, args)
            except sqlite3.Error as exc:
                raise StateError(f"state store {self.path}: {exc}") from exc

    # -- files -------------------------------------------------------------------------
    def records(self, mapping: str) -> dict[str, Record]:
        rows = self._query(
            "SELECT path, size, mtime_ns, inode, sha256, dentry_uuid, dentry_id, version, "
            "uploaded_at FROM files WHERE mapping=?",
            (mapping,),
        )
        return {r[0]: Record(*r) for r in rows}

    def stat_index(self, mapping: str) -> dict[str, tuple[int, int, int]]:
        """`path -> (size, mtime_ns, inode)` of every record: the cheap view a rescan needs
        to pass over unchanged files without building a Record for each."""
        rows = self._query(
            "SELECT path, size, mtime_ns, inode FROM files WHERE mapping=?", (mapping,)
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def record(self, mapping: str, path: str) -> Record | None:
        rows = self._query(
            "SELECT path, size, mtime_ns, inode, sha256, dentry_uuid, dentry_id, version, "
            "uploaded_at FROM files WHERE mapping=? AND path=?",
            (mapping, path),
        )
        return Record(*rows[0]) if rows else None

    def put_record(self, mapping: str, rec: Record) -> None:
        """Store `rec` (after a successful commit); the file's issue closes with it."""
        self._write(
            "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                mapping,
                rec.rel_path,
                rec.size,
                rec.mtime_ns,
                rec.inode,
                rec.sha256,
                rec.dentry_uuid,
                rec.dentry_id,
                rec.version,
                rec.uploaded_at,
            ),
        )

    # -- issues ------------------------------------------------------------------------
    def issues(self, mapping: str) -> dict[str, Issue]:
        rows = self._query(
            "SELECT path, kind, reason, size, mtime_ns, code, message, attempts, next_retry, "
            "last_at FROM issues WHERE mapping=?",
            (mapping,),
        )
        return {r[0]: Issue(r[0], IssueKind(r[1]), *r[2:]) for r in rows}

    def issue(self, mapping: str, path: str) -> Issue | None:
        rows = self._query(
            "SELECT path, kind, reason, size, mtime_ns, code, message, attempts, next_retry, "
            "last_at FROM issues WHERE mapping=? AND path=?",
            (mapping, path),
        )
        return Issue(rows[0][0], IssueKind(rows[0][1]), *rows[0][2:]) if rows else None

    def put_issue(self, mapping: str, issue: Issue) -> None:
        self._write(
            "INSERT OR REPLACE INTO issues VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                mapping,
                issue.rel_path,
                issue.kind.value,
                issue.reason,
                issue.size,
                issue.mtime_ns,
                issue.code,
                issue.message,
                issue.attempts,
                issue.next_retry,
                issue.last_at or time.time(),
            ),
        )

    # -- folders -----------------------------------------------------------------------
    def folders(self, root: str) -> dict[str, tuple[str, str, str]]:
        rows = self._query(
            "SELECT path, space_id, dentry_id, dentry_uuid FROM folders WHERE root=?", (root,)
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def put_folder(
        self, root: str, path: str, space_id: str, dentry_id: str, dentry_uuid: str
    ) -> None:
        self._write(
            "INSERT OR REPLACE INTO folders VALUES (?,?,?,?,?)",
            (root, path, space_id, dentry_id, dentry_uuid),
        )

    def forget_folder(self, root: str, path: str) -> None:
        """Forget `path` and every cached folder below it (the remote folder is gone)."""
        if path:
            self._write(
                "DELETE FROM folders WHERE root=? AND (path=? OR path LIKE ? ESCAPE '\\')",
                (root, path, _like_prefix(path)),
            )
        else:
            self._write("DELETE FROM folders WHERE root=?", (root,))

    # -- summary for `status` ----------------------------------------------------------
    def summary(self, mapping: str) -> dict[str, Any]:
        row = self._query(
            "SELECT COUNT(*), COALESCE(SUM(size),0), MAX(uploaded_at) FROM files WHERE mapping=?",
            (mapping,),
        )[0]
        return {"files": row[0], "bytes": row[1], "last_upload": row[2]}

    def set_meta(self, key: str, value: Any) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self, key: str) -> Any:
        rows = self._query("SELECT value FROM meta WHERE key=?", (key,))
        return json.loads(rows[0][0]) if rows else None


def _like_prefix(path: str) -> str:
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%"
