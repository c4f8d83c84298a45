"""Risk-driven endorsement proposals: when the risk engine's premium of an insured robot moves,
the policy gets a proposal for its next billing period (one per policy and period) repricing
the lines that moved, each with the robot's top reasons. An underwriter approves it (the policy
is endorsed from that day, pro rata) or declines it; a change of the term premium within the
product's ``auto_approve_bp`` is approved by the job itself. The plan's cap already limits how
far a robot's premium moves between periods."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud_api.access.actions import Action
from cloud_api.access.roles import Principal
from cloud_api.audit import service as audit
from cloud_api.billing import service as billing
from cloud_api.errors import AppError, ConflictError, NotFoundError
from cloud_api.ledger.calendar import add_months
from cloud_api.ledger.earning import endorsement_premium
from cloud_api.notifications import service as notifications
from cloud_api.notifications.schemas import EventType
from cloud_api.policies import quotes, repository, service
from cloud_api.policies.lifecycle import Transition
from cloud_api.products import service as products
from database.models import EndorsementProposal, Policy, PolicyStatus, ProposalStatus


class ProposalNotFoundError(NotFoundError):
    pass


def next_period(policy: Policy, due_dates: list[date], today: date) -> date | None:
    """The next billing period's first day: the next installment's due date, or (paid in one)
    the first of next month; None past the term."""
    upcoming = [d for d in due_dates if d > today]
    start = min(upcoming) if upcoming else add_months(today.replace(day=1), 1)
    return start if start < policy.term_end.date() else None


def propose(session: Session, policy_id: uuid.UUID, now: datetime) -> EndorsementProposal | None:
    """The proposal of the policy for its next period, if its robots' premiums moved (None if
    they did not, or it was proposed already)."""
    policy = repository.policy(session, policy_id, None, for_update=True)
    if policy is None or policy.status != PolicyStatus.IN_FORCE:
        return None
    due_dates = [i.due_on for i in billing.invoices_of(session, policy.id)]
    effective = next_period(policy, due_dates, now.date())
    latest = service.current(session, policy)
    if effective is None or effective <= latest.effective_from.date():
        return None
    if repository.proposal(session, policy.id, effective) is not None:
        return None
    lines = _moved_lines(session, policy, latest.schedule, now)
    if not lines:
        return None
    proposed = latest.term_premium_minor + sum(
        x["proposed_premium_minor"] - x["premium_minor"] for x in lines
    )
    proposal = EndorsementProposal(
        policy_id=policy.id,
        tenant_id=policy.tenant_id,
        effective_on=effective,
        status=ProposalStatus.PROPOSED.value,
        term_premium_minor=latest.term_premium_minor,
        proposed_term_premium_minor=proposed,
        lines=lines,
        created_at=now,
    )
    session.add(proposal)
    session.flush()
    threshold = products.terms_of(products.get(session, policy.product_id)).auto_approve_bp
    change = abs(proposed - latest.term_premium_minor)
    if change * 10_000 <= threshold * latest.term_premium_minor:
        apply(session, None, proposal, now)
        proposal.auto_approved = True
    notifications.notify(
        session,
        tenant_id=policy.tenant_id,
        event=EventType.ENDORSEMENT_PROPOSED,
        subject=("policy", policy.id),
        payload={
            "number": policy.number,
            "proposal_id": str(proposal.id),
            "effective_on": effective.isoformat(),
            "term_premium_minor": proposal.term_premium_minor,
            "proposed_term_premium_minor": proposed,
            "approved": proposal.auto_approved,
            "robots": [{"robot_id": x["robot_id"], "reasons": x.get("reasons", [])} for x in lines],
        },
        now=now,
    )
    return proposal


def _moved_lines(
    session: Session, policy: Policy, schedule: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    coverages = sorted({x["coverage"] for x in schedule})
    pricing = quotes.pricing_for(
        session, policy.product_id, coverages, policy.jurisdiction, now, in_force=True
    )
    tenant = repository.tenant_by_slug(session, repository.tenant_slug(session, policy.tenant_id))
    assert tenant is not None  # noqa: S101 - the policy's tenant exists (foreign key)
    robot_ids = list(dict.fromkeys(uuid.UUID(x["robot_id"]) for x in schedule))
    term_days = (policy.term_end - policy.term_start).days
    priced = {
        (str(p.robot_id), p.coverage): p
        for p in quotes.priced(
            pricing, quotes.robots_to_price(session, tenant, robot_ids), term_days
        )
    }
    moved = []
    for line in schedule:
        now_priced = priced[(line["robot_id"], line["coverage"])]
        if now_priced.premium_minor != line["premium_minor"]:
            moved.append(
                {
                    "robot_id": line["robot_id"],
                    "coverage": line["coverage"],
                    "premium_minor": line["premium_minor"],
                    "proposed_premium_minor": now_priced.premium_minor,
                    "reasons": now_priced.explanation.get("reasons", []),
                    "scored_at": now_priced.explanation.get("scored_at"),
                }
            )
    return moved


def apply(
    session: Session, principal: Principal | None, proposal: EndorsementProposal, now: datetime
) -> None:
    """Endorse the policy with the proposed premiums from the proposal's day; 409 if the
    policy's schedule changed since it was proposed."""
    policy = service.locked(session, None, proposal.policy_id)
    latest = service.current(session, policy)
    current = {(x["robot_id"], x["coverage"]): x for x in latest.schedule}
    if any(
        current.get((x["robot_id"], x["coverage"]), {}).get("premium_minor") != x["premium_minor"]
        for x in proposal.lines
    ):
        raise ConflictError("the policy's schedule changed since this was proposed")
    schedule = [dict(x) for x in latest.schedule]
    proposed = {(x["robot_id"], x["coverage"]): x["proposed_premium_minor"] for x in proposal.lines}
    for line in schedule:
        line["premium_minor"] = proposed.get(
            (line["robot_id"], line["coverage"]), line["premium_minor"]
        )
    terms = products.terms_of(products.get(session, policy.product_id))
    service.check_effective(policy, latest, terms, proposal.effective_on, now.date())
    change_in_term = sum(x["premium_minor"] for x in schedule) - latest.term_premium_minor
    change = service.Change(
        Transition.ENDORSE,
        proposal.effective_on,
        schedule,
        premium_change_minor=endorsement_premium(
            change_in_term, service.term_of(policy), proposal.effective_on
        ),
        reason_code="risk_change",
        note=f"risk-driven endorsement proposal {proposal.id}",
    )
    service.record(session, principal, policy, change, now)
    proposal.status = ProposalStatus.APPROVED.value
    proposal.decided_at = now
    proposal.decided_by = "auto" if principal is None else str(principal.id)


