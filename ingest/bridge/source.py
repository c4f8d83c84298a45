"""The broker side of the bridge: aiomqtt, MQTT 5 shared subscriptions, acks after commit.

aiomqtt acknowledges a QoS 1 message as soon as it is received (its issue #345): a crash between
that and the commit would lose it. paho-mqtt 2, which aiomqtt drives, can leave acknowledgement
to the application (`manual_ack`); aiomqtt does not expose it yet, so this module switches it on
through aiomqtt's paho client before connecting and acknowledges each message after its flush
commits. Unacknowledged messages count against the Receive Maximum we announce: while the
database is away the broker stops sending and queues in our persistent session, so memory stays
bounded and nothing is dropped.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware_protocol import Ack, SeqRange, Topic, TopicKind, encode, shared_subscription
from ingest.bridge.writes import Inbound
from ingest.settings import IngestSettings

SUBSCRIBED_KINDS = (TopicKind.TELEMETRY, TopicKind.EVENTS, TopicKind.STATUS)
MAX_ACK_RANGES = 64
CHUNK_MESSAGES = 100
"""Messages handed to decoding at a time while a flush is gathered, at most..."""
CHUNK_LEAST = 20
"""...and at least, but for the flush's last chunk: a chunk a message cost a thread hand-off
and a wake-up of the event loop each, and a busy loop gathers messages one at a time."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What acknowledging a message to the broker needs."""

    mid: int
    qos: int


def committed_ranges(seqs: list[int]) -> list[list[SeqRange]]:
    """Sorted, merged seq ranges, in groups of at most 64 (one Ack message each)."""
    ordered = sorted(set(seqs))
    ranges: list[SeqRange] = []
    for seq in ordered:
        if ranges and ranges[-1].last + 1 == seq:
            ranges[-1] = SeqRange(ranges[-1].first, seq)
        else:
            ranges.append(SeqRange(seq, seq))
    return [ranges[i : i + MAX_ACK_RANGES] for i in range(0, len(ranges), MAX_ACK_RANGES)]


class BrokerSource:
    """One connection to the broker: collects messages into flushes and acknowledges them."""

    def __init__(self, client: aiomqtt.Client, settings: IngestSettings) -> None:
        self._client = client
        self._settings = settings
        # aiomqtt's message iterator must never be cancelled mid-wait: a message it has already
        # taken off its queue would be lost (unacknowledged, so held by the broker until we
        # reconnect). The wait for the next message therefore outlives each collect().
        self._next: asyncio.Task[aiomqtt.Message] | None = None

    async def _take(
        self, stop: asyncio.Event, within_s: float | None, until: asyncio.Event | None = None
    ) -> aiomqtt.Message | None:
        """The next message, or None when `stop` (or `until`) is set or `within_s` passes
        first."""
        if self._next is None:
            self._next = asyncio.ensure_future(self._client.messages.__anext__())
        waits = [asyncio.ensure_future(e.wait()) for e in (stop, until) if e is not None]
        done, _ = await asyncio.wait(
            {self._next, *waits}, timeout=within_s, return_when=asyncio.FIRST_COMPLETED
        )
        for wait in waits:
            wait.cancel()
        if self._next not in done:
            return None
        task, self._next = self._next, None
        return task.result()

    def _drain(self, batch: list[Inbound], size: int) -> int:
        """Move what aiomqtt has already received into the batch, without waiting, within
        the flush's limits; the batch's payload bytes after. Only while no wait on the
        iterator is pending, so the messages keep the order they came in."""
        settings = self._settings
        queue: asyncio.Queue[aiomqtt.Message] = self._client._queue  # see the module docstring
        while (
            self._next is None
            and len(batch) < settings.flush_max_messages
            and size < settings.flush_max_bytes
        ):
            try:
                message = queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            batch.append(_inbound(message))
            size += len(batch[-1].payload)
        return size

    def close(self) -> None:
        if self._next is not None:
            self._next.cancel()  # not acknowledged: the broker sends it again
            self._next = None

    async def collect(
        self,
        stop: asyncio.Event,
        idle_s: float | None = None,
        *,
        until: asyncio.Event | None = None,
        on_chunk: Callable[[list[Inbound]], None] | None = None,
        carried: list[Inbound] | None = None,
    ) -> list[Inbound]:
        """The next flush: waits for a first message, then gathers more for up to the flush
        interval, within the flush's message and byte limits, taking at once whatever has
        already arrived. With `until`, gathering goes on past the interval until `until` is
        set (the writer is ready for the flush) or the flush is full: a flush is sized by the
        backlog. Empty if `stop` is set first, or if no message comes within `idle_s`.
        `on_chunk` is handed the messages as they are gathered, in order, CHUNK_LEAST to
        CHUNK_MESSAGES at a time as they come and the rest at the end, so they are decoded
        meanwhile. `carried` begins the flush: messages gathered (and handed)
        before, whose interval has passed."""
        settings = self._settings
        batch = list(carried or ())
        handed = len(batch)
        size = sum(len(inbound.payload) for inbound in batch)
        deadline = time.monotonic()
        if not batch:
            first = await self._take(stop, idle_s)
            if first is None:
                return []
            batch = [_inbound(first)]
            size = len(batch[0].payload)
            deadline = time.monotonic() + settings.flush_interval_s
        while len(batch) < settings.flush_max_messages and size < settings.flush_max_bytes:
            size = self._drain(batch, size)
            # What has come so far, before waiting for more: decoded meanwhile.
            handed = _hand(batch, handed, on_chunk, CHUNK_LEAST)
            if len(batch) >= settings.flush_max_messages or size >= settings.flush_max_bytes:
                break
            remaining = deadline - time.monotonic()
            if remaining > 0:
                message = await self._take(stop, remaining)
            elif until is not None and not until.is_set():
                message = await self._take(stop, None, until)
            else:
                break
            if message is None:
                if stop.is_set():
                    break
                continue  # the interval passed, or `until` was set: decided above
            batch.append(_inbound(message))
            size += len(batch[-1].payload)
        _hand(batch, handed, on_chunk)
        return batch

    def acknowledge(self, batch: list[Inbound]) -> None:
        """PUBACK each message, in the order received, once its flush has committed."""
        paho = self._client._client  # aiomqtt's paho client: see the module docstring
        for inbound in batch:
            delivery = inbound.token
            if isinstance(delivery, Delivery) and delivery.qos > 0:
                paho.ack(delivery.mid, delivery.qos)

    async def publish_acks(self, committed: dict[uuid.UUID, tuple[str, list[int]]]) -> None:
        """Tell each robot which of its chained messages are durably committed."""
        now_us = time.time_ns() // 1000
        sends = []
        for robot_id, (tenant, seqs) in committed.items():
            topic = str(Topic(tenant, str(robot_id), TopicKind.ACK))
            for group in committed_ranges(seqs):
                payload = encode(Ack(robot_id=robot_id, wall_us=now_us, committed=tuple(group)))
                sends.append(self._client.publish(topic, payload, qos=1))
        await asyncio.gather(*sends)


