"""The monthly call budget as values (product.md §4.11, dingtalk-api.md §15.1).

DingTalk meters non-exempt calls per natural calendar month in China Standard Time (UTC+8),
org-wide. These helpers name the month, say when it ends, what a plan costs and how long
the budget lasts at this month's rate; the meter itself is `syncd.remote.meter`.
"""

from __future__ import annotations

import calendar
import enum
import time
from dataclasses import dataclass, field

CST = 8 * 3600  # China Standard Time, UTC+8: DingTalk's month
EXHAUSTED_KEY = "api.exhausted"  # state meta: {"kind", "month", "at", "message"} or None
SHARED_KEY = "api.shared_month"  # state meta: {"month", "spent"}: the shared count last seen
QUOTA_CODES = frozenset({"Forbidden.AccessDenied.ApiCountLimitForOrg", "90020"})
EXEMPT_PREFIXES = ("oauth2.", "contact.")  # token and address-book calls are free (§15.1)

# metered calls per operation at the protocol minimum (§15.1)
COST_NEW_FILE = 2  # upload-info + commit
COST_CHANGED_FILE = 2  # the same: a colleague's edit is found from the commit's version
COST_FOLDER = 1
COST_MOVE = 1


class Exhausted(enum.StrEnum):
    BUDGET = "budget"  # syncd's own dingtalk.monthly_call_budget
    QUOTA = "quota"  # the org's quota: DingTalk answered ApiCountLimitForOrg


def metered(api: str) -> bool:
    """Whether a call of `api` counts against the month's quota."""
    return not api.startswith(EXEMPT_PREFIXES)


def month_key(now: float) -> str:
    """`YYYY-MM` of the CST month that `now` (epoch seconds) falls in."""
    return time.strftime("%Y-%m", time.gmtime(now + CST))


def month_end(now: float) -> float:
    """Epoch seconds when the CST month of `now` ends (the next month's first midnight)."""
    t = time.gmtime(now + CST)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return calendar.timegm((year, month, 1, 0, 0, 0)) - CST


def month_start(now: float) -> float:
    t = time.gmtime(now + CST)
    return calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)) - CST


def cst_text(ts: float) -> str:
    """`2027-01-01 00:00 CST`."""
    return time.strftime("%Y-%m-%d %H:%M CST", time.gmtime(ts + CST))


@dataclass(frozen=True)
class BudgetView:
    """The month's spend as status, metrics and the verdict read it."""

    month: str
    spent: int  # metered calls this month (this host's, or every host's with Redis)
    budget: int  # 0 = no cap of syncd's own
    by_api: dict[str, int] = field(default_factory=dict)
    exhausted: Exhausted | None = None
    exhausted_at: float = 0.0
    quota_message: str = ""  # DingTalk's last quota answer

    @property
    def remaining(self) -> int:
        """Calls left under the own budget; -1 when there is none."""
        return max(0, self.budget - self.spent) if self.budget else -1


def exhausted_reason(view: BudgetView | None) -> str | None:
    """Why the month's calls may not go on (for `/healthz` and the status verdict), or
    None when they may."""
    if view is None or view.exhausted is None:
        return None
    ends = cst_text(month_end(view.exhausted_at or time.time()))
    if view.exhausted is Exhausted.BUDGET:
        return (
            f"the monthly call budget is spent ({view.spent} of {view.budget} calls in "
            f"{view.month}); files are pending until {ends} or a higher budget"
        )
    return (
        f"DingTalk's monthly API quota for the org is spent ({view.spent} calls by syncd in "
        f"{view.month}); files are pending until the quota returns (by {ends})"
    )


def forecast(spent: int, budget: int, now: float) -> float | None:
    """When the budget runs out at this month's rate (epoch seconds); None when it lasts
    the month (or there is no budget or no spend yet)."""
    if not budget or spent <= 0:
        return None
    if spent >= budget:
        return now
    elapsed = max(now - month_start(now), 1.0)
    at = now + (budget - spent) * elapsed / spent
    return at if at < month_end(now) else None


def plan_cost(*, uploads: int, folders: int, moves: int) -> int:
    """Metered calls a plan costs at the protocol minimum."""
    return uploads * COST_NEW_FILE + folders * COST_FOLDER + moves * COST_MOVE
