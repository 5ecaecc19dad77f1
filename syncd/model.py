"""Value types shared by the scanner, the planner, the state store and the uploader."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple


class LocalFile(NamedTuple):
    """A regular file found under a mapping, as stat'ed by the scanner.

    The value types are NamedTuples, not frozen dataclasses: a rescan builds one per file,
    and a frozen dataclass costs about ten times as much to construct.
    """

    rel_path: str  # "/"-separated, relative to the mapping root
    size: int
    mtime_ns: int
    inode: int

    @property
    def name(self) -> str:
        return self.rel_path.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        """The parent folder's relative path ("" for the mapping root)."""
        return self.rel_path.rsplit("/", 1)[0] if "/" in self.rel_path else ""


class Refusal(NamedTuple):
    """An entry that is not uploaded by policy (invalid name, symlink, special file…)."""

    rel_path: str
    reason: str  # "invalid name", "symlink", "special file", "permission denied", ...
    detail: str = ""  # e.g. which naming rule is broken
    size: int = 0
    mtime_ns: int = 0


class Record(NamedTuple):
    """What the state store knows about a file that was committed successfully."""

    rel_path: str
    size: int
    mtime_ns: int
    inode: int
    sha256: str
    dentry_uuid: str = ""
    dentry_id: str = ""
    version: int = 0
    uploaded_at: float = 0.0


class IssueKind(enum.StrEnum):
    FAILED = "failed"  # retried with escalating back-off (quarantine)
    REFUSED = "refused"  # by local policy or a permanent remote refusal; redone when it changes
    HELD = "held"  # empty-file guard


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

    def matches(self, size: int, mtime_ns: int) -> bool:
        """True when the file still has the size and mtime it had when the issue was recorded."""
        return self.size == size and self.mtime_ns == mtime_ns


@dataclass(frozen=True, slots=True)
class Dentry:
    """The parts of a remote dentry syncd keeps."""

    uuid: str
    id: str
    name: str = ""
    version: int = 0
    size: int = 0
    space_id: str = ""
