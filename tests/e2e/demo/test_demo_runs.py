"""`robocover demo --exit` as a newcomer runs it, on a database and a broker of the test's own:
the whole story told (every step done), in 80 columns with no log line on the terminal, every
process's logs in the run's log file, the report written, what the story says true in the
database, and no process of the demo left once it has ended."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, pool, text

from database.settings import CloudSettings
from tests.support.broker import MosquittoBroker

BIN = Path(sys.executable).parent
REDIS_DB = 10
DEPLOYED = ("ingest-1", "ingest-2", "api-1", "api-2", "jobs-worker", "jobs-beat", "risk-worker")


@pytest.fixture
def redis_url(fresh_database: CloudSettings) -> Iterator[str]:
    url = f"{str(fresh_database.redis_url).rstrip('/0123456789')}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def demo_env(settings: CloudSettings, broker: MosquittoBroker, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "ROBOCOVER_DATABASE_URL": settings.libpq_url,
        "ROBOCOVER_MQTT_URL": broker.url,
        "ROBOCOVER_MQTT_USERNAME": broker.cloud_credentials.username,
        "ROBOCOVER_MQTT_PASSWORD": broker.cloud_credentials.password,
        "ROBOCOVER_MQTT_ADMIN_PASSWORD": broker.admin_credentials.password,
        "ROBOCOVER_REDIS_URL": redis_url,
        "COLUMNS": "80",
    }


def processes_of(database_url: str) -> list[str]:
    """The processes whose environment names the test's database: the demo's children."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if f"ROBOCOVER_DATABASE_URL={database_url}".encode() in environ.split(b"\0"):
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


def test_the_demo_tells_the_whole_story_and_leaves_nothing_running(
    fresh_database: CloudSettings, mqtt_broker: MosquittoBroker, redis_url: str, tmp_path: Path
) -> None:
    command = [str(BIN / "robocover"), "demo", "--exit", "--robots", "3", "--runs-dir"]
    result = subprocess.run(
        [*command, str(tmp_path)],
        env=demo_env(fresh_database, mqtt_broker, redis_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "✗" not in out
    for step in ("people", "robots enrolled", "quote, bind, issue", "invoice paid by card"):
        assert f"✓  {step}" in out, out
    for step in ("premium follows", "endorsement", "claim filed", "evidence", "claim paid"):
        assert f"✓  {step}" in out, out
    assert "no flag; the collision at the loss shown" in out.replace("\n│", "").replace("  ", "")
    summary = [line for line in out.splitlines() if line[:1] in "╭│╰"]
    assert len(summary) > 20
    assert max(len(line) for line in summary) <= 80  # URLs after it wrap as the terminal does
    assert '"level"' not in out  # no log line on the terminal
    assert '"level"' not in result.stderr

    report = Path(re.findall(r"Report: file://(\S+)", out)[0])
    for page in ("index.html", "premiums.html", "reports.html", "evidence.html"):
        assert (report.parent / page).stat().st_size > 1000
    assert "severe_event" in (report.parent / "premiums.html").read_text()
    log = Path(re.findall(r"Logs of every process: (\S+)", out)[0])
    assert log.parent.parent == tmp_path
    logged = log.read_text()
    for name in (*DEPLOYED, "processor", "agent-00", "agent-01", "agent-02"):
        assert f"\n{name} | " in logged, name
        assert f"\n{name} | (exited" in logged, name  # each process ended, and said so
    assert processes_of(fresh_database.libpq_url) == []

    engine = create_engine(fresh_database.sqlalchemy_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        claim = conn.execute(text("SELECT status, paid_minor FROM claims")).one()
        decided = conn.execute(text("SELECT status FROM endorsement_proposals")).scalars().all()
        paid = conn.execute(text("SELECT count(*) FROM invoices WHERE status = 'paid'")).scalar()
        severe = conn.execute(
            text("SELECT count(*) FROM risk_scores WHERE trigger = 'severe_event'")
        ).scalar()
        payouts = conn.execute(text("SELECT status FROM claim_payouts")).scalars().all()
    engine.dispose()
    assert tuple(claim) == ("paid", 1_150_000)
    assert decided == ["approved"]
    assert paid == 1
    assert severe
    assert payouts == ["succeeded"]


def test_the_demo_says_plainly_when_a_service_is_down(
    fresh_database: CloudSettings, redis_url: str, tmp_path: Path
) -> None:
    absent = MosquittoBroker(tmp_path / "broker")  # never started: nothing listens on its port
    result = subprocess.run(
        [str(BIN / "robocover"), "demo", "--exit", "--runs-dir", str(tmp_path / "runs")],
        env=demo_env(fresh_database, absent, redis_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "A service is down" in result.stdout
    assert not (tmp_path / "runs").exists()  # nothing started
