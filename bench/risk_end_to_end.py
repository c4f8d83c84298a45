"""The end-to-end part of bench/risk_bench.py: an incremental rescore of a fleet after one new
hour, in a migrated scratch database, by this method and by today's (raw rates) in the same run,
beside two baselines (SQL over the whole history, a Python fold of the same new rows)."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import create_engine, pool, text

from bench.risk_baselines import START
from migrations.runner import upgrade
from risk_engine.plans.default import starter_plan
from risk_engine.plans.repository import approve_plan, save_draft
from risk_engine.rescore import rescore
from risk_engine.settings import WorkerSettings
from risk_engine.sim_store import ensure_metrics, write_events, write_rollups
from risk_engine.simulate_telemetry import event_frame, rollup_frame, simulate_hours


def end_to_end(url: str, robots: int, history_hours: int) -> list[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    upgrade(url)
    settings = WorkerSettings(database_url=url.replace("+psycopg", ""), event_settle_seconds=0)
    risk = np.random.default_rng(2).random(robots)
    with engine.begin() as conn:
        tenant = conn.execute(
            text("INSERT INTO tenants (slug, name) VALUES ('bench', 'Bench') RETURNING id")
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO robots (tenant_id, serial_number, robot_class, manufacturer, model,"
                " created_at) SELECT :t, 'B' || i, (ARRAY['industrial_arm','cobot','mobile_robot'])"
                "[1 + i % 3], 'Bench', 'B', :at FROM generate_series(1, :n) i"
            ),
            {"t": tenant, "n": robots, "at": START},
        )
        ids = pl.Series(
            conn.execute(text("SELECT id::text FROM robots ORDER BY id")).scalars().all()
        )
        # Today's method first (no rate priors), then this method, in the same run.
        version = save_draft(conn, starter_plan(START, with_priors=False), created_by="bench")
        approve_plan(conn, version, approved_by="bench", at=START)
        metric_ids = ensure_metrics(conn)

    def report(first: int, count: int, seed: int) -> int:
        fleet = simulate_hours(
            risk,
            START.timestamp() + 3600.0 * (first + np.arange(count, dtype=np.float64)),
            seed=seed,
        )
        rows = rollup_frame(fleet, ids, metric_ids)
        with engine.begin() as conn:
            write_rollups(conn, rows)
            write_events(
                conn,
                event_frame(fleet, ids, seed=seed),
                received_at=START.timestamp() + 3600.0 * (first + count),
            )
        return rows.height

    def rescore_at(hour: int) -> Any:
        with engine.begin() as conn:
            return rescore(
                conn, settings, trigger="schedule", as_of=START + timedelta(hours=hour, minutes=5)
            )

    def timed_rescore(hour: int) -> tuple[Any, float]:
        began = time.perf_counter()
        result = rescore_at(hour)
        return result, time.perf_counter() - began

    history = sum(report(h, 6, h) for h in range(0, history_hours, 6))
    rescore_at(history_hours)
    new_rows = report(history_hours, 1, 99)
    _, today = timed_rescore(history_hours + 1)
    switch = START + timedelta(hours=history_hours + 1, minutes=30)
    with engine.begin() as conn:
        version = save_draft(conn, starter_plan(switch), created_by="bench")
        approve_plan(conn, version, approved_by="bench", at=switch)
    report(history_hours + 1, 1, 98)
    result, ours = timed_rescore(history_hours + 2)
    with engine.connect() as conn:
        began = time.perf_counter()
        conn.execute(
            text(
                "SELECT robot_id, count(DISTINCT bucket), count(*) FILTER (WHERE maximum > 80),"
                " max(maximum), min(minimum), sum(total / samples) FROM telemetry_hourly"
                " WHERE bucket >= :s GROUP BY robot_id"
            ),
            {"s": START},
        ).all()
        full_sql = time.perf_counter() - began
        began = time.perf_counter()
        rows = conn.execute(
            text(
                "SELECT robot_id, metric_id, bucket, samples, total, minimum, maximum"
                " FROM telemetry_hourly WHERE bucket >= :s"
            ),
            {"s": START + timedelta(hours=history_hours - 1)},
        ).all()
        state: dict[Any, list[float]] = {}
        for robot, _, _, samples, total, low, high in rows:
            s = state.setdefault(robot, [0.0, -math.inf, math.inf, 0.0])
            s[0] += 1
            s[1], s[2], s[3] = max(s[1], high), min(s[2], low), s[3] + total / samples
        python_fold_s = time.perf_counter() - began
    engine.dispose()
    return [
        f"End to end: {robots:,} robots with {history_hours} hours of history ({history:,} rollup"
        f" rows) get one new hour ({new_rows:,} rollup rows); the rescore reads the new and grace"
        f" hours ({result.rollup_rows:,} rows) and {result.events:,} new events, folds them into"
        " the stored state, scores, and writes state and history. Goal: < 5 s.",
        "",
        "| Step | seconds |",
        "|---|---:|",
        f"| robocover incremental rescore (reads + fold + score + writes) | {ours:.2f} |",
        "| baseline: the same rescore by today's method (raw rates, no rate priors), the"
        f" hour before | {today:.2f} |",
        "| baseline: SQL aggregation over the period's whole history (no scoring) |"
        f" {full_sql:.2f} |",
        f"| baseline: reading the same new rows and folding them in a Python loop (no scoring)"
        f" | {python_fold_s:.2f} |",
    ]
