"""The messages outside the hash chain: a robot's status (its birth and its last will), and
what the cloud sends it, configs and acks. Frozen, self-validating values, like messages.py's."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from firmware_protocol import _validate as v
from firmware_protocol.catalogue import MetricKey, check_exponent
from firmware_protocol.errors import ErrorCode, InvalidFieldError, LimitExceededError
from firmware_protocol.limits import (
    MAX_ACK_RANGES,
    MAX_CATALOGUE_ENTRIES,
    MAX_CONFIG_COLLECTORS,
    MAX_CONFIG_METRICS,
    MAX_NAME_BYTES,
    MAX_SEALED_BYTES,
    SEALED_OVERHEAD_BYTES,
)
from firmware_protocol.messages import MessageKind, check_origin


class RobotState(IntEnum):
    ONLINE = 1
    """Birth: published retained on every (re)connection."""
    OFFLINE = 2
    """The broker's last will, or a clean shutdown."""


@dataclass(frozen=True, slots=True)
class MetricDeclaration:
    """A metric the robot will report: for vendor metrics the unit and meaning are declared here."""

    key: MetricKey
    exponent: int
    unit: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.key, MetricKey):
            raise InvalidFieldError("declared metric key must be a MetricKey")
        check_exponent(self.exponent)
        v.text(self.unit, "unit", 16, empty=True)
        v.text(self.description, "description", empty=True)
        if self.key.is_vendor and not self.unit:
            raise InvalidFieldError(f"vendor metric {self.key} must declare its unit")


@dataclass(frozen=True, slots=True)
class Status:
    """Birth (ONLINE) or last will (OFFLINE). Signed, retained, outside the hash chain."""

    KIND: ClassVar[MessageKind] = MessageKind.STATUS

    robot_id: uuid.UUID
    boot_id: uuid.UUID
    wall_us: int
    mono_us: int
    state: int
    firmware_version: str | None = None
    agent_version: str | None = None
    next_seq: int | None = None
    catalogue: tuple[MetricDeclaration, ...] = ()
    vendor: str | None = None
    model: str | None = None
    config_version: int | None = None
    """(1.1) The config version the robot has applied; None if it applied none."""
    connection_seq: int | None = None
    """(1.2) The robot's connection counter: one more for every connection it opens, kept
    across reboots like seq. The birth and the last will made for one connection carry the
    same value, so the cloud orders presence by (connection_seq, state) and an old birth
    replayed later changes nothing."""
    head_digest: bytes | None = None
    """(1.2) The digest of the chained message next_seq - 1: binds the status to the chain,
    so a tail of the chain deleted before it was sent shows as a gap the robot owes."""

    def __post_init__(self) -> None:
        check_origin(self.robot_id, self.boot_id, self.wall_us, self.mono_us)
        v.uint(self.state, "state", 0xFF, 1)
        v.optional_text(self.firmware_version, "firmware_version", MAX_NAME_BYTES)
        v.optional_text(self.agent_version, "agent_version", MAX_NAME_BYTES)
        v.optional_text(self.vendor, "vendor", MAX_NAME_BYTES)
        v.optional_text(self.model, "model", MAX_NAME_BYTES)
        if self.next_seq is not None:
            v.uint(self.next_seq, "next_seq")
        if self.config_version is not None:
            v.uint(self.config_version, "config_version")
        if self.connection_seq is not None:
            v.uint(self.connection_seq, "connection_seq")
        if self.head_digest is not None:
            v.digest(self.head_digest, "head_digest")
        if not isinstance(self.catalogue, tuple) or len(self.catalogue) > MAX_CATALOGUE_ENTRIES:
            raise LimitExceededError(
                f"a catalogue holds at most {MAX_CATALOGUE_ENTRIES} declarations"
            )
        if not all(isinstance(d, MetricDeclaration) for d in self.catalogue):
            raise InvalidFieldError("catalogue entries must be MetricDeclaration values")
        if self.state == RobotState.ONLINE:
            for required in ("firmware_version", "agent_version", "next_seq"):
                if getattr(self, required) is None:
                    raise InvalidFieldError(f"a birth needs {required}", ErrorCode.MISSING_FIELD)
        if self.head_digest is not None:
            if self.next_seq is None:
                raise InvalidFieldError("head_digest needs next_seq", ErrorCode.MISSING_FIELD)
            if self.next_seq == 0:
                raise InvalidFieldError("head_digest with next_seq 0: no message precedes seq 0")


