"""The baselines of bench/risk_bench.py, apart from what it measures: the same scoring as a
plain Python loop and as one SQL query inside PostgreSQL, and the same folding of rollups into
features as a Python loop. Each must agree with the engine on the rows it covers; the benchmark
reports the engine's speed as a ratio to them."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from risk_engine.features.state import MetricRoles
from risk_engine.plans.schema import RatingPlan

START = datetime(2026, 3, 1, tzinfo=UTC)  # the simulated history begins here


def _python_factor(factor: Any, x: float) -> float:
    if factor.kind == "banded":
        band = sum(1 for b in factor.breaks if x >= b)
        value = float(factor.band_log_relativities[band])
    else:
        lo = -math.inf if factor.lower is None else factor.lower
        hi = math.inf if factor.upper is None else factor.upper
        clipped = min(max(x, lo), hi)
        if factor.transform == "log1p":
            value = factor.coefficient * (math.log1p(clipped) - math.log1p(factor.reference))
        else:
            value = factor.coefficient * (clipped - factor.reference)
    return max(value, 0.0) if factor.adverse_only else value


def score_python_loop(plan: RatingPlan, features: pl.DataFrame) -> list[tuple[float, list[int]]]:
    """Today's method (raw rates, every robot capped), robot by robot, in plain Python: a
    baseline of throughput, not a reference of the credible rates."""
    multiplier = (1 + plan.loadings.risk_margin) / (
        1 - plan.loadings.expense_ratio - plan.loadings.profit_margin
    )
    rates = {c: (*plan.class_rates(c), plan.credibility.k_of(c)) for c in plan.robot_classes}
    rng = np.random.default_rng(0)
    previous = rng.normal(0.0, 0.2, (features.height, len(plan.factors) + 4)).tolist()
    out = []
    for i, row in enumerate(features.iter_rows(named=True)):
        bf, bs, k = rates[row["robot_class"]]
        logs = [_python_factor(f, row[f.variable]) for f in plan.factors]
        freq = bf * math.exp(
            sum(v for v, f in zip(logs, plan.factors, strict=False) if f.target == "frequency")
        )
        sev = bs * math.exp(
            sum(v for v, f in zip(logs, plan.factors, strict=False) if f.target == "severity")
        )
        u = plan.utilisation_of(row["robot_class"])
        hours = max(8760 * (row["exposure_h"] / 10 + u * 168) / (720 + 168), 500.0)
        expected = freq * 4000 / 1000
        z = expected / (expected + k)
        mod = z * (0.3 / expected) + (1 - z)
        technical = freq * sev * hours / 1000 * mod * multiplier
        reference = bf * bs * 8760 * u / 1000 * multiplier
        premium = max(min(max(technical, 0.75 * reference), 1.25 * reference), 150.0)
        contributions = [
            *logs,
            math.log(hours / (8760 * u)),
            math.log(mod),
            math.log(reference),
            math.log(premium / technical),
        ]
        deltas = [c - p for c, p in zip(contributions, previous[i], strict=True)]
        top = sorted(range(len(deltas)), key=lambda j: -deltas[j])[:4]
        out.append((premium, [j for j in top if deltas[j] > 1e-9]))
    return out


def sql_scoring_query(plan: RatingPlan) -> str:
    """The same premium and top-four reasons, in SQL, over a temporary table of features."""
    terms = []
    for f in plan.factors:
        x = f"f.{f.variable}"
        if f.kind == "banded":
            cases = " ".join(
                f"WHEN {x} >= {b} THEN {r}"
                for b, r in reversed(list(zip(f.breaks, f.band_log_relativities[1:], strict=True)))
            )
            expr = f"(CASE {cases} ELSE {f.band_log_relativities[0]} END)"
        else:
            lo = "-1e308" if f.lower is None else str(f.lower)
            hi = "1e308" if f.upper is None else str(f.upper)
            clipped = f"least(greatest({x}, {lo}), {hi})"
            if f.transform == "log1p":
                expr = f"{f.coefficient} * (ln(1 + {clipped}) - ln(1 + {f.reference}))"
            else:
                expr = f"{f.coefficient} * ({clipped} - {f.reference})"
        terms.append(f"greatest({expr}, 0)" if f.adverse_only else expr)
    freq = " + ".join(
        t for t, f in zip(terms, plan.factors, strict=False) if f.target == "frequency"
    )
    sev = " + ".join(t for t, f in zip(terms, plan.factors, strict=False) if f.target == "severity")
    values = ", ".join(f"({i}, ({t}) - f.p{i})" for i, t in enumerate(terms))
    # Built from the plan's own numbers, not from input.
    return (
        "SELECT f.robot, least(greatest(f.bf * exp("  # noqa: S608
        + freq
        + ") * f.bs * exp("
        + sev
        + ")"
        " * f.hours / 1000 * 1.4714, f.reference * 0.75), f.reference * 1.25) AS premium,"
        " r.reasons FROM bench_features f CROSS JOIN LATERAL (SELECT array_agg(c ORDER BY d DESC)"
        " AS reasons FROM (SELECT c, d FROM (VALUES " + values + ") v(c, d) WHERE d > 1e-9"
        " ORDER BY d DESC LIMIT 4) top) r"
    )


def python_fold(rows: pl.DataFrame, roles: MetricRoles) -> dict[int, dict[str, float]]:
    """The same per-robot statistics, row by row, in plain Python."""
    temperature = {i: 80.0 for i in roles.of("joint_temperature_c")}
    temperature |= {i: 110.0 for i in roles.of("motor_temperature_c")}
    hours_ids, soh_ids = set(roles.of("operating_hours_h")), set(roles.of("battery_soh_pct"))
    state: dict[int, dict[str, float]] = {}
    buckets: dict[int, set[float]] = {}
    for robot, metric, bucket, samples, total, low, high in rows.iter_rows():
        s = state.setdefault(
            robot,
            {
                "temp": 0.0,
                "hot": 0.0,
                "oh_max": -math.inf,
                "oh_min": math.inf,
                "soh_n": 0.0,
                "soh_ty": 0.0,
            },
        )
        buckets.setdefault(robot, set()).add(bucket)
        if metric in temperature:
            s["temp"] += 1
            s["hot"] += high > temperature[metric]
        elif metric in hours_ids:
            s["oh_max"], s["oh_min"] = max(s["oh_max"], high), min(s["oh_min"], low)
        elif metric in soh_ids:
            t = (bucket - START.timestamp()) / 3600
            s["soh_n"] += 1
            s["soh_ty"] += t * total / samples
    for robot, seen in buckets.items():
        state[robot]["observed_h"] = float(len(seen))
    return state
