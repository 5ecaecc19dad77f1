"""The delete guards as tables: a root that looks unmounted, a pass that deletes too much."""

import pytest

from syncd.plan.guards import DeleteLimits, RootFacts, delete_block, root_problem

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
