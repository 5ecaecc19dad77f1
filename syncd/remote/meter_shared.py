"""The month's metered calls in Redis, shared by every host on the app (`rate_limit:
redis://…`, the same Redis as the shared rate limiter).

One counter per app and CST month; a Lua script checks the budget and counts a call in one
step, so hosts together never overshoot it. While Redis cannot be reached the meter counts
on its own (one warning per outage) and tries Redis again after `RETRY_SECONDS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import structlog

from syncd.obs.logconfig import register_secret
from syncd.remote.ratelimit_redis import RETRY_SECONDS, describe

log = structlog.get_logger("syncd.remote.meter")

KEY_PREFIX = "syncd:calls"
TTL_SECONDS = 40 * 86400  # a month's counter outlives its month

# KEYS[1] the month's counter; ARGV[1] the budget (0 = none), ARGV[2] the TTL (s).
# Returns the count with this call, or -1 when the budget is spent (nothing counted).
_RESERVE = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local budget = tonumber(ARGV[1])
if budget > 0 and n >= budget then
  return -1
end
n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return n
"""

_RELEASE = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
"""


class SharedCounter:
    def __init__(
        self,
        url: str,
        app_key: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        socket_timeout: float = 1.0,
    ) -> None:
        import redis

        register_secret(urlsplit(url).password or "", pinned=True)
        self.where = describe(url)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._redis = redis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
        self._reserve: Any = self._redis.register_script(_RESERVE)
        self._release: Any = self._redis.register_script(_RELEASE)
        self._prefix = f"{KEY_PREFIX}:{app_key or 'app'}"
        self._clock = clock
        self._down_until = 0.0
        self._down = False

    def key(self, month: str) -> str:
        return f"{self._prefix}:{month}"

    def reserve(self, month: str, budget: int) -> int | None:
        """The month's count with this call, -1 when the budget is spent, None when Redis
        is away (the meter counts on its own)."""
        if self._away():
            return None
        try:
            n = int(self._reserve(keys=[self.key(month)], args=[budget, TTL_SECONDS]))
        except self._errors as exc:
            self._fall_back(exc)
            return None
        self._restored()
        return n

    def release(self, month: str) -> None:
        if self._away():
            return
        try:
            self._release(keys=[self.key(month)])
        except self._errors as exc:
            self._fall_back(exc)

    def total(self, month: str) -> int | None:
        if self._away():
            return None
        try:
            raw = self._redis.get(self.key(month))
        except self._errors as exc:
            self._fall_back(exc)
            return None
        return int(raw or 0)

    def close(self) -> None:
        self._redis.close()

    def _away(self) -> bool:
        return self._down and self._clock() < self._down_until

    def _fall_back(self, exc: BaseException) -> None:
        self._down_until = self._clock() + RETRY_SECONDS
        if not self._down:
            self._down = True
            log.warning(
                "meter.shared_unreachable",
                redis=self.where,
                error=str(exc) or type(exc).__name__,
                retry_in_seconds=RETRY_SECONDS,
                note="counting this host's calls on its own meanwhile",
            )

    def _restored(self) -> None:
        if self._down:
            self._down = False
            log.info("meter.shared_restored", redis=self.where)
