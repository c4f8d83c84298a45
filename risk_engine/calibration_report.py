"""The calibration report: tables on the console, a chart as SVG, the figures as JSON.

``robocover risk calibrate`` on a simulated fleet with known hazards (the engine's technical
premium against each robot's true expected loss, by window of telemetry and by predicted
decile), or on a table of claims (actual over expected claims by exposure band and by predicted
decile). The same figures go into the fit report of ``robocover risk fit --simulated``.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

from risk_engine.calibration import (
    SimulatedFleet,
    WindowResult,
    calibration_rows,
    decile_rows,
    measure,
    skewed_riskiness,
    uniform_riskiness,
)
from risk_engine.kernels.lorenz import gini_index
from risk_engine.plans.schema import RatingPlan
from risk_engine.scoring import class_rates, compile_factors

RISKINESS = {"uniform": uniform_riskiness, "skewed": skewed_riskiness}
EXPOSURE_BANDS_H = (0.0, 24.0, 168.0, 720.0, 2000.0)


@dataclass(frozen=True)
class Calibration:
    """What a calibration measured: by window (or exposure band) and by predicted decile."""

    by_window: pl.DataFrame
    by_decile: pl.DataFrame
    source: str

    def report_figures(self) -> dict[str, float]:
        """Flat figures for a plan's fit report: ``calibration.<hours>h.<measure>``."""
        figures: dict[str, float] = {}
        for row in self.by_window.iter_rows(named=True):
            window = f"calibration.{row['hours']:g}h"
            for measure_name in ("mean_log_error", "spread", "total_ratio", "gini"):
                if measure_name in row and row[measure_name] is not None:
                    figures[f"{window}.{measure_name}"] = float(row[measure_name])
        return figures


def simulated(
    plan: RatingPlan, truth: RatingPlan, robots: int, seed: int, riskiness: str
) -> Calibration:
    """The plan on a simulated fleet, new business after each window of telemetry."""
    fleet = SimulatedFleet.draw(robots, seed=seed, riskiness=RISKINESS[riskiness])
    results: list[WindowResult] = measure(plan, truth, fleet, seed=seed)
    return Calibration(
        calibration_rows(results),
        decile_rows(results[0]),
        f"{robots:,} simulated robots, riskiness {riskiness}, seed {seed}; deciles after"
        f" {results[0].hours} h",
    )


def with_claims(
    plan: RatingPlan, table: pl.DataFrame, claims: str = "claim_count", exposure: str = "exposure_h"
) -> Calibration:
    """The plan on a book with claims: the plan's expected claims (its frequency at the
    features as the table holds them, i.e. as they were rated, x exposure) against the
    claims, by exposure band and by decile of the predicted frequency."""
    features = table
    factors = compile_factors(plan, features)
    base, _, _ = class_rates(plan, features.get_column("robot_class"))
    logs = factors.log_relativities[:, factors.frequency_factors].sum(axis=1)
    frequency = base * np.exp(logs)
    hours = features.get_column(exposure).to_numpy()
    expected = frequency * hours / 1000.0
    actual = features.get_column(claims).cast(pl.Float64).to_numpy()
    edges = np.array(EXPOSURE_BANDS_H[1:])
    labels = [f"{low:g}-{high:g} h" for low, high in itertools.pairwise(EXPOSURE_BANDS_H)]
    labels.append(f">= {EXPOSURE_BANDS_H[-1]:g} h")
    band = np.searchsorted(edges, hours, side="right")
    frame = pl.DataFrame(
        {"band_index": band, "hours": hours, "expected": expected, "actual": actual}
    )
    by_band = (
        frame.group_by("band_index")
        .agg(
            pl.col("hours").max().alias("hours"),
            pl.len().alias("robots"),
            (pl.col("actual").sum() / pl.col("expected").sum()).alias("actual_over_expected"),
        )
        .sort("band_index")
        .with_columns(
            pl.col("band_index")
            .replace_strict(list(range(len(labels))), labels, return_dtype=pl.String)
            .alias("band")
        )
        .select("band", "hours", "robots", "actual_over_expected")
    )
    gini = gini_index(frequency, actual, hours)
    by_band = by_band.with_columns(pl.lit(gini).alias("gini"))
    order = np.argsort(frequency, kind="stable")
    rows = []
    for decile, members in enumerate(np.array_split(order, 10), start=1):
        rows.append(
            {
                "decile": decile,
                "robots": int(members.size),
                "mean_predicted": float(frequency[members].mean()),
                "actual_over_expected": float(actual[members].sum() / expected[members].sum()),
            }
        )
    return Calibration(by_band, pl.DataFrame(rows), f"{table.height:,} rows with claims")


HEADINGS = {
    "operating_hours": "op. h",
    "mean_log_error": "mean log err",
    "mean_squared_log_error": "MSLE",
    "class_rate_mean_squared_log_error": "class MSLE",
    "total_ratio": "total/true",
    "gini_ceiling": "ceiling",
    "mean_predicted": "mean predicted",
    "actual_over_expected": "A/E",
}


def _cell(value: object) -> str:
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.1f}" if abs(value) >= 100 else f"{value:.3f}"
    return str(value)


def print_calibration(console: Console, calibration: Calibration) -> None:
    """The two tables (they fit an 80-column terminal)."""
    console.print(f"Calibration on {calibration.source}")
    for title, frame in (
        ("By window of telemetry", calibration.by_window),
        ("By decile of the predicted premium", calibration.by_decile),
    ):
        table = Table(title=title)
        for column in frame.columns:
            table.add_column(HEADINGS.get(column, column.replace("_", " ")), justify="right")
        for row in frame.iter_rows():
            table.add_row(*(_cell(v) for v in row))
        console.print(table)


def write_chart(calibration: Calibration, path: Path) -> None:
    """Two panels: the mean log error (with its spread) by window, or A/E by exposure band; and
    actual over expected by predicted decile. SVG, no network, no display."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    window = calibration.by_window
    if "mean_log_error" in window.columns:
        x = np.arange(window.height)
        left.errorbar(
            x,
            window.get_column("mean_log_error").to_numpy(),
            yerr=window.get_column("spread").to_numpy(),
            fmt="o-",
            capsize=4,
            label="technical / true (mean ± spread)",
        )
        left.set_xticks(x, [f"{h:g} h" for h in window.get_column("hours")])
        left.set_ylabel("log error")
        left.axhline(0.0, color="grey", linewidth=0.8)
        left.legend(loc="lower right", fontsize=8)
        left.set_title("Technical premium against the truth, by hours of telemetry")
    else:
        left.bar(window.get_column("band"), window.get_column("actual_over_expected"))
        left.axhline(1.0, color="grey", linewidth=0.8)
        left.set_title("Actual over expected claims, by exposure band")
    decile = calibration.by_decile
    right.bar(decile.get_column("decile"), decile.get_column("actual_over_expected"))
    right.axhline(1.0, color="grey", linewidth=0.8)
    right.set_xlabel("decile of the predicted premium")
    right.set_ylabel("actual over expected")
    right.set_title("By predicted decile")
    figure.tight_layout()
    figure.savefig(path, format="svg")
    plt.close(figure)


def write_figures(calibration: Calibration, path: Path) -> None:
    document = {
        "source": calibration.source,
        "by_window": calibration.by_window.to_dicts(),
        "by_decile": calibration.by_decile.to_dicts(),
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
