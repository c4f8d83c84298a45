"""/v1/robots/{id}/telemetry: one metric over a time range at a resolution, and the export of a
range as a CSV or Parquet file. Thin: one ``Require``, one call of telemetry.py."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.roles import Principal
from cloud_api.conventions.ratelimit import ReadLimit
from cloud_api.errors import problem_responses
from cloud_api.robots import telemetry
from cloud_api.robots.deps import Reader, now, router
from cloud_api.robots.schemas import Resolution, TelemetrySeries
from cloud_api.sessions import SessionDep

Since = Annotated[
    datetime | None,
    Query(description="Inclusive, with a time zone. Default: until minus an hour (raw) or a day."),
]
Until = Annotated[datetime | None, Query(description="Exclusive, with a time zone. Default: now.")]
ResolutionQuery = Annotated[
    Resolution,
    Query(
        description="raw: the samples (at most 6 hours); 1m: one-minute buckets of them (at "
        "most 2 days); 1h: the hourly rollups (at most 31 days)."
    ),
]
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, as an attachment: columns time, metric, unit, samples, mean, "
        "minimum, maximum (a raw sample is a point of one sample).",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
        "headers": {
            "Content-Disposition": {
                "description": 'attachment; filename="robot-{id}-{resolution}-{since}-{until}.csv"',
                "schema": {"type": "string"},
            }
        },
    },
    **problem_responses(400),
}


@router.get("/{robot_id}/telemetry", responses=problem_responses(400))
def read_telemetry(
    *,
    robot_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    _: ReadLimit,
    metric: Annotated[str, Query(min_length=1, max_length=70, description="A metric key")],
    resolution: ResolutionQuery = "1h",
    since: Since = None,
    until: Until = None,
) -> TelemetrySeries:
    """One metric in [since, until) at a resolution, oldest first; at most 20000 points (a 400
    naming the limit past it, or past the resolution's span)."""
    return telemetry.series(
        session,
        principal,
        robot_id,
        metric=metric,
        resolution=resolution,
        since=since,
        until=until,
        now=now(),
    )


@router.get(
    "/{robot_id}/telemetry/export",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
)
def export_telemetry(
    *,
    robot_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(Require(Action.ROBOTS_EXPORT_TELEMETRY))],
    _: ReadLimit,
    file_format: Annotated[
        telemetry.ExportFormat, Query(alias="format", description="csv or parquet")
    ] = "csv",
    metric: Annotated[
        str | None,
        Query(min_length=1, max_length=70, description="A metric key; default: every metric"),
    ] = None,
    resolution: ResolutionQuery = "1h",
    since: Since = None,
    until: Until = None,
) -> StreamingResponse:
    """The robot's telemetry in [since, until) as a file (the spans of GET .../telemetry; at
    most 500000 rows). Recorded in the audit trail."""
    exported = telemetry.export(
        session,
        principal,
        robot_id,
        file_format=file_format,
        metric=metric,
        resolution=resolution,
        since=since,
        until=until,
        now=now(),
    )
    return StreamingResponse(
        exported.chunks,
        media_type=exported.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{exported.filename}"',
            "Cache-Control": "no-store",
        },
    )
