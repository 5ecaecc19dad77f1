"""The `status` section about the month's DingTalk API calls (§4.11): the calls by API,
the budget, the last quota answer and a forecast. Apart from the rest of `status` so a
verdict line can fold `exhausted` in."""

from __future__ import annotations

import time
from typing import Any

from syncd.core.budget import (
    BudgetView,
    cst_text,
    exhausted_reason,
    forecast,
    month_end,
    month_key,
)
from syncd.core.settings import Config
from syncd.state.store import StateStore


def collect_budget(
    config: Config, state: StateStore | None, now: float | None = None
) -> dict[str, Any]:
    """The month's metered calls as `status --json` shows them under `api_calls`."""
    now = time.time() if now is None else now
    budget = config.dingtalk.monthly_call_budget
    view = state.budget_view(budget, now) if state is not None else None
    if view is None:
        view = BudgetView(month_key(now), 0, budget)
    runs_out = forecast(view.spent, budget, now)
    return {
        "month": view.month,
        "month_ends": cst_text(month_end(now)),
        "spent": view.spent,
        "by_api": dict(sorted(view.by_api.items())),
        "budget": budget or None,
        "remaining": view.remaining if budget else None,
        "shared": config.dingtalk.rate_limit not in ("", "local"),
        "exhausted": view.exhausted.value if view.exhausted else None,
        "exhausted_reason": exhausted_reason(view),
        "last_quota_answer": view.quota_message or None,
        "forecast": cst_text(runs_out) if runs_out is not None else None,
    }


def budget_lines(b: dict[str, Any]) -> list[str]:
    of = f" of {b['budget']} budget ({b['remaining']} left)" if b["budget"] else " (no budget set)"
    shared = ", every host on the app" if b["shared"] else ""
    lines = [f"api calls: {b['spent']} this month ({b['month']}{shared}){of}"]
    if b["by_api"]:
        lines.append("  by api: " + ", ".join(f"{k} {v}" for k, v in b["by_api"].items()))
    if b["exhausted_reason"]:
        lines.append(f"  stopped: {b['exhausted_reason']}")
    if b["last_quota_answer"]:
        lines.append(f"  last quota answer: {b['last_quota_answer']}")
    if b["budget"]:
        if b["remaining"] == 0:
            lines.append(f"  forecast: the budget is spent; it renews {b['month_ends']}")
        elif b["forecast"]:
            lines.append(f"  forecast: at this month's rate the budget runs out {b['forecast']}")
        else:
            ends = b["month_ends"]
            lines.append(f"  forecast: at this month's rate the budget lasts the month ({ends})")
    return lines
