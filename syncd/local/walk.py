"""List a mapping folder by folder, through directory descriptors (see `localfs`).

Each folder is opened relative to its parent's descriptor with O_NOFOLLOW and listed with
`os.scandir(fd)`; entries are stat'ed relative to it. FIFOs, sockets and devices are known
from `lstat` and never opened. The walk yields one `FolderScan` per folder, so the caller
compares one folder's records at a time (memory does not grow with the tree), and a
folder's known files that are unchanged are only counted: a rescan of a quiet tree builds
no object per file. Descriptors held at once are bounded by the depth of the tree.
"""

from __future__ import annotations

import enum
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog

from syncd.core.filters import IGNORE_RE, SUSPECT_RE, name_problem
from syncd.core.model import Known, LocalFile, Refusal, new_local_file
from syncd.local.fs import (
    NOT_FOLLOWED,
    OPEN_DIR,
    LocalTree,
    Refused,
    Root,
    display,
    special_kind,
)

log = structlog.get_logger(__name__)

# Where the walk's own log lines go: None logs them; a list collects (level, event, fields)
# instead (the forked walker's child, whose lines the parent logs in order).
notes: list[tuple[int, str, dict[str, Any]]] | None = None


def _note(level: int, event: str, **fields: Any) -> None:
    if notes is not None:
        if level >= logging.WARNING or logging.root.isEnabledFor(level):
            notes.append((level, event, fields))
        return
    log.log(level, event, **fields)


@dataclass(slots=True)
class FolderScan:
    """What one folder holds, compared with the records the caller knew for it."""

    rel: str  # "" for the mapping root
    ino: int
    files: list[LocalFile] = field(default_factory=list)  # new or changed candidates
    refusals: list[Refusal] = field(default_factory=list)
    unchanged: int = 0  # known files whose size, mtime and inode are as recorded
    vanished: list[str] = field(default_factory=list)  # known names no longer there at all
    stale: list[str] = field(default_factory=list)  # known names now ignored/excluded/no file
    recorded: set[str] = field(default_factory=set)  # names in `files` that have a record


@dataclass
class WalkCounters:
    files: int = 0
    dirs: int = 0
    ignored: int = 0
    refused: int = 0
    failed: list[str] = field(default_factory=list)  # folders that could not be listed
    stalled: bool = False  # a helper walking part of it was killed for making no progress
    # folders listed in their parent but gone when they were to be opened (renamed or moved
    # during the scan): unseen, not deleted; nothing under them is taken for a delete
    moving: list[str] = field(default_factory=list)


# A folder's records, or None: the caller walks that folder (and what is below it) elsewhere
KnownFor = Callable[[str, int], Known | None]
Ancestors = tuple[tuple[int, int], ...]  # (st_dev, st_ino) of the folders above
_Pending = tuple["_Dir | None", str, str, Ancestors]  # (parent's fd or None, name, rel, ...)


class _Dir:
    """A folder descriptor shared by the children that are still to be opened from it."""

    __slots__ = ("fd", "refs")

    def __init__(self, fd: int, refs: int) -> None:
        self.fd, self.refs = fd, refs

    def release(self) -> None:
        self.refs -= 1
        if self.refs == 0:
            os.close(self.fd)


