"""Back-off schedule and the client-side rate limiter (pure, fake clock)."""

from syncd.remote.backoff import backoff_delay
from syncd.remote.ratelimit import SlidingWindowLimiter


def test_backoff_grows_exponentially_up_to_the_cap():
    """With the jitter pinned at its top, delays double and stop at the cap."""
    top = [backoff_delay(n, base=0.5, cap=4, rand=lambda: 1.0) for n in range(1, 7)]
    assert top == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_backoff_full_jitter_stays_in_range():
    """Full jitter: any value from 0 to the ceiling."""
    assert backoff_delay(3, base=1, rand=lambda: 0.0) == 0.0
    assert backoff_delay(3, base=1, rand=lambda: 0.5) == 2.0


def test_backoff_honours_retry_after_and_floor():
    """Retry-After and the throttling floor are lower bounds."""
    assert backoff_delay(1, rand=lambda: 0.0, retry_after=7) == 7
    assert backoff_delay(1, rand=lambda: 0.0, floor=1.0) == 1.0
    assert backoff_delay(0) == 0.0


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += s


def test_limiter_never_allows_more_than_rate_in_any_window():
    """Whatever the pattern of calls, no window of 1 s holds more than `rate` starts."""
    clock = FakeClock()
    limiter = SlidingWindowLimiter(5, 1.0, clock=clock, sleep=clock.sleep)
    starts = []
    for i in range(40):
        limiter.acquire()
        starts.append(clock.now)
        clock.now += 0.01 * (i % 3)
    for i, t in enumerate(starts):
        assert sum(1 for s in starts if t <= s < t + 1.0 - 1e-9) <= 5, i
    # and it is not slower than needed: 40 calls at 5/s take about 7 s
    assert 6.9 <= starts[-1] <= 8.5


def test_limiter_lets_a_burst_through_when_idle():
    """Up to `rate` calls start at once after a quiet period."""
    clock = FakeClock()
    limiter = SlidingWindowLimiter(20, 1.0, clock=clock, sleep=clock.sleep)
    waits = [limiter.acquire() for _ in range(20)]
    assert waits == [0.0] * 20
    assert limiter.acquire() > 0.99


def test_bandwidth_limit_keeps_the_rate_across_senders():
    """sync.bwlimit: a token bucket; 10 MiB at 1 MiB/s takes ~10 s of (fake) sleeping."""
    from syncd.remote.ratelimit import BandwidthLimit

    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    limit = BandwidthLimit(1 << 20, clock=lambda: now[0], sleep=sleep)
    for _ in range(40):
        limit.consume(256 << 10)
    assert 9.5 <= now[0] <= 10.0
    assert limit.chunk == 128 << 10
