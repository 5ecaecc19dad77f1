"""The meter: every metered call counted by API per CST month, the own budget enforced,
DingTalk's quota answer recognised (product.md §4.11, dingtalk-api.md §15.1).

`Transport.call` asks `reserve(api)` before each attempt and tells `settle(api, charge)`
after it. A reservation counts at once, so concurrent workers never overshoot the budget;
an attempt DingTalk does not charge (throttled, refused by the quota, lost on the network,
rejected token) gives it back. With `rate_limit: redis://…` the month's count is one
counter in that Redis, shared by every host on the app (`meter_shared.py`).

Once the quota is answered, no metered call is sent but one probe an interval (a `sync`
sends one; `run` one an hour); concurrent callers wait for the probe's answer. A probe that
succeeds means the quota came back: everything resumes at once. The own budget needs no
probe: it resumes when the month ends or the budget is raised.

The counts are written to the state store at most once a second and when the meter closes;
the exhaustion is written at once (the next `sync` starts with a probe, not a stampede).
"""

from __future__ import annotations

import enum
import functools
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import structlog

from syncd.core.budget import (
    COST_NEW_FILE,
    EXHAUSTED_KEY,
    SHARED_KEY,
    BudgetView,
    Exhausted,
    cst_text,
    metered,
    month_end,
    month_key,
)
from syncd.core.errors import BudgetExhaustedError, StateError

log = structlog.get_logger(__name__)

FLUSH_SECONDS = 1.0
PROBE_SECONDS = 3600.0  # `run`: at most one probe an hour while the quota is spent
WAIT_SECONDS = 1.0  # a caller waiting for the probe looks again this often
# the calls an upload pledges (`need`): its folder or a listing pays on its own, so a
# pledge is never spent elsewhere and leaves an upload half done
PLEDGED_APIS = frozenset({"storage.uploadInfos", "storage.commit"})


class Charge(enum.Enum):
    CHARGED = "charged"  # DingTalk counted it
    FREE = "free"  # throttled, lost on the network, token rejected: not counted
    QUOTA = "quota"  # refused by the quota (free, and the quota is spent)


@runtime_checkable
class CallLedger(Protocol):
    def add_calls(self, month: str, api: str, n: int = 1) -> None: ...
    def calls(self, month: str) -> dict[str, int]: ...
    def set_meta(self, key: str, value: Any) -> None: ...
    def meta(self, key: str) -> Any: ...


class Shared(Protocol):
    """The month's count in Redis (`meter_shared.SharedCounter`)."""

    where: str

    def reserve(self, month: str, budget: int) -> int | None: ...
    def release(self, month: str) -> None: ...
    def total(self, month: str) -> int | None: ...
    def close(self) -> None: ...


