"""The state database's schema, and the migrations that bring an older file up to it.

Version 3 (this one) adds to version 2 the trash's records, the API meter, the tenant's
capabilities and the command line's requests. Version 2 keys files by folder: `files(dir,
name)` with `dirs(id, mapping, path)`, so a rescan reads one folder's records at a time (a
range of the primary key), a folder rename rewrites folder rows only, and a row holds an
integer folder id and a 32-byte hash instead of a long mapping key and 64 hex characters. A
database of an older version is upgraded in place, in one transaction, the first time a
writer opens it.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mappings (
    id INTEGER PRIMARY KEY, local TEXT NOT NULL, root_uuid TEXT NOT NULL,
    space_id TEXT NOT NULL DEFAULT '', dev INTEGER NOT NULL DEFAULT 0,
    first_synced REAL NOT NULL DEFAULT 0, remote_checked REAL NOT NULL DEFAULT 0,
    UNIQUE (local, root_uuid));
CREATE TABLE IF NOT EXISTS dirs (
    id INTEGER PRIMARY KEY, mapping INTEGER NOT NULL, path TEXT NOT NULL,
    inode INTEGER NOT NULL DEFAULT 0,
    dentry_id TEXT NOT NULL DEFAULT '', dentry_uuid TEXT NOT NULL DEFAULT '',
    UNIQUE (mapping, path));
CREATE INDEX IF NOT EXISTS dirs_inode ON dirs (mapping, inode);
CREATE TABLE IF NOT EXISTS files (
    dir INTEGER NOT NULL, name TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,
    sha256 BLOB NOT NULL, dentry_uuid TEXT NOT NULL, dentry_id TEXT NOT NULL,
    version INTEGER NOT NULL, uploaded_at REAL NOT NULL,
    PRIMARY KEY (dir, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS files_inode ON files (inode);
CREATE TABLE IF NOT EXISTS issues (
    mapping INTEGER NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL,
    attempts INTEGER NOT NULL, next_retry REAL NOT NULL, last_at REAL NOT NULL,
    ctime_ns INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (mapping, path)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notices (
    mapping INTEGER NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL,
    at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS notices_at ON notices (mapping, at);
-- v3: what syncd moved into its trash (only that is ever purged), the month's metered API
-- calls, what a space was found to do (the probe), and requests from the command line
CREATE TABLE IF NOT EXISTS trashed (
    mapping INTEGER NOT NULL, dentry_id TEXT NOT NULL, space_id TEXT NOT NULL,
    day TEXT NOT NULL, path TEXT NOT NULL, is_folder INTEGER NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (mapping, dentry_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_calls (
    month TEXT NOT NULL, api TEXT NOT NULL, calls INTEGER NOT NULL,
    PRIMARY KEY (month, api)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS capabilities (
    space_id TEXT NOT NULL, name TEXT NOT NULL, value INTEGER, source TEXT NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (space_id, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, mapping TEXT NOT NULL, path TEXT NOT NULL,
    arg TEXT NOT NULL, at REAL NOT NULL);
-- a committed upload closes the file's issue in the same statement (one round trip)
CREATE TRIGGER IF NOT EXISTS files_close_issue AFTER INSERT ON files BEGIN
    DELETE FROM issues WHERE (mapping, path) = (
        SELECT mapping, CASE path WHEN '' THEN NEW.name ELSE path || '/' || NEW.name END
        FROM dirs WHERE id = NEW.dir);
END;
"""


def version_of(db: sqlite3.Connection) -> int:
    """The schema version of an open database (0 for a new, empty one)."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" not in tables:
        return 0
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else 0


def create_or_upgrade(db: sqlite3.Connection) -> int:
    """Bring `db` to SCHEMA_VERSION; return the version it had. A newer one is left alone."""
    found = version_of(db)
    if found >= SCHEMA_VERSION:
        return found  # nothing to do: no write transaction at every start
    db.execute("BEGIN IMMEDIATE")
    try:
        if found == 1:
            _from_v1(db)
        for statement in _statements(SCHEMA):
            db.execute(statement)
        db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found


def _statements(script: str) -> list[str]:
    """Split a script into statements (executescript would commit the open transaction)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    return [s for s in out if s]


def _from_v1(db: sqlite3.Connection) -> None:
    """v1 kept `files(mapping TEXT "uuid:/local", path)`, hex hashes and folders per root uuid."""
    db.execute("DROP TRIGGER IF EXISTS files_close_issue")
    for table in ("files", "issues", "folders"):
        db.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
    for statement in _statements(SCHEMA):
        db.execute(statement)
    keys = {
        r[0] for r in db.execute("SELECT mapping FROM files_v1 UNION SELECT mapping FROM issues_v1")
    }
    ids = {key: _mapping_id(db, key) for key in keys}
    for key, mid in ids.items():
        _copy_files(db, key, mid)
        db.execute(
            "INSERT INTO issues SELECT ?, path, kind, reason, size, mtime_ns, code, message, "
            "attempts, next_retry, last_at, 0 FROM issues_v1 WHERE mapping=?",
            (mid, key),
        )
        root_uuid = key.split(":", 1)[0]
        for path, space_id, dentry_id, uuid in db.execute(
            "SELECT path, space_id, dentry_id, dentry_uuid FROM folders_v1 WHERE root=?",
            (root_uuid,),
        ).fetchall():
            db.execute("UPDATE mappings SET space_id=? WHERE id=?", (space_id, mid))
            db.execute(
                "INSERT INTO dirs (mapping, path, dentry_id, dentry_uuid) VALUES (?,?,?,?) "
                "ON CONFLICT (mapping, path) DO UPDATE SET dentry_id=excluded.dentry_id, "
                "dentry_uuid=excluded.dentry_uuid",
                (mid, path, dentry_id, uuid),
            )
    for table in ("files", "issues", "folders"):
        db.execute(f"DROP TABLE {table}_v1")


def _mapping_id(db: sqlite3.Connection, key: str) -> int:
    root_uuid, _, local = key.partition(":")
    db.execute(
        "INSERT OR IGNORE INTO mappings (local, root_uuid) VALUES (?, ?)", (local, root_uuid)
    )
    row = db.execute(
        "SELECT id FROM mappings WHERE local=? AND root_uuid=?", (local, root_uuid)
    ).fetchone()
    return int(row[0])


def _copy_files(db: sqlite3.Connection, key: str, mid: int) -> None:
    dirs: dict[str, int] = {}
    rows = db.execute(
        "SELECT path, size, mtime_ns, inode, sha256, dentry_uuid, dentry_id, version, "
        "uploaded_at FROM files_v1 WHERE mapping=?",
        (key,),
    ).fetchall()
    for path, *rest in rows:
        folder, _, name = path.rpartition("/")
        dir_id = dirs.get(folder)
        if dir_id is None:
            db.execute("INSERT OR IGNORE INTO dirs (mapping, path) VALUES (?, ?)", (mid, folder))
            found = db.execute(
                "SELECT id FROM dirs WHERE mapping=? AND path=?", (mid, folder)
            ).fetchone()
            dir_id = dirs[folder] = int(found[0])
        size, mtime_ns, inode, sha_hex, uuid, dentry_id, version, uploaded_at = rest
        db.execute(
            "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                dir_id,
                name,
                size,
                mtime_ns,
                inode,
                bytes.fromhex(sha_hex),
                uuid,
                dentry_id,
                version,
                uploaded_at,
            ),
        )
