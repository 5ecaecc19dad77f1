"""Retry timers for quarantined files and the fast track after an outage (pure)."""

from syncd.daemon.retries import RetryTimers


def test_due_keys_pop_in_time():
    """A scheduled retry comes out when its time has come, once."""
    t = RetryTimers()
    t.schedule("a", 10.0, transient=True)
    t.schedule("b", 20.0, transient=False)
    assert t.next_due() == 10.0
    assert t.pop_due(9.9) == []
    assert t.pop_due(10.0) == ["a"]
    assert t.pop_due(10.0) == []
    assert t.next_due() == 20.0


def test_outage_recovery_brings_transient_failures_forward_once():
    """Two files failed transiently, then an upload succeeded: both are retried now, once."""
    t = RetryTimers()
    for key in ("a", "b"):
        t.failed(key, transient=True)
        t.schedule(key, 1000.0, transient=True)
    assert sorted(t.succeeded("c", now=5.0)) == ["a", "b"]
    assert sorted(t.pop_due(5.0)) == ["a", "b"]
    for key in ("a", "b"):  # they fail again: no second fast track in this series
        t.failed(key, transient=True)
        t.schedule(key, 2000.0, transient=True)
    assert t.succeeded("c", now=6.0) == []
    assert t.pop_due(6.0) == []


def test_single_poison_file_keeps_its_back_off_on_a_busy_share():
    """One file failing between successes is not an outage: its back-off stands."""
    t = RetryTimers()
    for now in range(10):
        t.failed("poison", transient=True)
        t.schedule("poison", 500.0, transient=True)
        assert t.succeeded(f"ok{now}", now=float(now)) == []
    assert t.pop_due(10.0) == []


def test_permanent_refusals_are_not_fast_tracked():
    """A permanent refusal waits for its back-off even after an outage ends."""
    t = RetryTimers()
    t.failed("a", transient=True)
    t.schedule("a", 100.0, transient=True)
    t.failed("b", transient=True)
    t.schedule("b", 100.0, transient=False)
    assert t.succeeded("c", now=1.0) == ["a"]


def test_success_ends_a_files_series():
    """After a file succeeds, a later failure series may be fast-tracked again."""
    t = RetryTimers()
    for key in ("a", "b"):
        t.failed(key, transient=True)
        t.schedule(key, 100.0, transient=True)
    t.succeeded("x", now=1.0)
    t.pop_due(1.0)
    t.succeeded("a", now=2.0)
    t.succeeded("b", now=2.0)
    for key in ("a", "b"):
        t.failed(key, transient=True)
        t.schedule(key, 100.0, transient=True)
    assert sorted(t.succeeded("x", now=3.0)) == ["a", "b"]
