"""`robocover risk fit` on tables with rows of no exposure (zero, negative or missing), as public
insurance data has them: those rows are left out, counted and named, and the fit is the fit on
the table without them; with no row left, the command says so and exits 1."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from cloud_api.cli import app
from risk_engine.fit_command import FitSource, load_table, run_fit
from risk_engine.fitting.draft import FitError, FitRequest, FitResult, fit_plan
from risk_engine.plans.default import ROBOT_FACTORS
from risk_engine.simulate import simulate_claims, simulate_features

NOW = datetime(2026, 3, 1, tzinfo=UTC)
RTOL = 1e-12
# Before which row of the clean table each bad row goes, and its exposure (None: missing).
BAD_EXPOSURE: dict[int, float | None] = {0: 0.0, 10: 0.0, 11: -3.0, 40: None, 64: 0.0}
# Where they land in the table with them (0 = its first data row).
BAD_POSITIONS = (0, 11, 13, 43, 68)


def _with_bad_rows(
    clean: pl.DataFrame, exposure: str, claims: str, bad: dict[int, float | None]
) -> pl.DataFrame:
    """``clean`` with a copy of a neighbouring row inserted before each position in ``bad``,
    carrying that exposure and no claims."""
    clean = clean.with_columns(pl.col(exposure).cast(pl.Float64), pl.col(claims).cast(pl.Int64))
    pieces, start = [], 0
    for at, value in sorted(bad.items()):
        pieces.append(clean.slice(start, at - start))
        template = clean.slice(min(at, clean.height - 1), 1)
        pieces.append(
            template.with_columns(
                pl.lit(value, pl.Float64).alias(exposure), pl.lit(0, pl.Int64).alias(claims)
            )
        )
        start = at
    pieces.append(clean.slice(start))
    return pl.concat(pieces)


def _fit_csv(path: Path) -> FitResult:
    """What `robocover risk fit --data PATH` runs on MASS Insurance's columns."""
    return run_fit(
        FitSource(data=path),
        claims="Claims",
        exposure="Holders",
        factors=["Group", "Age"],
        base="District",
        amount=None,
        holdout=0.2,
        output=None,
        settings=None,
    )


def _assert_same_fit(result: FitResult, reference: FitResult) -> None:
    """The same holdout split, coefficients, report and plan, to rounding (sums over arrays laid
    out differently may add in another order): only the count of rows left out differs."""
    assert reference.excluded == ()
    assert result.report == pytest.approx(
        reference.report | {"excluded_rows": float(len(result.excluded))}, rel=RTOL
    )
    assert result.frequency.intercept == pytest.approx(reference.frequency.intercept, rel=RTOL)
    np.testing.assert_allclose(
        result.frequency.coefficients, reference.frequency.coefficients, rtol=RTOL
    )
    np.testing.assert_array_equal(result.design.matrix, reference.design.matrix)
    assert result.design.columns == reference.design.columns
    assert result.plan.name == reference.plan.name
    for rate, same_rate in zip(result.plan.base_rates, reference.plan.base_rates, strict=True):
        assert (rate.robot_class, rate.coverage) == (same_rate.robot_class, same_rate.coverage)
        assert rate.frequency == pytest.approx(same_rate.frequency, rel=RTOL)
        assert rate.severity == pytest.approx(same_rate.severity, rel=RTOL)
    for factor, same in zip(result.plan.factors, reference.plan.factors, strict=True):
        assert factor.model_dump(exclude={"levels", "coefficient", "band_log_relativities"}) == (
            same.model_dump(exclude={"levels", "coefficient", "band_log_relativities"})
        )
        assert factor.levels == pytest.approx(same.levels, rel=RTOL, abs=1e-12)
        assert factor.coefficient == pytest.approx(same.coefficient, rel=RTOL, abs=1e-12)
        assert factor.band_log_relativities == pytest.approx(
            same.band_log_relativities, rel=RTOL, abs=1e-12
        )


@pytest.fixture
def insurance_csvs(tmp_path: Path) -> tuple[Path, Path]:
    """MASS Insurance as a CSV, and the same with five rows of no exposure among its rows."""
    clean = load_table(FitSource(rdataset="MASS/Insurance"))
    dirty = _with_bad_rows(clean, "Holders", "Claims", BAD_EXPOSURE)
    clean_path, dirty_path = tmp_path / "clean.csv", tmp_path / "dirty.csv"
    clean.write_csv(clean_path)
    dirty.write_csv(dirty_path)
    return clean_path, dirty_path