class Meter:
    def __init__(
        self,
        ledger: CallLedger | None,
        budget: int = 0,
        *,
        stats: Any = None,
        shared: Shared | None = None,
        clock: Callable[[], float] = time.time,
        probe_interval: float = PROBE_SECONDS,
    ) -> None:
        self.ledger, self.budget, self.stats, self.shared = ledger, budget, stats, shared
        self.clock, self.probe_interval = clock, probe_interval
        self._cond = threading.Condition()
        self._mine = threading.local()
        self._unflushed: Counter[str] = Counter()
        self._flushed_at = 0.0
        self._told: set[Exhausted] = set()  # logged once per process and exhaustion
        self._probing = False
        self._inflight = 0  # reserved, not yet settled
        self._banked = 0  # set aside for queued jobs (`bank`), not yet started
        self._last_probe = 0.0
        self._write_failed = False
        self.exhausted: Exhausted | None = None  # the plain value `status`/healthz read
        self.exhausted_at = 0.0
        self.quota_message = ""
        self.spent_here = 0  # metered calls this process made (tests, `sync.finished`)
        self._load(clock())

    # -- the month -----------------------------------------------------------------------
    def _load(self, now: float) -> None:
        self.month = month_key(now)
        self.by_api: dict[str, int] = dict(self._read(lambda lg: lg.calls(self.month)) or {})
        self.spent = sum(self.by_api.values())
        if self.shared is not None:
            total = self.shared.total(self.month)
            if total is not None:
                self.spent = max(self.spent, total)
        self.exhausted, self.exhausted_at, self.quota_message = None, 0.0, ""
        saved = self._read(lambda lg: lg.meta(EXHAUSTED_KEY))
        if isinstance(saved, dict) and saved.get("month") == self.month:
            try:
                self.exhausted = Exhausted(str(saved.get("kind")))
            except ValueError:
                self.exhausted = None
            self.exhausted_at = float(saved.get("at") or 0.0)
            self.quota_message = str(saved.get("message") or "")
        self._gauges()

    def _roll(self, now: float) -> None:
        if month_key(now) == self.month:
            return
        self._flush(force=True)
        was = self.exhausted
        self._load(now)
        self._told.clear()
        if was is not None and self.exhausted is None:
            log.info("quota.restored", reason="a new month began", month=self.month)

    # -- the calls -----------------------------------------------------------------------
    def reserve(self, api: str) -> bool:
        """Before one attempt of `api`: True when it is metered (and reserved; `settle`
        must follow), False when exempt. Raises `BudgetExhaustedError` when it may not go."""
        if not metered(api):
            return False
        with self._cond:
            while True:
                now = self.clock()
                self._roll(now)
                if self.exhausted is Exhausted.BUDGET and self._room():
                    self.exhausted = None  # the budget was raised: an upload fits again
                    self._save_exhausted(None)  # said once a month all the same
                if self.exhausted is not Exhausted.QUOTA:
                    break
                if self._probing:
                    self._cond.wait(WAIT_SECONDS)
                    continue
                if self._last_probe and now - self._last_probe < self.probe_interval:
                    raise self._refusal(Exhausted.QUOTA, api)
                self._probing, self._last_probe, self._mine.probe = True, now, True
                log.info("quota.probe", api=api, calls_this_month=self._charged())
                break
            pledged = int(getattr(self._mine, "pledge", 0)) if api in PLEDGED_APIS else 0
            if pledged:
                self._mine.pledge = pledged - 1  # counted when `need` pledged it
            elif not self._take():
                self._end_probe()
                self._exhaust(Exhausted.BUDGET, now)
                raise self._refusal(Exhausted.BUDGET, api)
            self._inflight += 1
            return True

    def settle(self, api: str, charge: Charge, message: str = "") -> None:
        """After the attempt `reserve` allowed: what DingTalk made of it."""
        with self._cond:
            now = self.clock()
            probe = bool(getattr(self._mine, "probe", False))
            self._inflight = max(0, self._inflight - 1)
            if charge is Charge.CHARGED:
                self.by_api[api] = self.by_api.get(api, 0) + 1
                self._unflushed[api] += 1
                self.spent_here += 1
                if self.stats is not None:
                    self.stats.api_call(api)
            else:
                self._give_back()
            if charge is Charge.QUOTA:
                self.quota_message = message or self.quota_message
                self._exhaust(Exhausted.QUOTA, now)
                self._last_probe = now
            elif charge is Charge.CHARGED and probe and self.exhausted is Exhausted.QUOTA:
                # only the probe tells: a call sent before the quota answer proves nothing
                self.exhausted = None
                self._save_exhausted(None)
                self._told.discard(Exhausted.QUOTA)
                log.info("quota.restored", reason="a call succeeded", api=api)
            self._end_probe()
            if now - self._flushed_at >= FLUSH_SECONDS:
                self._flush()
            self._gauges()

    def _charged(self) -> int:
        """The month's calls DingTalk counted: this host's, or every host's (Redis) less
        what is reserved and not yet answered."""
        if self.shared is None:
            return sum(self.by_api.values())
        return max(0, self.spent - self._inflight)

    def _room(self) -> bool:
        return not self.budget or self.budget - self.spent >= COST_NEW_FILE

    def _take(self) -> bool:
        if self.shared is not None:
            total = self.shared.reserve(self.month, self.budget)
            if total is not None:
                if total < 0:
                    return False
                self.spent = total
                return True
        if self.budget and self.spent >= self.budget:
            return False
        self.spent += 1
        return True

    def _give_back(self) -> None:
        self.spent = max(0, self.spent - 1)
        if self.shared is not None:
            self.shared.release(self.month)

    def _end_probe(self) -> None:
        if getattr(self._mine, "probe", False):
            self._mine.probe = False
            self._probing = False
            self._cond.notify_all()

    # -- running out ---------------------------------------------------------------------
    def _exhaust(self, kind: Exhausted, now: float) -> None:
        if self.exhausted is not kind:
            self.exhausted, self.exhausted_at = kind, now
            self._save_exhausted(kind)
        if kind in self._told:
            return
        self._told.add(kind)
        self._flush(force=True)
        ends = month_end(now)
        common = {
            "calls_this_month": self._charged(),
            "month": self.month,
            "month_ends": cst_text(ends),
            "month_ends_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ends)),
            "files": "wait as pending (never failed); the first pass after it returns uploads them",
        }
        if self.shared is not None:
            common["shared"] = self.shared.where
        if kind is Exhausted.BUDGET:
            log.error(
                "budget.exhausted",
                budget=self.budget,
                **common,
                reason=f"syncd's own budget of {self.budget} metered calls this month is spent",
                action="raise dingtalk.monthly_call_budget, or wait for the month's end",
            )
        else:
            log.error(
                "quota.exhausted",
                **common,
                error_code="Forbidden.AccessDenied.ApiCountLimitForOrg",
                error=self.quota_message,
                reason="DingTalk refuses: the org's monthly API quota (shared by all its apps) "
                "is used up",
                action="buy more quota (developer console: 资源管理 → 用量明细) or wait for the "
                "month's end; syncd sends one probe call per sync (one an hour in run) and "
                "resumes as soon as one succeeds",
            )

    def _refusal(self, kind: Exhausted, api: str) -> BudgetExhaustedError:
        what = (
            f"the monthly call budget ({self.budget}) is spent"
            if kind is Exhausted.BUDGET
            else "the org's monthly API quota is spent"
        )
        return BudgetExhaustedError(f"{what}; nothing was sent", kind=kind, api=api)

    def _save_exhausted(self, kind: Exhausted | None) -> None:
        value = (
            None
            if kind is None
            else {
                "kind": kind.value,
                "month": self.month,
                "at": self.exhausted_at,
                "message": self.quota_message,
            }
        )
        self._write(lambda lg: lg.set_meta(EXHAUSTED_KEY, value))

    # -- what it knows -------------------------------------------------------------------
    def view(self) -> BudgetView:
        with self._cond:
            self._roll(self.clock())
            return BudgetView(
                self.month,
                self.spent,
                self.budget,
                dict(self.by_api),
                self.exhausted,
                self.exhausted_at,
                self.quota_message,
            )

    def need(self, calls: int, api: str = "") -> None:
        """Raise `BudgetExhaustedError` when the own budget cannot pay `calls` more (an
        upload is never started that the budget cannot finish: its first call would be
        wasted)."""
        with self._cond:
            self._roll(self.clock())
            if int(getattr(self._mine, "pledge", 0)) >= calls:
                return  # paid for when it was queued (`bank`)
            self._unpledge()
            if not self.budget:
                return
            got = 0
            while got < calls and self._take():
                got += 1
            if got < calls:
                for _ in range(got):
                    self._give_back()
                self._exhaust(Exhausted.BUDGET, self.clock())
                raise self._refusal(Exhausted.BUDGET, api)
            self._mine.pledge = calls  # counted now; this thread's next calls use them

    def bank(self, calls: int) -> bool:
        """Set `calls` aside for a job about to be queued, in the order the jobs are queued
        (the oldest change first, whatever thread starts first); False when the budget
        cannot pay for it (that job then fails its `need` at once, sending nothing)."""
        with self._cond:
            self._roll(self.clock())
            if not self.budget:
                return True
            got = 0
            while got < calls and self._take():
                got += 1
            if got < calls:
                for _ in range(got):
                    self._give_back()
                self._exhaust(Exhausted.BUDGET, self.clock())
                return False
            self._banked += calls
            return True

    def claim(self, calls: int) -> None:
        """A banked job starts on this thread: its calls become this thread's pledge."""
        with self._cond:
            self._unpledge()
            n = min(calls, self._banked)
            self._banked -= n
            self._mine.pledge = n

    def unbank(self) -> None:
        """Jobs banked for and never started (a stop): their calls go back."""
        with self._cond:
            for _ in range(self._banked):
                self._give_back()
            self._banked = 0

    def release(self) -> None:
        """After the upload `need` paid for: what it did not use goes back."""
        with self._cond:
            self._unpledge()

    def _unpledge(self) -> None:
        left = int(getattr(self._mine, "pledge", 0))
        self._mine.pledge = 0
        for _ in range(left):
            self._give_back()

    def can_afford(self, calls: int) -> bool:
        """Whether `calls` more metered calls fit (a listing is never started that cannot
        finish); an unknown answer (the quota) is tried."""
        with self._cond:
            if self.exhausted is Exhausted.QUOTA:
                return False
            return not self.budget or self.spent + calls <= self.budget

    def _gauges(self) -> None:
        if self.stats is None:
            return
        self.stats.set(
            api_calls_month=self.spent,
            api_budget_remaining=max(0, self.budget - self.spent) if self.budget else -1,
            quota_exhausted=int(self.exhausted is not None),
        )

    # -- the ledger ----------------------------------------------------------------------
    def flush(self) -> None:
        with self._cond:
            self._flush(force=True)

    def close(self) -> None:
        self.unbank()
        self.flush()
        if self.shared is not None:
            self.shared.close()

    def _flush(self, *, force: bool = False) -> None:
        self._flushed_at = self.clock()
        pending, self._unflushed = self._unflushed, Counter()
        month = self.month
        for api, n in pending.items():
            self._write(functools.partial(_add, month=month, api=api, n=n))
        if self.shared is not None and (pending or force):
            spent = self.spent
            self._write(lambda lg: lg.set_meta(SHARED_KEY, {"month": month, "spent": spent}))

    def _read(self, fn: Callable[[CallLedger], Any]) -> Any:
        if self.ledger is None:
            return None
        try:
            return fn(self.ledger)
        except StateError:
            return None

    def _write(self, fn: Callable[[CallLedger], Any]) -> None:
        if self.ledger is None:
            return
        try:
            fn(self.ledger)
        except StateError as exc:  # the meter never stops an upload; the store says so itself
            if not self._write_failed:
                self._write_failed = True
                log.warning("meter.write_failed", error=str(exc))


def _add(ledger: CallLedger, *, month: str, api: str, n: int) -> None:
    ledger.add_calls(month, api, n)
