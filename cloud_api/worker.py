"""The insurer jobs' Celery application (`robocover jobs`): Redis as broker, the beat schedule
of the policies' daily work. Built at import without connecting anywhere; ``configure`` gives it
its settings at the entry point (or a test's worker thread).

Each task works on yesterday (UTC) unless told a day, and is idempotent: the beat, a retry after
a crash, or an operator running it again by hand change nothing that is done."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from celery import Celery
from celery.schedules import crontab
from sqlalchemy import Engine

from cloud_api.policies import tasks
from cloud_api.settings import JobSettings
from database.engine import make_engine
from risk_engine.worker import reliable_config

EARN_PREMIUM = "policies.earn_premium"
EXPIRE_TERMS = "policies.expire_terms"

celery_app = Celery("robocover-jobs")
_engines: dict[str, Engine] = {}


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
        },
    )
    celery_app.conf.robocover_settings = settings
    _engines.clear()
    return celery_app


def _engine() -> Engine:
    settings = celery_app.conf.get("robocover_settings")
    if not isinstance(settings, JobSettings):
        raise RuntimeError("the jobs worker is not configured: call cloud_api.worker.configure")
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
