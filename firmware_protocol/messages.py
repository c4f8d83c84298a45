"""The protocol's messages as frozen, self-validating values.

Constructing one checks every invariant the decoder would check, so an agent cannot encode a
message that a conforming decoder refuses, and a decoded message is known to be valid.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, ClassVar, TypeAlias

from firmware_protocol import _validate as v
from firmware_protocol.catalogue import MetricKey
from firmware_protocol.errors import ErrorCode, InvalidFieldError, LimitExceededError
from firmware_protocol.limits import (
    MAX_EVENTS_PER_BATCH,
    MAX_NAME_BYTES,
)

if TYPE_CHECKING:
    from firmware_protocol.control import Ack, Config, Status
    from firmware_protocol.rows import TelemetryRows
    from firmware_protocol.telemetry import TelemetryBatch


class MessageKind(IntEnum):
    """Byte 4 of the frame header."""

    TELEMETRY = 1
    EVENTS = 2
    DROP_NOTICE = 3
    STATUS = 4
    CONFIG = 5
    ACK = 6


@dataclass(frozen=True, slots=True)
class ChainLink:
    """Where a chained message sits in its robot's hash chain."""

    seq: int
    digest: bytes
    prev_digest: bytes


def check_chain(seq: int, prev_digest: bytes) -> None:
    v.uint(seq, "seq")
    v.digest(prev_digest, "prev_digest")
    if seq == 0 and prev_digest != v.ZERO_DIGEST:
        raise InvalidFieldError("the first message (seq 0) must have an all-zero prev_digest")


def check_origin(robot_id: uuid.UUID, boot_id: uuid.UUID, wall_us: int, mono_us: int) -> None:
    v.robot_uuid(robot_id, "robot_id")
    v.robot_uuid(boot_id, "boot_id")
    v.signed_time_us(wall_us, "wall_us")
    v.time_us(mono_us, "mono_us")


class EventKind(IntEnum):
    FAULT = 1
    FAULT_CLEARED = 2
    COLLISION = 3
    PROTECTIVE_STOP = 4
    EMERGENCY_STOP = 5
    OVER_TEMPERATURE = 6
    MAINTENANCE_DONE = 7
    FIRMWARE_CHANGE = 8
    CONFIG_APPLIED = 9
    """(1.1) The robot applied a remote config: code = its config_version as decimal text."""
    CONFIG_REJECTED = 10
    """(1.1) The robot refused a remote config: code = its config_version, message = why."""
    KEY_ROTATED = 11
    """(1.2) The robot rotated its signing key at the cloud's request: code = the config's
    rotation_id as decimal text, public_key = the new key. This batch is the last message
    signed with the old key; every chained message with a greater seq is signed with the new."""


