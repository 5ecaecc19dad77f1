"""The human summary `syncd sync` prints on a terminal (pure: counters in, lines out)."""

import dataclasses

from syncd.obs.stats import COUNTERS
from syncd.oneshot.summary import lines
from syncd.oneshot.sync_pass import SyncResult


def result(seconds: float = 2.0, folders: int = 0, **counts: int) -> SyncResult:
    return SyncResult({k: 0 for k in COUNTERS} | counts, seconds, folders=folders)


def test_dry_run_says_what_would_be_uploaded():
    r = result(planned=12, planned_bytes=3 << 20, folders=3, refused=2)
    assert lines(dataclasses.replace(r, dry_run=True)) == [
        "would upload 12 files (3.0 MiB) in 3 folders ≈ 0 API calls; 2 refused"
    ]


def test_the_cost_is_said_before_it_is_spent_and_pending_files_after():
    """§4.11: a dry-run says its metered calls against the month's; a pass that ran out
    says how many files wait and what it spent."""
    from syncd.core.budget import BudgetView, Exhausted

    view = BudgetView("2026-12", 120, 500)
    r = result(planned=50, planned_bytes=50, folders=2, api_calls=102)
    out = lines(dataclasses.replace(r, dry_run=True, budget=view))
    assert out == [
        "would upload 50 files (50 bytes) in 2 folders ≈ 102 API calls "
        "(this month: 120 spent of 500)"
    ]
    short = BudgetView("2026-12", 450, 500)
    (line,) = lines(dataclasses.replace(r, dry_run=True, budget=short))
    assert line.endswith(
        "; 50 left of the budget: renames first, then the oldest changes, the rest waits as pending"
    ), line
    spent = BudgetView("2026-12", 120, 0, exhausted=Exhausted.QUOTA)
    out = lines(dataclasses.replace(result(pending=7, api_calls=120), budget=spent))
    assert "Pending:      7 files (waiting for the quota; see `syncd status`)" in out
    assert "API calls:    120 (this month: 120 spent, no budget set)" in out


def test_a_pass_ends_with_an_rclone_like_block_of_what_happened():
    r = result(seconds=4.0, uploaded=10, bytes=8 << 20, adopted=3, moved=1, refused=2)
    assert lines(r) == [
        "Transferred:  10 files, 8.0 MiB, 2.0 MiB/s",
        "Adopted:      3 files",
        "Moved:        1 file",
        "Failed:       0 files",
        "Refused:      2 files (see `syncd status`)",
        "Elapsed:      4.0 s",
    ]


def test_quiet_counters_are_left_out_and_nothing_divides_by_zero():
    out = lines(result(seconds=0.0))
    assert out[0] == "Transferred:  0 files, 0 bytes, 0 bytes/s"
    assert not [line for line in out if line.startswith(("Adopted", "Moved", "Held"))]
