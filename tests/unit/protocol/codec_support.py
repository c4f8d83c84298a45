"""What the codec tests share: the robot they speak for, an unsigned frame, a refusal's code,
an outcome (a result or an error class)."""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from typing import Any

import cbor2
import pytest

from firmware_protocol import ErrorCode, ProtocolError, decode

ROBOT = uuid.UUID("6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b")
BOOT = uuid.UUID("00112233-4455-4677-8899-aabbccddeeff")


def code_of(payload: Any, **kwargs: Any) -> ErrorCode:
    with pytest.raises(ProtocolError) as caught:
        decode(payload, **kwargs)
    return caught.value.code


def unsigned_frame(kind: int, body: Any, minor: int = 0) -> bytes:
    raw = cbor2.dumps(body) if not isinstance(body, bytes) else body
    return b"RC" + bytes([1, minor, kind, 0]) + struct.pack(">I", len(raw)) + raw


def outcome(build: Callable[[], object]) -> tuple[type[ProtocolError] | None, Any]:
    """(error class, None) or (None, result). Anything but a ProtocolError escapes."""
    try:
        return None, build()
    except ProtocolError as exc:
        return type(exc), None
