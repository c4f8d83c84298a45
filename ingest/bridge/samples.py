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

    def robot_table(self) -> NDArray[np.void]:
        """(robots,) each robot of `robots` as 16 raw bytes (dtype V16)."""
        return np.frombuffer(b"".join(r.bytes for r in self.robots), dtype="V16")


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


@dataclass(frozen=True, slots=True)
class DraftedColumns:
    """A flush's sample columns made in the decode step, before judging: every telemetry
    batch that decoded, in the order they came, with its clock trusted (shift 0) and the
    metric ids known then (0 where one was not). `rows` gives each batch's row range, by its
    draft (`id(draft)`, the draft kept beside it: an id is only compared while its object
    lives)."""

    columns: SampleColumns
    rows: Mapping[int, tuple[SampleDraft, int, int]]


def draft_columns(batches: list[tuple[TelemetryBatch, SampleDraft]]) -> DraftedColumns:
    """The columns of `batches`, in order: a few whole-array steps, not a step per batch."""
    if not batches:
        return DraftedColumns(SampleColumns(), {})
    robots: dict[uuid.UUID, int] = {}
    counts = np.array([batch.quantized.size for batch, _ in batches], dtype=np.int64)
    ends = np.cumsum(counts)
    walls = np.array([batch.wall_us for batch, _ in batches], dtype=np.int64)
    seqs = np.array([batch.seq for batch, _ in batches], dtype=np.int64)
    owners = np.array(
        [robots.setdefault(batch.robot_id, len(robots)) for batch, _ in batches], dtype=np.int64
    )
    columns = SampleColumns(
        robots=list(robots),
        time_us=np.concatenate([draft.offsets_us for _, draft in batches])
        + np.repeat(walls, counts),
        robot_index=np.repeat(owners, counts),
        metric_id=np.concatenate(
            [
                np.zeros(batch.quantized.size, np.int64)
                if draft.metric_ids is None
                else draft.metric_ids
                for batch, draft in batches
            ]
        ),
        value=np.concatenate([batch.values.reshape(-1) for batch, _ in batches]),
        seq=np.repeat(seqs, counts),
    )
    if any(len(column) != int(ends[-1]) for column in _arrays(columns)):
        raise ValueError("a drafted column does not hold every sample")
    rows = {
        id(draft): (draft, int(end - count), int(end))
        for (_, draft), count, end in zip(batches, counts, ends, strict=True)
    }
    return DraftedColumns(columns, rows)


def _arrays(columns: SampleColumns) -> list[NDArray[np.generic]]:
    return [columns.time_us, columns.robot_index, columns.metric_id, columns.value, columns.seq]


def joined_drafts(parts: list[DraftedColumns]) -> DraftedColumns:
    """Drafts of consecutive chunks as one: a few whole-array steps per chunk."""
    robots: dict[uuid.UUID, int] = {}
    pieces: list[SampleColumns] = []
    rows: dict[int, tuple[SampleDraft, int, int]] = {}
    start = 0
    for part in parts:
        own = part.columns
        numbers = np.array([robots.setdefault(r, len(robots)) for r in own.robots], np.int64)
        pieces.append(
            SampleColumns(
                own.robots,
                own.time_us,
                numbers[own.robot_index] if len(own) else own.robot_index,
                own.metric_id,
                own.value,
                own.seq,
            )
        )
        rows.update({key: (d, a + start, b + start) for key, (d, a, b) in part.rows.items()})
        start += len(own)
    if not pieces:
        return DraftedColumns(SampleColumns(), {})
    columns = SampleColumns(
        robots=list(robots),
        time_us=np.concatenate([p.time_us for p in pieces]),
        robot_index=np.concatenate([p.robot_index for p in pieces]),
        metric_id=np.concatenate([p.metric_id for p in pieces]),
        value=np.concatenate([p.value for p in pieces]),
        seq=np.concatenate([p.seq for p in pieces]),
    )
    return DraftedColumns(columns, rows)


def placed_columns(drafted: DraftedColumns | None, placed: list[PlacedBatch]) -> SampleColumns:
    """The columns of the placed batches: the drafted ones, with the rows of batches not
    placed left out, clock shifts added and metric ids set where they were not known then,
    in the drafted order; `flatten(placed)`, in the placed order, where a placed batch was not
    drafted. Either way the same rows."""
    if drafted is None or not placed:
        return flatten(placed)
    drafts: list[SampleDraft] = []
    ranges: list[tuple[int, int]] = []
    for item in placed:
        entry = drafted.rows.get(id(item.draft))
        if entry is None or entry[0] is not item.draft:
            return flatten(placed)
        drafts.append(entry[0])
        ranges.append((entry[1], entry[2]))
    if len(set(ranges)) < len(ranges):
        return flatten(placed)
    whole = drafted.columns
    time_us, metric_id = whole.time_us, whole.metric_id
    for item, draft, (start, end) in zip(placed, drafts, ranges, strict=True):
        if item.shift_us:
            time_us = time_us if time_us is not whole.time_us else time_us.copy()
            time_us[start:end] += item.shift_us
        if draft.key_ids is None or not np.array_equal(draft.key_ids, item.metric_ids):
            metric_id = metric_id if metric_id is not whole.metric_id else metric_id.copy()
            metric_id[start:end] = np.repeat(item.metric_ids, item.batch.quantized.shape[1])
    columns = SampleColumns(
        whole.robots, time_us, whole.robot_index, metric_id, whole.value, whole.seq
    )
    if sum(end - start for start, end in ranges) == len(whole):
        return columns
    keep = np.zeros(len(whole), dtype=bool)
    for start, end in ranges:
        keep[start:end] = True
    return _compacted(columns, keep)


def _compacted(columns: SampleColumns, keep: NDArray[np.bool_]) -> SampleColumns:
    """The kept rows, with the robots list reduced to the robots they name."""
    robot_index = columns.robot_index[keep]
    present, first = np.unique(robot_index, return_index=True)
    present = present[np.argsort(first)]  # numbered in order of appearance, as flatten()
    renumber = np.zeros(len(columns.robots), dtype=np.int64)
    renumber[present] = np.arange(present.shape[0])
    return SampleColumns(
        robots=[columns.robots[int(r)] for r in present],
        time_us=columns.time_us[keep],
        robot_index=renumber[robot_index],
        metric_id=columns.metric_id[keep],
        value=columns.value[keep],
        seq=columns.seq[keep],
    )
