"""/v1/quotes and /v1/policies: a fleet quoted from its robots' risk scores, bound, issued,
endorsed, cancelled, reinstated and renewed. Thin: each route authorizes, calls one service
function and shows the result; an illegal transition is a 409 naming the allowed ones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import AwareDatetime

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.permissions import tenant_scope
from cloud_api.access.roles import Principal
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
from cloud_api.policies import changes, quotes, repository, schedule, service, views
from cloud_api.policies.schemas import (
    BindCreate,
    CancellationCreate,
    EndorsementCreate,
    InForceOut,
    PolicyOut,
    PolicyVersionOut,
    QuoteCreate,
    QuoteOut,
    ReinstatementCreate,
    RenewalCreate,
)
from cloud_api.sessions import SessionDep
from database.models import Policy, PolicyStatus

quotes_router = APIRouter(prefix="/v1/quotes", tags=["policies"])
policies_router = APIRouter(prefix="/v1/policies", tags=["policies"])

POLICIES = Listing(
    resource="policies",
    sort_keys={"created_at": Policy.created_at, "term_start": Policy.term_start},
    tie_breaker=Policy.id,
    default_sort="created_at",
    filters={"status": Filter(Policy.status, lambda v: PolicyStatus(v).value)},
)
TRANSITION_ERRORS = problem_responses(404, 409, 422)


def _now() -> datetime:
    return datetime.now(UTC)


@quotes_router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(404, 409))
def create_quote(
    body: QuoteCreate,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.QUOTES_CREATE))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> QuoteOut:
    """Price robots of a tenant under an active product: one line per robot and coverage from
    the robot's latest risk score (its class's reference premium without telemetry), each
    explained, in minor units of the product's currency. The quote expires."""

    def write() -> QuoteOut:
        now = _now()
        quote = quotes.create(session, principal, body, now)
        response.headers["Location"] = f"/v1/quotes/{quote.id}"
        return views.quote_out(session, quote, now)

    return idempotency.run(write, status_code=status.HTTP_201_CREATED)


@quotes_router.get("/{quote_id}", responses=problem_responses(404))
def read_quote(
    quote_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.QUOTES_READ))],
    _: ReadLimit,
) -> QuoteOut:
    return views.quote_out(session, quotes.get(session, principal, quote_id), _now())


@quotes_router.post(
    "/{quote_id}/bind", status_code=status.HTTP_201_CREATED, responses=problem_responses(404, 409)
)
def bind_quote(
    *,
    quote_id: uuid.UUID,
    body: BindCreate | None = None,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.POLICIES_BIND))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> PolicyOut:
    """Bind an open quote: a policy (status bound) whose schedule is the quote's lines. With
    an Idempotency-Key, a retry answers the first reply instead of a 409."""

    def write() -> PolicyOut:
        plan = (body or BindCreate()).installments
        policy = changes.bind(session, principal, quote_id, _now(), plan)
        response.headers["Location"] = f"/v1/policies/{policy.id}"
        return views.policy_out(session, policy)

    return idempotency.run(write, status_code=status.HTTP_201_CREATED)


@policies_router.get("")
def list_policies(
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.POLICIES_READ))],
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(POLICIES))],
) -> Page[PolicyOut]:
    statement = repository.readable(repository.policies(), Policy, tenant_scope(principal))
    return paginate(session, statement, query).map_page(lambda p: views.policies_out(session, p))


@policies_router.get("/{policy_id}", responses=problem_responses(404))
def read_policy(
    policy_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.POLICIES_READ))],
    _: ReadLimit,
) -> PolicyOut:
    return views.policy_out(session, service.get(session, principal, policy_id))


@policies_router.get("/{policy_id}/versions", responses=problem_responses(404))
def list_policy_versions(
    policy_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.POLICIES_READ))],
    _: ReadLimit,
) -> list[PolicyVersionOut]:
    """Every version of the policy, oldest first: none is ever changed or removed."""
    policy = service.get(session, principal, policy_id)
    return [views.version_out(v) for v in repository.versions(session, policy.id)]


