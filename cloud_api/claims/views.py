"""Claims as the API shows them: to staff with their reserves and incurred amount, to the
policyholder without the insurer's own figures."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from cloud_api.access.roles import Principal
from cloud_api.claims import evidence, repository
from cloud_api.claims.lifecycle import allowed_from
from cloud_api.claims.schemas import (
    AttachmentOut,
    ClaimEventOut,
    ClaimOut,
    CoverageCheckOut,
    CoverageReason,
    EvidenceFlag,
    EvidenceOut,
    PayoutOut,
    ReserveOut,
    Severity,
)
from database.models import (
    Claim,
    ClaimAttachment,
    ClaimEvent,
    ClaimEvidence,
    ClaimPayout,
    ClaimStatus,
    CostType,
)


def coverage_out(claim: Claim) -> CoverageCheckOut:
    check = claim.coverage_check
    terms = check.get("terms") or {}
    return CoverageCheckOut(
        covered=claim.covered,
        version_no=check.get("version_no"),
        limit_minor=terms.get("limit_minor"),
        deductible_minor=terms.get("deductible_minor"),
        aggregate_minor=terms.get("aggregate_minor"),
        aggregate_used_minor=int(check.get("aggregate_used_minor", 0)),
        reasons=[CoverageReason(**r) for r in check.get("reasons", [])],
    )


def claim_out(session: Session, claim: Claim, principal: Principal) -> ClaimOut:
    return claims_out(session, [claim], principal)[0]


def claims_out(session: Session, claims: Sequence[Claim], principal: Principal) -> list[ClaimOut]:
    """A page of claims with their tenants and, to staff, their reserves: two queries for the
    page, not two per claim."""
    if not claims:
        return []
    slugs = repository.tenant_slugs(session, {claim.tenant_id for claim in claims})
    outstanding = (
        repository.reserves_of(session, [claim.id for claim in claims])
        if principal.is_staff
        else {}
    )
    return [
        _claim_out(claim, slugs[claim.tenant_id], outstanding.get(claim.id)) for claim in claims
    ]


def _claim_out(claim: Claim, tenant: str, outstanding: dict[str, int] | None) -> ClaimOut:
    reserves = incurred = None
    if outstanding is not None:
        reserves = [
            ReserveOut(cost_type=CostType(k), amount_minor=v)
            for k, v in sorted(outstanding.items())
            if v
        ]
        incurred = claim.paid_minor + sum(outstanding.values())
    return ClaimOut(
        id=claim.id,
        number=claim.number,
        tenant=tenant,
        policy_id=claim.policy_id,
        robot_id=claim.robot_id,
        coverage=claim.coverage,
        status=ClaimStatus(claim.status),
        loss_at=claim.loss_at,
        reported_at=claim.reported_at,
        description=claim.description,
        estimated_loss_minor=claim.estimated_loss_minor,
        currency=claim.currency,
        coverage_check=coverage_out(claim),
        severity=None if claim.severity is None else Severity(claim.severity),
        fast_track=claim.fast_track,
        adjuster_id=claim.adjuster_id,
        decision_code=claim.decision_code,
        agreed_loss_minor=claim.agreed_loss_minor,
        payable_minor=claim.payable_minor,
        paid_minor=claim.paid_minor,
        recovered_minor=claim.recovered_minor,
        reserves=reserves,
        incurred_minor=incurred,
        allowed_transitions=allowed_from(ClaimStatus(claim.status)),
    )


def event_out(row: ClaimEvent) -> ClaimEventOut:
    return ClaimEventOut(
        id=row.id,
        at=row.at,
        actor=row.actor,
        kind=row.kind,
        transition=row.transition,
        from_status=row.from_status,
        to_status=row.to_status,
        reason_code=row.reason_code,
        note=row.note,
        internal=row.internal,
        detail=row.detail,
    )


def evidence_out(claim: Claim, row: ClaimEvidence) -> EvidenceOut:
    return EvidenceOut(
        claim_id=claim.id,
        window_start=row.window_start,
        window_end=row.window_end,
        taken_at=row.taken_at,
        digest=row.digest.hex(),
        intact=evidence.verify(claim, row),
        flags=[EvidenceFlag(**f) for f in row.flags],
        snapshot=row.snapshot,
    )


def attachment_out(row: ClaimAttachment) -> AttachmentOut:
    return AttachmentOut(
        id=row.id,
        filename=row.filename,
        content_type=row.content_type,
        size_bytes=row.size_bytes,
        sha256=row.sha256.hex(),
        uploaded_by=row.uploaded_by,
        uploaded_at=row.uploaded_at,
    )


def payout_out(row: ClaimPayout) -> PayoutOut:
    return PayoutOut(
        id=row.id,
        claim_id=row.claim_id,
        amount_minor=row.amount_minor,
        currency=row.currency,
        status=row.status,
        attempts=row.attempts,
        processor_payout_id=row.processor_payout_id,
        failure_reason=row.failure_reason,
        created_at=row.created_at,
        settled_at=row.settled_at,
    )
