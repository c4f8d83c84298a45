"""A circuit breaker for calls to a vendor's API.

tenacity retries a failing call with backoff, but has no circuit breaker; the breakers on PyPI
are synchronous (pybreaker) or unmaintained for current asyncio. This one is small: after
`threshold` consecutive failures it opens and refuses calls for `cooldown_s`, then lets one
trial call through (half-open); a success closes it, a failure opens it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

import httpx


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(Exception):
    """The vendor's API failed too often lately; calls are refused until the cooldown ends."""


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.cooldown_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def check(self) -> None:
        """Raise CircuitOpenError unless a call may be made now."""
        if self.state is BreakerState.OPEN:
            raise CircuitOpenError(f"circuit open after {self._failures} consecutive failures")

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None

    def record_failure(self) -> None:
        self._failures += 1
        if self.state is BreakerState.HALF_OPEN or self._failures >= self.threshold:
            self._opened_at = self._clock()


def retryable_http_error(exc: BaseException) -> bool:
    """Worth another try: a timeout or connection failure, a 429 or a 5xx (a 4xx is final)."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code == 429 or exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError)
