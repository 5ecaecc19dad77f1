"""The sync engine: turn scan entries into decisions, and decisions into uploads.

Shared by `syncd sync` (one pass, `sync_pass.py`) and `syncd run` (the daemon): both feed
entries to `Engine.consider`, which applies the pure planner and returns an upload job or
None, and run jobs with `Engine.execute`, which logs the one canonical line per file
(`upload.completed` / `upload.failed` / …) and keeps the state store's issues up to date.
Dry-run is one switch here: the plan is logged, nothing is sent and nothing is written.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from syncd.config import Config, Mapping
from syncd.errors import (
    CredentialsError,
    FileChangedError,
    FileVanishedError,
    PermanentError,
    RemoteError,
    TransientError,
)
from syncd.filters import ExcludeRules
from syncd.folders import FolderResolver, RootMissingError
from syncd.model import Issue, IssueKind, LocalFile, Record, Refusal
from syncd.planner import Decision, Policy, Verdict, decide, decide_refusal, quarantine_delay
from syncd.scanner import ScanOptions
from syncd.state import StateStore
from syncd.uploader import Target, Uploader, hash_file

log = structlog.get_logger(__name__)

PERMANENT_RETRY_FLOOR = 3600.0  # a permanent refusal is tried again at most hourly
TRANSIENT_RETRY_CAP = 3600.0  # after transient failures, a file waits at most an hour


@dataclass(frozen=True)
class Job:
    mapping: Mapping
    file: LocalFile
    reason: str  # new | changed


@dataclass
class Counters:
    """What a pass (or the daemon, cumulatively) did; thread-safe increments."""

    uploaded: int = 0
    bytes: int = 0
    failed: int = 0
    refused: int = 0
    held: int = 0
    deferred: int = 0
    vanished: int = 0
    planned: int = 0
    planned_bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **amounts: int) -> None:
        with self._lock:
            for key, value in amounts.items():
                setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


class Progress:
    """Receives progress; the CLI's progress bar subclasses it. Default: nothing."""

    def planned(self, files: int, size: int) -> None: ...
    def file_done(self) -> None: ...
    def bytes_sent(self, n: int) -> None: ...


def remote_path(mapping: Mapping, rel_path: str) -> str:
    return f"{mapping.parent_dentry_uuid}/{rel_path}"


def scan_options(mapping: Mapping, config: Config) -> ScanOptions:
    return ScanOptions(
        root=mapping.local,
        excludes=ExcludeRules(mapping.exclude),
        subfolders=mapping.subfolders,
        follow_symlinks=config.sync.follow_symlinks,
    )


