"""/v1/claims: first notice of loss by a policyholder or staff, then triage, assignment, notes,
reserves, approval or denial, payment, recovery, close and reopen. Thin: each route authorizes,
calls one service function and shows the result; an illegal transition is a 409 naming the
allowed ones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.permissions import tenant_scope
from cloud_api.access.roles import Principal
from cloud_api.claims import (
    payouts,
    repository,
    service,
    settlement,
    views,
)
from cloud_api.claims.evidence import EvidenceRules
from cloud_api.claims.schemas import (
    ApprovalCreate,
    AssignmentCreate,
    ClaimCreate,
    ClaimEventOut,
    ClaimOut,
    DenialCreate,
    NoteCreate,
    PaymentCreate,
    PayoutCreate,
    PayoutOut,
    ReasonedNote,
    RecoveryCreate,
    ReserveCreate,
    TriageCreate,
)
from cloud_api.conventions import (
    Filter,
    IdempotencyDep,
    Listing,
    ListParams,
    ListQuery,
    Page,
    paginate,
)
from cloud_api.conventions.ratelimit import ReadLimit, WriteLimit
from cloud_api.errors import problem_responses
from cloud_api.sessions import SessionDep
from cloud_api.settings import ApiSettings
from database.models import Claim, ClaimStatus

claims_router = APIRouter(prefix="/v1/claims", tags=["claims"])

CLAIMS = Listing(
    resource="claims",
    sort_keys={"reported_at": Claim.reported_at, "loss_at": Claim.loss_at},
    tie_breaker=Claim.id,
    default_sort="reported_at",
    filters={"status": Filter(Claim.status, lambda v: ClaimStatus(v).value)},
)
TRANSITION_ERRORS = problem_responses(404, 409, 422)


def _now() -> datetime:
    return datetime.now(UTC)


def evidence_rules(request: Request) -> EvidenceRules:
    """The evidence window and the late-report threshold, from the API's settings."""
    settings: ApiSettings = request.app.state.settings
    return EvidenceRules(
        before=timedelta(seconds=settings.evidence_before_s),
        after=timedelta(seconds=settings.evidence_after_s),
        late_report=timedelta(days=settings.late_report_days),
    )


@claims_router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(404, 422))
def report_claim(
    *,
    body: ClaimCreate,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_CREATE))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
    rules: Annotated[EvidenceRules, Depends(evidence_rules)],
) -> ClaimOut:
    """First notice of loss: the claim is made on the policy that scheduled the robot at the
    time of loss and checked against the version then in effect (the check is on the claim; a
    loss that is not covered is recorded with its reasons)."""

    def write() -> ClaimOut:
        claim = service.report(session, principal, body, _now(), rules)
        response.headers["Location"] = f"/v1/claims/{claim.id}"
        return views.claim_out(session, claim, principal)

    return idempotency.run(write, status_code=status.HTTP_201_CREATED)


@claims_router.get("")
def list_claims(
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_READ))],
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(CLAIMS))],
) -> Page[ClaimOut]:
    statement = repository.readable(repository.claims(), tenant_scope(principal))
    page = paginate(session, statement, query)
    return page.map_page(lambda claims: views.claims_out(session, claims, principal))


@claims_router.get("/{claim_id}", responses=problem_responses(404))
def read_claim(
    claim_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_READ))],
    _: ReadLimit,
) -> ClaimOut:
    return views.claim_out(session, service.get(session, principal, claim_id), principal)


@claims_router.get("/{claim_id}/events", responses=problem_responses(404))
def claim_events(
    claim_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_READ))],
    _: ReadLimit,
) -> list[ClaimEventOut]:
    """The claim's history, oldest first (the insurer's internal events for staff only)."""
    claim = service.get(session, principal, claim_id)
    rows = repository.events(session, claim.id, internal=principal.is_staff)
    return [views.event_out(row) for row in rows]


@claims_router.post(
    "/{claim_id}/notes",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404),
)
def add_claim_note(
    claim_id: uuid.UUID,
    body: NoteCreate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_CREATE))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> ClaimEventOut:
    """A note on the claim: the policyholder's are shared; staff choose (internal by default)."""

    def write() -> ClaimEventOut:
        return views.event_out(service.add_note(session, principal, claim_id, body, _now()))

    return idempotency.run(write, status_code=status.HTTP_201_CREATED)


@claims_router.post("/{claim_id}/triage", responses=TRANSITION_ERRORS)
def triage_claim(
    claim_id: uuid.UUID,
    body: TriageCreate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_ASSESS))],
    _: WriteLimit,
) -> ClaimOut:
    """Severity and fast track."""
    claim = service.triage(session, principal, claim_id, body, _now())
    return views.claim_out(session, claim, principal)


