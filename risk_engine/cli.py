"""`robocover risk ...`: score the fleet, fit and approve rating plans, run the worker, the demo.

Imports stay light here: numpy, polars, glum and Celery load inside the commands.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from risk_engine.settings import WorkerSettings

app = typer.Typer(no_args_is_help=True, help="The risk engine: features, rating plans, premiums.")
plan_app = typer.Typer(no_args_is_help=True, help="Rating plans: store, list, approve.")
app.add_typer(plan_app, name="plan")


def _settings() -> WorkerSettings:
    from database.logs import configure_logging
    from risk_engine.settings import WorkerSettings

    settings = WorkerSettings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


@app.command()
def score(
    robot: Annotated[list[str] | None, typer.Option(help="Robot ids (default: the fleet).")] = None,
) -> None:
    """Score the whole fleet (or some robots) now, store the results, print a summary."""
    from rich.console import Console
    from sqlalchemy import create_engine, pool

    from risk_engine.plans.repository import PlanError
    from risk_engine.report import print_summary
    from risk_engine.rescore import rescore

    settings = _settings()
    engine = create_engine(settings.sqlalchemy_url, poolclass=pool.NullPool)
    ids = [uuid.UUID(r) for r in robot] if robot else None
    try:
        with engine.begin() as conn:
            result = rescore(conn, settings, trigger="on_demand", robot_ids=ids)
    except PlanError as error:
        typer.echo(f"cannot score: {error}", err=True)
        raise typer.Exit(1) from error
    finally:
        engine.dispose()
    print_summary(Console(), result)


@app.command()
def fit(  # noqa: PLR0917 (typer options)
    claims: Annotated[str, typer.Option(help="Column of claim counts.")] = "claim_count",
    exposure: Annotated[str, typer.Option(help="Column of exposure.")] = "exposure_h",
    data: Annotated[Path | None, typer.Option(help="A CSV or Parquet table.")] = None,
    rdataset: Annotated[str | None, typer.Option(help="An R dataset, e.g. MASS/Insurance.")] = None,
    simulated: Annotated[int, typer.Option(help="Simulated robots, if no data.")] = 0,
    from_db: Annotated[
        bool,
        typer.Option(
            "--from-db",
            help="Fit the platform's own book: robot-months of telemetry joined to claims.",
        ),
    ] = False,
    since: Annotated[
        datetime | None,
        typer.Option(help="With --from-db: the first month (default: three years back)."),
    ] = None,
    risk: Annotated[
        str | None,
        typer.Option(help="Column naming each row's robot: estimates the credibility k."),
    ] = None,
    factor: Annotated[list[str] | None, typer.Option(help="A categorical rating column.")] = None,
    base: Annotated[str | None, typer.Option(help="Column whose levels get base rates.")] = None,
    amount: Annotated[str | None, typer.Option(help="Column of incurred amounts.")] = None,
    holdout: Annotated[float, typer.Option(min=0.05, max=0.5)] = 0.2,
    output: Annotated[Path | None, typer.Option(help="Write the draft plan as JSON.")] = None,
    save: Annotated[bool, typer.Option("--save", help="Store the draft in the database.")] = False,
) -> None:
    """Fit frequency (Poisson) and severity (Gamma) GLMs; report holdout deviance and Gini."""
    from risk_engine.fit_command import FitSource, run_fit
    from risk_engine.fitting.draft import FitError

    source = FitSource(
        data=data,
        rdataset=rdataset,
        simulated=simulated,
        database=_settings() if from_db else None,
        since=since.replace(tzinfo=UTC) if since is not None and since.tzinfo is None else since,
    )
    settings = _settings() if save else None
    try:
        run_fit(
            source,
            claims=claims,
            exposure=exposure,
            factors=factor or [],
            base=base,
            amount=amount,
            holdout=holdout,
            output=output,
            settings=settings,
            risk=risk,
        )
    except FitError as error:
        typer.echo(f"cannot fit: {error}", err=True)
        raise typer.Exit(1) from error


@app.command()
def calibrate(  # noqa: PLR0917 (typer options)
    plan_file: Annotated[
        Path | None, typer.Option("--plan", help="A plan as JSON (default: the starter plan).")
    ] = None,
    robots: Annotated[int, typer.Option(min=100, help="Simulated robots.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the simulated fleet.")] = 11,
    riskiness: Annotated[
        str, typer.Option(help="Riskiness of the simulated fleet: uniform or skewed.")
    ] = "uniform",
    data: Annotated[
        Path | None, typer.Option(help="A table with claims (CSV or Parquet) instead.")
    ] = None,
    claims: Annotated[str, typer.Option(help="Column of claim counts (with --data).")] = (
        "claim_count"
    ),
    output: Annotated[
        Path | None, typer.Option(help="A directory for calibration.svg and calibration.json.")
    ] = None,
) -> None:
    """How well a plan's technical premiums match the truth: on a simulated fleet with known
    hazards (by hours of telemetry and by predicted decile), or on a table with claims."""
    from rich.console import Console

    from risk_engine import calibration_report as report
    from risk_engine.plans.default import starter_plan
    from risk_engine.plans.schema import RatingPlan

    if riskiness not in report.RISKINESS:
        raise typer.BadParameter(f"riskiness is one of {sorted(report.RISKINESS)}")
    now = datetime.now(UTC)
    plan = (
        starter_plan(now)
        if plan_file is None
        else RatingPlan.model_validate_json(plan_file.read_text())
    )
    if data is not None:
        from risk_engine.fit_command import FitSource, load_table

        result = report.with_claims(plan, load_table(FitSource(data=data)), claims=claims)
    else:
        truth = starter_plan(now, with_priors=False)
        result = report.simulated(plan, truth, robots, seed, riskiness)
    report.print_calibration(Console(), result)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        report.write_chart(result, output / "calibration.svg")
        report.write_figures(result, output / "calibration.json")
        typer.echo(f"chart and figures written to {output}")


@plan_app.command("load")
def plan_load(
    path: Path,
    created_by: Annotated[str, typer.Option(help="Who files the plan.")],
) -> None:
    """Store a plan (JSON) as a draft."""
    from risk_engine.plans.schema import RatingPlan

    plan = RatingPlan.model_validate_json(path.read_text())
    typer.echo(f"stored draft plan version {_store(plan, created_by)}")


@plan_app.command("starter")
def plan_starter(
    created_by: Annotated[str, typer.Option(help="Who files the plan.")],
) -> None:
    """Store the starter plan (the simulated fleet's hazards) as a draft, effective now."""
    from risk_engine.plans.default import starter_plan

    version = _store(starter_plan(datetime.now(UTC)), created_by)
    typer.echo(f"stored draft plan version {version}")


def _store(plan: object, created_by: str) -> int:
    from sqlalchemy import create_engine, pool

    from risk_engine.plans.repository import save_draft
    from risk_engine.plans.schema import RatingPlan

    assert isinstance(plan, RatingPlan)  # noqa: S101
    engine = create_engine(_settings().sqlalchemy_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            return save_draft(conn, plan, created_by=created_by)
    finally:
        engine.dispose()


@plan_app.command("approve")
def plan_approve(
    version: int, approved_by: Annotated[str, typer.Option(help="Who approves.")]
) -> None:
    """Approve a draft: from its effective date it rates, and supersedes earlier plans."""
    from sqlalchemy import create_engine, pool

    from risk_engine.plans.repository import PlanError, approve_plan

    engine = create_engine(_settings().sqlalchemy_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            stored = approve_plan(conn, version, approved_by=approved_by, at=datetime.now(UTC))
    except PlanError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    finally:
        engine.dispose()
    typer.echo(f"plan {stored.version} approved by {stored.approved_by}")


@plan_app.command("list")
def plan_list() -> None:
    """Every plan: version, status, effective dates, approver."""
    from sqlalchemy import create_engine, pool

    from risk_engine.plans.repository import list_plans

    engine = create_engine(_settings().sqlalchemy_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            plans = list_plans(conn)
    finally:
        engine.dispose()
    for stored in plans:
        until = stored.plan.effective_to.isoformat() if stored.plan.effective_to else "open"
        typer.echo(
            f"{stored.version}\t{stored.status}\t{stored.plan.effective_from.isoformat()}"
            f"\t{until}\t{stored.approved_by or '-'}\t{stored.plan.name}"
        )


@app.command()
def worker(
    beat: Annotated[bool, typer.Option("--beat", help="Also run the beat schedule.")] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """Run a Celery worker of the risk engine (rescoring) on the settings' Redis."""
    from risk_engine.worker import configure

    app_ = configure(_settings())
    # a node name of its own (celery@host for every worker otherwise: two on one host clash)
    node = f"--hostname=risk-{os.getpid()}@%h"
    arguments = ["worker", f"--concurrency={concurrency}", "--loglevel=INFO", node]
    app_.worker_main([*arguments, *(["--beat"] if beat else [])])


@app.command()
def demo(
    robots: Annotated[int, typer.Option(min=3, max=1000)] = 6,
    hours: Annotated[int, typer.Option(min=2, max=72)] = 6,
) -> None:
    """Simulate hours of telemetry for a demo fleet and show premiums follow what robots report."""
    from rich.console import Console

    from risk_engine.demo import run_risk_demo

    run_risk_demo(_settings(), Console(), robots=robots, hours=hours)
