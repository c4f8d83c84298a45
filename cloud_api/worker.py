"""The insurer jobs' Celery application (`robocover jobs`): Redis as broker, the beat schedule
of the policies' daily work. Built at import without connecting anywhere; ``configure`` gives it
its settings at the entry point (or a test's worker thread).

Each task works on yesterday (UTC) unless told a day, and is idempotent: the beat, a retry after
a crash, or an operator running it again by hand change nothing that is done."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
from celery import Celery
from celery.schedules import crontab
from sqlalchemy import Engine

from cloud_api.billing import tasks as billing_tasks
from cloud_api.billing.processor import (
    ProcessorClient,
    ProcessorProtocolError,
    ProcessorUnavailableError,
)
from cloud_api.claims import tasks as claim_tasks
from cloud_api.claims.payouts import Answer
from cloud_api.notifications import tasks as notification_tasks
from cloud_api.policies import tasks
from cloud_api.sessions import engine_transactions
from cloud_api.settings import JobSettings
from database.engine import make_engine
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

celery_app = Celery("robocover-jobs")
_engines: dict[str, Engine] = {}
_breaker = CircuitBreaker(threshold=5, cooldown_s=60.0)
"""One per worker process: the processor's failures seen by every charge it makes."""


def configure(settings: JobSettings) -> Celery:
    celery_app.conf.update(
        **reliable_config(str(settings.redis_url)),
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
