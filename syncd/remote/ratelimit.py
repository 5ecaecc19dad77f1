"""Client-side rate limit per DingTalk API, so syncd is not throttled in the first place.

The standard edition allows 20 calls/s per app per API (dingtalk-api.md §9.3). A sliding
window never lets more than `rate` calls start within any `window` seconds, which also
satisfies a fixed one-second window on the server. A token bucket would not: it allows a
full burst at the end of one second and another at the start of the next.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """At most `rate` acquisitions in any `window`-second interval; thread-safe."""

    def __init__(
        self,
        rate: float,
        window: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = max(1, int(rate))
        self.window = window * (self.limit / rate) if rate < 1 else window
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[list[float]] = deque()
        self._lock = threading.Lock()
        self._mine = threading.local()

    def acquire(self) -> float:
        """Block until a call may start; return the time waited.

        Waiters queue on the lock in arrival order, and each start is recorded at the
        moment the caller is released, not at a planned time: a thread that is released
        late must not let the next one start early. `mark()` moves this thread's start to
        the moment the request is really handed to the socket (a thread can lose the GIL
        for tens of milliseconds in between).
        """
        with self._lock:
            now = self._clock()
            waited = 0.0
            self._expire(now)
            if len(self._starts) >= self.limit:
                waited = self._starts[0][0] + self.window - now
                if waited > 0:
                    self._sleep(waited)
                now = max(self._clock(), self._starts[0][0] + self.window)  # no float slack
                self._expire(now)
            entry = [now]
            self._starts.append(entry)
            self._mine.entry = entry
            return max(0.0, waited)

    def _expire(self, now: float) -> None:
        while self._starts and self._starts[0][0] + self.window <= now:
            self._starts.popleft()

    def mark(self) -> None:
        """This thread's call is being sent now: count it from now."""
        entry = getattr(self._mine, "entry", None)
        if entry is not None:
            self._mine.entry = None
            # no lock: acquire() sleeps holding it, and waiting here would delay the very
            # send being marked; one float store is atomic, and a later start only ever
            # makes the next callers wait longer
            entry[0] = max(entry[0], self._clock())


class PerApiLimiter:
    """One sliding window per API name, created on first use."""

    def __init__(self, rate: float, window: float = 1.03) -> None:
        # 50 ms margin: a call reaches the server up to tens of milliseconds after it
        # starts here, and not always with the same delay; measured on loopback, a 20 ms
        # margin still let the server count 21 calls in one second now and then
        self.rate = rate
        self.window = window
        self._limiters: dict[str, SlidingWindowLimiter] = {}
        self._lock = threading.Lock()
        self._last = threading.local()

    def acquire(self, api: str) -> float:
        with self._lock:
            limiter = self._limiters.get(api)
            if limiter is None:
                limiter = self._limiters[api] = SlidingWindowLimiter(self.rate, self.window)
        self._last.api = api
        return limiter.acquire()

    def mark(self) -> None:
        """The calling thread's last acquired call is being sent now."""
        api = getattr(self._last, "api", None)
        limiter = self._limiters.get(api) if api is not None else None
        if limiter is not None:
            limiter.mark()


class BandwidthLimit:
    """`sync.bwlimit`: a token bucket in bytes per second, shared by every PUT.

    Up to a quarter second of traffic may go in a burst; a sender that has used its share
    sleeps (outside the lock) until the bucket refills. Thread-safe; time is injectable.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = float(rate)
        self.burst = max(self.rate / 4, 1.0)
        self._tokens = self.burst
        self._clock, self._sleep = clock, sleep
        self._last = clock()
        self._lock = threading.Lock()

    @property
    def chunk(self) -> int:
        """A read size that keeps the flow smooth at this rate (16 KiB to 1 MiB)."""
        return int(min(1 << 20, max(16 << 10, self.rate / 8)))

    def consume(self, n: int) -> float:
        """Account for `n` bytes sent; sleep as long as the rate requires; return the wait."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= n
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait
