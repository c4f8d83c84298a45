"""The risk worker's Celery application: Redis as broker and result backend, the beat schedule.

The app object is built at import without connecting anywhere; ``configure`` gives it the
worker's settings at the entry point (`robocover risk worker`, or a test's worker thread).
"""

from __future__ import annotations

from datetime import timedelta

from celery import Celery
from celery.schedules import crontab

from risk_engine.settings import WorkerSettings

RESCORE_FLEET = "risk.rescore_fleet"
RESCORE_ROBOTS = "risk.rescore_robots"
SCAN_SEVERE_EVENTS = "risk.scan_severe_events"

celery_app = Celery("robocover-risk", include=["risk_engine.tasks"])


def reliable_config(redis_url: str) -> dict[str, object]:
    """What every robocover Celery app sets: Redis as broker and backend, JSON only, a task
    acknowledged after it ran (a worker killed midway leaves it to another), one at a time."""
    return {
        "broker_url": redis_url,
        "result_backend": redis_url,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "timezone": "UTC",
    }


def configure(settings: WorkerSettings) -> Celery:
    """Point the app at the settings' Redis and install the beat schedule."""
    celery_app.conf.update(
        **reliable_config(str(settings.redis_url)),
        beat_schedule={
            "rescore-fleet-hourly": {
                "task": RESCORE_FLEET,
                "schedule": crontab(minute=settings.rescore_minute),
            },
            "scan-severe-events": {
                "task": SCAN_SEVERE_EVENTS,
                "schedule": timedelta(seconds=settings.severe_scan_seconds),
            },
        },
    )
    celery_app.conf.robocover_settings = settings
    return celery_app


def worker_settings() -> WorkerSettings:
    """The settings ``configure`` was given (the tasks' way to them)."""
    settings = celery_app.conf.get("robocover_settings")
    if not isinstance(settings, WorkerSettings):
        raise RuntimeError("the risk worker is not configured: call risk_engine.worker.configure")
    return settings
