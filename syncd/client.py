"""The DingTalk storage client: one method per call of dingtalk-api.md, over `requests`.

It owns the session, the access token (memory only, refreshed 10 minutes before expiry and
once on `InvalidAuthentication`), the client-side rate limit per API, connect/read timeouts
and transport-level retries of transient errors. Business retries (restart a file from step
1) belong to the uploader. Nothing secret is logged or put into an exception.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import requests
import structlog
from requests.adapters import HTTPAdapter

from syncd import __version__
from syncd.backoff import THROTTLE_FLOOR, backoff_delay
from syncd.errors import (
    AuthError,
    CorruptTransferError,
    RemoteError,
    ThrottledError,
    TransientError,
)
from syncd.logconfig import register_secret
from syncd.model import Dentry
from syncd.ratelimit import PerApiLimiter
from syncd.remote_errors import api_error, oss_error

log = structlog.get_logger(__name__)

TOKEN_REFRESH_MARGIN = 600.0  # refresh when under 10 minutes remain (DOC:0001)
USER_AGENT = f"syncd/{__version__}"


class Settings(Protocol):
    app_key: str
    app_secret: str
    union_id: str
    api_base: str
    qps: float
    connect_timeout: float
    read_timeout: float


@dataclass(frozen=True)
class UploadInfo:
    upload_key: str
    url: str = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    expires_at: float  # time.monotonic() deadline


class Body(Protocol):
    """A re-readable upload body: iterating yields the bytes, `len()` is their number."""

    def __iter__(self) -> Iterator[bytes | memoryview]: ...
    def __len__(self) -> int: ...
    @property
    def md5_hex(self) -> str: ...


class _Session(requests.Session):
    """A Session that reads proxy/CA settings from the environment once per host.

    requests re-reads the whole environment (proxy variables, NO_PROXY, CA bundle) for
    every request; that was a sixth of syncd's CPU per small file. A daemon's environment
    does not change while it runs, and there are only a few hosts (the API, the OSS ones).
    """

    def __init__(self) -> None:
        super().__init__()
        self._env: dict[tuple[str, str], dict[str, Any]] = {}

    def merge_environment_settings(  # type: ignore[override]
        self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if proxies or verify is not None or cert is not None or not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        key = urlsplit(url)[:2]
        settings = self._env.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, {}, None, None, None)
            self._env[key] = settings
        return {**settings, "proxies": dict(settings["proxies"]), "stream": stream}


class DingTalkClient:
    def __init__(
        self,
        settings: Settings,
        *,
        max_attempts: int = 5,
        pool_size: int = 16,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.base = settings.api_base.rstrip("/")
        self.max_attempts = max_attempts
        self.timeout = (settings.connect_timeout, settings.read_timeout)
        self._sleep = sleep
        self.limiter = PerApiLimiter(settings.qps)
        self.session = _Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self._token = ""
        self._token_deadline = 0.0
        self._token_lock = threading.Lock()
        self.calls = 0  # API requests made (tests and stats)
        register_secret(settings.app_secret, pinned=True)

    def close(self) -> None:
        self.session.close()

    # -- token ---------------------------------------------------------------------------
    def token(self, *, force: bool = False, stale: str = "") -> str:
        """The cached access token, fetched or refreshed when needed."""
        with self._token_lock:
            fresh = self._token and time.monotonic() < self._token_deadline - TOKEN_REFRESH_MARGIN
            if fresh and not force:
                return self._token
            if force and stale and self._token != stale:
                return self._token  # another thread already refreshed it
            data = self._call(
                "oauth2.accessToken",
                "POST",
                "/v1.0/oauth2/accessToken",
                body={"appKey": self.settings.app_key, "appSecret": self.settings.app_secret},
                auth=False,
            )
            token = str(data.get("accessToken") or "")
            if not token:
                raise TransientError("token response without accessToken", api="token")
            register_secret(token)
            self._token = token
            self._token_deadline = time.monotonic() + float(data.get("expireIn") or 7200)
            log.info("token.refreshed", expires_in=int(float(data.get("expireIn") or 7200)))
            return token

    # -- the calls ---------------------------------------------------------------------
    def upload_info(self, parent_uuid: str, name: str, size: int) -> UploadInfo:
        started = time.monotonic()
        data = self._call(
            "storage.uploadInfos",
            "POST",
            f"/v2.0/storage/spaces/files/{quote(parent_uuid, safe='')}/uploadInfos/query",
            params={"unionId": self.settings.union_id},
            body={
                "protocol": "HEADER_SIGNATURE",
                "option": {
                    "storageDriver": "DINGTALK",
                    "preCheckParam": {"size": size, "name": name},
                },
            },
        )
        info = data.get("headerSignatureInfo") or {}
        urls = info.get("resourceUrls") or []
        if not data.get("uploadKey") or not urls:
            raise TransientError(
                "upload info without uploadKey or resourceUrls", api="storage.uploadInfos"
            )
        # the OSS Authorization value is redacted by shape in logconfig; it is never logged
        headers = {str(k): str(v) for k, v in (info.get("headers") or {}).items()}
        expires = float(info.get("expirationSeconds") or 900)
        return UploadInfo(str(data["uploadKey"]), str(urls[0]), headers, started + expires)

    def put(self, info: UploadInfo, body: Body) -> str | None:
        """PUT `body` to the signed URL; return the ETag (None when OSS sent none).

        Exactly the signed headers, an empty Content-Type (anything else breaks the OSS V1
        signature) and Content-Length; the body is streamed, never read whole.
        """
        headers = dict(info.headers)
        for k in [k for k in headers if k.lower() in ("content-type", "content-length")]:
            del headers[k]
        headers["Content-Type"] = ""
        headers["Content-Length"] = str(len(body))
        data: Body | bytes = body if len(body) else b""  # an empty iterable would go chunked
        try:
            resp = self.session.put(info.url, data=data, headers=headers, timeout=self.timeout)
        except requests.Timeout:
            raise TransientError("timed out", code="timeout", api="oss.put") from None
        except requests.RequestException as exc:
            raise TransientError(
                _transport_text(exc), code="connectionError", api="oss.put"
            ) from None
        with resp:
            if not 200 <= resp.status_code < 300:
                raise oss_error(resp.status_code, resp.content, resp.headers)
            etag = resp.headers.get("ETag")
        if etag:
            etag = etag.strip().strip('"').upper()
            if len(etag) == 32 and etag != body.md5_hex.upper():
                raise CorruptTransferError(
                    "ETag does not match the MD5 of the bytes sent",
                    code="corruptTransfer",
                    api="oss.put",
                )
        return etag

    def commit(
        self, parent_uuid: str, upload_key: str, name: str, size: int, strategy: str
    ) -> Dentry:
        data = self._call(
            "storage.commit",
            "POST",
            f"/v2.0/storage/spaces/files/{quote(parent_uuid, safe='')}/commit",
            params={"unionId": self.settings.union_id},
            body={
                "uploadKey": upload_key,
                "name": name,
                "option": {"size": size, "conflictStrategy": strategy},
            },
        )
        return _dentry(data.get("dentry") or {}, "storage.commit")

    def query_dentry_id(self, dentry_uuid: str) -> tuple[str, str]:
        """`(spaceId, dentryId)` of a dentryUuid (needs Document.WorkspaceDocument.Read)."""
        data = self._call(
            "doc.queryDentryId",
            "GET",
            f"/v2.0/doc/dentries/{quote(dentry_uuid, safe='')}/queryDentryId",
            params={"operatorId": self.settings.union_id},
        )
        space_id, dentry_id = str(data.get("spaceId") or ""), str(data.get("dentryId") or "")
        if not space_id or not dentry_id:
            raise TransientError(
                "queryDentryId answer without spaceId/dentryId", api="doc.queryDentryId"
            )
        return space_id, dentry_id

    def add_folder(self, space_id: str, parent_id: str, name: str) -> Dentry:
        """Create folder `name` under `parent_id`, or return it if it exists (mkdir -p)."""
        data = self._call(
            "storage.addFolder",
            "POST",
            f"/v1.0/storage/spaces/{quote(space_id, safe='')}/dentries/"
            f"{quote(parent_id, safe='')}/folders",
            params={"unionId": self.settings.union_id},
            body={"name": name, "option": {"conflictStrategy": "RETURN_DENTRY_IF_EXISTS"}},
        )
        return _dentry(data.get("dentry") or {}, "storage.addFolder")

    # -- plumbing ----------------------------------------------------------------------
    def _call(
        self,
        api: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        auth: bool = True,
    ) -> dict[str, Any]:
        """One API call with rate limit, timeouts, typed errors and transient retries."""
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            headers = {}
            if auth:
                token = self.token()
                headers["x-acs-dingtalk-access-token"] = token
            self.limiter.acquire(api)
            try:
                return self._send(api, method, path, params, body, headers)
            except AuthError:
                if not auth or refreshed:
                    raise
                refreshed = True
                attempt -= 1
                self.token(force=True, stale=token)
            except RemoteError as err:
                # a rejected upload key is the uploader's business (restart from step 1):
                # retrying the same dead key here only wastes calls
                if not err.retryable or err.restart_upload or attempt >= self.max_attempts:
                    raise
                floor = THROTTLE_FLOOR if isinstance(err, ThrottledError) else 0.0
                delay = backoff_delay(attempt, retry_after=err.retry_after, floor=floor)
                log.debug(
                    "request.retrying",
                    api=api,
                    code=err.code,
                    attempt=attempt,
                    delay=round(delay, 2),
                )
                self._sleep(delay)

    def _send(
        self,
        api: str,
        method: str,
        path: str,
        params: dict[str, str] | None,
        body: Any,
        headers: dict[str, str],
    ) -> dict[str, Any]:
        self.calls += 1
        try:
            resp = self.session.request(
                method,
                self.base + path,
                params=params,
                json=body,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.Timeout:
            raise TransientError("timed out", code="timeout", api=api) from None
        except requests.RequestException as exc:
            raise TransientError(_transport_text(exc), code="connectionError", api=api) from None
        with resp:
            if not 200 <= resp.status_code < 300:
                raise api_error(resp.status_code, resp.content, resp.headers, api)
            try:
                data = resp.json()
            except ValueError:
                raise TransientError(
                    "answer is not JSON", code="badResponse", status=200, api=api
                ) from None
        if not isinstance(data, dict):
            raise TransientError("answer is not a JSON object", code="badResponse", api=api)
        return data


def _dentry(d: dict[str, Any], api: str) -> Dentry:
    if not d.get("uuid") or not d.get("id"):
        raise TransientError("answer without dentry uuid/id", code="badResponse", api=api)
    return Dentry(
        uuid=str(d["uuid"]),
        id=str(d["id"]),
        name=str(d.get("name") or ""),
        version=int(d.get("version") or 0),
        size=int(d.get("size") or 0),
        space_id=str(d.get("spaceId") or ""),
    )


def _transport_text(exc: requests.RequestException) -> str:
    """A short description of a transport error that carries no URL (URLs may be signed)."""
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        nxt = cause.__cause__ or cause.__context__
        assert nxt is not None
        cause = nxt
    kind = type(exc).__name__
    detail = type(cause).__name__ if cause is not exc else ""
    return f"{kind} ({detail})" if detail and detail != kind else kind
