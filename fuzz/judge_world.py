"""The judge fuzz target's fixed world: its "now", the tenants and robots (ids, keys, status,
a pending rotation), each robot's committed base history, and the chain state a robot has while
an input is read (`Sim`). Fixed (seeds, ids, times), so that an input means the same flushes on
every run and on every machine: crash files reproduce.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from firmware_protocol import (
    STANDARD_METRICS,
    Event,
    EventBatch,
    EventKind,
    MetricKey,
    RobotSigner,
    RobotState,
    Status,
    TelemetryRows,
    TopicKind,
    encode,
    payload_digest,
)

NOW_US: Final = int(datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp()) * 1_000_000
"""The fuzz world's "now": every receive time is near it (mid-hour, so +-30 min is one
dead-letter budget window). Fixed, so that inputs reproduce."""
SECOND: Final = 1_000_000
ZERO_DIGEST: Final = bytes(32)
ROTATION_ID: Final = 7
"""The pending credential rotation of robot B (its KEY_ROTATED events must name it)."""
CATALOGUE_LIMIT: Final = 64
"""The fuzz policy's metric_catalogue_limit (production's is 4096: the code path is the same,
and reading a tenant's catalogue, which every flush does, costs 1.7 ms at 4096 keys)."""
CATALOGUE_HEADROOM: Final = 6
"""Tenant globex's catalogue is filled to its limit minus this; its robot G's base history
then registers 3 more keys: a batch with 4 new keys is refused (metric_catalogue_full)."""


def key_seed(name: str) -> bytes:
    """The seed of a fuzz key ("A", "B rotated", ...)."""
    return hashlib.sha256(f"robocover fuzz key {name}".encode()).digest()


@dataclass(frozen=True, slots=True)
class RobotSpec:
    name: str
    robot_id: uuid.UUID
    tenant: str
    seed: bytes
    status: str = "active"
    rotation_seed: bytes | None = None
    """Robot B has a credential rotation pending: the key it will rotate to."""

    @property
    def signer(self) -> RobotSigner:
        return signer_of(self.seed)

    def topic(self, kind: TopicKind | str) -> str:
        return f"rc/v1/{self.tenant}/{self.robot_id}/{TopicKind(kind).value}"


@functools.cache
def signer_of(seed: bytes) -> RobotSigner:
    return RobotSigner.from_seed(seed)


FLEET: Final = (
    RobotSpec("A", uuid.UUID("0a000000-0000-4000-8000-00000000000a"), "acme", key_seed("A")),
    RobotSpec(
        "B",
        uuid.UUID("0b000000-0000-4000-8000-00000000000b"),
        "acme",
        key_seed("B"),
        rotation_seed=key_seed("B rotated"),
    ),
    RobotSpec("G", uuid.UUID("0c000000-0000-4000-8000-00000000000c"), "globex", key_seed("G")),
    RobotSpec(
        "S", uuid.UUID("0d000000-0000-4000-8000-00000000000d"), "acme", key_seed("S"), "suspended"
    ),
)
UNKNOWN_ROBOT: Final = uuid.UUID("0e000000-0000-4000-8000-00000000000e")
TENANTS: Final = ("acme", "globex")
UNKNOWN_TENANT: Final = "initech"


@dataclass(slots=True)
class Sim:
    """One robot's own chain state while an input is read (it starts from its base history)."""

    spec: RobotSpec
    boot_id: uuid.UUID
    seq: int = 0
    last_digest: bytes = ZERO_DIGEST
    mono_us: int = 3_600 * SECOND
    connection_seq: int = 0
    signer_seed: bytes = b""
    payloads: dict[int, bytes] = field(default_factory=dict)
    withheld: list[int] = field(default_factory=list)
    """Seqs made but never delivered: what an honest drop notice accounts for."""

    def __post_init__(self) -> None:
        self.signer_seed = self.signer_seed or self.spec.seed

    @property
    def signer(self) -> RobotSigner:
        return signer_of(self.signer_seed)

    def chained(self, seq: int, payload: bytes, *, delivered: bool) -> None:
        self.payloads[seq] = payload
        if seq >= self.seq:
            self.seq, self.last_digest = seq + 1, payload_digest(payload)
        if not delivered:
            self.withheld.append(seq)

    def digest_of(self, seq: int) -> bytes | None:
        payload = self.payloads.get(seq)
        return None if payload is None else payload_digest(payload)


