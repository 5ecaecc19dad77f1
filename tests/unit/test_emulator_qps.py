"""The emulator's QPS limit, judged by arrival times (pure: times in, verdicts out)."""

from syncd.emulator.faults import QpsLimiter


def fill(limiter: QpsLimiter, times: list[float]) -> list[bool]:
    return [limiter.allow("commit", t) for t in times]


def test_at_most_qps_calls_in_any_second():
    q = QpsLimiter(20)
    assert all(fill(q, [i * 0.05 for i in range(20)]))  # 0.00 .. 0.95
    assert not q.allow("commit", 0.99)
    assert q.allow("commit", 1.0)  # the call at 0.00 is a second old
    assert q.allow("upload", 0.99)  # another endpoint, another budget


def test_a_call_that_arrived_earlier_but_is_judged_later_still_counts_fairly():
    """Judged late (a busy server thread), an arrival is placed where it belongs: it may
    not squeeze a 21st call into a second that is already full."""
    q = QpsLimiter(20)
    assert all(fill(q, [i * 0.05 for i in range(20)]))
    assert not q.allow("commit", -0.01)  # [-0.01, 0.99) would hold 21
    assert q.allow("commit", -1.5)  # a second and more before all of them


def test_rejected_calls_do_not_use_up_the_window():
    q = QpsLimiter(2)
    assert fill(q, [0.0, 0.1, 0.2, 0.3]) == [True, True, False, False]
    assert q.allow("commit", 1.05)
    assert QpsLimiter(1).allow("x", 0.0)  # the first call always passes
