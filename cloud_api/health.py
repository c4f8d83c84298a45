"""Probes of the services the cloud depends on: each answers in bounded time and never raises."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass

import aiomqtt
import psycopg
import redis

from database.settings import CloudSettings

PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class ProbeResult:
    service: str
    healthy: bool
    detail: str
    latency_ms: float


def _timed(service: str, started: float, healthy: bool, detail: str) -> ProbeResult:
    return ProbeResult(service, healthy, detail, round((time.perf_counter() - started) * 1e3, 1))


def probe_database(settings: CloudSettings) -> ProbeResult:
    """PostgreSQL answers, and TimescaleDB is installed in the database."""
    started = time.perf_counter()
    try:
        with psycopg.connect(settings.libpq_url, connect_timeout=int(PROBE_TIMEOUT_S)) as conn:
            row = conn.execute(
                "SELECT current_setting('server_version'), "
                "(SELECT extversion FROM pg_extension WHERE extname = 'timescaledb')"
            ).fetchone()
    except psycopg.Error as exc:
        return _timed("postgresql", started, False, f"{type(exc).__name__}: {exc}".strip())
    if row is None or row[1] is None:
        return _timed("postgresql", started, False, "the timescaledb extension is not installed")
    return _timed("postgresql", started, True, f"PostgreSQL {row[0]}, TimescaleDB {row[1]}")


async def _mqtt_round_trip(settings: CloudSettings) -> str:
    """One probe; the account is bound to one client id, so another process's probe at the
    same moment may take the session over: then try again (three times at most), within the
    probe's time."""
    for attempt in range(3):
        try:
            return await _mqtt_round_trip_once(settings)
        except aiomqtt.MqttCodeError:
            raise  # refused at connection (not authorised, ...): trying again changes nothing
        except aiomqtt.MqttError:
            if attempt == 2:
                raise
            await asyncio.sleep(random.uniform(0.02, 0.2))  # noqa: S311 - jitter
    raise AssertionError("unreachable")  # pragma: no cover


async def _mqtt_round_trip_once(settings: CloudSettings) -> str:
    topic = f"robocover/health/{uuid.uuid4().hex}"
    host = settings.mqtt_url.host or "127.0.0.1"
    port = settings.mqtt_url.port or 1883
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    async with aiomqtt.Client(
        host,
        port,
        identifier=settings.client_id,
        username=settings.mqtt_username,
        password=password,
        protocol=aiomqtt.ProtocolVersion.V5,
        timeout=PROBE_TIMEOUT_S,
    ) as client:
        await client.subscribe(topic, qos=1)
        await client.publish(topic, b"ping", qos=1)
        async for message in client.messages:
            if message.payload == b"ping":
                return f"MQTT 5 round trip on {host}:{port}"
    raise RuntimeError("the broker closed the stream")  # pragma: no cover - the loop never ends


def probe_broker(settings: CloudSettings) -> ProbeResult:
    """The broker accepts an MQTT 5 connection and delivers a QoS 1 message back to us."""
    started = time.perf_counter()
    try:
        detail = asyncio.run(asyncio.wait_for(_mqtt_round_trip(settings), PROBE_TIMEOUT_S))
    except (aiomqtt.MqttError, TimeoutError, OSError) as exc:
        return _timed("mosquitto", started, False, f"{type(exc).__name__}: {exc}".strip())
    return _timed("mosquitto", started, True, detail)


def probe_redis(settings: CloudSettings) -> ProbeResult:
    started = time.perf_counter()
    client = redis.Redis.from_url(
        str(settings.redis_url),
        socket_timeout=PROBE_TIMEOUT_S,
        socket_connect_timeout=PROBE_TIMEOUT_S,
    )
    try:
        version = client.info("server")["redis_version"]
    except redis.RedisError as exc:
        return _timed("redis", started, False, f"{type(exc).__name__}: {exc}".strip())
    finally:
        client.close()
    return _timed("redis", started, True, f"Redis {version}")


def probe_all(settings: CloudSettings) -> list[ProbeResult]:
    return [probe_database(settings), probe_broker(settings), probe_redis(settings)]
