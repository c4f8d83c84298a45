"""The protocol's messages as frozen, self-validating values.

Constructing one checks every invariant the decoder would check, so an agent cannot encode a
message that a conforming decoder refuses, and a decoded message is known to be valid.
"""

from __future__ import annotations

import itertools
import math
import operator
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, ClassVar, TypeAlias

from firmware_protocol import _validate as v
from firmware_protocol.catalogue import MetricKey, check_exponent, default_exponent
from firmware_protocol.errors import ErrorCode, InvalidFieldError, LimitExceededError
from firmware_protocol.limits import (
    MAX_ACK_RANGES,
    MAX_CATALOGUE_ENTRIES,
    MAX_CELLS_PER_BATCH,
    MAX_CONFIG_COLLECTORS,
    MAX_CONFIG_METRICS,
    MAX_EVENTS_PER_BATCH,
    MAX_EXPONENT,
    MAX_METRICS_PER_BATCH,
    MAX_NAME_BYTES,
    MAX_QUANTIZED_MAGNITUDE,
    MAX_SAMPLES_PER_BATCH,
    MAX_SEALED_BYTES,
    MAX_TIME_US,
    MIN_EXPONENT,
    SEALED_OVERHEAD_BYTES,
)

if TYPE_CHECKING:
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


def _check_chain(seq: int, prev_digest: bytes) -> None:
    v.uint(seq, "seq")
    v.digest(prev_digest, "prev_digest")
    if seq == 0 and prev_digest != v.ZERO_DIGEST:
        raise InvalidFieldError("the first message (seq 0) must have an all-zero prev_digest")


def _check_origin(robot_id: uuid.UUID, boot_id: uuid.UUID, wall_us: int, mono_us: int) -> None:
    v.robot_uuid(robot_id, "robot_id")
    v.robot_uuid(boot_id, "boot_id")
    v.signed_time_us(wall_us, "wall_us")
    v.time_us(mono_us, "mono_us")


# ---------------------------------------------------------------- telemetry, numpy-free
#
# Telemetry has two classes of one wire kind. TelemetryRows (here: plain tuples, pure Python)
# is what a robot builds and encodes: it imports no numpy. TelemetryBatch (telemetry.py: numpy
# arrays) is what `decode` returns, for the cloud's vectorised ingest. Both enforce exactly the
# same invariants, with the same errors, in the same order; both encode to the same bytes.

_TIMESTAMPS_ERROR = "timestamps_us must be strictly increasing, within 0..2**62"
_MAGNITUDE_ERROR = "a quantized value exceeds 2**53 in magnitude"
_INT: frozenset[type] = frozenset({int})
_SCALES = tuple(float(10**k) for k in range(MAX_EXPONENT + 1))
"""10.0**k, exact for k <= 22: the same doubles as numpy's np.power(10.0, k)."""


def _check_dimensions(
    metrics: int, samples: int, *, consistent: bool, keys: object, exponents: object
) -> None:
    """Batch shape limits, shared by both telemetry classes. `consistent`: every column has
    `samples` entries (for TelemetryBatch, the timestamps match the quantized array)."""
    if not isinstance(keys, tuple) or not isinstance(exponents, tuple):
        raise InvalidFieldError("keys and exponents must be tuples")
    if not 1 <= samples <= MAX_SAMPLES_PER_BATCH or not consistent:
        raise LimitExceededError(f"a batch holds 1..{MAX_SAMPLES_PER_BATCH} timestamps")
    if metrics > MAX_METRICS_PER_BATCH or metrics * samples > MAX_CELLS_PER_BATCH:
        raise LimitExceededError(
            f"a batch holds at most {MAX_METRICS_PER_BATCH} metrics and "
            f"{MAX_CELLS_PER_BATCH} values"
        )
    if len(keys) != metrics or len(exponents) != metrics:
        raise InvalidFieldError("keys, exponents and quantized rows differ in number")


def _check_metrics(keys: tuple[MetricKey, ...], exponents: tuple[int, ...]) -> None:
    """Key and exponent invariants, shared by both telemetry classes."""
    if not all(type(key) is MetricKey for key in keys):
        raise InvalidFieldError("metric keys must be MetricKey values")
    # Hash plain tuples: the dataclass __hash__ is a Python call per key.
    if len({(key.name, key.channel) for key in keys}) != len(keys):
        raise InvalidFieldError("a metric key appears twice in one batch")
    if exponents and (
        not all(type(e) is int for e in exponents)
        or min(exponents) < MIN_EXPONENT
        or max(exponents) > MAX_EXPONENT
    ):
        raise InvalidFieldError("exponents must be integers in -9..9")


