"""The golden vectors' fixed content: the TEST-ONLY key, the robot and its clocks, the messages
the vectors start from, and the helpers that build frames and bodies around them.

Shared by valid.py, refusals_v1_0.py, refusals.py and precedence.py; generate.py writes them.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

import cbor2
import numpy as np
import zstandard

from firmware_protocol import (
    Config,
    DropNotice,
    Event,
    EventBatch,
    EventKind,
    RobotSigner,
    RobotState,
    Status,
    TelemetryBatch,
    encode,
)
from firmware_protocol.codec import SIGNING_CONTEXT

TEST_SEED = hashlib.sha256(b"robocover protocol v1 TEST KEY - never use on a robot").digest()
SIGNER = RobotSigner.from_seed(TEST_SEED)
ROBOT = uuid.UUID("6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b")
BOOT = uuid.UUID("00112233-4455-4677-8899-aabbccddeeff")
WALL = 1_764_000_000_000_000  # 2025-11-24T16:00:00Z in microseconds
MONO = 3_600_000_000

TIME_MAX = 2**54
UINT_MAX = 2**63 - 1


@dataclass
class Vector:
    name: str
    description: str
    payload: bytes
    error: str | None = None
    verify: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def typical_batch(seq: int = 0, prev: bytes = bytes(32)) -> TelemetryBatch:
    """20 metrics x 60 samples at 1 Hz, smooth signals plus sensor noise, fixed seed."""
    rng = np.random.default_rng(20251124)
    n = 60
    t = np.arange(n, dtype=np.float64)
    series: dict[str, Any] = {}
    for joint in range(1, 7):
        drift = np.cumsum(rng.normal(0.0, 0.02, n))
        series[f"joint_temperature_c.{joint}"] = 38 + joint + drift + rng.normal(0, 0.05, n)
    for motor in range(1, 7):
        load = 2.0 + 1.5 * np.sin(2 * np.pi * t / 20 + motor)
        series[f"motor_current_a.{motor}"] = load + rng.normal(0, 0.04, n)
    series["battery_soc_pct"] = 81.0 - t * 0.01 + rng.normal(0, 0.05, n)
    series["battery_soh_pct"] = 96.4 + rng.normal(0, 0.02, n)
    series["odometer_m"] = 15234.2 + np.cumsum(np.abs(rng.normal(0.4, 0.1, n)))
    series["operating_hours_h"] = 5123.25 + t / 3600
    series["payload_kg"] = 4.5 + rng.normal(0, 0.03, n)
    series["speed_m_s"] = np.abs(0.4 * np.sin(2 * np.pi * t / 20)) + rng.normal(0, 0.005, n)
    series["controller_cpu_pct"] = 35 + rng.normal(0, 3, n)
    series["controller_memory_pct"] = 41.2 + rng.normal(0, 0.1, n)
    stamps = MONO - 60_000_000 + np.arange(n) * 1_000_000 + rng.integers(-300, 300, n)
    return TelemetryBatch.from_values(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=seq,
        prev_digest=prev,
        wall_us=WALL,
        mono_us=MONO,
        timestamps_us=stamps,
        series=series,
    )


def frame(
    kind: int, body: bytes, *, major: int = 1, minor: int = 0, flags: int = 1, sign: bool = True
) -> bytes:
    """Hand-build a frame around any body bytes, signed with the test key."""
    header = b"RC" + bytes([major, minor, kind, flags]) + struct.pack(">I", len(body))
    raw = header + body
    return raw + SIGNER.sign(SIGNING_CONTEXT + raw) if sign else raw


def body_of(payload: bytes) -> dict[Any, Any]:
    decoded: dict[Any, Any] = cbor2.loads(payload[10 : 10 + struct.unpack(">I", payload[6:10])[0]])
    return decoded


def flip(payload: bytes, index: int) -> bytes:
    data = bytearray(payload)
    data[index] ^= 0x01
    return bytes(data)


def zstd(data: bytes, *, content_size: bool = True) -> bytes:
    return zstandard.ZstdCompressor(write_content_size=content_size).compress(data)


# ---------------------------------------------------------------- the messages vectors start from


def telemetry(**changes: Any) -> TelemetryBatch:
    """Two samples of one metric, seq 5: the batch most refusals alter."""
    base: dict[str, Any] = {
        "robot_id": ROBOT,
        "boot_id": BOOT,
        "seq": 5,
        "prev_digest": bytes([9]) * 32,
        "wall_us": WALL,
        "mono_us": MONO,
        "timestamps_us": [MONO - 1000, MONO],
        "series": {"battery_soc_pct": [50.0, 49.9]},
    }
    return TelemetryBatch.from_values(**(base | changes))


def heartbeat() -> TelemetryBatch:
    """A batch without a metric (M = 0), seq 6."""
    return TelemetryBatch.from_values(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=6,
        prev_digest=bytes([9]) * 32,
        wall_us=WALL,
        mono_us=MONO,
        timestamps_us=[MONO],
        series={},
    )


def drop_notice() -> DropNotice:
    """seq 100-110 dropped for the disk budget, told at seq 120."""
    return DropNotice(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=120,
        prev_digest=bytes([7]) * 32,
        wall_us=WALL,
        mono_us=MONO,
        first_seq=100,
        last_seq=110,
        digest_before=bytes([1]) * 32,
        last_digest=bytes([2]) * 32,
        reason=1,
        dropped_bytes=1_048_576,
    )


def status(**changes: Any) -> Status:
    """An ONLINE birth (agent 0.2.0, next_seq 121)."""
    base: dict[str, Any] = {
        "robot_id": ROBOT,
        "boot_id": BOOT,
        "wall_us": WALL,
        "mono_us": MONO,
        "state": RobotState.ONLINE,
        "firmware_version": "5.12.0",
        "agent_version": "0.2.0",
        "next_seq": 121,
    }
    return Status(**(base | changes))


# ---------------------------------------------------------------- their bodies, to alter


def telemetry_body(changes: dict[Any, Any] | None = None) -> dict[Any, Any]:
    """The body of ``telemetry()`` in raw blocks, with ``changes``."""
    return body_of(encode(telemetry(), SIGNER, compress=False)) | (changes or {})


def tele(body: dict[Any, Any], *, minor: int = 0) -> bytes:
    """A signed telemetry frame around ``body``."""
    return frame(1, cbor2.dumps(body), minor=minor)


def heartbeat_body(changes: dict[Any, Any]) -> dict[Any, Any]:
    return body_of(encode(heartbeat(), SIGNER)) | changes


def drop_body(changes: dict[Any, Any] | None = None) -> dict[Any, Any]:
    return body_of(encode(drop_notice(), SIGNER)) | (changes or {})


def status_body(changes: dict[Any, Any] | None = None) -> dict[Any, Any]:
    return body_of(encode(status(), SIGNER)) | (changes or {})


def offline_body() -> dict[Any, Any]:
    """A status of state 2 (OFFLINE) with nothing but the fields every status needs."""
    return body_of(
        encode(Status(robot_id=ROBOT, boot_id=BOOT, wall_us=WALL, mono_us=MONO, state=2), SIGNER)
    )


def events_body(events: list[dict[int, Any]]) -> dict[Any, Any]:
    """An events body (seq 7) whose events are ``events``, given key by key."""
    batch = EventBatch(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=7,
        prev_digest=bytes([4]) * 32,
        wall_us=WALL,
        mono_us=MONO,
        events=(Event(EventKind.COLLISION, MONO),),
    )
    return body_of(encode(batch, SIGNER)) | {20: events}


def config_body(changes: dict[Any, Any] | None = None) -> dict[Any, Any]:
    config = Config(robot_id=ROBOT, config_version=9, wall_us=WALL)
    return body_of(encode(config)) | (changes or {})
