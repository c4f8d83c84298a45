"""Design matrices of rating variables, so every GLM library sees the same columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from risk_engine.kernels._types import FloatArray
from risk_engine.plans.structure import FactorSpec


@dataclass(frozen=True)
class Design:
    """matrix (n, p) without intercept; columns (p,) as (variable name, level or band key);
    base_levels: the level of each categorical variable that the intercept carries."""

    matrix: FloatArray
    columns: tuple[tuple[str, str], ...]
    base_levels: dict[str, str]


def base_level(values: pl.Series, exposure: FloatArray) -> str:
    """The level with the most exposure: the usual base of a categorical rating variable."""
    frame = pl.DataFrame({"level": values.cast(pl.String), "w": exposure})
    totals = frame.group_by("level").agg(pl.col("w").sum()).sort(["w", "level"], descending=True)
    return str(totals.item(0, "level"))


def _dummies(
    values: pl.Series, base: str, name: str
) -> tuple[list[FloatArray], list[tuple[str, str]]]:
    text = values.cast(pl.String).to_numpy()
    levels = sorted(set(text.tolist()) - {base})
    return [(text == level).astype(np.float64) for level in levels], [(name, lv) for lv in levels]


def _spec_columns(
    spec: FactorSpec, column: pl.Series, base: str
) -> tuple[list[FloatArray], list[tuple[str, str]]]:
    if spec.kind == "categorical":
        return _dummies(column, base, spec.name)
    x = column.cast(pl.Float64).to_numpy()
    if spec.kind == "banded":
        bands = np.searchsorted(np.array(spec.breaks), x, side="right")
        present = sorted(set(bands.tolist()) - {0})
        return [(bands == b).astype(np.float64) for b in present], [
            (spec.name, str(b)) for b in present
        ]
    lower = -np.inf if spec.lower is None else spec.lower
    upper = np.inf if spec.upper is None else spec.upper
    clipped = np.clip(x, lower, upper)
    if spec.transform == "log1p":
        return [np.log1p(clipped) - np.log1p(spec.reference)], [(spec.name, "")]
    return [clipped - spec.reference], [(spec.name, "")]


def build_design(
    frame: pl.DataFrame, specs: list[FactorSpec], base_variable: str | None, exposure: FloatArray
) -> Design:
    """Columns for the base variable's non-base levels, then each spec's columns."""
    arrays: list[FloatArray] = []
    columns: list[tuple[str, str]] = []
    bases: dict[str, str] = {}
    if base_variable is not None:
        bases[base_variable] = base_level(frame.get_column(base_variable), exposure)
        new, keys = _dummies(frame.get_column(base_variable), bases[base_variable], base_variable)
        arrays += new
        columns += keys
    for spec in specs:
        column = frame.get_column(spec.variable)
        if spec.kind == "categorical":
            bases[spec.name] = base_level(column, exposure)
        new, keys = _spec_columns(spec, column, bases.get(spec.name, ""))
        arrays += new
        columns += keys
    matrix = np.column_stack(arrays) if arrays else np.zeros((frame.height, 0))
    return Design(np.ascontiguousarray(matrix), tuple(columns), bases)
