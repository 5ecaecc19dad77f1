"""The meter's rules (product.md §4.11) on plain values: a fake ledger and a fake clock."""

from __future__ import annotations

import calendar
import threading
from typing import Any

import pytest

from syncd.core.budget import Exhausted, forecast, month_end, month_key, plan_cost
from syncd.core.errors import BudgetExhaustedError
from syncd.remote.meter import Charge, Meter

# 2026-12-31 20:00 UTC is 2027-01-01 04:00 in China Standard Time: already January there
NEW_YEAR_CST = calendar.timegm((2026, 12, 31, 20, 0, 0))


class FakeLedger:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], int] = {}
        self.metas: dict[str, Any] = {}

    def add_calls(self, month: str, api: str, n: int = 1) -> None:
        self.rows[(month, api)] = self.rows.get((month, api), 0) + n

    def calls(self, month: str) -> dict[str, int]:
        return {api: n for (m, api), n in self.rows.items() if m == month}

    def set_meta(self, key: str, value: Any) -> None:
        self.metas[key] = value

    def meta(self, key: str) -> Any:
        return self.metas.get(key)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_month_is_chinas_calendar_month():
    assert month_key(NEW_YEAR_CST) == "2027-01"
    assert month_key(NEW_YEAR_CST - 5 * 3600) == "2026-12"
    assert month_end(NEW_YEAR_CST - 5 * 3600) == calendar.timegm((2026, 12, 31, 16, 0, 0))


def test_exempt_calls_are_not_counted_and_free_ones_are_given_back():
    ledger, clock = FakeLedger(), Clock(NEW_YEAR_CST)
    meter = Meter(ledger, clock=clock)
    assert meter.reserve("oauth2.accessToken") is False
    assert meter.reserve("contact.searchUsers") is False
    for charge in (Charge.CHARGED, Charge.FREE, Charge.CHARGED):
        assert meter.reserve("storage.commit")
        meter.settle("storage.commit", charge)
    meter.flush()
    assert ledger.calls("2027-01") == {"storage.commit": 2} and meter.view().spent == 2


def test_concurrent_calls_never_overshoot_the_budget():
    meter = Meter(FakeLedger(), 50, clock=Clock(NEW_YEAR_CST))
    sent: list[int] = []

    def worker() -> None:
        for _ in range(30):
            try:
                meter.reserve("storage.uploadInfos")
            except BudgetExhaustedError:
                return
            sent.append(1)
            meter.settle("storage.uploadInfos", Charge.CHARGED)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(sent) == 50 and meter.view().remaining == 0
    assert meter.exhausted is Exhausted.BUDGET


def test_after_the_quota_answer_one_probe_an_interval_and_a_success_resumes():
    ledger, clock = FakeLedger(), Clock(NEW_YEAR_CST)
    meter = Meter(ledger, clock=clock, probe_interval=3600)
    meter.reserve("storage.commit")
    meter.settle("storage.commit", Charge.QUOTA, "quota message")
    assert meter.exhausted is Exhausted.QUOTA
    with pytest.raises(BudgetExhaustedError):
        meter.reserve("storage.commit")  # no probe before the interval
    clock.now += 3600
    assert meter.reserve("storage.commit")  # the probe
    meter.settle("storage.commit", Charge.QUOTA)
    with pytest.raises(BudgetExhaustedError):
        meter.reserve("storage.commit")
    # the next `sync` (a new process) starts from the store: one probe at once
    fresh = Meter(ledger, clock=clock, probe_interval=3600)
    assert fresh.exhausted is Exhausted.QUOTA and fresh.quota_message == "quota message"
    assert fresh.reserve("storage.commit")
    fresh.settle("storage.commit", Charge.CHARGED)
    assert fresh.exhausted is None and fresh.reserve("storage.commit")


def test_a_new_month_clears_the_exhaustion():
    ledger, clock = FakeLedger(), Clock(NEW_YEAR_CST - 5 * 3600)
    meter = Meter(ledger, 1, clock=clock)
    meter.reserve("storage.commit")
    meter.settle("storage.commit", Charge.CHARGED)
    with pytest.raises(BudgetExhaustedError):
        meter.reserve("storage.commit")
    clock.now = NEW_YEAR_CST
    assert meter.reserve("storage.commit") and meter.view().month == "2027-01"


def test_forecast_and_plan_cost():
    mid = calendar.timegm((2026, 12, 16, 16, 0, 0))  # half of December (CST) gone
    assert forecast(1000, 5000, mid) is None  # lasts the month at this rate
    runs_out = forecast(4000, 5000, mid)
    assert runs_out is not None and mid < runs_out < month_end(mid)
    assert forecast(10, 0, mid) is None
    assert plan_cost(uploads=100, folders=5, moves=1) == 206


def test_an_upload_pledges_its_calls_and_a_refusal_stays_until_there_is_room():
    """An upload pledges its 2 calls up front (none is left half done); a refused one marks
    the budget spent, and another upload's pledged call does not unmark it."""
    meter = Meter(FakeLedger(), 3, clock=Clock(NEW_YEAR_CST))
    pledged = threading.Event()
    go_on = threading.Event()
    seen: list[object] = []

    def first_upload() -> None:
        meter.need(2)
        pledged.set()
        go_on.wait(10)
        meter.reserve("storage.uploadInfos")
        meter.settle("storage.uploadInfos", Charge.CHARGED)
        seen.append(meter.exhausted)
        meter.release()

    t = threading.Thread(target=first_upload)
    t.start()
    assert pledged.wait(10)
    with pytest.raises(BudgetExhaustedError):
        meter.need(2)  # 1 call left: this upload is not started
    go_on.set()
    t.join(10)
    assert seen == [Exhausted.BUDGET] and meter.exhausted is Exhausted.BUDGET
    assert meter.view().spent == 1  # the unused pledged call went back


def test_queued_uploads_are_paid_for_in_queue_order_and_only_by_their_own_calls():
    """`bank` sets an upload's calls aside when it is queued (oldest change first); the
    worker that starts it `claim`s them; a folder call does not eat them."""
    meter = Meter(FakeLedger(), 4, clock=Clock(NEW_YEAR_CST))
    assert meter.bank(2) and meter.bank(2)
    assert not meter.bank(2)  # nothing left: the third upload is refused before it is queued
    meter.claim(2)
    meter.need(2)  # already paid for
    with pytest.raises(BudgetExhaustedError):
        meter.reserve("storage.addFolder")  # what is left is the queued uploads'
    meter.reserve("storage.uploadInfos")
    meter.settle("storage.uploadInfos", Charge.CHARGED)
    meter.release()  # the commit was not needed: 1 back
    meter.unbank()  # the second upload never started: 2 back
    assert meter.view().spent == 1
