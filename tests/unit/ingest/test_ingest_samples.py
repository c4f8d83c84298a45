"""Sample columns drafted in the decode step are the columns flatten() makes without them: per
batch (SampleDraft) and for the whole flush (draft_columns, placed_columns)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from firmware_protocol import RobotSigner, TelemetryBatch, decode
from ingest.bridge.samples import (
    PlacedBatch,
    SampleColumns,
    SampleDraft,
    draft_columns,
    flatten,
    joined_drafts,
    placed_columns,
)
from tests.support.fleet import SimRobot


def batches(count: int) -> list[TelemetryBatch]:
    robots = [SimRobot("acme", uuid.uuid4(), RobotSigner.generate()) for _ in range(3)]
    decoded = [decode(robots[i % 3].telemetry(samples=7 + i)).message for i in range(count)]
    return [batch for batch in decoded if isinstance(batch, TelemetryBatch)]


def ids_of(batch: TelemetryBatch, known: dict[str, int]) -> np.ndarray:
    return np.array([known[str(key)] for key in batch.keys], dtype=np.int64)


def assert_same(got: SampleColumns, want: SampleColumns) -> None:
    assert got.robots == want.robots
    for name in ("time_us", "robot_index", "metric_id", "value", "seq"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name


def test_drafted_columns_are_flattens_own() -> None:
    made = batches(6)
    known = {str(key): 100 + i for i, key in enumerate(made[0].keys)}
    shifts = [0, 5_000_000, -3, 0, 17, 0]
    plain = [PlacedBatch(b, ids_of(b, known), s) for b, s in zip(made, shifts, strict=True)]
    drafted = [
        PlacedBatch(b, ids_of(b, known), s, SampleDraft.of(b, known))
        for b, s in zip(made, shifts, strict=True)
    ]
    assert all(p.draft is not None and p.draft.metric_ids is not None for p in drafted)
    assert_same(flatten(drafted), flatten(plain))


def test_a_draft_made_with_ids_since_changed_or_unknown_is_not_used_for_them() -> None:
    made = batches(4)
    stale = {str(key): 100 + i for i, key in enumerate(made[0].keys)}
    current = {key: number + 50 for key, number in stale.items()}  # a rolled-back registration
    partial = dict(list(stale.items())[:3])  # keys registered since the draft
    plain = [PlacedBatch(b, ids_of(b, current), 0) for b in made]
    drafted = [
        PlacedBatch(b, ids_of(b, current), 0, SampleDraft.of(b, stale if i % 2 else partial))
        for i, b in enumerate(made)
    ]
    assert [p.draft.key_ids is None for p in drafted if p.draft] == [True, False, True, False]
    assert_same(flatten(drafted), flatten(plain))


def flush_of(count: int) -> tuple[list[TelemetryBatch], dict[str, int]]:
    """Batches of three robots in the writer's order (robot, then seq)."""
    made = sorted(batches(count), key=lambda b: (b.robot_id, b.seq))
    return made, {str(key): 100 + i for i, key in enumerate(made[0].keys)}


def placed_when(which: str, index: int, batch: TelemetryBatch, first: TelemetryBatch) -> bool:
    return {
        "every batch": True,
        "some judged away": index % 3 != 1,
        "a robot wholly judged away": batch.robot_id != first.robot_id,
    }[which]


@pytest.mark.parametrize("which", ["every batch", "some judged away", "a robot wholly judged away"])
def test_the_placed_rows_of_a_drafted_flush_are_flattens_own(which: str) -> None:
    """Clock shifts added, ids unknown or stale when drafted set, judged-away rows left out;
    drafted in the order the batches came, placed in the writer's (robot, seq) order."""
    made, known = flush_of(9)
    stale = {key: number + 50 for key, number in known.items()}
    drafts = [SampleDraft.of(b, known if i % 4 else stale) for i, b in enumerate(made)]
    drafts[5] = SampleDraft.of(made[5], {})  # an id unknown then
    arrival = [4, 0, 7, 2, 8, 1, 5, 3, 6]
    drafted = draft_columns([(made[i], drafts[i]) for i in arrival])
    chosen = [i for i, b in enumerate(made) if placed_when(which, i, b, made[0])]
    shifts = {i: (i * 7_000_001 if i % 2 else 0) for i in chosen}
    placed = [PlacedBatch(made[i], ids_of(made[i], known), shifts[i], drafts[i]) for i in chosen]
    came = [i for i in arrival if i in chosen]
    plain = [PlacedBatch(made[i], ids_of(made[i], known), shifts[i]) for i in came]
    assert_same(placed_columns(drafted, placed), flatten(plain))


def test_a_draft_not_the_one_placed_is_not_used() -> None:
    """Rows are found by the draft's identity: a placed batch whose draft is another object
    (an id reused after the first was freed) is flattened."""
    made, known = flush_of(3)
    drafts = [SampleDraft.of(b, known) for b in made]
    drafted = draft_columns(list(zip(made, drafts, strict=True)))
    other = SampleDraft.of(made[1], known)
    entry = drafted.rows[id(drafts[0])]  # another batch's rows, under the new draft's id
    forged = type(drafted)(drafted.columns, {**drafted.rows, id(other): entry})
    placed = [PlacedBatch(made[1], ids_of(made[1], known), 5, other)]
    assert_same(placed_columns(forged, placed), flatten(placed))


def test_a_flush_placed_as_drafted_is_written_from_the_drafted_columns_themselves() -> None:
    made, known = flush_of(6)
    drafts = [SampleDraft.of(b, known) for b in made]
    drafted = draft_columns(list(zip(made, drafts, strict=True)))
    placed = [PlacedBatch(b, ids_of(b, known), 0, d) for b, d in zip(made, drafts, strict=True)]
    got = placed_columns(drafted, placed)
    assert got.time_us is drafted.columns.time_us  # nothing copied, nothing flattened
    assert_same(got, flatten([PlacedBatch(p.batch, p.metric_ids, 0) for p in placed]))


def test_placed_batches_come_in_the_drafted_order_and_undrafted_ones_flattened() -> None:
    made, known = flush_of(6)
    drafts = [SampleDraft.of(b, known) for b in made]
    drafted = draft_columns(list(zip(made, drafts, strict=True)))
    placed = [PlacedBatch(b, ids_of(b, known), 0, d) for b, d in zip(made, drafts, strict=True)]
    plain = [PlacedBatch(p.batch, p.metric_ids, 0) for p in placed]
    assert_same(placed_columns(drafted, placed[::-1]), flatten(plain))
    undrafted = [PlacedBatch(b, ids_of(b, known), 0, SampleDraft.of(b, known)) for b in made]
    assert_same(placed_columns(drafted, undrafted[::-1]), flatten(undrafted[::-1]))
    assert_same(placed_columns(None, undrafted), flatten(undrafted))


def test_drafts_of_chunks_joined_are_the_draft_of_the_whole() -> None:
    made, known = flush_of(9)
    drafts = [SampleDraft.of(b, known) for b in made]
    pairs = list(zip(made, drafts, strict=True))
    whole = draft_columns(pairs)
    joined = joined_drafts([draft_columns(pairs[:4]), draft_columns([]), draft_columns(pairs[4:])])
    assert joined.rows == whole.rows
    assert_same(joined.columns, whole.columns)
    assert len(joined_drafts([]).columns) == 0
