"""The clean-room decoder of docs/protocol.md against the golden vectors of its section 20."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.conformance.doc_decoder import Refusal, decode

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "protocol"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text(encoding="utf-8"))

# section 18: the standard metric codes
STANDARD_NAMES = {
    1: "joint_temperature_c",
    2: "motor_temperature_c",
    3: "motor_current_a",
    4: "joint_torque_nm",
    5: "battery_soc_pct",
    6: "battery_soh_pct",
    7: "battery_voltage_v",
    8: "odometer_m",
    9: "operating_hours_h",
    10: "payload_kg",
    11: "speed_m_s",
    12: "vibration_rms_m_s2",
    13: "protective_stop_count",
    14: "emergency_stop_count",
    15: "controller_cpu_pct",
    16: "controller_memory_pct",
    17: "controller_temperature_c",
    18: "cycle_count",
    19: "collision_count",
}
UUID_FIELDS = {"robot_id", "boot_id"}
KIND_NAMES = {1: "telemetry", 2: "events", 3: "drop_notice", 4: "status", 5: "config", 6: "ack"}

# Vectors that (in this implementation's reading) contradict docs/protocol.md: name -> reason.
CONTRADICTIONS: dict[str, str] = {}


def _binary(entry: dict[str, object]) -> bool:
    name = str(entry["name"])
    return not name.startswith(("json_", "err_json_"))


def _payload(entry: dict[str, object]) -> bytes:
    generate = entry.get("generate")
    if isinstance(generate, dict):
        return bytes.fromhex(str(generate["repeat_hex"])) * int(generate["count"])
    text = (VECTORS / str(entry["file"])).read_text(encoding="ascii")
    return bytes.fromhex("".join(text.split()))


def _key_text(ref: object, channel: object) -> str:
    name = STANDARD_NAMES.get(ref, f"std_{ref}") if isinstance(ref, int) else str(ref)
    return name if channel == 0 else f"{name}.{channel}"


def _bytes_text(name: str, value: bytes) -> str:
    return str(uuid.UUID(bytes=value)) if name in UUID_FIELDS else value.hex()


def _event_text(event: dict[str, object]) -> dict[str, object]:
    result: dict[str, object] = {}
    for name, value in event.items():
        if name == "metric" and isinstance(value, list):
            result[name] = _key_text(value[0], value[1])
        elif isinstance(value, bytes):
            result[name] = value.hex()
        else:
            result[name] = value
    return result


def _as_manifest(fields: dict[str, object]) -> dict[str, object]:
    """This decoder's fields in the manifest's notation (section 20)."""
    result: dict[str, object] = {}
    for name, value in fields.items():
        if isinstance(value, bytes):
            result[name] = _bytes_text(name, value)
        elif name == "metrics" and "timestamps_us" in fields and isinstance(value, list):
            result[name] = [
                {"key": _key_text(m["ref"], m["channel"]), "exp": m["exp"], "q": m["q"]}
                for m in value
            ]
        elif name == "metrics" and isinstance(value, list):
            result[name] = [_key_text(ref, channel) for ref, channel in value]
        elif name == "catalogue" and isinstance(value, list):
            result[name] = [
                {"key": _key_text(r, c), "exp": e, "unit": u, "description": d}
                for r, c, e, u, d in value
            ]
        elif name == "events" and isinstance(value, list):
            result[name] = [_event_text(event) for event in value]
        else:
            result[name] = value
    return result


def _entries(kind: str) -> list[object]:
    params: list[object] = []
    for entry in MANIFEST["vectors"]:
        if not _binary(entry) or kind not in entry:
            continue
        if kind == "verify" and ("error" in entry or "expect" in entry):
            continue  # covered by the other tests
        marks = []
        if entry["name"] in CONTRADICTIONS:
            marks.append(pytest.mark.xfail(reason=CONTRADICTIONS[entry["name"]], strict=True))
        params.append(pytest.param(entry, id=entry["name"], marks=marks))
    return params


@pytest.mark.parametrize("entry", _entries("error"))
def test_refusals(entry: dict[str, object]) -> None:
    topic = entry.get("topic")
    with pytest.raises(Refusal) as refused:
        decode(_payload(entry), topic=str(topic) if topic is not None else None)
    assert refused.value.code == entry["error"]


@pytest.mark.parametrize("entry", _entries("expect"))
def test_messages(entry: dict[str, object]) -> None:
    topic = entry.get("topic")
    message = decode(_payload(entry), topic=str(topic) if topic is not None else None)
    expect = entry["expect"]
    assert isinstance(expect, dict)
    assert KIND_NAMES[int(str(message["kind"]))] == expect["kind"]
    assert expect["major"] == 1
    assert message["minor"] == expect["minor"]
    assert message["signed"] is expect["signed"]
    signature = message["signature"]
    assert (signature is not None) is expect["signed"]
    if isinstance(signature, bytes):
        assert len(signature) == 64
    fields = message["fields"]
    assert isinstance(fields, dict)
    assert _as_manifest(fields) == expect["message"]


@pytest.mark.parametrize("entry", _entries("verify"))
def test_verify_only_vectors_decode(entry: dict[str, object]) -> None:
    """Entries checked only by verification (not implemented here) must at least decode."""
    message = decode(_payload(entry))
    assert message["signed"] is True


def test_never_another_exception() -> None:
    """Every truncation and every single-byte change of every binary vector: Refusal or a dict."""
    for entry in MANIFEST["vectors"]:
        if not _binary(entry) or "generate" in entry:
            continue
        payload = _payload(entry)
        for cut in range(0, len(payload), max(1, len(payload) // 64)):
            _decode_quietly(payload[:cut])
        for index in range(0, len(payload), max(1, len(payload) // 64)):
            for byte in (0x00, 0x17, 0x18, 0x1B, 0x5F, 0x9F, 0xBF, 0xF7, 0xFB, 0xFF):
                _decode_quietly(payload[:index] + bytes([byte]) + payload[index + 1 :])


def _decode_quietly(payload: bytes) -> None:
    code = None
    try:
        decode(payload)
    except Refusal as refusal:
        code = refusal.code
    assert code is None or code in CODES


CODES = {
    "TOO_LARGE",
    "TRUNCATED",
    "TRAILING_BYTES",
    "BAD_MAGIC",
    "MALFORMED",
    "UNSUPPORTED_MAJOR_VERSION",
    "UNKNOWN_KIND",
    "MISSING_FIELD",
    "BAD_FIELD",
    "UNKNOWN_FIELD",
    "LIMIT_EXCEEDED",
    "UNSUPPORTED_ENCODING",
    "DECOMPRESSION_FAILED",
    "DECOMPRESSION_BOMB",
    "UNSIGNED",
    "BAD_SIGNATURE",
    "BAD_KEY",
    "BAD_TOPIC",
    "KIND_TOPIC_MISMATCH",
}
