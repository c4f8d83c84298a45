"""Hourly rollups of samples: the pure kernel behind ``telemetry_hourly``.

Every statistic merges associatively (counts and sums add, minima and maxima take the extreme,
the last value is the one with the latest time), so a flush's partial rollups fold into the
stored ones in any order: late batches land in their own hour, and exactly-once batches keep
redelivery out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

HOUR_US = 3_600_000_000


@dataclass(frozen=True, slots=True)
class HourlyRollup:
    """One row per (robot, metric, hour) group, arrays of shape (groups,)."""

    robot_index: NDArray[np.int64]
    metric_id: NDArray[np.int64]
    bucket_us: NDArray[np.int64]
    samples: NDArray[np.int64]
    total: NDArray[np.float64]
    total_sq: NDArray[np.float64]
    minimum: NDArray[np.float64]
    maximum: NDArray[np.float64]
    last_time_us: NDArray[np.int64]
    last_value: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.samples.shape[0])


def hourly_rollup(
    robot_index: NDArray[np.int64],
    metric_id: NDArray[np.int64],
    time_us: NDArray[np.int64],
    value: NDArray[np.float64],
) -> HourlyRollup:
    """Group samples by robot, metric and hour (UTC).

    robot_index: (n,) small integers naming robots (the caller keeps the mapping);
    metric_id: (n,); time_us: (n,) microseconds since the Unix epoch; value: (n,).
    """
    bucket = (time_us // HOUR_US) * HOUR_US
    n = robot_index.shape[0]
    if n == 0:
        empty_i, empty_f = np.empty(0, np.int64), np.empty(0, np.float64)
        return HourlyRollup(*(empty_i,) * 4, empty_f, empty_f, empty_f, empty_f, empty_i, empty_f)
    laid = _laid_runs(robot_index, metric_id, bucket, time_us)
    if laid is None:
        order = _full_sort(robot_index, metric_id, bucket, time_us)
        r, m, b = robot_index[order], metric_id[order], bucket[order]
        new_group = np.empty(n, dtype=bool)
        new_group[0] = True
        new_group[1:] = (r[1:] != r[:-1]) | (m[1:] != m[:-1]) | (b[1:] != b[:-1])
        starts = np.flatnonzero(new_group)
    else:
        order, starts = laid
    ends = np.append(starts[1:], n) - 1
    v = value[order]
    firsts = order[starts]
    return HourlyRollup(
        robot_index=robot_index[firsts].astype(np.int64),
        metric_id=metric_id[firsts].astype(np.int64),
        bucket_us=bucket[firsts],
        samples=np.diff(np.append(starts, n)).astype(np.int64),
        total=np.add.reduceat(v, starts),
        total_sq=np.add.reduceat(v * v, starts),
        minimum=np.minimum.reduceat(v, starts),
        maximum=np.maximum.reduceat(v, starts),
        last_time_us=time_us[order[ends]],
        last_value=v[ends],
    )


def rollup_order(
    robot_index: NDArray[np.int64],
    metric_id: NDArray[np.int64],
    bucket: NDArray[np.int64],
    time_us: NDArray[np.int64],
) -> NDArray[np.intp]:
    """The samples' order by robot, metric, hour, time, then position: what a stable
    ``np.lexsort((time_us, bucket, metric_id, robot_index))`` gives, found in a linear pass
    where the samples allow (_laid_runs)."""
    if robot_index.shape[0] == 0:
        return np.empty(0, np.intp)
    laid = _laid_runs(robot_index, metric_id, bucket, time_us)
    return _full_sort(robot_index, metric_id, bucket, time_us) if laid is None else laid[0]


def _full_sort(
    robot_index: NDArray[np.int64],
    metric_id: NDArray[np.int64],
    bucket: NDArray[np.int64],
    time_us: NDArray[np.int64],
) -> NDArray[np.intp]:
    order: NDArray[np.intp] = np.lexsort((time_us, bucket, metric_id, robot_index))
    return order


def _laid_runs(
    robot_index: NDArray[np.int64],
    metric_id: NDArray[np.int64],
    bucket: NDArray[np.int64],
    time_us: NDArray[np.int64],
) -> tuple[NDArray[np.intp], NDArray[np.intp]] | None:
    """The full sort's order without sorting the samples, and where each group starts in it;
    None where it cannot be had so.

    A flush's samples come in runs of one (robot, metric, hour), each in time order (a
    batch's samples of a metric). Only the runs are sorted, by their group and first sample;
    laid end to end they give the full sort's order if within each group every sample follows
    the one before in time, or at the same time from a later position: checked (within each
    run, then where runs meet). Runs that overlap in time fail it and the samples are sorted
    instead. Either way the order is the same permutation, so the rollup adds the same
    numbers in the same order: bit-identical results.
    """
    n = robot_index.shape[0]
    same = (robot_index[1:] == robot_index[:-1]) & (metric_id[1:] == metric_id[:-1])
    same &= bucket[1:] == bucket[:-1]
    if not bool(np.all((time_us[1:] >= time_us[:-1]) | ~same)):
        return None
    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    lengths = np.diff(np.append(starts, n))
    runs = np.lexsort(
        (starts, time_us[starts], bucket[starts], metric_id[starts], robot_index[starts])
    )
    first, length = starts[runs], lengths[runs]
    last = first + length - 1
    grouped = (robot_index[first[1:]] == robot_index[first[:-1]]) & (
        metric_id[first[1:]] == metric_id[first[:-1]]
    )
    grouped &= bucket[first[1:]] == bucket[first[:-1]]
    ends, begins = time_us[last[:-1]], time_us[first[1:]]
    after = (begins > ends) | ((begins == ends) & (first[1:] > last[:-1]))
    if not bool(np.all(after | ~grouped)):
        return None
    # Each run's positions laid end to end: its first position plus the offset in it.
    laid = np.cumsum(length) - length
    order: NDArray[np.intp] = np.arange(n, dtype=np.intp) + np.repeat(first - laid, length)
    group_starts: NDArray[np.intp] = laid[np.concatenate(([True], ~grouped))]
    return order, group_starts
