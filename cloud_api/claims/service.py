"""Claims from first notice of loss to decision: the rules. Services never commit; the
request owns the transaction. Money moves (reserves, payments, recoveries) are in
``settlement``.

Rules:
* A policyholder reports losses of its own tenant's robots (another tenant's robot is not
  found); staff report for any tenant. The time of loss is not in the future.
* The claim is made on the tenant's policy that scheduled the robot at the time of loss (else
  the latest before it); the coverage check against the version in effect then is kept on the
  claim. A claim that is not covered is recorded all the same, with its reasons: the adjuster
  denies it, it is not refused at the door.
* Every transition is asked of the state machine (409 with the allowed ones) and kept as an
  event with its actor, reason and note; staff transitions are audited.
* Approving needs a covered claim and something payable; from triage only on the fast track.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud_api.access.permissions import tenant_scope
from cloud_api.access.roles import Principal, Role
from cloud_api.audit import service as audit
from cloud_api.claims import coverage, evidence, experience, repository
from cloud_api.claims.lifecycle import ClaimTransition, next_status
from cloud_api.claims.schemas import (
    ApprovalCreate,
    AssignmentCreate,
    ClaimCreate,
    NoteCreate,
    TriageCreate,
)
from cloud_api.errors import ConflictError, NotFoundError, UnprocessableError
from cloud_api.identity import service as identity
from cloud_api.notifications import service as notifications
from cloud_api.notifications.schemas import EventType
from cloud_api.policies import service as policies
from database.models import Claim, ClaimEvent, ClaimEvidence, ClaimStatus


class ClaimNotFoundError(NotFoundError):
    pass


def actor_of(principal: Principal | None) -> str:
    return "system" if principal is None else f"{principal.role}:{principal.id}"


def get(session: Session, principal: Principal, claim_id: uuid.UUID) -> Claim:
    found = repository.claim(session, claim_id, tenant_scope(principal))
    if found is None:
        raise ClaimNotFoundError(f"no claim {claim_id}")
    return found


def locked(session: Session, principal: Principal, claim_id: uuid.UUID) -> Claim:
    found = repository.claim(session, claim_id, tenant_scope(principal), for_update=True)
    if found is None:
        raise ClaimNotFoundError(f"no claim {claim_id}")
    return found


def terms_of(claim: Claim) -> coverage.Terms:
    return coverage.Terms(claim.limit_minor, claim.deductible_minor, claim.aggregate_minor)


def report(
    session: Session,
    principal: Principal,
    body: ClaimCreate,
    now: datetime,
    rules: evidence.EvidenceRules,
) -> Claim:
    """First notice of loss: the claim, its coverage check, its telemetry evidence frozen with
    its flags, and its first event."""
    robot = repository.robot(session, body.robot_id, tenant_scope(principal))
    if robot is None:
        raise NotFoundError(f"no robot {body.robot_id}")
    if body.loss_at > now:
        raise UnprocessableError("the time of loss is in the future")
    found = policies.policy_for_loss(session, robot.tenant_id, robot.id, body.loss_at)
    if found is None:
        raise UnprocessableError(f"robot {robot.id} is on no issued policy of its tenant")
    policy, version = found
    at_loss = (
        None
        if version is None
        else coverage.VersionAtLoss(version.version_no, version.status, version.schedule)
    )
    checked = coverage.check(
        loss_at=body.loss_at,
        term_start=policy.term_start,
        term_end=policy.term_end,
        version=at_loss,
        robot_id=robot.id,
        coverage=body.coverage,
        aggregate_used_minor=repository.aggregate_used(session, policy.id, body.coverage, None),
    )
    terms = checked.terms or coverage.Terms(0, 0, 0)
    claim = Claim(
        number=repository.next_claim_number(session, now.year),
        tenant_id=robot.tenant_id,
        policy_id=policy.id,
        policy_version_no=checked.version_no,
        robot_id=robot.id,
        coverage=body.coverage,
        status=ClaimStatus.REPORTED.value,
        loss_at=body.loss_at,
        reported_at=now,
        reported_by=actor_of(principal),
        description=body.description,
        estimated_loss_minor=body.estimated_loss_minor,
        currency=policy.currency,
        covered=checked.covered,
        coverage_check=checked.as_json(),
        limit_minor=terms.limit_minor,
        deductible_minor=terms.deductible_minor,
        aggregate_minor=terms.aggregate_minor,
        updated_at=now,
    )
    repository.add(session, claim)
    experience.record(session, claim)
    event(session, principal, claim, now, kind="reported", detail={"covered": checked.covered})
    _told(session, claim, ClaimStatus.REPORTED, now, previous=None, reason_code=None)
    frozen = evidence.take(session, claim, rules, now)
    event(  # the flags are the insurer's: not shown to the policyholder
        session,
        principal,
        claim,
        now,
        kind="evidence",
        internal=True,
        detail={"flags": [f["code"] for f in frozen.flags], "digest": frozen.digest.hex()},
    )
    audit.record(
        session,
        principal,
        "claims:create",
        target_type="claim",
        target_id=claim.id,
        tenant_id=claim.tenant_id,
        detail={"number": claim.number, "covered": checked.covered},
    )
    return claim


def event(
    session: Session,
    principal: Principal | None,
    claim: Claim,
    now: datetime,
    *,
    kind: str,
    note: str | None = None,
    reason_code: str | None = None,
    internal: bool = False,
    detail: Mapping[str, Any] | None = None,
    transition: tuple[ClaimTransition, ClaimStatus, ClaimStatus] | None = None,
) -> ClaimEvent:
    row = ClaimEvent(
        claim_id=claim.id,
        at=now,
        actor=actor_of(principal),
        kind=kind,
        transition=None if transition is None else transition[0].value,
        from_status=None if transition is None else transition[1].value,
        to_status=None if transition is None else transition[2].value,
        reason_code=reason_code,
        note=note,
        internal=internal,
        detail=dict(detail or {}),
    )
    repository.add(session, row)
    return row


def move(
    session: Session,
    principal: Principal | None,
    claim: Claim,
    transition: ClaimTransition,
    now: datetime,
    *,
    note: str | None = None,
    reason_code: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> ClaimEvent:
    """Take the transition (409 unless the status allows it), keep it as an event, audit it."""
    before = ClaimStatus(claim.status)
    after = next_status(before, transition)
    claim.status = after.value
    claim.updated_at = now
    row = event(
        session,
        principal,
        claim,
        now,
        kind="transition",
        note=note,
        reason_code=reason_code,
        detail=detail,
        transition=(transition, before, after),
    )
    _told(session, claim, after, now, previous=before, reason_code=reason_code)
    audit.record(
        session,
        principal,
        f"claims:{transition.value}",
        target_type="claim",
        target_id=claim.id,
        tenant_id=claim.tenant_id,
        detail={"from": before.value, "to": after.value, "reason_code": reason_code},
    )
    return row


def _told(
    session: Session,
    claim: Claim,
    status: ClaimStatus,
    now: datetime,
    *,
    previous: ClaimStatus | None,
    reason_code: str | None,
) -> None:
    notifications.notify(
        session,
        tenant_id=claim.tenant_id,
        event=EventType.CLAIM_STATUS_CHANGED,
        subject=("claim", claim.id),
        payload={
            "number": claim.number,
            "status": status.value,
            "previous": None if previous is None else previous.value,
            "reason_code": reason_code,
            "robot_id": str(claim.robot_id),
        },
        now=now,
    )


def triage(
    session: Session, principal: Principal, claim_id: uuid.UUID, body: TriageCreate, now: datetime
) -> Claim:
    claim = locked(session, principal, claim_id)
    move(
        session,
        principal,
        claim,
        ClaimTransition.TRIAGE,
        now,
        note=body.note,
        detail={"severity": body.severity.value, "fast_track": body.fast_track},
    )
    claim.severity, claim.fast_track = body.severity.value, body.fast_track
    return claim


def assign(
    session: Session,
    principal: Principal,
    claim_id: uuid.UUID,
    body: AssignmentCreate,
    now: datetime,
) -> Claim:
    claim = locked(session, principal, claim_id)
    try:
        adjuster = identity.get_user(session, body.adjuster_id)
    except NotFoundError:
        raise UnprocessableError(f"no user {body.adjuster_id}") from None
    if adjuster.role != Role.CLAIMS_ADJUSTER.value or adjuster.disabled_at is not None:
        raise UnprocessableError(f"user {body.adjuster_id} is not an active claims adjuster")
    move(
        session,
        principal,
        claim,
        ClaimTransition.ASSIGN,
        now,
        note=body.note,
        detail={"adjuster_id": str(adjuster.id), "previous": str(claim.adjuster_id or "")},
    )
    claim.adjuster_id = adjuster.id
    return claim


def approve(
    session: Session, principal: Principal, claim_id: uuid.UUID, body: ApprovalCreate, now: datetime
) -> Claim:
    claim = locked(session, principal, claim_id)
    if claim.status == ClaimStatus.TRIAGED and not claim.fast_track:
        raise ConflictError("only a fast-track claim is approved from triage: assign it first")
    if not claim.covered:
        reasons = ", ".join(r["code"] for r in claim.coverage_check.get("reasons", []))
        raise ConflictError(f"the loss is not covered ({reasons}): deny the claim")
    repository.lock_policy(session, claim.policy_id)
    used = repository.aggregate_used(session, claim.policy_id, claim.coverage, claim.id)
    payable = coverage.payable(body.agreed_loss_minor, terms_of(claim), used)
    if payable <= claim.paid_minor:
        raise ConflictError(
            f"the policy pays {payable} on this loss (deductible {claim.deductible_minor}, "
            f"limit {claim.limit_minor}, aggregate left {max(claim.aggregate_minor - used, 0)})"
            f" and {claim.paid_minor} was paid: nothing more to approve"
        )
    move(
        session,
        principal,
        claim,
        ClaimTransition.APPROVE,
        now,
        note=body.note,
        detail={"agreed_loss_minor": body.agreed_loss_minor, "payable_minor": payable},
    )
    claim.agreed_loss_minor, claim.payable_minor = body.agreed_loss_minor, payable
    claim.decision_code = "approved"
    return claim


def add_note(
    session: Session, principal: Principal, claim_id: uuid.UUID, body: NoteCreate, now: datetime
) -> ClaimEvent:
    claim = get(session, principal, claim_id)
    internal = body.internal and principal.is_staff  # a policyholder's note is always shared
    return event(session, principal, claim, now, kind="note", note=body.note, internal=internal)


def evidence_of(session: Session, claim: Claim) -> ClaimEvidence:
    found = repository.evidence(session, claim.id)
    if found is None:  # every claim's evidence is frozen with it; a missing one is not data
        raise NotFoundError(f"claim {claim.id} has no evidence")
    return found
