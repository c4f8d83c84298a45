"""`robocover demo`: runs what exists of the pipeline on the local services and says what it did."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from cloud_api.health import probe_all
from ingest.db.engine import make_engine
from ingest.fleet.repository import count_robots, upsert_robot, upsert_tenant
from ingest.models import RobotClass
from ingest.settings import CloudSettings
from migrations.runner import current_heads, upgrade

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
    robots_registered: int


def _services(settings: CloudSettings, console: Console) -> bool:
    table = Table(title="Services")
    for column in ("service", "healthy", "detail", "ms"):
        table.add_column(column)
    results = probe_all(settings)
    for result in results:
        mark = "[green]yes[/]" if result.healthy else "[red]no[/]"
        table.add_row(result.service, mark, result.detail, f"{result.latency_ms:.1f}")
    console.print(table)
    return all(result.healthy for result in results)


def _register_fleet(settings: CloudSettings, robots: int) -> int:
    engine = make_engine(settings, pool_size=1)
    try:
        with Session(engine) as session, session.begin():
            tenant_id = upsert_tenant(session, slug=DEMO_TENANT, name="Demo Fleet Ltd")
            for index in range(robots):
                robot_class, manufacturer, model = DEMO_MODELS[index % len(DEMO_MODELS)]
                upsert_robot(
                    session,
                    tenant_id=tenant_id,
                    serial_number=f"DEMO-{index:04d}",
                    robot_class=robot_class,
                    manufacturer=manufacturer,
                    model=model,
                )
            return count_robots(session, tenant_id)
    finally:
        engine.dispose()


def run_demo(settings: CloudSettings, console: Console, *, robots: int) -> DemoReport:
    console.rule("robocover demo")
    healthy = _services(settings, console)
    if not healthy:
        console.print("[red]A service is down: run `make setup` (scripts/services-up.sh) first.[/]")
        return DemoReport(False, "", 0)
    upgrade(settings.sqlalchemy_url)
    revision = ",".join(sorted(current_heads(settings.sqlalchemy_url)))
    console.print(
        f"Schema migrated to revision [bold]{revision}[/] "
        "(tenants, robots, telemetry and events hypertables)."
    )
    registered = _register_fleet(settings, robots)
    console.print(f"Tenant [bold]{DEMO_TENANT}[/] has {registered} registered robots.")
    return DemoReport(True, revision, registered)
