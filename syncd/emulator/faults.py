"""Fault injection (seeded, per endpoint) and the per-API QPS limiter.

A fault is ``(endpoint, kind)`` with a probability ``rate`` per request and an optional budget
``count``. Decisions come from one ``random.Random(seed)`` under a lock, so a test that sends
the same requests in the same order sees the same faults.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from dataclasses import dataclass

ENDPOINTS = ("token", "uploadInfo", "oss", "commit", "queryDentryId", "addFolder", "*")
KINDS = ("5xx", "throttle", "reset", "slow")


@dataclass(slots=True)
class Fault:
    endpoint: str
    kind: str
    rate: float
    count: int | None
    delay: float


@dataclass(slots=True)
class Decision:
    """What to do with one request: sleep ``delay`` first, then fail with ``kind`` (or not)."""

    delay: float = 0.0
    kind: str | None = None
    status: int = 500  # for "5xx": 500 and 503 alternate per endpoint


class FaultInjector:
    """The active faults; :meth:`decide` is called once per request."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._faults: dict[tuple[str, str], Fault] = {}
        self._alternate: dict[str, int] = {}

    def set(
        self,
        endpoint: str,
        kind: str,
        rate: float = 1.0,
        count: int | None = None,
        delay: float = 2.0,
    ) -> None:
        """Add or replace the fault ``kind`` on ``endpoint`` (``"*"`` = every endpoint)."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], got {rate}")
        if count is not None and count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        with self._lock:
            self._faults[(endpoint, kind)] = Fault(endpoint, kind, rate, count, delay)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._alternate.clear()

    def decide(self, endpoint: str) -> Decision:
        """Draw the faults that fire for this request; budgets are spent only when they fire."""
        decision = Decision()
        with self._lock:
            if not self._faults:
                return decision
            for fault in list(self._faults.values()):
                if fault.endpoint not in (endpoint, "*"):
                    continue
                if fault.count is not None and fault.count <= 0:
                    continue
                if fault.kind != "slow" and decision.kind is not None:
                    continue
                if fault.rate < 1.0 and self._rng.random() >= fault.rate:
                    continue
                if fault.count is not None:
                    fault.count -= 1
                if fault.kind == "slow":
                    decision.delay = max(decision.delay, fault.delay)
                else:
                    decision.kind = fault.kind
            if decision.kind == "5xx":
                n = self._alternate.get(endpoint, 0)
                self._alternate[endpoint] = n + 1
                decision.status = 500 if n % 2 == 0 else 503
        return decision


class QpsLimiter:
    """Per-endpoint sliding one-second window; rejected calls do not use up the window."""

    def __init__(self, qps: int | None) -> None:
        self.qps = qps
        self._lock = threading.Lock()
        self._windows: dict[str, collections.deque[float]] = {}

    def allow(self, endpoint: str) -> bool:
        if not self.qps:
            return True
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(endpoint, collections.deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= self.qps:
                return False
            window.append(now)
            return True
