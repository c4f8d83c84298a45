"""Rescoring: read what is new, fold it into the feature state, score, store the history.

One transaction: the advisory lock makes concurrent rescores (the hourly one and those after
severe events) take turns, so that no rollup hour or event is folded twice. Rollup hours older than
the grace window are folded into the stored state; the more recent ones are rated provisionally
and read again next time (late batches may still change them). Events are folded once received
longer ago than the settle time.

Late batches after the grace window: a rollup row of an hour already folded that was inserted or
changed since the last read (``telemetry_hourly.updated_at`` after the state's
``rollups_updated_through``) cannot be folded on top (its old values are in the sums, maxima and
minima); the robot's rollup statistics are instead rebuilt from all its closed hours of the
period, so every row counts once, with its values as of this read. Events statistics are kept.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import polars as pl
from sqlalchemy import Connection

from risk_engine import repository as repo
from risk_engine import store
from risk_engine.features.rating import rating_features
from risk_engine.features.state import (
    ROLLUP_STATE_COLUMNS,
    fold_events,
    fold_rollups,
    merge_states,
)
from risk_engine.periods import hour_start, period_start, years_before
from risk_engine.plans.repository import StoredPlan, active_plan
from risk_engine.premiums import score_frame
from risk_engine.settings import WorkerSettings

Trigger = Literal["schedule", "severe_event", "on_demand"]


@dataclass(frozen=True)
class RescoreResult:
    """What a rescore did: robots scored, rows read, plan used; ``scores`` as stored."""

    as_of: datetime
    period_start: datetime
    plan_version: int
    rollup_rows: int
    events: int
    scores: pl.DataFrame


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _since(states: pl.DataFrame, column: str, default: datetime) -> datetime:
    earliest = states.get_column(column).min() if states.height else None
    if earliest is None:
        return default
    return datetime.fromtimestamp(float(earliest), tz=default.tzinfo)  # type: ignore[arg-type]


def _until(states: pl.DataFrame, column: str, zone: datetime) -> datetime:
    """The latest of a watermark column (not null) of a non-empty state frame."""
    latest = float(states.get_column(column).max())  # type: ignore[arg-type]
    return datetime.fromtimestamp(latest, tz=zone.tzinfo)


def _new_rows(
    rows: pl.DataFrame, watermarks: pl.DataFrame, time: str, mark: str, start: float
) -> pl.DataFrame:
    """The rows each robot has not folded yet (after its own watermark)."""
    joined = rows.join(watermarks.select("robot_id", mark), on="robot_id", how="left")
    fresh = (
        pl.col(time) >= pl.col(mark).fill_null(start)
        if time == "bucket"
        else (pl.col(time) > pl.col(mark).fill_null(start))
    )
    return joined.filter(fresh).drop(mark)


def _changed_robots(changes: pl.DataFrame, states: pl.DataFrame) -> list[str]:
    """Robots with a rollup row of an hour they have folded (before their ``rollups_through``)
    inserted or changed after their ``rollups_updated_through``."""
    late = changes.join(
        states.select("robot_id", "rollups_through", "rollups_updated_through"), on="robot_id"
    ).filter(
        (pl.col("bucket") < pl.col("rollups_through"))
        & (pl.col("updated_at") > pl.col("rollups_updated_through"))
    )
    return sorted(late.get_column("robot_id").unique().to_list())


def _reset_rollups(states: pl.DataFrame, robots: list[str], start: float) -> pl.DataFrame:
    """``states`` with the rollup statistics of ``robots`` dropped and their hours unread."""
    hit = pl.col("robot_id").is_in(robots)
    return states.with_columns(
        pl.when(hit)
        .then(pl.lit(start))
        .otherwise(pl.col("rollups_through"))
        .alias("rollups_through"),
        *(pl.when(hit).then(None).otherwise(pl.col(c)).alias(c) for c in ROLLUP_STATE_COLUMNS),
    )


def rescore(
    conn: Connection,
    settings: WorkerSettings,
    *,
    trigger: Trigger,
    robot_ids: list[uuid.UUID] | None = None,
    as_of: datetime | None = None,
    plan: StoredPlan | None = None,
) -> RescoreResult:
    """Rescore ``robot_ids`` (every robot not revoked if None) as of ``as_of`` under ``plan``
    (defaults: the database's now, the approved plan in effect then; the demo, the benchmark and
    tests replay time with them)."""
    repo.lock_rescoring(conn)
    now = repo.database_now(conn)
    as_of = now if as_of is None else as_of
    stored = active_plan(conn, as_of) if plan is None else plan
    start = period_start(as_of, settings.rating_period)
    close_before = hour_start(as_of) - timedelta(hours=settings.rollup_grace_hours)
    settled = as_of - timedelta(seconds=settings.event_settle_seconds)
    # Rollup changes are tracked in database time (updated_at), whatever as_of replays; a flush
    # that began within the settle time may not have committed yet and is read next time.
    updated_through = now - timedelta(seconds=settings.event_settle_seconds)
    robots = repo.load_robots(conn, robot_ids)
    states, carried = repo.load_states(conn, start, robot_ids)
    roles = repo.load_metric_roles(conn)
    rollups = repo.load_rollups(conn, _since(states, "rollups_through", start), roles, robot_ids)
    if states.height:
        changes = repo.load_rollup_changes(
            conn,
            updated_after=_since(states, "rollups_updated_through", start),
            updated_through=updated_through,
            period_start=start,
            before=_until(states, "rollups_through", start),
            roles=roles,
            robot_ids=robot_ids,
        )
        rebuilt = _changed_robots(changes, states)
        if rebuilt:
            states = _reset_rollups(states, rebuilt, _epoch(start))
            rollups = pl.concat(
                [
                    rollups.filter(~pl.col("robot_id").is_in(rebuilt)),
                    repo.load_rollups(conn, start, roles, [uuid.UUID(r) for r in rebuilt]),
                ]
            )
    events = repo.load_events(
        conn, _since(states, "events_through", start), settled, start, robot_ids
    )
    rollups = _new_rows(rollups, states, "bucket", "rollups_through", _epoch(start))
    events = _new_rows(events, states, "received_at", "events_through", _epoch(start))
    closed = pl.col("bucket") < _epoch(close_before)
    folded = merge_states(
        states.drop("rollups_through", "events_through", "rollups_updated_through"),
        carried,
        fold_rollups(rollups.filter(closed), roles, _epoch(start)),
        fold_events(events),
    ).join(robots.select("robot_id"), on="robot_id", how="semi")
    rated = merge_states(folded, fold_rollups(rollups.filter(~closed), roles, _epoch(start)))
    features = rating_features(
        rated,
        robots,
        repo.load_data_gaps(conn, robot_ids),
        period_start=_epoch(start),
        as_of=_epoch(as_of),
    )
    scores = score_frame(
        stored.plan,
        features,
        repo.load_experience(
            conn, years_before(start, stored.plan.credibility.experience_years), robot_ids
        ),
        repo.load_previous_scores(conn, start, robot_ids),
    )
    marks = {
        "rollups_through": _epoch(max(close_before, start)),
        "events_through": _epoch(max(settled, start)),
        "rollups_updated_through": _epoch(updated_through),
    }
    store.save_states(
        conn, folded.with_columns(pl.lit(v).alias(k) for k, v in marks.items()), start
    )
    store.save_scores(
        conn,
        scores,
        scored_at=as_of,
        period_start=start,
        plan_version=stored.version,
        trigger=trigger,
        currency=stored.plan.currency,
    )
    return RescoreResult(as_of, start, stored.version, rollups.height, events.height, scores)
