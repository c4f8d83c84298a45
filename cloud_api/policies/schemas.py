"""Request and response bodies of the quotes and policies endpoints. Money is integer minor
units of the quote's or policy's currency."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cloud_api.policies.lifecycle import Transition
from cloud_api.products.schemas import JURISDICTION_PATTERN, Code
from database.models import InstallmentPlan, PolicyStatus

Jurisdiction = Annotated[str, StringConstraints(pattern=JURISDICTION_PATTERN)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
MAX_ROBOTS = 5000


class QuoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str | None = Field(
        default=None,
        max_length=32,
        description="The insured tenant's slug; a policyholder's own tenant if left out.",
    )
    product_id: uuid.UUID
    robot_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_ROBOTS)
    coverages: list[Code] | None = Field(
        default=None,
        max_length=20,
        description="The product's coverages to quote; all if left out.",
    )
    jurisdiction: Jurisdiction = Field(examples=["DE"])
    term_start: date = Field(description="The first day of cover (00:00 UTC).")

    @model_validator(mode="after")
    def _distinct(self) -> QuoteCreate:
        if len(set(self.robot_ids)) != len(self.robot_ids):
            raise ValueError("robot_ids must be distinct")
        if self.coverages is not None and len(set(self.coverages)) != len(self.coverages):
            raise ValueError("coverages must be distinct")
        return self


class BindCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    installments: InstallmentPlan = Field(
        default=InstallmentPlan.ANNUAL, description="How the premium is billed."
    )


class LineSource(StrEnum):
    SCORE = "score"
    CLASS_REFERENCE = "class_reference"


class QuoteLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    robot_id: uuid.UUID
    coverage: str
    premium_minor: int = Field(description="For the whole term, rounded once (docs/policies.md).")
    rated_premium: float = Field(description="The risk engine's figure before rounding.")
    source: LineSource
    score_id: int | None
    explanation: dict[str, Any]


class QuoteStatusOut(StrEnum):
    OPEN = "open"
    BOUND = "bound"
    EXPIRED = "expired"


class QuoteOut(BaseModel):
    id: uuid.UUID
    tenant: str
    product_id: uuid.UUID
    plan_version: int
    status: QuoteStatusOut
    jurisdiction: str
    currency: str
    term_start: datetime
    term_end: datetime
    premium_minor: int
    tax_minor: int
    total_minor: int
    created_at: datetime
    expires_at: datetime
    renewal_of: uuid.UUID | None
    lines: list[QuoteLineOut]


class ScheduleLine(BaseModel):
    """One robot and coverage in force: its premium for the term and its terms."""

    robot_id: uuid.UUID
    coverage: str
    premium_minor: int
    limit_minor: int
    deductible_minor: int
    aggregate_minor: int


class PolicyVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version_no: int
    transition: Transition
    status: PolicyStatus
    effective_from: datetime
    recorded_at: datetime
    actor: str
    reason_code: str | None
    note: str | None
    backdated: bool
    term_premium_minor: int
    premium_change_minor: int
    tax_change_minor: int
    schedule: list[ScheduleLine]


class PolicyOut(BaseModel):
    id: uuid.UUID
    number: str | None
    tenant: str
    product_id: uuid.UUID
    quote_id: uuid.UUID
    renewal_of: uuid.UUID | None
    status: PolicyStatus
    allowed_transitions: list[Transition]
    jurisdiction: str
    currency: str
    term_start: datetime
    term_end: datetime
    version: int
    created_at: datetime
    installments: InstallmentPlan
    current: PolicyVersionOut


class InForceOut(BaseModel):
    """What a policy covered at an instant: the version in effect then, if any."""

    policy_id: uuid.UUID
    at: datetime
    in_force: bool
    version: PolicyVersionOut | None


class CoverageChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    coverage: Code
    limit_minor: int | None = Field(default=None, strict=True, gt=0, le=10**15)
    deductible_minor: int | None = Field(default=None, strict=True, ge=0, le=10**15)
    aggregate_minor: int | None = Field(default=None, strict=True, gt=0, le=10**15)


class EndorsementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    effective_on: date
    add_robots: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_ROBOTS)
    remove_robots: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_ROBOTS)
    coverage_changes: list[CoverageChange] = Field(default_factory=list, max_length=20)
    note: Note | None = None

    @model_validator(mode="after")
    def _something(self) -> EndorsementCreate:
        if not (self.add_robots or self.remove_robots or self.coverage_changes):
            raise ValueError("an endorsement adds or removes robots or changes a coverage")
        if len(set(self.add_robots)) != len(self.add_robots):
            raise ValueError("add_robots must be distinct")
        if len(set(self.remove_robots)) != len(self.remove_robots):
            raise ValueError("remove_robots must be distinct")
        if set(self.add_robots) & set(self.remove_robots):
            raise ValueError("a robot cannot be added and removed at once")
        return self


class CancelReason(StrEnum):
    POLICYHOLDER_REQUEST = "policyholder_request"
    FLEET_SOLD = "fleet_sold"
    UNDERWRITING = "underwriting"
    MISREPRESENTATION = "misrepresentation"
    NON_PAYMENT = "non_payment"


class CancelMethod(StrEnum):
    PRO_RATA = "pro_rata"
    SHORT_RATE = "short_rate"


class CancelRequester(StrEnum):
    INSURER = "insurer"
    POLICYHOLDER = "policyholder"


class CancellationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    effective_on: date
    reason_code: CancelReason
    requested_by: CancelRequester
    method: CancelMethod | None = Field(
        default=None,
        description="Short rate when the policyholder asks, pro rata otherwise, if left out.",
    )
    note: Note | None = None


class ReinstatementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note


class RenewalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jurisdiction: Jurisdiction | None = Field(
        default=None, description="The expiring policy's if left out."
    )
