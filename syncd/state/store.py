"""The state store: SQLite in WAL mode, in `state_dir/state.db` (schema in `schema.py`).

Per file: what was committed (size, mtime_ns, inode, sha256, remote dentry and version). A
file's record is written only after its commit succeeded, so the store never claims an
upload that did not happen. Per folder: its local inode and remote `(id, uuid)`. Per file
with a problem: an issue (failed with back-off, refused, held). `syncd status` opens the same
file read-only while the daemon runs (WAL lets readers and one writer work side by side).

Mappings are named by `Mapping.key` (`"<parent uuid>:<local path>"`); the store keeps the
integer ids. Every write failure is a `StateError` naming the file and SQLite's error.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from syncd.core.model import DirRow, Known, MappingInfo, Record
from syncd.state.db import STATE_FILE
from syncd.state.ledger import Ledger
from syncd.state.notes import Notes

__all__ = ["STATE_FILE", "StateStore"]

_RECORD = (
    "f.size, f.mtime_ns, f.inode, f.sha256, f.dentry_uuid, f.dentry_id, f.version, f.uploaded_at"
)


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _split(rel: str) -> tuple[str, str]:
    folder, _, name = rel.rpartition("/")
    return folder, name


class StateStore(Ledger, Notes):
    """Thread-safe access to the state database: mappings, folders and file records here;
    issues and notices in `Notes`; connections in `StoreBase`."""

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

    # -- mappings and folders ----------------------------------------------------------
    def mapping_info(self, key: str) -> MappingInfo:
        mid = self.mapping_id(key)
        rows = self._query(
            "SELECT space_id, dev, first_synced, remote_checked FROM mappings WHERE id=?", (mid,)
        )
        return MappingInfo(*rows[0]) if rows else MappingInfo()

    def set_mapping_info(self, key: str, **fields: Any) -> None:
        mid = self.mapping_id(key)
        for name, value in fields.items():
            if name not in MappingInfo._fields:
                raise ValueError(name)
            self._write(f"UPDATE mappings SET {name}=? WHERE id=?", (value, mid))

    def dir_id(self, key: str, folder: str, *, create: bool = True) -> int | None:
        mid = self.mapping_id(key)
        if mid is None:
            return None
        cached = self._dir_ids.get((mid, folder))
        if cached is not None:
            return cached
        sql = "SELECT id FROM dirs WHERE mapping=? AND path=?"
        rows = self._query(sql, (mid, folder))
        if not rows and create and not self.readonly:
            self._write("INSERT OR IGNORE INTO dirs (mapping, path) VALUES (?, ?)", (mid, folder))
            with self._lock:
                rows = self._db.execute(sql, (mid, folder)).fetchall()
        if not rows:
            return None
        self._dir_ids[(mid, folder)] = int(rows[0][0])
        return int(rows[0][0])

    def dirs(self, key: str) -> dict[str, DirRow]:
        rows = self._query(
            "SELECT path, id, inode, dentry_id, dentry_uuid FROM dirs WHERE mapping=?",
            (self.mapping_id(key),),
        )
        return {r[0]: DirRow(*r[1:]) for r in rows}

    def set_dir_inode(self, key: str, folder: str, inode: int) -> None:
        """Remember a local folder's inode (folder renames are found by it)."""
        dir_id = self.dir_id(key, folder)
        self._write("UPDATE dirs SET inode=? WHERE id=?", (inode, dir_id))

    def records_under(self, key: str, folder: str) -> list[Record]:
        """Every record in folder `folder` and below it."""
        under = "(d.path=? OR substr(d.path, 1, ?) = ?)"
        rows = self._query(
            f"SELECT d.path, f.name, {_RECORD} FROM files f JOIN dirs d ON d.id = f.dir "
            f"WHERE d.mapping=? AND {under}",
            (self.mapping_id(key), folder, len(folder) + 1, folder + "/"),
        )
        return [_record(_join(r[0], r[1]), r[2:]) for r in rows]

    def move_dir(self, key: str, old: str, new: str) -> None:
        """Folder `old` (and everything below it) is now `new`: one transaction."""
        mid = self.mapping_id(key)
        with self._transaction() as db:
            db.execute(
                "UPDATE dirs SET path = ? || substr(path, ?) WHERE mapping=? AND "
                "(path=? OR substr(path, 1, ?) = ?)",
                (new, len(old) + 1, mid, old, len(old) + 1, old + "/"),
            )
            db.execute(
                "UPDATE issues SET path = ? || substr(path, ?) WHERE mapping=? AND "
                "substr(path, 1, ?) = ?",
                (new + "/", len(old) + 2, mid, len(old) + 1, old + "/"),
            )
        self._dir_ids.clear()

    def forget_dir(self, key: str, folder: str) -> int:
        """Drop folder `folder`, everything below it and their records; return the files."""
        mid = self.mapping_id(key)
        under = "(path=? OR substr(path, 1, ?) = ?)"
        args = (mid, folder, len(folder) + 1, folder + "/")
        with self._transaction() as db:
            ids = f"SELECT id FROM dirs WHERE mapping=? AND {under}"
            count = db.execute(f"SELECT COUNT(*) FROM files WHERE dir IN ({ids})", args).fetchone()
            db.execute(f"DELETE FROM files WHERE dir IN ({ids})", args)
            db.execute(f"DELETE FROM dirs WHERE mapping=? AND {under}", args)
        self._dir_ids.clear()
        return int(count[0])

    # remote folder cache (the FolderResolver's store)
    def folders(self, key: str) -> dict[str, tuple[str, str, str]]:
        """`path -> (space_id, dentry_id, dentry_uuid)` of folders known remotely."""
        space_id = self.mapping_info(key).space_id
        return {
            path: (space_id, row.dentry_id, row.dentry_uuid)
            for path, row in self.dirs(key).items()
            if row.dentry_id
        }

    def put_folder(self, key: str, path: str, space_id: str, dentry_id: str, uuid: str) -> None:
        dir_id = self.dir_id(key, path)
        if not path:
            self.set_mapping_info(key, space_id=space_id)
        self._write(
            "UPDATE dirs SET dentry_id=?, dentry_uuid=? WHERE id=?", (dentry_id, uuid, dir_id)
        )

    def forget_folder(self, key: str, path: str) -> None:
        """The remote folder `path` (and everything below) is gone: forget the remote ids."""
        self._write(
            "UPDATE dirs SET dentry_id='', dentry_uuid='' WHERE mapping=? AND "
            "(? = '' OR path=? OR substr(path, 1, ?) = ?)",
            (self.mapping_id(key), path, path, len(path) + 1, path + "/"),
        )

    # -- files -------------------------------------------------------------------------
    def known(self, key: str, folder: str) -> Known:
        """`name -> (size, mtime_ns, inode)` of the records in one folder: what a rescan
        compares against, without building a Record per file."""
        dir_id = self.dir_id(key, folder, create=False)
        return {} if dir_id is None else self.known_in(dir_id)

    def known_in(self, dir_id: int) -> Known:
        """`known` for a folder whose row id the caller already has (one query, not two)."""
        rows = self._query("SELECT name, size, mtime_ns, inode FROM files WHERE dir=?", (dir_id,))
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def record(self, key: str, rel: str) -> Record | None:
        folder, name = _split(rel)
        dir_id = self.dir_id(key, folder, create=False)
        if dir_id is None:
            return None
        rows = self._query(f"SELECT {_RECORD} FROM files f WHERE dir=? AND name=?", (dir_id, name))
        return _record(rel, rows[0]) if rows else None

    def records_in(self, key: str, folder: str) -> list[Record]:
        dir_id = self.dir_id(key, folder, create=False)
        if dir_id is None:
            return []
        rows = self._query(f"SELECT f.name, {_RECORD} FROM files f WHERE dir=?", (dir_id,))
        return [_record(_join(folder, r[0]), r[1:]) for r in rows]

    def records_with_inode(self, inode: int) -> list[tuple[str, Record]]:
        """Records of any mapping whose file had this inode (move detection)."""
        rows = self._query(
            f"SELECT m.root_uuid || ':' || m.local, d.path, f.name, {_RECORD} FROM files f "
            "JOIN dirs d ON d.id = f.dir JOIN mappings m ON m.id = d.mapping WHERE f.inode=?",
            (inode,),
        )
        return [(r[0], _record(_join(r[1], r[2]), r[3:])) for r in rows]

    def put_record(self, key: str, rec: Record) -> None:
        """Store `rec` (after a successful commit); the file's issue closes with it."""
        folder, name = _split(rec.rel_path)
        dir_id = self.dir_id(key, folder)
        self._write(_PUT_FILE, (dir_id, name, *_file_row(rec)))

    def move_record(self, key: str, old: str, new_key: str, rec: Record) -> None:
        """The record of `old` becomes `rec` (at its new path, maybe in another mapping)."""
        folder, name = _split(old)
        old_dir = self.dir_id(key, folder, create=False)
        new_folder, new_name = _split(rec.rel_path)
        new_dir = self.dir_id(new_key, new_folder)
        with self._transaction() as db:
            db.execute("DELETE FROM files WHERE dir=? AND name=?", (old_dir, name))
            db.execute(_PUT_FILE, (new_dir, new_name, *_file_row(rec)))

    def forget(self, key: str, rels: Iterable[str]) -> None:
        """Drop the records (and issues) of files that are gone."""
        mid = self.mapping_id(key)
        with self._transaction() as db:
            for rel in rels:
                folder, name = _split(rel)
                dir_id = self.dir_id(key, folder, create=False)
                db.execute("DELETE FROM files WHERE dir=? AND name=?", (dir_id, name))
                db.execute("DELETE FROM issues WHERE mapping=? AND path=?", (mid, rel))

    def mapping_keys(self) -> list[str]:
        """The keys of every mapping the store has rows for."""
        rows = self._query("SELECT root_uuid || ':' || local FROM mappings")
        return [r[0] for r in rows]

    def forget_mapping(self, key: str) -> int:
        """Drop everything known of mapping `key`; returns the files it had."""
        mid = self.mapping_id(key)
        with self._transaction() as db:
            dirs = "SELECT id FROM dirs WHERE mapping=?"
            count = db.execute(f"SELECT COUNT(*) FROM files WHERE dir IN ({dirs})", (mid,))
            files = int(count.fetchone()[0])
            db.execute(f"DELETE FROM files WHERE dir IN ({dirs})", (mid,))
            for table in ("dirs", "issues", "notices"):
                db.execute(f"DELETE FROM {table} WHERE mapping=?", (mid,))
            db.execute("DELETE FROM mappings WHERE id=?", (mid,))
        self._mapping_ids.pop(key, None)
        self._dir_ids.clear()
        return files

    def has_records(self) -> bool:
        return bool(self._query("SELECT 1 FROM files LIMIT 1"))

    def has_records_in(self, key: str) -> bool:
        rows = self._query(
            "SELECT 1 FROM files f JOIN dirs d ON d.id = f.dir WHERE d.mapping=? LIMIT 1",
            (self.mapping_id(key),),
        )
        return bool(rows)


def _record(rel: str, row: Any) -> Record:
    size, mtime_ns, inode, sha, uuid, dentry_id, version, uploaded_at = row
    return Record(
        rel, size, mtime_ns, inode, bytes(sha).hex(), uuid, dentry_id, version, uploaded_at
    )


_PUT_FILE = "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?,?)"


def _file_row(rec: Record) -> tuple[int, int, int, bytes, str, str, int, float]:
    """A record's columns after (dir, name), as the `files` table holds them."""
    return (
        rec.size,
        rec.mtime_ns,
        rec.inode,
        bytes.fromhex(rec.sha256),
        rec.dentry_uuid,
        rec.dentry_id,
        rec.version,
        rec.uploaded_at,
    )
