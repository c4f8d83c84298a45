"""The bridge's collector against a real Mosquitto: flushes sized by the backlog, handed to
decoding a chunk at a time, and a Receive Maximum that lets several flushes be in flight."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_protocol import RobotSigner, TopicKind
from ingest.bridge import source as broker
from ingest.bridge.source import CHUNK_LEAST, CHUNK_MESSAGES
from ingest.bridge.writes import Inbound
from ingest.settings import IngestSettings
from tests.support.broker import MosquittoBroker
from tests.support.fleet import SimRobot
from tests.support.ingest_process import RobotLink

FLUSH = 250
BOUND_S = 60  # bounds a hang only: every wait below ends when enough messages came


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker of the test's own: no other test's ingest session shares its messages."""
    mosquitto = MosquittoBroker(tmp_path)
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


def settings_for(mosquitto: MosquittoBroker, **overrides: object) -> IngestSettings:
    client_id = f"ingest-{uuid.uuid4().hex[:8]}"
    creds = mosquitto.ingest_credentials(client_id)
    fields: dict[str, object] = {
        "mqtt_url": mosquitto.url,
        "mqtt_username": creds.username,
        "mqtt_password": creds.password,
        "mqtt_client_id": client_id,
        "flush_max_messages": FLUSH,
        "flush_interval_s": 0.05,
        **overrides,
    }
    return IngestSettings.model_validate(fields)


def publish(mosquitto: MosquittoBroker, count: int) -> tuple[RobotLink, list[bytes]]:
    robot = SimRobot("acme", uuid.uuid4(), RobotSigner.generate())
    link = RobotLink(robot, mosquitto)
    payloads = [robot.telemetry(samples=2) for _ in range(count)]
    for payload in payloads:
        link.publish(TopicKind.TELEMETRY, payload)
    return link, payloads


def test_the_receive_maximum_lets_three_flushes_be_in_flight_unless_the_operator_bounds_it() -> (
    None
):
    assert IngestSettings(flush_max_messages=500).announced_receive_maximum == 1500
    assert IngestSettings(flush_max_messages=30_000).announced_receive_maximum == 65_535
    # An operator's bound on memory is announced as set, above or below three flushes.
    assert IngestSettings(receive_maximum=4000).announced_receive_maximum == 4000
    assert IngestSettings(receive_maximum=300).announced_receive_maximum == 300


def test_a_flush_waiting_for_the_writer_fills_from_the_backlog_in_chunks(
    own_broker: MosquittoBroker,
) -> None:
    """Nothing is acknowledged: the broker sends three full flushes (the Receive Maximum
    announced by default); while the writer is not ready, each flush gathers past its interval
    until full."""
    settings = settings_for(own_broker)
    total = 3 * FLUSH + 40

    async def run() -> tuple[list[list[Inbound]], list[list[list[Inbound]]], list[Inbound]]:
        stop, writer_busy, writer_ready = asyncio.Event(), asyncio.Event(), asyncio.Event()
        writer_ready.set()
        flushes, chunked = [], []
        async with broker.connect(settings) as source:
            link, _ = await asyncio.to_thread(publish, own_broker, total)
            for _ in range(3):
                chunks: list[list[Inbound]] = []
                flushes.append(
                    await asyncio.wait_for(
                        source.collect(stop, until=writer_busy, on_chunk=chunks.append), BOUND_S
                    )
                )
                chunked.append(chunks)
            for flush in flushes:
                source.acknowledge(flush)
            rest: list[Inbound] = []
            while len(rest) < total - 3 * FLUSH:  # the writer is ready: flushes as they come
                rest += await asyncio.wait_for(source.collect(stop, until=writer_ready), BOUND_S)
            source.acknowledge(rest)
        await asyncio.to_thread(link.close)
        return flushes, chunked, rest

    flushes, chunked, rest = asyncio.run(run())
    assert [len(flush) for flush in flushes] == [FLUSH] * 3
    for flush, chunks in zip(flushes, chunked, strict=True):
        assert all(CHUNK_LEAST <= len(chunk) <= CHUNK_MESSAGES for chunk in chunks[:-1])
        assert 0 < len(chunks[-1]) <= CHUNK_MESSAGES
        assert [m for chunk in chunks for m in chunk] == flush
    payloads = [m.payload for flush in [*flushes, rest] for m in flush]
    assert len(payloads) == len(set(payloads)) == total


def test_a_flush_carried_over_begins_the_next_without_waiting_for_a_message(
    own_broker: MosquittoBroker,
) -> None:
    """Messages still being decoded when the writer took the last flush begin the next: their
    interval has passed, so a writer that is ready takes them at once, with whatever else has
    come (here nothing: waiting for a first message would hang)."""
    settings = settings_for(own_broker)

    async def run() -> tuple[list[Inbound], list[Inbound], list[list[Inbound]]]:
        stop, writer_ready = asyncio.Event(), asyncio.Event()
        writer_ready.set()
        async with broker.connect(settings) as source:
            link, _ = await asyncio.to_thread(publish, own_broker, 3)
            first: list[Inbound] = []
            while len(first) < 3:
                first += await asyncio.wait_for(source.collect(stop, until=writer_ready), BOUND_S)
            chunks: list[list[Inbound]] = []
            carried = await asyncio.wait_for(
                source.collect(stop, until=writer_ready, on_chunk=chunks.append, carried=first[1:]),
                BOUND_S,
            )
            source.acknowledge(first)
        await asyncio.to_thread(link.close)
        return first, carried, chunks

    first, carried, chunks = asyncio.run(run())
    assert carried == first[1:]
    assert chunks == []  # handed before, with the flush they came in


def test_a_flush_stops_at_its_byte_limit(own_broker: MosquittoBroker) -> None:
    settings = settings_for(own_broker, flush_max_bytes=4096)

    async def run() -> tuple[list[Inbound], list[bytes]]:
        stop, never = asyncio.Event(), asyncio.Event()
        async with broker.connect(settings) as source:
            link, payloads = await asyncio.to_thread(publish, own_broker, 60)
            flush = await asyncio.wait_for(source.collect(stop, until=never), BOUND_S)
        await asyncio.to_thread(link.close)
        return flush, payloads

    flush, payloads = asyncio.run(run())
    sizes = [len(m.payload) for m in flush]
    assert sum(sizes[:-1]) < 4096 <= sum(sizes)  # one message past the limit, as before
    assert len(flush) < len(payloads)


def test_the_connection_to_the_broker_sends_each_packet_at_once(
    own_broker: MosquittoBroker,
) -> None:
    """Nagle's algorithm off: with it on, a robot's commit ack written after the flush's
    PUBACKs waited for the broker's delayed TCP ACK before leaving."""

    async def run() -> int:
        async with broker.connect(settings_for(own_broker)) as source:
            sock = source._client._client.socket()
            assert isinstance(sock, socket.socket)
            return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    assert asyncio.run(run()) == 1
