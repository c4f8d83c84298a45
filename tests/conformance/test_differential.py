"""The reference decoder against a decoder written from docs/protocol.md alone (doc_decoder/,
written clean-room by someone who saw only the document and the golden vectors): for every
payload, valid or not, both must give the same message or the same error code.

Payloads are the golden vectors mutated as a fuzzer would, at the byte level (flips,
insertions, deletions, truncations) and at the CBOR level (a field given another value or type,
removed, or a key added; the frame rebuilt around the body, its minor and kind changed).
ROBOCOVER_DIFFERENTIAL_CASES sets how many (make test runs a few thousand; make soak more).
"""

from __future__ import annotations

import json
import os
import random
import struct
from collections.abc import Callable
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any

import cbor2
import pytest

from firmware_protocol import (
    Ack,
    Config,
    Decoded,
    EventBatch,
    MetricKey,
    ProtocolError,
    Status,
    TelemetryBatch,
    Topic,
    decode,
)
from tests.conformance import doc_decoder

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "protocol"
MANIFEST: dict[str, Any] = json.loads((VECTORS / "manifest.json").read_text())
CASES = int(os.environ.get("ROBOCOVER_DIFFERENTIAL_CASES", "4000"))
EDGE_VALUES: list[Any] = [
    0, 1, -1, 255, 256, 65535, 65536, 2**31, 2**53, 2**53 + 1, 2**54, 2**54 + 1, 2**63 - 1,
    2**63, 2**64 - 1, -(2**63), -(2**64), 1.5, float("nan"), float("inf"), -0.0, True, False,
    None, "", "x", "x_a_b", "\n", "é" * 40, b"", bytes(16), bytes(32), bytes(64), [], [0],
    [[5, 0]], {}, {0: 1},
]  # fmt: skip


def _seeds() -> list[tuple[bytes, str | None]]:
    seeds = []
    for entry in MANIFEST["vectors"]:
        if "file" not in entry or entry["name"].startswith(("json_", "err_json_")):
            continue
        payload = bytes.fromhex((VECTORS / entry["file"]).read_text().strip())
        if payload[:1] != b"{":
            seeds.append((payload, entry.get("topic")))
    return seeds


def _key_ref(key: MetricKey) -> list[Any]:
    return [key.wire_ref, key.channel]


_AS_LISTS: dict[str, Callable[[Any], list[Any]]] = {
    "catalogue": lambda ds: [[*_key_ref(d.key), d.exponent, d.unit, d.description] for d in ds],
    "metrics": lambda ks: [_key_ref(k) for k in ks],
    "collectors": list,
    "committed": lambda rs: [[r.first, r.last] for r in rs],
}


def _value(name: str, value: Any) -> Any:
    if name in ("robot_id", "boot_id"):
        return value.bytes
    if isinstance(value, MetricKey):
        return _key_ref(value)
    convert = _AS_LISTS.get(name)
    return value if convert is None else convert(value)


def _fields(message: Any) -> dict[str, Any]:
    result = {}
    for spec in dataclass_fields(message):
        value = getattr(message, spec.name)
        if value is None or (spec.name == "catalogue" and value == ()):
            continue
        if spec.name in ("timestamps_us", "keys", "exponents", "quantized", "values", "events"):
            continue
        result[spec.name] = _value(spec.name, value)
    return result


def shape(decoded: Decoded) -> dict[str, Any]:
    """The reference's result in the clean-room decoder's notation."""
    message: Any = decoded.message
    fields = _fields(message)
    if isinstance(message, TelemetryBatch):
        fields["timestamps_us"] = message.timestamps_us.tolist()
        fields["metrics"] = [
            {"ref": k.wire_ref, "channel": k.channel, "exp": e, "q": q}
            for k, e, q in zip(
                message.keys, message.exponents, message.quantized.tolist(), strict=True
            )
        ]
    elif isinstance(message, EventBatch):
        fields["events"] = [_fields(event) for event in message.events]
    assert isinstance(message, (TelemetryBatch, EventBatch, Status, Config, Ack)) or fields
    return {
        "kind": int(decoded.kind),
        "minor": decoded.minor,
        "signed": decoded.signature is not None,
        "signature": decoded.signature,
        "fields": fields,
    }


