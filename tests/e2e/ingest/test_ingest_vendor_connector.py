"""A robot that cannot run our agent: its vendor's HTTP API, relayed into the same path."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from database.settings import CloudSettings
from firmware_protocol import RobotSigner
from ingest.connectors.breaker import CircuitBreaker, CircuitOpenError
from ingest.connectors.relay import Relay, RelayStore, VendorRobot
from ingest.connectors.vendor_api import VendorApi, VendorApiError
from tests.support.broker import MosquittoBroker
from tests.support.fleet import register_robot
from tests.support.ingest_process import IngestProcess
from tests.support.vendor import FakeVendor, serve_vendor

METRICS = {"J1Temp": "joint_temperature_c.1", "Batt": "battery_soc_pct", "Mood": "x_acme_mood_pct"}


def readings(count: int) -> list[dict[str, object]]:
    start = datetime.now(UTC) - timedelta(minutes=30)
    rows = []
    for i in range(count):
        t = (start + timedelta(seconds=i)).isoformat()
        rows.append({"t": t, "name": "J1Temp", "value": 40 + i / 100})
        rows.append({"t": t, "name": "Batt", "value": 80 - i / 1000})
        rows.append({"t": t, "name": "Unknown", "value": 1.0})  # not mapped: ignored
    return rows


@pytest.fixture
def vendor() -> Iterator[tuple[FakeVendor, str]]:
    fake = FakeVendor(readings={"VX-1": readings(150)})
    with serve_vendor(fake) as url:
        yield fake, url


def api(url: str, breaker: CircuitBreaker | None = None) -> tuple[httpx.AsyncClient, VendorApi]:
    client = httpx.AsyncClient(timeout=5)
    return client, VendorApi(client, url, breaker or CircuitBreaker(), max_wait_s=0.05)


def test_passing_failures_are_retried(vendor: tuple[FakeVendor, str]) -> None:
    fake, url = vendor
    fake.fail_next = 2

    async def run() -> int:
        client, vendor_api = api(url)
        async with client:
            page = await vendor_api.diagnostics("VX-1", "0", limit=10)
        return len(page.readings)

    assert asyncio.run(run()) == 10
    assert fake.requests == 3


def test_a_vendor_that_is_down_opens_the_circuit(vendor: tuple[FakeVendor, str]) -> None:
    fake, url = vendor
    fake.down = True

    async def run() -> None:
        client, vendor_api = api(url, CircuitBreaker(threshold=2, cooldown_s=60))
        async with client:
            for _ in range(2):
                with pytest.raises(httpx.HTTPStatusError):
                    await vendor_api.diagnostics("VX-1", "0")
            before = fake.requests
            with pytest.raises(CircuitOpenError):
                await vendor_api.diagnostics("VX-1", "0")
            assert fake.requests == before  # refused without calling the vendor

    asyncio.run(run())


def test_an_unusable_answer_is_a_precise_error() -> None:
    fake = FakeVendor()
    fake.readings["VX-2"] = [{"t": "yesterday", "name": "J1Temp", "value": 1}]

    async def run() -> None:
        with serve_vendor(fake) as url:
            client, vendor_api = api(url)
            async with client:
                with pytest.raises(VendorApiError, match="VX-2"):
                    await vendor_api.diagnostics("VX-2", "0")

    asyncio.run(run())


def test_readings_reach_the_database_once_even_across_a_crash_before_the_ack(
    vendor: tuple[FakeVendor, str],
    fresh_database: CloudSettings,
    mqtt_broker: MosquittoBroker,
    tmp_path: Path,
) -> None:
    _, url = vendor
    signer = RobotSigner.generate()
    robot_id = register_robot(fresh_database.libpq_url, signer)
    username, password = mqtt_broker.add_robot("acme", robot_id)
    robot = VendorRobot(robot_id, "acme", "VX-1", signer, username, password, METRICS)
    ingest = IngestProcess(fresh_database, mqtt_broker, log_path=tmp_path / "ingest.log")

    async def step(ack_wait_s: float) -> int:
        client, vendor_api = api(url)
        async with (
            client,
            await psycopg.AsyncConnection.connect(
                fresh_database.libpq_url, autocommit=True
            ) as conn,
        ):
            relay = Relay(vendor_api, RelayStore(conn), "127.0.0.1", mqtt_broker.port, ack_wait_s)
            return await relay.step(robot)

    # No ingest yet: the batches are stored and sent, but never acknowledged (as if the
    # connector died before the ack): the vendor cursor must not move.
    assert asyncio.run(step(ack_wait_s=0.5)) == 0
    ingest.start()
    try:
        assert asyncio.run(step(ack_wait_s=30)) == 1  # the same stored batch, delivered
        assert asyncio.run(step(ack_wait_s=30)) == 0  # the feed is exhausted: nothing new
        with psycopg.connect(fresh_database.libpq_url) as conn:
            rows = conn.execute(
                "SELECT m.key, count(*) FROM telemetry t JOIN metrics m ON m.id = t.metric_id"
                " GROUP BY 1 ORDER BY 1"
            ).fetchall()
            state = conn.execute("SELECT cursor, next_seq FROM vendor_relay_state").fetchone()
        assert rows == [("battery_soc_pct", 150), ("joint_temperature_c.1", 150)]
        assert state == ("450", 1)  # the vendor cursor counts its readings, mapped or not
    finally:
        ingest.kill(signal.SIGTERM)
        ingest.retire()


def test_vendor_robots_need_a_known_metric_mapping() -> None:
    signer = RobotSigner.generate()
    with pytest.raises(ValueError, match="'A' maps to 'nope'"):
        VendorRobot(uuid.uuid4(), "acme", "S", signer, "u", "p", {"A": "nope"})
