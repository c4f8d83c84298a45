"""The platform's own book to fit on: a row per robot and calendar month, its telemetry features
and operating hours (as the engine rates them, from the hourly rollups and the events of that
month) joined to its claims experience (``claim_experience``: claims and incurred by month of
loss, written by the claims domain).

A robot-month enters the book if the robot reported telemetry in it or had a claim in it; a
claim in a month without telemetry keeps exposure 0 and the fit says it left it out.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl
from sqlalchemy import Connection

from risk_engine import repository as repo
from risk_engine.features.rating import rating_features
from risk_engine.features.state import fold_events, fold_rollups, merge_states

BOOK_YEARS = 3
"""How far back `robocover risk fit --from-db` reads by default: the experience window."""


def months(since: datetime, until: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The calendar months (UTC) from the one holding ``since`` to the one holding ``until``."""
    start = since.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while start < until:
        end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        yield start, end
        start = end


def _month(conn: Connection, start: datetime, end: datetime, until: datetime) -> pl.DataFrame:
    roles = repo.load_metric_roles(conn)
    state = merge_states(
        fold_rollups(repo.load_period_rollups(conn, start, end, roles), roles, start.timestamp()),
        fold_events(repo.load_period_events(conn, start, end)),
    )
    robots = repo.load_period_robots(conn, start, end)
    return rating_features(
        state.join(robots.select("robot_id"), on="robot_id", how="semi"),
        robots,
        repo.load_period_gaps(conn, start, end),
        period_start=start.timestamp(),
        as_of=min(end, until).timestamp(),
    )


def database_book(conn: Connection, since: datetime, until: datetime) -> pl.DataFrame:
    """The robot-months from ``since`` to ``until``: rating_features' columns, ``period``
    (the month's first day), claim_count and incurred (0 where no claim)."""
    claims = repo.load_monthly_claims(conn, since, until)
    parts = []
    for start, end in months(since, until):
        claimed = claims.filter(pl.col("period_start") == start.timestamp()).drop("period_start")
        features = _month(conn, start, end, until)
        reported = features.filter(pl.col("observed_h") > 0).select("robot_id")
        active = pl.concat([reported, claimed.select("robot_id")]).unique()
        parts.append(
            features.join(active, on="robot_id", how="semi")
            .join(claimed, on="robot_id", how="left")
            .with_columns(
                pl.col("claim_count").fill_null(0.0),
                pl.col("incurred").fill_null(0.0),
                pl.lit(start.date()).alias("period"),
            )
        )
    parts = [part for part in parts if part.height]
    if not parts:
        return pl.DataFrame()
    return pl.concat(parts)
