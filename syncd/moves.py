"""Finding renames and moves: the facts the planner needs, gathered beneath the roots.

A new file is a recorded file moved when a record (in any mapping) has its inode, size and
mtime and that record's path no longer holds that inode. A new folder is a recorded folder
moved when a folder row has its inode and the old path no longer holds it. Each is
confirmed on the file system at the moment it is planned, so an inode reused by an unrelated
file (another mtime) or a hard link (the old path still there) is never taken for a move.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from syncd.config import Mapping, RenameMode
from syncd.model import LocalFile, Record
from syncd.planner import is_move
from syncd.state import DirRow

if TYPE_CHECKING:
    from syncd.executor import Executor


class MoveFinder:
    def __init__(self, ex: Executor, m: Mapping, dirs: dict[str, DirRow]) -> None:
        self.ex, self.m = ex, m
        self.enabled = ex.config.sync.renames is RenameMode.MOVE
        self.has_records = self.enabled and ex.state.has_records()
        self.by_inode: dict[int, list[str]] = {}
        for path, row in dirs.items():
            if row.inode:
                self.by_inode.setdefault(row.inode, []).append(path)

    def file_source(self, f: LocalFile) -> tuple[str, Record] | None:
        """`(mapping key, record)` of the recorded file that `f` is, moved; else None."""
        if not self.has_records:
            return None
        for key, rec in self.ex.state.records_with_inode(f.inode):
            if key == self.m.key and rec.rel_path == f.rel_path:
                continue
            tree = self.ex.trees.get(key)
            if tree is None:
                continue  # a mapping no longer configured
            now = tree.stat_key(rec.rel_path)
            if is_move(f, rec, now is not None and now[2] == rec.inode):
                return key, rec
        return None

    def folder_source(self, rel: str, ino: int) -> str | None:
        """The recorded path of the folder that `rel` (inode `ino`) is, moved; else None."""
        if not self.enabled or not ino:
            return None
        tree = self.ex.tree(self.m)
        for old in self.by_inode.get(ino, ()):
            if old == rel or rel.startswith(old + "/"):
                continue
            now = tree.stat_key(old)
            if now is None or now[2] != ino:
                return old
        return None

    def moved(self, old: str, new: str, dirs: dict[str, DirRow]) -> None:
        """Folder `old` is now `new`: keep the inode index true for the rest of the walk."""
        for ino, paths in self.by_inode.items():
            self.by_inode[ino] = [
                new + p[len(old) :] if p == old or p.startswith(old + "/") else p for p in paths
            ]
