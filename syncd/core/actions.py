"""The plan as data: what the planner decided about one file or folder, and how it ended.

Each action is a small frozen value that prints as the line dry-run shows (`str(action)`);
the executor carries it out. Outcomes are an enum, never strings, between modules.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from syncd.core.model import Dentry, LocalFile, Record, Refusal
from syncd.core.settings import Mapping
from syncd.core.units import plural


class Reason(enum.StrEnum):
    NEW = "new"
    CHANGED = "changed"
    REMOTE_DELETED = "deleted remotely"
    TWIN_DIFFERS = "remote file of that name has other content"
    TWIN_UNSTAMPED = "remote file of that name was not uploaded by syncd"
    # stamped by syncd, but last changed by someone else (an edit may keep the stamp)
    TWIN_EDITED = "remote file of that name was edited by someone else"
    MOVE_FAILED = "move could not be done remotely"


class MoveBy(enum.StrEnum):
    """How a move was recognised."""

    INODE = "same inode and content"
    CONTENT = "same content"  # SHA-256, when the inode changed (another file system, a copy)


class Outcome(enum.StrEnum):
    COMPLETED = "completed"  # uploaded and recorded
    UNCHANGED = "unchanged"  # nothing to do after all
    TOUCHED = "touched"  # record refreshed, no upload
    ADOPTED = "adopted"  # recorded from its remote twin, no upload
    MOVED = "moved"  # renamed or moved remotely, no upload
    TRASHED = "trashed"
    FORGOTTEN = "forgotten"
    DEFERRED = "deferred"  # changed during upload: settle and try again
    VANISHED = "vanished"  # gone before or during upload
    FAILED = "failed"
    REFUSED = "refused"
    HELD = "held"
    PENDING = "pending"  # the month's call budget (or the org's quota) is spent: waits
    ABANDONED = "abandoned"  # stop requested, or uploads are paused
    PLANNED = "planned"  # dry-run


def _size(n: int) -> str:
    return f"{n} bytes"


# Not frozen, unlike the other actions: one is built per new or changed file, and a frozen
# dataclass's __init__ (object.__setattr__ per field) cost 1.4 µs of a first dry-run's ~15 µs
# per file. Nothing assigns to its fields; it hashes by value as a frozen one does.
@dataclass(slots=True, unsafe_hash=True)
class Upload:
    mapping: Mapping
    file: LocalFile
    reason: Reason
    record: Record | None = None
    twin: Dentry | None = None  # a remote file of that name that will be overwritten

    def __str__(self) -> str:
        return f"upload {self.file.rel_path} ({self.reason}, {_size(self.file.size)})"


@dataclass(frozen=True, slots=True)
class Verify:
    """The mtime moved at the same size: hash the file to tell a touch from an edit."""

    mapping: Mapping
    file: LocalFile
    record: Record

    def __str__(self) -> str:
        return f"verify {self.file.rel_path} (modified time changed; hash to compare)"


@dataclass(frozen=True, slots=True)
class Touch:
    mapping: Mapping
    file: LocalFile
    record: Record
    sha256: str

    def __str__(self) -> str:
        return f"touch {self.file.rel_path} (content unchanged; record only)"


@dataclass(frozen=True, slots=True)
class Refuse:
    mapping: Mapping
    refusal: Refusal
    report: bool = True  # False when this version of the file was already reported

    def __str__(self) -> str:
        detail = f": {self.refusal.detail}" if self.refusal.detail else ""
        return f"refuse {self.refusal.rel_path} ({self.refusal.reason}{detail})"


class Resolution(enum.Enum):
    """How `syncd resolve` ends a hold (a remote edit, or the empty-file guard)."""

    KEEP_LOCAL = "keep-local"  # upload ours over theirs (theirs stays in the history)
    KEEP_REMOTE = "keep-remote"  # accept theirs: nothing is sent until ours changes again
    KEEP_BOTH = "keep-both"  # upload ours beside theirs, as the conflict copy


@dataclass(frozen=True, slots=True)
class Hold:
    mapping: Mapping
    file: LocalFile
    reason: str
    report: bool = True
    hint: str = ""

    def __str__(self) -> str:
        return f"hold {self.file.rel_path} ({self.reason})"


@dataclass(frozen=True, slots=True)
class Unsettled:
    """A file that kept changing while it was uploaded, round after round: it fails (a
    one-shot `sync` exits non-zero) instead of being deferred for ever."""

    mapping: Mapping
    file: LocalFile
    rounds: int

    def __str__(self) -> str:
        return f"give up on {self.file.rel_path} (still changing after {self.rounds} tries)"


@dataclass(frozen=True, slots=True)
class Mkdir:
    mapping: Mapping
    folder: str

    def __str__(self) -> str:
        return f"mkdir {self.folder}"


@dataclass(frozen=True, slots=True)
class Adopt:
    """A file with no record whose remote twin may be the same content: record it."""

    mapping: Mapping
    file: LocalFile
    twin: Dentry
    by_size: bool = False  # `adopt: size` and an unstamped twin of the same size

    def __str__(self) -> str:
        how = "same size" if self.by_size else "stamp matches if the hash does"
        return f"adopt {self.file.rel_path} (remote twin version {self.twin.version}; {how})"


@dataclass(frozen=True, slots=True)
class ResolveRemoteChange:
    """Someone else changed a file we uploaded (found by a remote check)."""

    mapping: Mapping
    file: LocalFile
    record: Record
    remote: Dentry

    def __str__(self) -> str:
        return (
            f"resolve {self.file.rel_path} (changed remotely by {self.remote.modifier or '?'}: "
            f"version {self.record.version} -> {self.remote.version})"
        )


@dataclass(frozen=True, slots=True)
class Reupload:
    """A file we uploaded was deleted remotely: put it back."""

    mapping: Mapping
    file: LocalFile
    record: Record

    def __str__(self) -> str:
        return f"upload {self.file.rel_path} ({Reason.REMOTE_DELETED}, {_size(self.file.size)})"


@dataclass(frozen=True, slots=True)
class Move:
    """A recorded file now lives at another path: rename/move it remotely."""

    mapping: Mapping  # where it is now
    file: LocalFile
    source_key: str  # the mapping key it was recorded under
    source: Record
    by: MoveBy = MoveBy.INODE

    def __str__(self) -> str:
        return f"move {self.source.rel_path} -> {self.file.rel_path} ({self.by})"


@dataclass(frozen=True, slots=True)
class MoveFolder:
    mapping: Mapping
    old: str
    new: str
    files: int = 0

    def __str__(self) -> str:
        files = plural(self.files, "file")
        return f"move folder {self.old} -> {self.new} ({files}, one remote call)"


@dataclass(frozen=True, slots=True)
class Trash:
    """Files deleted locally, moved remotely into the trash folder (`deletes: trash`)."""

    mapping: Mapping
    records: tuple[Record, ...]
    folder: str = ""  # a whole folder that is gone: one move

    def __str__(self) -> str:
        if self.folder:
            what = f"folder {self.folder} ({plural(len(self.records), 'file')})"
        elif len(self.records) == 1:
            what = self.records[0].rel_path
        else:
            where = self.records[0].folder if self.records else ""
            what = f"{plural(len(self.records), 'file')} in {where or 'the mapping root'}"
        return f"trash {what} (deleted locally)"


@dataclass(frozen=True, slots=True)
class Forget:
    """Records of files that are gone (or no longer belong to the mapping): drop them."""

    mapping: Mapping
    paths: tuple[str, ...]
    folders: tuple[str, ...] = ()
    why: str = "gone locally"

    def __str__(self) -> str:
        what = [plural(len(self.paths), "record")] if self.paths or not self.folders else []
        if self.folders:
            shown = ", ".join(self.folders[:3]) + (" …" if len(self.folders) > 3 else "")
            what.append(f"the records in {plural(len(self.folders), 'folder')} {shown}")
        return f"forget {' and '.join(what)} ({self.why}; nothing remote is touched)"


@dataclass(frozen=True, slots=True)
class ForgetMapping:
    """A mapping no longer in the config: its records are dropped, nothing remote is
    touched (a mapping removed is not a delete)."""

    mapping: Mapping  # as the store names it (its key), no longer configured
    files: int

    def __str__(self) -> str:
        return (
            f"forget {plural(self.files, 'record')} of {self.mapping.local} "
            "(the mapping was removed from the config; nothing remote is touched)"
        )


@dataclass(frozen=True, slots=True)
class ClearIssues:
    """Refusals and holds that no longer apply (the file is gone or fixed)."""

    mapping: Mapping
    paths: tuple[str, ...]

    def __str__(self) -> str:
        return f"clear {plural(len(self.paths), 'stale issue')}"


@dataclass(frozen=True, slots=True)
class Blocked:
    """A guard stopped the deletes of a pass."""

    mapping: Mapping
    reason: str
    count: int = 0
    hint: str = ""
    paths: tuple[str, ...] = field(default=(), repr=False)

    def __str__(self) -> str:
        return f"blocked {plural(self.count, 'delete')} ({self.reason})"


@dataclass(frozen=True, slots=True)
class Defer:
    """Not yet: look at the file again after `seconds` (a new empty file, for one)."""

    mapping: Mapping
    file: LocalFile
    seconds: float
    reason: str

    def __str__(self) -> str:
        return f"wait {self.file.rel_path} ({self.reason})"


@dataclass(frozen=True, slots=True)
class FolderInode:
    """Remember a local folder's inode (folder renames are found by it): bookkeeping the walk
    asks for, carried out by the executor like everything else it decides."""

    mapping: Mapping
    folder: str
    inode: int

    def __str__(self) -> str:
        return f"note folder {self.folder or '.'} (inode {self.inode})"


@dataclass(frozen=True, slots=True)
class WriteMarker:
    """Write the `.syncd-root` marker into the mapping root and note its file system (the
    first sync with deletes on; product §4.8)."""

    mapping: Mapping
    dev: int

    def __str__(self) -> str:
        return f"mark {self.mapping.local} as a synced root"


@dataclass(frozen=True, slots=True)
class RemoteChecked:
    """A drift check of the whole mapping finished: note when (`syncd status`)."""

    mapping: Mapping

    def __str__(self) -> str:
        return f"note remote check of {self.mapping.local}"


@dataclass(frozen=True, slots=True)
class PurgeTrash:
    """Delete the trash days older than `sync.trash_retention_days` (`deletes: trash`)."""

    mapping: Mapping
    retention_days: int

    def __str__(self) -> str:
        return f"purge trash days older than {self.retention_days} days"


Action = (
    Upload
    | Verify
    | Touch
    | Refuse
    | Hold
    | Mkdir
    | Adopt
    | ResolveRemoteChange
    | Reupload
    | Move
    | MoveFolder
    | Trash
    | Forget
    | ForgetMapping
    | ClearIssues
    | Blocked
    | Defer
    | Unsettled
    | FolderInode
    | WriteMarker
    | RemoteChecked
    | PurgeTrash
)
# actions that send or read bytes or call the remote: they run on upload threads
HEAVY = (
    Upload,
    Verify,
    Adopt,
    ResolveRemoteChange,
    Reupload,
    Move,
    MoveFolder,
    Trash,
    Mkdir,
    PurgeTrash,
)
# (isinstance with a tuple: `A | B` would build a union object at every call, a hot path)
UPLOADS = (Upload, Reupload)


def path_of(action: Action) -> str:
    """The relative path an action is about (a file's, a folder's), else its text."""
    f = getattr(action, "file", None)
    if isinstance(f, LocalFile):
        return f.rel_path
    if isinstance(action, Refuse):
        return action.refusal.rel_path
    if isinstance(action, Mkdir | FolderInode):
        return action.folder
    if isinstance(action, MoveFolder):
        return action.new
    return str(action)
