"""The settle gate with a fake clock and a fake stat table (pure)."""

from syncd.daemon.settle import SettleGate


def test_quiet_unchanged_file_becomes_due_after_settle():
    """Same stat on two looks `settle` apart and no event since: due, once."""
    stats = {"a": (10, 1, 1)}
    gate = SettleGate(2.0)
    gate.touch("a", 0.0, stats["a"])
    assert gate.due(1.9, stats.get) == []
    assert gate.next_deadline() == 2.0
    assert gate.due(2.0, stats.get) == ["a"]
    assert gate.due(10.0, stats.get) == []
    assert len(gate) == 0


def test_events_restart_the_quiet_period():
    """Duplicate events only push the deadline; they never cause a second hand-off."""
    stats = {"a": (10, 1, 1)}
    gate = SettleGate(1.0)
    for t in (0.0, 0.5, 0.9, 1.5):
        gate.touch("a", t, stats["a"])
    assert gate.due(2.4, stats.get) == []
    assert gate.due(2.5, stats.get) == ["a"]


def test_file_still_growing_waits_for_two_equal_stats():
    """A file that grows without events is re-checked until it stops changing."""
    stats = {"a": (10, 1, 1)}
    gate = SettleGate(1.0)
    gate.touch("a", 0.0, stats["a"])
    stats["a"] = (20, 2, 1)
    assert gate.due(1.0, stats.get) == []
    assert gate.next_deadline() == 2.0
    stats["a"] = (30, 3, 1)
    assert gate.due(2.0, stats.get) == []
    assert gate.due(3.0, stats.get) == ["a"]


def test_a_deleted_file_settles_as_gone():
    """A file deleted while settling waits one more quiet period, then is due (its deletion
    is the change: records, issues and deletes are looked at)."""
    gate = SettleGate(1.0)
    gate.touch("a", 0.0, (1, 1, 1))
    assert gate.due(5.0, {}.get) == []
    assert gate.due(5.5, {}.get) == []
    assert gate.due(6.0, {}.get) == ["a"]
    assert len(gate) == 0


def test_replaced_file_counts_as_changed():
    """An atomic save (new inode, same size and mtime) restarts the wait."""
    stats = {"a": (10, 1, 1)}
    gate = SettleGate(1.0)
    gate.touch("a", 0.0, stats["a"])
    stats["a"] = (10, 1, 2)
    assert gate.due(1.0, stats.get) == []
    assert gate.due(2.0, stats.get) == ["a"]


def test_zero_settle_hands_off_immediately():
    """settle_seconds: 0 hands a file on at the first look."""
    stats = {"a": (1, 1, 1)}
    gate = SettleGate(0.0)
    gate.touch("a", 5.0, stats["a"])
    assert gate.due(5.0, stats.get) == ["a"]
