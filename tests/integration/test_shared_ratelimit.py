"""`dingtalk.rate_limit: redis://…` against a real redis-server: one window for every host."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
import redis
from structlog.testing import capture_logs

from syncd.remote.ratelimit_redis import KEY_PREFIX, RETRY_SECONDS, SharedLimiter
from tests.conftest import wait_until

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_two_hosts_never_exceed_one_window_together(redis_server):
    """Two limiters (two hosts) with 4 threads: any 4+1 consecutive starts span a window,
    and starts are spaced by window/rate rather than sent in bursts."""
    hosts = [SharedLimiter(redis_server.url, 4, "app", window=0.5) for _ in range(2)]
    starts: list[float] = []
    lock = threading.Lock()

    def worker(limiter: SharedLimiter) -> None:
        for _ in range(5):
            limiter.acquire("commit")
            with lock:
                starts.append(time.monotonic())

    threads = [threading.Thread(target=worker, args=(h,)) for h in hosts for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for h in hosts:
        h.close()
    starts.sort()
    assert len(starts) == 20
    spans = [starts[i + 4] - starts[i] for i in range(len(starts) - 4)]
    # a grant is noted a moment after Redis records it; 20% covers that, not a second call
    assert min(spans) >= 0.4, spans
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.1, gaps  # 0.125 s apart, less how late a grant is noted


def test_each_app_and_api_has_its_own_window(redis_server):
    """A full window for one app's commit API does not delay another API or another app."""
    full = SharedLimiter(redis_server.url, 3, "app-a", window=30, spacing=0)
    for _ in range(3):
        assert full.acquire("commit") == 0
    other_api = [full.acquire("uploadInfo") for _ in range(3)]
    other_app = SharedLimiter(redis_server.url, 3, "app-b", window=30, spacing=0)
    other = [other_app.acquire("commit") for _ in range(3)]
    r = redis.Redis.from_url(redis_server.url)
    assert r.zcard(f"{KEY_PREFIX}:app-a:commit") == 3
    assert r.zcard(f"{KEY_PREFIX}:app-b:commit") == 3
    assert other_api == [0, 0, 0] and other == [0, 0, 0]
    for c in (full, other_app, r):
        c.close()


def test_unreachable_redis_falls_back_with_one_warning_then_comes_back(redis_server):
    clock = Clock()
    limiter = SharedLimiter(redis_server.url, 1000, "app", clock=clock, socket_timeout=1)
    key = f"{KEY_PREFIX}:app:commit"
    limiter.acquire("commit")
    assert redis.Redis.from_url(redis_server.url).zcard(key) == 1
    redis_server.stop()
    with capture_logs() as logs:
        for _ in range(5):
            limiter.acquire("commit")
            limiter.mark()
    warnings = [e for e in logs if e["event"] == "rate_limit.shared_unreachable"]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning"
    assert warnings[0]["redis"] == redis_server.url
    redis_server.start()
    r = redis.Redis.from_url(redis_server.url)
    limiter.acquire("commit")  # still within the retry delay: this host's own limit
    assert r.zcard(key) == 0
    clock.now += RETRY_SECONDS + 1
    with capture_logs() as logs:
        limiter.acquire("commit")
    assert r.zcard(key) == 1
    assert [e["event"] for e in logs] == ["rate_limit.shared_restored"]
    limiter.close()
    r.close()


def test_mark_moves_the_start_to_the_send(redis_server):
    """A call recorded at acquire and sent later counts from its send (never earlier)."""
    limiter = SharedLimiter(redis_server.url, 5, "app", window=30, spacing=0)
    limiter.acquire("commit")
    r = redis.Redis.from_url(redis_server.url)
    key = f"{KEY_PREFIX}:app:commit"
    [(member, before)] = r.zrange(key, 0, -1, withscores=True)
    wait_until(lambda: _redis_now_us(r) >= before + 50_000, timeout=5, message="Redis' clock")
    limiter.mark()
    [(same, after)] = r.zrange(key, 0, -1, withscores=True)
    assert same == member and after >= before + 40_000
    limiter.close()
    r.close()


def _redis_now_us(r: redis.Redis) -> int:
    """The Redis server's clock, in microseconds (the limiter's scores are on it)."""
    seconds, micros = r.time()
    return int(seconds) * 1_000_000 + int(micros)


def test_a_future_dated_entry_does_not_stop_the_hosts(redis_server):
    """One entry an hour ahead (a host whose clock stepped back, say) made the limiter sleep
    about an hour while holding its lock: every upload stopped. Such an entry is dropped."""
    slept: list[float] = []  # the seconds it would wait, recorded instead of slept
    limiter = SharedLimiter(redis_server.url, 20, "app", window=1.03, sleep=slept.append)
    r = redis.Redis.from_url(redis_server.url)
    key = f"{KEY_PREFIX}:app:commit"
    seconds, micros = r.time()
    r.zadd(key, {"stepped-clock": (seconds + 3600) * 1_000_000 + micros})
    assert limiter.acquire("commit") == 0
    assert slept == []
    assert r.zscore(key, "stepped-clock") is None
    for c in (limiter, r):
        c.close()
