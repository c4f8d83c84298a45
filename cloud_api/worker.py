"""The insurer jobs' Celery application (`robocover jobs`): Redis as broker, the beat schedule
of the policies' daily work. Built at import without connecting anywhere; ``configure`` gives it
its settings at the entry point (or a test's worker thread).

Each task works on yesterday (UTC) unless told a day, and is idempotent: the beat, a retry after
a crash, or an operator running it again by hand change nothing that is done.

The worker serves Prometheus metrics at ``metrics_host:metrics_port`` (conventions/jobs_metrics.py:
task runs, queue lengths; billing/metrics.py: failed payments; claims/metrics.py: failed and
pending claim payouts) from a process of its own, started and stopped with the worker.
Its tasks wait in a queue of their own, ``robocover-jobs``: the risk engine's worker shares
the Redis and takes Celery's default queue."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import httpx
import redis
from celery import Celery, Task, signals
from celery.schedules import crontab
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine, pool

from cloud_api.billing import tasks as billing_tasks
from cloud_api.billing.metrics import FailedPayments
from cloud_api.billing.processor import (
    ProcessorClient,
    ProcessorProtocolError,
    ProcessorUnavailableError,
)
from cloud_api.claims import tasks as claim_tasks
from cloud_api.claims.metrics import PayoutMetrics
from cloud_api.claims.payouts import Answer
from cloud_api.conventions import jobs_metrics
from cloud_api.notifications import tasks as notification_tasks
from cloud_api.policies import tasks
from cloud_api.sessions import engine_transactions
from cloud_api.settings import JobSettings
from database.engine import UTC_SESSION, make_engine
from database.logs import configure_logging
from ingest.connectors.breaker import CircuitBreaker
from risk_engine.worker import reliable_config

EARN_PREMIUM = "policies.earn_premium"
EXPIRE_TERMS = "policies.expire_terms"
CHARGE_DUE = "billing.charge_due"
COLLECT_OVERDUE = "policies.collect_overdue"
PROPOSE_ENDORSEMENTS = "policies.propose_endorsements"
DELIVER_NOTIFICATIONS = "notifications.deliver"
PAY_OUT_CLAIMS = "claims.pay_out"
TELL_INVOICES_DUE = "billing.tell_invoices_due"
JOB_TASKS = frozenset(
    {
        EARN_PREMIUM,
        EXPIRE_TERMS,
        CHARGE_DUE,
        COLLECT_OVERDUE,
        PROPOSE_ENDORSEMENTS,
        DELIVER_NOTIFICATIONS,
        PAY_OUT_CLAIMS,
        TELL_INVOICES_DUE,
    }
)
"""The task names counted in the metrics (a bounded label)."""
JOBS_QUEUE = "robocover-jobs"
METRICS_STATEMENT_TIMEOUT_MS = 5000

celery_app = Celery("robocover-jobs")
_engines: dict[str, Engine] = {}
_breaker = CircuitBreaker(threshold=5, cooldown_s=60.0)
"""One per worker process: the processor's failures seen by every charge it makes."""


def configure(settings: JobSettings) -> Celery:
    celery_app.conf.update(
        **reliable_config(str(settings.redis_url)),
        task_default_queue=JOBS_QUEUE,
        beat_schedule={
            "expire-terms-daily": {
                "task": EXPIRE_TERMS,
                "schedule": crontab(minute=settings.daily_minute, hour=0),
            },
            "earn-premium-daily": {
                "task": EARN_PREMIUM,
                "schedule": crontab(minute=settings.daily_minute + 5, hour=0),
            },
            "collect-overdue-daily": {
                "task": COLLECT_OVERDUE,
                "schedule": crontab(minute=settings.daily_minute + 10, hour=0),
            },
            "tell-invoices-due-daily": {
                "task": TELL_INVOICES_DUE,
                "schedule": crontab(minute=settings.daily_minute + 5, hour=1),
            },
            "propose-endorsements-daily": {
                "task": PROPOSE_ENDORSEMENTS,
                "schedule": crontab(minute=settings.daily_minute, hour=1),
            },
            "charge-due": {
                "task": CHARGE_DUE,
                "schedule": timedelta(seconds=settings.charge_seconds),
            },
            "pay-out-claims": {
                "task": PAY_OUT_CLAIMS,
                "schedule": timedelta(seconds=settings.charge_seconds),
            },
            "deliver-notifications": {
                "task": DELIVER_NOTIFICATIONS,
                "schedule": timedelta(seconds=settings.delivery_seconds),
            },
        },
    )
    celery_app.conf.robocover_settings = settings
    for engine in _engines.values():  # configured anew (tests): the old pool's connections go
        engine.dispose()
    _engines.clear()
    return celery_app


