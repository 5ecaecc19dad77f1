"""The delete guards as tables: a root that looks unmounted, a pass that deletes too much."""

import pytest

from syncd.daemon.delete_window import DeleteWindows
from syncd.plan.guards import (
    HELD,
    DeleteLimits,
    RootFacts,
    WindowCounts,
    delete_block,
    root_problem,
    window_block,
)

OK = RootFacts(has_records=True, marker=True, empty=False, dev=5, first_dev=5)


@pytest.mark.parametrize(
    ("facts", "problem"),
    [
        (OK, None),
        (RootFacts(False, False, True, 5, 0), None),  # the first sync: nothing to protect
        (RootFacts(True, True, True, 5, 5), "local folder is empty"),
        (RootFacts(True, True, False, 6, 5), "on another file system"),
        (
            RootFacts(True, False, False, 5, 5),
            "marker syncd wrote into the local folder is missing",
        ),
    ],
)
def test_a_root_that_looks_unmounted_fails_its_mapping(facts, problem):
    """Missing marker, empty root or another file system: nothing is deleted or uploaded."""
    found = root_problem(facts)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(
    ("count", "total", "limits", "blocked"),
    [
        (0, 100, DeleteLimits(50, 10), None),
        (5, 100, DeleteLimits(50, 10), None),
        (
            11,
            100,
            DeleteLimits(50, 10),
            "(11 %) would be trashed, more than sync.max_delete_percent",
        ),
        (
            51,
            10_000,
            DeleteLimits(50, 10),
            "51 files would be trashed, more than sync.max_delete (50)",
        ),
        (51, 10_000, DeleteLimits(50, 10, override=60), None),
        (90, 100, DeleteLimits(50, 10, override=100), None),
        (61, 10_000, DeleteLimits(50, 10, override=60), "more than --max-delete 60"),
    ],
)
def test_a_pass_that_deletes_too_much_deletes_nothing(count, total, limits, blocked):
    """Over max_delete or max_delete_percent nothing is trashed; --max-delete N lifts both."""
    found = delete_block(count, total, limits)
    assert (found is None) if blocked is None else (blocked in found)


@pytest.mark.parametrize(
    ("count", "total", "window", "blocked"),
    [
        (5, 115, WindowCounts(deleted=0, base=120), None),
        (5, 110, WindowCounts(deleted=5, base=120), None),  # 10 of 120: at the limit
        (5, 105, WindowCounts(deleted=10, base=120), "15 of 120 files"),  # not 5 of 105
        (1, 50, WindowCounts(deleted=0, base=120, held=True), HELD),  # the window is held
        (0, 50, WindowCounts(deleted=0, base=120, held=True), None),
        (20, 200, WindowCounts(deleted=40, base=100), "more than sync.max_delete (50)"),
    ],
)
def test_the_window_counts_every_delete_it_made(count, total, window, blocked):
    """In `run`, the deletes already made in the window count, against its start size."""
    found = window_block(count, total, DeleteLimits(50, 10.0), window)
    assert (found is None) if blocked is None else (blocked in found)


def test_a_daemon_window_holds_once_and_opens_again_after_its_length():
    """One hold said per window; a new window after it ends takes the size then."""
    w = DeleteWindows(lambda: 3600.0)
    assert w.counts("m", 120, now=0.0) == WindowCounts(0, 120)
    w.trashed("m", 10, now=1.0)
    assert w.counts("m", 110, now=2.0) == WindowCounts(10, 120)
    assert w.held("m", now=3.0) and not w.held("m", now=4.0)
    assert w.counts("m", 110, now=5.0) == WindowCounts(10, 120, held=True)
    assert w.counts("m", 110, now=3604.0) == WindowCounts(0, 110)
    assert w.held("m", now=3605.0)


def test_a_scan_past_its_expected_time_is_overdue():
    """/healthz's overdue-scan fact: none while no scan runs or within the interval."""
    from syncd.daemon.report import scan_running
    from syncd.obs.verdict import Facts, Level, verdict

    assert scan_running(None, 5000.0) == 0.0
    assert verdict(Facts(scan_running_seconds=3600, scan_expected_seconds=3600)).level is Level.OK
    late = verdict(
        Facts(scan_running_seconds=scan_running(1000.0, 4700.0), scan_expected_seconds=3600)
    )
    assert not late.healthy
    assert late.reasons == ("a scan has been running for 3700 s (expected within 3600 s)",)
