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
    order = np.lexsort((time_us, bucket, metric_id, robot_index))
    r, m, b, t = robot_index[order], metric_id[order], bucket[order], time_us[order]
    v = value[order]
    if r.shape[0] == 0:
        empty_i, empty_f = np.empty(0, np.int64), np.empty(0, np.float64)
        return HourlyRollup(*(empty_i,) * 4, empty_f, empty_f, empty_f, empty_f, empty_i, empty_f)
    new_group = np.empty(r.shape[0], dtype=bool)
    new_group[0] = True
    new_group[1:] = (r[1:] != r[:-1]) | (m[1:] != m[:-1]) | (b[1:] != b[:-1])
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], r.shape[0]) - 1
    return HourlyRollup(
        robot_index=r[starts].astype(np.int64),
        metric_id=m[starts].astype(np.int64),
        bucket_us=b[starts],
        samples=np.diff(np.append(starts, r.shape[0])).astype(np.int64),
        total=np.add.reduceat(v, starts),
        total_sq=np.add.reduceat(v * v, starts),
        minimum=np.minimum.reduceat(v, starts),
        maximum=np.maximum.reduceat(v, starts),
        last_time_us=t[ends],
        last_value=v[ends],
    )
