"""The payment processor's API, spoken with httpx: retries with exponential backoff and jitter
(tenacity) for what passes (a timeout, a 5xx, a 429), and a circuit breaker so a processor that
is down is not hammered: while it is open, charges wait in the database (pending) and go through
once it closes. Every charge carries an Idempotency-Key (the payment's id): asked twice, the
processor charges once and answers the same charge.

The API (a generic card processor; docs/policies.md, "Card payments"):

    POST {base_url}/v1/charges          Authorization: Bearer <api key>
         Idempotency-Key: <payment id>
         {"amount_minor": 12345, "currency": "EUR", "card_token": "tok_...",
          "reference": "<payment id>"}
    201  {"id": "ch_...", "status": "succeeded" | "pending" | "failed",
          "failure_reason": null | "card_declined" | ...}
    402  the same body, status "failed": the card was declined

    POST {base_url}/v1/payouts          (a claim paid out; the same headers)
         {"amount_minor": 12345, "currency": "EUR", "payee_token": "ba_...",
          "reference": "<payout id>"}
    201 / 402  as a charge: status "succeeded", "pending" or "failed" with its reason

and webhooks to us, signed (webhooks.py), for charges that settle later or that it tells twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from ingest.connectors.breaker import CircuitBreaker, CircuitOpenError, retryable_http_error

MAX_ANSWER_BYTES = 64 * 1024


class Charge(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1, max_length=100)
    status: Literal["succeeded", "pending", "failed"]
    failure_reason: str | None = Field(default=None, max_length=200)


class ProcessorUnavailableError(Exception):
    """The processor cannot be reached now (retries spent, or the circuit is open): the charge
    stays pending and is tried again later."""


class ProcessorProtocolError(Exception):
    """The processor answered something that is not a charge: the payment is not settled on it."""


@dataclass
class ProcessorClient:
    """One processor account; ``client`` is owned by the caller (a ``with httpx.Client``)."""

    client: httpx.Client
    base_url: str
    api_key: SecretStr
    breaker: CircuitBreaker
    attempts: int = 4
    max_wait_s: float = 2.0

    def charge(
        self, *, reference: str, amount_minor: int, currency: str, card_token: str
    ) -> Charge:
        body = {"amount_minor": amount_minor, "currency": currency, "card_token": card_token}
        return self._call("/v1/charges", reference, body)

    def payout(
        self, *, reference: str, amount_minor: int, currency: str, payee_token: str
    ) -> Charge:
        """Pay money out (a claim) to the payee's account, tokenized at the processor; it
        answers as a charge does (``succeeded``, ``pending`` or ``failed`` with a reason)."""
        body = {"amount_minor": amount_minor, "currency": currency, "payee_token": payee_token}
        return self._call("/v1/payouts", reference, body)

    def _call(self, path: str, reference: str, body: dict[str, object]) -> Charge:
        try:
            self.breaker.check()
        except CircuitOpenError as error:
            raise ProcessorUnavailableError(str(error)) from None
        try:
            response = self._post(path, reference, body)
        except (httpx.HTTPStatusError, httpx.TransportError) as error:
            if not retryable_http_error(error):
                raise ProcessorProtocolError(f"the processor refused it: {error}") from None
            self.breaker.record_failure()
            raise ProcessorUnavailableError(f"the processor did not answer: {error}") from None
        self.breaker.record_success()
        if len(response.content) > MAX_ANSWER_BYTES:
            raise ProcessorProtocolError("the processor's answer is too large")
        try:
            return Charge.model_validate_json(response.content)
        except ValidationError as error:
            raise ProcessorProtocolError(f"not a charge: {error.errors()[0]['msg']}") from None

    def _post(self, path: str, reference: str, body: dict[str, object]) -> httpx.Response:
        for attempt in Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(multiplier=0.05, max=self.max_wait_s),
            retry=retry_if_exception(retryable_http_error),
            reraise=True,
        ):
            with attempt:
                response = self.client.post(
                    f"{self.base_url.rstrip('/')}{path}",
                    json={**body, "reference": reference},
                    headers={
                        "Idempotency-Key": reference,
                        "Authorization": f"Bearer {self.api_key.get_secret_value()}",
                    },
                )
                if response.status_code != 402:  # a decline is an answer, not an error
                    response.raise_for_status()
        return response
