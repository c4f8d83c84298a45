"""The installed commands, run as a user runs them: as separate processes on the real services."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool, text

from database.settings import CloudSettings
from migrations.runner import alembic_config
from tests.support.broker import MosquittoBroker

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parents[2]


def _run(
    args: list[str], settings: CloudSettings, broker: MosquittoBroker
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ROBOCOVER_DATABASE_URL": settings.libpq_url,
        "ROBOCOVER_MQTT_URL": broker.url,
        "ROBOCOVER_MQTT_USERNAME": broker.cloud_credentials.username,
        "ROBOCOVER_MQTT_PASSWORD": broker.cloud_credentials.password,
        "ROBOCOVER_MQTT_ADMIN_PASSWORD": broker.admin_credentials.password,
        "ROBOCOVER_LOG_FORMAT": "json",
    }
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_migrate_downgrade_and_upgrade_again(
    fresh_database: CloudSettings, mqtt_broker: MosquittoBroker
) -> None:
    down = _run(
        [str(BIN / "robocover"), "migrate", "--downgrade", "--revision", "base"],
        fresh_database,
        mqtt_broker,
    )
    assert down.returncode == 0, down.stderr
    assert down.stdout.strip() == "database at revision base"
    up = _run([str(BIN / "robocover"), "migrate"], fresh_database, mqtt_broker)
    assert up.returncode == 0, up.stderr
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert up.stdout.strip() == f"database at revision {head}"
    assert '"logger":"alembic.runtime.migration"' in up.stderr


def test_demo_runs_the_pipeline_and_says_what_landed(
    fresh_database: CloudSettings, mqtt_broker: MosquittoBroker
) -> None:
    result = _run(
        [str(BIN / "robocover"), "demo", "--robots", "3", "--duration", "6"],
        fresh_database,
        mqtt_broker,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    engine = create_engine(fresh_database.sqlalchemy_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        landed = conn.execute(
            text(
                "SELECT count(*) FROM telemetry t JOIN robots r ON r.id = t.robot_id"
                " JOIN tenants n ON n.id = r.tenant_id WHERE n.slug = 'demo-fleet'"
            )
        ).scalar_one()
        enrolled = conn.execute(
            text(
                "SELECT robot_class, count(*) FROM robots r JOIN tenants n ON n.id = r.tenant_id"
                " WHERE n.slug = 'demo-fleet' AND r.status = 'active'"
                " AND r.signing_public_key IS NOT NULL GROUP BY 1"
            )
        ).all()
        premiums = conn.execute(text("SELECT count(*) FROM risk_scores")).scalar_one()
    engine.dispose()
    assert landed > 0
    assert f"{landed:,} samples in" in result.stdout  # it says what landed, and it is true
    assert dict(enrolled) == {"industrial_arm": 1, "cobot": 1, "mobile_robot": 1}
    assert "Premiums after each batch of telemetry" in result.stdout
    assert premiums > 0


def test_demo_fails_clearly_when_a_service_is_down(
    fresh_database: CloudSettings, tmp_path: Path
) -> None:
    absent = MosquittoBroker(tmp_path)  # never started: nothing listens on its port
    result = _run([str(BIN / "robocover"), "demo"], fresh_database, absent)
    assert result.returncode == 1
    assert "A service is down" in result.stdout


def test_agent_command_runs_from_its_console_script() -> None:
    result = subprocess.run(
        [str(BIN / "robocover-agent"), "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith("robocover-agent ")


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("apt-get") is None, reason="needs root on Debian"
)
def test_services_setup_is_idempotent() -> None:
    """A second run of the setup changes nothing: it only says that all is ready."""
    result = subprocess.run(
        ["bash", str(PROJECT / "scripts" / "services-up.sh")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if line.startswith("[services] ready:")
    ]
    assert len(result.stderr.strip().splitlines()) == 1
