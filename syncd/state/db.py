"""The state store's plumbing: the SQLite connections (one writer under a lock, one reader
per thread in WAL mode), statements and transactions with errors as `StateError`, mapping
ids and the meta table."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from syncd.core.errors import StateError
from syncd.state.schema import SCHEMA_VERSION, create_or_upgrade, version_of

STATE_FILE = "state.db"


class StoreBase:
    """Thread-safe access to the state database.

    Writes go through one connection under a lock, each a single statement (or one short
    transaction) where it can be. Reads use one connection per thread: WAL lets them run
    beside the writer, without the lock.
    """

    def __init__(
        self, state_dir: Path | None, *, readonly: bool = False, snapshot: bool = False
    ) -> None:
        """Open `state_dir/state.db`; `state_dir=None` is an empty in-memory store."""
        self.path = Path(state_dir) / STATE_FILE if state_dir is not None else Path(":memory:")
        self.readonly = readonly
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._uri: str | None = None  # per-thread readers; None: share the one connection
        self._mapping_ids: dict[str, int] = {}
        self._dir_ids: dict[tuple[int, str], int] = {}
        try:
            self._db = self._connect(state_dir, readonly, snapshot)
            self._db.execute("PRAGMA busy_timeout=5000")
        except sqlite3.Error as exc:
            raise StateError(f"cannot open state store {self.path}: {sql_text(exc)}") from None
        except OSError as exc:
            raise StateError(
                f"cannot create state directory {self.path.parent}: {exc.strerror}"
            ) from None

    def _connect(
        self, state_dir: Path | None, readonly: bool, snapshot: bool
    ) -> sqlite3.Connection:
        if state_dir is None:
            db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            create_or_upgrade(db)
            return db
        if readonly:
            db = open_readonly(self.path, snapshot)
            found = version_of(db)
            if found != SCHEMA_VERSION:
                db.close()
                raise StateError(
                    f"state store {self.path} has schema {found}, this syncd reads "
                    f"{SCHEMA_VERSION}; the next `syncd sync` or `syncd run` upgrades it"
                    if found < SCHEMA_VERSION
                    else f"state store {self.path} is from a newer syncd; upgrade syncd"
                )
            return db
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _own(self.path)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        found = create_or_upgrade(db)
        if found > SCHEMA_VERSION:
            raise StateError(
                f"state store {self.path} has schema {found}, newer than this "
                f"syncd understands ({SCHEMA_VERSION}); upgrade syncd"
            )
        self._uri = f"file:{self.path}?mode=ro"
        return db

    def close(self) -> None:
        with self._lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()
            self._db.close()

    # -- plumbing ----------------------------------------------------------------------
    @property
    def shared_dir(self) -> Path | None:
        """The state dir another process may open this store from, read-only (None: in
        memory, or itself a read-only view). SQLite connections must never cross a fork: a
        helper opens its own."""
        return self.path.parent if self._uri is not None else None

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

    def _query(self, sql: str, args: tuple[Any, ...] = (), *, main: bool = False) -> list[Any]:
        """Rows of `sql`: on this thread's read connection, or (`main`, for short-lived
        threads such as a metrics scrape's) on the main one, which opens nothing new."""
        try:
            reader = None if main else self._reader()
            if reader is not None:
                return reader.execute(sql, args).fetchall()
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"state store {self.path}: {sql_text(exc)}") from None

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        """One statement in its own (implicit) transaction."""
        with self._lock:
            try:
                self._db.execute(sql, args)
            except sqlite3.Error as exc:
                raise StateError(f"state store {self.path}: {sql_text(exc)}") from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StateError(f"state store {self.path}: {sql_text(exc)}") from None

    def mapping_id(self, key: str) -> int | None:
        """The integer id of mapping `key`; created on first use (None when read-only)."""
        mid = self._mapping_ids.get(key)
        if mid is not None:
            return mid
        root_uuid, _, local = key.partition(":")
        sql = "SELECT id FROM mappings WHERE local=? AND root_uuid=?"
        rows = self._query(sql, (local, root_uuid))
        if not rows and not self.readonly:
            self._write(
                "INSERT OR IGNORE INTO mappings (local, root_uuid) VALUES (?, ?)",
                (local, root_uuid),
            )
            with self._lock:
                rows = self._db.execute(sql, (local, root_uuid)).fetchall()
        if not rows:
            return None
        self._mapping_ids[key] = int(rows[0][0])
        return self._mapping_ids[key]

    def set_meta(self, key: str, value: Any) -> None:
        self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self, key: str) -> Any:
        rows = self._query("SELECT value FROM meta WHERE key=?", (key,))
        return json.loads(rows[0][0]) if rows else None


def file_mode(folder: Path) -> int:
    """The state files' mode: the owner's only (0600), or also its group's (0640) when the
    state dir is its group's to read (a unit's `StateDirectoryMode=0750`): never the
    world's, which could read every path and hash synced."""
    return 0o640 if folder.stat().st_mode & 0o050 == 0o050 else 0o600


def _own(path: Path) -> None:
    """Create the database file with `file_mode` (SQLite would make it 0644, less the
    umask), or take the world's (and a stray group's) access from an existing one. SQLite
    gives its -wal and -shm files the database file's mode."""
    mode = file_mode(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    try:
        if os.fstat(fd).st_mode & 0o777 & ~mode:
            os.fchmod(fd, os.fstat(fd).st_mode & mode)
    finally:
        os.close(fd)


def sql_text(exc: sqlite3.Error) -> str:
    name = getattr(exc, "sqlite_errorname", "")
    return f"{exc} ({name})" if name and name not in str(exc) else str(exc)


def open_readonly(path: Path, snapshot: bool) -> sqlite3.Connection:
    """Read-only. A snapshot (dry-run) is opened `immutable` — no -wal/-shm file is created
    — unless a running syncd has a write-ahead log open, whose changes it must see. Falls
    back to `immutable` where the folder cannot hold the -shm file (a read-only state dir):
    `status` must work there too."""
    wal = path.with_name(path.name + "-wal")
    if not snapshot or (wal.exists() and wal.stat().st_size > 0):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        try:
            db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            return db
        except sqlite3.OperationalError:
            db.close()
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
