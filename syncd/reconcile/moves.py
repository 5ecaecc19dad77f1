"""Finding renames and moves: the facts the planner needs, gathered beneath the roots.

A new file is a recorded file moved when a record (in any mapping) has its inode, size and
mtime, that record's path no longer holds that inode, and the file's SHA-256 is the
record's: the inode and the stat only nominate, the content proves. A new folder is a
recorded folder moved when a folder row has its inode, the old path no longer holds it, and
the new folder holds what was recorded in the old one: entries of the same name and inode,
and the files among them with the recorded content. So an inode reused by an unrelated file
or folder, or a hard link (the old path still there), is never taken for a move.

A move that changed the inode (`mv` across file systems, copy then delete) is found by
content: in a full walk, a new file's upload waits (up to `HOLD_MAX` of them) until the walk
has seen which records vanished; one of the same size and SHA-256 in the same mapping makes
it a move. Only files whose size matches a vanished record are read for it.
"""

from __future__ import annotations

from collections.abc import Iterator

from syncd.core.actions import Move, MoveBy, Upload
from syncd.core.errors import FileChangedError, FileVanishedError
from syncd.core.model import DirRow, LocalFile, Record
from syncd.core.settings import Mapping
from syncd.local.trees import Trees
from syncd.plan.decide import is_move
from syncd.plan.deletes import Gone
from syncd.plan.ports import Records

HOLD_MAX = 10_000  # new files whose upload waits for the end of a walk (memory stays bounded)
VERIFY = 8  # files of a folder read to prove it is the recorded one, moved


class MoveFinder:
    def __init__(
        self,
        records: Records,
        trees: Trees,
        m: Mapping,
        dirs: dict[str, DirRow],
        *,
        enabled: bool = True,
        by_content: bool = False,
    ) -> None:
        """`enabled`: renames are done remotely (`renames: move`); `by_content`: a walk of
        the whole mapping, which may pair new files with vanished records by content."""
        self.records, self.trees, self.m = records, trees, m
        self.enabled = enabled
        self.has_records = enabled and records.has_records()
        self.hold_new = by_content and self.has_records
        self.held: list[Upload] = []
        self.dirs = dirs  # the caller's, kept true through the walk's folder moves
        self.by_inode: dict[int, list[str]] = {}
        for path, row in dirs.items():
            if row.inode:
                self.by_inode.setdefault(row.inode, []).append(path)

    def file_source(self, f: LocalFile) -> tuple[str, Record] | None:
        """`(mapping key, record)` of the recorded file that `f` is, moved; else None.

        The inode, size and mtime only nominate a record: `f` is that file moved only when
        its content is the record's (SHA-256, one local read). A new file that got a deleted
        one's inode with the same size and mtime (an unpacked archive, `cp -p`, `rsync -a`)
        is a new file, uploaded as such."""
        if not self.has_records:
            return None
        sha: str | None = None
        for key, rec in self.records.records_with_inode(f.inode):
            if key == self.m.key and rec.rel_path == f.rel_path:
                continue
            tree = self.trees.get(key)
            if tree is None:
                continue  # a mapping no longer configured
            now = tree.stat_key(rec.rel_path)
            if not is_move(f, rec, now is not None and now[2] == rec.inode):
                continue
            sha = sha or self._hash(f)
            if sha == rec.sha256:
                return key, rec
        return None

    def _hash(self, f: LocalFile) -> str:
        try:
            return self.trees.of(self.m).hash(f)
        except (FileChangedError, FileVanishedError, OSError):
            return ""  # unreadable now: not proven, so not a move

    def folder_source(self, rel: str, ino: int) -> str | None:
        """The recorded path of the folder that `rel` (inode `ino`) is, moved; else None."""
        if not self.enabled or not ino:
            return None
        tree = self.trees.of(self.m)
        for old in self.by_inode.get(ino, ()):
            if old == rel or rel.startswith(old + "/"):
                continue
            now = tree.stat_key(old)
            if (now is None or now[2] != ino) and self._holds_what_was_in(old, rel):
                return old
        return None

    def _holds_what_was_in(self, old: str, rel: str) -> bool:
        """Folder `rel` is the recorded folder `old`: it holds `old`'s recorded files (same
        name, inode, size and mtime), and those read for it (up to `VERIFY`) have the
        recorded content; a folder that recorded only folders holds one of them (same name
        and inode). An inode alone proves nothing: a deleted folder's is soon given to the
        next new folder, and an unpacked archive brings names, sizes and mtimes along. A
        folder with nothing recorded in it is taken as moved: either way nothing is lost."""
        tree, cut = self.trees.of(self.m), len(old) + 1
        files = self.records.records_in(self.m.key, old)
        subfolders = [
            (path[cut:], row.inode)
            for path, row in self.dirs.items()
            if path.startswith(old + "/") and "/" not in path[cut:] and row.inode
        ]
        if not files and not subfolders:
            return True
        if files:
            same = [
                r
                for r in files
                if tree.stat_key(f"{rel}/{r.name}") == (r.size, r.mtime_ns, r.inode)
            ]
            if not same:
                return False
            for r in same[:VERIFY]:
                f = LocalFile(f"{rel}/{r.name}", r.size, r.mtime_ns, r.inode)
                if self._hash(f) != r.sha256:
                    return False
            return True
        for name, inode in subfolders:
            now = tree.stat_key(f"{rel}/{name}")
            if now is not None and now[2] == inode:
                return True
        return False

    def moved(self, old: str, new: str, dirs: dict[str, DirRow]) -> None:
        """Folder `old` is now `new`: keep the inode index true for the rest of the walk."""
        for ino, paths in self.by_inode.items():
            self.by_inode[ino] = [
                new + p[len(old) :] if p == old or p.startswith(old + "/") else p for p in paths
            ]

    def hold(self, action: Upload) -> bool:
        """Keep a new file's upload until the walk is over (True), when it may pair."""
        if not self.hold_new or len(self.held) >= HOLD_MAX:
            return False
        self.held.append(action)
        return True

    def release(self, gone: Gone, complete: bool) -> Iterator[Upload | Move]:
        """The held uploads, each a move where a vanished record has the file's content."""
        held, self.held = self.held, []
        by_size = self._vanished_by_size(gone) if held and complete else {}
        for a in held:
            rec = self._same_content(a.file, by_size.get(a.file.size, []))
            if rec is None:
                yield a
                continue
            by_size[a.file.size].remove(rec)
            gone.moved_sources.add((self.m.key, rec.rel_path))
            yield Move(self.m, a.file, self.m.key, rec, by=MoveBy.CONTENT)

    def _vanished_by_size(self, gone: Gone) -> dict[int, list[Record]]:
        out: dict[int, list[Record]] = {}
        for path in gone.vanished:
            if (self.m.key, path) in gone.moved_sources:
                continue
            rec = self.records.record(self.m.key, path)
            if rec is not None and rec.dentry_id:
                out.setdefault(rec.size, []).append(rec)
        return out

    def _same_content(self, f: LocalFile, candidates: list[Record]) -> Record | None:
        if not candidates:
            return None
        try:
            sha = self.trees.of(self.m).hash(f)
        except (FileChangedError, FileVanishedError, OSError):
            return None  # uploaded (or not) as a new file, the ordinary way
        return next((r for r in candidates if r.sha256 == sha), None)
