"""Queries of the ledger. Callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ARRAY, String, Uuid, any_, func, insert, literal, select, text
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
    session.execute(  # one statement: the database checks the balance per statement
        insert(LedgerLine).values(
            [
                {
                    "entry_id": entry_id,
                    "account": p.account.value,
                    "currency": entry.currency,
                    "amount_minor": p.amount_minor,
                }
                for p in entry.postings
            ]
        )
    )
    return int(entry_id)


def add_entries(session: Session, entries: Sequence[JournalEntry]) -> list[JournalEntry]:
    """Insert many entries and their lines by COPY, in the caller's transaction: ids drawn from
    the entries' sequence in one query, then one COPY of entries and one of lines. An entry
    whose reference exists is skipped (looked up first); one posted concurrently by another
    transaction fails the unique reference, and the caller's batch rolls back whole. Returns
    the entries inserted."""
    if not entries:
        return []
    references = literal([e.reference for e in entries], ARRAY(String))
    taken = set(
        session.scalars(
            select(LedgerEntry.reference).where(LedgerEntry.reference == any_(references))
        )
    )
    fresh = [e for e in entries if e.reference not in taken]
    copy_entries(session, fresh)
    return fresh


def copy_entries(session: Session, fresh: Sequence[JournalEntry]) -> None:
    """Insert entries none of whose references exist, and their lines, by COPY in the caller's
    transaction (one that does exist fails the unique reference, and the transaction with
    it)."""
    if not fresh:
        return
    ids = session.scalars(
        text(
            "SELECT array_agg(nextval(pg_get_serial_sequence('ledger_entries', 'id')))"
            " FROM generate_series(1, :n)"
        ),
        {"n": len(fresh)},
    ).one()
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(
        "COPY ledger_entries (id, tenant_id, policy_id, kind, reference, booked_on, memo)"
        " FROM STDIN"
    ) as copy:
        for entry_id, e in zip(ids, fresh, strict=True):
            copy.write_row(
                (entry_id, e.tenant_id, e.policy_id, e.kind, e.reference, e.booked_on, e.memo)
            )
    with cursor.copy(
        "COPY ledger_lines (entry_id, account, currency, amount_minor) FROM STDIN"
    ) as copy:
        for entry_id, e in zip(ids, fresh, strict=True):
            for p in e.postings:
                copy.write_row((entry_id, p.account.value, e.currency, p.amount_minor))


def earned_by_policy(session: Session, policy_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Premium earned so far by each policy, as a positive amount (its credits)."""
    rows = session.connection().execute(
        select(LedgerEntry.policy_id, -func.sum(LedgerLine.amount_minor))
        .join(LedgerEntry, LedgerEntry.id == LedgerLine.entry_id)
        .where(
            LedgerEntry.policy_id == any_(literal(list(policy_ids), ARRAY(Uuid))),
            LedgerLine.account == Account.EARNED_PREMIUM.value,
        )
        .group_by(LedgerEntry.policy_id)
    )
    return {policy_id: int(total) for policy_id, total in rows.all() if policy_id is not None}


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
