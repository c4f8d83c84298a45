"""The judge fuzz target's oracles: what one flush's outcome must say about its messages
(`check_flush`), and what the database must hold after an input's flushes (DATABASE_CHECKS,
`check_database`). A `Finding` is an oracle that did not hold: atheris records the input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from firmware_protocol import MessageKind, ProtocolError, Topic, decode
from fuzz.judge_world import FLEET
from ingest.bridge import repository
from ingest.bridge.flush import Flusher
from ingest.bridge.writes import FlushOutcome, FlushPolicy, Inbound, Writes

# Reasons that only exist to contain an exception the code did not expect: decode() raises
# nothing but ProtocolError (docs/protocol.md section 17), and judging one message raises
# nothing by design (judge.py). Each one is a bug the bridge survived, so a finding here.
CONTAINED_EXCEPTIONS = frozenset({"decoder_error", "judging_error", "internal_error"})
# A message accepted (its receipt written, `accepted` counted) AND dead-lettered: its data is
# refused but its place in the chain is kept (judge.py: _accept and _receipt_only).
ACCEPTED_AND_REFUSED = frozenset({"future_timestamp", "metric_catalogue_full"})


class Finding(AssertionError):  # noqa: N818 - what fuzzers call it
    """An oracle did not hold for one input: atheris records the input as a crash."""


class ObservingFlusher(Flusher):
    """A Flusher that keeps what its last flush decided to write (write_dead_letters, a public
    step, is handed the flush's Writes as its last step). It changes nothing."""

    def __init__(self, policy: FlushPolicy) -> None:
        super().__init__(policy)
        self.last_writes: Writes | None = None

    async def write_dead_letters(self, conn: repository.Conn, writes: Writes) -> None:
        self.last_writes = writes
        await super().write_dead_letters(conn, writes)


def _unchained(message: Inbound, accept_json: bool) -> bool:
    """A message that decodes (exactly as Flusher.prepare decodes it) to a kind outside the
    hash chain: a status, or a config or ack on their own topics."""
    payload = message.payload
    if payload[:2] == b"RC" and len(payload) > 4 and payload[4] in (1, 2, 3):
        return False  # a chained kind, if it decodes at all: no need to decode it again
    try:
        decoded = decode(message.payload, topic=Topic.parse(message.topic), allow_json=accept_json)
    except ProtocolError:
        return False
    return decoded.kind not in (MessageKind.TELEMETRY, MessageKind.EVENTS, MessageKind.DROP_NOTICE)


def check_flush(
    messages: list[Inbound], outcome: FlushOutcome, written: Writes, accept_json: bool
) -> None:
    """What one flush's outcome must say about its messages.

    Every message has exactly one fate, read off judge.py and flush.py:
    - it did not decode, or its robot, tenant, status, key or signature is refused, or its
      chain link is tampered, or its key is not established: one dead letter;
    - it is a chained message already held with the same digest: `duplicates` + 1;
    - it is a chained message accepted: a receipt and `accepted` + 1, and, for
      future_timestamp and metric_catalogue_full, ALSO one dead letter (data refused, place
      in the chain kept);
    - it is a status (or a config or ack on its own topic) that verifies and is not
      contradicted: nothing is counted (presence is applied from the newest).
    Hence, with N messages:
        accepted + duplicates + dead letters - (future_timestamp + metric_catalogue_full)
            + unchained messages that got no dead letter == N,
    and no message has two dead letters. Also: one receipt per accepted message; the seqs
    acknowledged to robots are the accepted, duplicate and tampered chained messages (a
    tampered message is stored, so the robot may forget it); samples counted are the samples
    of the batches placed; no dead letter contains an exception the code did not expect."""
    letters = written.dead
    per_message = Counter(id(letter.inbound) for letter in letters)
    ids = {id(m) for m in messages}
    if set(per_message) - ids:
        raise Finding("a dead letter holds a message that is not in the flush")
    twice = [m for m in messages if per_message[id(m)] > 1]
    if twice:
        reasons = [d.reason for d in letters if d.inbound is twice[0]]
        raise Finding(f"a message was refused {len(reasons)} times: {reasons}")
    for letter in letters:
        if letter.reason in CONTAINED_EXCEPTIONS:
            raise Finding(f"{letter.reason} on {letter.inbound.topic!r}: {letter.detail}")
    if outcome.dead_letters != Counter(letter.reason for letter in letters):
        raise Finding(f"outcome reasons {outcome.dead_letters} are not the dead letters'")
    if len(written.receipts) != outcome.accepted:
        raise Finding(f"{len(written.receipts)} receipts for {outcome.accepted} accepted")
    both = sum(1 for letter in letters if letter.reason in ACCEPTED_AND_REFUSED)
    unchained = sum(1 for m in messages if per_message[id(m)] == 0 and _unchained(m, accept_json))
    fates = outcome.accepted + outcome.duplicates + len(letters) - both + unchained
    if fates != len(messages):
        raise Finding(
            f"{len(messages)} messages but accepted {outcome.accepted} + duplicates"
            f" {outcome.duplicates} + dead letters {len(letters)} - accepted-and-refused"
            f" {both} + unchained {unchained} = {fates}: {dict(outcome.dead_letters)}"
        )
    tampered = sum(
        1
        for letter in letters
        if letter.reason.startswith("tampered_") and letter.reason != "tampered_status_head"
    )
    committed = sum(len(seqs) for _, seqs in outcome.committed.values())
    if committed != outcome.accepted + outcome.duplicates + tampered:
        raise Finding(
            f"{committed} seqs acknowledged for {outcome.accepted} accepted,"
            f" {outcome.duplicates} duplicates and {tampered} tampered"
        )
    tenants = {spec.robot_id: spec.tenant for spec in FLEET}
    for robot_id, (tenant, _) in outcome.committed.items():
        if tenants.get(robot_id) != tenant:
            raise Finding(f"acknowledged to robot {robot_id} of tenant {tenant!r}")
    placed = sum(item.batch.sample_count for item in written.placed)
    if outcome.samples != placed:
        raise Finding(f"{outcome.samples} samples counted, {placed} placed")
    if outcome.gaps_opened < 0 or outcome.gaps_opened > outcome.accepted:
        raise Finding(f"{outcome.gaps_opened} gaps opened by {outcome.accepted} messages")


# Rows inserted are counted with pg_stat_get_xact_tuples_inserted (per chunk for the telemetry
# hypertable), before and after the flushes: count(*) would also walk the rolled-back rows of
# earlier inputs that VACUUM has not yet removed. (The counters also hold earlier transactions'
# counts not yet reported to the statistics system: only the difference within one
# transaction is this transaction's.)
INSERTED = """
 (SELECT coalesce(sum(pg_stat_get_xact_tuples_inserted(inhrelid)), 0) FROM pg_inherits
   WHERE inhparent = 'telemetry'::regclass),
 pg_stat_get_xact_tuples_inserted('batch_receipts'::regclass)"""
# (b.seq - 1 = a.seq, not b.seq = a.seq + 1: a receipt may hold seq 2**63 - 1, the largest
# bigint.)
DATABASE_CHECKS = """
SELECT {inserted},
 (SELECT coalesce(sum(samples), 0) FROM telemetry_hourly),
 (SELECT count(*) FROM batch_receipts a JOIN batch_receipts b
   ON b.robot_id = a.robot_id AND b.seq - 1 = a.seq WHERE b.prev_digest <> a.digest),
 (SELECT count(*) FROM robots r WHERE r.chain_head_seq IS DISTINCT FROM
   (SELECT max(b.seq) FROM batch_receipts b WHERE b.robot_id = r.id)),
 (SELECT count(*) FROM sequence_gaps g JOIN batch_receipts b ON b.robot_id = g.robot_id
   AND b.seq BETWEEN g.first_seq AND g.last_seq WHERE g.closed_at IS NULL),
 (SELECT count(*) FROM sequence_gaps g JOIN sequence_gaps h ON h.robot_id = g.robot_id
   AND h.first_seq < g.first_seq AND h.last_seq >= g.first_seq
   WHERE g.closed_at IS NULL AND h.closed_at IS NULL),
 (SELECT count(*) FROM sequence_gaps WHERE first_seq > last_seq),
 (SELECT count(*) FROM robots WHERE presence_connection_seq IS NULL AND id = %(a)s)
   + (SELECT count(*) FROM robots WHERE id = %(a)s
      AND (presence_connection_seq, presence_state) < (%(conn)s, 1))
"""
DATABASE_CHECK_NAMES = (
    "broken links between adjacent receipts",
    "robots whose chain_head_seq is not their newest receipt",
    "open gaps over a held receipt",
    "overlapping open gaps",
    "gaps with first_seq > last_seq",
    "robot A's presence moved back (connection_seq, state)",
)


@dataclass
class Totals:
    samples: int = 0
    accepted: int = 0

    def add(self, outcome: FlushOutcome) -> None:
        self.samples += outcome.samples
        self.accepted += outcome.accepted


def check_database(
    row: Sequence[Any], totals: Totals, before: tuple[int, int], rollup_baseline: int
) -> None:
    """What the database holds after an input's flushes, inside their transaction (the row of
    DATABASE_CHECKS; `before`, INSERTED's counts before the flushes; `rollup_baseline`, the
    samples of the hourly rollups before any input): telemetry rows and hourly rollups both
    grew by the samples counted; one receipt per accepted message; adjacent receipts link; each
    robot's chain head is its newest receipt; no open gap covers a held receipt or another open
    gap; robot A's presence (connection_seq, state) never moves back."""
    rows, receipts, rollup = (int(v) for v in row[:3])
    rows, receipts = rows - before[0], receipts - before[1]
    if rows != totals.samples:
        raise Finding(f"{rows} telemetry rows written for {totals.samples} samples")
    if rollup - rollup_baseline != totals.samples:
        raise Finding(f"rollups grew by {rollup - rollup_baseline}, {totals.samples} samples")
    if receipts != totals.accepted:
        raise Finding(f"{receipts} receipts written for {totals.accepted} accepted")
    checked = row[3 : 3 + len(DATABASE_CHECK_NAMES)]
    for name, count in zip(DATABASE_CHECK_NAMES, checked, strict=True):
        if count:
            raise Finding(f"{count} {name}")
