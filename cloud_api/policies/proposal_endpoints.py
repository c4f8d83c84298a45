"""/v1/endorsement-proposals: premium changes the risk engine's scores ask for, per policy and
billing period, for an underwriter to approve or decline."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.roles import Principal
from cloud_api.conventions import Filter, Listing, ListParams, ListQuery, Page, paginate
from cloud_api.conventions.ratelimit import ReadLimit, WriteLimit
from cloud_api.errors import problem_responses
from cloud_api.policies import proposals, repository
from cloud_api.sessions import SessionDep
from database.models import EndorsementProposal, ProposalStatus

router = APIRouter(prefix="/v1/endorsement-proposals", tags=["policies"])

PROPOSALS = Listing(
    resource="endorsement_proposals",
    sort_keys={"created_at": EndorsementProposal.created_at},
    tie_breaker=EndorsementProposal.id,
    default_sort="created_at",
    filters={
        "status": Filter(EndorsementProposal.status, lambda v: ProposalStatus(v).value),
        "policy_id": Filter(EndorsementProposal.policy_id, uuid.UUID),
    },
)
Decider = Annotated[Principal, Depends(Require(Action.ENDORSEMENT_PROPOSALS_DECIDE))]


class ProposalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    policy_id: uuid.UUID
    effective_on: date
    status: ProposalStatus
    term_premium_minor: int
    proposed_term_premium_minor: int
    lines: list[dict[str, Any]]
    auto_approved: bool
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None


@router.get("")
def list_proposals(
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.ENDORSEMENT_PROPOSALS_READ))],
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(PROPOSALS))],
) -> Page[ProposalOut]:
    """Proposals in order of creation; filters ``status`` and ``policy_id``."""
    return paginate(session, repository.proposals(), query).map(ProposalOut.model_validate)


@router.post("/{proposal_id}/approve", responses=problem_responses(404, 409))
def approve_proposal(
    proposal_id: uuid.UUID, session: SessionDep, principal: Decider, _: WriteLimit
) -> ProposalOut:
    """Endorse the policy with the proposed premiums from the proposal's day (409 if the
    policy's schedule changed since)."""
    proposal = proposals.decide(session, principal, proposal_id, True, datetime.now(UTC))
    return ProposalOut.model_validate(proposal)


@router.post("/{proposal_id}/decline", responses=problem_responses(404, 409))
def decline_proposal(
    proposal_id: uuid.UUID, session: SessionDep, principal: Decider, _: WriteLimit
) -> ProposalOut:
    proposal = proposals.decide(session, principal, proposal_id, False, datetime.now(UTC))
    return ProposalOut.model_validate(proposal)
