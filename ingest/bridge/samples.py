"""Accepted telemetry batches as flat sample columns: the rows of a flush, before COPY."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from firmware_protocol import TelemetryBatch


@dataclass(frozen=True, slots=True)
class SampleDraft:
    """A batch's sample columns made ahead of judging (in the decode step): all but the clock
    shift, which only the writer knows, and the metric ids, if the writer knew every key."""

    offsets_us: NDArray[np.int64]
    """(M * N,) each sample's time minus the batch's wall time, metric after metric."""
    key_ids: NDArray[np.int64] | None
    """(M,) the metric ids of batch.keys as known then, or None if one was not known."""
    metric_ids: NDArray[np.int64] | None
    """(M * N,) key_ids, each repeated for the metric's samples."""

    @classmethod
    def of(cls, batch: TelemetryBatch, known_ids: Mapping[str, int]) -> SampleDraft:
        metrics, samples = batch.quantized.shape
        offsets = np.tile(batch.timestamps_us - batch.mono_us, metrics)
        ids = [known_ids.get(str(key)) for key in batch.keys]
        if any(i is None for i in ids):
            return cls(offsets, None, None)
        key_ids = np.array(ids, dtype=np.int64)
        return cls(offsets, key_ids, np.repeat(key_ids, samples))


@dataclass(frozen=True, slots=True)
class PlacedBatch:
    """A batch ready to be written: its metric ids and where its times land."""

    batch: TelemetryBatch
    metric_ids: NDArray[np.int64]
    """(M,) metric ids, in the order of batch.keys."""
    shift_us: int
    """Clock correction added to the device's wall times (0 when the clock is trusted)."""
    draft: SampleDraft | None = None
    """Its columns made ahead, if they were."""

    def sample_times_us(self) -> NDArray[np.int64]:
        """(N,) wall-clock sample times, microseconds since the Unix epoch, corrected."""
        batch = self.batch
        return batch.timestamps_us - batch.mono_us + (batch.wall_us + self.shift_us)


@dataclass(slots=True)
class SampleColumns:
    """Columns of every sample of a flush; `robot_index` refers to `robots`."""

    robots: list[uuid.UUID] = field(default_factory=list)
    time_us: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    robot_index: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    metric_id: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    value: NDArray[np.float64] = field(default_factory=lambda: np.empty(0, np.float64))
    seq: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))

    def __len__(self) -> int:
        return int(self.value.shape[0])

    def robot_uuids(self) -> NDArray[np.void]:
        """(n,) the robot of each sample as 16 raw bytes (dtype V16)."""
        table = np.frombuffer(b"".join(r.bytes for r in self.robots), dtype="V16")
        return table[self.robot_index]


def flatten(placed: list[PlacedBatch]) -> SampleColumns:
    """Concatenate batches into sample columns, metric after metric within each batch."""
    if not placed:
        return SampleColumns()
    robots: dict[uuid.UUID, int] = {}
    times, robot_index, metric_ids, values, seqs = [], [], [], [], []
    for item in placed:
        batch = item.batch
        metrics, samples = batch.quantized.shape
        index = robots.setdefault(batch.robot_id, len(robots))
        count = metrics * samples
        draft = item.draft
        if draft is None:
            times.append(np.tile(item.sample_times_us(), metrics))
        else:
            times.append(draft.offsets_us + (batch.wall_us + item.shift_us))
        if (
            draft is not None
            and draft.key_ids is not None
            and draft.metric_ids is not None
            and np.array_equal(draft.key_ids, item.metric_ids)
        ):
            metric_ids.append(draft.metric_ids)
        else:
            metric_ids.append(np.repeat(item.metric_ids, samples))
        values.append(batch.values.reshape(-1))
        robot_index.append(np.full(count, index, dtype=np.int64))
        seqs.append(np.full(count, batch.seq, dtype=np.int64))
    return SampleColumns(
        robots=list(robots),
        time_us=np.concatenate(times),
        robot_index=np.concatenate(robot_index),
        metric_id=np.concatenate(metric_ids),
        value=np.concatenate(values),
        seq=np.concatenate(seqs),
    )
