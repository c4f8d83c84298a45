"""Backoff and lockout after failed sign-ins, decided over a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud_api.identity.lockout import (
    CLEAN,
    FailureState,
    LockoutPolicy,
    Verdict,
    decide,
    record_failure,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
POLICY = LockoutPolicy()  # 3 free, 1 s doubling to 5 min, 10 in 15 min lock for 15 min


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def fail(times: int, state: FailureState = CLEAN, start: datetime = T0) -> FailureState:
    """``times`` failures one second apart from ``start``."""
    for i in range(times):
        state = record_failure(POLICY, state, start + seconds(i))
    return state


def test_the_backoff_doubles_after_the_free_failures_and_stops_at_the_cap() -> None:
    delays = [POLICY.delay_after(n).total_seconds() for n in range(13)]
    assert delays == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert POLICY.delay_after(14) == timedelta(minutes=5)
    assert POLICY.delay_after(10**9) == timedelta(minutes=5)  # no overflow, no long loop


def test_free_failures_impose_no_wait() -> None:
    state = fail(3)
    assert decide(POLICY, state, T0 + seconds(2)).verdict is Verdict.ALLOWED


def test_a_failure_past_the_free_ones_imposes_its_wait() -> None:
    policy = LockoutPolicy(lock_after=50, window=timedelta(hours=1))
    state = CLEAN
    for _ in range(6):
        state = record_failure(policy, state, T0)
    # Six failures: the wait is 4 s, counted from the last failure.
    decision = decide(policy, state, T0 + seconds(1.5))
    assert (decision.verdict, decision.retry_after_s) == (Verdict.BACKOFF, 3)
    assert not decision.allowed
    assert decide(policy, state, T0 + seconds(4)).allowed


def test_retry_after_is_at_least_a_second() -> None:
    state = fail(4)
    decision = decide(POLICY, state, T0 + seconds(3.999))
    assert (decision.verdict, decision.retry_after_s) == (Verdict.BACKOFF, 1)


def test_the_account_locks_after_enough_failures_within_the_window() -> None:
    state = fail(10)
    last = T0 + seconds(9)
    assert state.locked_until == last + POLICY.lock_for
    decision = decide(POLICY, state, last + seconds(60))
    assert (decision.verdict, decision.retry_after_s) == (Verdict.LOCKED, 15 * 60 - 60)


def test_failures_while_locked_do_not_extend_the_lock() -> None:
    state = fail(10)
    assert record_failure(POLICY, state, T0 + timedelta(minutes=5)) == state


def test_the_lock_ends_after_its_duration_and_the_count_starts_afresh() -> None:
    state = fail(10)
    after = state.locked_until
    assert after is not None
    assert decide(POLICY, state, after).allowed
    assert record_failure(POLICY, state, after).failures == 1


def test_failures_spread_beyond_the_window_never_lock() -> None:
    state = fail(9)
    later = T0 + POLICY.window
    state = record_failure(POLICY, state, later)
    assert (state.failures, state.first_failure_at, state.locked_until) == (1, later, None)
    assert decide(POLICY, state, later).allowed


def test_the_window_counts_from_the_first_failure() -> None:
    state = fail(9)
    state = record_failure(POLICY, state, T0 + POLICY.window - seconds(1))
    assert state.locked_until is not None


@pytest.mark.parametrize(
    "arguments",
    [
        {"free_failures": 10, "lock_after": 10},
        {"free_failures": -1},
        {"base_delay": timedelta(0)},
        {"base_delay": timedelta(minutes=10), "max_delay": timedelta(minutes=5)},
        {"window": timedelta(0)},
        {"lock_for": timedelta(seconds=-1)},
    ],
)
def test_an_incoherent_policy_is_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each has its own message
        LockoutPolicy(**arguments)  # type: ignore[arg-type]
