"""Queries of invoices and payments. Callers own the transaction. A principal's tenant is
applied in one place, ``readable``."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select, text
from sqlalchemy.orm import Session

from database.models import Invoice, InvoiceLine, Payment, Tenant


def readable(
    statement: Select[Any], entity: type[Invoice] | type[Payment], tenant: str | None
) -> Any:
    joined = statement.join(Tenant, Tenant.id == entity.tenant_id)
    return joined if tenant is None else joined.where(Tenant.slug == tenant)


def invoices() -> Select[tuple[Invoice]]:
    return select(Invoice)


def invoice(
    session: Session, invoice_id: uuid.UUID, tenant: str | None, *, for_update: bool = False
) -> Invoice | None:
    statement = readable(select(Invoice).where(Invoice.id == invoice_id), Invoice, tenant)
    if for_update:
        statement = statement.with_for_update(of=Invoice)
    found: Invoice | None = session.scalar(statement)
    return found


def lines(session: Session, invoice_id: uuid.UUID) -> list[InvoiceLine]:
    return list(
        session.scalars(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.id)
        )
    )


def payments_of(session: Session, invoice_id: uuid.UUID) -> list[Payment]:
    return list(
        session.scalars(
            select(Payment).where(Payment.invoice_id == invoice_id).order_by(Payment.created_at)
        )
    )


def next_invoice_number(session: Session, year: int) -> str:
    serial = session.scalars(text("SELECT nextval('invoice_number_seq')")).one()
    return f"INV-{year}-{int(serial):07d}"


def invoices_of_policy(session: Session, policy_id: uuid.UUID) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.policy_id == policy_id)
            .order_by(Invoice.due_on, Invoice.installment)
        )
    )
