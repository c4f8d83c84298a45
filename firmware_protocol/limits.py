"""Hard limits of protocol v1. Decoders refuse anything beyond them (LIMIT_EXCEEDED / TOO_LARGE).

They bound the memory and time a hostile payload can cost: every length the decoder reads is
checked against them, or against the bytes actually remaining, before anything is allocated.
"""

from __future__ import annotations

from typing import Final

MAX_PAYLOAD_BYTES: Final = 256 * 1024
"""Largest MQTT payload, binary or JSON. Checked before any parsing."""

MAX_METRICS_PER_BATCH: Final = 256
MAX_SAMPLES_PER_BATCH: Final = 4096
MAX_CELLS_PER_BATCH: Final = 65_536
"""metrics x samples; also bounds a decompressed values block to 256 KiB."""

MAX_EVENTS_PER_BATCH: Final = 256
MAX_CATALOGUE_ENTRIES: Final = 512
MAX_ACK_RANGES: Final = 64
MAX_CONFIG_METRICS: Final = 512
MAX_CONFIG_COLLECTORS: Final = 32
"""Collector names in a config (1.1); each name is at most MAX_NAME_BYTES."""

MAX_CBOR_DEPTH: Final = 8
MAX_CBOR_ITEMS: Final = 16_384
"""Total data items in one body: bounds decode time of a payload of one-byte items."""

MAX_TEXT_BYTES: Final = 256
"""Longest text string anywhere in a body (UTF-8 bytes)."""

MAX_NAME_BYTES: Final = 64
"""Longest metric name, version string, fault code or model name."""

MAX_CHANNEL: Final = 255
MIN_EXPONENT: Final = -9
MAX_EXPONENT: Final = 9

MAX_QUANTIZED_MAGNITUDE: Final = 2**53
"""Quantized values stay exactly representable as float64."""

MAX_DELTA_MAGNITUDE: Final = 2**31 - 1
"""Successive quantized values (and timestamps) differ by at most this: widths are 1, 2 or 4."""

MAX_UINT64: Final = 2**64 - 1
MAX_TIME_US: Final = 2**62
"""Timestamps (monotonic or wall clock, microseconds) stay far from int64 overflow."""
