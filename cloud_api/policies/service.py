"""The policy lifecycle: bind, issue, endorse, cancel, lapse, reinstate, expire, renew.

Every transition asks ``lifecycle.next_status`` first (an illegal one is a 409 naming the
allowed ones), then records a new ``PolicyVersion`` (never updating one), posts the premium it
wrote or returned to the ledger in the same transaction (reference ``policy:<id>:v<n>``), and
records an audit event. Dates of effect are days (00:00 UTC): a change may take effect in the
past only within the product's backdating window, never before the policy's latest change,
and is flagged ``backdated`` in its version and its audit event.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from cloud_api.access.actions import Action
from cloud_api.access.permissions import tenant_scope
from cloud_api.access.roles import Principal
from cloud_api.audit import service as audit
from cloud_api.billing import service as billing
from cloud_api.errors import ConflictError, NotFoundError, UnprocessableError
from cloud_api.ledger import postings
from cloud_api.ledger import service as ledger
from cloud_api.ledger.calendar import midnight
from cloud_api.ledger.earning import Term, Written, return_premium
from cloud_api.ledger.money import basis_points
from cloud_api.notifications import service as notifications
from cloud_api.notifications.schemas import EventType
from cloud_api.policies import repository
from cloud_api.policies.lifecycle import Transition, next_status
from cloud_api.policies.schemas import CancellationCreate, CancelMethod, CancelRequester
from cloud_api.products import service as products
from cloud_api.products.schemas import ProductTerms
from database.models import InstallmentPlan, Policy, PolicyStatus, PolicyVersion

PREMIUM_WRITES = frozenset({Transition.ISSUE, Transition.ENDORSE})
STOPS = frozenset({Transition.CANCEL, Transition.LAPSE})


class PolicyNotFoundError(NotFoundError):
    pass


@dataclass(frozen=True)
class Change:
    """What one transition records."""

    transition: Transition
    effective_on: date
    schedule: list[dict[str, Any]]
    premium_change_minor: int = 0
    retained_minor: int = 0
    reason_code: str | None = None
    note: str | None = None


def get(session: Session, principal: Principal, policy_id: uuid.UUID) -> Policy:
    policy = repository.policy(session, policy_id, tenant_scope(principal))
    if policy is None:
        raise PolicyNotFoundError(f"no policy {policy_id}")
    return policy


def locked(session: Session, principal: Principal | None, policy_id: uuid.UUID) -> Policy:
    scope = None if principal is None else tenant_scope(principal)
    policy = repository.policy(session, policy_id, scope, for_update=True)
    if policy is None:
        raise PolicyNotFoundError(f"no policy {policy_id}")
    return policy


def term_of(policy: Policy) -> Term:
    return Term(policy.term_start.date(), policy.term_end.date())


class VersionLike(Protocol):
    """What earning reads of a version (a PolicyVersion, or a row of its columns)."""

    @property
    def version_no(self) -> int: ...
    @property
    def transition(self) -> str: ...
    @property
    def effective_from(self) -> datetime: ...
    @property
    def premium_change_minor(self) -> int: ...
    @property
    def retained_minor(self) -> int: ...


def writes_of(versions: Sequence[VersionLike]) -> list[Written]:
    """The premium streams, stops and resumptions the versions recorded, in order."""
    written = []
    for version in versions:
        on = version.effective_from.date()
        if version.transition in PREMIUM_WRITES and version.premium_change_minor:
            written.append(Written("write", on, version.premium_change_minor))
        elif version.transition in STOPS and version.version_no > 1:
            written.append(
                Written("stop", on, version.premium_change_minor, version.retained_minor)
            )
        elif version.transition == Transition.REINSTATE:
            written.append(Written("resume", on, version.premium_change_minor))
    return written


def current(session: Session, policy: Policy) -> PolicyVersion:
    return repository.versions(session, policy.id)[-1]


def _terms(session: Session, policy: Policy) -> ProductTerms:
    return products.terms_of(products.get(session, policy.product_id))


def _tax_bp(terms: ProductTerms, policy: Policy) -> int:
    return terms.premium_tax_bp.get(policy.jurisdiction, 0)


def check_effective(
    policy: Policy, latest: PolicyVersion, terms: ProductTerms, on: date, today: date
) -> bool:
    """Refuse a date of effect outside the term, before the latest change or beyond the
    backdating window; True if it is backdated."""
    term = term_of(policy)
    if not term.start <= on < term.end:
        raise UnprocessableError(f"{on} is outside the policy term {term.start}..{term.end}")
    if on < latest.effective_from.date():
        raise ConflictError(
            f"the policy changed with effect from {latest.effective_from.date()}: a change "
            "cannot take effect before it"
        )
    if (today - on).days > terms.backdating_days:
        raise UnprocessableError(
            f"{on} is more than {terms.backdating_days} days in the past (the product's "
            "backdating window)"
        )
    return on < today


def record(
    session: Session,
    principal: Principal | None,
    policy: Policy,
    change: Change,
    now: datetime,
    *,
    backdated: bool = False,
    action: Action | None = None,
) -> PolicyVersion:
    """Apply ``change``: the next version, the ledger entry of its premium, the audit event."""
    status = next_status(PolicyStatus(policy.status), change.transition)
    terms = _terms(session, policy)
    tax = basis_points(change.premium_change_minor, _tax_bp(terms, policy))
    version = PolicyVersion(
        policy_id=policy.id,
        version_no=policy.version + 1,
        transition=change.transition.value,
        status=status.value,
        effective_from=midnight(change.effective_on),
        recorded_at=now,
        actor="system" if principal is None else str(principal.id),
        reason_code=change.reason_code,
        note=change.note,
        backdated=backdated,
        term_premium_minor=sum(line["premium_minor"] for line in change.schedule),
        premium_change_minor=change.premium_change_minor,
        tax_change_minor=tax,
        retained_minor=change.retained_minor,
        schedule=change.schedule,
    )
    session.add(version)
    policy.status = status.value
    policy.version = version.version_no
    session.flush()
    header = postings.EntryHeader(
        policy.tenant_id,
        policy.id,
        f"policy:{policy.id}:v{version.version_no}",
        now.date(),
        policy.currency,
    )
    memo = f"{change.transition} of policy {policy.number or policy.id}"
    ledger.post(session, postings.premium_written(header, change.premium_change_minor, tax, memo))
    if change.transition is not Transition.ISSUE and (change.premium_change_minor or tax):
        premium_total, tax_total = repository.written_totals(session, policy.id)
        billing.rebill(session, policy, premium_total, tax_total, now, reference=header.reference)
    audit.record(
        session,
        principal,
        action or f"policies:{change.transition}",
        target_type="policy",
        target_id=policy.id,
        tenant_id=policy.tenant_id,
        detail={
            "version": version.version_no,
            "status": status.value,
            "effective_on": change.effective_on.isoformat(),
            "backdated": backdated,
            "premium_change_minor": change.premium_change_minor,
            "reason_code": change.reason_code,
        },
    )
    return version


def issue(session: Session, principal: Principal, policy_id: uuid.UUID, now: datetime) -> Policy:
    policy = locked(session, principal, policy_id)
    next_status(PolicyStatus(policy.status), Transition.ISSUE)  # refuse before numbering
    latest = current(session, policy)
    policy.number = repository.next_policy_number(session, policy.term_start.year)
    start = policy.term_start.date()
    backdated = start < now.date()
    if backdated and (now.date() - start).days > _terms(session, policy).backdating_days:
        raise UnprocessableError(
            f"the term started on {start}, beyond the product's backdating window: quote again"
        )
    premium = sum(line["premium_minor"] for line in latest.schedule)
    change = Change(Transition.ISSUE, start, latest.schedule, premium_change_minor=premium)
    version = record(
        session, principal, policy, change, now, backdated=backdated, action=Action.POLICIES_BIND
    )
    terms = _terms(session, policy)
    billing.invoice_installments(
        session,
        policy,
        latest.schedule,
        version.tax_change_minor,
        fee_minor=terms.installment_fee_minor.get(InstallmentPlan(policy.installments), 0),
        term_months=terms.term_months,
        now=now,
    )
    notifications.notify(
        session,
        tenant_id=policy.tenant_id,
        event=EventType.POLICY_ISSUED,
        subject=("policy", policy.id),
        payload={
            "number": policy.number,
            "term_start": policy.term_start.isoformat(),
            "term_end": policy.term_end.isoformat(),
            "premium_minor": premium,
            "tax_minor": version.tax_change_minor,
            "currency": policy.currency,
        },
        now=now,
    )
    return policy


def cancel(
    session: Session,
    principal: Principal | None,
    policy_id: uuid.UUID,
    body: CancellationCreate,
    now: datetime,
    *,
    transition: Transition = Transition.CANCEL,
) -> Policy:
    """Cancel (or lapse) from ``body.effective_on``: the premium not yet earned then goes back,
    less the product's short-rate penalty when the policyholder asked (or ``method`` says)."""
    policy = locked(session, principal, policy_id)
    next_status(PolicyStatus(policy.status), transition)
    versions = repository.versions(session, policy.id)
    latest = versions[-1]
    terms = _terms(session, policy)
    backdated = check_effective(policy, latest, terms, body.effective_on, now.date())
    method = body.method or (
        CancelMethod.SHORT_RATE
        if body.requested_by is CancelRequester.POLICYHOLDER
        else CancelMethod.PRO_RATA
    )
    penalty_bp = terms.short_rate_penalty_bp if method is CancelMethod.SHORT_RATE else 0
    returned, kept = 0, 0
    if policy.number is not None:  # issued: premium was written
        returned, kept = return_premium(
            writes_of(versions), term_of(policy), body.effective_on, penalty_bp
        )
    change = Change(
        transition,
        body.effective_on,
        latest.schedule,
        premium_change_minor=-returned,
        retained_minor=kept,
        reason_code=body.reason_code.value,
        note=body.note or f"{method} cancellation requested by the {body.requested_by}",
    )
    record(session, principal, policy, change, now, backdated=backdated)
    return policy