def _settings() -> JobSettings:
    settings = celery_app.conf.get("robocover_settings")
    if not isinstance(settings, JobSettings):
        raise RuntimeError("the jobs worker is not configured: call cloud_api.worker.configure")
    return settings


def _engine() -> Engine:
    settings = _settings()
    if "main" not in _engines:
        _engines["main"] = make_engine(settings, pool_size=2)
    return _engines["main"]


@celery_app.task(name=EARN_PREMIUM)  # type: ignore[untyped-decorator]
def earn_premium(day: str | None = None) -> int:
    """Premium earned through ``day`` (ISO date; yesterday if None)."""
    today = datetime.now(UTC).date()
    through = date.fromisoformat(day) if day else today - timedelta(days=1)
    return tasks.earn_premium(_engine(), through, today)


@celery_app.task(name=EXPIRE_TERMS)  # type: ignore[untyped-decorator]
def expire_terms() -> int:
    return tasks.expire_terms(_engine(), datetime.now(UTC))


@celery_app.task(name=CHARGE_DUE)  # type: ignore[untyped-decorator]
def charge_due() -> dict[str, int]:
    """Charge the card payments due through the processor (they wait if it is not configured)."""
    settings = _settings()
    if settings.processor_url is None or settings.processor_api_key is None:
        return {"settled": 0, "waiting": 0, "refused": 0}
    with httpx.Client(timeout=settings.processor_timeout_s) as http:
        client = ProcessorClient(http, settings.processor_url, settings.processor_api_key, _breaker)
        return billing_tasks.charge_due(engine_transactions(_engine()), client, datetime.now(UTC))


@celery_app.task(name=COLLECT_OVERDUE)  # type: ignore[untyped-decorator]
def collect_overdue() -> list[int]:
    """Dunning reminders and lapses for non-payment, as of now."""
    return list(tasks.collect_overdue(_engine(), datetime.now(UTC)))


@celery_app.task(name=TELL_INVOICES_DUE)  # type: ignore[untyped-decorator]
def tell_invoices_due() -> int:
    """Tell tenants of the invoices falling due within the notice days."""
    settings = _settings()
    return billing_tasks.tell_invoices_due(
        engine_transactions(_engine()), datetime.now(UTC), settings.invoice_due_notice_days
    )


@celery_app.task(name=PROPOSE_ENDORSEMENTS)  # type: ignore[untyped-decorator]
def propose_endorsements() -> int:
    """Proposals for the policies whose robots' premiums moved (after the night's rescoring)."""
    return tasks.propose_endorsements(_engine(), datetime.now(UTC))


@celery_app.task(name=DELIVER_NOTIFICATIONS)  # type: ignore[untyped-decorator]
def deliver_notifications() -> dict[str, int]:
    """Send the due webhook and email deliveries (retries with backoff, then dead letters)."""
    return notification_tasks.deliver(_engine(), _settings())


