"""`robocover risk demo`: a simulated fleet reports for some hours, is scored, reports again (one
robot turning bad), is rescored; the premiums and the reasons follow what the robots reported.

The first batch falls at the end of one rating period and the second at the start of the next, so
the second score is a renewal: capped against the first period's premium, not again against the
class reference premium (within a period every rescore is capped against the same reference, and
a robot whose technical premium is outside the cap would show the same premium twice). The
robots' counters run on from one batch to the next (``simulate_hours(after=...)``)."""

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
from risk_engine.periods import period_start
from risk_engine.plans.default import ROBOT_CLASSES, starter_plan
from risk_engine.plans.repository import (
    PlanError,
    StoredPlan,
    active_plan,
    approve_plan,
    save_draft,
)
from risk_engine.plans.schema import RatingPlan
from risk_engine.rescore import RescoreResult, rescore
from risk_engine.settings import WorkerSettings
from risk_engine.sim_store import ensure_metrics, write_events, write_rollups
from risk_engine.simulate_telemetry import (
    FleetHours,
    event_frame,
    rollup_frame,
    simulate_hours,
)

DEMO_TENANT = "risk-demo"
DEMO_AUTHOR = "robocover demo"
SETTLE_MARGIN_MINUTES = 10  # > the longest event settle time (600 s)


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
    """The plan in effect now; with none at all, or only a starter plan an earlier demo approved
    that differs from today's, today's starter plan, approved for the demo."""
    starter = starter_plan(at)
    try:
        stored = active_plan(conn, at)
    except PlanError:
        pass
    else:
        if stored.created_by != DEMO_AUTHOR or _rates(stored.plan) == _rates(starter):
            return stored
    version = save_draft(conn, starter, created_by=DEMO_AUTHOR)
    return approve_plan(conn, version, approved_by="demo actuary", at=at)


def _rates(plan: RatingPlan) -> dict[str, object]:
    return plan.model_dump(mode="json", exclude={"effective_from", "effective_to"})


def _report(
    conn: Connection,
    *,
    ids: list[uuid.UUID],
    riskiness: list[float],
    start: datetime,
    hours: int,
    seed: int,
    after: FleetHours | None = None,
) -> FleetHours:
    buckets = start.timestamp() + 3600.0 * np.arange(hours, dtype=np.float64)
    fleet = simulate_hours(np.array(riskiness, dtype=np.float64), buckets, seed=seed, after=after)
    robot_ids = pl.Series([str(r) for r in ids])
    write_rollups(conn, rollup_frame(fleet, robot_ids, ensure_metrics(conn)))
    write_events(
        conn, event_frame(fleet, robot_ids, seed=seed), received_at=float(buckets[-1]) + 3600
    )
    return fleet


def _scored_at(end: datetime, settings: WorkerSettings) -> datetime:
    """When a batch ending at ``end`` is all closed (past the grace) and its events settled."""
    return end + timedelta(hours=settings.rollup_grace_hours, minutes=SETTLE_MARGIN_MINUTES)


def demo_periods(
    now: datetime, settings: WorkerSettings, hours: int
) -> tuple[datetime, datetime, datetime]:
    """(start of the first batch, start of the second, which begins a rating period): the latest
    period start after which the second batch is over and scored by ``now``; the first batch is
    scored before that period starts."""
    boundary = period_start(now, settings.rating_period)
    if _scored_at(boundary + timedelta(hours=hours), settings) > now:
        boundary = period_start(boundary - timedelta(days=1), settings.rating_period)
    first_end = boundary - timedelta(hours=settings.rollup_grace_hours + 1)
    return first_end - timedelta(hours=hours), boundary, first_end


def _table(console: Console, before: RescoreResult, after: RescoreResult, bad: str) -> None:
    table = Table(title="Premiums after each batch of telemetry")
    for column in (
        "robot",
        "class",
        "technical before",
        "technical after",
        "premium before",
        "premium after",
        "change",
        "top reason",
    ):
        table.add_column(column)
    joined = before.scores.join(after.scores, on="robot_id", suffix="_after")
    for row in joined.iter_rows(named=True):
        reasons = json.loads(row["reasons_after"])
        change = row["premium_after"] / row["premium"] - 1
        marker = " (turned bad)" if row["robot_id"] == bad else ""
        table.add_row(
            row["robot_id"][:8] + marker,
            row["robot_class"],
            f"{row['technical_premium']:,.0f}",
            f"{row['technical_premium_after']:,.0f}",
            f"{row['premium']:,.0f}",
            f"{row['premium_after']:,.0f}",
            f"{change:+.1%}",
            reasons[0]["reason"] if reasons else "-",
        )
    console.print(table)


def score_demo_fleet(
    conn: Connection,
    settings: WorkerSettings,
    *,
    plan: StoredPlan,
    ids: list[uuid.UUID],
    hours: int,
    now: datetime,
) -> tuple[RescoreResult, RescoreResult]:
    """Report ``hours`` hours of ``ids`` at the end of a rating period and score; report as many
    at the start of the next (the first robot turning bad) and score again, as a renewal."""
    first_start, second_start, first_end = demo_periods(now, settings, hours)
    riskiness = [0.6 * i / (len(ids) - 1) for i in range(len(ids))]
    fleet = _report(conn, ids=ids, riskiness=riskiness, start=first_start, hours=hours, seed=1)
    first = rescore(
        conn,
        settings,
        trigger="on_demand",
        plan=plan,
        robot_ids=ids,
        as_of=_scored_at(first_end, settings),
    )
    riskiness[0] = 1.0
    _report(
        conn,
        ids=ids,
        riskiness=riskiness,
        start=second_start,
        hours=hours,
        seed=2,
        after=fleet,
    )
    second = rescore(
        conn,
        settings,
        trigger="on_demand",
        plan=plan,
        robot_ids=ids,
        as_of=_scored_at(second_start + timedelta(hours=hours), settings),
    )
    return first, second


def run_risk_demo(settings: WorkerSettings, console: Console, *, robots: int, hours: int) -> None:
    """Register ``robots`` demo robots, report ``hours`` hours twice, score after each."""
    console.rule("risk engine demo")
    upgrade(settings.sqlalchemy_url)
    engine = create_engine(settings.sqlalchemy_url, poolclass=pool.NullPool)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            ids = _register(conn, robots)
            plan = _ensure_plan(conn, now)
            first, second = score_demo_fleet(
                conn, settings, plan=plan, ids=ids, hours=hours, now=now
            )
    finally:
        engine.dispose()
    console.print(
        f"Rated under approved plan version {plan.version}; robot {str(ids[0])[:8]}"
        " starts to run hot,"
        " collide and stop in the second batch, which opens the next rating period"
        f" ({second.period_start:%Y-%m-%d}): a renewal, capped at"
        f" +{plan.plan.cap.max_increase:.0%}/-{plan.plan.cap.max_decrease:.0%} of the premium"
        " in force."
    )
    _table(console, first, second, str(ids[0]))
