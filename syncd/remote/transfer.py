"""Send one file: upload info -> streaming PUT -> re-stat -> commit. Writes no state.

The file is opened once (beneath its mapping root), checked against what the walk saw,
streamed from disk while its MD5 and SHA-256 are computed, and stat'ed again before the
commit: a file that changed during the PUT is not committed (`FileChangedError`). The commit
carries the content's SHA-256 as syncd's stamp. An expired signature, a rejected upload
key, a corrupt transfer or a failed PUT restart the file from step 1; a vanished remote
folder is forgotten and created again. A commit whose answer was lost is looked up in its
folder before anything else: found, it counts as done; never replayed blindly.

Tenant variants (dingtalk-api.md §15.3) have one fallback each: upload info that refuses a
name that exists is asked again without the name (and, once known, without it for every
upload into that space); in a space whose listings do not carry our stamp, the lookup reads
the stamp of each file in doubt with get-dentry (one call per candidate).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from syncd.core.capabilities import NAME_CONFLICT, Capability
from syncd.core.errors import (
    FileChangedError,
    ParentMissingError,
    PermanentError,
    RemoteError,
    RootMissingError,
    TooSlowError,
    UncertainError,
    UploadExpiredError,
)
from syncd.core.model import Dentry, LocalFile
from syncd.remote.backoff import backoff_delay
from syncd.remote.capabilities import Capabilities
from syncd.remote.dentries import DentryApi
from syncd.remote.folders import Folder, FolderResolver, Target
from syncd.remote.ratelimit import BandwidthLimit
from syncd.remote.storage import StorageApi, UploadInfo
from syncd.remote.upload_body import HashingBody

log = structlog.get_logger(__name__)


class Source(Protocol):
    """Where the bytes come from: the file opened beneath its mapping root (a `LocalTree`)."""

    def open_file(self, f: LocalFile) -> int: ...
    def restat(self, rel: str) -> tuple[int, int, int]: ...


@dataclass(frozen=True)
class Sent:
    dentry: Dentry
    sha256: str
    attempts: int
    recovered: bool = False  # the commit's answer was lost, and the lookup found it applied


def _same(f: LocalFile, st: os.stat_result) -> bool:
    return st.st_size == f.size and st.st_mtime_ns == f.mtime_ns and st.st_ino == f.inode


class Transfer:
    def __init__(
        self,
        storage: StorageApi,
        dentries: DentryApi,
        folders: FolderResolver,
        *,
        max_attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        bwlimit: int = 0,
        caps: Capabilities | None = None,
    ) -> None:
        self.storage = storage
        self.caps = caps if caps is not None else Capabilities()
        self.limit = BandwidthLimit(bwlimit) if bwlimit else None
        self.dentries = dentries
        self.folders = folders
        self.max_attempts = max_attempts
        self._sleep = sleep
        self._clock = clock
        self._overruns: dict[tuple[str, int], int] = {}  # (path, size) -> PUTs over the window

    def send(
        self,
        tree: Source,
        t: Target,
        f: LocalFile,
        *,
        strategy: str,
        name: str = "",
        on_bytes: Callable[[int], None] | None = None,
    ) -> Sent:
        """Upload `f` into its folder under the mapping, as `name` (default: its own)."""
        name = name or f.name
        fd = tree.open_file(f)
        try:
            if not _same(f, os.fstat(fd)):
                raise FileChangedError("changed since it was scanned")
            attempt = 0
            while True:
                attempt += 1
                try:
                    return self._attempt(tree, t, f, fd, name, strategy, on_bytes, attempt)
                except (RootMissingError, TooSlowError):
                    raise
                except ParentMissingError as err:
                    self.folders.forget(t, f.folder)
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
                    self._sleep(
                        backoff_delay(attempt, retry_after=err.retry_after, floor=err.floor)
                    )
        finally:
            os.close(fd)

    def _attempt(
        self,
        tree: Source,
        t: Target,
        f: LocalFile,
        fd: int,
        name: str,
        strategy: str,
        on_bytes: Callable[[int], None] | None,
        attempt: int,
    ) -> Sent:
        parent = self.folders.ensure(t, f.folder)
        info = self._upload_info(parent, name, f.size)
        body = HashingBody(fd, f.size, on_bytes, self.limit)
        started = self._clock()
        try:
            self.storage.put(info, body)
        except RemoteError as err:
            if body.short:
                raise FileChangedError("file shrank during upload") from None
            self._too_slow(err, info, f, self._clock() - started)
            raise
        if body.short:
            raise FileChangedError("file shrank during upload")
        if tree.restat(f.rel_path) != f.key or not _same(f, os.fstat(fd)):
            raise FileChangedError("changed during upload")
        sha = body.sha256.hexdigest()
        try:
            dentry = self.storage.commit(parent.uuid, info.upload_key, name, f.size, strategy, sha)
        except UncertainError as err:
            return Sent(self._recover(err, parent, name, sha, f), sha, attempt, recovered=True)
        except UploadExpiredError as err:
            self._too_slow(err, info, f, self._clock() - started)
            raise
        self.caps.note_app_id(self.storage.t.app_id)
        self.caps.learn(parent.space_id, Capability.COMMIT_RETURNS_VERSION, dentry.version > 0)
        return Sent(dentry, sha, attempt)

    def _upload_info(self, parent: Folder, name: str, size: int) -> UploadInfo:
        """Step 1 with the name pre-checked, unless the space refuses a name that exists
        there (then without it: the commit still names the file and applies the strategy)."""
        space, cap = parent.space_id, Capability.UPLOAD_INFO_ACCEPTS_EXISTING_NAME
        if self.caps.known(space, cap) is False:
            return self.storage.upload_info(parent.uuid, "", size)
        try:
            return self.storage.upload_info(parent.uuid, name, size)
        except PermanentError as err:
            if err.code != NAME_CONFLICT:
                raise
        self.caps.learn(space, cap, False)
        return self.storage.upload_info(parent.uuid, "", size)

    def _recover(
        self, err: UncertainError, parent: Folder, name: str, sha: str, f: LocalFile
    ) -> Dentry:
        """The commit's answer was lost: the committed dentry if the commit was applied
        (never a replay, which would add a version or a copy); else start over from step 1."""
        found = self._lookup(parent, name, sha, f.size)
        if found is None:
            log.info("commit.not_applied", path=f.rel_path, error=err.message)
            raise UploadExpiredError(
                f"{err.message} (the commit was not applied)",
                code=err.code,
                status=err.status,
                api="storage.commit",
            ) from None
        log.info("commit.recovered", path=f.rel_path, dentry_uuid=found.uuid, version=found.version)
        return found

    def _too_slow(self, err: RemoteError, info: UploadInfo, f: LocalFile, elapsed: float) -> None:
        """A signature that expired because the PUT outlasted it will expire again: after a
        second such PUT of the same file (the first may have been a stall), say so once
        instead of sending it again and again."""
        if not isinstance(err, UploadExpiredError) or elapsed <= info.expiration:
            return
        key = (f.rel_path, f.size)
        self._overruns[key] = self._overruns.get(key, 0) + 1
        if self._overruns[key] < 2:
            return
        del self._overruns[key]
        rate = f.size / elapsed / (1 << 20) if elapsed > 0 else 0.0
        raise TooSlowError(
            f"too slow for the upload window ({int(elapsed)} s > {int(info.expiration)} s "
            f"at {rate:.2f} MiB/s)",
            code="tooSlow",
            api=err.api,
        )

    def _lookup(self, parent: Folder, name: str, sha: str, size: int) -> Dentry | None:
        """Our committed file in `parent`, if the lost commit was applied after all: the
        same stamp and size, under `name` or an AUTO_RENAME variant `name(n).ext`."""
        stem, dot, ext = name.rpartition(".")
        pattern = (
            re.compile(re.escape(stem) + r"\(\d+\)" + re.escape(dot + ext))
            if dot and stem
            else re.compile(re.escape(name) + r"\(\d+\)")
        )
        found: Dentry | None = None
        doubt: list[Dentry] = []  # same name and size, but the listing shows no stamp
        space, cap = parent.space_id, Capability.LISTING_RETURNS_STAMP
        for d in self.dentries.list(space, parent.dentry_id):
            if d.stamp:
                self.caps.learn(space, cap, True)
            if d.is_folder or d.size != size or not (d.name == name or pattern.fullmatch(d.name)):
                continue
            if not d.stamp:
                doubt.append(d)
            elif d.stamp != sha:
                continue
            elif d.name == name:
                return d
            else:
                found = d
        if found is None and doubt and self.caps.known(space, cap) is not True:
            return self._stamped(space, doubt, name, sha)
        return found

    def _stamped(self, space: str, doubt: list[Dentry], name: str, sha: str) -> Dentry | None:
        """Among dentries a listing showed without a stamp, the one whose get-dentry shows
        ours (the exact name first); a stamp seen there tells the listing hides it."""
        found: Dentry | None = None
        for d in sorted(doubt, key=lambda d: d.name != name):
            got = self.dentries.get(space, d.id)
            if got is None or not got.stamp:
                continue
            self.caps.learn(space, Capability.LISTING_RETURNS_STAMP, False)
            if got.stamp == sha and got.size == d.size:
                if got.name == name:
                    return got
                found = found or got
        return found