@claims_router.post("/{claim_id}/assign", responses=TRANSITION_ERRORS)
def assign_claim(
    claim_id: uuid.UUID,
    body: AssignmentCreate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_ASSESS))],
    _: WriteLimit,
) -> ClaimOut:
    """Assign (or reassign) the claim to an active claims adjuster: it is under review."""
    claim = service.assign(session, principal, claim_id, body, _now())
    return views.claim_out(session, claim, principal)


@claims_router.post("/{claim_id}/reserves", responses=TRANSITION_ERRORS)
def set_claim_reserve(
    claim_id: uuid.UUID,
    body: ReserveCreate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_ASSESS))],
    _: WriteLimit,
) -> ClaimOut:
    """Set a cost type's reserve (its history is kept; the ledger's incurred follows)."""
    claim = settlement.set_reserve(session, principal, claim_id, body, _now())
    return views.claim_out(session, claim, principal)


@claims_router.post("/{claim_id}/approve", responses=TRANSITION_ERRORS)
def approve_claim(
    claim_id: uuid.UUID,
    body: ApprovalCreate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_APPROVE))],
    _: WriteLimit,
) -> ClaimOut:
    """Approve an agreed loss: payable is the loss less the deductible, within the limit and
    what is left of the coverage's aggregate."""
    claim = service.approve(session, principal, claim_id, body, _now())
    return views.claim_out(session, claim, principal)


@claims_router.post("/{claim_id}/deny", responses=TRANSITION_ERRORS)
def deny_claim(
    claim_id: uuid.UUID,
    body: DenialCreate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_DENY))],
    _: WriteLimit,
) -> ClaimOut:
    """Deny with a reason code; the reserves are released."""
    claim = settlement.deny(session, principal, claim_id, body, _now())
    return views.claim_out(session, claim, principal)


@claims_router.post("/{claim_id}/pay", responses=TRANSITION_ERRORS)
def pay_claim(
    claim_id: uuid.UUID,
    body: PaymentCreate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_PAY))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> ClaimOut:
    """Pay what is payable and not yet paid (a second call answers 409, or with an
    Idempotency-Key the first reply)."""

    def write() -> ClaimOut:
        claim = settlement.pay(session, principal, claim_id, body, _now())
        return views.claim_out(session, claim, principal)

    return idempotency.run(write)


@claims_router.post("/{claim_id}/recoveries", responses=TRANSITION_ERRORS)
def record_claim_recovery(
    claim_id: uuid.UUID,
    body: RecoveryCreate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_PAY))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> ClaimOut:
    """Money recovered on a paid claim (salvage, or subrogation against a third party)."""

    def write() -> ClaimOut:
        claim = settlement.recover(session, principal, claim_id, body, _now())
        return views.claim_out(session, claim, principal)

    return idempotency.run(write)


@claims_router.post("/{claim_id}/close", responses=TRANSITION_ERRORS)
def close_claim(
    claim_id: uuid.UUID,
    body: ReasonedNote,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_ASSESS))],
    _: WriteLimit,
) -> ClaimOut:
    """Close a paid or denied claim; what is left of its reserves is released."""
    claim = settlement.close(session, principal, claim_id, body, _now())
    return views.claim_out(session, claim, principal)


@claims_router.post("/{claim_id}/reopen", responses=TRANSITION_ERRORS)
def reopen_claim(
    claim_id: uuid.UUID,
    body: ReasonedNote,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_ASSESS))],
    _: WriteLimit,
) -> ClaimOut:
    """Reopen a closed claim: it is under review again."""
    claim = settlement.reopen(session, principal, claim_id, body, _now())
    return views.claim_out(session, claim, principal)


@claims_router.post("/{claim_id}/withdraw", responses=TRANSITION_ERRORS)
def withdraw_claim(
    claim_id: uuid.UUID,
    body: ReasonedNote,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_CREATE))],
    _: WriteLimit,
) -> ClaimOut:
    """The claimant withdraws an undecided claim: it is closed."""
    claim = settlement.withdraw(session, principal, claim_id, body, _now())
    return views.claim_out(session, claim, principal)


@claims_router.post(
    "/{claim_id}/payouts",
    status_code=status.HTTP_202_ACCEPTED,
    responses=TRANSITION_ERRORS,
)
def request_claim_payout(
    claim_id: uuid.UUID,
    body: PayoutCreate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_PAY))],
    _: WriteLimit,
) -> PayoutOut:
    """Pay an approved claim out through the payment processor to the payee's account: sent by
    the jobs worker; the claim is paid when the processor confirms it (202: under way)."""
    return views.payout_out(payouts.request(session, principal, claim_id, body, _now()))


@claims_router.get("/{claim_id}/payouts", responses=problem_responses(404))
def list_claim_payouts(
    claim_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_READ))],
    _: ReadLimit,
) -> list[PayoutOut]:
    claim = service.get(session, principal, claim_id)
    return [views.payout_out(p) for p in repository.payouts(session, claim.id)]
