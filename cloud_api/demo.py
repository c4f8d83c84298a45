"""`robocover demo`: the whole pipeline on the local services, saying what it did.

Simulated robots run through the real agent code (simulator -> windows -> outbox -> publisher),
enrolled through the cloud's enrollment service with keys made on the "robot" side, publish
through robocover's broker with their own accounts into a real `robocover ingest` process and
TimescaleDB; then the risk engine scores a fleet and shows premiums following what robots report.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud_api.broker_accounts import DynsecAdmin, MqttCredentials
from cloud_api.enrollment.service import enroll, issue_token
from cloud_api.health import probe_all
from cloud_api.settings import ApiSettings
from database.engine import make_engine
from database.models import BatchReceipt, RobotClass, telemetry
from edge_agent.fleet import FleetProgress, run_fleet
from edge_agent.identity import Identity, load_or_create_signer, save_identity
from edge_agent.settings import load_settings
from ingest.fleet.repository import upsert_tenant
from migrations.runner import current_heads, upgrade
from risk_engine.demo import run_risk_demo
from risk_engine.settings import WorkerSettings

DEMO_TENANT = "demo-fleet"
# (class, manufacturer, model): the kinds of robot the simulator knows.
DEMO_MODELS = [
    (RobotClass.INDUSTRIAL_ARM, "Kuka", "KR 10 R1100"),
    (RobotClass.COBOT, "Universal Robots", "UR10e"),
    (RobotClass.MOBILE_ROBOT, "MiR", "MiR250"),
]


@dataclass(frozen=True)
class DemoReport:
    services_healthy: bool
    schema_revision: str
    robots_enrolled: int
    samples_landed: int
    batches_landed: int


def _services(settings: ApiSettings, console: Console) -> bool:
    table = Table(title="Services")
    for column in ("service", "healthy", "detail", "ms"):
        table.add_column(column)
    results = probe_all(settings)
    for result in results:
        mark = "[green]yes[/]" if result.healthy else "[red]no[/]"
        table.add_row(result.service, mark, result.detail, f"{result.latency_ms:.1f}")
    console.print(table)
    return all(result.healthy for result in results)


def _enroll_fleet(settings: ApiSettings, robots: int, fleet_dir: Path) -> list[uuid.UUID]:
    """Each robot makes its key in its own state directory; the cloud registers it, issues a
    one-time token, enrolls it and creates its broker account, as `robocover-agent enroll`
    would over HTTP."""
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    engine = make_engine(settings, pool_size=1)
    enrolled: list[uuid.UUID] = []
    try:
        with (
            _admin(settings) as accounts,
            Session(engine) as session,
            session.begin(),
        ):
            upsert_tenant(session, slug=DEMO_TENANT, name="Demo Fleet Ltd")
            for index in range(robots):
                robot_class, manufacturer, model = DEMO_MODELS[index % len(DEMO_MODELS)]
                state_dir = fleet_dir / f"robot-{index:03d}"
                signer = load_or_create_signer(state_dir)
                issued = issue_token(
                    session,
                    tenant=DEMO_TENANT,
                    serial_number=f"DEMO-{run}-{index:03d}",
                    robot_class=robot_class,
                    manufacturer=manufacturer,
                    model=model,
                    ttl=timedelta(minutes=10),
                    now=now,
                )
                done = enroll(
                    session, accounts, token=issued.token, public_key=signer.public_key, now=now
                )
                identity = Identity(
                    done.robot_id,
                    done.tenant,
                    done.credentials.username,
                    done.credentials.password,
                )
                save_identity(state_dir, identity)
                enrolled.append(done.robot_id)
    finally:
        engine.dispose()
    return enrolled


def _admin(settings: ApiSettings) -> DynsecAdmin:
    if settings.mqtt_admin_password is None:
        raise RuntimeError("no broker admin password: run scripts/services-up.sh")
    return DynsecAdmin(
        host=settings.mqtt_url.host or "127.0.0.1",
        port=settings.mqtt_url.port or 1884,
        username=settings.mqtt_admin_username,
        password=settings.mqtt_admin_password.get_secret_value(),
    )


def _ingest_env(settings: ApiSettings, account: MqttCredentials) -> dict[str, str]:
    """The demo's ingest process has a broker account of its own, bound to its client id."""
    return {
        **os.environ,
        "ROBOCOVER_DATABASE_URL": settings.libpq_url,
        "ROBOCOVER_MQTT_URL": str(settings.mqtt_url),
        "ROBOCOVER_MQTT_USERNAME": account.username,
        "ROBOCOVER_MQTT_PASSWORD": account.password,
        "ROBOCOVER_MQTT_CLIENT_ID": account.username,
        "ROBOCOVER_HTTP_PORT": "0",
        "ROBOCOVER_LOG_FORMAT": "json",
    }


