"""Task shells of the policies' daily jobs: each opens its own transactions (one per batch) on
the engine it is given and calls the book's functions. Idempotent and restartable: see
``book``. The Celery worker (cloud_api/worker.py) schedules them."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

from loguru import logger
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cloud_api.policies import book, proposals, service

BATCH = 2000


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a block that allocates many short-lived objects
    and no cycles (measured: a quarter of the cost of building a batch's journal entries)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def earn_premium(engine: Engine, through: date, booked_on: date, batch: int = BATCH) -> int:
    """Earn every issued policy's premium through ``through``, a batch per transaction.
    Returns the entries posted."""
    posted, after, batches = 0, None, 0
    with engine.connect() as connection:  # one connection for the run, whatever the pool
        while True:
            with Session(connection) as session, session.begin():
                rows = book.rows_to_earn(session, through, after, batch)
                if not rows:
                    break
                with _collector_paused():  # a batch allocates ~10 objects a policy, keeps none
                    posted += book.earn_batch(session, rows, through, booked_on)
            after, batches = rows[-1].policy_id, batches + 1
    logger.info("premium earned through {}: {} entries in {} batches", through, posted, batches)
    return posted


def expire_terms(engine: Engine, now: datetime, batch: int = BATCH) -> int:
    """Expire the policies in force whose term has ended. Returns how many."""
    expired = 0
    while True:
        with Session(engine) as session, session.begin():
            due = book.due_to_expire(session, now, batch)
            for policy_id in due:
                if service.expire(session, policy_id, now) is not None:
                    expired += 1
        if len(due) < batch:
            break
    logger.info("policies expired at {}: {}", now.isoformat(), expired)
    return expired


def collect_overdue(engine: Engine, now: datetime, batch: int = BATCH) -> tuple[int, int]:
    """Reminders and lapses for the overdue invoices, one transaction. Idempotent: a reminder
    is counted on its invoice, and a lapsed policy is no longer in force."""
    with Session(engine) as session, session.begin():
        reminders, lapsed = book.collect_overdue(session, now, batch)
    logger.info("overdue invoices on {}: {} reminders, {} lapses", now.date(), reminders, lapsed)
    return reminders, lapsed


def propose_endorsements(engine: Engine, now: datetime, batch: int = 10_000) -> int:
    """Risk-driven endorsement proposals for the policies in force, one transaction."""
    with Session(engine) as session, session.begin():
        made = proposals.propose_all(session, now, batch)
    logger.info("endorsement proposals on {}: {}", now.date(), made)
    return made