def payout_sender(client: ProcessorClient) -> claim_tasks.Send:
    """The processor adapter as the payout job calls it."""

    def send(payout: claim_tasks.Outgoing) -> Answer:
        try:
            charge = client.payout(
                reference=str(payout.id),
                amount_minor=payout.amount_minor,
                currency=payout.currency,
                payee_token=payout.payee_token,
            )
        except ProcessorUnavailableError as error:
            raise claim_tasks.Unreachable(str(error)) from None
        except ProcessorProtocolError as error:
            raise claim_tasks.Refused(str(error)) from None
        return Answer(charge.id, charge.status, charge.failure_reason)

    return send


@celery_app.task(name=PAY_OUT_CLAIMS)  # type: ignore[untyped-decorator]
def pay_out_claims() -> dict[str, int]:
    """Send the claim payouts due through the processor (they wait if it is not configured)."""
    settings = _settings()
    if settings.processor_url is None or settings.processor_api_key is None:
        return {"paid": 0, "failed": 0, "waiting": 0}
    with httpx.Client(timeout=settings.processor_timeout_s) as http:
        client = ProcessorClient(http, settings.processor_url, settings.processor_api_key, _breaker)
        return claim_tasks.pay_out_due(
            engine_transactions(_engine()), payout_sender(client), datetime.now(UTC)
        )


def metrics_registry(settings: JobSettings) -> CollectorRegistry:
    """What the worker's /metrics shows. Payments and payouts are read through an engine of
    their own without a pool: no connection stays open for the pool's child processes to
    inherit."""
    options = f"{UTC_SESSION['options']} -c statement_timeout={METRICS_STATEMENT_TIMEOUT_MS}"
    engine = create_engine(
        settings.sqlalchemy_url, poolclass=pool.NullPool, connect_args={"options": options}
    )
    payments = FailedPayments(engine_transactions(engine))
    payouts = PayoutMetrics(engine_transactions(engine))
    return jobs_metrics.jobs_registry(
        str(settings.redis_url), [JOBS_QUEUE], sorted(JOB_TASKS), [payments, payouts]
    )


def _metrics_process_registry(settings: JobSettings) -> CollectorRegistry:
    """The metrics process's registry, with the worker's logging (it is a new interpreter)."""
    configure_logging(settings.log_level, settings.log_format)
    return metrics_registry(settings)


_metrics_processes: dict[int, jobs_metrics.MetricsProcess[JobSettings]] = {}
"""The /metrics process, by the pid of the worker that started it."""
_run_counters: dict[tuple[int, str], redis.Redis] = {}
"""A Redis client per process and Redis (the prefork pool's children count their own runs)."""


@signals.worker_init.connect  # type: ignore[untyped-decorator]
def _serve_metrics(sender: object = None, **_: object) -> None:
    if getattr(sender, "app", None) is not celery_app:
        return
    settings = _settings()
    if settings.metrics_port == 0:
        return
    served = jobs_metrics.MetricsProcess(
        settings.metrics_host, settings.metrics_port, _metrics_process_registry, settings
    )
    served.start()
    _metrics_processes[os.getpid()] = served


@signals.worker_shutdown.connect  # type: ignore[untyped-decorator]
def _stop_metrics(**_: object) -> None:
    served = _metrics_processes.pop(os.getpid(), None)
    if served is not None:
        served.stop()


def _count_run(task: Task | None, outcome: str) -> None:
    if task is None or task.name not in JOB_TASKS:
        return
    url = str(_settings().redis_url)
    client = _run_counters.get((os.getpid(), url))
    if client is None:
        client = redis.Redis.from_url(
            url,
            socket_timeout=jobs_metrics.REDIS_TIMEOUT_S,
            socket_connect_timeout=jobs_metrics.REDIS_TIMEOUT_S,
        )
        _run_counters[os.getpid(), url] = client
    jobs_metrics.count_task_run(client, task.name, outcome)


@signals.task_success.connect  # type: ignore[untyped-decorator]
def _count_success(sender: Task | None = None, **_: object) -> None:
    _count_run(sender, "succeeded")


@signals.task_failure.connect  # type: ignore[untyped-decorator]
def _count_failure(sender: Task | None = None, **_: object) -> None:
    _count_run(sender, "failed")
