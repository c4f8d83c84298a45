"""Posting to the ledger and reading balances. Never commits: the caller's transaction posts
the entry with the change that caused it, or neither."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from cloud_api.ledger import repository
from cloud_api.ledger.postings import JournalEntry
from database.models import Account


def post(session: Session, entry: JournalEntry | None) -> bool:
    """Post ``entry``; False if nothing moves or its reference was posted already (a retry)."""
    if entry is None:
        return False
    return repository.add_entry(session, entry) is not None


def policy_balances(session: Session, policy_id: uuid.UUID) -> dict[tuple[Account, str], int]:
    return repository.balances(session, policy_id=policy_id)


def balance_of(balances: dict[tuple[Account, str], int], account: Account, currency: str) -> int:
    return balances.get((account, currency), 0)
