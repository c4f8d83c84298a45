"""Risk engine benchmark: fleet scoring, feature building, end-to-end rescoring.

    python bench/risk_bench.py                      # print the markdown section
    python bench/risk_bench.py --output docs/benchmarks.md

Each measurement runs beside its baselines in the same run: a plain Python loop, and the same
computation in SQL inside PostgreSQL (a scratch database cloned from robocover_template, dropped
at the end). Slow baselines run on a subset and report their rate; the subset is stated.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import psycopg
from sqlalchemy import Connection, create_engine, pool, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import write_section
from bench.risk_baselines import START, python_fold, score_python_loop, sql_scoring_query
from bench.risk_end_to_end import end_to_end
from database.settings import CloudSettings
from risk_engine.copy import write_frame
from risk_engine.features.credible import class_codes, credible_features
from risk_engine.features.state import MetricRoles, fold_rollups
from risk_engine.kernels._types import IntArray
from risk_engine.plans.default import starter_plan
from risk_engine.plans.schema import RatingPlan
from risk_engine.scoring import (
    CompiledFactors,
    FleetInputs,
    class_rates,
    compile_factors,
    score_fleet,
)
from risk_engine.simulate import simulate_features
from risk_engine.simulate_telemetry import (
    SIMULATED_METRICS,
    rollup_frame,
    simulate_hours,
)


@dataclass(frozen=True)
class Timing:
    best: float
    median: float


def timed(function: Callable[[], object], repeat: int) -> Timing:
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        function()
        runs.append(time.perf_counter() - began)
    return Timing(min(runs), statistics.median(runs))


def alternating(functions: list[Callable[[], object]], rounds: int) -> list[Timing]:
    """Each function timed once per round, in turn, so drift of the machine's speed during the
    run falls on all of them alike."""
    runs: list[list[float]] = [[] for _ in functions]
    for _ in range(rounds):
        for function, times in zip(functions, runs, strict=True):
            began = time.perf_counter()
            function()
            times.append(time.perf_counter() - began)
    return [Timing(min(times), statistics.median(times)) for times in runs]


@contextmanager
def scratch_database(settings: CloudSettings) -> Iterator[str]:
    name = f"rc_bench_risk_{uuid.uuid4().hex[:8]}"
    admin = settings.libpq_url.rpartition("/")[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE robocover_template')
    url = settings.libpq_url.rpartition("/")[0] + "/" + name
    try:
        yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- 1. scoring ------------------------------------------------------------------------------


def fleet_inputs(plan: RatingPlan, features: pl.DataFrame, factors: CompiledFactors) -> FleetInputs:
    rng = np.random.default_rng(0)
    n = features.height
    base_frequency, base_severity, k = class_rates(plan, features.get_column("robot_class"))
    return FleetInputs(
        base_frequency=base_frequency,
        base_severity=base_severity,
        credibility_k=k,
        prior_utilisation=np.array(
            [plan.utilisation_of(c) for c in features.get_column("robot_class")]
        ),
        exposure_h=features.get_column("exposure_h").to_numpy() / 10.0,
        elapsed_h=np.full(n, 720.0),
        claim_count=rng.poisson(0.3, n).astype(np.float64),
        experience_h=rng.uniform(0.0, 9000.0, n),
        previous_premium=np.where(rng.random(n) < 0.2, np.nan, rng.uniform(500.0, 5000.0, n)),
        previous_contributions=rng.normal(0.0, 0.2, (n, len(factors.names))),
    )


def slice_inputs(inputs: FleetInputs, rows: slice) -> FleetInputs:
    return FleetInputs(**{f: getattr(inputs, f)[rows] for f in inputs.__dataclass_fields__})


def score_vectorized(
    plan: RatingPlan, features: pl.DataFrame, inputs: FleetInputs, codes: IntArray, threads: int
) -> None:
    """The credible rates, the factors on the features, then the score: the inputs' other
    arrays and the robots' class codes are given (looked up once per fleet, as base rates).
    With several threads each takes a slice of the fleet, factors and scoring alike (numpy
    releases the GIL in its loops)."""
    features = credible_features(plan, features, codes)  # nothing to do for a plan without priors
    if threads == 1:
        score_fleet(plan, compile_factors(plan, features), inputs)
        return
    bounds = np.linspace(0, features.height, threads + 1).astype(int)
    parts = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]

    def part(rows: slice) -> None:
        sliced = features.slice(rows.start, rows.stop - rows.start)
        score_fleet(plan, compile_factors(plan, sliced), slice_inputs(inputs, rows))

    with ThreadPoolExecutor(threads) as executor:
        list(executor.map(part, parts))


def scoring(conn: Connection, robots: int, loop_robots: int, sql_robots: int) -> list[str]:
    plan = starter_plan(START)
    today_plan = starter_plan(START, with_priors=False)
    features = simulate_features(robots, seed=5)
    inputs = fleet_inputs(plan, features, compile_factors(plan, features))
    today_inputs = fleet_inputs(today_plan, features, compile_factors(today_plan, features))
    codes = class_codes(plan.robot_classes, features.get_column("robot_class"))
    today, single = alternating(
        [
            lambda: score_vectorized(today_plan, features, today_inputs, codes, 1),
            lambda: score_vectorized(plan, features, inputs, codes, 1),
        ],
        rounds=9,
    )
    double = timed(lambda: score_vectorized(plan, features, inputs, codes, 2), 5)
    sample = features.head(loop_robots)
    loop = timed(lambda: score_python_loop(plan, sample), 1)
    sql_rows = features.head(sql_robots)
    bf, bs, _ = class_rates(plan, sql_rows.get_column("robot_class"))
    table = sql_rows.select(
        pl.int_range(pl.len()).alias("robot"),
        *(pl.col(f.variable) for f in plan.factors),
        pl.Series("bf", bf),
        pl.Series("bs", bs),
        pl.lit(3000.0).alias("hours"),
        pl.lit(1500.0).alias("reference"),
        *(pl.lit(0.1).alias(f"p{i}") for i in range(len(plan.factors))),
    )
    columns = ", ".join(f"{c} double precision" for c in table.columns[1:])
    conn.execute(text(f"CREATE TEMPORARY TABLE bench_features (robot bigint, {columns})"))
    write_frame(conn, "bench_features", table)
    query = text(sql_scoring_query(plan))
    in_sql = timed(lambda: conn.execute(query).all(), 2)
    return [
        f"Scoring: {robots:,} robots, {len(plan.factors)} factors + 4 contributions, premium,"
        " credibility, cap and the top four reasons each. Goal: 1,000,000 robots in < 0.25 s.",
        "",
        "| Implementation | robots | best s | median s | robots/s (best) | s per 1M robots |",
        "|---|---:|---:|---:|---:|---:|",
        _row("numpy kernels with credible rates, one thread", robots, single),
        _row("baseline: today's method (raw rates), one thread", robots, today),
        _row("numpy kernels, two threads (2 slices)", robots, double),
        _row("plain Python loop", loop_robots, loop),
        _row("SQL in PostgreSQL (LATERAL top four)", sql_robots, in_sql),
    ]


def _row(label: str, n: int, t: Timing) -> str:
    return (
        f"| {label} | {n:,} | {t.best:.3f} | {t.median:.3f} | {n / t.best:,.0f} |"
        f" {t.best * 1e6 / n:.2f} |"
    )


# --- 2. features -----------------------------------------------------------------------------


def synthetic_rollups(robots: int, hours: int) -> tuple[pl.DataFrame, MetricRoles]:
    metric_ids = {key: i + 1 for i, key in enumerate(SIMULATED_METRICS)}
    fleet = simulate_hours(
        np.random.default_rng(1).random(robots),
        START.timestamp() + 3600.0 * np.arange(hours, dtype=np.float64),
    )
    frame = rollup_frame(fleet, pl.Series(np.arange(robots, dtype=np.int32)), metric_ids)
    roles = MetricRoles.from_catalogue((i, k.partition(".")[0]) for k, i in metric_ids.items())
    return frame.select(
        "robot_id", "metric_id", "bucket", "samples", "total", "minimum", "maximum"
    ), roles


SQL_FOLD = """
SELECT robot_id, count(DISTINCT bucket),
  count(*) FILTER (WHERE metric_id = ANY(:temps)),
  count(*) FILTER (WHERE metric_id = ANY(:temps) AND maximum > 80),
  max(maximum) FILTER (WHERE metric_id = ANY(:hours)),
  min(minimum) FILTER (WHERE metric_id = ANY(:hours)),
  count(*) FILTER (WHERE metric_id = ANY(:soh)),
  sum((bucket - :start) / 3600 * total / samples)
    FILTER (WHERE metric_id = ANY(:soh)),
  max(maximum) FILTER (WHERE metric_id = ANY(:coll)),
  min(minimum) FILTER (WHERE metric_id = ANY(:coll))