def reinstate(
    session: Session, principal: Principal, policy_id: uuid.UUID, note: str, now: datetime
) -> Policy:
    """Undo the last cancellation or lapse: cover resumes from its date, with no gap, and the
    premium it returned is written again (the short-rate penalty with it)."""
    policy = locked(session, principal, policy_id)
    next_status(PolicyStatus(policy.status), Transition.REINSTATE)
    if policy.number is None:
        raise ConflictError("the policy was cancelled before it was issued: quote and bind again")
    if now >= policy.term_end:
        raise ConflictError("the policy's term is over: renew instead")
    stop = current(session, policy)
    grace = _terms(session, policy).grace_days
    overdue = billing.unpaid_before(session, policy.id, now.date() - timedelta(days=grace))
    if overdue:
        raise ConflictError(
            f"invoice {overdue[0].number} is unpaid past the grace period: it is paid first"
        )
    change = Change(
        Transition.REINSTATE,
        stop.effective_from.date(),
        stop.schedule,
        premium_change_minor=-stop.premium_change_minor,
        note=note,
    )
    record(session, principal, policy, change, now, backdated=stop.effective_from < now)
    return policy


def expire(session: Session, policy_id: uuid.UUID, now: datetime) -> Policy | None:
    """The term of a policy in force is over: it expires (None if it is not due or not in
    force). Run by the daily job; running it twice changes nothing."""
    policy = locked(session, None, policy_id)
    if policy.status != PolicyStatus.IN_FORCE or now < policy.term_end:
        return None
    latest = current(session, policy)
    change = Change(Transition.EXPIRE, policy.term_end.date(), latest.schedule)
    last_day = policy.term_end.date()
    record(session, None, policy, change, now, backdated=last_day < now.date())
    return policy


def policy_for_loss(
    session: Session, tenant_id: uuid.UUID, robot_id: uuid.UUID, at: datetime
) -> tuple[Policy, PolicyVersion | None] | None:
    """The tenant's issued policy a loss of the robot at ``at`` is claimed on, with its version
    in effect then: the one whose term contains ``at``, else the latest whose term began
    before it, else the earliest; None if no policy ever scheduled the robot."""
    found = repository.policies_scheduling(session, tenant_id, robot_id)
    if not found:
        return None
    containing = [p for p in found if p.term_start <= at < p.term_end]
    earlier = [p for p in found if p.term_start <= at]
    policy = (containing or earlier or found[-1:])[0]
    return policy, repository.version_at(session, policy.id, at)
