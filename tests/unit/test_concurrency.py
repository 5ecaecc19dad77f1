"""Little's law for the upload concurrency, and the rate limiter's start marks."""

from syncd.execute.concurrency import AdaptiveLimit
from syncd.remote.ratelimit import SlidingWindowLimiter


def test_concurrency_follows_the_time_per_upload():
    """qps x seconds-per-upload (plus headroom) uploads in flight, between the floor and cap."""
    limit = AdaptiveLimit(cap=32, qps=20)
    assert limit.limit == 20  # before any measurement: a second per upload
    for _ in range(30):
        limit.observe(0.05, 4096)  # a fast link
    assert limit.limit == 4  # the floor
    for _ in range(30):
        limit.observe(1.0, 4096)  # 300 ms per round trip
    assert limit.limit == 25
    for _ in range(30):
        limit.observe(5.0, 4096)
    assert limit.limit == 32  # the operator's upper bound
    limit.observe(60.0, 1 << 30)  # a large file's time is the bandwidth's: no effect
    assert limit.limit == 32


def test_a_start_is_counted_from_when_the_call_is_sent():
    """mark() moves the caller's start to the moment it is sent, so a call that lost time
    between the limiter and the socket cannot let the next window open early."""
    now = [0.0]
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    lim = SlidingWindowLimiter(2, 1.0, clock=lambda: now[0], sleep=sleep)
    lim.acquire()
    now[0] = 0.3  # this thread was descheduled before sending
    lim.mark()
    lim.acquire()
    lim.acquire()  # the third call waits for the first one's *sent* time + 1 s
    assert round(now[0], 3) == 1.3 and sleeps == [1.0]
