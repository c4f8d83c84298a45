"""Request and response bodies of the robots endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cloud_api.conventions.etags import weak_etag
from database.models import Robot, RobotClass, RobotStatus

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text64 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class RobotOut(BaseModel):
    """A robot as the insurer and its tenant see it (no key, no broker account)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant: str
    serial_number: str
    robot_class: RobotClass
    manufacturer: str
    model: str
    status: RobotStatus
    status_reason: str | None
    status_changed_at: datetime | None
    online: bool
    last_seen_at: datetime | None
    enrolled_at: datetime | None
    firmware_version: str | None
    software_version: str | None
    created_at: datetime

    @classmethod
    def of(cls, robot: Robot, tenant: str) -> RobotOut:
        return cls.model_validate({**_columns(robot), "tenant": tenant})

    @property
    def etag(self) -> str:
        return weak_etag(self)


def _columns(robot: Robot) -> dict[str, Any]:
    return {name: getattr(robot, name) for name in RobotOut.model_fields if name != "tenant"}


class RobotRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str | None = Field(
        default=None,
        description="The tenant's slug; a policyholder or service account may leave it out "
        "(its own tenant) and may name no other.",
    )
    serial_number: Text64
    robot_class: RobotClass
    manufacturer: Text100
    model: Text100


class RobotRegistered(BaseModel):
    robot: RobotOut
    enrollment_token: str = Field(
        description="Shown once: the robot redeems it at POST /v1/enrollments. Not stored."
    )
    enrollment_token_expires_at: datetime


class StandingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = Field(description="Why (1 to 200 characters); kept in the audit trail.")


class RotationRequested(BaseModel):
    rotation_id: int
    robot_id: uuid.UUID
    new_mqtt_username: str
    expires_at: datetime = Field(
        description="Until then a message under a key not yet announced is waited for."
    )


class RiskScoreOut(BaseModel):
    id: int
    scored_at: datetime
    period_start: datetime
    plan_version: int
    trigger: str
    currency: str
    premium: float
    technical_premium: float
    reference_premium: float
    expected_frequency: float
    expected_severity: float
    credibility: float
    experience_mod: float
    reasons: Any
    contributions: Any


class RobotEventOut(BaseModel):
    time: datetime
    seq: int
    position: int
    kind: str
    code: str | None
    severity: int
    detail: dict[str, Any]
    received_at: datetime


class SequenceGapOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    first_seq: int
    last_seq: int
    detected_at: datetime
    closed_at: datetime | None
    resolution: str | None


class TelemetryHour(BaseModel):
    bucket: datetime = Field(description="Start of the hour.")
    samples: int
    mean: float | None
    minimum: float
    maximum: float
    last_value: float


class TelemetrySeries(BaseModel):
    robot_id: uuid.UUID
    metric: str
    unit: str | None
    since: datetime
    until: datetime
    hours: list[TelemetryHour]
