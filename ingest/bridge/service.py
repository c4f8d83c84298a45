"""The bridge's main loop: connect, collect, flush, commit, acknowledge; reconnect; shut down.

Order of a flush: judge and write in one transaction, commit, then PUBACK each message to the
broker, then publish each robot's commit ack. A crash anywhere before the commit leaves the
messages unacknowledged, so the broker sends them again and the receipts turn them into
duplicates; a crash after it costs at most a duplicate. While the database is away the same
flush is retried with backoff and nothing more is read: the broker holds the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

import aiomqtt
import psycopg
from loguru import logger
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from ingest.bridge import source as broker
from ingest.bridge.flush import Flusher, Prepared
from ingest.bridge.metrics import Health, IngestMetrics
from ingest.bridge.repository import Conn
from ingest.bridge.writes import Budgets, FlushOutcome, FlushPolicy, Inbound, Writes
from ingest.settings import IngestSettings


def policy_from(settings: IngestSettings) -> FlushPolicy:
    return FlushPolicy(
        clock_skew_threshold_us=int(settings.clock_skew_threshold_s * 1e6),
        max_future_us=int(settings.max_future_s * 1e6),
        accept_json=settings.accept_json,
        budgets=Budgets(
            robot_messages=settings.dead_letter_robot_messages_per_hour,
            robot_bytes=settings.dead_letter_robot_bytes_per_hour,
            tenant_bytes=settings.dead_letter_tenant_bytes_per_hour,
            unattributed_bytes=settings.dead_letter_unattributed_bytes_per_hour,
            metric_catalogue=settings.metric_catalogue_limit,
        ),
    )


@dataclass
class Bridge:
    settings: IngestSettings
    metrics: IngestMetrics
    health: Health
    stop: asyncio.Event

    def __post_init__(self) -> None:
        self.flusher = Flusher(policy_from(self.settings))
        self._conn: Conn | None = None

    async def run(self) -> None:
        """Until `stop` is set: stay connected to the broker and move its messages."""
        backoff = 0.5
        try:
            while not self.stop.is_set():
                try:
                    async with broker.connect(self.settings) as source:
                        self._broker_up(True)
                        backoff = 0.5
                        await self._consume(source)
                except* aiomqtt.MqttError as group:
                    self._broker_up(False)
                    logger.warning(
                        "broker connection lost: {}; retrying in {:.1f} s",
                        group.exceptions[0],
                        backoff,
                    )
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
        finally:
            self._broker_up(False)
            if self._conn is not None:
                await self._conn.close()

    async def retire(self, idle_s: float = 2.0) -> None:
        """Leave the share group for good: the broker hands a member's share to its session
        even while it is away, so a process that is removed must not leave one behind. Stop
        taking new messages, move what the session still holds, then end the session."""
        async with broker.connect(self.settings, subscribe=False) as source:
            while batch := await source.collect(self.stop, idle_s):
                outcome = await self.commit(batch)
                if outcome is None:
                    return
                source.acknowledge(batch)
                await source.publish_acks(outcome.committed)
        await broker.end_session(self.settings)
        if self._conn is not None:
            await self._conn.close()

    async def _consume(self, source: broker.BrokerSource) -> None:
        """Two stages, so that decoding the next flush overlaps writing this one: collect and
        decode (in a worker thread, a chunk at a time as messages come), then write, commit
        and acknowledge. The flush being collected grows until the writer is ready for it (or
        it is full): flushes are sized by the backlog. One decoded flush waits at most: while
        the database is slow or away, collecting stops and the broker holds the rest."""
        prepared: asyncio.Queue[Prepared | None] = asyncio.Queue(maxsize=1)
        ready = asyncio.Event()
        decoder = ThreadPoolExecutor(1, thread_name_prefix="decode")
        try:
            async with asyncio.TaskGroup() as group:
                collector = group.create_task(self._collect_stage(source, prepared, ready, decoder))
                writer = group.create_task(self._write_stage(source, prepared, ready))
                await writer
                collector.cancel()  # the writer stopped early: what was collected is not acked
        finally:
            # Chunks still queued for decoding are dropped (never acked: the broker sends them
            # again); the one being decoded finishes off the event loop, which keeps serving.
            decoder.shutdown(wait=False, cancel_futures=True)
            await asyncio.to_thread(decoder.shutdown, True)

    async def _collect_stage(
        self,
        source: broker.BrokerSource,
        prepared: asyncio.Queue[Prepared | None],
        ready: asyncio.Event,
        decoder: Executor,
    ) -> None:
        decoding = _Decoding(self.flusher, decoder)
        while not self.stop.is_set():
            batch = await source.collect(
                self.stop, until=ready, on_chunk=decoding.add, carried=decoding.messages()
            )
            if batch:
                flush, decoding = await decoding.take(ready)
                ready.clear()  # answered: the next flush gathers until the writer asks again
                await prepared.put(flush)
        if decoding.messages():  # what was carried over when asked to stop
            flush, _ = await decoding.take(None)
            await prepared.put(flush)
        await prepared.put(None)  # the writer finishes what is queued, then ends

    async def _write_stage(
        self,
        source: broker.BrokerSource,
        prepared: asyncio.Queue[Prepared | None],
        ready: asyncio.Event,
    ) -> None:
        # Robots' commit acks go out while the next flush is written; at most one round of them
        # is in flight, so a slow broker slows the writer rather than piling up publishes.
        acks: asyncio.Task[None] | None = None
        await self._warm()
        try:
            while True:
                ready.set()
                flush = await prepared.get()
                ready.clear()
                if flush is None:
                    break
                outcome = await self.commit(flush.messages, flush)
                if outcome is None:
                    break  # stopping while the database is away: the broker keeps the batch
                source.acknowledge(flush.messages)
                if acks is not None:
                    await acks
                acks = asyncio.create_task(source.publish_acks(outcome.committed))
        except BaseException:
            if acks is not None:
                acks.cancel()  # robots resend what they were not told: duplicates, not losses
            raise
        if acks is not None:
            await acks

    async def commit(
        self, batch: list[Inbound], prepared: Prepared | None = None
    ) -> FlushOutcome | None:
        """Write and commit a flush, retrying while the database is away; None if asked to
        stop meanwhile."""
        started = time.perf_counter()
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(psycopg.OperationalError),
            wait=wait_exponential_jitter(
                multiplier=0.2, max=self.settings.database_retry_max_s, jitter=0.5
            ),
            stop=lambda _state: self.stop.is_set(),
            sleep=self._sleep,
            before_sleep=self._database_lost,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    outcome = await self._commit_isolating(batch, prepared)
        except psycopg.OperationalError:
            return None
        self.health.update(database_connected=True, last_commit_at=time.time())
        self.metrics.database_connected.set(1)
        self.metrics.record(outcome, [m.received_us for m in batch], time.perf_counter() - started)
        return outcome

    async def _commit_isolating(
        self, batch: list[Inbound], prepared: Prepared | None = None
    ) -> FlushOutcome:
        """Commit the flush; if the database refuses its data (not its connection), or writing
        it fails in any other way, find the message at fault by halving, and send that one to
        dead letters alone. Nothing a message holds makes the bridge exit."""
        try:
            return await self._commit_once(prepared or self.flusher.prepare(batch))
        except psycopg.OperationalError:
            raise
        except Exception as exc:
            self.flusher.forget_cached_state()
            if len(batch) == 1:
                logger.opt(exception=exc).error("a message cannot be written: {}", exc)
                return await self._commit_storage_error(batch[0], exc)
            half = len(batch) // 2
            first = await self._commit_isolating(batch[:half])
            second = await self._commit_isolating(batch[half:])
            return _merge(first, second)

    async def _commit_once(self, prepared: Prepared) -> FlushOutcome:
        conn = await self._connection()
        try:
            async with conn.transaction():
                return await self.flusher.write(conn, prepared)
        except psycopg.OperationalError:
            await conn.close()
            self._conn = None
            self.flusher.forget_cached_state()
            raise

    async def _commit_storage_error(self, inbound: Inbound, exc: Exception) -> FlushOutcome:
        reason = "storage_error" if isinstance(exc, psycopg.Error) else "internal_error"
        writes = Writes()
        writes.dead_letter(inbound, reason, f"{type(exc).__name__}: {exc}"[:2000])
        conn = await self._connection()
        async with conn.transaction():
            await self.flusher.write_dead_letters(conn, writes)
        outcome = FlushOutcome()
        outcome.dead_letters[reason] += 1
        return outcome

    async def _connection(self) -> Conn:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self.settings.libpq_url, connect_timeout=5, application_name="robocover-ingest"
            )
        return self._conn

    async def _warm(self) -> None:
        """Connect and warm the connection before the first flush comes (the collector is
        already gathering it); if the database is away, the first flush retries as ever."""
        try:
            await self.flusher.warm(await self._connection())
        except Exception as exc:  # warming is an optimisation: whatever fails, never fatal
            logger.warning("could not warm the database connection: {}", exc)
            if self._conn is not None:
                await self._conn.close()
                self._conn = None

    async def _database_lost(self, state: object) -> None:
        self.health.update(database_connected=False)
        self.metrics.database_connected.set(0)
        self.metrics.database_retries.inc()
        logger.warning("database unavailable; holding the flush and retrying")

    def _broker_up(self, connected: bool) -> None:
        self.health.update(broker_connected=connected)
        self.metrics.broker_connected.set(1 if connected else 0)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)


class _Decoding:
    """One flush's decode step, a chunk at a time in the decoder's one thread, in order."""

    def __init__(
        self,
        flusher: Flusher,
        decoder: Executor,
        parts: list[tuple[list[Inbound], asyncio.Future[Prepared]]] | None = None,
    ) -> None:
        self._flusher = flusher
        self._decoder = decoder
        self._parts = parts or []

    def add(self, chunk: list[Inbound]) -> None:
        loop = asyncio.get_running_loop()
        self._parts.append(
            (chunk, loop.run_in_executor(self._decoder, self._flusher.prepare, chunk))
        )

    def messages(self) -> list[Inbound]:
        """The messages handed so far, in order."""
        return [inbound for chunk, _ in self._parts for inbound in chunk]

    async def take(self, ready: asyncio.Event | None) -> tuple[Prepared, _Decoding]:
        """The flush to write: its chunks decoded by the time the writer is ready for it
        (`ready` set; None: all of them), and at least the first, joined with the flush's
        columns drafted; and the chunks still being decoded then, which begin the next
        flush, unless they are broker.CHUNK_LEAST messages or fewer. While the writer is busy every
        chunk is decoded: the flush goes whole."""
        futures = [future for _, future in self._parts]
        if ready is not None and not ready.is_set() and not all(f.done() for f in futures):
            writer_ready = asyncio.ensure_future(ready.wait())
            decoded = asyncio.ensure_future(asyncio.wait(futures))
            try:
                await asyncio.wait({writer_ready, decoded}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                writer_ready.cancel()
                decoded.cancel()
        undecoded = sum(len(chunk) for chunk, future in self._parts if not future.done())
        # Not ready (any more: it took a flush already queued), or a last small chunk left,
        # not worth a flush's wait: the flush goes whole.
        if ready is None or not ready.is_set() or undecoded <= broker.CHUNK_LEAST:
            await asyncio.wait(futures)
        else:
            await futures[0]
        done = next((i for i, future in enumerate(futures) if not future.done()), len(futures))
        # Joined outside the decoder's thread: it is busy with the chunks carried over.
        flush = await asyncio.to_thread(Prepared.joined, [f.result() for f in futures[:done]])
        return flush, _Decoding(self._flusher, self._decoder, self._parts[done:])


def _merge(first: FlushOutcome, second: FlushOutcome) -> FlushOutcome:
    merged = FlushOutcome(
        samples=first.samples + second.samples,
        accepted=first.accepted + second.accepted,
        duplicates=first.duplicates + second.duplicates,
        dead_letters=first.dead_letters + second.dead_letters,
        gaps_opened=first.gaps_opened + second.gaps_opened,
    )
    for outcome in (first, second):
        for robot, (tenant, seqs) in outcome.committed.items():
            for seq in seqs:
                merged.commit(robot, tenant, seq)
    return merged
