"""The soak's verdicts: what the robots made against what the database holds, the processes'
memory, the API's latency over the run; and the report of the figures.

What the robots made is read from their own outboxes once their agents have drained and ended
(each robot's chain: the next sequence number, the messages still pending, those dropped for
the outbox's budget); what was stored from the receipts (one per message, keyed by robot and
sequence number, with the samples it carried) and the telemetry rows themselves. A message is
lost if its sequence number has no receipt; a sample doubled if a (robot, metric, time) is
stored twice.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from bench.soak_load import NOT_SENT

if TYPE_CHECKING:
    from bench.soak import SoakResult
    from cloud_api.demo.fleet import DemoRobot
    from database.settings import CloudSettings

OUTBOX_FILE = "outbox.sqlite3"
MEMORY_GROWTH_LIMIT = 0.10
"""A process whose RSS grows by more than this over the run's second half is not flat."""
P99_DRIFT_LIMIT = 2.0
"""The last window's p99 may be at most this many times the run's median window p99."""


@dataclass(frozen=True)
class Ledger:
    robots: int = 0
    messages_made: int = 0
    messages_pending: int = 0
    pending_stored: int = 0
    """Of the pending: committed, their ack still on its way when the robot stopped (a robot
    stops after its drain timeout); sent again at its next start and deduplicated."""
    messages_dropped: int = 0
    receipts: int = 0
    messages_lost: int = 0
    samples_received: int = 0
    telemetry_rows: int = 0
    samples_doubled: int = 0
    dead_letters: int = 0
    open_gaps: int = 0


def _outbox(state_dir: Path) -> tuple[int, list[int], int]:
    """(next_seq, the pending messages' seqs, dropped messages) of one robot's outbox."""
    with sqlite3.connect(f"file:{state_dir / OUTBOX_FILE}?mode=ro", uri=True) as db:
        next_seq, dropped = db.execute("SELECT next_seq, dropped_messages FROM chain").fetchone()
        pending = [int(seq) for (seq,) in db.execute("SELECT seq FROM messages")]
    return int(next_seq), pending, int(dropped)


STORED = """
WITH ours AS (SELECT unnest(%(robots)s::uuid[]) AS robot_id)
SELECT
    (SELECT count(*) FROM batch_receipts r JOIN ours USING (robot_id)),
    (SELECT coalesce(sum(sample_count), 0) FROM batch_receipts r JOIN ours USING (robot_id)),
    (SELECT count(*) FROM telemetry t JOIN ours USING (robot_id)),
    (SELECT count(*) FROM (SELECT 1 FROM telemetry t JOIN ours USING (robot_id)
        GROUP BY t.robot_id, t.metric_id, t.time HAVING count(*) > 1) d),
    (SELECT count(*) FROM dead_letters d JOIN ours USING (robot_id)),
    (SELECT count(*) FROM sequence_gaps g JOIN ours USING (robot_id) WHERE g.closed_at IS NULL)
"""
PENDING_STORED = """
SELECT count(*) FROM batch_receipts r
JOIN (SELECT unnest(%(robots)s::uuid[]) AS robot_id, unnest(%(seqs)s::bigint[]) AS seq) p
USING (robot_id, seq)
"""
RECEIPTS = """
SELECT robot_id::text, count(*), max(seq) FROM batch_receipts
WHERE robot_id = ANY(%(robots)s::uuid[]) GROUP BY robot_id
"""


def count_ledger(settings: CloudSettings, robots: Sequence[DemoRobot]) -> Ledger:
    """The robots' outboxes against the database."""
    made = {robot.robot_id: _outbox(robot.state_dir) for robot in robots}
    ids = list(made)
    with psycopg.connect(settings.libpq_url) as conn:
        stored = conn.execute(STORED, {"robots": ids}).fetchone()
        receipts = {
            robot: (int(count), int(last))
            for robot, count, last in conn.execute(RECEIPTS, {"robots": ids})
        }
        pairs = [(robot, seq) for robot, (_, seqs, _) in made.items() for seq in seqs]
        row = conn.execute(
            PENDING_STORED,
            {"robots": [robot for robot, _ in pairs], "seqs": [seq for _, seq in pairs]},
        ).fetchone()
        pending_stored = int(row[0]) if row else 0
    assert stored is not None
    lost = 0
    for robot, (next_seq, pending, dropped) in made.items():
        count, last = receipts.get(robot, (0, -1))
        # every seq below next_seq is stored, still in the robot's outbox (pending: sent at its
        # next start), or accounted for by the robot's own drop notice; none is stored twice
        # (the receipts' key), none beyond what the robot made
        lost += max(0, next_seq - dropped - count - len(pending)) + max(0, last + 1 - next_seq)
    return Ledger(
        robots=len(made),
        messages_made=sum(m[0] for m in made.values()),
        messages_pending=sum(len(m[1]) for m in made.values()),
        pending_stored=pending_stored,
        messages_dropped=sum(m[2] for m in made.values()),
        receipts=int(stored[0]),
        messages_lost=lost,
        samples_received=int(stored[1]),
        telemetry_rows=int(stored[2]),
        samples_doubled=int(stored[3]),
        dead_letters=int(stored[4]),
        open_gaps=int(stored[5]),
    )


