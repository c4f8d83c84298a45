"""Writing the feature state and the score history, by COPY into a temporary table and one
set-based statement."""

from __future__ import annotations

from datetime import datetime

import polars as pl
from sqlalchemy import Connection, text

from database.models.score import SCORE_FIGURES
from database.models.state import STATE_COLUMNS, TIMESTAMPS
from risk_engine.copy import write_frame


def _to_timestamp(column: str) -> str:
    return f"to_timestamp({column})" if column in TIMESTAMPS else column


def save_states(conn: Connection, state: pl.DataFrame, period_start: datetime) -> None:
    """Upsert the period's state rows: robot_id, rollups_through, events_through and
    rollups_updated_through (epoch s), and every state column (timestamps as epoch s)."""
    marks = ["rollups_through", "events_through", "rollups_updated_through"]
    columns = ["robot_id", *marks, *STATE_COLUMNS]
    conn.execute(
        text(
            "CREATE TEMPORARY TABLE risk_state_incoming (robot_id uuid, "
            + ", ".join(f"{c} double precision" for c in columns[1:])
            + ") ON COMMIT DROP"
        )
    )
    write_frame(conn, "risk_state_incoming", state.select(columns))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns[1:])
    conn.execute(
        text(
            f"INSERT INTO risk_feature_state (robot_id, period_start, {', '.join(columns[1:])},"  # noqa: S608
            " updated_at) SELECT robot_id, :period, to_timestamp(rollups_through),"
            " to_timestamp(events_through), to_timestamp(rollups_updated_through), "
            + ", ".join(_to_timestamp(c) for c in STATE_COLUMNS)
            + ", now() FROM risk_state_incoming ON CONFLICT (robot_id, period_start) DO UPDATE"
            f" SET {updates}, updated_at = now()"
        ),
        {"period": period_start},
    )
    conn.execute(text("DROP TABLE risk_state_incoming"))


def save_scores(
    conn: Connection,
    scores: pl.DataFrame,
    *,
    scored_at: datetime,
    period_start: datetime,
    plan_version: int,
    trigger: str,
    currency: str,
) -> None:
    """Append one history row per robot: robot_id, the SCORE_FIGURES, and features,
    contributions and reasons as JSON text."""
    frame = scores.select(
        "robot_id",
        *SCORE_FIGURES,
        "features",
        "contributions",
        "reasons",
        pl.lit(scored_at).alias("scored_at"),
        pl.lit(period_start).alias("period_start"),
        pl.lit(plan_version).alias("plan_version"),
        pl.lit(trigger).alias("trigger"),
        pl.lit(currency).alias("currency"),
    )
    write_frame(conn, "risk_scores", frame)
