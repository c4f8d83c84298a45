"""Task shell of the notification deliveries: the rules from the worker's settings, the due
deliveries sent (cloud_api/worker.py schedules it every ``delivery_seconds``)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from loguru import logger
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from cloud_api.notifications import watch
from cloud_api.notifications.delivery import DeliveryRules, deliver_due
from cloud_api.settings import JobSettings


def rules_of(settings: JobSettings) -> DeliveryRules:
    return DeliveryRules(
        max_attempts=settings.delivery_max_attempts,
        backoff_s=settings.delivery_backoff_s,
        backoff_max_s=settings.delivery_backoff_max_s,
        timeout_s=settings.webhook_timeout_s,
        allow_private_targets=settings.webhook_allow_private_targets,
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        smtp_from=settings.smtp_from,
    )


def deliver(engine: Engine, settings: JobSettings, batches: int = 20) -> dict[str, int]:
    """Tell what the robots' side has that is new (``watch``), then send what is due, a batch
    at a time, until nothing is or ``batches`` were sent."""
    total: Counter[str] = Counter()
    with Session(engine) as session, session.begin():
        offline_after = timedelta(seconds=settings.robot_offline_after_s)
        total["told"] = watch.scan(session, datetime.now(UTC), offline_after)
    rules = rules_of(settings)
    for _ in range(batches):
        done = deliver_due(engine, rules, lambda: datetime.now(UTC))
        if not done:
            break
        total.update(done)
    if total:
        logger.info("notification deliveries: {}", dict(total))
    return dict(total)
