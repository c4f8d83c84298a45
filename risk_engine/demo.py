"""`robocover risk demo`: a simulated fleet reports for some hours, is scored, reports again (one
robot turning bad), is rescored; the premiums and the reasons follow what the robots reported."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table
from sqlalchemy import Connection, create_engine, pool, text

from migrations.runner import upgrade
from risk_engine.periods import hour_start, period_start
from risk_engine.plans.default import ROBOT_CLASSES, starter_plan
from risk_engine.plans.repository import (
    PlanError,
    StoredPlan,
    active_plan,
    approve_plan,
    save_draft,
)
from risk_engine.rescore import RescoreResult, rescore
from risk_engine.settings import WorkerSettings
from risk_engine.sim_store import ensure_metrics, write_events, write_rollups
from risk_engine.simulate_telemetry import event_frame, rollup_frame, simulate_hours

DEMO_TENANT = "risk-demo"


def _register(conn: Connection, robots: int) -> list[uuid.UUID]:
    tenant = conn.execute(
        text(
            "INSERT INTO tenants (slug, name) VALUES (:s, 'Risk Demo Ltd') ON CONFLICT (slug)"
            " DO UPDATE SET name = EXCLUDED.name RETURNING id"
        ),
        {"s": DEMO_TENANT},
    ).scalar_one()
    run = uuid.uuid4().hex[:6]
    return [
        conn.execute(
            text(
                "INSERT INTO robots (tenant_id, serial_number, robot_class, manufacturer, model)"
                " VALUES (:t, :s, :c, 'Demo', 'Sim') RETURNING id"
            ),
            {"t": tenant, "s": f"RISK-{run}-{i:03d}", "c": ROBOT_CLASSES[i % 3]},
        ).scalar_one()
        for i in range(robots)
    ]


def _ensure_plan(conn: Connection, at: datetime) -> StoredPlan:
    """The plan in effect now; with none at all, the starter plan, approved for the demo."""
    try:
        return active_plan(conn, at)
    except PlanError:
        version = save_draft(conn, starter_plan(at), created_by="robocover demo")
        return approve_plan(conn, version, approved_by="demo actuary", at=at)


def _report(
    conn: Connection,
    *,
    ids: list[uuid.UUID],
    riskiness: list[float],
    start: datetime,
    hours: int,
    seed: int,
) -> None:
    buckets = start.timestamp() + 3600.0 * np.arange(hours, dtype=np.float64)
    fleet = simulate_hours(np.array(riskiness, dtype=np.float64), buckets, seed=seed)
    robot_ids = pl.Series([str(r) for r in ids])
    write_rollups(conn, rollup_frame(fleet, robot_ids, ensure_metrics(conn)))
    write_events(
        conn, event_frame(fleet, robot_ids, seed=seed), received_at=float(buckets[-1]) + 3600
    )


def _table(console: Console, before: RescoreResult, after: RescoreResult, bad: str) -> None:
    table = Table(title="Premiums after each batch of telemetry")
    for column in ("robot", "class", "premium before", "premium after", "change", "top reason"):
        table.add_column(column)
    joined = before.scores.join(after.scores, on="robot_id", suffix="_after")
    for row in joined.iter_rows(named=True):
        reasons = json.loads(row["reasons_after"])
        change = row["technical_premium_after"] / row["technical_premium"] - 1
        marker = " (turned bad)" if row["robot_id"] == bad else ""
        table.add_row(
            row["robot_id"][:8] + marker,
            row["robot_class"],
            f"{row['premium']:,.0f}",
            f"{row['premium_after']:,.0f}",
            f"{change:+.1%} technical",
            reasons[0]["reason"] if reasons else "-",
        )
    console.print(table)


def run_risk_demo(settings: WorkerSettings, console: Console, *, robots: int, hours: int) -> None:
    """Register ``robots`` demo robots, report ``hours`` hours twice, score after each."""
    console.rule("risk engine demo")
    upgrade(settings.sqlalchemy_url)
    engine = create_engine(settings.sqlalchemy_url, poolclass=pool.NullPool)
    now = datetime.now(UTC)
    start = max(
        period_start(now, settings.rating_period), hour_start(now) - timedelta(hours=2 * hours)
    )
    riskiness = [0.6 * i / (robots - 1) for i in range(robots)]
    try:
        with engine.begin() as conn:
            ids = _register(conn, robots)
            plan = _ensure_plan(conn, now)
            _report(conn, ids=ids, riskiness=riskiness, start=start, hours=hours, seed=1)
            first = rescore(
                conn,
                settings,
                trigger="on_demand",
                plan=plan,
                robot_ids=ids,
                as_of=start + timedelta(hours=hours + settings.rollup_grace_hours),
            )
            riskiness[0] = 1.0
            _report(
                conn,
                ids=ids,
                riskiness=riskiness,
                start=start + timedelta(hours=hours),
                hours=hours,
                seed=2,
            )
            second = rescore(
                conn,
                settings,
                trigger="on_demand",
                plan=plan,
                robot_ids=ids,
                as_of=start + timedelta(hours=2 * hours + settings.rollup_grace_hours),
            )
    finally:
        engine.dispose()
    console.print(
        f"Rated under approved plan version {plan.version}; robot {str(ids[0])[:8]}"
        " starts to run hot,"
        " collide and stop in the second batch."
    )
    _table(console, first, second, str(ids[0]))
