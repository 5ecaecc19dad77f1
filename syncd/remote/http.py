"""The HTTP session under the DingTalk client, and transport failures as typed errors.

A requests Session that reads the environment's proxy/CA settings once per host, sends no
credentials of its own (no ~/.netrc) and tells the rate limiter the moment a call is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from syncd import __version__
from syncd.core.errors import RemoteError, TransientError, UncertainError

USER_AGENT = f"syncd/{__version__}"


def _no_auth(request: Any) -> Any:
    return request


class Session(requests.Session):
    """A Session that reads proxy/CA settings from the environment once per host.

    requests re-reads the whole environment (proxy variables, NO_PROXY, CA bundle) for
    every request; that was a sixth of syncd's CPU per small file. A daemon's environment
    does not change while it runs, and there are only a few hosts (the API, the OSS ones).
    """

    def __init__(self) -> None:
        super().__init__()
        # the token header and the OSS signature are the only credentials: with no session
        # auth, requests would look up ~/.netrc on every request and, for a host listed
        # there, replace the signed OSS `Authorization` header with Basic auth
        self.auth = _no_auth
        self._env: dict[tuple[str, str], Any] = {}
        self.on_send: Callable[[], None] | None = None  # the rate limiter's mark

    def send(self, request: Any, **kwargs: Any) -> Any:
        if self.on_send is not None:
            self.on_send()
        return super().send(request, **kwargs)

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        if proxies or verify is not None or cert is not None or not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        key = urlsplit(url)[:2]
        settings: Any = self._env.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, {}, None, None, None)
            self._env[key] = settings
        return {**settings, "proxies": dict(settings["proxies"]), "stream": stream}


def make_session(pool_size: int, on_send: Callable[[], None] | None) -> Session:
    """A Session with a pool of `pool_size` connections per host; `on_send` marks each send."""
    session = Session()
    session.on_send = on_send
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    return session


def not_sent(exc: requests.RequestException) -> bool:
    """True when the request surely never reached the server (connect failed)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    text = repr(exc)
    return isinstance(exc, requests.ConnectionError) and (
        "NewConnectionError" in text or "NameResolutionError" in text or "ConnectionRefused" in text
    )


def transport_error(exc: requests.RequestException, api: str, idempotent: bool) -> RemoteError:
    if not_sent(exc) or idempotent:
        code = "timeout" if isinstance(exc, requests.Timeout) else "connectionError"
        text = "timed out" if isinstance(exc, requests.Timeout) else transport_text(exc)
        return TransientError(text, code=code, api=api)
    return UncertainError(
        f"answer lost ({transport_text(exc)}); the call may have been applied",
        code="answerLost",
        api=api,
    )


def transport_text(exc: requests.RequestException) -> str:
    """A short description of a transport error that carries no URL (URLs may be signed)."""
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        nxt = cause.__cause__ or cause.__context__
        assert nxt is not None
        cause = nxt
    kind = type(exc).__name__
    detail = type(cause).__name__ if cause is not exc else ""
    return f"{kind} ({detail})" if detail and detail != kind else kind
