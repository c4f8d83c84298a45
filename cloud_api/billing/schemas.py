"""Request and response bodies of the billing endpoints. Money in integer minor units."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from database.models import InvoiceStatus, PaymentStatus

BankReference = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=140)
]


class InvoiceLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    robot_id: uuid.UUID | None
    coverage: str | None
    amount_minor: int


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    invoice_id: uuid.UUID
    amount_minor: int
    currency: str
    method: str
    status: PaymentStatus
    bank_reference: str | None
    failure_reason: str | None
    created_at: datetime
    settled_at: datetime | None


class InvoiceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    policy_id: uuid.UUID
    kind: str
    installment: int
    currency: str
    issued_at: datetime
    due_on: date
    premium_minor: int
    tax_minor: int
    fee_minor: int
    total_minor: int
    paid_minor: int
    status: InvoiceStatus


class InvoiceDetailOut(InvoiceOut):
    lines: list[InvoiceLineOut]
    payments: list[PaymentOut]


class CardPaymentCreate(BaseModel):
    """Charge what is open on the invoice to a card the processor tokenised."""

    model_config = ConfigDict(extra="forbid")

    card_token: str = Field(
        pattern=r"^tok_[A-Za-z0-9_]{4,100}$",
        description="The processor's token, never a card number.",
    )


class BankTransferCreate(BaseModel):
    """A bank transfer the insurer received for an invoice, recorded by a billing agent."""

    model_config = ConfigDict(extra="forbid")

    amount_minor: int = Field(strict=True, gt=0, le=10**15)
    bank_reference: BankReference = Field(description="The transfer's reference on the statement.")
