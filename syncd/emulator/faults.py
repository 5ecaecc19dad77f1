"""Fault injection (seeded, per endpoint), the per-API QPS limiter and added latency.

A fault is ``(endpoint, kind)`` with a probability ``rate`` per request, an optional budget
``count`` and, for some kinds, an HTTP ``status``. Decisions come from one
``random.Random(seed)`` under a lock, so a test that sends the same requests in the same
order sees the same faults. ``"*"`` matches every endpoint, but a request only draws the
kinds that exist for its server (API or OSS) and, for ``loop``, for a paginated list.

``loop`` (a listing that never ends): the list answers its first page again and again, with
a non-empty ``nextToken`` every time, the very token it was asked with (on the first page a
fixed one, :data:`syncd.emulator.paging.LOOP_TOKEN`).
"""

from __future__ import annotations

import bisect
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

API_ENDPOINTS = (
    "token",
    "uploadInfo",
    "commit",
    "queryDentryId",
    "addFolder",
    "listDentries",
    "getDentry",
    "batchGetDentries",
    "rename",
    "move",
    "delete",
    "appProperties",
    "versions",
    "workspaces",
    "workspace",
    "mineWorkspaces",
    "nodes",
    "node",
    "getByMobile",
    "getUser",
    "getByUnionId",
    "getDepartment",
    "searchUsers",
)
ENDPOINTS = (*API_ENDPOINTS, "oss", "*")
PAGINATED = ("listDentries", "nodes", "workspaces", "versions")
COMMON_KINDS = ("5xx", "throttle", "reset", "slow", "ban", "banhtml", "lost")
API_KINDS = ("401", "qpm", "qpsapi", "lost5xx", "badnumbers")
LIST_KINDS = ("loop",)
OSS_KINDS = ("throttlejson", "html403", "etag")
KINDS = (*COMMON_KINDS, *API_KINDS, *LIST_KINDS, *OSS_KINDS)
THROTTLING = frozenset({"throttle", "qpm", "qpsapi", "throttlejson"})


def applies(kind: str, endpoint: str) -> bool:
    """Whether fault ``kind`` exists on ``endpoint`` (OSS kinds on oss, list kinds on the
    paginated lists, API kinds on every API endpoint)."""
    if endpoint == "*":
        return True
    if kind in LIST_KINDS:
        return endpoint in PAGINATED
    if kind in COMMON_KINDS:
        return True
    return (kind in OSS_KINDS) == (endpoint == "oss")


def _where(kind: str) -> str:
    if kind in OSS_KINDS:
        return "the oss endpoint only"
    if kind in LIST_KINDS:
        return f"the paginated lists only ({', '.join(PAGINATED)})"
    return "API endpoints only"


def validate(endpoint: str, kind: str, rate: float, count: int | None, status: int | None) -> None:
    """Raise ValueError for an unknown endpoint or kind, or an impossible combination."""
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
    if not applies(kind, endpoint):
        raise ValueError(f"fault kind {kind!r} is for {_where(kind)}, not {endpoint!r}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be within [0, 1], got {rate}")
    if count is not None and count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if status is not None and not 200 <= status <= 599:
        raise ValueError(f"status must be an HTTP status within [200, 599], got {status}")


@dataclass(slots=True)
class Fault:
    endpoint: str
    kind: str
    rate: float
    count: int | None
    delay: float
    status: int | None = None


@dataclass(slots=True)
class Decision:
    """What to do with one request: sleep ``delay`` first, then fail with ``kind`` (or not).

    ``nth`` counts earlier firings of this kind on this endpoint (for alternating answers);
    ``status`` is the fault's configured HTTP status, if any.
    """

    delay: float = 0.0
    kind: str | None = None
    status: int | None = None
    nth: int = 0


class FaultInjector:
    """The active faults; :meth:`decide` is called once per request."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._faults: dict[tuple[str, str], Fault] = {}
        self._fired: dict[tuple[str, str], int] = {}

    def set(
        self,
        endpoint: str,
        kind: str,
        rate: float = 1.0,
        count: int | None = None,
        delay: float = 2.0,
        status: int | None = None,
    ) -> None:
        """Add or replace the fault ``kind`` on ``endpoint`` (``"*"`` = every endpoint)."""
        validate(endpoint, kind, rate, count, status)
        with self._lock:
            self._faults[(endpoint, kind)] = Fault(endpoint, kind, rate, count, delay, status)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._fired.clear()

    def decide(self, endpoint: str) -> Decision:
        """Draw the faults that fire for this request; budgets are spent only when they fire."""
        decision = Decision()
        with self._lock:
            for fault in list(self._faults.values()):
                if fault.endpoint not in (endpoint, "*") or not applies(fault.kind, endpoint):
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
                    decision.kind, decision.status = fault.kind, fault.status
            if decision.kind is not None:
                key = (endpoint, decision.kind)
                decision.nth = self._fired.get(key, 0)
                self._fired[key] = decision.nth + 1
        return decision


class QpsLimiter:
    """Per-endpoint limit of `qps` calls in any one second, judged by when each call
    arrived (not when a busy emulator thread got to it); rejected calls do not count."""

    def __init__(self, qps: int | None) -> None:
        self.qps = qps
        self._lock = threading.Lock()
        self._arrivals: dict[str, list[float]] = {}  # sorted; the last two seconds' only

    def allow(self, endpoint: str, at: float | None = None) -> bool:
        """May a call that arrived at `at` (monotonic; default now) go ahead?"""
        if not self.qps:
            return True
        at = time.monotonic() if at is None else at
        with self._lock:
            times = self._arrivals.setdefault(endpoint, [])
            del times[: bisect.bisect_right(times, at - 2.0)]  # a call seen late is < 1 s
            if _busiest_second(times, at) >= self.qps:
                return False
            bisect.insort(times, at)
            return True


def _busiest_second(times: list[float], at: float) -> int:
    """The most calls of sorted `times` in any one-second span that also holds `at`."""
    lo, hi = bisect.bisect_right(times, at - 1.0), bisect.bisect_left(times, at + 1.0)
    near = times[lo:hi]
    best = 0
    for start in [t for t in near if t <= at] + [at]:  # spans [start, start + 1)
        best = max(best, bisect.bisect_left(near, start + 1.0) - bisect.bisect_left(near, start))
    return best


class Latency:
    """Added network latency: each API call and OSS PUT waits half of it before being
    processed and half before its answer, in its own connection thread (never serialised).

    Counters: ``waits`` (half-waits done), ``seconds`` (time actually spent waiting,
    measured) and ``peak`` (most half-waits in progress at once).
    """

    def __init__(self, seconds: float = 0.0) -> None:
        self._lock = threading.Lock()
        self.seconds = 0.0
        self.set(seconds)
        self.reset()

    def set(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {seconds}")
        self.seconds = float(seconds)

    def reset(self) -> None:
        with self._lock:
            self._waits, self._spent, self._active, self._peak = 0, 0.0, 0, 0

    def wait(self, stopping: threading.Event) -> None:
        """Sleep half the latency (returns early when the emulator stops)."""
        half = self.seconds / 2
        if half <= 0:
            return
        with self._lock:
            self._active += 1
            self._peak = max(self._peak, self._active)
        start = time.monotonic()
        try:
            stopping.wait(half)
        finally:
            spent = time.monotonic() - start
            with self._lock:
                self._active -= 1
                self._waits += 1
                self._spent += spent

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"waits": self._waits, "seconds": self._spent, "peak": self._peak}
