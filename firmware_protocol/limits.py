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

MAX_UINT: Final = 2**63 - 1
"""(1.2) The largest value of any unsigned field without a smaller range of its own (seq,
counters, versions): what a signed 64-bit database column holds."""
MAX_TIME_US: Final = 2**54
"""(1.2) Monotonic times and timestamps are 0..2**54 us (571 years of uptime) and wall_us is
within +-2**54 (1399 to 2541): a sample's wall time, wall_us + (t - mono_us), then lies within
+-2**55 us of 1970 (829 to 3111), which every calendar type the cloud stores in can hold."""

MAX_SEALED_BYTES: Final = 512
"""(1.2) Longest sealed credentials in a config (section 10)."""
SEALED_OVERHEAD_BYTES: Final = 48
"""A sealed box adds an ephemeral X25519 key (32 bytes) and a Poly1305 tag (16 bytes)."""
