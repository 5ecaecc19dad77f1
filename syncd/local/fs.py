"""Every local read, beneath the mapping root's directory descriptor.

No path under a mapping is ever opened or stat'ed as a string: the root is opened once per
operation (`O_DIRECTORY|O_NOFOLLOW`), and every folder below it is opened relative to its
parent's descriptor with `O_NOFOLLOW`, so a folder swapped for a symlink at any moment is
refused, never followed out of the mapping. With `follow_symlinks`, a link is resolved here,
component by component beneath the root (like `openat2(RESOLVE_BENEATH)`, but absolute
targets inside the mapping are allowed): a target outside the mapping is refused at the
moment it is opened, whatever it pointed to when it was listed.

`walk.py` lists folders through the same descriptors; this module holds the root, the
resolver, and the per-path operations (classify, open, re-stat, hash).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from syncd.core.errors import FileChangedError, FileVanishedError, RootUnavailable
from syncd.core.filters import ExcludeRules, is_builtin_ignored, name_problem
from syncd.core.model import LocalFile, Refusal

OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
MAX_LINKS = 40  # the kernel's own limit on symlinks followed in one lookup
PATH_MAX = 4096
CHUNK = 1 << 20
NOT_FOLLOWED = "not followed (sync.follow_symlinks: false)"
OUTSIDE = "target is outside the mapping"


class Refused(Exception):
    """A path that resolves to something syncd must not read (a symlink it may not follow)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def display(rel_path: str) -> str:
    """`rel_path` made safe to log and store (bytes that are not UTF-8 shown as \\xNN)."""
    try:
        rel_path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(rel_path).decode("utf-8", "backslashreplace")
    return rel_path


def special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


@dataclass
class Root:
    """An open mapping root; every lookup below it starts from `fd`."""

    path: Path
    fd: int
    dev: int
    ino: int
    follow: bool = False
    real: str = field(default="", repr=False)
    # with `follow`: whether a path a link leads to may be read (the mapping's filters)
    allowed: Callable[[str], bool] | None = field(default=None, repr=False)

    def close(self) -> None:
        os.close(self.fd)

    def resolve(self, rel: str) -> tuple[int, str]:
        """`(descriptor of the parent folder, final name)` of `rel`, beneath the root.

        The caller owns (and closes) the descriptor. The final name was not a symlink
        when it was looked up (the caller opens it with O_NOFOLLOW, so a later swap fails).
        `rel` naming a folder itself (e.g. "") gives that folder and ".". Raises
        FileNotFoundError / NotADirectoryError, or `Refused` for a symlink that may not be
        followed, leads outside the mapping or loops, or (through a link) to a path the
        mapping's filters leave out (`allowed`): a link never bypasses an exclude.
        """
        stack = [os.dup(self.fd)]
        names: list[str] = []  # the real path of stack[1:] below the root
        pending = [p for p in reversed(rel.split("/")) if p not in ("", ".")]
        links = 0
        try:
            while pending:
                name = pending.pop()
                if name == "..":
                    if len(stack) == 1:
                        raise Refused("symlink", OUTSIDE)
                    os.close(stack.pop())
                    names.pop()
                    continue
                target = self._step(stack, name, last=not pending)
                if target is None:
                    if not pending:
                        self._check_target([*names, name], links)
                        return stack.pop(), name
                    names.append(name)
                    continue
                links += 1
                if links > MAX_LINKS:
                    raise Refused("symlink", "too many levels of symbolic links")
                parts = self._expand(stack, target)
                if target.startswith("/"):
                    names.clear()
                pending.extend(p for p in reversed(parts) if p not in ("", "."))
            self._check_target(names, links)
            return stack.pop(), "."
        finally:
            for fd in stack:
                os.close(fd)

    def _check_target(self, parts: list[str], links: int) -> None:
        """A path reached through a link must be one the mapping syncs."""
        if links and parts and self.allowed is not None:
            real = "/".join(parts)
            if not self.allowed(real):
                raise Refused("symlink", f"target {display(real)} is excluded or ignored")

    def _step(self, stack: list[int], name: str, *, last: bool) -> str | None:
        """Descend into folder `name` (or, when `last`, only look at it); a symlink's target
        is returned instead of being followed."""
        if not last:
            try:
                stack.append(os.open(name, OPEN_DIR, dir_fd=stack[-1]))
                return None
            except OSError as exc:  # O_DIRECTORY|O_NOFOLLOW on a link answers ENOTDIR
                if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                    raise
                if not stat.S_ISLNK(os.stat(name, dir_fd=stack[-1], follow_symlinks=False).st_mode):
                    raise
        elif not stat.S_ISLNK(os.stat(name, dir_fd=stack[-1], follow_symlinks=False).st_mode):
            return None
        if not self.follow:
            raise Refused("symlink", NOT_FOLLOWED)
        return os.readlink(name, dir_fd=stack[-1])

    def _expand(self, stack: list[int], target: str) -> list[str]:
        """The components to walk for a link `target`; an absolute one restarts at the root."""
        if not target.startswith("/"):
            return target.split("/")
        real = self.real or os.path.realpath(self.path)
        if target != real and not target.startswith(real.rstrip("/") + "/"):
            raise Refused("symlink", OUTSIDE)
        while len(stack) > 1:
            os.close(stack.pop())
        return target[len(real) :].split("/")

    def open_dir(self, rel: str) -> int:
        """A descriptor of folder `rel` (the root itself for "")."""
        if not rel:
            return os.dup(self.fd)
        parent, name = self.resolve(rel)
        try:
            return os.open(name, OPEN_DIR, dir_fd=parent) if name != "." else os.dup(parent)
        finally:
            os.close(parent)

    def lstat(self, rel: str) -> os.stat_result:
        parent, name = self.resolve(rel)
        try:
            return os.stat(name, dir_fd=parent, follow_symlinks=False)
        finally:
            os.close(parent)