def _hand(
    batch: list[Inbound],
    handed: int,
    on_chunk: Callable[[list[Inbound]], None] | None,
    least: int = 1,
) -> int:
    """Hand the batch's messages from `handed` on to `on_chunk`, CHUNK_MESSAGES at most and
    `least` at least at a time; how many are handed after."""
    if on_chunk is None:
        return len(batch)
    while len(batch) - handed >= least:
        chunk = batch[handed : handed + CHUNK_MESSAGES]
        on_chunk(chunk)
        handed += len(chunk)
    return handed


def _inbound(message: aiomqtt.Message) -> Inbound:
    payload = message.payload
    data = payload if isinstance(payload, bytes) else bytes(str(payload or ""), "utf-8")
    return Inbound(
        topic=message.topic.value,
        payload=data,
        received_us=time.time_ns() // 1000,
        token=Delivery(message.mid, message.qos),
    )


def _client(settings: IngestSettings, *, clean_start: bool, expiry_s: int) -> aiomqtt.Client:
    url = settings.mqtt_url
    password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = expiry_s
    properties.ReceiveMaximum = settings.announced_receive_maximum
    return aiomqtt.Client(
        url.host or "127.0.0.1",
        url.port or 1883,
        identifier=settings.client_id,
        username=settings.mqtt_username,
        password=password,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=clean_start,
        properties=properties,
        tls_context=ssl.create_default_context() if url.scheme == "mqtts" else None,
        timeout=10,
    )


@asynccontextmanager
async def connect(
    settings: IngestSettings, *, subscribe: bool = True
) -> AsyncIterator[BrokerSource]:
    """Connect with the process's persistent session and subscribe, QoS 1, to the robots'
    telemetry, events and status through the ingest's shared subscription (or, with
    `subscribe` false, leave the share group and only take what the session still holds)."""
    # Mosquitto 2.0.11 keeps a session begun with clean start = 1 in memory only, so it would
    # be gone after a broker restart: always resume.
    client = _client(settings, clean_start=False, expiry_s=settings.mqtt_session_expiry_s)
    client._client.manual_ack_set(True)  # aiomqtt's paho client: see the module docstring
    # Acks to robots are published concurrently, one per robot of a flush.
    client.pending_calls_threshold = max(
        client.pending_calls_threshold, settings.flush_max_messages
    )
    async with client:
        _no_delay(client)
        for kind in SUBSCRIBED_KINDS:
            topic = shared_subscription(settings.mqtt_share_group, kind)
            if subscribe:
                await client.subscribe(topic, qos=1)
            else:
                await client.unsubscribe(topic)
        source = BrokerSource(client, settings)
        try:
            yield source
        finally:
            source.close()


def _no_delay(client: aiomqtt.Client) -> None:
    """Send each packet at once. paho leaves Nagle's algorithm on, so a robot's commit ack
    queued behind the flush's PUBACKs waited for the broker's delayed TCP ACK (40 ms on
    Linux) before it left; every robot's ack latency paid it."""
    sock = client._client.socket()  # aiomqtt's paho client: see the module docstring
    if isinstance(sock, socket.socket):  # TLS sockets are too
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def end_session(settings: IngestSettings) -> None:
    """Have the broker forget this process's session (a retired ingest keeps none)."""
    async with _client(settings, clean_start=True, expiry_s=0):
        pass