@policies_router.get("/{policy_id}/in-force", responses=problem_responses(404))
def policy_in_force(
    policy_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.POLICIES_READ))],
    _: ReadLimit,
    at: Annotated[AwareDatetime, Query(description="An instant with its UTC offset.")],
) -> InForceOut:
    """What the policy covered at an instant: the version in effect then, as known now."""
    policy = service.get(session, principal, policy_id)
    return views.in_force_out(session, policy, at)


class ScheduleFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"


@policies_router.get(
    "/{policy_id}/schedule",
    response_class=Response,
    responses={
        200: {"content": {"text/html": {}, "application/pdf": {}}},
        **problem_responses(404, 409),
    },
)
def policy_schedule(
    policy_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.POLICIES_READ))],
    _: ReadLimit,
    format: ScheduleFormat = ScheduleFormat.HTML,
) -> Response:
    """The issued policy's schedule document: its robots, coverages, limits and premiums."""
    document = schedule.document(session, service.get(session, principal, policy_id))
    if format is ScheduleFormat.PDF:
        return Response(schedule.pdf(document), media_type="application/pdf")
    return Response(schedule.html(document), media_type="text/html; charset=utf-8")


@policies_router.post("/{policy_id}/issue", responses=TRANSITION_ERRORS)
def issue_policy(
    policy_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.POLICIES_BIND))],
    _: WriteLimit,
) -> PolicyOut:
    """Issue a bound policy: its number, its premium written to the ledger."""
    return views.policy_out(session, service.issue(session, principal, policy_id, _now()))


@policies_router.post("/{policy_id}/endorsements", responses=TRANSITION_ERRORS)
def endorse_policy(
    policy_id: uuid.UUID,
    body: EndorsementCreate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.POLICIES_ENDORSE))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> PolicyOut:
    """Add or remove robots, change limits or deductibles, from a day: the premium changes pro
    rata by day for the rest of the term."""

    def write() -> PolicyOut:
        policy = changes.endorse(session, principal, policy_id, body, _now())
        return views.policy_out(session, policy)

    return idempotency.run(write)


@policies_router.post("/{policy_id}/cancel", responses=TRANSITION_ERRORS)
def cancel_policy(
    policy_id: uuid.UUID,
    body: CancellationCreate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.POLICIES_CANCEL))],
    _: WriteLimit,
) -> PolicyOut:
    """Cancel from a day, with a reason: the unearned premium is returned, pro rata or short
    rate."""
    return views.policy_out(session, service.cancel(session, principal, policy_id, body, _now()))


@policies_router.post("/{policy_id}/reinstate", responses=TRANSITION_ERRORS)
def reinstate_policy(
    policy_id: uuid.UUID,
    body: ReinstatementCreate,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.POLICIES_REINSTATE))],
    _: WriteLimit,
) -> PolicyOut:
    """Undo a cancellation or lapse within the term: cover resumes with no gap."""
    policy = service.reinstate(session, principal, policy_id, body.note, _now())
    return views.policy_out(session, policy)


@policies_router.post(
    "/{policy_id}/renew", status_code=status.HTTP_201_CREATED, responses=TRANSITION_ERRORS
)
def renew_policy(
    *,
    policy_id: uuid.UUID,
    body: RenewalCreate,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.POLICIES_RENEW))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> QuoteOut:
    """Offer the next term: a quote priced from the robots' latest (capped) premiums."""

    def write() -> QuoteOut:
        now = _now()
        quote = changes.renew(session, principal, policy_id, body, now)
        response.headers["Location"] = f"/v1/quotes/{quote.id}"
        return views.quote_out(session, quote, now)

    return idempotency.run(write, status_code=status.HTTP_201_CREATED)
