"""Relays a vendor robot's diagnostics into the robot's own chain, exactly once.

The connector stands in for the agent the robot cannot run: it turns the vendor's readings into
signed, chained telemetry batches (the robot's key is held by the connector), publishes them
with the robot's own broker account, and the ingest handles them like any robot's. Like the
agent's outbox, it stores each batch before publishing it and moves its vendor cursor past the
readings only when the cloud's commit ack arrives: a crash in between resends the same bytes,
which the ingest recognises as duplicates.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import aiomqtt
import numpy as np
import psycopg

from firmware_protocol import (
    Ack,
    ProtocolError,
    RobotSigner,
    TelemetryBatch,
    Topic,
    TopicKind,
    decode,
    encode,
    payload_digest,
)
from firmware_protocol.catalogue import MetricKey
from ingest.connectors.vendor_api import VendorApi, VendorReading

MAX_SAMPLES_PER_BATCH = 1024
GENESIS = bytes(32)


@dataclass(frozen=True, slots=True)
class VendorRobot:
    robot_id: uuid.UUID
    tenant: str
    serial: str
    signer: RobotSigner
    mqtt_username: str
    mqtt_password: str
    metric_names: dict[str, str]
    """Vendor metric name -> our metric key (e.g. "J1Temp" -> "joint_temperature_c.1")."""

    def __post_init__(self) -> None:
        for vendor_name, key in self.metric_names.items():
            try:
                MetricKey.parse(key)
            except ProtocolError as exc:
                raise ValueError(f"vendor metric {vendor_name!r} maps to {key!r}: {exc}") from None

    @property
    def boot_id(self) -> uuid.UUID:
        """Vendor robots have no monotonic clock of their own: one stable 'boot' whose
        monotonic time is the wall clock."""
        return uuid.uuid5(self.robot_id, "vendor-connector")


@dataclass(slots=True)
class RelayState:
    cursor: str
    next_seq: int
    last_digest: bytes
    pending: list[bytes]
    pending_cursor: str | None


def build_batches(
    robot: VendorRobot, readings: list[VendorReading], state: RelayState
) -> list[bytes]:
    """Signed, chained batches of the readings we know how to name, one per set of metrics
    sampled at the same instants; advances `state`'s seq and digest."""
    by_time: dict[str, dict[int, float]] = defaultdict(dict)
    for reading in readings:
        key = robot.metric_names.get(reading.name)
        if key is not None:
            by_time[key][int(reading.t.timestamp() * 1e6)] = reading.value
    groups: dict[tuple[int, ...], dict[str, list[float]]] = defaultdict(dict)
    for key, samples in by_time.items():
        times = tuple(sorted(samples))
        groups[times][key] = [samples[t] for t in times]
    payloads = []
    now_us = time.time_ns() // 1000
    for times, series in sorted(groups.items()):
        for start in range(0, len(times), MAX_SAMPLES_PER_BATCH):
            chunk = slice(start, start + MAX_SAMPLES_PER_BATCH)
            batch = TelemetryBatch.from_values(
                robot_id=robot.robot_id,
                boot_id=robot.boot_id,
                seq=state.next_seq,
                prev_digest=state.last_digest,
                wall_us=now_us,
                mono_us=now_us,
                timestamps_us=np.asarray(times[chunk], dtype=np.int64),
                series={MetricKey.parse(k): v[chunk] for k, v in series.items()},
            )
            payload = encode(batch, robot.signer)
            payloads.append(payload)
            state.next_seq += 1
            state.last_digest = payload_digest(payload)
    return payloads


class RelayStore:
    """The connector's outbox of one round per robot, in the database."""

    def __init__(self, conn: psycopg.AsyncConnection[tuple[Any, ...]]) -> None:
        self.conn = conn

    async def load(self, robot_id: uuid.UUID) -> RelayState:
        cursor = await self.conn.execute(
            "SELECT cursor, next_seq, last_digest, pending, pending_cursor"
            " FROM vendor_relay_state WHERE robot_id = %s",
            (robot_id,),
        )
        row = await cursor.fetchone()
        if row is None:
            return RelayState("", 0, GENESIS, [], None)
        return RelayState(row[0], row[1], row[2], list(row[3]), row[4])

    async def save(self, robot_id: uuid.UUID, state: RelayState) -> None:
        async with self.conn.transaction():
            await self.conn.execute(
                "INSERT INTO vendor_relay_state (robot_id, cursor, next_seq, last_digest, pending,"
                " pending_cursor) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (robot_id) DO UPDATE"
                " SET cursor = EXCLUDED.cursor, next_seq = EXCLUDED.next_seq,"
                " last_digest = EXCLUDED.last_digest, pending = EXCLUDED.pending,"
                " pending_cursor = EXCLUDED.pending_cursor, updated_at = now()",
                (
                    robot_id,
                    state.cursor,
                    state.next_seq,
                    state.last_digest,
                    state.pending,
                    state.pending_cursor,
                ),
            )


async def publish_until_acked(
    robot: VendorRobot, broker_host: str, broker_port: int, payloads: list[bytes], wait_s: float
) -> bool:
    """Publish the payloads as the robot and wait for the cloud's commit acks of all of them."""
    links = [decode(p).link for p in payloads]
    wanted = {link.seq for link in links if link is not None}
    async with aiomqtt.Client(
        broker_host,
        broker_port,
        identifier=f"robot-{robot.robot_id}",  # the client id the robot's account is bound to
        username=robot.mqtt_username,
        password=robot.mqtt_password,
        protocol=aiomqtt.ProtocolVersion.V5,
        timeout=10,
    ) as client:
        await client.subscribe(str(Topic(robot.tenant, str(robot.robot_id), TopicKind.ACK)), qos=1)
        topic = str(Topic(robot.tenant, str(robot.robot_id), TopicKind.TELEMETRY))
        for payload in payloads:
            await client.publish(topic, payload, qos=1)
        try:
            async with asyncio.timeout(wait_s):
                async for message in client.messages:
                    payload = message.payload
                    if not isinstance(payload, bytes):
                        continue
                    try:
                        ack = decode(payload).message
                    except ProtocolError:
                        continue
                    if isinstance(ack, Ack):
                        wanted = {seq for seq in wanted if not ack.covers(seq)}
                    if not wanted:
                        return True
        except TimeoutError:
            return False
    return not wanted


@dataclass
class Relay:
    api: VendorApi
    store: RelayStore
    broker_host: str
    broker_port: int
    ack_wait_s: float = 30.0

    async def step(self, robot: VendorRobot) -> int:
        """One round for one robot: deliver what is pending, or fetch and deliver what is new.
        Returns the number of batches the cloud acknowledged."""
        state = await self.store.load(robot.robot_id)
        if not state.pending:
            page = await self.api.diagnostics(robot.serial, state.cursor)
            state.pending = build_batches(robot, page.readings, state)
            state.pending_cursor = page.next
            await self.store.save(robot.robot_id, state)  # stored before it is sent
        if state.pending and not await publish_until_acked(
            robot, self.broker_host, self.broker_port, state.pending, self.ack_wait_s
        ):
            return 0
        delivered = len(state.pending)
        state.cursor = state.pending_cursor or state.cursor
        state.pending, state.pending_cursor = [], None
        await self.store.save(robot.robot_id, state)
        return delivered
