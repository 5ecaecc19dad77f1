"""Walk a mapped folder and report what is there: files to consider and entries refused.

I/O only, no decisions beyond "is this a candidate at all": ignores, excludes, name rules,
symlinks and special files. FIFOs, sockets and devices are recognised from `lstat` and never
opened (opening a FIFO blocks). The walk is iterative (deep trees do not hit the recursion
limit) and yields as it goes, so memory stays flat on large trees.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from syncd.filters import IGNORE_RE, SUSPECT_RE, ExcludeRules, is_builtin_ignored, name_problem
from syncd.model import LocalFile, Refusal

log = structlog.get_logger(__name__)

Entry = LocalFile | Refusal


@dataclass
class ScanOptions:
    root: Path
    excludes: ExcludeRules = field(default_factory=lambda: ExcludeRules(()))
    subfolders: bool = True
    follow_symlinks: bool = False


@dataclass
class ScanCounters:
    files: int = 0
    dirs: int = 0
    ignored: int = 0
    refused: int = 0


def display(rel_path: str) -> str:
    """`rel_path` made safe to log and store (bytes that are not UTF-8 shown as \\xNN)."""
    try:
        rel_path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(rel_path).decode("utf-8", "backslashreplace")
    return rel_path


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def scan(
    opts: ScanOptions,
    start: str = "",
    counters: ScanCounters | None = None,
    unchanged: Mapping[str, tuple[int, int, int]] | None = None,
) -> Iterator[LocalFile | Refusal]:
    """Yield every candidate file and every refused entry under `start` (relative dir).

    `unchanged` maps paths to the (size, mtime_ns, inode) they had when last uploaded; a
    regular file that still has exactly those is counted but not yielded. A rescan of a
    large, quiet tree thus builds no object per file: that is most of its cost.
    """
    counters = counters if counters is not None else ScanCounters()
    if start and not folder_allowed(opts, start):
        return
    known = unchanged if unchanged is not None else {}
    ignored = IGNORE_RE.match
    suspect = SUSPECT_RE.search
    excludes = opts.excludes if opts.excludes else None
    s_isreg, s_isdir, s_islnk = stat.S_ISREG, stat.S_ISDIR, stat.S_ISLNK
    root = str(opts.root)
    real_root = os.path.realpath(root)
    seen_dirs: set[tuple[int, int]] = set()
    stack = [start]
    while stack:
        rel_dir = stack.pop()
        prefix = rel_dir + "/" if rel_dir else ""
        try:
            it = os.scandir(os.path.join(root, rel_dir) if rel_dir else root)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except PermissionError:
            counters.refused += 1
            yield Refusal(display(rel_dir), "permission denied", "folder cannot be read")
            continue
        except OSError as exc:  # EIO, ESTALE on a network share…: try again at the next scan
            log.warning("scan.folder_failed", folder=display(rel_dir), error=exc.strerror)
            continue
        counters.dirs += 1
        files = 0
        with it:
            subdirs = []
            for entry in it:
                name = entry.name
                rel = prefix + name
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                except PermissionError:
                    yield Refusal(display(rel), "permission denied")
                    continue
                except OSError as exc:
                    log.warning("scan.entry_failed", path=display(rel), error=exc.strerror)
                    continue
                mode = st.st_mode
                is_dir = s_isdir(mode)
                if ignored(name) or (
                    excludes is not None and excludes.excluded(rel, is_dir=is_dir)
                ):
                    counters.ignored += 1
                    log.debug("scan.ignored", path=display(rel))
                    continue
                if suspect(name) is not None and (problem := name_problem(name)) is not None:
                    counters.refused += 1
                    yield Refusal(display(rel), "invalid name", problem, st.st_size, st.st_mtime_ns)
                    continue
                if s_isreg(mode):
                    files += 1
                    if known.get(rel) != (st.st_size, st.st_mtime_ns, st.st_ino):
                        yield LocalFile(rel, st.st_size, st.st_mtime_ns, st.st_ino)
                elif is_dir:
                    if opts.subfolders:
                        subdirs.append(rel)
                elif s_islnk(mode):
                    target = _follow(opts, real_root, entry.path, rel, seen_dirs)
                    if isinstance(target, Refusal):
                        counters.refused += 1
                        yield target
                    elif target is None:
                        continue
                    elif s_isdir(target.st_mode):
                        if opts.subfolders:
                            subdirs.append(rel)
                    else:
                        files += 1
                        yield LocalFile(rel, target.st_size, target.st_mtime_ns, target.st_ino)
                else:
                    counters.refused += 1
                    yield Refusal(display(rel), "special file", _special_kind(mode))
            counters.files += files
            stack.extend(reversed(subdirs))


def _follow(
    opts: ScanOptions, real_root: str, path: str, rel: str, seen_dirs: set[tuple[int, int]]
) -> os.stat_result | Refusal | None:
    """The stat of a symlink's target when it may be followed, else a Refusal."""
    if not opts.follow_symlinks:
        return Refusal(display(rel), "symlink", "not followed (sync.follow_symlinks: false)")
    target = os.path.realpath(path)
    if os.path.commonpath([real_root, target]) != real_root:
        return Refusal(display(rel), "symlink", "target is outside the mapping")
    try:
        st = os.stat(target)
    except OSError:
        return Refusal(display(rel), "symlink", "target does not exist")
    if stat.S_ISDIR(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            return None  # a loop, or a folder already reached through another link
        seen_dirs.add(key)
    elif not stat.S_ISREG(st.st_mode):
        return Refusal(display(rel), "special file", _special_kind(st.st_mode))
    return st


def folder_allowed(opts: ScanOptions, rel_dir: str) -> bool:
    """True when files under folder `rel_dir` belong to the mapping at all: subfolders are
    mirrored, and neither the folder nor any above it is ignored, excluded or badly named
    (a badly named folder is reported by the scan of its parent)."""
    if not rel_dir:
        return True
    if not opts.subfolders:
        return False
    parts = rel_dir.split("/")
    for i, part in enumerate(parts):
        sub = "/".join(parts[: i + 1])
        if is_builtin_ignored(part) or name_problem(part) is not None:
            return False
        if opts.excludes and opts.excludes.excluded(sub, is_dir=True):
            return False
    return True


def stat_path(opts: ScanOptions, rel: str) -> LocalFile | Refusal | None:
    """Classify one path the way `scan` would; None when it is gone, ignored or a folder."""
    parts = rel.split("/")
    if not opts.subfolders and len(parts) > 1:
        return None
    for i, part in enumerate(parts):
        sub = "/".join(parts[: i + 1])
        last = i == len(parts) - 1
        if is_builtin_ignored(part) or (
            opts.excludes and opts.excludes.excluded(sub, is_dir=not last)
        ):
            return None
    path = os.path.join(str(opts.root), rel)
    try:
        st = os.lstat(path)
    except OSError:
        return None
    problem = next((p for p in map(name_problem, parts) if p is not None), None)
    if problem is not None:
        return Refusal(display(rel), "invalid name", problem, st.st_size, st.st_mtime_ns)
    if stat.S_ISLNK(st.st_mode):
        target = _follow(opts, os.path.realpath(str(opts.root)), path, rel, set())
        if target is None or isinstance(target, Refusal):
            return target
        st = target
    if stat.S_ISDIR(st.st_mode):
        return None
    if not stat.S_ISREG(st.st_mode):
        return Refusal(display(rel), "special file", _special_kind(st.st_mode))
    return LocalFile(rel, st.st_size, st.st_mtime_ns, st.st_ino)
