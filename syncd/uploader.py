"""Upload one file: upload info -> streaming PUT -> re-stat -> commit -> record.

The file is opened once, checked against what the scanner saw, streamed from disk in 1 MiB
chunks while its MD5 and SHA-256 are computed, and stat'ed again before the commit: a file
that changed during the PUT is not committed (`FileChangedError`). An expired signature, a
rejected upload key, a corrupt transfer or a failed PUT restart the file from step 1; a
vanished remote folder is forgotten and created again. The record is written only after
the commit succeeded.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from syncd.backoff import backoff_delay
from syncd.errors import (
    FileChangedError,
    FileVanishedError,
    ParentMissingError,
    RemoteError,
)
from syncd.folders import FolderResolver, RootMissingError
from syncd.model import Dentry, LocalFile, Record

if TYPE_CHECKING:
    from syncd.client import DingTalkClient

log = structlog.get_logger(__name__)

CHUNK = 1024 * 1024


class HashingBody:
    """Stream `size` bytes of an open file, hashing as it goes; notices a shrinking file."""

    def __init__(self, fd: int, size: int, on_bytes: Callable[[int], None] | None = None):
        self.fd = fd
        self.size = size
        self.on_bytes = on_bytes
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self.sent = 0
        self.short = False

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[memoryview]:
        os.lseek(self.fd, 0, os.SEEK_SET)
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self.sent = 0
        # One buffer, reused: the transport sends a chunk completely before asking for the
        # next, and a fresh 1 MiB bytes object per chunk costs page faults on every read.
        buf = bytearray(min(CHUNK, self.size))
        view = memoryview(buf)
        remaining = self.size
        while remaining > 0:
            n = os.readv(self.fd, [view[: min(CHUNK, remaining)]])
            if not n:
                self.short = True
                raise FileChangedError("file shrank while it was being read")
            chunk = view[:n]
            remaining -= n
            self.md5.update(chunk)
            self.sha256.update(chunk)
            self.sent += n
            if self.on_bytes is not None:
                self.on_bytes(n)
            yield chunk

    @property
    def md5_hex(self) -> str:
        return self.md5.hexdigest()


@dataclass(frozen=True)
class Target:
    """Where a mapping's files go, and how to find them locally."""

    key: str  # state-store mapping key
    root: Path
    parent_uuid: str
    follow_symlinks: bool = False


@dataclass(frozen=True)
class Uploaded:
    dentry: Dentry
    record: Record
    attempts: int


def hash_file(path: Path, *, follow_symlinks: bool = False) -> str:
    """SHA-256 of a regular file, read in chunks (FIFOs are never opened blocking)."""
    fd = _open_regular(path, follow_symlinks)
    try:
        h = hashlib.sha256()
        while chunk := os.read(fd, CHUNK):
            h.update(chunk)
        return h.hexdigest()
    finally:
        os.close(fd)


def _open_regular(path: Path, follow_symlinks: bool) -> int:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileVanishedError(f"{path} is gone") from None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: became a symlink
            raise FileChangedError("file was replaced by a symlink") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise FileChangedError("no longer a regular file")
    os.set_blocking(fd, True)
    return fd


def _same(f: LocalFile, st: os.stat_result) -> bool:
    return st.st_size == f.size and st.st_mtime_ns == f.mtime_ns and st.st_ino == f.inode


class Uploader:
    def __init__(
        self,
        client: DingTalkClient,
        folders: FolderResolver,
        record: Callable[[str, Record], None],
        *,
        strategy: str = "OVERWRITE",
        max_attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.folders = folders
        self.record = record
        self.strategy = strategy
        self.max_attempts = max_attempts
        self._sleep = sleep

    def upload(
        self, target: Target, f: LocalFile, on_bytes: Callable[[int], None] | None = None
    ) -> Uploaded:
        path = target.root / f.rel_path
        fd = _open_regular(path, target.follow_symlinks)
        try:
            if not _same(f, os.fstat(fd)):
                raise FileChangedError("changed since it was scanned")
            attempt = 0
            while True:
                attempt += 1
                try:
                    dentry, body = self._attempt(target, f, fd, path, on_bytes)
                    break
                except RootMissingError:
                    raise
                except ParentMissingError as err:
                    self.folders.forget(target.parent_uuid, f.folder)
                    if attempt >= self.max_attempts:
                        raise
                    log.debug("upload.retrying", path=f.rel_path, code=err.code, attempt=attempt)
                except RemoteError as err:
                    # API calls were already retried by the client; restart the file only
                    # for what a fresh upload key fixes, and for a failed PUT
                    again = err.restart_upload or (err.retryable and err.api == "oss.put")
                    if not again or attempt >= self.max_attempts:
                        raise
                    log.debug("upload.retrying", path=f.rel_path, code=err.code, attempt=attempt)
                    self._sleep(backoff_delay(attempt, retry_after=err.retry_after))
        finally:
            os.close(fd)
        rec = Record(
            f.rel_path,
            f.size,
            f.mtime_ns,
            f.inode,
            body.sha256.hexdigest(),
            dentry.uuid,
            dentry.id,
            dentry.version,
            time.time(),
        )
        self.record(target.key, rec)
        return Uploaded(dentry, rec, attempt)

    def _attempt(
        self,
        target: Target,
        f: LocalFile,
        fd: int,
        path: Path,
        on_bytes: Callable[[int], None] | None,
    ) -> tuple[Dentry, HashingBody]:
        parent = self.folders.ensure(target.parent_uuid, f.folder)
        info = self.client.upload_info(parent, f.name, f.size)
        body = HashingBody(fd, f.size, on_bytes)
        try:
            self.client.put(info, body)
        except RemoteError:
            if body.short:
                raise FileChangedError("file shrank during upload") from None
            raise
        if body.short:
            raise FileChangedError("file shrank during upload")
        try:
            now = os.stat(path, follow_symlinks=target.follow_symlinks)
        except FileNotFoundError:
            raise FileVanishedError(f"{path} is gone") from None
        if not (_same(f, now) and _same(f, os.fstat(fd))):
            raise FileChangedError("changed during upload")
        dentry = self.client.commit(parent, info.upload_key, f.name, f.size, self.strategy)
        return dentry, body