FROM bench_rollups GROUP BY robot_id
"""


def features(conn: Connection, robots: int, hours: int, loop_rows: int, sql_rows: int) -> list[str]:
    frame, roles = synthetic_rollups(robots, hours)
    start = START.timestamp()
    ours = timed(lambda: fold_rollups(frame, roles, start), 3)
    subset = frame.head(loop_rows)
    loop = timed(lambda: python_fold(subset, roles), 1)
    conn.execute(
        text(
            "CREATE TEMPORARY TABLE bench_rollups (robot_id int, metric_id integer, bucket float8,"
            " samples float8, total float8, minimum float8, maximum float8)"
        )
    )
    write_frame(conn, "bench_rollups", frame.head(sql_rows))
    conn.execute(text("ANALYZE bench_rollups"))
    params = {
        "temps": roles.of("joint_temperature_c") + roles.of("motor_temperature_c"),
        "hours": roles.of("operating_hours_h"),
        "soh": roles.of("battery_soh_pct"),
        "coll": roles.of("collision_count"),
        "start": start,
    }
    in_sql = timed(lambda: conn.execute(text(SQL_FOLD), params).all(), 2)
    n = frame.height
    return [
        f"Features: {n:,} hourly rollup rows ({robots:,} robots x {hours} hours x"
        f" {n // (robots * hours)} metrics), folded into per-robot state (hours observed,"
        " thermal channel-hours, counters, trend sums; 26 statistics)."
        " Goal: >= 20,000,000 rows/s.",
        "",
        "| Implementation | rows | best s | median s | rows/s (best) |",
        "|---|---:|---:|---:|---:|",
        f"| polars group_by (fold_rollups) | {n:,} | {ours.best:.3f} | {ours.median:.3f} |"
        f" {n / ours.best:,.0f} |",
        f"| plain Python loop (7 statistics) | {loop_rows:,} | {loop.best:.3f} |"
        f" {loop.median:.3f} |"
        f" {loop_rows / loop.best:,.0f} |",
        f"| SQL in PostgreSQL (GROUP BY with FILTER, 10 statistics) | {sql_rows:,} |"
        f" {in_sql.best:.3f} | {in_sql.median:.3f} | {sql_rows / in_sql.best:,.0f} |",
    ]


def machine() -> str:
    import os

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores;"
        f" Python {platform.python_version()}, numpy {np.__version__}, polars {pl.__version__},"
        f" {platform.system()} {platform.machine()}"
    )


def run(quick: bool) -> str:
    settings = CloudSettings()
    scale = 10 if quick else 1
    lines = [
        f"Generated by `python bench/risk_bench.py` on {datetime.now(UTC):%Y-%m-%d}.",
        f"Machine: {machine()}.",
        "",
    ]
    with scratch_database(settings) as url:
        engine = create_engine(url, poolclass=pool.NullPool)
        with engine.begin() as conn:
            lines += scoring(conn, 1_000_000 // scale, 20_000 // scale, 100_000 // scale)
            lines.append("")
            lines += features(conn, 20_000 // scale, 100, 300_000 // scale, 2_000_000 // scale)
        engine.dispose()
        lines.append("")
        lines += end_to_end(url, 10_000 // scale, 12)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, help="Write the section into this markdown file.")
    parser.add_argument("--quick", action="store_true", help="A tenth of the sizes (smoke run).")
    args = parser.parse_args(argv)
    section = run(args.quick)
    print(section)
    if args.output is not None:
        write_section(args.output, "risk", "Risk engine (`bench/risk_bench.py`)", section + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
