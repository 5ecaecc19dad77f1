"""Value types shared by the walk, the planner, the state store and the executor."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import NamedTuple

STAMP_NAME = "syncd.sha256"  # the PRIVATE app property every commit carries (product §4.7)
MARKER = ".syncd-root"  # the mapping root's marker, written with deletes on (never uploaded)


Known = dict[str, tuple[int, int, int]]  # name -> (size, mtime_ns, inode) of a folder's records


class LocalFile(NamedTuple):
    """A regular file found under a mapping, as stat'ed by the walk.

    The value types are NamedTuples, not frozen dataclasses: a rescan builds one per changed
    file, and a frozen dataclass costs about ten times as much to construct.
    """

    rel_path: str  # "/"-separated, relative to the mapping root
    size: int
    mtime_ns: int
    inode: int
    ctime_ns: int = 0

    @property
    def name(self) -> str:
        return self.rel_path.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        """The parent folder's relative path ("" for the mapping root)."""
        return self.rel_path.rsplit("/", 1)[0] if "/" in self.rel_path else ""

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.size, self.mtime_ns, self.inode)


# A LocalFile from a (rel_path, size, mtime_ns, inode, ctime_ns) tuple, built in C: a
# NamedTuple's own __new__ is a Python function, 3 x slower, and the walk makes one per new
# or changed file (a million in a first dry-run).
new_local_file = functools.partial(tuple.__new__, LocalFile)


class Refusal(NamedTuple):
    """An entry that is not uploaded by policy (invalid name, symlink, special file…)."""

    rel_path: str
    reason: str  # "invalid name", "symlink", "special file", "permission denied", ...
    detail: str = ""  # e.g. which naming rule is broken
    size: int = 0
    mtime_ns: int = 0
    ctime_ns: int = 0
    inode: int = 0  # a recorded file renamed to a refused name keeps its remote copy


class Record(NamedTuple):
    """What the state store knows about a file that was committed successfully."""

    rel_path: str
    size: int
    mtime_ns: int
    inode: int
    sha256: str  # lower-case hex
    dentry_uuid: str = ""
    dentry_id: str = ""
    version: int = 0  # the remote version our last commit (or adoption) produced
    uploaded_at: float = 0.0

    @property
    def name(self) -> str:
        return self.rel_path.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        return self.rel_path.rsplit("/", 1)[0] if "/" in self.rel_path else ""


class IssueKind(enum.StrEnum):
    FAILED = "failed"  # retried with escalating back-off (quarantine)
    REFUSED = "refused"  # by local policy or a permanent remote refusal; redone when it changes
    HELD = "held"  # empty-file guard, or a remote edit under `on_remote_change: hold`


class Issue(NamedTuple):
    """A file that is not in sync, and why; shown by `syncd status`."""

    rel_path: str
    kind: IssueKind
    reason: str
    size: int = 0
    mtime_ns: int = 0
    code: str = ""
    message: str = ""
    attempts: int = 0
    next_retry: float = 0.0  # wall-clock seconds; 0 = when the file changes
    last_at: float = 0.0
    ctime_ns: int = 0  # a refusal is looked at again when the file's ctime moves (chmod)

    def matches(self, size: int, mtime_ns: int) -> bool:
        """True when the file still has the size and mtime it had when the issue was recorded."""
        return self.size == size and self.mtime_ns == mtime_ns


class NoticeKind(enum.StrEnum):
    """Things done that an operator may want to know about later (`syncd status`)."""

    REMOTE_OVERWRITTEN = "remote edit overwritten"
    KEPT_BOTH = "remote edit kept beside ours"
    ADOPTED = "adopted"
    MOVED = "moved"
    TRASHED = "trashed"
    PURGED = "purged from trash"
    REUPLOADED = "re-uploaded after a remote delete"
    RESOLVED = "hold resolved"


class Notice(NamedTuple):
    rel_path: str
    kind: NoticeKind
    detail: str = ""
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Dentry:
    """The parts of a remote dentry syncd keeps."""

    uuid: str
    id: str
    name: str = ""
    version: int = 0
    size: int = 0
    space_id: str = ""
    parent_id: str = ""
    is_folder: bool = False
    modifier: str = ""
    modified: str = ""
    stamp: str = ""  # our syncd.sha256 app property, when the dentry carries one


class MappingInfo(NamedTuple):
    space_id: str = ""
    dev: int = 0  # the local file system's device at the first sync (delete guard)
    first_synced: float = 0.0
    remote_checked: float = 0.0


class DirRow(NamedTuple):
    id: int
    inode: int
    dentry_id: str
    dentry_uuid: str


class Trashed(NamedTuple):
    dentry_id: str
    space_id: str
    day: str  # YYYY-MM-DD (UTC), the trash day folder it went into
    path: str  # where it was, relative to the mapping
    is_folder: bool
    at: float
