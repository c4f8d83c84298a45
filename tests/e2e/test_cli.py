"""The installed commands, run as a user runs them: as separate processes on the real services."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, pool, text

from ingest.settings import CloudSettings
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
    assert up.stdout.strip() == "database at revision 0001"
    assert '"logger":"alembic.runtime.migration"' in up.stderr


def test_demo_registers_the_fleet_and_reports(
    fresh_database: CloudSettings, mqtt_broker: MosquittoBroker
) -> None:
    result = _run([str(BIN / "robocover"), "demo", "--robots", "5"], fresh_database, mqtt_broker)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Tenant demo-fleet has 5 registered robots." in result.stdout
    engine = create_engine(fresh_database.sqlalchemy_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        classes = conn.execute(text("SELECT robot_class, count(*) FROM robots GROUP BY 1")).all()
    engine.dispose()
    assert dict(classes) == {"industrial_arm": 2, "cobot": 2, "mobile_robot": 1}
    # A second run registers nobody twice.
    again = _run([str(BIN / "robocover"), "demo", "--robots", "5"], fresh_database, mqtt_broker)
    assert "Tenant demo-fleet has 5 registered robots." in again.stdout


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
