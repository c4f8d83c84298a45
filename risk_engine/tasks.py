"""Celery tasks of the risk worker: thin shells around ``rescore`` and the severe-event scan.

Task names and arguments are the contract (JSON only):
- ``risk.rescore_fleet()``: every robot; on the beat, hourly.
- ``risk.rescore_robots(robot_ids: list[str], reason: str)``: these robots, now. Any process may
  send it by name: ``send_task("risk.rescore_robots", args=[ids, "on_demand"])``. The reason
  is the scores' trigger: ``on_demand`` (someone asked) or ``severe_event`` (the scan, or the
  kind of event that prompted it, such as ``collision``); see ``trigger_for``.
- ``risk.scan_severe_events()``: on the beat, every ``severe_scan_seconds``; sends
  ``risk.rescore_robots`` for robots with new severe events.
"""

from __future__ import annotations

import uuid
from typing import Any

from loguru import logger
from sqlalchemy import create_engine, pool

from risk_engine.rescore import Trigger, rescore
from risk_engine.severe import robots_with_severe_events
from risk_engine.worker import (
    RESCORE_FLEET,
    RESCORE_ROBOTS,
    SCAN_SEVERE_EVENTS,
    celery_app,
    worker_settings,
)


def _rescore(trigger: Trigger, robot_ids: list[uuid.UUID] | None) -> dict[str, Any]:
    settings = worker_settings()
    engine = create_engine(settings.sqlalchemy_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            result = rescore(conn, settings, trigger=trigger, robot_ids=robot_ids)
    finally:
        engine.dispose()
    summary = {
        "scored": result.scores.height,
        "plan_version": result.plan_version,
        "rollup_rows": result.rollup_rows,
        "events": result.events,
        "total_premium": float(result.scores.get_column("premium").sum()),
    }
    logger.bind(trigger=trigger, **summary).info("rescored")
    return summary


@celery_app.task(name=RESCORE_FLEET)  # type: ignore[untyped-decorator]
def rescore_fleet() -> dict[str, Any]:
    return _rescore("schedule", None)


def trigger_for(reason: str) -> Trigger:
    """The trigger recorded with the scores of a rescore sent for ``reason``: an on-demand
    rescore is ``on_demand``; any other reason names an event that prompted it."""
    return "on_demand" if reason == "on_demand" else "severe_event"


@celery_app.task(name=RESCORE_ROBOTS)  # type: ignore[untyped-decorator]
def rescore_robots(robot_ids: list[str], reason: str) -> dict[str, Any]:
    logger.bind(reason=reason, robots=len(robot_ids)).info("rescore requested")
    return _rescore(trigger_for(reason), [uuid.UUID(r) for r in robot_ids])


@celery_app.task(name=SCAN_SEVERE_EVENTS)  # type: ignore[untyped-decorator]
def scan_severe_events() -> list[str]:
    settings = worker_settings()
    engine = create_engine(settings.sqlalchemy_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            found = robots_with_severe_events(
                conn,
                now=conn.exec_driver_sql("SELECT now()").scalar_one(),
                settle_seconds=settings.event_settle_seconds,
                repeated_protective_stops=settings.repeated_protective_stops,
            )
    finally:
        engine.dispose()
    robot_ids = [str(r) for r in found]
    if robot_ids:
        celery_app.send_task(RESCORE_ROBOTS, args=[robot_ids, "severe_event"])
    return robot_ids