def _start_ingest(settings: ApiSettings, account: MqttCredentials) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "cloud_api", "ingest"]
    env = _ingest_env(settings, account)
    return subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)  # noqa: S603


def _stop_ingest(
    process: subprocess.Popen[bytes], account: MqttCredentials, settings: ApiSettings
) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    # A demo's ingest is not coming back: leave the share group without a session behind,
    # and remove its account.
    subprocess.run(
        [sys.executable, "-m", "cloud_api", "ingest", "--retire"],
        env=_ingest_env(settings, account),
        stderr=subprocess.DEVNULL,
        check=False,
        timeout=120,
    )
    with _admin(settings) as admin:
        admin.delete_clients([account.username])


def _progress_table(report: FleetProgress) -> Table:
    table = Table(title=f"Simulated fleet, {report.elapsed_s:.0f} s")
    for column in ("robots", "online", "batches stored", "awaiting commit ack", "samples dropped"):
        table.add_column(column, justify="right")
    table.add_row(
        str(report.robots),
        str(report.online),
        str(report.stored_messages),
        str(report.pending_messages),
        str(report.dropped_samples),
    )
    return table


def _landed(settings: ApiSettings, robot_ids: list[uuid.UUID]) -> tuple[int, int]:
    engine = make_engine(settings, pool_size=1)
    try:
        with Session(engine) as session:
            samples = session.scalar(
                select(func.count()).where(telemetry.c.robot_id.in_(robot_ids))
            )
            batches = session.scalar(
                select(func.count()).where(BatchReceipt.robot_id.in_(robot_ids))
            )
    finally:
        engine.dispose()
    return int(samples or 0), int(batches or 0)


def _run_fleet(
    settings: ApiSettings, console: Console, fleet_dir: Path, robots: int, duration_s: float
) -> FleetProgress:
    agent_settings = load_settings(mqtt_url=str(settings.mqtt_url).rstrip("/"))
    dirs = sorted(fleet_dir.glob("robot-*"))[:robots]
    with Live(console=console, refresh_per_second=4) as live:
        final = run_fleet(
            agent_settings,
            dirs,
            duration_s=duration_s,
            on_progress=lambda report: live.update(_progress_table(report)),
        )
        live.update(_progress_table(final))
    return final


def run_demo(
    settings: ApiSettings, console: Console, *, robots: int, duration_s: float = 20.0
) -> DemoReport:
    console.rule("robocover demo")
    if not _services(settings, console):
        console.print("[red]A service is down: run `make setup` (scripts/services-up.sh) first.[/]")
        return DemoReport(False, "", 0, 0, 0)
    upgrade(settings.sqlalchemy_url)
    revision = ",".join(sorted(current_heads(settings.sqlalchemy_url)))
    console.print(f"Schema at revision [bold]{revision}[/].")
    with _admin(settings) as admin:
        account = admin.ensure_ingest(f"robocover-demo-{uuid.uuid4().hex[:8]}")
    with tempfile.TemporaryDirectory(prefix="robocover-demo-") as tmp:
        fleet_dir = Path(tmp)
        robot_ids = _enroll_fleet(settings, robots, fleet_dir)
        console.print(
            f"Enrolled {len(robot_ids)} robots of tenant [bold]{DEMO_TENANT}[/]: keys made on the"
            " robots, public keys and broker accounts registered by the cloud."
        )
        ingest = _start_ingest(settings, account)
        try:
            time.sleep(1.0)
            final = _run_fleet(settings, console, fleet_dir, robots, duration_s)
        finally:
            _stop_ingest(ingest, account, settings)
    console.print()
    samples, batches = _landed(settings, robot_ids)
    console.print(
        f"[bold]{samples:,}[/] samples in [bold]{batches:,}[/] signed batches landed in"
        f" TimescaleDB from {robots} robots in {final.elapsed_s:.0f} s"
        f" ({final.pending_messages} batches still awaiting a commit ack when the fleet stopped;"
        " their outboxes keep them until it comes)."
    )
    worker = WorkerSettings(database_url=settings.database_url)
    run_risk_demo(worker, console, robots=max(3, min(robots, 8)), hours=24)
    return DemoReport(True, revision, len(robot_ids), samples, batches)
