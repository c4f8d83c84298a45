"""Backoff and lockout after failed sign-in attempts: pure decisions over a small state.

A few failures are free (typos). After that each failure doubles the wait before the next
attempt, up to a cap; and once ``lock_after`` failures fall within ``window`` of the first, the
account is locked for ``lock_for``. An expired window or an expired lock starts afresh, and so
does a success (the store drops the state: ``CLEAN``). The store (Redis, keyed by username and
separately by client address) keeps the ``FailureState`` and asks ``decide`` before checking a
password; nothing here reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    free_failures: int = 3
    base_delay: timedelta = timedelta(seconds=1)
    max_delay: timedelta = timedelta(minutes=5)
    lock_after: int = 10
    window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if not 0 <= self.free_failures < self.lock_after:
            raise ValueError("free failures come before the lockout")
        if not timedelta(0) < self.base_delay <= self.max_delay:
            raise ValueError("the base delay is positive and at most the maximum delay")
        if self.window <= timedelta(0) or self.lock_for <= timedelta(0):
            raise ValueError("the window and the lock last a positive time")

    def delay_after(self, failures: int) -> timedelta:
        """The wait imposed after this many consecutive failures."""
        over = failures - self.free_failures
        if over <= 0:
            return timedelta(0)
        delay = self.base_delay
        for _ in range(over - 1):  # at most log2(max / base) turns before the cap
            delay *= 2
            if delay >= self.max_delay:
                return self.max_delay
        return delay


@dataclass(frozen=True, slots=True)
class FailureState:
    """The recent failures of one account (or one client address)."""

    failures: int = 0
    first_failure_at: datetime | None = None
    last_failure_at: datetime | None = None
    locked_until: datetime | None = None


CLEAN = FailureState()


class Verdict(StrEnum):
    ALLOWED = "allowed"
    BACKOFF = "backoff"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class AttemptDecision:
    verdict: Verdict
    retry_after_s: int  # 0 when allowed; whole seconds, for a Retry-After header

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOWED


def _current(policy: LockoutPolicy, state: FailureState, now: datetime) -> FailureState:
    """The state as it stands at ``now``: an expired lock or window is forgotten."""
    if state.locked_until is not None:
        return state if now < state.locked_until else CLEAN
    if state.first_failure_at is not None and now - state.first_failure_at >= policy.window:
        return CLEAN
    return state


def _seconds(remaining: timedelta) -> int:
    return max(1, math.ceil(remaining.total_seconds()))


def decide(policy: LockoutPolicy, state: FailureState, now: datetime) -> AttemptDecision:
    """Whether an attempt may be made now, and if not, how long until one may."""
    state = _current(policy, state, now)
    if state.locked_until is not None:
        return AttemptDecision(Verdict.LOCKED, _seconds(state.locked_until - now))
    if state.last_failure_at is not None:
        ready_at = state.last_failure_at + policy.delay_after(state.failures)
        if now < ready_at:
            return AttemptDecision(Verdict.BACKOFF, _seconds(ready_at - now))
    return AttemptDecision(Verdict.ALLOWED, 0)


def record_failure(policy: LockoutPolicy, state: FailureState, now: datetime) -> FailureState:
    """The state after a failed attempt at ``now``; the lock starts with the last failure."""
    state = _current(policy, state, now)
    if state.locked_until is not None:
        return state  # attempts while locked are refused before they are checked
    failures = state.failures + 1
    first = state.first_failure_at or now
    locked_until = now + policy.lock_for if failures >= policy.lock_after else None
    return replace(
        state,
        failures=failures,
        first_failure_at=first,
        last_failure_at=now,
        locked_until=locked_until,
    )