def walk(
    tree: LocalTree,
    start: str = "",
    known_for: KnownFor | None = None,
    counters: WalkCounters | None = None,
    *,
    root: Root | None = None,
    frontier: list[str] | None = None,
) -> Iterator[FolderScan]:
    """Yield every folder at and under `start` (relative), parents before children.

    `known_for(rel, inode)` gives the records of a folder (it is called once the folder
    is open, before it is listed); the walk pops the names it finds from that dict. When it
    gives None, that folder is neither listed nor descended into. With `frontier`, only
    `start` itself is walked and the folders in it are added to `frontier`. `root`: the
    mapping root, already open (a caller that walks many starts opens it once).
    (`walk_shared` shares a walk with these.)
    """
    if root is None:
        with tree.root() as opened:
            yield from walk(tree, start, known_for, counters, root=opened, frontier=frontier)
        return
    counters = counters if counters is not None else WalkCounters()
    if start and not tree.folder_allowed(start):
        return
    stack: list[_Pending] = [(None, "", start, ())]
    try:
        while stack:
            parent, name, rel, above = stack.pop()
            fd = _open(root, parent, name, rel, counters)
            if isinstance(fd, Refusal):
                yield FolderScan(rel, 0, refusals=[fd])
                continue
            if fd is None:
                continue
            try:
                st = os.fstat(fd)
                me = (st.st_dev, st.st_ino)
                if me in above:  # a link back to a folder above: a loop, walked once
                    os.close(fd)
                    continue
                known = known_for(rel, st.st_ino) if known_for is not None else {}
                if known is None:  # walked elsewhere
                    os.close(fd)
                    continue
                scan, subdirs = _folder(tree, root, fd, rel, st.st_ino, known, counters)
            except BaseException:
                os.close(fd)
                raise
            if frontier is not None:
                frontier.extend(sub_rel for _, _, sub_rel in subdirs)
                subdirs = []
            shared = sum(1 for linked, _, _ in subdirs if not linked)
            d = _Dir(fd, shared)
            if shared == 0:
                os.close(fd)
            below = (*above, me)
            for linked, sub_name, sub_rel in reversed(subdirs):
                stack.append((None if linked else d, sub_name, sub_rel, below))
            yield scan
    finally:  # the consumer stopped early: close what the pending children hold
        for d in {id(p[0]): p[0] for p in stack if p[0] is not None}.values():
            os.close(d.fd)


def _open(
    root: Root, parent: _Dir | None, name: str, rel: str, counters: WalkCounters
) -> int | Refusal | None:
    """Open folder `rel`: from its parent's descriptor, or (for the start and followed
    links) through the root's resolver."""
    try:
        if parent is None:
            return root.open_dir(rel)
        try:
            return os.open(name, OPEN_DIR, dir_fd=parent.fd)
        except FileNotFoundError:
            counters.moving.append(rel)  # listed a moment ago: renamed or moved meanwhile?
            return None
        finally:
            parent.release()
    except (FileNotFoundError, NotADirectoryError, Refused):
        return None  # gone, or swapped for a file or a symlink since it was listed
    except PermissionError:
        counters.failed.append(rel)
        counters.refused += 1
        return Refusal(display(rel), "permission denied", "folder cannot be read")
    except OSError as exc:  # EIO, ESTALE on a network share…: try again at the next scan
        counters.failed.append(rel)
        _note(logging.WARNING, "scan.folder_failed", folder=display(rel), error=exc.strerror)
        return None


def _folder(
    tree: LocalTree,
    root: Root,
    fd: int,
    rel: str,
    ino: int,
    known: Known,
    counters: WalkCounters,
) -> tuple[FolderScan, list[tuple[bool, str, str]]]:
    counters.dirs += 1
    scan = FolderScan(rel, ino)
    subdirs: list[tuple[bool, str, str]] = []
    try:
        names = os.listdir(fd)
    except OSError as exc:
        counters.failed.append(rel)
        if isinstance(exc, PermissionError):
            counters.refused += 1
            scan.refusals.append(
                Refusal(display(rel), "permission denied", "folder cannot be read")
            )
        return scan, subdirs
    _entries(tree, root, fd, names, scan, subdirs, known, counters)
    scan.vanished.extend(known)
    counters.files += scan.unchanged
    return scan, subdirs


def _entries(
    tree: LocalTree,
    root: Root,
    fd: int,
    names: list[str],
    scan: FolderScan,
    subdirs: list[tuple[bool, str, str]],
    known: Known,
    counters: WalkCounters,
) -> None:
    """The hot loop: a known, unchanged file costs one stat and one dict lookup.

    `os.listdir(fd)` and `os.stat(name, dir_fd=fd)` measured 1.3-1.8x faster here than
    `os.scandir(fd)` with `DirEntry.stat` (no DirEntry objects; the stat is needed anyway).
    """
    prefix = scan.rel + "/" if scan.rel else ""
    s_isreg = stat.S_ISREG
    lstat = os.stat
    for name in names:
        rec = known.pop(name, None)
        try:
            st = lstat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            if rec is not None:
                scan.vanished.append(name)
            continue
        except OSError as exc:  # there, but unreadable: not vanished
            if isinstance(exc, PermissionError):
                counters.refused += 1
                scan.refusals.append(Refusal(display(prefix + name), "permission denied"))
            else:
                _note(
                    logging.WARNING,
                    "scan.entry_failed",
                    path=display(prefix + name),
                    error=exc.strerror,
                )
            continue
        if (
            rec is not None
            and s_isreg(st.st_mode)
            and rec == (st.st_size, st.st_mtime_ns, st.st_ino)
        ):
            scan.unchanged += 1
            continue
        kind = _classify(tree, root, scan, subdirs, prefix + name, name, st, counters)
        if rec is not None:
            if kind is _Kind.OTHER:
                scan.stale.append(name)
            elif kind is _Kind.FILE:
                scan.recorded.add(name)