def test_fit_leaves_out_rows_without_exposure_counts_them_and_fits_the_rest(
    insurance_csvs: tuple[Path, Path],
) -> None:
    clean_path, dirty_path = insurance_csvs
    dirty_table = pl.read_csv(dirty_path)
    assert dirty_table.height == 64 + len(BAD_EXPOSURE)
    holders = dirty_table.get_column("Holders")
    assert holders.null_count() == 1
    assert (holders.fill_null(0.0) <= 0).sum() == len(BAD_EXPOSURE)

    result = _fit_csv(dirty_path)
    reference = _fit_csv(clean_path)

    assert result.excluded == BAD_POSITIONS
    assert result.excluded_claims == 0.0
    assert result.report["excluded_rows"] == len(BAD_EXPOSURE)
    assert result.plan.fit_report["excluded_rows"] == len(BAD_EXPOSURE)
    assert result.report["rows"] == 64
    assert reference.report["excluded_rows"] == 0
    _assert_same_fit(result, reference)


def test_fit_command_names_the_rows_it_leaves_out(insurance_csvs: tuple[Path, Path]) -> None:
    _, dirty_path = insurance_csvs
    result = CliRunner().invoke(
        app,
        [
            "risk",
            "fit",
            "--data",
            str(dirty_path),
            "--claims",
            "Claims",
            "--exposure",
            "Holders",
            "--factor",
            "Group",
            "--factor",
            "Age",
            "--base",
            "District",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = ", ".join(str(i + 1) for i in BAD_POSITIONS)
    printed = " ".join(result.output.split())  # as the console wrapped it, unwrapped
    assert (
        f"excluded 5 rows whose exposure is missing, zero, negative or infinite (rows {rows});"
        " without claims they add nothing to a Poisson likelihood with an exposure offset"
    ) in printed
    assert "excluded_rows" in result.output
    assert "holdout_gini" in result.output


def test_fit_command_with_no_exposed_row_says_so_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "none.csv"
    path.write_text("Claims,Holders,Group\n0,0,a\n1,,b\n0,-2,a\n")
    result = CliRunner().invoke(
        app,
        [
            *("risk", "fit", "--data", str(path)),
            *("--claims", "Claims", "--exposure", "Holders", "--factor", "Group"),
        ],
    )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "cannot fit: no row to fit: all 3 rows have a missing, zero, negative or infinite" in (
        " ".join(result.output.split())
    )
    assert "Traceback" not in result.output


def test_severity_fit_leaves_out_the_same_rows_and_counts_their_claims() -> None:
    """Frequency and severity on a simulated fleet: rows without exposure, one of them with a
    claim (an error in the data), change nothing in the plan fitted on the other rows."""
    clean = simulate_claims(simulate_features(3000, seed=5), seed=6)
    bad = {7: 0.0, 500: -1.0, 2999: None}
    dirty = _with_bad_rows(clean, "exposure_h", "claim_count", bad)
    dirty = dirty.with_columns(
        pl.when(pl.int_range(pl.len()) == 7)
        .then(pl.lit(2, pl.Int64))
        .otherwise(pl.col("claim_count"))
        .alias("claim_count")
    )
    request = FitRequest(
        claims="claim_count",
        exposure="exposure_h",
        factors=ROBOT_FACTORS,
        base_variable="robot_class",
        amount="incurred",
    )
    result = fit_plan(dirty, request, effective_from=NOW)
    reference = fit_plan(clean, request, effective_from=NOW)
    assert result.excluded == (7, 501, 3001)
    assert result.excluded_claims == 2.0
    assert result.report["excluded_rows"] == 3
    assert result.severity is not None
    assert reference.severity is not None
    np.testing.assert_allclose(
        result.severity.coefficients, reference.severity.coefficients, rtol=RTOL
    )
    _assert_same_fit(result, reference)


def test_fit_plan_with_no_exposed_row_raises() -> None:
    frame = pl.DataFrame({"c": [0, 1], "e": [0.0, None], "g": ["a", "b"]})
    request = FitRequest(claims="c", exposure="e", factors=())
    with pytest.raises(FitError, match="all 2 rows"):
        fit_plan(frame, request, effective_from=NOW)