def _metric_exponents(
    series: Mapping[MetricKey, object] | Mapping[str, object],
    exponents: Mapping[MetricKey, int] | Mapping[str, int] | None,
) -> tuple[tuple[MetricKey, ...], tuple[int, ...]]:
    """The keys of `series` (text parsed) and each one's exponent: given, else the catalogue's."""
    keys = tuple(MetricKey.parse(k) if isinstance(k, str) else k for k in series)
    given = {
        (MetricKey.parse(k) if isinstance(k, str) else k): e for k, e in (exponents or {}).items()
    }
    return keys, tuple(_exponent_for(key, given) for key in keys)


def _exponent_for(key: MetricKey, given: Mapping[MetricKey, int]) -> int:
    exponent = given.get(key, default_exponent(key))
    if exponent is None:
        raise InvalidFieldError(f"vendor metric {key} needs an explicit exponent (resolution)")
    return check_exponent(exponent)


def quantize_rows(
    rows: Sequence[Sequence[float]], exponents: Sequence[int]
) -> tuple[tuple[int, ...], ...]:
    """q = round-half-even(value / 10**exponent), bit for bit what telemetry.quantize gives.

    numpy computes ``rint(v * down / up)`` with ``down = 10.0**max(-e, 0)`` and
    ``up = 10.0**max(e, 0)``; the factor that is 1.0 changes nothing, so per row that is
    ``v * 10.0**-e`` (e <= 0) or ``v / 10.0**e`` (e > 0), the same IEEE operations as here.
    The errors and their order are numpy's too: any non-finite reading first, then magnitude.
    """
    scaled = [
        [x / _SCALES[e] for x in row] if e > 0 else [x * _SCALES[-e] for x in row]
        for row, e in zip(rows, exponents, strict=True)
    ]
    if not all(_finite(row) for row in scaled):
        raise InvalidFieldError("readings must be finite (NaN and infinity cannot be sent in v1.0)")
    if any(
        row and (max(row) > MAX_QUANTIZED_MAGNITUDE or min(row) < -MAX_QUANTIZED_MAGNITUDE)
        for row in scaled
    ):
        raise LimitExceededError("a reading exceeds 2**53 quanta at its resolution")
    # float.__round__ is round() without the builtin's dispatch: half-even, to int, like rint.
    return tuple(tuple(map(float.__round__, row)) for row in scaled)


def _finite(values: list[float]) -> bool:
    # One C-level sum instead of a call per value: the sum is finite unless a value is NaN or
    # infinite, or finite values overflowed it (then the slow, exact check decides).
    return math.isfinite(sum(values)) or all(map(math.isfinite, values))


