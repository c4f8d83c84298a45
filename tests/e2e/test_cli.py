"""The installed commands, run as a user runs them: as separate processes on the real services."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

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
