"""Rate limits per principal, counted in Redis with the `limits` library (moving window).

Each request is charged to a principal key the caller chooses (``principal:<id>`` once
authenticated, ``ip:<address>`` on anonymous routes such as the token endpoint) under a class of
route (read, write, auth), each class with its own rate. Over the rate: 429 problem details
with ``Retry-After`` in whole seconds (rounded up), from the window the store reports. Within
it: ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds) on the
response.

When Redis does not answer (bounded by a short socket timeout), the classes in
``RateLimits.fail_closed`` (auth, by default) refuse with 503: an attacker who can take the
store down must not gain unlimited password guesses. The other classes let the request through
and log a warning (at most one per ``WARN_EVERY_S``): reads and writes are authenticated and
authorized anyway, and an outage of a cache should not become an outage of the API.

The moving window is exact (a sorted set of hits per key, one Lua script per check), so
``Retry-After`` is when the oldest hit of the window expires, not a guess.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Literal

import redis
from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from loguru import logger

from cloud_api.errors import AppError, ServiceUnavailableError, render_problem

RouteClass = Literal["read", "write", "auth"]
STORE_TIMEOUT_S = 0.25
WARN_EVERY_S = 10.0
KEY_PREFIX = "robocover-ratelimit"


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The rate of each class of route, in the `limits` notation ("120/minute")."""

    read: str = "300/minute"
    write: str = "60/minute"
    auth: str = "10/minute"
    fail_closed: frozenset[RouteClass] = field(default_factory=lambda: frozenset({"auth"}))

    def __post_init__(self) -> None:
        for route_class in ("read", "write", "auth"):
            self.item(route_class)  # a typo in a rate fails when the app is built

    def item(self, route_class: RouteClass) -> RateLimitItem:
        rate: str = getattr(self, route_class)
        try:
            return parse(rate)
        except ValueError as exc:
            raise ValueError(f"rate limit {route_class}={rate!r}: {exc}") from exc


class RateLimitedError(AppError):
    status, title = 429, "Too many requests"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimitUnavailableError(ServiceUnavailableError):
    """The store of the counters does not answer, and this class of route fails closed."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class RateLimitStatus:
    """Where a principal stands after a request was let through; ``counted`` is False when the
    store was away and the request went through uncounted (fail open)."""

    limit: int
    remaining: int
    reset_after_s: int
    counted: bool = True

    def headers(self) -> dict[str, str]:
        if not self.counted:
            return {}
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after_s),
        }


class RateLimiter:
    """Counts hits per (class of route, principal key) in Redis. Thread-safe: sync endpoints
    call it from the threadpool; the Redis client pools its connections."""

    def __init__(
        self,
        *,
        redis_url: str,
        limits: RateLimits | None = None,
        key_prefix: str = KEY_PREFIX,
        timeout_s: float = STORE_TIMEOUT_S,
    ) -> None:
        self.limits = limits if limits is not None else RateLimits()
        # No connection is made here: the client connects on the first check.
        self._storage = RedisStorage(
            redis_url,
            key_prefix=key_prefix,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._last_warning = -math.inf
        self._lock = threading.Lock()

    def check(self, principal_key: str, route_class: RouteClass) -> RateLimitStatus:
        """Charge one request; raise RateLimitedError over the rate, RateLimitUnavailableError
        when the store is away and ``route_class`` fails closed."""
        item = self.limits.item(route_class)
        try:
            allowed = self._limiter.hit(item, route_class, principal_key)
            stats = self._limiter.get_window_stats(item, route_class, principal_key)
        except (redis.RedisError, OSError) as exc:
            return self._store_away(route_class, exc)
        reset_after_s = max(1, math.ceil(stats.reset_time - time.time()))
        if not allowed:
            raise RateLimitedError(
                f"more than {item.amount} {route_class} requests per {item.get_expiry()} s; "
                f"retry in {reset_after_s} s",
                retry_after_s=reset_after_s,
            )
        return RateLimitStatus(item.amount, stats.remaining, reset_after_s)

    def reset(self, principal_key: str, route_class: RouteClass) -> None:
        """Forget a principal's hits (after a successful sign-in, say)."""
        self._limiter.clear(self.limits.item(route_class), route_class, principal_key)

    def close(self) -> None:
        self._storage.storage.close()

    def _store_away(self, route_class: RouteClass, exc: Exception) -> RateLimitStatus:
        if route_class in self.limits.fail_closed:
            logger.bind(route_class=route_class).warning(
                "rate limit store unavailable, refusing: {}", type(exc).__name__
            )
            raise RateLimitUnavailableError(
                f"cannot count {route_class} requests now; try again shortly",
                retry_after_s=1,
            ) from exc
        with self._lock:
            now = time.monotonic()
            warn = now - self._last_warning >= WARN_EVERY_S
            if warn:
                self._last_warning = now
        if warn:
            logger.bind(route_class=route_class).warning(
                "rate limit store unavailable, letting requests through uncounted: {}: {}",
                type(exc).__name__,
                exc,
            )
        item = self.limits.item(route_class)
        return RateLimitStatus(item.amount, item.amount, item.get_expiry(), counted=False)


def principal_or_client_ip(request: Request) -> str:
    """``principal:<id>`` when authentication put one on the request's state, else the peer's
    address (behind a proxy, the proxy must rewrite the client address, e.g. uvicorn
    ``--proxy-headers``)."""
    principal_id = getattr(request.state, "principal_id", None)
    if principal_id is None:
        principal_id = getattr(getattr(request.state, "principal", None), "id", None)
    if principal_id is not None:
        return f"principal:{principal_id}"
    return f"ip:{request.client.host if request.client else 'unknown'}"


class RateLimit:
    """A dependency that charges the request to its principal: ``Depends(RateLimit("read"))``
    on a route or a router, listed after the dependency that authenticates (FastAPI resolves
    them in order), so that the principal is on the request's state. The limiter is the app's
    (``install_conventions``)."""

    def __init__(
        self,
        route_class: RouteClass,
        *,
        key: Callable[[Request], str] = principal_or_client_ip,
    ) -> None:
        self.route_class: RouteClass = route_class
        self.key = key

    def __call__(self, request: Request, response: Response) -> RateLimitStatus:
        status = limiter_of(request).check(self.key(request), self.route_class)
        response.headers.update(status.headers())
        return status


def limiter_of(request: Request) -> RateLimiter:
    limiter = getattr(request.app.state, "rate_limiter", None)
    if not isinstance(limiter, RateLimiter):
        raise RuntimeError("no rate limiter on the app: call install_conventions(app, ...)")
    return limiter


async def render_with_retry_after(request: Request, exc: Exception) -> JSONResponse:
    """errors.py's problem details, plus the Retry-After header the error carries."""
    response = await render_problem(request, exc)
    retry_after_s = getattr(exc, "retry_after_s", None)
    if retry_after_s is not None:
        response.headers["Retry-After"] = str(retry_after_s)
    return response


ReadLimit = Annotated[RateLimitStatus, Depends(RateLimit("read"))]
"""A route's dependency: the caller's read budget (429 with Retry-After when spent)."""
WriteLimit = Annotated[RateLimitStatus, Depends(RateLimit("write"))]
"""A route's dependency: the caller's write budget."""
AuthLimit = Annotated[RateLimitStatus, Depends(RateLimit("auth"))]
"""A route's dependency: the client address's sign-in budget."""