def _candidate_keys() -> tuple[tuple[MetricKey, int], ...]:
    """Metric keys a batch picks a window of: standard ones (with channels), unknown standard
    codes, new vendor keys, and tenant globex's registered vendor keys."""
    keys = [(MetricKey(s.name, c), s.exponent) for s in STANDARD_METRICS for c in (0, 1, 2, 3)]
    keys += [(MetricKey(f"std_{code}", 1), -2) for code in (20, 999, 65535)]
    keys += [(MetricKey(f"x_fz_m{i:03d}"), -3) for i in range(300)]
    return tuple(keys)


CANDIDATE_KEYS: Final = _candidate_keys()


def globex_key(index: int) -> MetricKey:
    """The vendor keys tenant globex has registered (index < its fill) or not yet."""
    return MetricKey(f"x_gx_m{index:04d}")


@dataclass(frozen=True, slots=True)
class History:
    """A robot's committed state before any input: payloads by seq (delivered or withheld),
    the statuses delivered, and where its own chain stands."""

    boot_id: uuid.UUID
    payloads: tuple[bytes, ...]
    delivered: tuple[bool, ...]
    statuses: tuple[bytes, ...]
    mono_us: int
    connection_seq: int


def _history_telemetry(spec: RobotSpec, boot: uuid.UUID, seq: int, prev: bytes) -> bytes:
    mono = 3_600 * SECOND + seq * 60 * SECOND
    keys = CANDIDATE_KEYS[seq : seq + 3]
    rows = TelemetryRows(
        robot_id=spec.robot_id,
        boot_id=boot,
        seq=seq,
        prev_digest=prev,
        wall_us=NOW_US - 3600 * SECOND + seq * 60 * SECOND,
        mono_us=mono,
        timestamps_us=tuple(mono - (2 - i) * SECOND for i in range(3)),
        keys=tuple(k for k, _ in keys),
        exponents=tuple(e for _, e in keys),
        quantized=tuple((1000 + seq, 1001 + seq, 999 + seq) for _ in keys),
    )
    return encode(rows, spec.signer)


@functools.cache
def base_history() -> dict[str, History]:
    """A: seqs 0-4, seq 3 withheld (an open gap), an event at 1, a 1.2 birth (connection 5).
    B: seq 0, a 1.1 birth (no connection_seq). G: seq 0. S (suspended): nothing."""
    histories: dict[str, History] = {}
    for spec in FLEET:
        boot = uuid.UUID(f"b0000000-0000-4000-8000-{FLEET.index(spec) + 1:012x}")
        length = {"A": 5, "B": 1, "G": 1}.get(spec.name, 0)
        payloads: list[bytes] = []
        prev = ZERO_DIGEST
        for seq in range(length):
            if spec.name == "A" and seq == 1:
                batch = EventBatch(
                    robot_id=spec.robot_id,
                    boot_id=boot,
                    seq=seq,
                    prev_digest=prev,
                    wall_us=NOW_US - 3000 * SECOND,
                    mono_us=3_660 * SECOND,
                    events=(Event(kind=EventKind.COLLISION, mono_us=3_660 * SECOND, value=80.0),),
                )
                payload = encode(batch, spec.signer)
            else:
                payload = _history_telemetry(spec, boot, seq, prev)
            payloads.append(payload)
            prev = payload_digest(payload)
        statuses: list[bytes] = []
        connection = 5 if spec.name == "A" else 0
        if spec.name in ("A", "B"):
            status = Status(
                robot_id=spec.robot_id,
                boot_id=boot,
                wall_us=NOW_US - 3500 * SECOND,
                mono_us=3_600 * SECOND,
                state=RobotState.ONLINE,
                firmware_version="5.11.2",
                agent_version="0.1.0",
                next_seq=length,
                connection_seq=connection if spec.name == "A" else None,
                head_digest=prev if spec.name == "A" else None,
            )
            statuses.append(encode(status, spec.signer))
        histories[spec.name] = History(
            boot_id=boot,
            payloads=tuple(payloads),
            delivered=tuple(not (spec.name == "A" and s == 3) for s in range(length)),
            statuses=tuple(statuses),
            mono_us=3_600 * SECOND + length * 60 * SECOND,
            connection_seq=connection,
        )
    return histories


def fresh_sims() -> dict[str, Sim]:
    sims = {}
    for spec in FLEET:
        history = base_history()[spec.name]
        sim = Sim(spec, history.boot_id, mono_us=history.mono_us)
        sim.connection_seq = history.connection_seq
        for seq, (payload, delivered) in enumerate(
            zip(history.payloads, history.delivered, strict=True)
        ):
            sim.chained(seq, payload, delivered=delivered)
        sims[spec.name] = sim
    return sims
