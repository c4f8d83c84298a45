"""The decode step (decode_step.py) checks signatures with the keys the writer knew at its last
robot lock; the writer reuses a check only when made with the key it finds in force."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg

from firmware_protocol import RobotSigner, TopicKind
from ingest.bridge.flush import Flusher, FlushOutcome, Inbound, Prepared
from ingest.bridge.service import _Decoding
from ingest.bridge.source import CHUNK_LEAST
from tests.integration.ingest.test_ingest_flush import POLICY, query
from tests.support.fleet import SimRobot


def inbound(*messages: tuple[str, bytes]) -> list[Inbound]:
    now = time.time_ns() // 1000
    return [Inbound(topic, payload, now) for topic, payload in messages]


def write(database: str, flusher: Flusher, prepared: Prepared) -> FlushOutcome:
    async def run() -> FlushOutcome:
        async with (
            await psycopg.AsyncConnection.connect(database) as conn,
            conn.transaction(),
        ):
            return await flusher.write(conn, prepared)

    return asyncio.run(run())


def test_signatures_are_checked_with_the_key_known_at_the_last_lock(
    database: str, robot: SimRobot
) -> None:
    flusher = Flusher(POLICY)
    topic = robot.topic(TopicKind.TELEMETRY)
    unknown = flusher.prepare(inbound((topic, robot.telemetry())))
    assert unknown.parsed[0].checked == {}  # no lock yet: nothing known, the writer verifies
    assert write(database, flusher, unknown).accepted == 1
    impostor = SimRobot("acme", robot.robot_id, RobotSigner.generate(), seq=2)
    honest, forged = robot.telemetry(), impostor.telemetry()
    prepared = flusher.prepare(inbound((topic, honest), (topic, forged)))
    key = robot.signer.public_key
    assert [item.checked for item in prepared.parsed] == [{key: True}, {key: False}]
    outcome = write(database, flusher, prepared)
    assert (outcome.accepted, outcome.dead_letters) == (1, {"bad_signature": 1})


def test_a_message_signed_with_a_key_retired_since_its_check_is_a_bad_signature(
    database: str, robot: SimRobot
) -> None:
    flusher = Flusher(POLICY)
    topic = robot.topic(TopicKind.TELEMETRY)
    assert write(database, flusher, flusher.prepare(inbound((topic, robot.telemetry())))).accepted
    prepared = flusher.prepare(inbound((topic, robot.telemetry())))
    assert prepared.parsed[0].checked == {robot.signer.public_key: True}
    # Between the decode step and the writer, the robot's key is replaced (re-enrolled).
    replacement = RobotSigner.generate().public_key
    with psycopg.connect(database) as conn:
        conn.execute(
            "UPDATE robots SET signing_public_key = %s WHERE id = %s",
            (replacement, robot.robot_id),
        )
        conn.execute(
            "UPDATE robot_keys SET public_key = %s WHERE robot_id = %s",
            (replacement, robot.robot_id),
        )
    outcome = write(database, flusher, prepared)
    assert (outcome.accepted, outcome.dead_letters) == (0, {"bad_signature": 1})
    assert query(database, "SELECT count(*) FROM telemetry") == [(1200,)]  # the first only
    assert query(database, "SELECT category, reason FROM review_cases") == [
        ("tamper", "bad_signature")
    ]


def test_flushes_decoded_in_chunks_join_in_order(database: str, robot: SimRobot) -> None:
    flusher = Flusher(POLICY)
    topic = robot.topic(TopicKind.TELEMETRY)
    messages = inbound(*((topic, robot.telemetry(samples=5)) for _ in range(7)))
    messages.insert(3, Inbound("rc/v1/acme/not-a-robot/telemetry", b"junk", 1))
    parts = [flusher.prepare(messages[i : i + 3]) for i in range(0, len(messages), 3)]
    joined = Prepared.joined(parts)
    assert joined.messages == messages
    assert [item.inbound for item in joined.parsed] == messages[:3] + messages[4:]
    assert [rejected.inbound for rejected in joined.rejected] == [messages[3]]
    outcome = write(database, flusher, joined)
    assert (outcome.accepted, outcome.samples) == (7, 7 * 5 * 20)
    assert sum(outcome.dead_letters.values()) == 1


def test_a_ready_writer_takes_the_chunks_decoded_and_the_rest_begin_the_next_flush(
    robot: SimRobot,
) -> None:
    flusher, decoder, gate = Flusher(POLICY), ThreadPoolExecutor(1), threading.Event()
    topic = robot.topic(TopicKind.TELEMETRY)
    first = inbound(*[(topic, robot.telemetry()) for _ in range(3)])
    second = inbound(*[(topic, robot.telemetry(samples=2)) for _ in range(CHUNK_LEAST + 1)])
    last = inbound((topic, robot.telemetry(samples=2)))

    async def held_behind_first(chunk: list[Inbound]) -> _Decoding:
        """A flush of `first`, decoded, then `chunk`, whose decoding waits for the gate."""
        decoding = _Decoding(flusher, decoder)
        decoding.add(first)
        await asyncio.wrap_future(decoder.submit(lambda: None))  # the first chunk is decoded
        gate.clear()
        decoder.submit(gate.wait)  # the decoder is busy...
        decoding.add(chunk)  # ...so this chunk waits
        return decoding

    async def run() -> None:
        ready, busy = asyncio.Event(), asyncio.Event()
        ready.set()
        flush, rest = await (await held_behind_first(second)).take(ready)
        assert flush.messages == first
        assert rest.messages() == second
        assert flush.drafted is not None
        assert len(flush.drafted.columns) == 3 * 20 * 60
        gate.set()
        flush, rest = await rest.take(None)  # stopping: whatever is carried, whole
        assert flush.messages == second
        assert rest.messages() == []
        # While the writer is busy, a flush waits for all its chunks.
        decoding = _Decoding(flusher, decoder)
        decoding.add(first)
        decoding.add(second)
        flush, rest = await decoding.take(busy)
        assert flush.messages == first + second
        assert rest.messages() == []
        # Woken by a request the writer answered at once from a flush already queued (the
        # event set and cleared): the writer is busy again, so the flush still goes whole.
        taking = asyncio.ensure_future((await held_behind_first(second)).take(busy))
        await asyncio.sleep(0.05)
        busy.set()
        busy.clear()
        await asyncio.sleep(0.05)
        gate.set()
        flush, rest = await taking
        assert flush.messages == first + second
        assert rest.messages() == []
        # A last small chunk still being decoded is waited for, not carried over.
        taking = asyncio.ensure_future((await held_behind_first(last)).take(ready))
        await asyncio.sleep(0.05)
        assert not taking.done()  # waiting for the last chunk
        gate.set()
        flush, rest = await taking
        assert flush.messages == first + last
        assert rest.messages() == []

    try:
        asyncio.run(run())
    finally:
        gate.set()
        decoder.shutdown()