def dequantize_rows(
    quantized: Sequence[Sequence[int]], exponents: Sequence[int]
) -> list[list[float]]:
    """value = q * 10**e as float, bit for bit what TelemetryBatch.values holds: q * 10.0**e
    for e > 0, q / 10.0**-e otherwise (exact quanta |q| <= 2**53, correctly rounded)."""
    return [
        [x * _SCALES[e] for x in row] if e > 0 else [x / _SCALES[-e] for x in row]
        for row, e in zip(quantized, exponents, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class TelemetryRows:
    """Columnar samples as plain tuples: the robot's telemetry message (no numpy).

    The same fields, invariants and wire encoding as TelemetryBatch: `quantized[m][i]` is
    metric m at `timestamps_us[i]` in units of 10**exponents[m]. `decode` returns the numpy
    TelemetryBatch; `to_batch()` gives the same.
    """

    KIND: ClassVar[MessageKind] = MessageKind.TELEMETRY

    robot_id: uuid.UUID
    boot_id: uuid.UUID
    seq: int
    prev_digest: bytes
    wall_us: int
    mono_us: int
    timestamps_us: tuple[int, ...]
    keys: tuple[MetricKey, ...]
    exponents: tuple[int, ...]
    quantized: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        # The order of the checks is TelemetryBatch's, so both raise the same error.
        _check_origin(self.robot_id, self.boot_id, self.wall_us, self.mono_us)
        _check_chain(self.seq, self.prev_digest)
        ts, q = self.timestamps_us, self.quantized
        if not isinstance(ts, tuple) or not set(map(type, ts)) <= _INT:
            raise InvalidFieldError("timestamps_us must be a tuple of integers")
        if (
            not isinstance(q, tuple)
            or not all(isinstance(row, tuple) for row in q)
            or not set(map(type, itertools.chain.from_iterable(q))) <= _INT
        ):
            raise InvalidFieldError("quantized must be a tuple of tuples of integers")
        samples = len(ts)
        _check_dimensions(
            len(q),
            samples,
            consistent=all(len(row) == samples for row in q),
            keys=self.keys,
            exponents=self.exponents,
        )
        if ts[0] < 0 or ts[-1] > MAX_TIME_US or not all(map(operator.lt, ts, ts[1:])):
            raise InvalidFieldError(_TIMESTAMPS_ERROR)
        if q and (
            max(map(max, q)) > MAX_QUANTIZED_MAGNITUDE
            or min(map(min, q)) < -MAX_QUANTIZED_MAGNITUDE
        ):
            raise LimitExceededError(_MAGNITUDE_ERROR)
        _check_metrics(self.keys, self.exponents)

    @property
    def sample_count(self) -> int:
        return len(self.quantized) * len(self.timestamps_us)

    @classmethod
    def from_values(
        cls,
        *,
        robot_id: uuid.UUID,
        boot_id: uuid.UUID,
        seq: int,
        prev_digest: bytes,
        wall_us: int,
        mono_us: int,
        timestamps_us: Sequence[int],
        series: Mapping[MetricKey, Sequence[float]] | Mapping[str, Sequence[float]],
        exponents: Mapping[MetricKey, int] | Mapping[str, int] | None = None,
    ) -> TelemetryRows:
        """Quantize float readings: q = round-half-even(value / 10**exponent), exactly as
        TelemetryBatch.from_values does (see quantize_rows).

        The exponent of a standard metric defaults to the catalogue's; a vendor metric must
        be given one in `exponents`. Timestamps must be integers (anything with __index__).
        """
        keys, exps = _metric_exponents(series, exponents)
        try:
            stamps = tuple(map(operator.index, timestamps_us))
            rows = [list(map(float, values)) for values in series.values()]
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidFieldError(f"timestamps or series are not numeric: {exc}") from None
        if any(len(row) != len(stamps) for row in rows):
            raise InvalidFieldError("a series and timestamps_us differ in length")
        return cls(
            robot_id=robot_id,
            boot_id=boot_id,
            seq=seq,
            prev_digest=prev_digest,
            wall_us=wall_us,
            mono_us=mono_us,
            timestamps_us=stamps,
            keys=keys,
            exponents=exps,
            quantized=quantize_rows(rows, exps),
        )

    def to_batch(self) -> TelemetryBatch:
        """The numpy TelemetryBatch holding the same samples (imports numpy)."""
        # Imported here: numpy (~21 MB) is for callers that want arrays, never for a robot.
        from firmware_protocol.telemetry import TelemetryBatch

        return TelemetryBatch.from_rows(self)


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
        _check_origin(self.robot_id, self.boot_id, self.wall_us, self.mono_us)
        _check_chain(self.seq, self.prev_digest)
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
        _check_origin(self.robot_id, self.boot_id, self.wall_us, self.mono_us)
        _check_chain(self.seq, self.prev_digest)
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
        _check_origin(self.robot_id, self.boot_id, self.wall_us, self.mono_us)
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


# Type aliases as text: TelemetryBatch lives in telemetry.py (numpy), which robots never import.
Message: TypeAlias = "TelemetryBatch | EventBatch | DropNotice | Status | Config | Ack"
"""What `decode` returns (telemetry always as TelemetryBatch)."""
ChainedMessage: TypeAlias = "TelemetryRows | TelemetryBatch | EventBatch | DropNotice"
"""The messages of a robot's hash chain, as its outbox holds them."""
CHAINED_KINDS = frozenset({MessageKind.TELEMETRY, MessageKind.EVENTS, MessageKind.DROP_NOTICE})