class Severity(IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2
    CRITICAL = 3


_EVENT_REQUIRES: dict[int, tuple[str, ...]] = {
    EventKind.FAULT: ("code",),
    EventKind.FAULT_CLEARED: ("code",),
    EventKind.OVER_TEMPERATURE: ("metric", "value"),
    EventKind.MAINTENANCE_DONE: ("code",),
    EventKind.FIRMWARE_CHANGE: ("code", "from_version", "to_version"),
    EventKind.CONFIG_APPLIED: ("code",),
    EventKind.CONFIG_REJECTED: ("code",),
    EventKind.KEY_ROTATED: ("code", "public_key"),
}


@dataclass(frozen=True, slots=True)
class Event:
    """One discrete occurrence. `kind` codes above 10 (a later minor version) are kept as ints."""

    kind: int
    mono_us: int
    severity: int = Severity.INFO
    channel: int = 0
    code: str | None = None
    """Fault code, stop cause/source, maintenance kind or firmware component."""
    message: str | None = None
    value: float | None = None
    """Peak force (N) of a collision; temperature of an over-temperature."""
    threshold: float | None = None
    metric: MetricKey | None = None
    from_version: str | None = None
    to_version: str | None = None
    public_key: bytes | None = None
    """(1.2) KEY_ROTATED: the robot's new 32-byte Ed25519 public key."""

    def __post_init__(self) -> None:
        v.uint(self.kind, "event kind", 0xFFFF, 1)
        v.time_us(self.mono_us, "event mono_us")
        v.uint(self.severity, "severity", Severity.CRITICAL)
        v.uint(self.channel, "event channel", 255)
        v.optional_text(self.code, "event code", MAX_NAME_BYTES)
        v.optional_text(self.message, "event message")
        v.optional_finite(self.value, "event value")
        v.optional_finite(self.threshold, "event threshold")
        v.optional_text(self.from_version, "from_version", MAX_NAME_BYTES)
        v.optional_text(self.to_version, "to_version", MAX_NAME_BYTES)
        if self.metric is not None and not isinstance(self.metric, MetricKey):
            raise InvalidFieldError("event metric must be a MetricKey")
        if self.public_key is not None:
            v.digest(self.public_key, "event public_key")
        for required in _EVENT_REQUIRES.get(self.kind, ()):
            if getattr(self, required) is None:
                raise InvalidFieldError(
                    f"{EventKind(self.kind).name} event requires {required}",
                    ErrorCode.MISSING_FIELD,
                )

    @property
    def known_kind(self) -> EventKind | None:
        return EventKind(self.kind) if self.kind in EventKind._value2member_map_ else None


@dataclass(frozen=True, slots=True)
class EventBatch:
    KIND: ClassVar[MessageKind] = MessageKind.EVENTS

    robot_id: uuid.UUID
    boot_id: uuid.UUID
    seq: int
    prev_digest: bytes
    wall_us: int
    mono_us: int
    events: tuple[Event, ...]

    def __post_init__(self) -> None:
        check_origin(self.robot_id, self.boot_id, self.wall_us, self.mono_us)
        check_chain(self.seq, self.prev_digest)
        if not isinstance(self.events, tuple) or not 1 <= len(self.events) <= MAX_EVENTS_PER_BATCH:
            raise LimitExceededError(f"an event batch holds 1..{MAX_EVENTS_PER_BATCH} events")
        if not all(isinstance(e, Event) for e in self.events):
            raise InvalidFieldError("events must be Event values")


class DropReason(IntEnum):
    DISK_BUDGET = 1
    """The outbox reached its disk budget and dropped its oldest messages."""
    EXPIRED = 2
    """Messages older than the outbox's retention were dropped."""
    CORRUPTED = 3
    """Stored messages failed their integrity check and were discarded."""


@dataclass(frozen=True, slots=True)
class DropNotice:
    """A signed admission that chained messages first_seq..last_seq will never be sent.

    `digest_before` is the prev_digest of message first_seq and `last_digest` the digest of
    message last_seq, so the chain stays verifiable across the hole.
    """

    KIND: ClassVar[MessageKind] = MessageKind.DROP_NOTICE

    robot_id: uuid.UUID
    boot_id: uuid.UUID
    seq: int
    prev_digest: bytes
    wall_us: int
    mono_us: int
    first_seq: int
    last_seq: int
    digest_before: bytes
    last_digest: bytes
    reason: int
    dropped_bytes: int
    dropped_samples: int | None = None
    """(1.1) Telemetry samples in the dropped range, if the robot counted them."""

    def __post_init__(self) -> None:
        check_origin(self.robot_id, self.boot_id, self.wall_us, self.mono_us)
        check_chain(self.seq, self.prev_digest)
        v.uint(self.first_seq, "first_seq")
        v.uint(self.last_seq, "last_seq")
        if not self.first_seq <= self.last_seq < self.seq:
            raise InvalidFieldError("a drop notice needs first_seq <= last_seq < its own seq")
        v.digest(self.digest_before, "digest_before")
        v.digest(self.last_digest, "last_digest")
        v.uint(self.reason, "drop reason", 0xFFFF, 1)
        v.uint(self.dropped_bytes, "dropped_bytes")
        if self.dropped_samples is not None:
            v.uint(self.dropped_samples, "dropped_samples")

    def covers(self, seq: int) -> bool:
        return self.first_seq <= seq <= self.last_seq


# Type aliases as text: TelemetryBatch lives in telemetry.py (numpy), which robots never import.
Message: TypeAlias = "TelemetryBatch | EventBatch | DropNotice | Status | Config | Ack"
"""What `decode` returns (telemetry always as TelemetryBatch)."""
ChainedMessage: TypeAlias = "TelemetryRows | TelemetryBatch | EventBatch | DropNotice"
"""The messages of a robot's hash chain, as its outbox holds them."""
CHAINED_KINDS = frozenset({MessageKind.TELEMETRY, MessageKind.EVENTS, MessageKind.DROP_NOTICE})
