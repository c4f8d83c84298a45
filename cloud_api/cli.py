"""The `robocover` command: the cloud side (services, migrations, demo; later ingest, risk, API).

Each command builds the settings of the deployable it runs and passes them down; heavy imports
happen inside the commands, so `robocover --help` stays fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cloud_api.domains import ALL, DOMAINS, Domain, parse_domains
from cloud_api.enrollment.cli import app as robots_app
from cloud_api.identity.cli import admin_app
from cloud_api.robots.cli import register as register_robot_commands
from cloud_api.robots.cli import reviews_app
from database.logs import configure_logging
from database.settings import CloudSettings
from risk_engine.cli import app as risk_app

# Locals are never shown in tracebacks: they may hold credentials.
app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="robocover, the cloud side: services, migrations, demo.",
)
services_app = typer.Typer(no_args_is_help=True, help="The local services robocover runs on.")
app.add_typer(services_app, name="services")
register_robot_commands(robots_app)
app.add_typer(robots_app, name="robots")
app.add_typer(reviews_app, name="reviews")
app.add_typer(risk_app, name="risk")
app.add_typer(admin_app, name="admin")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _cloud_settings() -> CloudSettings:
    settings = CloudSettings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


@services_app.command("up")
def services_up() -> None:
    """Install what is missing and start what is not running (Debian 12/13, as root)."""
    script = PROJECT_ROOT / "scripts" / "services-up.sh"
    if not script.exists():
        typer.echo(f"{script} is not here: run it from a checkout of robocover", err=True)
        raise typer.Exit(2)
    raise typer.Exit(subprocess.call(["bash", str(script)]))  # noqa: S603, S607


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    downgrade: Annotated[bool, typer.Option("--downgrade", help="Go down to REVISION.")] = False,
) -> None:
    """Bring the database schema to a revision (Alembic)."""
    from migrations import runner

    settings = _cloud_settings()
    if downgrade:
        runner.downgrade(settings.sqlalchemy_url, revision)
    else:
        runner.upgrade(settings.sqlalchemy_url, revision)
    heads = ",".join(sorted(runner.current_heads(settings.sqlalchemy_url))) or "base"
    typer.echo(f"database at revision {heads}")


@app.command()
def ingest(
    retire: Annotated[
        bool,
        typer.Option(
            "--retire",
            help="Drain this client id's broker session and end it, when removing a process.",
        ),
    ] = False,
) -> None:
    """Run the MQTT to TimescaleDB bridge until SIGTERM or SIGINT."""
    import asyncio

    from ingest.bridge.main import run_ingest
    from ingest.settings import IngestSettings

    settings = IngestSettings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(run_ingest(settings, retire=retire))


def _api_domains(text: str | None) -> tuple[Domain, ...] | None:
    if text is None:
        return None
    try:
        return parse_domains(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--domains") from exc


@app.command()
def api(
    domains: Annotated[
        str | None,
        typer.Option(
            help=f"The domains to serve, comma-separated, or {ALL} (default: "
            f"ROBOCOVER_API_DOMAINS, else all): {', '.join(DOMAINS)}. Probes and /metrics "
            "are always served.",
        ),
    ] = None,
) -> None:
    """Serve the API (OpenAPI at /docs) with uvicorn: every domain, or those named."""
    chosen = _api_domains(domains)
    import uvicorn

    from cloud_api.app import create_app
    from cloud_api.settings import ApiSettings

    settings = ApiSettings() if chosen is None else ApiSettings(api_domains=chosen)
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(  # the JSON access log is the app's own (conventions/request_ids.py)
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.api_forwarded_allow_ips,
    )


@app.command()
def jobs(
    beat: Annotated[bool, typer.Option("--beat", help="Also run the beat schedule.")] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """Run the Celery worker of the insurer's daily jobs (earning, expiry) on Redis."""
    from cloud_api.settings import JobSettings
    from cloud_api.worker import configure

    settings = JobSettings()
    configure_logging(settings.log_level, settings.log_format)
    # a node name of its own (celery@host for every worker otherwise: two on one host clash)
    node = f"--hostname=jobs-{os.getpid()}@%h"
    arguments = ["worker", f"--concurrency={concurrency}", "--loglevel=INFO", node]
    configure(settings).worker_main([*arguments, *(["--beat"] if beat else [])])


