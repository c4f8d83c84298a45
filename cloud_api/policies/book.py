"""The daily work over the whole book of policies, in batches: premium earned by day, terms
that ended. Each batch is one transaction of its caller; everything is keyed so that running a
day twice, or again after a crash midway, posts nothing twice (a batch committed before the
crash has nothing left to earn, and every entry's reference is unique).

Set-based: a batch of policies is read and locked in one query (their premium versions with
their terms and earned-to-date), its targets computed by ``ledger.earning.earned_through`` in
Python, its entries and lines inserted by COPY, and the earned-to-date updated in one
statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from itertools import groupby
from operator import attrgetter
from typing import Any

from loguru import logger
from sqlalchemy.orm import Session

from cloud_api.billing import service as billing
from cloud_api.errors import AppError
from cloud_api.ledger import postings
from cloud_api.ledger import repository as ledger
from cloud_api.ledger.earning import Term, earned_through
from cloud_api.policies import repository, service
from cloud_api.policies.lifecycle import Transition
from cloud_api.policies.schemas import CancellationCreate, CancelReason, CancelRequester
from cloud_api.policies.service import writes_of
from cloud_api.products import service as products
from database.models import Invoice, PolicyStatus

LATE_CHANGE_DAYS = 90
"""How long after a term ends a backdated change may still move its earned premium: the
longest backdating window a product may set."""


def earn_batch(session: Session, rows: Sequence[Any], through: date, booked_on: date) -> int:
    """Post what each policy of ``rows`` (``repository.earning_rows``: its premium versions,
    locked) earned by the end of ``through`` beyond its earned-to-date (kept on the policy with
    each posting, so nothing sums the ledger's growing lines): one entry per policy and day
    whose reference names the policy's version and the earned-to-date it starts from
    (``earn:<policy>:<day>:v<version>:<from>``),
    so a second run of a day posts nothing (its earned-to-date has moved) unless a backdated
    change moved the target meanwhile, and then posts the difference under a reference of its
    own. Returns entries posted."""
    entries, targets = [], {}
    for policy_id, versions in groupby(rows, key=attrgetter("policy_id")):
        written = list(versions)
        policy = written[0]  # every row carries its policy's columns
        if policy.version_no is None:
            continue  # no version moved premium
        term = Term(policy.term_start.date(), policy.term_end.date())
        target = earned_through(writes_of(written), term, through)
        reference = f"earn:{policy_id}:{through}:v{policy.policy_version}:{policy.earned_minor}"
        header = postings.EntryHeader(
            policy.tenant_id, policy_id, reference, booked_on, policy.currency
        )
        memo = f"premium earned by policy {policy.number} through {through}"
        entry = postings.premium_earned(header, target - policy.earned_minor, memo)
        if entry is not None:
            entries.append(entry)
            targets[policy_id] = target
    ledger.copy_entries(session, entries)
    repository.set_earned(session, targets)
    return len(entries)


def rows_to_earn(session: Session, through: date, after: uuid.UUID | None, limit: int) -> list[Any]:
    """``repository.earning_rows`` of the next ``limit`` issued policies (by id, after
    ``after``) whose term had begun by ``through`` and ended less than LATE_CHANGE_DAYS before
    it."""
    return repository.earning_rows(
        session, through, through - timedelta(days=LATE_CHANGE_DAYS), after, limit
    )


def due_to_expire(session: Session, now: datetime, limit: int) -> list[uuid.UUID]:
    return repository.ended_in_force(session, now, limit)


def collect_overdue(session: Session, now: datetime, limit: int) -> tuple[int, int]:
    """Dunning and lapse for non-payment: each overdue invoice of a policy in force gets its
    reminder when one is due, and a policy with an invoice unpaid past the product's grace
    days lapses from today (cover ran through the grace period). Returns (reminders, lapses)."""
    reminders, lapsed = 0, 0
    for invoice in billing.overdue_invoices(session, now, limit):
        try:
            with session.begin_nested():  # one policy's refusal is its own problem
                reminded, lapses = _collect(session, invoice, now)
        except AppError as error:
            logger.warning("invoice {} of policy {}: {}", invoice.number, invoice.policy_id, error)
            continue
        reminders += reminded
        lapsed += lapses
    return reminders, lapsed


def _collect(session: Session, invoice: Invoice, now: datetime) -> tuple[int, int]:
    today = now.date()
    reminded = int(billing.remind(session, invoice, today))
    policy = repository.policy(session, invoice.policy_id, None, for_update=True)
    if policy is None or policy.status != PolicyStatus.IN_FORCE or invoice.status != "open":
        return reminded, 0  # lapsed by an earlier invoice of this run, or paid meanwhile
    grace = products.terms_of(products.get(session, policy.product_id)).grace_days
    if (today - invoice.due_on).days <= grace:
        return reminded, 0
    body = CancellationCreate(
        effective_on=today,
        reason_code=CancelReason.NON_PAYMENT,
        requested_by=CancelRequester.INSURER,
        note=f"invoice {invoice.number} unpaid {grace} days after it was due",
    )
    service.cancel(session, None, policy.id, body, now, transition=Transition.LAPSE)
    return reminded, 1
