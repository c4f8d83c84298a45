"""The insurer's daily jobs on a database of their own: a real Celery worker on the real Redis
earns the book's premium and expires ended terms, twice without posting twice; and the earning
job, killed midway (SIGKILL of its process) and started again, ends with the books it would
have had without the crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from sqlalchemy import Engine, create_engine, func, pool, select
from sqlalchemy.orm import Session

from cloud_api.access.roles import Role
from cloud_api.ledger import repository as ledger
from cloud_api.ledger.money import share
from cloud_api.policies import changes, quotes, service
from cloud_api.policies.schemas import QuoteCreate
from cloud_api.settings import JobSettings
from cloud_api.worker import EARN_PREMIUM, EXPIRE_TERMS, configure
from database.models import Account, LedgerEntry, Policy, Tenant
from database.settings import CloudSettings
from tests.integration.api.policy_factories import active_product, fleet, plan_in_force
from tests.support.api import principal

REDIS_DB = 13
UNDERWRITER = principal(Role.UNDERWRITER)
TODAY = datetime.now(UTC).date()


@pytest.fixture
def job_settings(fresh_database: CloudSettings) -> Iterator[JobSettings]:
    url = f"redis://{fresh_database.redis_url.host}:{fresh_database.redis_url.port}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield JobSettings(database_url=fresh_database.database_url, redis_url=url)
    client.flushdb()
    client.close()


def issue_book(engine: Engine, policies: int, start: date) -> None:
    """``policies`` issued policies of one robot each, quoted and issued on ``start``, the
    first day of their terms."""
    noon = datetime.combine(start, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    with Session(engine) as session, session.begin():
        version = plan_in_force(session)
        product = active_product(session)
        tenant = Tenant(slug="book", name="Book")
        session.add(tenant)
        session.flush()
        robots = fleet(session, tenant, version, [1000.0 + i for i in range(policies)])
        for robot in robots:
            offer = QuoteCreate(
                tenant="book",
                product_id=product.id,
                robot_ids=[robot.id],
                jurisdiction="DE",
                term_start=start,
            )
            quote = quotes.create(session, UNDERWRITER, offer, noon)
            policy = changes.bind(session, UNDERWRITER, quote.id, noon)
            service.issue(session, UNDERWRITER, policy.id, noon)


def earned(engine: Engine) -> tuple[int, int]:
    """(premium earned over the book, earning entries)."""
    with Session(engine) as session:
        balances = ledger.balances(session)
        entries = session.scalar(select(func.count()).where(LedgerEntry.kind == "premium_earned"))
    return -balances.get((Account.EARNED_PREMIUM, "EUR"), 0), int(entries or 0)


# Celery's Redis result backend still calls redis-py's deprecated setex.
@pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")
def test_a_real_worker_earns_the_book_once_and_expires_ended_terms(
    job_settings: JobSettings,
) -> None:
    engine = create_engine(job_settings.sqlalchemy_url, poolclass=pool.NullPool)
    issue_book(engine, 3, TODAY - timedelta(days=366))  # the term ended today
    app = configure(job_settings)
    with start_worker(app, perform_ping_check=False, pool="solo"):
        through = str(TODAY - timedelta(days=30))
        assert app.send_task(EARN_PREMIUM, args=[through]).get(timeout=60) == 3
        assert app.send_task(EARN_PREMIUM, args=[through]).get(timeout=60) == 0
        partly, entries = earned(engine)
        assert entries == 3
        assert app.send_task(EXPIRE_TERMS).get(timeout=60) == 3
        assert app.send_task(EXPIRE_TERMS).get(timeout=60) == 0
        assert app.send_task(EARN_PREMIUM).get(timeout=60) == 3
    with Session(engine) as session:
        written = -ledger.balances(session).get((Account.WRITTEN_PREMIUM, "EUR"), 0)
        statuses = set(session.scalars(select(Policy.status)))
    whole, entries = earned(engine)
    assert 0 < partly < whole == written  # the whole term earned, to the minor unit
    assert entries == 6
    assert statuses == {"expired"}


JOB = """
import sys
from datetime import date
from sqlalchemy import create_engine, pool
from cloud_api.policies import tasks
engine = create_engine(sys.argv[1], poolclass=pool.NullPool)
print(tasks.earn_premium(engine, date.fromisoformat(sys.argv[2]), date.today(), batch=1))
"""


def test_the_earning_job_killed_midway_and_run_again_posts_each_day_once(
    job_settings: JobSettings,
) -> None:
    engine = create_engine(job_settings.sqlalchemy_url, poolclass=pool.NullPool)
    issue_book(engine, 40, TODAY - timedelta(days=100))
    through = str(TODAY - timedelta(days=1))
    command = [sys.executable, "-c", JOB, job_settings.sqlalchemy_url, through]
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.monotonic() + 60
    while earned(engine)[1] < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=10)
    killed_at = earned(engine)[1]
    assert 0 < killed_at < 40, "the job was not caught midway"
    again = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    assert int(again.stdout.strip().splitlines()[-1]) == 40 - killed_at
    with Session(engine) as session:
        policies = list(session.scalars(select(Policy)))
        per_policy = ledger.earned_by_policy(session, [p.id for p in policies])
        for policy in policies:
            premium = service.current(session, policy).term_premium_minor
            term_days = (policy.term_end - policy.term_start).days
            assert per_policy[policy.id] == share(premium, 100, term_days)  # days 0..99
    assert earned(engine)[1] == 40
