"""The conventions every route of the API follows, installed on the app in one call.

`install_conventions(app, ...)` adds request ids and the JSON access log, Prometheus metrics at
/metrics, /healthz and /readyz, the rate limiter and the cursor key on the app's state, and the
handler that gives 429 (and 503 from the limiter) their Retry-After. Routes opt in with
dependencies: ``Depends(RateLimit("read"))`` and ``Depends(ListParams(listing))``; errors.py's
``install_error_handlers`` renders the 400 problems of cursors, sorts and filters.
"""

from __future__ import annotations

from fastapi import FastAPI

from cloud_api.conventions.filters import Filter, InvalidQueryError, Listing, Sort
from cloud_api.conventions.idempotency import Idempotency, IdempotencyDep, install_idempotency
from cloud_api.conventions.metrics import install_metrics
from cloud_api.conventions.pagination import (
    CursorSigner,
    InvalidCursorError,
    ListParams,
    ListQuery,
    Page,
    paginate,
    paginate_rows,
)
from cloud_api.conventions.probes import probes_router
from cloud_api.conventions.ratelimit import (
    RateLimit,
    RateLimitedError,
    RateLimiter,
    RateLimits,
    RateLimitUnavailableError,
    render_with_retry_after,
)
from cloud_api.conventions.request_ids import install_request_ids
from database.settings import CloudSettings

__all__ = [
    "CursorSigner",
    "Filter",
    "Idempotency",
    "IdempotencyDep",
    "InvalidCursorError",
    "InvalidQueryError",
    "ListParams",
    "ListQuery",
    "Listing",
    "Page",
    "RateLimit",
    "RateLimitUnavailableError",
    "RateLimitedError",
    "RateLimiter",
    "RateLimits",
    "Sort",
    "close_conventions",
    "install_conventions",
    "paginate",
    "paginate_rows",
]


def install_conventions(
    app: FastAPI,
    *,
    redis_url: str,
    settings: CloudSettings,
    cursor_secret: bytes,
    rate_limits: RateLimits | None = None,
) -> None:
    """Call once in `create_app`, before the app serves. ``redis_url`` holds the rate limits'
    counters; ``settings`` tell /readyz where PostgreSQL, Redis and the broker are;
    ``cursor_secret`` (32 bytes or more) signs pagination cursors. Nothing connects here."""
    app.state.rate_limiter = RateLimiter(redis_url=redis_url, limits=rate_limits)
    app.state.cursor_signer = CursorSigner(cursor_secret)
    app.add_exception_handler(RateLimitedError, render_with_retry_after)
    app.add_exception_handler(RateLimitUnavailableError, render_with_retry_after)
    install_idempotency(app)
    install_metrics(app)
    # After the metrics middleware, so that request ids wrap everything, metrics included.
    install_request_ids(app)
    app.include_router(probes_router(settings))


def close_conventions(app: FastAPI) -> None:
    """Close the rate limiter's Redis pool; call at the end of the app's lifespan."""
    limiter = getattr(app.state, "rate_limiter", None)
    if isinstance(limiter, RateLimiter):
        limiter.close()
