"""The human summary a `syncd sync` prints on a terminal when it ends (like rclone's)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from syncd.core.units import human, plural

if TYPE_CHECKING:
    from syncd.core.budget import BudgetView
    from syncd.oneshot.sync_pass import SyncResult


def lines(result: SyncResult) -> list[str]:
    c = result.counters
    if result.dry_run:
        folders = f" in {plural(result.folders, 'folder')}" if result.folders else ""
        refused = f"; {c['refused']} refused" if c["refused"] else ""
        return [
            f"would upload {plural(c['planned'], 'file')} ({human(c['planned_bytes'])})"
            f"{folders} ≈ {plural(c.get('api_calls', 0), 'API call')}"
            f"{_month(result.budget)}{refused}{_over(c.get('api_calls', 0), result.budget)}"
        ]
    seconds = max(result.seconds, 1e-3)
    out = [
        f"Transferred:  {plural(c['uploaded'], 'file')}, {human(c['bytes'])}, "
        f"{human(c['bytes'] / seconds)}/s",
    ]
    for label, key in (
        ("Adopted", "adopted"),
        ("Moved", "moved"),
        ("Trashed", "trashed"),
        ("Held", "held"),
    ):
        if c.get(key):
            out.append(f"{label + ':':<13} {plural(c[key], 'file')}")
    out.append(
        f"{'Failed:':<13} {plural(c['failed'], 'file')}"
        + (
            f" and {plural(len(result.failed_mappings), 'mapping')}"
            if result.failed_mappings
            else ""
        )
    )
    out.append(
        f"{'Refused:':<13} {plural(c['refused'], 'file')} (see `syncd status`)"
        if c["refused"]
        else f"{'Refused:':<13} 0 files"
    )
    if c.get("pending"):
        why = f"the {b.exhausted.value}" if (b := result.budget) and b.exhausted else "budget"
        out.append(
            f"{'Pending:':<13} {plural(c['pending'], 'file')} (waiting for {why}; "
            "see `syncd status`)"
        )
    if c.get("api_calls") or result.budget is not None:
        out.append(f"{'API calls:':<13} {c.get('api_calls', 0)}{_month(result.budget)}")
    out.append(f"{'Elapsed:':<13} {result.seconds:.1f} s")
    return out


def _month(b: BudgetView | None) -> str:
    """` (this month: 120 spent of 5000)`: the month's metered calls against the budget."""
    if b is None:
        return ""
    of = f" of {b.budget}" if b.budget else ", no budget set"
    return f" (this month: {b.spent} spent{of})"


def _over(calls: int, b: BudgetView | None) -> str:
    """What the budget will not pay for: said before any of it is spent."""
    if b is None or not b.budget or calls <= b.remaining:
        return ""
    return (
        f"; {b.remaining} left of the budget: renames first, then the oldest changes, "
        "the rest waits as pending"
    )


def print_summary(result: SyncResult) -> None:
    print("\n".join(lines(result)), file=sys.stderr)