OPENAPI_DOCUMENT = PROJECT_ROOT / "docs" / "openapi.json"


@app.command()
def openapi(
    check: Annotated[
        bool, typer.Option("--check", help="Fail if docs/openapi.json differs from the code.")
    ] = False,
    output: Annotated[Path, typer.Option(help="Where to write the document.")] = OPENAPI_DOCUMENT,
) -> None:
    """Write the API's OpenAPI document (docs/openapi.json), or check it is current."""
    from cloud_api.app import create_app, openapi_document
    from cloud_api.settings import ApiSettings

    document = openapi_document(create_app(ApiSettings()))
    if check:
        current = output.read_text() if output.exists() else ""
        if current != document:
            typer.echo(f"{output} is stale: run `robocover openapi`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{output} is current")
        return
    output.write_text(document)
    typer.echo(f"wrote {output}")


Opt = typer.Option  # the gateway's options, each None unless given


@app.command("gateway-config")
def gateway_config(
    *,
    pool: Annotated[
        list[str] | None,
        Opt(help="NAME=DOMAIN[,DOMAIN...]@HOST:PORT[,HOST:PORT...], once per pool."),
    ] = None,
    preset: Annotated[
        str | None, Opt(help="compose or kubernetes: the committed deploy/nginx/PRESET.conf.")
    ] = None,
    listen: Annotated[str | None, Opt(help="[HOST:]PORT of TLS (443).")] = None,
    http_listen: Annotated[
        str | None, Opt(help="[HOST:]PORT of plain HTTP: /healthz, else a redirect (80); off.")
    ] = None,
    server_name: Annotated[str | None, Opt(help="nginx server_name (_: any).")] = None,
    tls_cert: Annotated[Path | None, Opt(help="The certificate chain, PEM.")] = None,
    tls_key: Annotated[Path | None, Opt(help="Its private key, PEM.")] = None,
    pid_file: Annotated[Path | None, Opt(help="/run/nginx.pid")] = None,
    error_log: Annotated[str | None, Opt(help="/var/log/nginx/error.log, or stderr")] = None,
    access_log: Annotated[Path | None, Opt(help="/var/log/nginx/access.log (JSON lines)")] = None,
    temp_dir: Annotated[
        Path | None, Opt(help="Bodies and responses that spill (/var/lib/nginx)")
    ] = None,
    user: Annotated[str | None, Opt(help="The workers' user, when nginx starts as root.")] = None,
    max_body_bytes: Annotated[
        int | None, Opt(help="413 past it; the API's limit by default.")
    ] = None,
    rate_limit: Annotated[str | None, Opt(help="Requests per client address (50r/s).")] = None,
    rate_burst: Annotated[int | None, Opt(help="Requests over the rate let through (100).")] = None,
    max_fails: Annotated[int | None, Opt(help="Failures that take a process out (1).")] = None,
    fail_timeout: Annotated[
        int | None, Opt(help="Seconds a failed process is left out (10).")
    ] = None,
    docs_pool: Annotated[
        str | None, Opt(help="The pool of /docs and /openapi.json (the first).")
    ] = None,
    openapi_file: Annotated[Path | None, Opt(help="Serve this document at /openapi.json.")] = None,
    output: Annotated[
        Path | None, Opt(help="Where to write (a preset's file, else stdout).")
    ] = None,
    check: Annotated[bool, Opt("--check", help="Fail if OUTPUT is not what this renders.")] = False,
) -> None:
    """Render the API gateway's nginx.conf (docs/gateway.md), or check a rendered one."""
    from cloud_api import gateway

    given = {
        "listen": listen, "http_listen": http_listen, "server_name": server_name,
        "tls_cert": tls_cert, "tls_key": tls_key, "pid_file": pid_file, "error_log": error_log,
        "access_log": access_log, "temp_dir": temp_dir, "user": user,
        "max_body_bytes": max_body_bytes, "rate_limit": rate_limit, "rate_burst": rate_burst,
        "max_fails": max_fails, "fail_timeout_s": fail_timeout, "docs_pool": docs_pool,
        "openapi_file": openapi_file,
    }  # fmt: skip
    options: dict[str, Any] = {
        key: (str(value.absolute()) if isinstance(value, Path) else value)
        for key, value in given.items()
        if value is not None
    }
    if options.get("http_listen") == "off":
        options["http_listen"] = None
    try:
        if preset is not None:
            if preset not in gateway.PRESETS or pool or options:
                raise typer.BadParameter(
                    f"one of {', '.join(gateway.PRESETS)}, with no other option than "
                    "--output and --check",
                    param_hint="--preset",
                )
            config = gateway.PRESETS[preset]
            output = output or PROJECT_ROOT / "deploy" / "nginx" / f"{preset}.conf"
        else:
            try:
                pools = tuple(map(gateway.parse_pool, pool or []))
            except gateway.GatewayConfigError as exc:
                raise typer.BadParameter(str(exc), param_hint="--pool") from exc
            config = gateway.Gateway(pools=pools, **options)
    except gateway.GatewayConfigError as exc:
        raise typer.BadParameter(str(exc)) from exc
    text = gateway.render(config)
    if config.unrouted:
        typer.echo(f"not routed (404 at the gateway): {', '.join(config.unrouted)}", err=True)
    if check:
        if output is None or not output.exists() or output.read_text() != text:
            typer.echo(f"{output} is stale: render it again", err=True)
            raise typer.Exit(1)
        typer.echo(f"{output} is current")
    elif output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        typer.echo(f"wrote {output}", err=True)