def reference(payload: bytes, topic: str | None) -> tuple[str, Any]:
    try:
        decoded = decode(
            payload, topic=None if topic is None else Topic.parse(topic), allow_json=False
        )
    except ProtocolError as exc:
        return "error", exc.code.value
    return "ok", shape(decoded)


def clean_room(payload: bytes, topic: str | None) -> tuple[str, Any]:
    try:
        return "ok", doc_decoder.decode(payload, topic)
    except doc_decoder.Refusal as refusal:
        return "error", refusal.code


def _mutate_bytes(rng: random.Random, payload: bytes) -> bytes:
    data = bytearray(payload)
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        if choice < 0.5 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif choice < 0.7:
            data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
        elif choice < 0.9 and data:
            del data[rng.randrange(len(data))]
        else:
            data = data[: rng.randrange(len(data) + 1)]
    return bytes(data)


def _mutate_value(rng: random.Random, value: Any) -> Any:
    if isinstance(value, list) and value and rng.random() < 0.5:
        copy = list(value)
        index = rng.randrange(len(copy))
        copy[index] = _mutate_value(rng, copy[index])
        return copy
    if isinstance(value, dict) and value and rng.random() < 0.6:
        return _mutate_body(rng, dict(value))
    if isinstance(value, int) and not isinstance(value, bool) and rng.random() < 0.4:
        return value + rng.choice([-1, 1, 2**31, -(2**31)])
    return rng.choice(EDGE_VALUES)


def _mutate_body(rng: random.Random, body: dict[Any, Any]) -> dict[Any, Any]:
    choice = rng.random()
    if choice < 0.15 and body:
        del body[rng.choice(list(body))]
    elif choice < 0.25:
        body[rng.choice([7, 9, 19, 48, 49, 58, 59, 99, "x"])] = rng.choice(EDGE_VALUES)
    elif body:
        key = rng.choice(list(body))
        body[key] = _mutate_value(rng, body[key])
    return body


def _mutate_cbor(rng: random.Random, payload: bytes) -> bytes | None:
    if len(payload) < 10 or payload[:2] != b"RC":
        return None
    length = struct.unpack(">I", payload[6:10])[0]
    try:
        body = cbor2.loads(payload[10 : 10 + length])
    except Exception:  # a seed whose body is not CBOR: its bytes are mutated instead
        return None
    if not isinstance(body, dict):
        return None
    for _ in range(rng.randint(1, 3)):
        body = _mutate_body(rng, body)
    try:
        raw = cbor2.dumps(body)
    except (ValueError, TypeError, OverflowError, cbor2.CBOREncodeError):
        return None
    minor = payload[3] if rng.random() < 0.8 else rng.choice([0, 1, 2, 3])
    kind = payload[4] if rng.random() < 0.9 else rng.randint(1, 6)
    header = b"RC\x01" + bytes([minor, kind, payload[5]]) + struct.pack(">I", len(raw))
    signed = payload[5] & 1
    return header + raw + (bytes(64) if signed else b"")


def test_both_decoders_give_the_same_result_on_every_vector() -> None:
    for payload, topic in _seeds():
        assert clean_room(payload, topic) == reference(payload, topic)


def test_both_decoders_agree_on_mutated_vectors() -> None:
    rng = random.Random(20261201)
    seeds = _seeds()
    disagreements = []
    for case in range(CASES):
        seed, topic = rng.choice(seeds)
        mutated = _mutate_cbor(rng, seed) if rng.random() < 0.6 else None
        payload = mutated if mutated is not None else _mutate_bytes(rng, seed)
        if rng.random() < 0.1:
            topic = None
        ours, theirs = reference(payload, topic), clean_room(payload, topic)
        if ours != theirs:
            disagreements.append((case, payload.hex()[:160], topic, ours, theirs))
    assert not disagreements, "\n".join(map(str, disagreements[:5]))


@pytest.mark.parametrize("size", [0, 9, 10, 11, 4096])
def test_both_decoders_refuse_short_and_random_bytes_alike(size: int) -> None:
    rng = random.Random(size)
    for _ in range(50):
        payload = b"RC\x01" + rng.randbytes(max(size - 3, 0)) if size else b""
        assert clean_room(payload, None) == reference(payload, None)
