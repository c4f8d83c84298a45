"""The values the judge fuzz target's messages are made of: ladders, each picked from by one
input byte, index 0 the honest, typical value and later ones at and past the protocol's bounds
(judge_builder); the values a field is overridden with at the CBOR level (judge_frames); and the
quantized rows of a telemetry batch (`quantized_rows`).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from firmware_protocol.limits import MAX_QUANTIZED_MAGNITUDE, MAX_TIME_US
from fuzz.judge_world import NOW_US, SECOND

WALL_DELTAS_US: Final = (
    -SECOND,
    0,
    -5 * 60 * SECOND,
    -2 * 3600 * SECOND,
    1_500_000,
    3 * SECOND,  # ahead of the 2 s skew threshold
    299 * SECOND,
    301 * SECOND,  # just past ROBOCOVER_MAX_FUTURE_S
    3600 * SECOND,
    -8 * 86_400 * SECOND,  # before registration minus the plausibility margin
    -400 * 86_400 * SECOND,
    -NOW_US,  # 1970
    MAX_TIME_US - NOW_US,  # the protocol's bounds
    -MAX_TIME_US - NOW_US,
    10**12,
)
# Big batches (up to the 65 536 values a batch may hold) are the rarer picks: they cost ~50 ms.
SAMPLES: Final = (60, 1, 2, 3, 10, 5, 17, 1, 2, 3, 100, 255, 256, 1000, 2048, 4096)
METRICS: Final = (4, 0, 1, 2, 20, 8, 7, 3, 1, 2, 16, 64, 256)
PERIODS_US: Final = (SECOND, 1000, 1, 2**31 - 1, 100_000, 3)
BASES: Final = (1000, 0, -1, 12_345_678, MAX_QUANTIZED_MAGNITUDE, -MAX_QUANTIZED_MAGNITUDE, 2**31)
EXPONENT_CHOICES: Final = (None, -9, 9, 0, -3)
EVENT_KINDS: Final = (3, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 300, 65535)
EVENT_COUNTS: Final = (1, 2, 3, 1, 5, 256)
FLOATS: Final = (80.0, 0.0, -0.0, 1e308, -1e308, 5e-324, 2.0**53, 1.5, -273.15)
DROP_REASONS: Final = (1, 2, 3, 4, 32767, 32768, 65535)
BIG_UINTS: Final = (0, 1, 2**31, 2**53, 2**63 - 1)
OVERRIDE_VALUES: Final[tuple[object, ...]] = (
    -1,
    0,
    1,
    MAX_TIME_US,
    MAX_TIME_US + 1,
    -MAX_TIME_US - 1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    -(2**64),
    255,
    256,
    65535,
    65536,
    None,
    True,
    1.5,
    -0.0,
    "",
    "x" * 65,
    bytes(15),
    bytes(16),
    bytes(32),
    bytes(33),
    [],
    [0, 1],
    {},
    [1, 1, b"\x00"],
    [0, 3, b"\x00\x00\x00"],
    [1, 4, b"\x28\xb5\x2f\xfd"],
)
"""What judge_frames.override sets a field to: the bounds of the protocol's integers and times
and just past them, other CBOR types, too short or too long strings and digests, and arrays
shaped like (or almost like) a telemetry block."""


STEP_STYLES: Final = (
    (-2, -1, 0, 1, 2),
    (0,),
    (1,),
    (-128, 127),
    (-32768, 32767),
    (-(2**31 - 1), 2**31 - 1),
    (-(2**20), 2**20, 3),
)


def quantized_rows(
    seed: int, style: int, base: int, metrics: int, samples: int
) -> tuple[tuple[int, ...], ...]:
    """Quantized values, metric m from base + m: steps of a style that picks the block width
    (1, 2 or 4 bytes), clipped to +-2**53 (clipping only shortens a step)."""
    rng = np.random.default_rng(seed)
    steps = rng.choice(np.array(STEP_STYLES[style], dtype=np.int64), size=(metrics, samples))
    steps[:, 0] = 0
    bound = MAX_QUANTIZED_MAGNITUDE
    start = np.clip(base + np.arange(metrics, dtype=np.int64), -bound, bound)
    values = np.clip(start[:, None] + np.cumsum(steps, axis=1), -bound, bound)
    return tuple(tuple(row) for row in values.tolist())
