"""/v1/invoices: what each policy is asked to pay and when, and the payments against it."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, status
from pydantic import BaseModel, Field

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.roles import Principal
from cloud_api.billing import payments, service, webhooks
from cloud_api.billing.schemas import (
    BankTransferCreate,
    CardPaymentCreate,
    InvoiceDetailOut,
    InvoiceOut,
    PaymentOut,
)
from cloud_api.conventions import (
    Filter,
    IdempotencyDep,
    Listing,
    ListParams,
    ListQuery,
    Page,
)
from cloud_api.conventions.ratelimit import ReadLimit, WriteLimit
from cloud_api.errors import BadRequestError, ServiceUnavailableError, problem_responses
from cloud_api.sessions import SessionDep
from database.models import Invoice, InvoiceStatus

router = APIRouter(prefix="/v1/invoices", tags=["billing"])
webhooks_router = APIRouter(prefix="/v1/webhooks", tags=["billing"])

INVOICES = Listing(
    resource="invoices",
    sort_keys={"due_on": Invoice.due_on, "issued_at": Invoice.issued_at},
    tie_breaker=Invoice.id,
    default_sort="due_on",
    filters={
        "status": Filter(Invoice.status, lambda v: InvoiceStatus(v).value),
        "policy_id": Filter(Invoice.policy_id, uuid.UUID),
    },
)


@router.get("")
def list_invoices(
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.INVOICES_READ))],
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(INVOICES))],
) -> Page[InvoiceOut]:
    return service.list_page(session, principal, query).map(InvoiceOut.model_validate)


@router.get("/{invoice_id}", responses=problem_responses(404))
def read_invoice(
    invoice_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.INVOICES_READ))],
    _: ReadLimit,
) -> InvoiceDetailOut:
    """The invoice with its lines (per robot and coverage, tax, fee) and its payments."""
    invoice = service.get(session, principal, invoice_id)
    return InvoiceDetailOut.model_validate(
        {**InvoiceOut.model_validate(invoice).model_dump(), **service.detail(session, invoice)}
    )


@router.post(
    "/{invoice_id}/payments",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409, 422),
)
def record_bank_transfer(
    *,
    invoice_id: uuid.UUID,
    body: BankTransferCreate,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.PAYMENTS_RECORD))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> PaymentOut:
    """A bank transfer received for the invoice (a billing agent records it): settled at once,
    never more than is open on the invoice. With an Idempotency-Key, a retry records nothing."""

    def write() -> PaymentOut:
        payment = service.record_bank_transfer(
            session, principal, invoice_id, body, datetime.now(UTC)
        )
        response.headers["Location"] = f"/v1/invoices/{invoice_id}"
        return PaymentOut.model_validate(payment)

    return idempotency.run(write, status_code=status.HTTP_201_CREATED)


@router.post(
    "/{invoice_id}/card-payments",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409),
)
def start_card_payment(
    *,
    invoice_id: uuid.UUID,
    body: CardPaymentCreate,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.PAYMENTS_RECORD))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> PaymentOut:
    """Charge what is open on the invoice to a tokenised card: a pending payment that the
    charge job sends to the processor; it settles by the processor's answer or webhook."""

    def write() -> PaymentOut:
        payment = payments.start_card_payment(
            session, principal, invoice_id, body, datetime.now(UTC)
        )
        response.headers["Location"] = f"/v1/invoices/{invoice_id}"
        return PaymentOut.model_validate(payment)

    return idempotency.run(write, status_code=status.HTTP_201_CREATED)


@router.post(
    "/{invoice_id}/refunds",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(404, 409, 422),
)
def refund_credit_note(
    *,
    invoice_id: uuid.UUID,
    body: BankTransferCreate,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.PAYMENTS_REFUND))],
    _: WriteLimit,
    idempotency: IdempotencyDep,
) -> PaymentOut:
    """Pay out an open credit note in full by bank transfer (a billing agent records it)."""

    def write() -> PaymentOut:
        payment = service.refund(session, principal, invoice_id, body, datetime.now(UTC))
        response.headers["Location"] = f"/v1/invoices/{invoice_id}"
        return PaymentOut.model_validate(payment)

    return idempotency.run(write, status_code=status.HTTP_201_CREATED)


async def raw_body(request: Request) -> bytes:
    """The request's bytes as sent: the signature is over them, not over a re-encoding."""
    return await request.body()


class WebhookOut(BaseModel):
    outcome: str = Field(examples=["applied", "duplicate", "unchanged"])


@webhooks_router.post(
    "/payment-processor", responses=problem_responses(400, 422, 503), include_in_schema=True
)
def payment_processor_webhook(
    request: Request,
    session: SessionDep,
    body: Annotated[bytes, Depends(raw_body)],
    processor_signature: Annotated[str | None, Header()] = None,
) -> WebhookOut:
    """The payment processor tells how a charge ended (signed: see docs/policies.md). Applied
    once: a duplicate, or the word on a payment settled already, changes nothing."""
    secret = request.app.state.settings.processor_webhook_secret
    if secret is None:
        raise ServiceUnavailableError("the processor's webhook secret is not configured")
    try:
        event = webhooks.verify(
            secret.get_secret_value().encode(), processor_signature, body, time.time()
        )
    except webhooks.WebhookRefusedError as error:
        raise BadRequestError(f"webhook refused: {error}") from None
    return WebhookOut(outcome=payments.receive_webhook(session, event, datetime.now(UTC)))
