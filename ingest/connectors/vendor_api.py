"""A vendor's HTTP diagnostics API, read with httpx: retries with backoff and jitter (tenacity)
for passing failures, and a circuit breaker so a vendor that is down is not hammered.

The API this speaks (documented in docs/ingest.md, "Vendor connector"):

    GET {base_url}/v1/robots/{serial}/diagnostics?after={cursor}&limit={limit}
    200 {"readings": [{"t": "2026-11-27T10:00:00.000Z", "name": "<vendor metric>",
                        "value": 41.2}, ...],
         "next": "<cursor>"}

Readings come oldest first; `next` is passed back as `after` to get what follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx
from pydantic import BaseModel, Field
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from ingest.connectors.breaker import CircuitBreaker, retryable_http_error


class VendorReading(BaseModel):
    t: datetime
    name: str = Field(min_length=1, max_length=128)
    value: float = Field(allow_inf_nan=False)


class VendorPage(BaseModel):
    readings: list[VendorReading] = Field(max_length=100_000)
    next: str = Field(max_length=512)


class VendorApiError(Exception):
    """The vendor's API answered with something we cannot use."""


@dataclass
class VendorApi:
    """One vendor's API; `client` is owned by the caller (an `async with httpx.AsyncClient`)."""

    client: httpx.AsyncClient
    base_url: str
    breaker: CircuitBreaker
    attempts: int = 4
    max_wait_s: float = 5.0

    async def diagnostics(self, serial: str, cursor: str, limit: int = 5000) -> VendorPage:
        """The readings after `cursor`. Raises CircuitOpenError while the circuit is open,
        httpx errors once retries are spent, VendorApiError on an unusable answer."""
        self.breaker.check()
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(retryable_http_error),
                stop=stop_after_attempt(self.attempts),
                wait=wait_exponential_jitter(multiplier=0.1, max=self.max_wait_s),
                reraise=True,
            ):
                with attempt:
                    response = await self.client.get(
                        f"{self.base_url.rstrip('/')}/v1/robots/{serial}/diagnostics",
                        params={"after": cursor, "limit": limit},
                    )
                    response.raise_for_status()
        except (httpx.HTTPError, VendorApiError):
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        try:
            return VendorPage.model_validate_json(response.content)
        except ValueError as exc:
            raise VendorApiError(f"unusable diagnostics from {serial}: {exc}") from None