def decide(
    session: Session, principal: Principal, proposal_id: uuid.UUID, approve: bool, now: datetime
) -> EndorsementProposal:
    proposal = repository.proposal_by_id(session, proposal_id, for_update=True)
    if proposal is None:
        raise ProposalNotFoundError(f"no endorsement proposal {proposal_id}")
    if proposal.status != ProposalStatus.PROPOSED:
        raise ConflictError(f"the proposal is {proposal.status} already")
    if approve:
        apply(session, principal, proposal, now)
    else:
        proposal.status = ProposalStatus.DECLINED.value
        proposal.decided_at = now
        proposal.decided_by = str(principal.id)
    audit.record(
        session,
        principal,
        Action.ENDORSEMENT_PROPOSALS_DECIDE,
        target_type="endorsement_proposal",
        target_id=proposal.id,
        tenant_id=proposal.tenant_id,
        detail={"status": proposal.status, "effective_on": proposal.effective_on.isoformat()},
    )
    return proposal


def propose_all(session: Session, now: datetime, limit: int) -> int:
    """Proposals for the policies in force (a savepoint each: one policy's refusal, such as a
    robot revoked since, is logged and left). Returns how many were made."""
    made = 0
    for policy_id in repository.in_force_ids(session, limit):
        try:
            with session.begin_nested():
                made += propose(session, policy_id, now) is not None
        except AppError:
            continue
    return made
