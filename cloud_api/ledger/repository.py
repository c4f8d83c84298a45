"""Queries of the ledger. Callers own the transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud_api.ledger.postings import JournalEntry
from database.models import Account, LedgerEntry, LedgerLine


def add_entry(session: Session, entry: JournalEntry) -> int | None:
    """Insert the entry and its lines; None if an entry of its reference exists (a savepoint
    keeps the caller's transaction)."""
    try:
        with session.begin_nested():
            entry_id = session.scalars(
                insert(LedgerEntry)
                .values(
                    tenant_id=entry.tenant_id,
                    policy_id=entry.policy_id,
                    kind=entry.kind,
                    reference=entry.reference,
                    booked_on=entry.booked_on,
                    memo=entry.memo,
                )
                .returning(LedgerEntry.id)
            ).one()
    except IntegrityError:
        if has_reference(session, entry.reference):
            return None
        raise
    session.execute(
        insert(LedgerLine),
        [
            {
                "entry_id": entry_id,
                "account": p.account.value,
                "currency": entry.currency,
                "amount_minor": p.amount_minor,
            }
            for p in entry.postings
        ],
    )
    return int(entry_id)


def has_reference(session: Session, reference: str) -> bool:
    found = session.scalar(select(LedgerEntry.id).where(LedgerEntry.reference == reference))
    return found is not None


def balances(
    session: Session, *, policy_id: uuid.UUID | None = None, tenant_id: uuid.UUID | None = None
) -> dict[tuple[Account, str], int]:
    """(account, currency) -> balance (debit positive), of one policy, one tenant or all."""
    statement = (
        select(LedgerLine.account, LedgerLine.currency, func.sum(LedgerLine.amount_minor))
        .join(LedgerEntry, LedgerEntry.id == LedgerLine.entry_id)
        .group_by(LedgerLine.account, LedgerLine.currency)
    )
    if policy_id is not None:
        statement = statement.where(LedgerEntry.policy_id == policy_id)
    if tenant_id is not None:
        statement = statement.where(LedgerEntry.tenant_id == tenant_id)
    return {
        (Account(account), currency): int(total)
        for account, currency, total in session.execute(statement)
    }


def check_balanced_now(session: Session) -> None:
    """Run the deferred balance check on what this transaction posted so far (it runs at
    commit anyway; a test or a job that wants the refusal early calls this)."""
    session.execute(text("SET CONSTRAINTS ledger_lines_balanced IMMEDIATE"))
    session.execute(text("SET CONSTRAINTS ledger_lines_balanced DEFERRED"))
