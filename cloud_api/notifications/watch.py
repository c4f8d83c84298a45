"""What the robots' side tells a tenant, found by a periodic scan (the ingest writes robots'
presence and review cases, and sits below the API: it cannot record notifications itself):

* ``robot_offline``: an enrolled robot offline for longer than the threshold, once per
  absence (the notification names the last time it was seen: a robot that comes back and goes
  away again is told again);
* ``tamper_case_opened``: each tamper review case opened, once.

Idempotent: what was told is found by the notification's subject, so a scan run twice, or
after a crash, tells nothing twice."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from cloud_api.notifications import repository
from cloud_api.notifications.schemas import EventType
from cloud_api.notifications.service import notify


def scan(session: Session, now: datetime, offline_after: timedelta, limit: int = 1000) -> int:
    """Tell what is new; returns how many notifications were recorded."""
    told = 0
    for robot in repository.offline_robots(session, now - offline_after, limit):
        subject_id = repository.absence_key(robot.id, robot.last_seen_at)
        notify(
            session,
            tenant_id=robot.tenant_id,
            event=EventType.ROBOT_OFFLINE,
            subject=("robot_absence", subject_id),
            payload={
                "robot_id": str(robot.id),
                "serial_number": robot.serial_number,
                "since": robot.last_seen_at.isoformat(),
            },
            now=now,
        )
        told += 1
    for case in repository.tamper_cases_untold(session, limit):
        notify(
            session,
            tenant_id=case.tenant_id,
            event=EventType.TAMPER_CASE_OPENED,
            subject=("review_case", case.id),
            payload={
                "robot_id": str(case.robot_id),
                "serial_number": case.serial_number,
                "case": case.id,
                "reason": case.reason,
                "opened_at": case.opened_at.isoformat(),
            },
            now=now,
        )
        told += 1
    return told
