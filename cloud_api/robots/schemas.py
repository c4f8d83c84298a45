"""Request and response bodies of the robots endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

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
    enrollment_token: str | None = Field(
        description="Shown once: the robot redeems it at POST /v1/enrollments. Not stored; "
        "null in a replay of the reply (Idempotency-Key), which never hands it out again."
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


Resolution = Literal["raw", "1m", "1h"]


class TelemetryPoint(BaseModel):
    time: datetime = Field(description="The sample's time (raw), or the start of its bucket.")
    samples: int = Field(description="Samples in the bucket (1 for a raw sample).")
    mean: float
    minimum: float
    maximum: float


class TelemetrySeries(BaseModel):
    robot_id: uuid.UUID
    metric: str
    unit: str | None
    resolution: Resolution
    since: datetime = Field(description="Inclusive; for 1m and 1h, the start of its bucket.")
    until: datetime = Field(description="Exclusive.")
    points: list[TelemetryPoint]


class ClockOut(BaseModel):
    boot_id: uuid.UUID
    skew_s: float = Field(
        description="The robot's clock minus the cloud's, in seconds: the largest offset seen "
        "during this boot (delays only make offsets smaller). Positive: the robot is ahead."
    )
    estimated_at: datetime


class OldestGap(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    first_seq: int
    last_seq: int
    detected_at: datetime


class GapSummary(BaseModel):
    open: int = Field(
        description="Sequence gaps neither filled nor accounted for by a drop notice."
    )
    oldest_open: OldestGap | None


class ReviewCaseBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    category: str
    reason: str
    opened_at: datetime
    last_evidence_at: datetime
    evidence_count: int


class PendingRotation(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    state: str
    requested_at: datetime
    expires_at: datetime
    new_mqtt_username: str


class RobotDetail(RobotOut):
    """One robot with what an underwriter weighs: its clock, its gaps, its open review cases
    and a credential rotation under way."""

    clock: ClockOut | None = Field(description="Of the robot's current (or latest) boot.")
    sequence_gaps: GapSummary
    open_review_cases: list[ReviewCaseBrief] | None = Field(
        description="Null for a caller who may not read review cases (reviews:read)."
    )
    pending_rotation: PendingRotation | None