class Engine:
    def __init__(
        self,
        config: Config,
        state: StateStore,
        *,
        dry_run: bool = False,
        honour_quarantine: bool = True,
        client_factory: Callable[[], Any] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.dry_run = dry_run
        self.policy = Policy(
            allow_empty_overwrite=config.sync.allow_empty_overwrite,
            honour_quarantine=honour_quarantine,
        )
        self.progress = progress or Progress()
        self.counters = Counters()
        self._client_factory = client_factory
        self._client: Any = None
        self._uploader: Uploader | None = None
        self._folders: FolderResolver | None = None
        self._setup_lock = threading.Lock()
        self._planned_dirs: set[tuple[str, str]] = set()
        self._planned_files: dict[tuple[str, str], tuple[int, int]] = {}  # dry-run memo
        self.fatal: BaseException | None = None  # rejected credentials stop everything
        self.stopping = threading.Event()  # a stop was requested: queued jobs are abandoned
        self.broken_roots: dict[str, str] = {}  # parent uuid -> why it cannot be used

    # -- lazily built remote side (a pass with nothing to upload makes no request) ------
    def uploader(self) -> Uploader:
        with self._setup_lock:
            if self._uploader is None:
                if self._client_factory is None:
                    from syncd.client import DingTalkClient

                    self._client = DingTalkClient(
                        self.config.dingtalk, pool_size=self.config.sync.workers * 2
                    )
                else:
                    self._client = self._client_factory()
                self._folders = FolderResolver(self._client, self.state)
                self._uploader = Uploader(
                    self._client,
                    self._folders,
                    self.state.put_record,
                    strategy=self.config.sync.conflict_strategy,
                )
            return self._uploader

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def reconfigure(self, config: Config) -> None:
        """Apply a reloaded config: policy, conflict strategy, and a new client when the
        DingTalk settings changed (uploads in flight finish on the old one)."""
        old, self.config = self.config, config
        self.policy = Policy(
            allow_empty_overwrite=config.sync.allow_empty_overwrite,
            honour_quarantine=self.policy.honour_quarantine,
        )
        with self._setup_lock:
            if config.dingtalk != old.dingtalk:
                self._client = self._uploader = self._folders = None
            elif self._uploader is not None:
                self._uploader.strategy = config.sync.conflict_strategy

    # -- deciding ------------------------------------------------------------------------
    def consider(
        self,
        mapping: Mapping,
        entry: LocalFile | Refusal,
        record: Record | None,
        issue: Issue | None,
        now: float | None = None,
        *,
        defer_hash: bool = False,
    ) -> Job | None:
        """Decide about one scanned entry; return the upload job, if one is needed.

        With `defer_hash`, a file that must be hashed to decide comes back as a "verify" job
        so the hashing runs on an upload thread instead of the caller's.
        """
        now = time.time() if now is None else now
        if isinstance(entry, Refusal):
            self._refuse(
                mapping,
                entry.rel_path,
                entry.reason,
                entry.detail,
                entry.size,
                entry.mtime_ns,
                decide_refusal(entry, issue),
            )
            return None
        d = decide(entry, record, issue, self.policy, now)
        if d.verdict is Verdict.HASH:
            if defer_hash and not self.dry_run:
                return Job(mapping, entry, "verify")
            d = self._verify(mapping, entry, record, issue, now)
            if d is None:
                return None
        if d.verdict is Verdict.REFUSE:
            self._refuse(mapping, entry.rel_path, d.reason, "", entry.size, entry.mtime_ns, d)
        elif d.verdict is Verdict.HOLD:
            self._hold(mapping, entry, d)
        elif d.verdict is Verdict.UPLOAD:
            return self._plan_upload(mapping, entry, d)
        return None

    def _verify(
        self,
        mapping: Mapping,
        entry: LocalFile,
        record: Record | None,
        issue: Issue | None,
        now: float,
    ) -> Decision | None:
        """Hash a file whose mtime changed; a `touch` only refreshes the record."""
        try:
            sha = hash_file(
                mapping.local / entry.rel_path, follow_symlinks=self.config.sync.follow_symlinks
            )
        except (FileVanishedError, FileChangedError):
            return None
        except PermissionError:
            refusal = Refusal(entry.rel_path, "permission denied", "", entry.size, entry.mtime_ns)
            d = decide_refusal(refusal, issue)
            self._refuse(
                mapping, entry.rel_path, "permission denied", "", entry.size, entry.mtime_ns, d
            )
            return None
        except OSError as exc:  # EIO, ESTALE…: leave it to the next look
            log.warning(
                "hash.failed",
                mapping=str(mapping.local),
                path=entry.rel_path,
                error=exc.strerror or str(exc),
            )
            return None
        d = decide(entry, record, issue, self.policy, now, sha256=sha)
        if d.verdict is Verdict.TOUCH and record is not None and not self.dry_run:
            self.state.put_record(
                mapping.key,
                Record(
                    entry.rel_path,
                    entry.size,
                    entry.mtime_ns,
                    entry.inode,
                    sha,
                    record.dentry_uuid,
                    record.dentry_id,
                    record.version,
                    record.uploaded_at,
                ),
            )
            log.debug("record.refreshed", mapping=str(mapping.local), path=entry.rel_path)
        return d

    def _plan_upload(self, mapping: Mapping, f: LocalFile, d: Decision) -> Job | None:
        self.counters.add(planned=1, planned_bytes=f.size)
        self.progress.planned(1, f.size)
        if not self.dry_run:
            return Job(mapping, f, d.reason)
        memo = (mapping.key, f.rel_path)
        if self._planned_files.get(memo) == (f.size, f.mtime_ns):
            return None  # the daemon's rescans do not repeat a plan line for the same version
        self._planned_files[memo] = (f.size, f.mtime_ns)
        self._plan_mkdirs(mapping, f.folder)
        log.info(
            "plan.upload",
            mapping=str(mapping.local),
            path=f.rel_path,
            remote_folder=remote_path(mapping, f.folder).rstrip("/"),
            reason=d.reason,
            size=f.size,
        )
        return None

    def _plan_mkdirs(self, mapping: Mapping, folder: str) -> None:
        if not folder:
            return
        cached = self.state.folders(mapping.parent_dentry_uuid)
        parts = folder.split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            key = (mapping.parent_dentry_uuid, sub)
            if sub in cached or key in self._planned_dirs:
                continue
            self._planned_dirs.add(key)
            log.info(
                "plan.mkdir", mapping=str(mapping.local), remote_folder=remote_path(mapping, sub)
            )

    def _refuse(
        self,
        mapping: Mapping,
        rel: str,
        reason: str,
        detail: str,
        size: int,
        mtime_ns: int,
        d: Decision,
    ) -> None:
        self.counters.add(refused=1)
        if not d.report:
            return
        log.warning(
            "upload.skipped",
            mapping=str(mapping.local),
            path=rel,
            reason=reason,
            **({"rule": detail} if detail else {}),
        )
        if not self.dry_run:
            self.state.put_issue(
                mapping.key, Issue(rel, IssueKind.REFUSED, reason, size, mtime_ns, message=detail)
            )

    def _hold(self, mapping: Mapping, f: LocalFile, d: Decision) -> None:
        self.counters.add(held=1)
        if not d.report:
            return
        log.warning(
            "upload.skipped",
            mapping=str(mapping.local),
            path=f.rel_path,
            reason="empty file would overwrite remote content",
            hint="set sync.allow_empty_overwrite: true to upload it",
        )
        if not self.dry_run:
            self.state.put_issue(
                mapping.key, Issue(f.rel_path, IssueKind.HELD, d.reason, 0, f.mtime_ns)
            )

    # -- doing ---------------------------------------------------------------------------
    def execute(self, job: Job) -> str:
        """Upload one file; return the outcome: completed|deferred|vanished|failed|refused."""
        m, f = job.mapping, job.file
        ctx = {
            "mapping": str(m.local),
            "path": f.rel_path,
            "remote_path": remote_path(m, f.rel_path),
            "size": f.size,
        }
        if self.fatal is not None:
            return "failed"
        if self.stopping.is_set():
            return "abandoned"
        if job.reason == "verify":  # hashing deferred from the deciding thread
            follow = self.consider(
                m, f, self.state.record(m.key, f.rel_path), self.state.issue(m.key, f.rel_path)
            )
            if follow is None:
                return "unchanged"
            job = follow
        current = self.state.record(m.key, f.rel_path)
        if current is not None and (current.size, current.mtime_ns, current.inode) == (
            f.size,
            f.mtime_ns,
            f.inode,
        ):
            return "unchanged"  # decided from an older view; another upload already did it
        if m.parent_dentry_uuid in self.broken_roots:
            self.counters.add(failed=1)
            return "failed"
        started = time.monotonic()
        target = Target(m.key, m.local, m.parent_dentry_uuid, self.config.sync.follow_symlinks)
        try:
            result = self.uploader().upload(target, f, self.progress.bytes_sent)
        except FileVanishedError:
            log.debug("upload.vanished", **ctx)
            self.counters.add(vanished=1)
            return "vanished"
        except FileChangedError as exc:
            log.info("upload.deferred", **ctx, reason="changed during upload", detail=str(exc))
            self.counters.add(deferred=1)
            return "deferred"
        except PermissionError:
            self._refuse(
                m,
                f.rel_path,
                "permission denied",
                "",
                f.size,
                f.mtime_ns,
                Decision(Verdict.REFUSE, "permission denied"),
            )
            return "refused"
        except CredentialsError as exc:
            self.fatal = exc
            log.error("upload.failed", **ctx, error_code=exc.code, error=exc.message)
            return "failed"
        except RootMissingError as exc:
            self.broken_roots[m.parent_dentry_uuid] = str(exc)
            log.error("mapping.failed", mapping=str(m.local), error_code=exc.code, error=str(exc))
            self.counters.add(failed=1)
            return "failed"
        except RemoteError as exc:
            self._failed(m, f, exc, ctx)
            return "failed"
        except OSError as exc:  # EIO, ESTALE, ENOTDIR…: the file system, not the remote
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                log.debug("upload.vanished", **ctx)
                self.counters.add(vanished=1)
                return "vanished"
            err = TransientError(
                exc.strerror or str(exc),
                code=errno.errorcode.get(exc.errno or 0, "OSError"),
                api="local",
            )
            self._failed(m, f, err, ctx)
            return "failed"
        finally:
            self.progress.file_done()
        self.counters.add(uploaded=1, bytes=f.size)
        log.info(
            "upload.completed",
            **ctx,
            duration_ms=int((time.monotonic() - started) * 1000),
            attempts=result.attempts,
            dentry_uuid=result.dentry.uuid,
            version=result.dentry.version,
            reason=job.reason,
            **(
                {"remote_name": result.dentry.name}
                if result.dentry.name and result.dentry.name != f.name
                else {}
            ),
        )
        return "completed"

    def _failed(self, m: Mapping, f: LocalFile, exc: RemoteError, ctx: dict[str, Any]) -> None:
        self.counters.add(failed=1)
        previous = self.state.issue(m.key, f.rel_path)
        attempts = 1
        if (
            previous is not None
            and previous.kind is IssueKind.FAILED
            and previous.matches(f.size, f.mtime_ns)
        ):
            attempts = previous.attempts + 1
        if isinstance(exc, PermanentError):
            delay = max(quarantine_delay(attempts), PERMANENT_RETRY_FLOOR)
        else:  # transient: probably an outage, not the file; `run` retries sooner on recovery
            delay = quarantine_delay(attempts, cap=TRANSIENT_RETRY_CAP)
        now = time.time()
        log.error(
            "upload.failed",
            **ctx,
            error_code=exc.code or type(exc).__name__,
            error=exc.message,
            status=exc.status,
            attempts=attempts,
            next_retry=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + delay)),
        )
        self.state.put_issue(
            m.key,
            Issue(
                f.rel_path,
                IssueKind.FAILED,
                "remote refused" if isinstance(exc, PermanentError) else "upload failed",
                f.size,
                f.mtime_ns,
                exc.code,
                exc.message,
                attempts,
                now + delay,
                now,
            ),
        )
