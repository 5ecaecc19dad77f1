"""Pure helpers of the shared rate limit."""

from __future__ import annotations

from syncd.remote.ratelimit_redis import describe


def test_shared_limit_is_described_without_its_password() -> None:
    assert describe("redis://:pw-secret@cache:6379/0") == "redis://cache:6379/0"
    assert describe("rediss://user:pw-secret@cache/1") == "rediss://cache/1"
    assert describe("unix:///run/redis/redis.sock?db=2") == "unix:///run/redis/redis.sock"
