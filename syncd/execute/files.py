"""The executor's file actions: upload (after a look at the remote when overwriting),
verify a touch, adopt a remote twin, and the failure bookkeeping of an upload.

Someone else's edit of a file syncd uploaded is never overwritten silently, per
`sync.on_remote_change`: under `overwrite` (the default) nothing is looked at first — the
version the commit returns tells (more than one past ours: `remote.changed` names who and
the version to restore, one version-history call, only then), so a changed file costs the
protocol's 2 metered calls (§4.11); `keep-both` and `hold` compare the remote version with
the one our last commit produced first (a `sync` asks 30 files a call, `looked`), to keep
theirs beside ours or hold.

In a space whose listings do not carry our stamp (dingtalk-api.md §15.3.1), a remote twin
the listing shows unstamped is looked at once with get-dentry before it is uploaded over:
stamped there, it is adopted. In a space without the folder API (§15.3.3), the first
subfolder file fails the mapping's subfolders once; root files keep syncing.
"""

from __future__ import annotations

import errno
import time
from datetime import UTC, datetime
from typing import Any

import structlog

from syncd.core.actions import (
    Action,
    Adopt,
    Hold,
    Outcome,
    Reason,
    Refuse,
    Resolution,
    ResolveRemoteChange,
    Reupload,
    Touch,
    Upload,
    Verify,
)
from syncd.core.budget import COST_NEW_FILE
from syncd.core.capabilities import NOT_SUPPORTED, Capability
from syncd.core.errors import (
    BudgetExhaustedError,
    CredentialsError,
    FileChangedError,
    FileVanishedError,
    MappingFailedError,
    PermanentError,
    RemoteError,
    RootMissingError,
    StateError,
    TooSlowError,
    TransientError,
)
from syncd.core.model import (
    Dentry,
    Issue,
    IssueKind,
    LocalFile,
    Notice,
    NoticeKind,
    Record,
    Refusal,
)
from syncd.core.settings import ConflictStrategy, Mapping, RemoteChangePolicy
from syncd.execute import issues
from syncd.execute.context import Context
from syncd.execute.identity import OwnIds
from syncd.plan.decide import (
    PERMISSION_DENIED,
    RemoteVerdict,
    adopt_verdict,
    changed_verdict,
    committed_verdict,
    conflict_name,
    decide,
    quarantine_delay,
    refuse,
    remote_verdict,
)

log = structlog.get_logger(__name__)

PERMANENT_RETRY_FLOOR = 3600.0  # a permanent refusal is tried again at most hourly
TRANSIENT_RETRY_CAP = 3600.0  # after transient failures, a file waits at most an hour
# remote answers that make a whole mapping unusable, not one file
MAPPING_CODES = {
    "permissionDenied": "give dingtalk.union_id edit rights on the folder",
    "spaceNotExist": "check parent_dentry_uuid",
    "paramError.parentDentryUuid": "check parent_dentry_uuid (a knowledge base's root is its "
    "rootNodeId; `syncd ls` lists them)",
    "documentNotExist": "check parent_dentry_uuid (`syncd ls` lists knowledge bases)",
    "Forbidden.AccessDenied.AccessTokenPermissionDenied": "grant the app the permission named",
    "Forbidden.AccessDenied.IpNotInWhiteList": "add this host's address to the app's allow-list",
}


def _fields(m: Mapping, f: LocalFile) -> dict[str, Any]:
    return {
        "mapping": str(m.local),
        "path": f.rel_path,
        "remote_path": f"{m.parent_dentry_uuid}/{f.rel_path}",
        "size": f.size,
    }


