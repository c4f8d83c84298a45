"""/v1/claims/{id}/evidence and /attachments: the robot's telemetry evidence frozen at first
notice (JSON, and a printable page), and the files attached to a claim. Thin, as the claims
endpoints are."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.roles import Principal
from cloud_api.claims import attachments, evidence, evidence_report, repository, service, views
from cloud_api.claims.schemas import AttachmentOut, EvidenceOut
from cloud_api.claims.storage import AttachmentStore, LocalStore
from cloud_api.conventions import IdempotencyDep
from cloud_api.conventions.ratelimit import ReadLimit, WriteLimit
from cloud_api.errors import problem_responses
from cloud_api.sessions import SessionDep
from cloud_api.settings import ApiSettings

evidence_router = APIRouter(prefix="/v1/claims", tags=["claims"])


def _now() -> datetime:
    return datetime.now(UTC)


@evidence_router.get("/{claim_id}/evidence", responses=problem_responses(404))
def claim_evidence(
    claim_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIM_EVIDENCE_READ))],
    _: ReadLimit,
) -> EvidenceOut:
    """The robot's own record around the time of loss, frozen at first notice, with its
    validation flags; ``intact`` is false if the stored record no longer matches its digest."""
    claim = service.get(session, principal, claim_id)
    return views.evidence_out(claim, service.evidence_of(session, claim))


@evidence_router.get(
    "/{claim_id}/evidence/report",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}, **problem_responses(404)},
)
def claim_evidence_report(
    claim_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIM_EVIDENCE_READ))],
    _: ReadLimit,
) -> Response:
    """The evidence as a printable page: flags, events, chain and clock, and a chart per metric
    around the loss. Self-contained: no script, no network resource."""
    claim = service.get(session, principal, claim_id)
    row = service.evidence_of(session, claim)
    page = evidence_report.html(claim, row, evidence.verify(claim, row))
    return Response(page, media_type="text/html; charset=utf-8")


def attachment_store(request: Request) -> AttachmentStore:
    settings: ApiSettings = request.app.state.settings
    return LocalStore(settings.attachments_dir)


ACCEPTED = ("image/jpeg", "image/png", "application/pdf", "video/mp4", "text/plain")


@evidence_router.post(
    "/{claim_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in ACCEPTED},
        }
    },
)
def add_claim_attachment(
    *,
    claim_id: uuid.UUID,
    request: Request,
    data: Annotated[bytes, Body(media_type="application/octet-stream")],
    filename: Annotated[str, Query(min_length=1, max_length=200)],
    content_type: Annotated[str, Header(max_length=200)],
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_CREATE))],
    _: WriteLimit,
    store: Annotated[AttachmentStore, Depends(attachment_store)],
    idempotency: IdempotencyDep,
) -> AttachmentOut:
    """Attach a file (the request's body, its type in Content-Type): JPEG, PNG, PDF, MP4 or
    plain text, confirmed by its first bytes (415 otherwise), up to the attachment limit."""
    settings: ApiSettings = request.app.state.settings

    def write() -> AttachmentOut:
        row = attachments.attach(
            session,
            store,
            principal,
            claim_id,
            upload=(filename, content_type, data),
            max_bytes=settings.attachment_max_bytes,
            now=_now(),
        )
        return views.attachment_out(row)

    return idempotency.run(write, status_code=status.HTTP_201_CREATED)


@evidence_router.get("/{claim_id}/attachments", responses=problem_responses(404))
def list_claim_attachments(
    claim_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_READ))],
    _: ReadLimit,
) -> list[AttachmentOut]:
    claim = service.get(session, principal, claim_id)
    return [views.attachment_out(a) for a in repository.attachments(session, claim.id)]


@evidence_router.get(
    "/{claim_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={200: {"content": {t: {} for t in ACCEPTED}}, **problem_responses(404, 409)},
)
def read_claim_attachment(
    claim_id: uuid.UUID,
    attachment_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.CLAIMS_READ))],
    _: ReadLimit,
    store: Annotated[AttachmentStore, Depends(attachment_store)],
) -> Response:
    """The file, as an attachment (never rendered in place), its type as stored."""
    row, data = attachments.read(session, store, principal, claim_id, attachment_id)
    return Response(
        data,
        media_type=row.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{row.filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
