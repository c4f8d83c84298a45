"""Verifying the payment processor's webhooks: hostile until checked.

Each webhook carries ``Processor-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
HMAC-SHA256, keyed with the webhook secret, over ``<t>.`` followed by the raw body. A webhook
is accepted only if the signature matches (compared in constant time) and ``t`` is within five
minutes of now (a captured webhook cannot be replayed later); then its body must be an event
of a known type. Anything else is refused with the reason, and nothing is changed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

TOLERANCE_S = 300
HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
SECONDS = re.compile(r"[0-9]{1,12}")


class WebhookRefusedError(ValueError):
    """The webhook is not the processor's, or not one we understand."""


class ChargeEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1, max_length=100)
    reference: str = Field(min_length=1, max_length=100)
    amount_minor: int = Field(strict=True, gt=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    status: Literal["succeeded", "failed"]
    failure_reason: str | None = Field(default=None, max_length=200)


class WebhookEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1, max_length=100)
    type: Literal["charge.succeeded", "charge.failed"]
    charge: ChargeEvent


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, header: str | None, body: bytes, now: float) -> WebhookEvent:
    if not header:
        raise WebhookRefusedError("no Processor-Signature header")
    fields = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    given, moment = fields.get("v1", ""), fields.get("t", "")
    if not (HEX_DIGEST.fullmatch(given) and SECONDS.fullmatch(moment)):
        raise WebhookRefusedError("the Processor-Signature header is malformed")
    timestamp = int(moment)
    if abs(now - timestamp) > TOLERANCE_S:
        raise WebhookRefusedError("the webhook's timestamp is too far from now (a replay?)")
    if not hmac.compare_digest(signature(secret, timestamp, body).encode(), given.encode()):
        raise WebhookRefusedError("the signature does not match")
    try:
        return WebhookEvent.model_validate_json(body)
    except ValidationError as error:
        raise WebhookRefusedError(f"not an event we know: {error.errors()[0]['msg']}") from None