@app.command()
def connector() -> None:
    """Relay vendor robots' diagnostics APIs into the ingest (ROBOCOVER_CONNECTOR_CONFIG)."""
    import asyncio

    from ingest.connectors.main import run_connector
    from ingest.settings import ConnectorSettings

    settings = ConnectorSettings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(run_connector(settings))


@app.command()
def retention(
    days: Annotated[int | None, typer.Option(min=1, help="Keep this many days.")] = None,
) -> None:
    """Drop raw telemetry chunks older than the retention period, once."""
    import asyncio

    from ingest.retention import enforce_retention
    from ingest.settings import IngestSettings

    settings = IngestSettings()
    configure_logging(settings.log_level, settings.log_format)
    keep = days if days is not None else settings.telemetry_retention_days
    dropped = asyncio.run(enforce_retention(settings.libpq_url, keep))
    typer.echo(f"dropped {len(dropped)} chunks older than {keep} days")


@app.command("purge-idempotency-keys")
def purge_idempotency_keys() -> None:
    """Delete the expired Idempotency-Key replies, in batches, once (claims purge as they go;
    this is for a cron job, or after a quiet spell)."""
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from cloud_api.conventions.idempotency import PURGE_BATCH, purge_expired
    from database.engine import make_engine

    settings = _cloud_settings()
    engine = make_engine(settings, pool_size=1)
    now, purged, batch = datetime.now(UTC), 0, PURGE_BATCH
    try:
        while batch == PURGE_BATCH:
            with Session(engine) as session, session.begin():
                batch = purge_expired(session, now, limit=PURGE_BATCH)
            purged += batch
    finally:
        engine.dispose()
    typer.echo(f"purged {purged} expired idempotency keys")


@app.command()
def demo(
    robots: Annotated[int, typer.Option(min=3, max=50, help="Simulated robots.")] = 6,
    exit_when_done: Annotated[
        bool, typer.Option("--exit", help="Stop every process once the story is told.")
    ] = False,
    runs_dir: Annotated[
        Path | None,
        typer.Option(help="Where each run's directory goes (logs, robots' state, the report)."),
    ] = None,
) -> None:
    """Tell the whole story, robot to payment, on the local services with every process as
    deployed; a live summary, the logs in the run directory, the report at the end. Runs
    until Ctrl-C (or --exit)."""
    from rich.console import Console

    from cloud_api.demo import DemoOptions, run_demo
    from cloud_api.settings import ApiSettings

    settings = ApiSettings()
    options = DemoOptions(robots=robots, exit_when_done=exit_when_done, runs_dir=runs_dir)
    result = run_demo(settings, Console(), options)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def version() -> None:
    """Print robocover's version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("robocover"))


def main() -> None:
    sys.exit(app())
