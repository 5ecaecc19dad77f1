"""`dingtalk.rate_limit: redis://…`: several hosts share one app's call budget.

DingTalk counts calls per app per API (dingtalk-api.md §9.3), so daemons on several file
servers with one app must share that budget or be throttled together. Each API gets one
sliding-window log in Redis, a sorted set of call start times, and one Lua script both
checks and records a call atomically, on the Redis server's clock (hosts' clocks may
differ). It is the same sliding window as the local limiter (ratelimit.py), so a fixed
one-second window on the server is never overrun either.

If Redis cannot be reached, calls go through this host's own limiter, with one warning per
outage; Redis is tried again every `RETRY_SECONDS`.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import structlog

from syncd.obs.logconfig import register_secret
from syncd.remote.ratelimit import PerApiLimiter

log = structlog.get_logger("syncd.remote.ratelimit")

RETRY_SECONDS = 30.0
KEY_PREFIX = "syncd:ratelimit"

# KEYS[1] the API's log; ARGV: limit, window (µs), this call's member, key TTL (ms),
# spacing (µs). Returns 0 when the call was recorded, else the microseconds to wait.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
-- a start in the future (a host whose clock stepped, an entry written by hand) cannot be a
-- call of this window: dropped, so it never makes every host wait
redis.call('ZREMRANGEBYSCORE', KEYS[1], '(' .. (now + window), '+inf')
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if newest[2] and now - tonumber(newest[2]) < tonumber(ARGV[5]) then
  return math.max(1, tonumber(ARGV[5]) - (now - tonumber(newest[2])))
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""

# The call recorded as ARGV[1] is being sent now: count it from now (never earlier).
_MARK = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  if now > tonumber(score) then
    redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
  end
end
return 0
"""


def describe(url: str) -> str:
    """`url` without its user and password, for logs and messages."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def ping(url: str, timeout: float = 2.0) -> str | None:
    """None when Redis at `url` answers, else why not (for `syncd check`)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
        return None
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()


class SharedLimiter:
    """Per-API sliding windows kept in Redis; the local limiter while Redis is away.

    Same interface as `PerApiLimiter`: `acquire(api)` blocks until a call may start and
    returns the seconds waited; `mark()` moves this thread's last call to the moment it is
    sent. Threads of one process queue on a lock per API, so only one of them polls Redis.
    """

    def __init__(
        self,
        url: str,
        rate: float,
        app_key: str,
        *,
        window: float = 1.03,
        spacing: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        socket_timeout: float = 1.0,
    ) -> None:
        import redis

        register_secret(urlsplit(url).password or "", pinned=True)
        self.where = describe(url)
        self.limit = max(1, int(rate))
        self.window_us = int(window * (self.limit / rate if rate < 1 else 1.0) * 1_000_000)
        # calls from several hosts are spaced out, not sent in bursts of a whole window:
        # a burst meets the server all at once, and the server's own queueing then moves
        # some arrivals by more than the window's margin
        self.spacing_us = self.window_us // self.limit if spacing is None else int(spacing * 1e6)
        self.local = PerApiLimiter(rate, window)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._redis = redis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
        )
        self._acquire_script: Any = self._redis.register_script(_ACQUIRE)
        self._mark_script: Any = self._redis.register_script(_MARK)
        self._prefix = f"{KEY_PREFIX}:{app_key or 'app'}"
        self._ids = itertools.count()
        self._me = f"{os.uname().nodename}:{os.getpid()}:{os.urandom(4).hex()}"
        self._clock, self._sleep = clock, sleep
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._mine = threading.local()
        self._down_until = 0.0  # monotonic: use the local limiter until then
        self._down = False

    def close(self) -> None:
        self._redis.close()

    def acquire(self, api: str) -> float:
        self._mine.entry = None
        key = f"{self._prefix}:{api}"
        member = f"{self._me}:{next(self._ids)}"
        waited = 0.0
        with self._lock_for(api):
            while not self._is_down():
                try:
                    wait_us = int(
                        self._acquire_script(
                            keys=[key],
                            args=[
                                self.limit,
                                self.window_us,
                                member,
                                self._ttl_ms,
                                self.spacing_us,
                            ],
                        )
                    )
                except self._errors as exc:
                    self._fall_back(exc)
                    break
                if wait_us <= 0:
                    self._restored()
                    self._mine.entry = (key, member)
                    return waited
                wait_us = min(wait_us, self.window_us)  # never more than one window at once
                self._sleep(wait_us / 1_000_000)
                waited += wait_us / 1_000_000
        return waited + self.local.acquire(api)

    def _is_down(self) -> bool:
        return self._down and self._clock() < self._down_until

    def mark(self) -> None:
        entry = getattr(self._mine, "entry", None)
        if entry is None:
            self.local.mark()
            return
        self._mine.entry = None
        try:
            self._mark_script(keys=[entry[0]], args=[entry[1]])
        except self._errors as exc:
            self._fall_back(exc)

    @property
    def _ttl_ms(self) -> int:
        return self.window_us // 1000 * 2 + 1000

    def _lock_for(self, api: str) -> threading.Lock:
        with self._locks_lock:
            lock = self._locks.get(api)
            if lock is None:
                lock = self._locks[api] = threading.Lock()
            return lock

    def _fall_back(self, exc: BaseException) -> None:
        self._down_until = self._clock() + RETRY_SECONDS
        if not self._down:
            self._down = True
            log.warning(
                "rate_limit.shared_unreachable",
                redis=self.where,
                error=str(exc) or type(exc).__name__,
                retry_in_seconds=RETRY_SECONDS,
                note=f"using this host's own limit of {self.local.rate:g} calls/s per API "
                "meanwhile; hosts together may be throttled until Redis is back",
            )

    def _restored(self) -> None:
        if self._down:
            self._down = False
            log.info("rate_limit.shared_restored", redis=self.where)


def make_limiter(rate: float, rate_limit: str, app_key: str) -> PerApiLimiter | SharedLimiter:
    """The limiter `dingtalk.rate_limit` asks for."""
    if rate_limit and rate_limit != "local":
        return SharedLimiter(rate_limit, rate, app_key)
    return PerApiLimiter(rate)
