"""syncd's exception hierarchy.

Every error that crosses a module seam is one of these; `requests`, `yaml` and `sqlite3`
exceptions are wrapped with ``raise ... from exc``. Each remote error classifies itself
(b2sdk's ``should_retry_*``, rclone's ``Retrier``/``Fataler``): callers ask
``err.retryable`` / ``err.restart_upload`` instead of matching codes.

Messages never contain secrets: the access token, the app secret, the OSS ``Authorization``
header and signed-URL query strings are never put into an exception.
"""

from __future__ import annotations

import time
from pathlib import Path


class SyncdError(Exception):
    """Base of every syncd error."""


class ConfigError(SyncdError):
    """The configuration is invalid; ``problems`` lists every problem with its key path."""

    def __init__(self, problems: list[str], source: str | None = None, hint: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        self.hint = hint  # what to do, after the problems (e.g. how to run with the unit's secret)
        head = f"invalid configuration {source}" if source else "invalid configuration"
        text = head + ":\n" + "\n".join(f"  {p}" for p in self.problems)
        super().__init__(text + (f"\n{hint}" if hint else ""))


class StateError(SyncdError):
    """The state store cannot be opened or written."""


class RemoteError(SyncdError):
    """An error from DingTalk (API or OSS) or the transport to it.

    ``code`` is the remote error code (``paramError.uploadKey``, ``SignatureDoesNotMatch``…)
    or a local one for transport problems (``connectionError``, ``timeout``).
    """

    retryable = False  # worth trying the same call again after a back-off
    restart_upload = False  # the file's upload must start again from step 1
    floor = 0.0  # wait at least this long before trying again

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        status: int | None = None,
        request_id: str = "",
        api: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.code = code
        self.status = status
        self.request_id = request_id
        self.api = api
        self.retry_after = retry_after
        self.message = message
        parts = [p for p in (api, str(status) if status else "", code) if p]
        prefix = " ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class TransientError(RemoteError):
    """Connection errors, timeouts, 5xx, ``operationTimeout``: retry with back-off."""

    retryable = True


class ThrottledError(TransientError):
    """403 ``Forbidden.AccessDenied.Qps…``/``Qpm…``: the API rate limit was hit.

    DingTalk's advice is to wait a second (per-second limits); a per-minute limit
    (``QpmLimit…``) needs a minute.
    """

    @property
    def floor(self) -> float:  # type: ignore[override]
        return 60.0 if "Qpm" in self.code else 1.0


class BannedError(TransientError):
    """The per-IP ban page (``{"status":1111,"wait":…,"punish":"deny"}`` or HTML): every call
    from this host must pause for ``retry_after`` seconds, not just this one."""


class UncertainError(TransientError):
    """The request was sent but its answer was lost (timeout, reset, 5xx): it may have been
    applied. Never replayed blindly: the caller looks the result up first."""


class NotAskedError(RemoteError):
    """The remote was not asked at all: the mapping failed, uploads stopped, a dry-run, or
    the month's call budget is spent. Nothing is known of the answer."""


class AuthError(RemoteError):
    """The access token was rejected (``InvalidAuthentication``): refresh once and retry."""


class CredentialsError(RemoteError):
    """The app key/secret were rejected: nothing can work until the operator fixes them."""


class UploadExpiredError(RemoteError):
    """The signed URL expired, the uploadKey was rejected, or the object went missing.

    The upload restarts from step 1 with fresh upload info.
    """

    retryable = True
    restart_upload = True


class CorruptTransferError(UploadExpiredError):
    """OSS answered with an ETag that is not the MD5 of what was sent."""


class ParentMissingError(RemoteError):
    """The parent folder is gone (404 ``dentryNotExist``, 400 ``paramError.parentDentryUuid``)."""


class PermanentError(RemoteError):
    """A refusal that retrying will not fix: permission, quota, invalid name, bad parameter."""


class NotFoundError(PermanentError):
    """An address-book lookup found no such user (old-style errcode 60121 or 33012)."""


class PermissionMissingError(PermanentError):
    """The app lacks an API permission; ``permission`` names it (``qyapi_get_member``…)."""

    def __init__(
        self,
        message: str,
        *,
        permission: str,
        code: str = "",
        status: int | None = None,
        api: str = "",
    ) -> None:
        super().__init__(message, code=code, status=status, api=api)
        self.permission = permission


class TooSlowError(PermanentError):
    """The PUT took longer than the signed URL stays valid: retrying cannot help until the
    network is faster (or the file smaller). Reported once per version of the file."""


class MappingFailedError(SyncdError):
    """A mapping cannot be used at all (its local folder or remote root is missing, or a
    guard stopped it); ``reason`` is shown in ``mapping.failed`` and ``status``."""

    def __init__(self, reason: str, *, code: str = "", hint: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.hint = hint
        self.at = time.time()  # since when (`status`)


class FileChangedError(SyncdError):
    """The local file changed (size, mtime or inode) while it was being uploaded."""


class FileVanishedError(SyncdError):
    """The local file disappeared before or during the upload."""


class RootMissingError(ParentMissingError):
    """The mapping's own `parent_dentry_uuid` does not exist or is not visible to the app."""


class RootUnavailable(SyncdError):
    """The mapping's local folder cannot be opened; `reason` says why, for `mapping.failed`."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class LockedError(SyncdError):
    """Another syncd process holds the state directory."""
