"""Claims: one upload per path at a time, and a change during an upload is looked at again."""

from __future__ import annotations

from syncd.daemon.claims import Claims


def test_a_path_is_claimed_once_and_a_second_claim_marks_it_dirty():
    claims = Claims()
    assert claims.claim("a") is True
    assert "a" in claims and len(claims) == 1
    assert claims.claim("a") is False  # in flight: not queued twice
    assert claims.claim("b") is True and len(claims) == 2
    assert claims.release("a") is True  # changed meanwhile: look again
    assert "a" not in claims
    assert claims.release("b") is False  # untouched meanwhile: done


def test_dirtiness_does_not_outlive_the_claim():
    claims = Claims()
    claims.claim("a")
    claims.claim("a")
    assert claims.release("a") is True
    assert claims.claim("a") is True
    assert claims.release("a") is False  # the earlier dirty mark was consumed


def test_unclaim_gives_back_a_claim_that_was_never_worked_on():
    claims = Claims()
    claims.claim("a")
    claims.unclaim("a")
    assert "a" not in claims and len(claims) == 0
    assert claims.claim("a") is True
