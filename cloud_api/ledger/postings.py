"""Journal entries as values: balanced by construction, built by the few rules premium moves
by. Pure; ``cloud_api.ledger.service.post`` writes them.

A debit is positive, a credit negative (database/models/ledger.py). The rules:

* premium written ``P`` with tax ``T`` (an issue or endorsement; negative for a return):
  Dr premium receivable P + T, Cr unearned premium P, Cr premium tax payable T, and the
  memorandum pair Dr written premium memo P, Cr written premium P.
* premium earned ``E``: Dr unearned premium E, Cr earned premium E.

So at every instant earned + unearned (credits) equals written, and receivable equals what was
written with its tax less what was collected.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from database.models import Account


class UnbalancedEntryError(ValueError):
    """The postings of an entry do not sum to zero."""


@dataclass(frozen=True)
class Posting:
    account: Account
    amount_minor: int  # debit positive, credit negative


@dataclass(frozen=True)
class JournalEntry:
    tenant_id: uuid.UUID
    policy_id: uuid.UUID | None
    kind: str
    reference: str  # what posted it; unique in the ledger (a second posting is refused)
    booked_on: date
    memo: str
    currency: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        total = sum(p.amount_minor for p in self.postings)
        if total != 0:
            raise UnbalancedEntryError(f"entry {self.reference} is off by {total}")
        if any(p.amount_minor == 0 for p in self.postings):
            raise UnbalancedEntryError(f"entry {self.reference} has a posting of 0")


@dataclass(frozen=True)
class EntryHeader:
    """What every entry of one event shares: whose, what posted it, when, in what currency."""

    tenant_id: uuid.UUID
    policy_id: uuid.UUID | None
    reference: str
    booked_on: date
    currency: str


def entry(
    header: EntryHeader, kind: str, memo: str, moves: list[tuple[Account, int]]
) -> JournalEntry | None:
    """An entry of these moves, merged by account, zero moves dropped; None if nothing moves."""
    totals: dict[Account, int] = defaultdict(int)
    for account, amount in moves:
        totals[account] += amount
    postings = tuple(Posting(a, v) for a, v in totals.items() if v != 0)
    if not postings:
        return None
    return JournalEntry(
        header.tenant_id,
        header.policy_id,
        kind,
        header.reference,
        header.booked_on,
        memo,
        header.currency,
        postings,
    )


def premium_written(
    header: EntryHeader, premium_minor: int, tax_minor: int, memo: str
) -> JournalEntry | None:
    return entry(
        header,
        "premium_written",
        memo,
        [
            (Account.PREMIUM_RECEIVABLE, premium_minor + tax_minor),
            (Account.UNEARNED_PREMIUM, -premium_minor),
            (Account.PREMIUM_TAX_PAYABLE, -tax_minor),
            (Account.WRITTEN_PREMIUM_MEMO, premium_minor),
            (Account.WRITTEN_PREMIUM, -premium_minor),
        ],
    )


def premium_earned(header: EntryHeader, earned_minor: int, memo: str) -> JournalEntry | None:
    """Built directly, not by ``entry``: two distinct accounts, nothing to merge (the daily
    earning job makes one a policy)."""
    if earned_minor == 0:
        return None
    moves = (
        Posting(Account.UNEARNED_PREMIUM, earned_minor),
        Posting(Account.EARNED_PREMIUM, -earned_minor),
    )
    h = header
    return JournalEntry(
        h.tenant_id,
        h.policy_id,
        "premium_earned",
        h.reference,
        h.booked_on,
        memo,
        h.currency,
        moves,
    )


# Claims: a reserve is a loss incurred and not yet paid; paying moves it to cash.
#
# * a reserve set or changed by ``R``: Dr claims incurred R, Cr claim reserves R (a release is
#   a negative change).
# * a payment ``P`` of which ``F`` was reserved: Dr claim reserves F, Dr claims incurred P - F,
#   Cr cash P.
# * a recovery ``V`` from a third party: Dr cash V, Cr claim recoveries V.
#
# So claims incurred = paid + outstanding reserves, and the reserves account is what is still
# expected to be paid.


def reserve_changed(header: EntryHeader, change_minor: int, memo: str) -> JournalEntry | None:
    return entry(
        header,
        "claim_reserve",
        memo,
        [(Account.CLAIMS_INCURRED, change_minor), (Account.CLAIM_RESERVES, -change_minor)],
    )


def claim_paid(
    header: EntryHeader, paid_minor: int, from_reserves_minor: int, memo: str
) -> JournalEntry | None:
    return entry(
        header,
        "claim_paid",
        memo,
        [
            (Account.CLAIM_RESERVES, from_reserves_minor),
            (Account.CLAIMS_INCURRED, paid_minor - from_reserves_minor),
            (Account.CASH, -paid_minor),
        ],
    )


def claim_recovered(header: EntryHeader, amount_minor: int, memo: str) -> JournalEntry | None:
    return entry(
        header,
        "claim_recovery",
        memo,
        [(Account.CASH, amount_minor), (Account.CLAIM_RECOVERIES, -amount_minor)],
    )
