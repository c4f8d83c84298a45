"""Queries of invoices and payments. Callers own the transaction. A principal's tenant is
applied in one place, ``readable``."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from database.models import Invoice, InvoiceLine, Payment, Policy, ProcessorEvent, Tenant


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


def pending_payment(session: Session, invoice_id: uuid.UUID) -> Payment | None:
    found: Payment | None = session.scalar(
        select(Payment).where(Payment.invoice_id == invoice_id, Payment.status == "pending")
    )
    return found


def payment(session: Session, payment_id: uuid.UUID, *, for_update: bool = False) -> Payment | None:
    statement = select(Payment).where(Payment.id == payment_id)
    if for_update:
        statement = statement.with_for_update()
    found: Payment | None = session.scalar(statement)
    return found


def card_payments_due(session: Session, now: datetime, limit: int) -> list[Payment]:
    return list(
        session.scalars(
            select(Payment)
            .where(
                Payment.method == "card",
                Payment.status == "pending",
                Payment.next_attempt_at <= now,
            )
            .order_by(Payment.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def failure_reasons(session: Session) -> list[tuple[str | None, int]]:
    """Failed payments by their recorded reason, every tenant's (the payments' status index)."""
    rows = session.execute(
        select(Payment.failure_reason, func.count())
        .where(Payment.status == "failed")
        .group_by(Payment.failure_reason)
    )
    return [(reason, int(count)) for reason, count in rows]


def remember_event(session: Session, event: ProcessorEvent) -> bool:
    """Keep a webhook's event; False if its id was kept before (a duplicate)."""
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError:
        return False
    return True


def overdue(session: Session, now: datetime, limit: int) -> list[Invoice]:
    """Open invoices due before ``now``'s day whose policy is in force and its term not over,
    oldest due first, locked (SKIP LOCKED: another run's or a payment's are left)."""
    return list(
        session.scalars(
            select(Invoice)
            .join(Policy, Policy.id == Invoice.policy_id)
            .where(
                Invoice.status == "open",
                Invoice.kind != "credit",
                Invoice.due_on < now.date(),
                Policy.status == "in_force",
                Policy.term_end > now,
            )
            .order_by(Invoice.due_on, Invoice.id)
            .limit(limit)
            .with_for_update(of=Invoice, skip_locked=True)
        )
    )


def falling_due(
    session: Session, first: date, last: date, limit: int
) -> list[tuple[Invoice, str | None]]:
    """Open invoices that still ask for money, due from ``first`` to ``last`` (inclusive),
    whose tenant was not told yet and whose policy is in force, with the policy's number;
    soonest due first, locked (SKIP LOCKED: another run's or a payment's are left)."""
    rows = session.execute(
        select(Invoice, Policy.number)
        .join(Policy, Policy.id == Invoice.policy_id)
        .where(
            Invoice.status == "open",
            Invoice.kind != "credit",
            Invoice.due_notice_at.is_(None),
            Invoice.due_on >= first,
            Invoice.due_on <= last,
            Invoice.total_minor > Invoice.paid_minor,
            Policy.status == "in_force",
        )
        .order_by(Invoice.due_on, Invoice.id)
        .limit(limit)
        .with_for_update(of=Invoice, skip_locked=True)
    )
    return [(invoice, number) for invoice, number in rows]
