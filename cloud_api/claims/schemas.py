"""Request and response bodies of the claims endpoints. Money is integer minor units of the
policy's currency."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from cloud_api.claims.lifecycle import ClaimTransition
from cloud_api.products.schemas import Code
from database.models import ClaimStatus, CostType

Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)
]
MAX_MINOR = 10**15
"""The largest amount of money a body may carry (ten trillion in major units)."""
Money = Annotated[int, Field(ge=0, le=MAX_MINOR)]
PositiveMoney = Annotated[int, Field(gt=0, le=MAX_MINOR)]


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class DenialReason(StrEnum):
    NOT_COVERED = "not_covered"
    EXCLUDED_CAUSE = "excluded_cause"
    BELOW_DEDUCTIBLE = "below_deductible"
    LATE_NOTICE = "late_notice"
    EVIDENCE_CONTRADICTS = "evidence_contradicts"
    SUSPECTED_FRAUD = "suspected_fraud"
    DUPLICATE = "duplicate"


class CloseReason(StrEnum):
    SETTLED = "settled"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"


class ClaimCreate(BaseModel):
    """First notice of loss."""

    model_config = ConfigDict(extra="forbid")

    robot_id: uuid.UUID
    coverage: Code = Field(description="The coverage claimed, by the product's code.")
    loss_at: AwareDatetime = Field(
        description="When the loss happened, with its UTC offset (from 2000 on).",
        ge=datetime(2000, 1, 1, tzinfo=UTC),
    )
    description: Description
    estimated_loss_minor: Money | None = Field(
        default=None, description="The claimant's estimate, if any."
    )


class TriageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severity: Severity
    fast_track: bool = Field(
        default=False, description="A simple claim an adjuster may approve without assignment."
    )
    note: Note | None = None


class AssignmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    adjuster_id: uuid.UUID = Field(description="A claims adjuster's user id.")
    note: Note | None = None


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note
    internal: bool = Field(
        default=True, description="The insurer's own note, not shown to the policyholder."
    )


class ReserveCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cost_type: CostType
    amount_minor: Money = Field(description="The reserve's new amount for this cost type.")
    note: Note | None = None


class ApprovalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agreed_loss_minor: PositiveMoney = Field(
        description="The loss agreed, before the deductible; the policy pays it less the "
        "deductible, within the limit and what is left of the aggregate."
    )
    note: Note | None = None


class DenialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_code: DenialReason
    note: Note


class PaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bank_reference: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=140)
    ] = Field(description="The transfer that paid the policyholder.")


class RecoveryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: PositiveMoney
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    subrogation: bool = Field(
        default=False, description="Recovered by subrogation against a third party."
    )
    note: Note | None = None


class ReasonedNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note


class CoverageReason(BaseModel):
    code: str
    detail: str


class CoverageCheckOut(BaseModel):
    covered: bool
    version_no: int | None
    limit_minor: int | None
    deductible_minor: int | None
    aggregate_minor: int | None
    aggregate_used_minor: int
    reasons: list[CoverageReason]


class ReserveOut(BaseModel):
    cost_type: CostType
    amount_minor: int


class ClaimOut(BaseModel):
    id: uuid.UUID
    number: str
    tenant: str
    policy_id: uuid.UUID
    robot_id: uuid.UUID
    coverage: str
    status: ClaimStatus
    loss_at: datetime
    reported_at: datetime
    description: str
    estimated_loss_minor: int | None
    currency: str
    coverage_check: CoverageCheckOut
    severity: Severity | None
    fast_track: bool
    adjuster_id: uuid.UUID | None
    decision_code: str | None
    agreed_loss_minor: int | None
    payable_minor: int | None
    paid_minor: int
    recovered_minor: int
    reserves: list[ReserveOut] | None = Field(
        description="Outstanding reserves by cost type; staff only (null for the policyholder)."
    )
    incurred_minor: int | None = Field(
        description="Paid plus outstanding reserves; staff only (null for the policyholder)."
    )
    allowed_transitions: list[ClaimTransition]


class ClaimEventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    kind: str
    transition: str | None
    from_status: str | None
    to_status: str | None
    reason_code: str | None
    note: str | None
    internal: bool
    detail: dict[str, Any]


class EvidenceFlag(BaseModel):
    code: str = Field(
        description="no_matching_event, silent_at_loss, offline_at_loss, gap_at_loss, "
        "open_tamper_case, late_report or outside_policy"
    )
    reason: str


class EvidenceOut(BaseModel):
    claim_id: uuid.UUID
    window_start: datetime
    window_end: datetime
    taken_at: datetime
    digest: str = Field(description="SHA-256 of the canonical JSON of the record, hex.")
    intact: bool = Field(description="The stored record still matches its digest.")
    flags: list[EvidenceFlag]
    snapshot: dict[str, Any]


class AttachmentOut(BaseModel):
    id: uuid.UUID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str = Field(description="Hex.")
    uploaded_by: str
    uploaded_at: datetime


class PayoutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payee_token: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ] = Field(description="The payee's bank account, as tokenized at the payment processor.")


class PayoutOut(BaseModel):
    id: uuid.UUID = Field(description="The processor's Idempotency-Key for this payout.")
    claim_id: uuid.UUID
    amount_minor: int
    currency: str
    status: str = Field(description="pending, succeeded or failed")
    attempts: int
    processor_payout_id: str | None
    failure_reason: str | None
    created_at: datetime
    settled_at: datetime | None
