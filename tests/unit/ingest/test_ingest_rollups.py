"""The hourly rollup's linear pass against the full sort it replaced: the same order, so the
same rows, bit for bit, on flushes laid out as the bridge makes them and on random ones."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from ingest.bridge.rollups import HOUR_US, HourlyRollup, hourly_rollup, rollup_order

BASE_US = 1_790_000_000_000_000


def sorted_rollup(
    robot_index: NDArray[np.int64],
    metric_id: NDArray[np.int64],
    time_us: NDArray[np.int64],
    value: NDArray[np.float64],
) -> HourlyRollup:
    """The rollup as computed before the linear pass: a full np.lexsort of the samples."""
    bucket = (time_us // HOUR_US) * HOUR_US
    order = np.lexsort((time_us, bucket, metric_id, robot_index))
    r, m, b, t = robot_index[order], metric_id[order], bucket[order], time_us[order]
    v = value[order]
    new_group = np.empty(r.shape[0], dtype=bool)
    new_group[0] = True
    new_group[1:] = (r[1:] != r[:-1]) | (m[1:] != m[:-1]) | (b[1:] != b[:-1])
    starts = np.flatnonzero(new_group)
    ends = np.append(starts[1:], r.shape[0]) - 1
    return HourlyRollup(
        robot_index=r[starts],
        metric_id=m[starts],
        bucket_us=b[starts],
        samples=np.diff(np.append(starts, r.shape[0])),
        total=np.add.reduceat(v, starts),
        total_sq=np.add.reduceat(v * v, starts),
        minimum=np.minimum.reduceat(v, starts),
        maximum=np.maximum.reduceat(v, starts),
        last_time_us=t[ends],
        last_value=v[ends],
    )


def flush_columns(
    rng: np.random.Generator, batches: int, *, overlap: bool, step_us: int = 1_000_000
) -> tuple[NDArray[np.int64], ...]:
    """Columns as flatten() lays them out: batch after batch, metric after metric, each
    metric's samples in time order. Robots' batches follow each other in time, or, with
    `overlap`, start anywhere within a few minutes (resent, late or reordered batches)."""
    robots, metrics, samples = 7, 5, 60
    columns: list[list[NDArray[np.int64]]] = [[], [], []]
    next_start = dict.fromkeys(range(robots), BASE_US + int(rng.integers(0, HOUR_US)))
    for _ in range(batches):
        robot = int(rng.integers(0, robots))
        if overlap:
            start = BASE_US + int(rng.integers(0, 3 * 60)) * step_us
        else:
            start = next_start[robot]
            next_start[robot] = start + samples * step_us
        times = start + np.arange(samples, dtype=np.int64) * step_us
        for metric in rng.permutation(metrics)[: int(rng.integers(1, metrics + 1))]:
            columns[0].append(np.full(samples, robot, dtype=np.int64))
            columns[1].append(np.full(samples, int(metric) + 1, dtype=np.int64))
            columns[2].append(times)
    return tuple(np.concatenate(c) for c in columns)


def assert_as_the_full_sort(
    robot_index: NDArray[np.int64],
    metric_id: NDArray[np.int64],
    time_us: NDArray[np.int64],
    value: NDArray[np.float64],
) -> None:
    """The linear pass orders the samples as np.lexsort does, and so rolls up the same rows."""
    bucket = (time_us // HOUR_US) * HOUR_US
    want = np.lexsort((time_us, bucket, metric_id, robot_index))
    assert np.array_equal(rollup_order(robot_index, metric_id, bucket, time_us), want)
    got = hourly_rollup(robot_index, metric_id, time_us, value)
    expected = sorted_rollup(robot_index, metric_id, time_us, value)
    for name in HourlyRollup.__slots__:
        assert np.array_equal(getattr(got, name), getattr(expected, name)), name


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("overlap", [False, True])
def test_the_rollup_is_the_full_sorts_bit_for_bit(seed: int, overlap: bool) -> None:
    rng = np.random.default_rng(seed)
    robot_index, metric_id, time_us = flush_columns(rng, 300, overlap=overlap)
    # Values whose sums depend on the order they are added in.
    value: NDArray[np.float64] = rng.normal(size=time_us.shape[0]) * np.power(
        10.0, rng.integers(-6, 9, time_us.shape[0])
    )
    assert_as_the_full_sort(robot_index, metric_id, time_us, value)


@pytest.mark.parametrize("seed", range(40))
def test_random_samples_in_any_order_give_the_full_sorts_order(seed: int) -> None:
    """Few distinct values, so runs, ties in time and runs meeting at one time abound."""
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.integers(1, 400))
    robot_index = rng.integers(0, 3, n).astype(np.int64)
    metric_id = rng.integers(1, 3, n).astype(np.int64)
    time_us = BASE_US + rng.integers(0, 4, n).astype(np.int64) * (HOUR_US // 2)
    if seed % 2:  # long runs: the linear pass's case
        keys = np.lexsort((time_us, metric_id, robot_index))
        cut = int(rng.integers(0, n))
        keys = np.concatenate((keys[cut:], keys[:cut]))
        robot_index, metric_id, time_us = robot_index[keys], metric_id[keys], time_us[keys]
    value: NDArray[np.float64] = rng.normal(0.0, 1e6, size=(n,))
    assert_as_the_full_sort(robot_index, metric_id, time_us, value)


def test_an_empty_flush_has_no_rollup() -> None:
    empty = np.empty(0, np.int64)
    assert len(hourly_rollup(empty, empty, empty, np.empty(0, np.float64))) == 0


@pytest.mark.parametrize("seed", range(8))
def test_a_batch_whose_times_go_back_is_sorted(seed: int) -> None:
    """Runs that do not overlap each other, but one of them out of time order within."""
    rng = np.random.default_rng(2000 + seed)
    robot_index, metric_id, time_us = flush_columns(rng, 40, overlap=False)
    run = slice(60 * int(rng.integers(0, 40)), None)
    window = time_us[run][:60]
    time_us[run][:60] = window[rng.permutation(60)]
    value: NDArray[np.float64] = rng.normal(0.0, 1e3, size=(time_us.shape[0],))
    assert_as_the_full_sort(robot_index, metric_id, time_us, value)
