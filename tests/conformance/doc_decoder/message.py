"""The message assembly: the header of section 3, the body, the topic of section 2, ``decode``."""

from __future__ import annotations

import re
from typing import cast

from tests.conformance.doc_decoder.cbor import Cbor
from tests.conformance.doc_decoder.core import MAX_PAYLOAD, fail
from tests.conformance.doc_decoder.fields import KIND_FIELDS, by_name, judge
from tests.conformance.doc_decoder.telemetry import telemetry

_TENANT_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TOPIC_KINDS = {"telemetry": (1,), "events": (2, 3), "status": (4,), "config": (5,), "ack": (6,)}


def _body_fields(kind: int, body: dict[int | str, object], minor: int) -> dict[str, object]:
    """Section 5.1 for a body of ``kind``: steps 1-3, then the rules across fields (step 4)."""
    fields = KIND_FIELDS[kind]
    c = judge(body, fields, minor)
    if kind <= 3 and c[2] == 0 and c[3] != bytes(32):  # every chained kind: genesis
        fail("BAD_FIELD")
    if kind == 3 and not cast("int", c[30]) <= cast("int", c[31]) < cast("int", c[2]):
        fail("BAD_FIELD")
    if kind == 4:  # firmware_version, agent_version, next_seq when ONLINE; head_digest's
        needed = ((41, 42, 43) if c[40] == 1 else ()) + ((43,) if 49 in c else ())
        if any(key not in c for key in needed):
            fail("MISSING_FIELD")
        if 49 in c and c[43] == 0:
            fail("BAD_FIELD")
        if c.get(44) == []:
            del c[44]  # the brief: omit an empty catalogue
    if kind == 5 and 59 in c and 58 not in c:
        fail("MISSING_FIELD")
    if kind != 1:
        return by_name(c, fields)
    named = by_name({k: v for k, v in c.items() if k < 10}, fields)
    named.update(telemetry(c))
    return named


def _header(payload: bytes) -> tuple[int, int, bool, int]:
    """Steps 1-10 of section 3: minor, kind, signed, L."""
    size = len(payload)
    if size > MAX_PAYLOAD:
        fail("TOO_LARGE")
    if size == 0:
        fail("TRUNCATED")
    if payload[0] == 0x7B:  # '{': the JSON debug form is not accepted here
        fail("BAD_MAGIC")
    if size < 10:
        fail("BAD_MAGIC" if payload[:2] != b"RC"[:size] else "TRUNCATED")
    if payload[:2] != b"RC":
        fail("BAD_MAGIC")
    if payload[2] != 1:
        fail("UNSUPPORTED_MAJOR_VERSION")
    minor, kind, flags = payload[3], payload[4], payload[5]
    if not 1 <= kind <= 6:
        fail("UNKNOWN_KIND")
    if flags & 0xFE:
        fail("BAD_FIELD")
    signed = bool(flags & 1)
    length = int.from_bytes(payload[6:10], "big")
    total = 10 + length + (64 if signed else 0)
    if size != total:
        fail("TRUNCATED" if size < total else "TRAILING_BYTES")
    if kind <= 4 and not signed:
        fail("UNSIGNED")
    return minor, kind, signed, length


def _frame(payload: bytes) -> dict[str, object]:
    """Sections 3-11, without a topic."""
    minor, kind, signed, length = _header(payload)
    reader = Cbor(payload[10 : 10 + length])
    body = reader.item(1)
    if reader.pos != reader.end:
        fail("TRAILING_BYTES")
    if not isinstance(body, dict):
        fail("MALFORMED")
    return {
        "kind": kind,
        "minor": minor,
        "signed": signed,
        "signature": payload[10 + length :] if signed else None,
        "fields": _body_fields(kind, body, minor),
    }


def _topic(topic: str) -> tuple[tuple[int, ...], bytes]:
    """Section 2: the kinds the topic may carry and its robot's 16 bytes (else ``BAD_TOPIC``)."""
    levels = topic.split("/")
    if (
        len(topic) > 128
        or len(levels) != 5
        or levels[:2] != ["rc", "v1"]
        or levels[4] not in _TOPIC_KINDS
        or _TENANT_RE.fullmatch(levels[2]) is None
        or _UUID_RE.fullmatch(levels[3]) is None
    ):
        fail("BAD_TOPIC")
    return _TOPIC_KINDS[levels[4]], bytes.fromhex(levels[3].replace("-", ""))


def decode(payload: bytes, topic: str | None = None) -> dict[str, object]:
    """Decode one MQTT payload (binary form); with ``topic``, judge it against the topic."""
    payload = bytes(payload)
    if topic is None:
        return _frame(payload)
    kinds, robot = _topic(topic)
    if len(payload) > MAX_PAYLOAD:
        fail("TOO_LARGE")
    header_ok = len(payload) >= 10 and payload[:3] == b"RC\x01" and 1 <= payload[4] <= 6
    if header_ok and payload[4] not in kinds:
        fail("KIND_TOPIC_MISMATCH")
    message = _frame(payload)
    fields = message["fields"]
    assert isinstance(fields, dict)
    if message["kind"] not in kinds or fields.get("robot_id") != robot:
        fail("KIND_TOPIC_MISMATCH")
    return message
