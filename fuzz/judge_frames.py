"""Byte-level work on payloads for the judge fuzz target: framing (a header for another body,
re-signing, re-homing to another robot), a built message's fields pushed past the protocol's
bounds at the CBOR level (`override`), its signature (`sign`: the key in force, another, a random
one or none), and byte mutations of a payload (`mutate`, the MUTATED mode).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

import cbor2

from firmware_protocol import RobotSigner, TopicKind
from firmware_protocol._cbor import loads as cbor_loads
from firmware_protocol.codec import FLAG_SIGNED, HEADER, HEADER_BYTES, SIGNATURE_BYTES
from firmware_protocol.codec import SIGNING_CONTEXT as CONTEXT
from fuzz.judge_input import Reader
from fuzz.judge_values import OVERRIDE_VALUES
from fuzz.judge_world import FLEET, Sim, key_seed, signer_of


def sign_frame(frame: bytes, signer: RobotSigner) -> bytes:
    return frame + signer.sign(CONTEXT + frame)


def header_for(payload: bytes, body: bytes, *, minor: int | None = None) -> bytes:
    """The payload's header (kind, minor, flags) for another body."""
    _, major, old_minor, kind, flags, _ = HEADER.unpack_from(payload)
    return HEADER.pack(b"RC", major, old_minor if minor is None else minor, kind, flags, len(body))


def resign(payload: bytes, signer: RobotSigner) -> bytes:
    """Replace the last 64 bytes by a signature over the rest (what a re-signing owner of the
    key does); a payload too short to carry one is left alone."""
    if len(payload) < HEADER_BYTES + SIGNATURE_BYTES or not payload[5] & FLAG_SIGNED:
        return payload
    return sign_frame(payload[:-SIGNATURE_BYTES], signer)


def rehome(payload: bytes, robot_id: uuid.UUID) -> bytes:
    """Put the robot's id in a binary body that starts with key 0 (robot_id), as every body the
    reference encoder writes does."""
    if len(payload) >= 29 and payload[:2] == b"RC" and payload[11] == 0 and payload[12] == 0x50:
        return payload[:13] + robot_id.bytes + payload[29:]
    return payload


def topic_kind_of(payload: bytes) -> TopicKind:
    if len(payload) > 4 and payload[:2] == b"RC" and payload[4] in (2, 3):
        return TopicKind.EVENTS
    if len(payload) > 4 and payload[:2] == b"RC" and payload[4] == 4:
        return TopicKind.STATUS
    return TopicKind.TELEMETRY


def override(r: Reader, payload: bytes) -> bytes:
    """Push 0-3 fields of the body to (or past) the protocol's bounds: CBOR level, so the
    message classes' own checks do not stop it. The payload comes back unsigned."""
    count = (0, 0, 0, 0, 0, 1, 2, 3)[r.u8() % 8]
    minor_choice = r.u8() % 8
    if not count and minor_choice < 6:
        return payload
    end = len(payload) - SIGNATURE_BYTES
    body: Any = cbor_loads(payload[HEADER_BYTES:end])
    for _ in range(count):
        target = body
        events = body.get(20)
        if isinstance(events, list) and events and r.u8() & 1:
            event = events[r.u8() % len(events)]
            target = event if isinstance(event, dict) else body
        keys = [*target, 99, "x"]
        key = keys[r.u8() % len(keys)]
        action = r.u8() % 4
        if action == 1:
            target.pop(key, None)
        elif action == 2 and isinstance(target.get(key), int):
            target[key] += r.pick((1, -1, 2**32, -(2**32)))
        else:
            target[key] = r.pick(OVERRIDE_VALUES)
    new_body = cbor2.dumps(body)
    minor = (None, None, None, None, None, None, 0, 255)[minor_choice]
    if minor_choice == 7:
        minor = (1, 2, 3, 255)[r.u8() % 4]
    return header_for(payload, new_body, minor=minor) + new_body + payload[end:]


def sign(r: Reader, payload: bytes, sim: Sim) -> bytes:
    """Sign with the robot's key in force (choice 0), or another, or not at all."""
    choice = r.u8() % 8
    spec = sim.spec
    if choice == 4:  # unsigned: the frame without its flag and signature
        frame = payload[:-SIGNATURE_BYTES]
        header = bytearray(frame[:HEADER_BYTES])
        header[5] &= ~FLAG_SIGNED & 0xFF
        return bytes(header) + frame[HEADER_BYTES:]
    if choice == 5:
        return payload[:-SIGNATURE_BYTES] + r.raw(64).ljust(64, b"\x00")
    signer = sim.signer
    if choice == 1:  # its other key: the rotated one, or the one before it
        other = spec.seed if sim.signer_seed != spec.seed else spec.rotation_seed
        signer = signer_of(other or key_seed(f"{spec.name} rotated"))
    elif choice == 2:
        signer = FLEET[(FLEET.index(spec) + 1) % len(FLEET)].signer
    elif choice == 3:  # not cached: signer_of's cache is for the fleet's few keys
        signer = RobotSigner.from_seed(hashlib.sha256(r.raw(8)).digest())
    return resign(payload, signer)


def mutate(r: Reader, payload: bytes, sim: Sim, earlier: Sequence[bytes]) -> bytes:
    """1-4 byte mutations (a bit flipped, a byte set, the tail cut, bytes inserted or deleted, a
    piece of an earlier payload of the input inserted), then (choice 0) the header's length
    fixed and the frame re-signed with the robot's key: the mutated body then reaches the judge
    as authentic."""
    data = bytearray(payload)
    for _ in range(1 + r.u8() % 4):
        op, at = r.u8() % 6, r.u24() % (len(data) + 1)
        if op == 0 and data:
            data[min(at, len(data) - 1)] ^= 1 << (r.u8() % 8)
        elif op == 1 and data:
            data[min(at, len(data) - 1)] = r.u8()
        elif op == 2:
            del data[at:]
        elif op == 3:
            data[at:at] = r.raw(1 + r.u8() % 8)
        elif op == 4:
            del data[at : at + 1 + r.u8() % 16]
        elif op == 5 and earlier:
            other = earlier[r.u8() % len(earlier)]
            start = r.u24() % (len(other) + 1)
            data[at:at] = other[start : start + 1 + r.u8() % 64]
    fix = r.u8() % 4
    if fix in (0, 3) and len(data) >= HEADER_BYTES:
        signed = SIGNATURE_BYTES if data[5] & FLAG_SIGNED else 0
        body = max(len(data) - HEADER_BYTES - signed, 0)
        data[6:10] = body.to_bytes(4, "big")
    if fix in (0, 1):
        return resign(bytes(data), sim.signer)
    return bytes(data)
