from __future__ import annotations

import pytest

from ingest.connectors.breaker import BreakerState, CircuitBreaker, CircuitOpenError


def state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_half_opens_after_the_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown_s=10, clock=clock)
    for _ in range(2):
        breaker.record_failure()
        breaker.check()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN
    with pytest.raises(CircuitOpenError):
        breaker.check()
    clock.now = 10
    assert state(breaker) is BreakerState.HALF_OPEN
    breaker.check()  # one trial call may go
    breaker.record_failure()  # and it failed: open again for a whole cooldown
    assert state(breaker) is BreakerState.OPEN
    clock.now = 19.9
    with pytest.raises(CircuitOpenError):
        breaker.check()
    clock.now = 20
    breaker.record_success()
    assert state(breaker) is BreakerState.CLOSED


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(threshold=2, cooldown_s=1, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert state(breaker) is BreakerState.CLOSED
