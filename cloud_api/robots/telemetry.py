"""A robot's telemetry over a time range, at a resolution, as the API reads and exports it.

Three resolutions, each read where it is cheapest: ``raw`` the samples of the telemetry
hypertable, ``1m`` one-minute buckets of those samples (TimescaleDB's time_bucket: count,
mean, minimum, maximum), ``1h`` the hourly rollups the ingest keeps (kept after raw chunks are
dropped). Each bounds the span of one request (RESOLUTIONS) and the rows it returns
(MAX_POINTS for the JSON series, MAX_EXPORT_ROWS for a file): past either, a 400 that names
the limit and says what to do, never a truncated answer passed off as complete.

An export is the same read, every metric unless one is named, framed by polars and written
as CSV or Parquet; it is recorded in the audit trail (who took which robot's data).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import polars as pl
from sqlalchemy.orm import Session

from cloud_api.access.actions import Action
from cloud_api.access.roles import Principal
from cloud_api.audit import service as audit
from cloud_api.conventions import InvalidQueryError
from cloud_api.robots import repository
from cloud_api.robots.fleet import visible
from cloud_api.robots.history import time_range
from cloud_api.robots.schemas import Resolution, TelemetryPoint, TelemetrySeries

ExportFormat = Literal["csv", "parquet"]


@dataclass(frozen=True, slots=True)
class Bounds:
    step: timedelta | None
    """The bucket width (None: raw samples); ``since`` is floored to it."""
    default_span: timedelta
    max_span: timedelta


RESOLUTIONS: Final[dict[str, Bounds]] = {
    "raw": Bounds(None, timedelta(hours=1), timedelta(hours=6)),
    "1m": Bounds(timedelta(minutes=1), timedelta(days=1), timedelta(days=2)),
    "1h": Bounds(timedelta(hours=1), timedelta(days=1), timedelta(days=31)),
}
MAX_POINTS: Final = 20_000
MAX_EXPORT_ROWS: Final = 500_000
CSV_CHUNK_ROWS: Final = 10_000
PARQUET_CHUNK_BYTES: Final = 1 << 20
MEDIA_TYPES: Final[dict[str, str]] = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
SCHEMA: Final[dict[str, pl.DataType]] = {
    "time": pl.Datetime("us", "UTC"),
    "metric": pl.String(),
    "unit": pl.String(),
    "samples": pl.Int64(),
    "mean": pl.Float64(),
    "minimum": pl.Float64(),
    "maximum": pl.Float64(),
}


class TooManyPointsError(InvalidQueryError):
    title = "Too many points"


def _floor(moment: datetime, step: timedelta | None) -> datetime:
    if step is None:
        return moment
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return moment - (moment - epoch) % step


def bounded_range(
    resolution: Resolution, since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """[since, until) for this resolution: defaults, at most its span (400 otherwise), since
    floored to the start of its bucket."""
    bounds = RESOLUTIONS[resolution]
    since, until = time_range(
        since, until, now=now, default=bounds.default_span, maximum=bounds.max_span
    )
    return _floor(since, bounds.step), until


def _points(
    session: Session,
    robot_id: uuid.UUID,
    *,
    metric: str | None,
    resolution: Resolution,
    span: tuple[datetime, datetime],
    limit: int,
) -> list[dict[str, object]]:
    query = repository.telemetry_points(robot_id, metric, resolution, *span).limit(limit + 1)
    rows = [dict(row._mapping) for row in session.execute(query)]
    if len(rows) > limit:
        coarser = "; or ask for a coarser resolution" if resolution != "1h" else ""
        raise TooManyPointsError(
            f"more than {limit} points at resolution {resolution} in this range: ask for a "
            f"shorter range{coarser}"
        )
    return rows


def series(
    session: Session,
    principal: Principal,
    robot_id: uuid.UUID,
    *,
    metric: str,
    resolution: Resolution,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> TelemetrySeries:
    """One metric of the robot in [since, until) at ``resolution`` (at most MAX_POINTS)."""
    robot = visible(session, principal, robot_id)
    span = bounded_range(resolution, since, until, now)
    rows = _points(
        session, robot.id, metric=metric, resolution=resolution, span=span, limit=MAX_POINTS
    )
    return TelemetrySeries(
        robot_id=robot.id,
        metric=metric,
        unit=str(rows[0]["unit"]) if rows else None,
        resolution=resolution,
        since=span[0],
        until=span[1],
        points=[TelemetryPoint.model_validate(row) for row in rows],
    )


@dataclass(frozen=True, slots=True)
class Export:
    filename: str
    media_type: str
    chunks: Iterator[bytes]
    rows: int


def export(
    session: Session,
    principal: Principal,
    robot_id: uuid.UUID,
    *,
    file_format: ExportFormat,
    metric: str | None,
    resolution: Resolution,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> Export:
    """The robot's telemetry in [since, until) (one metric, or all) as a CSV or Parquet file,
    at most MAX_EXPORT_ROWS rows; the export is audited."""
    robot = visible(session, principal, robot_id)
    span = bounded_range(resolution, since, until, now)
    rows = _points(
        session,
        robot.id,
        metric=metric,
        resolution=resolution,
        span=span,
        limit=MAX_EXPORT_ROWS,
    )
    frame = pl.DataFrame(rows, schema=SCHEMA, orient="row")
    audit.record(
        session,
        principal,
        Action.ROBOTS_EXPORT_TELEMETRY,
        target_type="robot",
        target_id=robot.id,
        tenant_id=robot.tenant_id,
        detail={
            "format": file_format,
            "metric": metric,
            "resolution": resolution,
            "since": span[0].isoformat(),
            "until": span[1].isoformat(),
            "rows": frame.height,
        },
    )
    first, last = (moment.astimezone(UTC) for moment in span)
    stamp = f"{first:%Y%m%dT%H%M%SZ}-{last:%Y%m%dT%H%M%SZ}"
    chunks = _csv_chunks(frame) if file_format == "csv" else _parquet_chunks(frame)
    return Export(
        filename=f"robot-{robot.id}-{resolution}-{stamp}.{file_format}",
        media_type=MEDIA_TYPES[file_format],
        chunks=chunks,
        rows=frame.height,
    )


def _csv_chunks(frame: pl.DataFrame) -> Iterator[bytes]:
    """The CSV a slice of rows at a time (the header with the first): the body is sent as it
    is written, not built whole first."""
    yield frame.head(0).write_csv().encode()
    for offset in range(0, frame.height, CSV_CHUNK_ROWS):
        part = frame.slice(offset, CSV_CHUNK_ROWS)
        yield part.write_csv(include_header=False).encode()


def _parquet_chunks(frame: pl.DataFrame) -> Iterator[bytes]:
    """Parquet's footer comes last, so the file is written whole (bounded by the row cap),
    then sent a megabyte at a time."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    view = buffer.getbuffer()
    for offset in range(0, len(view), PARQUET_CHUNK_BYTES):
        yield bytes(view[offset : offset + PARQUET_CHUNK_BYTES])
