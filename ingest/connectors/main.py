"""`robocover connector`: polls vendors' diagnostics APIs for the robots listed in its config."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import tomllib
import uuid
from pathlib import Path

import httpx
import psycopg
from loguru import logger
from pydantic import BaseModel, Field

from firmware_protocol import RobotSigner
from ingest.connectors.breaker import CircuitBreaker, CircuitOpenError
from ingest.connectors.relay import Relay, RelayStore, VendorRobot
from ingest.connectors.vendor_api import VendorApi, VendorApiError
from ingest.settings import ConnectorSettings


class VendorRobotConfig(BaseModel):
    robot_id: uuid.UUID
    tenant: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    serial: str = Field(min_length=1, max_length=64)
    mqtt_username: str
    mqtt_password_file: Path
    signing_seed_file: Path
    metrics: dict[str, str] = Field(description="vendor metric name -> robocover metric key")


class ConnectorConfig(BaseModel):
    vendor_url: str
    robots: list[VendorRobotConfig]


def load_config(path: Path) -> tuple[str, list[VendorRobot]]:
    """The vendor's URL and its robots; secrets come from their own files, never the config."""
    config = ConnectorConfig.model_validate(tomllib.loads(path.read_text()))
    robots = [
        VendorRobot(
            robot_id=entry.robot_id,
            tenant=entry.tenant,
            serial=entry.serial,
            signer=RobotSigner.from_seed(entry.signing_seed_file.read_bytes()),
            mqtt_username=entry.mqtt_username,
            mqtt_password=entry.mqtt_password_file.read_text().strip(),
            metric_names=entry.metrics,
        )
        for entry in config.robots
    ]
    return config.vendor_url, robots


async def run_connector(settings: ConnectorSettings, stop: asyncio.Event | None = None) -> None:
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    vendor_url, robots = load_config(settings.connector_config)
    breaker = CircuitBreaker(
        threshold=settings.breaker_threshold, cooldown_s=settings.breaker_cooldown_s
    )
    async with (
        httpx.AsyncClient(timeout=settings.vendor_timeout_s) as client,
        await psycopg.AsyncConnection.connect(settings.libpq_url, autocommit=True) as conn,
    ):
        relay = Relay(
            VendorApi(client, vendor_url, breaker),
            RelayStore(conn),
            settings.mqtt_url.host or "127.0.0.1",
            settings.mqtt_url.port or 1883,
        )
        while not stop.is_set():
            for robot in robots:
                try:
                    await relay.step(robot)
                except CircuitOpenError as exc:
                    logger.warning("vendor {}: {}", vendor_url, exc)
                    break
                except (httpx.HTTPError, VendorApiError) as exc:
                    logger.bind(robot_id=str(robot.robot_id)).warning("vendor poll failed: {}", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.poll_interval_s)
