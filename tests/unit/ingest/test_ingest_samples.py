"""Sample columns drafted in the decode step are the columns flatten() makes without them."""

from __future__ import annotations

import uuid

import numpy as np

from firmware_protocol import RobotSigner, TelemetryBatch, decode
from ingest.bridge.samples import PlacedBatch, SampleColumns, SampleDraft, flatten
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