@dataclass(frozen=True, slots=True)
class Config:
    """Cloud to robot, retained. Fields left None keep the robot's current setting."""

    KIND: ClassVar[MessageKind] = MessageKind.CONFIG

    robot_id: uuid.UUID
    config_version: int
    wall_us: int
    sample_interval_ms: int | None = None
    batch_interval_s: int | None = None
    compress: bool | None = None
    outbox_budget_bytes: int | None = None
    metrics: tuple[MetricKey, ...] | None = None
    """Metrics to report; None means all the robot has."""
    read_interval_ms: int | None = None
    """(1.1) The raw read period of the robot's collectors."""
    collectors: tuple[str, ...] | None = None
    """(1.1) The collectors to enable, by name; None keeps the robot's current set."""
    rotation_id: int | None = None
    """(1.2) A request to rotate the robot's credentials, numbered by the cloud: the robot
    makes a new signing key and answers with a KEY_ROTATED event naming this id."""
    rotation_credentials: bytes | None = None
    """(1.2) The robot's new broker account, sealed to its current key (signing.seal_to_robot):
    only the robot can open it. Requires rotation_id."""

    def __post_init__(self) -> None:
        v.robot_uuid(self.robot_id, "robot_id")
        v.uint(self.config_version, "config_version")
        v.signed_time_us(self.wall_us, "wall_us")
        if self.sample_interval_ms is not None:
            v.uint(self.sample_interval_ms, "sample_interval_ms", 3_600_000, 10)
        if self.batch_interval_s is not None:
            v.uint(self.batch_interval_s, "batch_interval_s", 3600, 1)
        if self.compress is not None:
            v.flag(self.compress, "compress")
        if self.outbox_budget_bytes is not None:
            v.uint(self.outbox_budget_bytes, "outbox_budget_bytes", minimum=1 << 20)
        if self.metrics is not None and (
            not isinstance(self.metrics, tuple)
            or len(self.metrics) > MAX_CONFIG_METRICS
            or not all(isinstance(k, MetricKey) for k in self.metrics)
        ):
            raise InvalidFieldError(f"metrics must be a tuple of at most {MAX_CONFIG_METRICS} keys")
        if self.read_interval_ms is not None:
            v.uint(self.read_interval_ms, "read_interval_ms", 60_000, 10)
        if self.collectors is not None:
            v.unique_names(self.collectors, "collectors", MAX_CONFIG_COLLECTORS)
        if self.rotation_id is not None:
            v.uint(self.rotation_id, "rotation_id", minimum=1)
        if self.rotation_credentials is not None:
            v.byte_string(
                self.rotation_credentials,
                "rotation_credentials",
                SEALED_OVERHEAD_BYTES + 2,
                MAX_SEALED_BYTES,
            )
            if self.rotation_id is None:
                raise InvalidFieldError(
                    "rotation_credentials needs rotation_id", ErrorCode.MISSING_FIELD
                )


@dataclass(frozen=True, slots=True, order=True)
class SeqRange:
    first: int
    last: int

    def __post_init__(self) -> None:
        v.uint(self.first, "range first")
        v.uint(self.last, "range last")
        if self.first > self.last:
            raise InvalidFieldError("a sequence range needs first <= last")

    def __contains__(self, seq: object) -> bool:
        return isinstance(seq, int) and self.first <= seq <= self.last


@dataclass(frozen=True, slots=True)
class Ack:
    """Cloud to robot: these chained messages are durably committed; the robot may forget them."""

    KIND: ClassVar[MessageKind] = MessageKind.ACK

    robot_id: uuid.UUID
    wall_us: int
    committed: tuple[SeqRange, ...]

    def __post_init__(self) -> None:
        v.robot_uuid(self.robot_id, "robot_id")
        v.signed_time_us(self.wall_us, "wall_us")
        ranges = self.committed
        if not isinstance(ranges, tuple) or not 1 <= len(ranges) <= MAX_ACK_RANGES:
            raise LimitExceededError(f"an ack holds 1..{MAX_ACK_RANGES} ranges")
        if not all(isinstance(r, SeqRange) for r in ranges):
            raise InvalidFieldError("committed must hold SeqRange values")
        if any(b.first <= a.last + 1 for a, b in itertools.pairwise(ranges)):
            raise InvalidFieldError("ack ranges must be sorted, disjoint and not adjacent")

    def covers(self, seq: int) -> bool:
        return any(seq in r for r in self.committed)