def failures(result: SoakResult) -> list[str]:
    """What the soak must show and did not, in words (empty: it passed)."""
    ledger, load, memory = result.ledger, result.load, result.memory
    found = []
    arrival = result.arrival
    if arrival.all_s is None:
        found.append(
            f"{arrival.online} of {arrival.robots} robots online when the steady state began"
        )
    unstored = ledger.messages_pending - ledger.pending_stored
    if ledger.messages_lost or unstored or ledger.open_gaps:
        found.append(
            f"messages lost {ledger.messages_lost}, pending and not stored {unstored},"
            f" open gaps {ledger.open_gaps}"
        )
    if ledger.samples_doubled or ledger.telemetry_rows != ledger.samples_received:
        found.append(
            f"samples doubled {ledger.samples_doubled}; telemetry rows {ledger.telemetry_rows}"
            f" against {ledger.samples_received} samples in the receipts"
        )
    if ledger.dead_letters or ledger.messages_dropped:
        found.append(f"dead letters {ledger.dead_letters}, dropped {ledger.messages_dropped}")
    for name in sorted(memory.samples):
        if memory.growth(name) > MEMORY_GROWTH_LIMIT:
            found.append(f"{name}: memory grew {memory.growth(name):.0%} over the second half")
    windows = [w for w in load.windows if w.latencies_s]
    if windows:
        typical = statistics.median(w.p(99) for w in windows)
        if windows[-1].p(99) > P99_DRIFT_LIMIT * typical:
            found.append(
                f"API p99 {windows[-1].p(99) * 1000:.0f} ms in the last window against"
                f" {typical * 1000:.0f} ms typical"
            )
    if load.errors:
        found.append(
            f"API errors: {load.errors} of {load.requests + load.not_sent}"
            f" ({load.not_sent} not sent: the client's {result.options.max_inflight} requests"
            " were all still open)"
        )
    return found


def _mib(value: int) -> str:
    return f"{value / 2**20:,.0f}"


def _seconds(value: float | None) -> str:
    return "not within the wait" if value is None else f"{value:.0f} s"


def _storm(result: SoakResult) -> str:
    """How the fleet came online, and the reads meanwhile (apart from the verdict)."""
    arrival, storm = result.arrival, result.storm.overall()
    return (
        f"The steady state began once the fleet was online: {arrival.online:,} of"
        f" {arrival.robots:,} robots online, half after {_seconds(arrival.half_s)}, all after"
        f" {_seconds(arrival.all_s)} (from just after the agents started). The same reads while they connected"
        f" (the connection storm, not in the verdict): {len(storm.latencies_s):,} answered,"
        f" p50 {storm.p(50) * 1000:.0f} ms, p99 {storm.p(99) * 1000:.0f} ms,"
        f" {storm.errors} errors ({storm.statuses.get(NOT_SENT, 0)} not sent)."
    )


def report(result: SoakResult, run_date: str, machine: str) -> str:
    options, ledger, load, memory = result.options, result.ledger, result.load, result.memory
    windows = [w for w in load.windows if w.latencies_s]
    problems = failures(result)
    lines = [
        f"Generated by `python bench/soak.py` on {run_date}. Machine: {machine}.",
        "",
        f"{options.robots:,} simulated robots in {options.fleets} agent processes for"
        f" {options.minutes:g} minutes once online (a 10 s window, a batch every 10 s), enrolled in"
        f" {result.enrolled_s:.0f} s; two ingest processes, two API processes behind nginx;"
        f" {options.rate:g} API reads per second (open loop, latency from when each was due,"
        f" at most {options.max_inflight} open) through the gateway;"
        f" {result.policies} policies issued and {result.claims} claims filed meanwhile."
        f" Verdict: **{'passed' if not problems else 'FAILED: ' + '; '.join(problems)}**.",
        "",
        _storm(result),
        "",
        "| robots' messages | stored | lost | pending (stored, ack late) | dropped | samples stored |"
        " doubled | dead letters | open gaps |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {ledger.messages_made:,} | {ledger.receipts:,} | {ledger.messages_lost} |"
        f" {ledger.messages_pending} ({ledger.pending_stored}) | {ledger.messages_dropped} | {ledger.telemetry_rows:,} |"
        f" {ledger.samples_doubled} | {ledger.dead_letters} | {ledger.open_gaps} |",
        "",
        "| API window (min) | answered | p50 ms | p99 ms | errors | of which not sent |",
        "|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {i + 1} | {len(w.latencies_s)} | {w.p(50) * 1000:.0f} | {w.p(99) * 1000:.0f} |"
            f" {w.errors} | {w.statuses.get(NOT_SENT, 0)} |"
            for i, w in enumerate(windows)
            if i in (0, 1) or i % 5 == 4 or i == len(windows) - 1
        ),
        "",
        "| process | RSS first MiB (as the agents start) | RSS peak MiB |"
        " growth over the second half |",
        "|---|---:|---:|---:|",
        *(
            f"| {name} | {_mib(memory.first(name))} | {_mib(memory.peak(name))} |"
            f" {memory.growth(name):+.1%} |"
            for name in sorted(memory.samples)
        ),
        "",
        "The database while it ran, the connection storm included (pg_stat_activity each"
        f" second): at most"
        f" {result.database.most_active} statements active at once; its slowest seconds:",
        "",
        *(f"- {second.describe()}" for second in result.database.slowest()),
        "",
    ]
    return "\n".join(lines)
