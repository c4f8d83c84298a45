"""Request and response bodies of the notifications endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

from database.models import Channel, DeliveryStatus


class EventType(StrEnum):
    """What a tenant can be told of; a delivery names it in ``Robocover-Event``."""

    POLICY_ISSUED = "policy_issued"
    RENEWAL_OFFERED = "renewal_offered"
    ENDORSEMENT_PROPOSED = "endorsement_proposed"
    INVOICE_DUE = "invoice_due"
    PAYMENT_FAILED = "payment_failed"
    LAPSE_WARNING = "lapse_warning"
    CLAIM_STATUS_CHANGED = "claim_status_changed"
    ROBOT_OFFLINE = "robot_offline"
    TAMPER_CASE_OPENED = "tamper_case_opened"


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str | None = Field(
        default=None,
        max_length=32,
        description="The tenant's slug (staff); a policyholder's own tenant if left out.",
    )
    url: AnyHttpUrl = Field(description="Where deliveries are POSTed (https, or http).")
    event_types: list[EventType] = Field(min_length=1, max_length=len(EventType))

    @field_validator("url")
    @classmethod
    def _bounded(cls, url: AnyHttpUrl) -> AnyHttpUrl:
        if len(str(url)) > 500:
            raise ValueError("the URL is longer than 500 characters")
        if url.username or url.password:
            raise ValueError("the URL carries no credentials: deliveries are signed instead")
        return url

    @field_validator("event_types")
    @classmethod
    def _distinct(cls, types: list[EventType]) -> list[EventType]:
        if len(set(types)) != len(types):
            raise ValueError("event_types must be distinct")
        return types


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    tenant: str
    url: str
    event_types: list[EventType]
    active: bool
    created_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(
        description="Signs every delivery (HMAC-SHA256, docs/notifications.md). Shown once."
    )


class DeliveryOut(BaseModel):
    id: uuid.UUID = Field(description="The delivery's id: the same on every retry.")
    notification_id: uuid.UUID
    event_type: EventType
    channel: Channel
    recipient: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    replays: int