class _Kind(enum.Enum):
    FILE = "file"  # a candidate file (new or changed)
    REFUSED = "refused"  # there, but not uploaded for a reason `status` shows
    OTHER = "other"  # ignored, excluded, a folder: not a file of this mapping


def _classify(
    tree: LocalTree,
    root: Root,
    scan: FolderScan,
    subdirs: list[tuple[bool, str, str]],
    rel: str,
    name: str,
    st: os.stat_result,
    counters: WalkCounters,
) -> _Kind:
    mode = st.st_mode
    is_dir = stat.S_ISDIR(mode)
    reserved = tree.reserved and name in tree.reserved and "/" not in rel
    if (
        reserved
        or IGNORE_RE.match(name)
        or (tree.has_excludes and tree.excludes.excluded(rel, is_dir=is_dir))
    ):
        counters.ignored += 1
        _note(logging.DEBUG, "scan.ignored", path=display(rel))
        return _Kind.OTHER
    if SUSPECT_RE.search(name) is not None and (problem := name_problem(name)) is not None:
        counters.refused += 1
        scan.refusals.append(
            Refusal(
                display(rel),
                "invalid name",
                problem,
                st.st_size,
                st.st_mtime_ns,
                st.st_ctime_ns,
                st.st_ino,
            )
        )
        return _Kind.REFUSED
    if stat.S_ISREG(mode):
        return _file(tree, scan, rel, st, counters)
    if is_dir:
        if tree.subfolders:
            subdirs.append((False, name, rel))
        return _Kind.OTHER
    if stat.S_ISLNK(mode):
        return _link(tree, root, scan, subdirs, rel, counters)
    counters.refused += 1
    scan.refusals.append(Refusal(display(rel), "special file", special_kind(mode)))
    return _Kind.OTHER


def _file(
    tree: LocalTree, scan: FolderScan, rel: str, st: os.stat_result, counters: WalkCounters
) -> _Kind:
    counters.files += 1
    long = tree.too_long(rel)
    if long is not None:
        counters.refused += 1
        scan.refusals.append(long._replace(size=st.st_size, mtime_ns=st.st_mtime_ns))
        return _Kind.REFUSED
    scan.files.append(new_local_file((rel, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)))
    return _Kind.FILE


def _link(
    tree: LocalTree,
    root: Root,
    scan: FolderScan,
    subdirs: list[tuple[bool, str, str]],
    rel: str,
    counters: WalkCounters,
) -> _Kind:
    """A symlink: refused unless followed, and followed only to a target in the mapping."""
    if not tree.follow_symlinks:
        counters.refused += 1
        scan.refusals.append(Refusal(display(rel), "symlink", NOT_FOLLOWED))
        return _Kind.REFUSED
    try:
        target = root.lstat(rel)
    except Refused as exc:
        counters.refused += 1
        scan.refusals.append(Refusal(display(rel), exc.reason, exc.detail))
        return _Kind.REFUSED
    except OSError:
        counters.refused += 1
        scan.refusals.append(Refusal(display(rel), "symlink", "target does not exist"))
        return _Kind.REFUSED
    if stat.S_ISDIR(target.st_mode):
        if tree.subfolders:
            subdirs.append((True, "", rel))
        return _Kind.OTHER
    if stat.S_ISREG(target.st_mode):
        return _file(tree, scan, rel, target, counters)
    counters.refused += 1
    scan.refusals.append(Refusal(display(rel), "special file", special_kind(target.st_mode)))
    return _Kind.REFUSED