def open_root(path: Path, *, follow: bool = False) -> Root:
    """Open a mapping root; `RootUnavailable` says why it cannot be used."""
    try:
        fd = os.open(path, OPEN_DIR)
    except FileNotFoundError:
        raise RootUnavailable(path, "local folder missing") from None
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP) and os.path.islink(path):
            raise RootUnavailable(path, "local folder was replaced by a symlink") from None
        reasons = {
            errno.ELOOP: "local folder was replaced by a symlink",
            errno.ENOTDIR: "local folder is not a directory",
            errno.EACCES: "permission denied",
        }
        reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
        raise RootUnavailable(path, reason) from None
    st = os.fstat(fd)
    real = os.path.realpath(path) if follow else ""
    return Root(path, fd, st.st_dev, st.st_ino, follow, real)


@dataclass(frozen=True)
class LocalTree:
    """One mapping's local side: where it is and which entries belong to it."""

    path: Path
    excludes: ExcludeRules = field(default_factory=lambda: ExcludeRules(()))
    subfolders: bool = True
    follow_symlinks: bool = False
    reserved: frozenset[str] = frozenset()  # names at the root syncd owns (marker, trash)

    @contextmanager
    def root(self) -> Iterator[Root]:
        root = open_root(self.path, follow=self.follow_symlinks)
        if self.follow_symlinks:
            root.allowed = self.target_allowed
        try:
            yield root
        finally:
            root.close()

    def folder_allowed(self, rel_dir: str) -> bool:
        """True when files under folder `rel_dir` belong to the mapping at all: subfolders
        are mirrored, and neither it nor any folder above it is ignored, excluded or badly
        named (a badly named folder is reported by the scan of its parent)."""
        if not rel_dir:
            return True
        if not self.subfolders:
            return False
        parts = rel_dir.split("/")
        for i, part in enumerate(parts):
            if is_builtin_ignored(part) or name_problem(part) is not None:
                return False
            if self.excludes and self.excludes.excluded("/".join(parts[: i + 1]), is_dir=True):
                return False
        return True

    def file_allowed(self, rel: str) -> bool:
        """True when a file at `rel` would belong to the mapping (by its path alone: the
        folders above it allowed, its name not ignored, not excluded, not syncd's own)."""
        folder, _, name = rel.rpartition("/")
        if is_builtin_ignored(name) or not self.folder_allowed(folder):
            return False
        if self.reserved and rel.split("/", 1)[0] in self.reserved:
            return False
        return not (self.excludes and self.excludes.excluded(rel, is_dir=False))

    def target_allowed(self, real: str) -> bool:
        """A link's target (its real path below the root) may be read: a file there would
        be synced, and it is no folder the config leaves out."""
        if not self.file_allowed(real):
            return False
        return not (self.excludes and self.excludes.excluded(real, is_dir=True))

    @cached_property
    def _root_chars(self) -> int:
        return len(str(self.path))

    @cached_property
    def has_excludes(self) -> bool:
        return bool(self.excludes)

    def too_long(self, rel: str) -> Refusal | None:
        """A refusal when the full path would not fit in PATH_MAX."""
        if len(rel) * 4 + self._root_chars < PATH_MAX:
            return None  # cheap bound: no UTF-8 character is longer than 4 bytes
        size = len(os.fsencode(os.path.join(self.path, rel)))
        if size < PATH_MAX:
            return None
        return Refusal(display(rel), "path too long", f"{size} bytes (limit {PATH_MAX - 1})")

    def classify(self, rel: str) -> LocalFile | Refusal | None:
        """What one path is, as a scan would see it; None when gone, ignored or a folder."""
        folder, _, name = rel.rpartition("/")
        if is_builtin_ignored(name) or not self.folder_allowed(folder):
            return None
        if self.reserved and rel.split("/", 1)[0] in self.reserved:
            return None
        if self.excludes and self.excludes.excluded(rel, is_dir=False):
            return None
        try:
            with self.root() as root:
                st = root.lstat(rel)
                if stat.S_ISLNK(st.st_mode):  # raced: swapped for a link after resolving
                    return Refusal(display(rel), "symlink", NOT_FOLLOWED)
        except Refused as exc:
            return Refusal(display(rel), exc.reason, exc.detail)
        except (OSError, RootUnavailable):
            return None
        return self._entry(rel, name, st)

    def _entry(self, rel: str, name: str, st: os.stat_result) -> LocalFile | Refusal | None:
        if stat.S_ISDIR(st.st_mode):
            return None
        if (problem := name_problem(name)) is not None:
            return Refusal(display(rel), "invalid name", problem, st.st_size, st.st_mtime_ns)
        if not stat.S_ISREG(st.st_mode):
            return Refusal(display(rel), "special file", special_kind(st.st_mode))
        if (long := self.too_long(rel)) is not None:
            return long._replace(size=st.st_size, mtime_ns=st.st_mtime_ns)
        return LocalFile(rel, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)

    def stat_key(self, rel: str) -> tuple[int, int, int] | None:
        """(size, mtime_ns, inode) of `rel`, or None when it is not there."""
        try:
            with self.root() as root:
                st = root.lstat(rel)
        except (OSError, Refused, RootUnavailable):
            return None
        return (st.st_size, st.st_mtime_ns, st.st_ino)

    def open_file(self, f: LocalFile) -> int:
        """An open descriptor of file `f`, which must still be the file that was scanned.

        FIFOs are never opened blocking; a path that turned into a symlink, a folder or
        another file is `FileChangedError`, a missing one `FileVanishedError`.
        """
        try:
            with self.root() as root:
                parent, name = root.resolve(f.rel_path)
                try:
                    fd = os.open(name, OPEN_FILE, dir_fd=parent)
                finally:
                    os.close(parent)
        except (FileNotFoundError, NotADirectoryError):
            raise FileVanishedError(f"{display(f.rel_path)} is gone") from None
        except RootUnavailable as exc:
            raise FileVanishedError(str(exc)) from None
        except Refused as exc:
            raise FileChangedError(f"path now leads to a {exc.reason}: {exc.detail}") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise FileChangedError("file was replaced by a symlink") from None
            raise
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_ino != f.inode:
            os.close(fd)
            raise FileChangedError("no longer the same regular file")
        os.set_blocking(fd, True)
        return fd

    def restat(self, rel: str) -> tuple[int, int, int]:
        """(size, mtime_ns, inode) now, for the check right before a commit."""
        key = self.stat_key(rel)
        if key is None:
            raise FileVanishedError(f"{display(rel)} is gone")
        return key

    def hash(self, f: LocalFile) -> str:
        """SHA-256 of file `f` (see `open_file` for what may go wrong)."""
        fd = self.open_file(f)
        try:
            return hash_fd(fd)
        finally:
            os.close(fd)


def hash_fd(fd: int) -> str:
    h = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, CHUNK):
        h.update(chunk)
    return h.hexdigest()
