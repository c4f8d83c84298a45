"""/v1/robots/{id}: a robot's history (events, sequence gaps; its risk scores and the
on-demand rescore are the risk domain's, in risk_endpoints.py). Thin, as endpoints.py: one
``Require``, one call of history.py."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from cloud_api.conventions import Filter, Listing, ListParams, ListQuery, Page
from cloud_api.conventions.ratelimit import ReadLimit
from cloud_api.robots import history
from cloud_api.robots.deps import Reader, aware, flag, now, router
from cloud_api.robots.repository import EVENT_ORDER
from cloud_api.robots.schemas import RobotEventOut, SequenceGapOut
from cloud_api.sessions import SessionDep
from database.models import SequenceGap
from database.models import robot_events as events

EVENTS = Listing(
    resource="robot-events",
    sort_keys={"time": events.c.time},
    tie_breaker=EVENT_ORDER,
    default_sort="-time",
    filters={
        "kind": Filter(events.c.kind),
        "min_severity": Filter(events.c.severity, int, "gte"),
        "since": Filter(events.c.time, aware, "gte"),
        "until": Filter(events.c.time, aware, "lte"),
    },
)
GAPS = Listing(
    resource="robot-gaps",
    sort_keys={"detected_at": SequenceGap.detected_at, "first_seq": SequenceGap.first_seq},
    tie_breaker=SequenceGap.first_seq,
    default_sort="-detected_at",
    filters={
        "open": Filter(SequenceGap.closed_at.is_(None), flag),
        "since": Filter(SequenceGap.detected_at, aware, "gte"),
        "until": Filter(SequenceGap.detected_at, aware, "lte"),
    },
)


@router.get("/{robot_id}/events")
def list_events(
    robot_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(EVENTS))],
) -> Page[RobotEventOut]:
    """Events in [since, until] (default: the last 7 days; at most 31 days), newest first;
    filters: kind, min_severity."""
    return history.events_page(session, principal, robot_id, query, now())


@router.get("/{robot_id}/gaps")
def list_gaps(
    robot_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    _: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(GAPS))],
) -> Page[SequenceGapOut]:
    """Sequence gaps detected in [since, until] (default 7 days, at most 31); filter: open."""
    return history.gaps_page(session, principal, robot_id, query, now())
