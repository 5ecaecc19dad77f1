"""The DingTalk transport: session, token, rate limit, timeouts, typed errors, retries.

The endpoints live on top of `call()`: the upload and folder calls in `storage.py`, the
dentry calls in `dentries.py`, the wiki calls in `wiki.py`. The access token is held
in memory only, refreshed 10 minutes before expiry (at half its life when it lives less
than 20 minutes) and once on a 401 / `InvalidAuthentication`. Every API has its own
client-side rate limit. A per-IP ban pauses every call, not just one. Business retries
(restart a file from step 1) belong to `transfer.py`. Nothing secret is logged or put into
an exception.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import requests
import structlog

from syncd.core.errors import (
    AuthError,
    BannedError,
    BudgetExhaustedError,
    CredentialsError,
    RemoteError,
    ThrottledError,
    TransientError,
    UncertainError,
)
from syncd.obs.logconfig import register_secret
from syncd.remote.backoff import backoff_delay
from syncd.remote.bans import BanPause
from syncd.remote.errors import api_error
from syncd.remote.etag import EtagCheck
from syncd.remote.http import make_session, transport_error
from syncd.remote.meter import Charge, Meter
from syncd.remote.ratelimit_redis import make_limiter
from syncd.remote.wire import as_int, stamp_app_id

log = structlog.get_logger(__name__)

TOKEN_REFRESH_MARGIN = 600.0  # refresh when under 10 minutes remain (DOC:0001)


class Settings(Protocol):
    @property
    def app_key(self) -> str: ...
    @property
    def app_secret(self) -> str: ...
    @property
    def union_id(self) -> str: ...
    @property
    def api_base(self) -> str: ...
    @property
    def qps(self) -> float: ...
    @property
    def rate_limit(self) -> str: ...
    @property
    def connect_timeout(self) -> float: ...
    @property
    def read_timeout(self) -> float: ...


class Transport:
    def __init__(
        self,
        settings: Settings,
        *,
        max_attempts: int = 5,
        pool_size: int = 16,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        limiter: Any = None,
        stats: Any = None,
        meter: Meter | None = None,
    ) -> None:
        self.settings = settings
        self.base = settings.api_base.rstrip("/")
        self.max_attempts = max_attempts
        self.timeout = (settings.connect_timeout, settings.read_timeout)
        self._sleep = sleep
        self.clock = clock
        self._own_limiter = limiter is None
        self.limiter = (
            limiter
            if limiter is not None
            else make_limiter(settings.qps, settings.rate_limit, settings.app_key)
        )
        self.session = make_session(pool_size, getattr(self.limiter, "mark", None))
        self._token = ""
        self._token_refresh_at = 0.0
        self._token_lock = threading.Lock()
        self.ban = BanPause(sleep, clock)
        self.etags = EtagCheck()
        self.stats = stats  # counts retries and throttled calls (metrics)
        self.meter = meter  # counts metered calls, enforces the month's budget (meter.py)
        self.calls = 0  # API requests made (tests and stats)
        self._waits = threading.local()  # time this thread spent in the rate limiter
        self.answered_at = 0.0  # monotonic time of the last answer from the API (health)
        self.app_id = ""  # this app's id, learnt from where our stamp shows (GetDentry asks it)
        register_secret(settings.app_secret, pinned=True)

    def close(self) -> None:
        self.session.close()
        if self.meter is not None:
            self.meter.close()
        if self._own_limiter and hasattr(self.limiter, "close"):
            self.limiter.close()

    # -- token ---------------------------------------------------------------------------
    def token(self, *, force: bool = False, stale: str = "") -> str:
        """The cached access token, fetched or refreshed when needed."""
        with self._token_lock:
            fresh = self._token and self.clock() < self._token_refresh_at
            if fresh and not force:
                return self._token
            if force and stale and self._token != stale:
                return self._token  # another thread already refreshed it
            data = self.call(
                "oauth2.accessToken",
                "POST",
                "/v1.0/oauth2/accessToken",
                body={"appKey": self.settings.app_key, "appSecret": self.settings.app_secret},
                auth=False,
            )
            token = str(data.get("accessToken") or "")
            if not token:
                raise TransientError("token response without accessToken", api="token")
            lifetime = float(as_int(data.get("expireIn", 7200), "expireIn", "oauth2.accessToken"))
            register_secret(token)
            self._token = token
            margin = min(TOKEN_REFRESH_MARGIN, lifetime / 2)
            self._token_refresh_at = self.clock() + lifetime - margin
            log.info("token.refreshed", expires_in=int(lifetime))
            return token

    def learn_app_id(self, dentry: Any) -> None:
        """Note this app's id from where our stamp shows in a dentry of an answer (once)."""
        if not self.app_id and isinstance(dentry, dict):
            self.app_id = stamp_app_id(dentry.get("appProperties"))

    # -- plumbing ----------------------------------------------------------------------
    def call(
        self,
        api: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        auth: bool = True,
        idempotent: bool = True,
        base: str = "",
    ) -> dict[str, Any]:
        """One API call with rate limit, timeouts, typed errors and transient retries.

        A call that is not `idempotent` (commit) is never sent twice when its first answer
        was lost: that raises `UncertainError` for the caller to resolve. `base` replaces
        `api_base` for this call (the old-style API on oapi.dingtalk.com, `contacts.py`).
        """
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            self.ban.wait_out()
            token = self.token() if auth else ""
            headers = {"x-acs-dingtalk-access-token": token} if auth else {}
            self._waits.seconds = getattr(self._waits, "seconds", 0.0) + self.limiter.acquire(api)
            try:
                url = (base or self.base) + path
                return self._metered(api, method, url, params, body, headers, idempotent)
            except AuthError as err:
                if not auth:
                    raise
                self._refresh_rejected(err, api, token, again=refreshed)
                refreshed = True
                attempt -= 1
            except BannedError as err:
                self.ban.start(err)
                attempt -= 1
            except RemoteError as err:
                self._retry_or_raise(err, api, attempt)

    def _refresh_rejected(self, err: AuthError, api: str, token: str, *, again: bool) -> None:
        """A 401 / `InvalidAuthentication`: a new token once; a new one rejected too means
        the app itself is refused (`CredentialsError`)."""
        if again:
            raise CredentialsError(
                f"a freshly issued access token was rejected ({err.message})",
                code=err.code,
                status=err.status,
                api=api,
            ) from None
        self.token(force=True, stale=token)

    def _retry_or_raise(self, err: RemoteError, api: str, attempt: int) -> None:
        """Sleep the back-off before the next attempt, or raise `err` when there is none.

        A rejected upload key is the transfer's business (restart from step 1): retrying the
        same dead key here only wastes calls; an uncertain commit is never sent again."""
        if isinstance(err, UncertainError) or not err.retryable or err.restart_upload:
            raise err
        if self.stats is not None:
            self.stats.add(retries=1, throttled=int(isinstance(err, ThrottledError)))
        if attempt >= self.max_attempts:
            raise err
        delay = backoff_delay(attempt, retry_after=err.retry_after, floor=err.floor)
        log.debug(
            "request.retrying", api=api, code=err.code, attempt=attempt, delay=round(delay, 2)
        )
        self._sleep(delay)

    def limiter_wait(self) -> float:
        """Seconds this thread waited in the rate limiter since the last call of this."""
        waited = float(getattr(self._waits, "seconds", 0.0))
        self._waits.seconds = 0.0
        return waited

    def _metered(
        self,
        api: str,
        method: str,
        url: str,
        params: dict[str, str] | None,
        body: Any,
        headers: dict[str, str],
        idempotent: bool,
    ) -> dict[str, Any]:
        """`_send` with the meter told before and after (one attempt)."""
        meter = self.meter
        if meter is None or not meter.reserve(api):
            return self._send(api, method, url, params, body, headers, idempotent)
        charge, message = Charge.FREE, ""
        try:
            data = self._send(api, method, url, params, body, headers, idempotent)
            charge = Charge.CHARGED
            return data
        except RemoteError as err:
            charge, message = _charge_of(err), err.message
            raise
        finally:
            meter.settle(api, charge, message)

    def _send(
        self,
        api: str,
        method: str,
        url: str,
        params: dict[str, str] | None,
        body: Any,
        headers: dict[str, str],
        idempotent: bool,
    ) -> dict[str, Any]:
        self.calls += 1
        try:
            resp = self.session.request(
                method,
                url,
                params=params,
                json=body,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise transport_error(exc, api, idempotent) from None
        with resp:
            self.answered_at = self.clock()
            if not 200 <= resp.status_code < 300:
                err = api_error(resp.status_code, resp.content, resp.headers, api)
                if not idempotent and resp.status_code >= 500 and err.retryable:
                    raise UncertainError(err.message, code=err.code, status=err.status, api=api)
                raise err
            try:
                data = resp.json()
            except ValueError:
                banned = api_error(200, resp.content, resp.headers, api)
                if isinstance(banned, BannedError):
                    raise banned from None
                cls = TransientError if idempotent else UncertainError
                raise cls("answer is not JSON", code="badResponse", status=200, api=api) from None
        if not isinstance(data, dict):
            raise TransientError("answer is not a JSON object", code="badResponse", api=api)
        if "punish" in data or str(data.get("status")) == "1111":  # the ban page, as a 200
            raise api_error(200, resp.content, resp.headers, api)
        return data


def _charge_of(err: RemoteError) -> Charge:
    """Whether DingTalk counted an attempt that failed (§15.1 计量规则): throttled calls,
    calls lost on the network, a rejected token and the quota's refusal are free; any other
    answer counts (a lost commit answer too: it was processed)."""
    if isinstance(err, BudgetExhaustedError):
        return Charge.QUOTA
    if isinstance(err, ThrottledError | BannedError | AuthError | CredentialsError):
        return Charge.FREE
    if isinstance(err, UncertainError):
        return Charge.CHARGED
    if err.status is None:  # no answer at all (connection refused, reset, timeout)
        return Charge.FREE
    return Charge.CHARGED