class FileActions:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.own = OwnIds(ctx)

    # -- upload --------------------------------------------------------------------------
    def upload(
        self,
        a: Upload,
        remote: Dentry | None = None,
        *,
        looked: bool = False,
        choice: Resolution | None = None,
    ) -> Outcome:
        """Upload `a` (after a look at the remote when overwriting ours); `choice` ends a
        hold (`syncd resolve`); a hold by a remote edit takes a pending resolution too."""
        ctx, m, f = self.ctx, a.mapping, a.file
        if (why := ctx.blocked_reason(m, f.folder)) is not None:
            ctx.stats.add(abandoned=1)
            return why
        if a.reason is Reason.TWIN_UNSTAMPED and a.twin is not None:
            try:
                stamped = self._stamped_twin(m, a.twin)
            except Exception as exc:  # noqa: BLE001 - bookkept as the upload's failure
                return self.failure(m, f, exc)
            if stamped is not None:
                return self.adopt(Adopt(m, f, stamped))
        current = ctx.state.record(m.key, f.rel_path)
        if (
            not looked
            and choice is None
            and current is not None
            and (current.size, current.mtime_ns, current.inode) == f.key
        ):
            return Outcome.UNCHANGED  # decided from an older view; another upload did it
        record = current if current is not None else a.record
        name, strategy = f.name, ctx.config.sync.conflict_strategy.value
        verdict = RemoteVerdict.PROCEED
        try:
            ctx.need_calls(COST_NEW_FILE, "upload")  # never half an upload (§4.11)
            blind = not looked and choice is None and self._blind()
            if record is not None and record.dentry_id and blind:
                return self._send(a, record, None, verdict, name, strategy, blind=True)
            if record is not None and record.dentry_id:
                if not looked:
                    remote = self._remote_state(m, record)
                verdict = remote_verdict(record, remote, ctx.policy)
                if verdict is RemoteVerdict.HOLD and choice is None:
                    choice = ctx.resolution(m.key, f.rel_path, f.size, f.mtime_ns)
                if choice is Resolution.KEEP_REMOTE:
                    return self._accept_remote(m, f, record, remote)
                if choice is not None and verdict is not RemoteVerdict.GONE:
                    keep_both = choice is Resolution.KEEP_BOTH
                    verdict = RemoteVerdict.KEEP_BOTH if keep_both else RemoteVerdict.PROCEED
                if verdict is RemoteVerdict.HOLD:
                    return self._hold_remote(a, record, remote)
                if verdict is RemoteVerdict.KEEP_BOTH:
                    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H%M")
                    name, strategy = conflict_name(f.name, stamp), ConflictStrategy.AUTO_RENAME
            outcome = self._send(a, record, remote, verdict, name, strategy)
        except Exception as exc:  # noqa: BLE001 - every failure is bookkept, none escapes
            return self.failure(m, f, exc)
        finally:
            ctx.release_calls()
        if choice is not None and outcome is Outcome.COMPLETED:
            self._resolved(m, f, choice, remote)
        return outcome

    def looked(self, m: Mapping, uploads: list[Upload]) -> list[Action]:
        """Changed files under `keep-both` / `hold`: their remote state asked in batches of
        30 (one call each, not one per file, §4.11), each upload then carrying what was
        found. Whatever the batch could not settle goes as it came (it asks on its own)."""
        ctx = self.ctx
        ids = [u.record.dentry_id for u in uploads if u.record is not None]
        try:
            remote = ctx.remote()
            root = remote.folders.root(ctx.target(m))
            found = remote.dentries.get_many(root.space_id, ids)
        except RemoteError:
            return list(uploads)
        out: list[Action] = []
        for u in uploads:
            rec = u.record
            if rec is None or rec.dentry_id not in found:
                out.append(u)
            elif (there := found[rec.dentry_id]) is None:
                out.append(Reupload(m, u.file, rec))
            else:
                out.append(ResolveRemoteChange(m, u.file, rec, there))
        return out

    def _blind(self) -> bool:
        """Overwrite without a get-dentry first (§4.11: 2 calls per changed file): under
        `on_remote_change: overwrite` the commit's version tells what was overwritten."""
        return self.ctx.policy.on_remote_change is RemoteChangePolicy.OVERWRITE

    def hold(self, a: Hold) -> Outcome:
        """The empty-file guard holds `a`, unless `syncd resolve` has ended that hold."""
        f = a.file
        choice = self.ctx.resolution(a.mapping.key, f.rel_path, f.size, f.mtime_ns)
        record = self.ctx.state.record(a.mapping.key, a.file.rel_path)
        if choice is None or record is None:
            return issues.hold(self.ctx, a)
        return self.upload(Upload(a.mapping, a.file, Reason.CHANGED, record), choice=choice)

    def _accept_remote(
        self, m: Mapping, f: LocalFile, record: Record, remote: Dentry | None
    ) -> Outcome:
        """keep-remote: their version becomes the one we last committed; ours is sent again
        only when it changes."""
        sha = self._hash(m, f)
        if isinstance(sha, Outcome):
            return sha
        theirs = remote if remote is not None else None
        uuid = theirs.uuid if theirs else record.dentry_uuid
        dentry_id = theirs.id if theirs else record.dentry_id
        version = theirs.version if theirs else record.version
        if not self.ctx.record(m, f, sha, uuid, dentry_id, version):
            return Outcome.FAILED
        self._resolved(m, f, Resolution.KEEP_REMOTE, remote)
        return Outcome.UNCHANGED

    def _resolved(
        self, m: Mapping, f: LocalFile, choice: Resolution, remote: Dentry | None
    ) -> None:
        version = remote.version if remote is not None else 0
        if choice is Resolution.KEEP_LOCAL:
            done = "ours uploaded"
            extra = {
                "restore": f"the overwritten content is version {version} in the file's "
                "version history (DingTalk: file > version history > restore)"
            }
        elif choice is Resolution.KEEP_REMOTE:
            done = f"theirs (version {version}) accepted; ours is sent when it changes again"
            extra = {}
        else:
            done = "ours uploaded beside theirs as the conflict copy"
            extra = {}
        log.warning("hold.resolved", **_fields(m, f), resolution=choice.value, action=done, **extra)
        detail = f"{choice.value}: {done}" + (f"; {extra['restore']}" if extra else "")
        note = Notice(f.rel_path, NoticeKind.RESOLVED, detail)
        self.ctx.write("notice", lambda: self.ctx.state.add_notice(m.key, note))

    def _stamped_twin(self, m: Mapping, twin: Dentry) -> Dentry | None:
        """The twin as get-dentry shows it, when that carries a stamp the listing did not
        (None: the listing can be trusted, or the twin is really not stamped)."""
        remote = self.ctx.remote()
        space = remote.folders.root(self.ctx.target(m)).space_id
        if remote.caps.known(space, Capability.LISTING_RETURNS_STAMP) is True:
            return None
        got = remote.dentries.get(space, twin.id)
        if got is None or not got.stamp:
            return None
        remote.caps.learn(space, Capability.LISTING_RETURNS_STAMP, False)
        return got

    def _remote_state(self, m: Mapping, record: Record) -> Dentry | None:
        remote = self.ctx.remote()
        root = remote.folders.root(self.ctx.target(m))
        return remote.dentries.get(root.space_id, record.dentry_id)

    def _send(
        self,
        a: Upload,
        record: Record | None,
        remote: Dentry | None,
        verdict: RemoteVerdict,
        name: str,
        strategy: str,
        *,
        blind: bool = False,
    ) -> Outcome:
        """`blind`: nothing was looked at first; the commit's answer decides the verdict."""
        ctx, m, f = self.ctx, a.mapping, a.file
        transfer = ctx.remote().transfer
        sending = ctx.progress.sending(f.size)  # the bytes bar follows the bytes sent
        with ctx.concurrency.slot():
            transfer.storage.t.limiter_wait()
            started = time.monotonic()
            try:
                sent = transfer.send(
                    ctx.tree(m), ctx.target(m), f, strategy=strategy, name=name, on_bytes=sending
                )
            except BaseException:
                ctx.progress.file_failed(sending)
                raise
            busy = time.monotonic() - started - transfer.storage.t.limiter_wait()
            ctx.concurrency.observe(busy, f.size)
        dentry = sent.dentry
        self.own.learn(dentry.modifier)
        if blind and record is not None:
            verdict = committed_verdict(record, dentry)
        if verdict is RemoteVerdict.KEEP_BOTH and remote is not None:
            dentry = remote  # the local path stays paired with their file; ours sits beside
        if not ctx.record(m, f, sent.sha256, dentry.uuid, dentry.id, dentry.version):
            ctx.progress.file_failed(sending)
            return Outcome.FAILED
        seconds = time.monotonic() - started
        ctx.stats.uploaded(f.size, seconds)
        ctx.progress.file_done(f.size, sending)
        if verdict is not RemoteVerdict.PROCEED:
            self._tell_remote_change(m, f, record, remote, verdict, sent.dentry)
        log.info(
            "upload.completed",
            **_fields(m, f),
            duration_ms=int(seconds * 1000),
            attempts=sent.attempts,
            dentry_uuid=sent.dentry.uuid,
            version=sent.dentry.version,
            reason=a.reason.value,
            **({"remote_name": sent.dentry.name} if sent.dentry.name != f.name else {}),
            **({"recovered": True} if sent.recovered else {}),
        )
        return Outcome.COMPLETED

    def _tell_remote_change(
        self,
        m: Mapping,
        f: LocalFile,
        record: Record | None,
        remote: Dentry | None,
        verdict: RemoteVerdict,
        ours: Dentry,
    ) -> None:
        ctx = self.ctx
        if verdict is RemoteVerdict.GONE:
            note = Notice(f.rel_path, NoticeKind.REUPLOADED, "the remote file had been deleted")
        elif verdict is RemoteVerdict.KEEP_BOTH and remote is not None:
            note = Notice(f.rel_path, NoticeKind.KEPT_BOTH, f"ours uploaded as {ours.name}")
            log.warning(
                "remote.changed",
                **_fields(m, f),
                modifier=remote.modifier,
                remote_version=remote.version,
                action=f"kept theirs; ours uploaded as {ours.name}",
            )
        elif remote is None and record is not None and verdict is RemoteVerdict.OVERWRITE_CHANGED:
            theirs = ours.version - 1  # found from the commit's version (no get first)
            who = self._modifier(m, ours, theirs)
            note = Notice(
                f.rel_path,
                NoticeKind.REMOTE_OVERWRITTEN,
                f"version {theirs} by {who or '?'} overwritten",
            )
            ctx.stats.add(remote_changed=1)
            log.warning(
                "remote.changed",
                **_fields(m, f),
                modifier=who,
                version_overwritten=theirs,
                our_last_version=record.version,
                action="overwritten (sync.on_remote_change: overwrite)",
                restore=f"their edit is version {theirs} in the file's version history "
                "(DingTalk: file > version history > restore)",
            )
        elif remote is not None and record is not None:
            note = Notice(
                f.rel_path,
                NoticeKind.REMOTE_OVERWRITTEN,
                f"version {remote.version} by {remote.modifier or '?'} overwritten",
            )
            ctx.stats.add(remote_changed=1)
            log.warning(
                "remote.changed",
                **_fields(m, f),
                modifier=remote.modifier,
                version_overwritten=remote.version,
                our_last_version=record.version,
                action="overwritten (sync.on_remote_change: overwrite)",
                restore=f"their edit is version {remote.version} in the file's version history "
                "(DingTalk: file > version history > restore)",
            )
        else:
            return
        ctx.write("notice", lambda: ctx.state.add_notice(m.key, note))

    def _modifier(self, m: Mapping, ours: Dentry, version: int) -> str:
        """Who made the version our blind overwrite replaced (one call, only then)."""
        try:
            root = self.ctx.remote().folders.root(self.ctx.target(m))
            return self.ctx.remote().dentries.modifier_of(root.space_id, ours.id, version)
        except RemoteError:
            return ""

    def _hold_remote(self, a: Upload, record: Record, remote: Dentry | None) -> Outcome:
        ctx, m, f = self.ctx, a.mapping, a.file
        assert remote is not None
        who = remote.modifier or "?"
        reason = f"changed remotely by {who} (version {record.version} -> {remote.version})"
        issue = ctx.state.issue(m.key, f.rel_path)
        already = issue is not None and issue.kind is IssueKind.HELD and issue.reason == reason
        if not already:
            log.warning(
                "remote.changed",
                **_fields(m, f),
                modifier=remote.modifier,
                remote_version=remote.version,
                action="held (sync.on_remote_change: hold)",
            )
            held = Issue(f.rel_path, IssueKind.HELD, reason, f.size, f.mtime_ns)
            ctx.write("hold", lambda: ctx.state.put_issue(m.key, held))
            ctx.stats.add(remote_changed=1)
        ctx.stats.add(held=1)  # after the store, as in `Executor.refuse`
        return Outcome.HELD

    def reupload(self, a: Reupload) -> Outcome:
        return self.upload(
            Upload(a.mapping, a.file, Reason.REMOTE_DELETED, a.record), None, looked=True
        )

    def resolve(self, a: ResolveRemoteChange) -> Outcome:
        up = Upload(a.mapping, a.file, Reason.CHANGED, a.record)
        return self.upload(up, a.remote, looked=True)

    # -- verify, touch, adopt ------------------------------------------------------------
    def _hash(self, m: Mapping, f: LocalFile) -> str | Outcome:
        try:
            return self.ctx.tree(m).hash(f)
        except (FileVanishedError, FileChangedError):
            return Outcome.VANISHED
        except PermissionError:
            issue = self.ctx.state.issue(m.key, f.rel_path)
            r = Refusal(f.rel_path, PERMISSION_DENIED, "", f.size, f.mtime_ns, f.ctime_ns)
            return issues.refuse(self.ctx, refuse(m, r, issue))
        except OSError as exc:  # EIO, ESTALE…: leave it to the next look
            log.warning("hash.failed", mapping=str(m.local), path=f.rel_path, error=exc.strerror)
            return Outcome.FAILED

    def verify(self, a: Verify) -> Outcome:
        ctx, m, f = self.ctx, a.mapping, a.file
        sha = self._hash(m, f)
        if isinstance(sha, Outcome):
            return sha
        record = ctx.state.record(m.key, f.rel_path) or a.record
        issue = ctx.state.issue(m.key, f.rel_path)
        nxt = decide(m, f, record, issue, ctx.policy, time.time(), sha256=sha)
        return Outcome.UNCHANGED if nxt is None else self._after_verify(nxt)

    def _after_verify(self, a: Action) -> Outcome:
        """What the hash decided: a touch, an upload, or (the file changed meanwhile) a
        hold or refusal."""
        if isinstance(a, Touch):
            return self.touch(a)
        if isinstance(a, Upload):
            return self.upload(a)
        if isinstance(a, Hold):
            return issues.hold(self.ctx, a)
        if isinstance(a, Refuse):
            return issues.refuse(self.ctx, a)
        return Outcome.UNCHANGED

    def touch(self, a: Touch) -> Outcome:
        r, f = a.record, a.file
        rec = Record(
            f.rel_path,
            f.size,
            f.mtime_ns,
            f.inode,
            a.sha256,
            r.dentry_uuid,
            r.dentry_id,
            r.version,
            r.uploaded_at,
        )
        if self.ctx.write("record", lambda: self.ctx.state.put_record(a.mapping.key, rec)):
            self.ctx.stats.add(touched=1)
            log.debug("record.refreshed", mapping=str(a.mapping.local), path=f.rel_path)
        return Outcome.TOUCHED

    def adopt(self, a: Adopt) -> Outcome:
        ctx, m, f = self.ctx, a.mapping, a.file
        if (why := ctx.blocked_reason(m)) is not None:
            return why
        sha = self._hash(m, f)
        if isinstance(sha, Outcome):
            return sha
        upload = adopt_verdict(a, sha, self.own.ids())
        if isinstance(upload, Upload) and upload.reason is Reason.TWIN_EDITED:
            return self._edited_twin(upload, sha)
        if upload is not None:
            return self.upload(upload) if isinstance(upload, Upload) else Outcome.UNCHANGED
        if not ctx.record(m, f, sha, a.twin.uuid, a.twin.id, a.twin.version):
            return Outcome.FAILED
        ctx.stats.add(adopted=1)
        ctx.progress.file_done(f.size)
        ctx.write("tally", lambda: ctx.state.tally(m.key, "adopted"))
        log.info(
            "upload.adopted",
            **_fields(m, f),
            dentry_uuid=a.twin.uuid,
            version=a.twin.version,
            basis="size (sync.adopt: size)" if a.by_size else "stamp",
        )
        return Outcome.ADOPTED

    def _edited_twin(self, a: Upload, sha: str) -> Outcome:
        """A twin with our stamp that someone else changed since (the stamp kept): a
        remote change, under `on_remote_change` and said (`remote.changed`), never adopted
        and never overwritten silently. Our side is the one the stamp names."""
        ctx, m, f, twin = self.ctx, a.mapping, a.file, a.twin
        assert twin is not None
        ours = Record(f.rel_path, f.size, f.mtime_ns, f.inode, sha, twin.uuid, twin.id, 0)
        verdict = changed_verdict(ctx.policy)
        if verdict is RemoteVerdict.HOLD:
            return self._hold_remote(a, ours, twin)
        name, strategy = f.name, ctx.config.sync.conflict_strategy.value
        if verdict is RemoteVerdict.KEEP_BOTH:
            stamp = datetime.now(UTC).strftime("%Y-%m-%d %H%M")
            name, strategy = conflict_name(f.name, stamp), ConflictStrategy.AUTO_RENAME
        try:
            return self._send(a, ours, twin, verdict, name, strategy)
        except Exception as exc:  # noqa: BLE001 - every failure is bookkept, none escapes
            return self.failure(m, f, exc)

    # -- failures ------------------------------------------------------------------------
    def failure(self, m: Mapping, f: LocalFile, exc: BaseException) -> Outcome:
        """What an upload that raised `exc` comes to: each failure is bookkept, none escapes
        (but a bug, which is no RemoteError or OSError)."""
        ctx, fields = self.ctx, _fields(m, f)
        if (local := self._local_failure(m, f, exc, fields)) is not None:
            return local
        if isinstance(exc, BudgetExhaustedError):
            return issues.pending(ctx, m, f, exc)
        if isinstance(exc, CredentialsError):
            ctx.fatal = exc
            ctx.stats.failed(exc.code)
            log.error("upload.failed", **fields, error_code=exc.code, error=exc.message)
            return Outcome.FAILED
        if isinstance(exc, TooSlowError):
            issue = ctx.state.issue(m.key, f.rel_path)
            r = Refusal(
                f.rel_path, "too slow for the upload window", exc.message, f.size, f.mtime_ns
            )
            return issues.refuse(ctx, refuse(m, r, issue))
        if (
            isinstance(exc, PermanentError)
            and exc.code == NOT_SUPPORTED
            and exc.api == "storage.addFolder"
            and f.folder
        ):
            self._no_folder_api(m, exc)
            ctx.stats.add(abandoned=1)
            return Outcome.ABANDONED
        if isinstance(exc, RootMissingError) or (
            isinstance(exc, PermanentError) and exc.code in MAPPING_CODES
        ):
            assert isinstance(exc, RemoteError)
            hint = MAPPING_CODES.get(exc.code, "check parent_dentry_uuid (`syncd ls`)")
            ctx.mapping_failed(m, MappingFailedError(exc.message, code=exc.code, hint=hint))
            ctx.stats.add(abandoned=1)
            return Outcome.ABANDONED
        if isinstance(exc, StateError):  # e.g. the folder cache could not be written
            ctx.state_failed(exc, "folder cache")
            return Outcome.ABANDONED
        if isinstance(exc, OSError):  # EIO, ESTALE…: the file system, not the remote
            exc = TransientError(
                exc.strerror or str(exc),
                code=errno.errorcode.get(exc.errno or 0, "OSError"),
                api="local",
            )
        if not isinstance(exc, RemoteError):
            raise exc
        self._quarantine(m, f, exc, fields)
        return Outcome.FAILED

    def _no_folder_api(self, m: Mapping, exc: PermanentError) -> None:
        """The space has no folder API: its subfolders fail once, at mapping level."""
        ctx = self.ctx
        if ctx.has_remote():
            remote = ctx.remote()
            space = remote.folders.root(ctx.target(m)).space_id
            remote.caps.learn(space, Capability.ADD_FOLDER, False)
        ctx.subfolders_failed(
            m,
            MappingFailedError(
                f"the remote space does not offer the folder API (capability add_folder: "
                f"{exc.message}); files in subfolders are not uploaded, root files are",
                code=exc.code,
                hint="set `subfolders: false` on this mapping, or map a folder of a space "
                "that has the folder API (`syncd check --probe` tells)",
            ),
        )

    def _local_failure(
        self, m: Mapping, f: LocalFile, exc: BaseException, fields: dict[str, Any]
    ) -> Outcome | None:
        """The file went away, changed, or cannot be read (None: not a local failure)."""
        ctx = self.ctx
        if isinstance(exc, FileVanishedError) or (
            isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.ENOTDIR)
        ):
            log.debug("upload.vanished", **fields)
            ctx.stats.add(vanished=1)
            return Outcome.VANISHED
        if isinstance(exc, FileChangedError):
            log.info("upload.deferred", **fields, reason="changed during upload", detail=str(exc))
            ctx.stats.add(deferred=1)
            return Outcome.DEFERRED
        if isinstance(exc, PermissionError):
            issue = ctx.state.issue(m.key, f.rel_path)
            r = Refusal(f.rel_path, PERMISSION_DENIED, "", f.size, f.mtime_ns, f.ctime_ns)
            return issues.refuse(ctx, refuse(m, r, issue))
        return None

    def _quarantine(
        self, m: Mapping, f: LocalFile, exc: RemoteError, fields: dict[str, Any]
    ) -> None:
        ctx = self.ctx
        previous = ctx.state.issue(m.key, f.rel_path)
        attempts = 1
        if (
            previous is not None
            and previous.kind is IssueKind.FAILED
            and previous.matches(f.size, f.mtime_ns)
        ):
            attempts = previous.attempts + 1
        permanent = isinstance(exc, PermanentError)
        if permanent:
            delay = max(quarantine_delay(attempts), PERMANENT_RETRY_FLOOR)
        else:  # transient: probably an outage, not the file; `run` retries sooner on recovery
            delay = quarantine_delay(attempts, cap=TRANSIENT_RETRY_CAP)
        now = time.time()
        log.error(
            "upload.failed",
            **fields,
            error_code=exc.code or type(exc).__name__,
            error=exc.message,
            status=exc.status,
            attempts=attempts,
            next_retry=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + delay)),
        )
        issue = Issue(
            f.rel_path,
            IssueKind.FAILED,
            "remote refused" if permanent else "upload failed",
            f.size,
            f.mtime_ns,
            exc.code,
            exc.message,
            attempts,
            now + delay,
            now,
        )
        ctx.write("issue", lambda: ctx.state.put_issue(m.key, issue))
        ctx.stats.failed(exc.code or type(exc).__name__)  # after the store, as in `refuse`
