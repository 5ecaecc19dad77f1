"""How many uploads run at once: enough to keep each API at its rate, whatever the latency.

Every small upload makes one upload-info call and one commit, so with a client-side limit of
`qps` calls per second per API the ceiling is `qps` files per second. By Little's law, keeping
that ceiling needs `qps x W` uploads in flight, where W is the time one upload takes — about
three round trips. On loopback a few uploads suffice; 300 ms away from DingTalk it takes
twenty or more. So the limit follows W (an average of recent small uploads), between a
floor and `sync.workers` (the upper bound the operator sets). Large files do not move it:
their time is the bandwidth's, not the API's.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SMALL = 4 << 20  # uploads up to this size measure the API-bound time per file
HEADROOM = 1.25  # a little more than Little's law asks, for the jitter of round trips
ALPHA = 0.2  # weight of a new measurement in the moving average


class AdaptiveLimit:
    def __init__(self, cap: int, qps: float, floor: int = 4) -> None:
        self.cap = max(1, cap)
        self.qps = qps
        self.floor = min(floor, self.cap)
        # before any measurement, assume an upload takes a second (Little's law prior);
        # the first measurements bring it down on a fast link or up on a slow one
        self.limit = max(self.floor, min(self.cap, math.ceil(qps)))
        self.average: float | None = None
        self._active = 0
        self._cond = threading.Condition()

    @property
    def active(self) -> int:
        with self._cond:
            return self._active

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the upload slots while sending."""
        with self._cond:
            while self._active >= self.limit:
                self._cond.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify()

    def observe(self, seconds: float, size: int) -> None:
        """One upload took `seconds`: adjust the limit (small files only)."""
        if size > SMALL or seconds <= 0:
            return
        with self._cond:
            avg = self.average
            self.average = seconds if avg is None else avg + ALPHA * (seconds - avg)
            wanted = math.ceil(self.qps * self.average * HEADROOM)
            old, self.limit = self.limit, max(self.floor, min(self.cap, wanted))
            if self.limit > old:
                self._cond.notify_all()
