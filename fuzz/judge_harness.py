"""The judge fuzz target's harness: one database of its own (judge_database), the fleet's base
history committed through the real Flusher, one connection and one event loop; per input, its
flushes in one transaction that is rolled back, the oracles (judge_oracles) checked after each
flush and after the last.

Imported by fuzz/fuzz_judge.py inside atheris.instrument_imports, so that firmware_protocol
and ingest (imported here and by the fuzz modules it imports) are coverage-instrumented; the
fuzz modules themselves are not.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

import psycopg
from loguru import logger
from psycopg import sql

import firmware_protocol
from fuzz import judge_database as database
from fuzz.judge_frames import topic_kind_of
from fuzz.judge_oracles import (
    DATABASE_CHECKS,
    INSERTED,
    Finding,
    ObservingFlusher,
    Totals,
    check_database,
    check_flush,
)
from fuzz.judge_plan import Plan, parse
from fuzz.judge_report import Stats, rss_mb, trim_heap
from fuzz.judge_world import CATALOGUE_LIMIT, FLEET, NOW_US, base_history
from ingest.bridge import (
    budget,
    clock,
    copy_format,
    evidence_repository,
    gaps,
    judge,
    keys,
    repository,
    rollups,
    samples,
    writes,
)
from ingest.bridge.flush import Flusher
from ingest.bridge.service import policy_from
from ingest.bridge.writes import FlushOutcome, FlushPolicy, Inbound
from ingest.settings import IngestSettings

# Loaded here so that they are imported (and instrumented) while fuzz_judge instruments.
INSTRUMENTED = (
    budget,
    clock,
    copy_format,
    evidence_repository,
    gaps,
    judge,
    keys,
    rollups,
    samples,
    writes,
)
for _name in firmware_protocol.__all__:
    getattr(firmware_protocol, _name)


VACUUM_EVERY = 500
"""Inputs between two VACUUMs of the fuzz database (every input's rows are rolled back, and
dead rows, and dead catalogue rows of rolled-back chunks, would otherwise pile up), and
between two trims of the C heap (trim_heap)."""


@dataclass
class Baseline:
    """The database before any input: its hourly rollups' samples, its sequences' values."""

    rollup_samples: int
    sequences: list[tuple[str, int, bool]]


class Harness:
    """One database, one connection, one event loop; every input in a transaction that is
    rolled back, and the sequences put back, so the database is the same for every input."""

    def __init__(self, url: str, policy: FlushPolicy, *, report_every: int = 10_000) -> None:
        self.url = url
        self.sequences_reset = False
        self.outcomes: list[FlushOutcome] = []
        """The last input's flush outcomes (for --describe)."""
        self.policy = policy
        self.json_policy = FlushPolicy(
            policy.clock_skew_threshold_us,
            policy.max_future_us,
            accept_json=True,
            budgets=policy.budgets,
            key_overlap_us=policy.key_overlap_us,
        )
        self.loop = asyncio.new_event_loop()
        self.conn: repository.Conn | None = None
        self.stats = Stats()
        self.report_every = report_every
        self.baseline = self.loop.run_until_complete(self._baseline())

    @classmethod
    def create(cls, base_url: str | None = None) -> Harness:
        """The production policy (ROBOCOVER_* settings), but for the catalogue limit."""
        settings = IngestSettings(metric_catalogue_limit=CATALOGUE_LIMIT)
        policy = policy_from(settings)
        url = database.create_fuzz_database(base_url or settings.libpq_url)
        database.register_fleet(url, policy)
        harness = cls(url, policy)
        harness.loop.run_until_complete(harness._commit_base_history())
        database.fill_budgets(url, policy)
        harness.baseline = harness.loop.run_until_complete(harness._baseline())
        return harness

    async def connection(self) -> repository.Conn:
        if self.conn is None or self.conn.closed:
            deadline = time.monotonic() + 60
            while True:
                try:
                    self.conn = await psycopg.AsyncConnection.connect(
                        self.url, autocommit=True, connect_timeout=5
                    )
                    break
                except psycopg.OperationalError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(1)
        return self.conn

    async def _commit_base_history(self) -> None:
        """The fleet's history, through the real Flusher, committed."""
        conn = await self.connection()
        inbound = []
        for spec in FLEET:
            history = base_history()[spec.name]
            for payload, delivered in zip(history.payloads, history.delivered, strict=True):
                if delivered:
                    inbound.append(Inbound(spec.topic(topic_kind_of(payload)), payload, NOW_US - 1))
            for payload in history.statuses:
                inbound.append(Inbound(spec.topic("status"), payload, NOW_US - 1))
        async with conn.transaction():
            outcome = await Flusher(self.policy).flush(conn, inbound)
        if outcome.dead_letters or outcome.accepted != len(inbound) - 2:
            raise RuntimeError(f"the base history did not go in whole: {outcome}")

    async def _baseline(self) -> Baseline:
        conn = await self.connection()
        cursor = await conn.execute("SELECT coalesce(sum(samples), 0) FROM telemetry_hourly")
        row = await cursor.fetchone()
        assert row is not None  # noqa: S101 - an aggregate returns a row
        cursor = await conn.execute(
            "SELECT schemaname || '.' || sequencename, coalesce(last_value, start_value),"
            " last_value IS NOT NULL FROM pg_sequences WHERE schemaname = 'public'"
        )
        sequences = [(str(r[0]), int(r[1]), bool(r[2])) for r in await cursor.fetchall()]
        return Baseline(int(row[0]), sequences)

    def _setvals(self) -> sql.Composed:
        return sql.SQL(", ").join(
            sql.SQL("setval({}, {}, {})").format(
                sql.Literal(name), sql.Literal(value), sql.Literal(called)
            )
            for name, value, called in self.baseline.sequences
        )

    async def _reset_sequences(self) -> None:
        """Sequences are not transactional: put them back, so that ids (and the limits of the
        columns they go in) are the same for every input."""
        if self.sequences_reset:
            return
        conn = await self.connection()
        await conn.execute(sql.SQL("SELECT {}").format(self._setvals()))

    def run(self, data: bytes) -> None:
        plan = parse(data)
        try:
            self.loop.run_until_complete(self._run(plan))
        finally:
            self.stats.inputs += 1
            if self.stats.inputs % VACUUM_EVERY == 0:
                self.loop.run_until_complete(self._vacuum())
                trim_heap()
                self.stats.trimmed_rss = rss_mb()
            if self.report_every and self.stats.inputs % self.report_every == 0:
                sys.stderr.write(self.stats.line() + "\n")

    async def _vacuum(self) -> None:
        conn = await self.connection()
        await conn.execute("VACUUM")

    async def _run(self, plan: Plan) -> None:
        conn = await self.connection()
        flusher = ObservingFlusher(self.json_policy if plan.accept_json else self.policy)
        totals = Totals()
        self.sequences_reset = False
        self.outcomes = []
        try:
            async with conn.transaction(force_rollback=True):
                cursor = await conn.execute(sql.SQL("SELECT {}").format(sql.SQL(INSERTED)))
                counted = await cursor.fetchone()
                assert counted is not None  # noqa: S101 - a SELECT of values returns a row
                before = (int(counted[0]), int(counted[1]))
                for flush in plan.flushes:
                    messages = [
                        Inbound(m.topic, m.payload, m.received_us, token=i)
                        for i, m in enumerate(flush)
                    ]
                    # Anything but OperationalError escaping here is a finding, as it is.
                    outcome = await flusher.flush(conn, messages)
                    if flusher.last_writes is None:
                        raise Finding("the flush never reached write_dead_letters")
                    check_flush(messages, outcome, flusher.last_writes, plan.accept_json)
                    flusher.last_writes = None
                    totals.add(outcome)
                    self.stats.add(outcome, len(messages))
                    self.outcomes.append(outcome)
                await self._check_database(conn, totals, before)
        except psycopg.OperationalError as exc:
            # The database went away (or a statement timed out): not the judge's fault.
            self.stats.operational_errors += 1
            logger.warning("database error, reconnecting: {}", exc)
            if self.conn is not None:
                await self.conn.close()
            self.conn = None
        finally:
            await self._reset_sequences()

    async def _check_database(
        self, conn: repository.Conn, totals: Totals, before: tuple[int, int]
    ) -> None:
        """The database checks (judge_oracles.check_database), inside the input's transaction."""
        robot_a, history = FLEET[0], base_history()[FLEET[0].name]
        # The sequences are put back in the same round trip (setval is not transactional).
        checks = sql.SQL(DATABASE_CHECKS).format(inserted=sql.SQL(INSERTED))
        query = sql.SQL("{}, {}").format(checks, self._setvals())
        cursor = await conn.execute(query, {"a": robot_a.robot_id, "conn": history.connection_seq})
        row = await cursor.fetchone()
        assert row is not None  # noqa: S101 - an aggregate returns a row
        self.sequences_reset = True
        check_database(row, totals, before, self.baseline.rollup_samples)

    def close(self) -> None:
        if self.conn is not None:
            self.loop.run_until_complete(self.conn.close())
        self.loop.close()
