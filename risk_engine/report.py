"""Printing a rescore's summary: the fleet's premiums by class and the largest changes."""

from __future__ import annotations

import json

import polars as pl
from rich.console import Console
from rich.table import Table

from risk_engine.rescore import RescoreResult


def class_summary(scores: pl.DataFrame) -> pl.DataFrame:
    return (
        scores.group_by("robot_class")
        .agg(
            pl.len().alias("robots"),
            pl.col("premium").sum().alias("premium_total"),
            pl.col("premium").mean().alias("premium_mean"),
            pl.col("expected_frequency").mean().alias("frequency_mean"),
        )
        .sort("robot_class")
    )


def first_reason(reasons: str) -> str:
    parsed = json.loads(reasons)
    return str(parsed[0]["reason"]) if parsed else "-"


def print_summary(console: Console, result: RescoreResult, *, top: int = 5) -> None:
    scores = result.scores
    console.print(
        f"Scored [bold]{scores.height}[/] robots under plan version {result.plan_version}"
        f" (period from {result.period_start:%Y-%m-%d}); read {result.rollup_rows} new rollup"
        f" rows and {result.events} new events."
    )
    table = Table(title="Premiums by robot class")
    for column in ("class", "robots", "total premium", "mean premium", "claims / 1,000 h"):
        table.add_column(column, justify="right")
    for row in class_summary(scores).iter_rows(named=True):
        table.add_row(
            row["robot_class"],
            str(row["robots"]),
            f"{row['premium_total']:,.0f}",
            f"{row['premium_mean']:,.0f}",
            f"{row['frequency_mean']:.3f}",
        )
    console.print(table)
    highest = Table(title=f"Highest premiums (top {top})")
    for column in ("robot", "class", "premium", "technical", "first reason"):
        highest.add_column(column)
    for row in scores.sort("premium", descending=True).head(top).iter_rows(named=True):
        highest.add_row(
            row["robot_id"][:8],
            row["robot_class"],
            f"{row['premium']:,.0f}",
            f"{row['technical_premium']:,.0f}",
            first_reason(row["reasons"]),
        )
    console.print(highest)
