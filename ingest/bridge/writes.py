"""What a flush is made of: the messages received, the policy they are judged by, everything
judging decides to write, and the outcome the bridge acknowledges."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ingest.bridge.gaps import RobotGaps
from ingest.bridge.samples import PlacedBatch


@dataclass(frozen=True, slots=True)
class Inbound:
    """A message as received from the broker; `token` is the source's handle for acking it."""

    topic: str
    payload: bytes
    received_us: int
    token: object = None


@dataclass(frozen=True, slots=True)
class Budgets:
    """Dead letters stored per hour before they are only counted (docs/ingest.md)."""

    robot_messages: int = 600
    robot_bytes: int = 16 * 1024 * 1024
    tenant_bytes: int = 256 * 1024 * 1024
    unattributed_bytes: int = 64 * 1024 * 1024
    metric_catalogue: int = 4096
    """Metric keys one tenant's robots may register."""


@dataclass(frozen=True, slots=True)
class FlushPolicy:
    clock_skew_threshold_us: int
    max_future_us: int
    accept_json: bool = False
    budgets: Budgets = field(default_factory=Budgets)
    key_overlap_us: int = 7 * 86_400 * 1_000_000
    """How long after a key rotation a status signed with the previous key still verifies."""


@dataclass(slots=True)
class FlushOutcome:
    samples: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    gaps_opened: int = 0
    delays_us: list[int] = field(default_factory=list)
    """Per accepted chained message: from its making to its receipt, skew-corrected (the
    largest offset seen on its robot's boot minus its own: docs/ingest.md, Clocks)."""
    committed: dict[uuid.UUID, tuple[str, list[int]]] = field(default_factory=dict)
    """Per robot: tenant slug and the chained seqs now durably held (to acknowledge to it)."""

    def commit(self, robot: uuid.UUID, tenant: str, seq: int) -> None:
        self.committed.setdefault(robot, (tenant, []))[1].append(seq)


@dataclass(frozen=True, slots=True)
class CaseKey:
    """The review case evidence goes to: one open case per robot and category."""

    robot_id: uuid.UUID
    category: str
    reason: str
    """What opens the case, if none is open."""


@dataclass(slots=True)
class DeadLetter:
    inbound: Inbound
    reason: str
    detail: str
    robot_id: uuid.UUID | None = None
    """The topic's robot: the budget scope, known to us or not."""
    known_robot: bool = False
    """The robot exists: dead_letters.robot_id names it."""
    tenant: str | None = None
    case: CaseKey | None = None
    """Set when the refusal is itself evidence for a review case."""
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KeyRotation:
    robot_id: uuid.UUID
    seq: int
    """The KEY_ROTATED message's seq: the old key signs up to it, the new one after it."""
    rotation_id: int
    public_key: bytes


@dataclass(slots=True)
class Writes:
    """Everything one flush will write, gathered before any write."""

    placed: list[PlacedBatch] = field(default_factory=list)
    receipts: list[tuple[object, ...]] = field(default_factory=list)
    events: list[tuple[object, ...]] = field(default_factory=list)
    drops: list[tuple[object, ...]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    presence: list[tuple[object, ...]] = field(default_factory=list)
    heads: dict[uuid.UUID, tuple[int, bytes]] = field(default_factory=dict)
    gaps: dict[uuid.UUID, RobotGaps] = field(default_factory=dict)
    clocks: dict[tuple[uuid.UUID, uuid.UUID], int] = field(default_factory=dict)
    """Per (robot, boot): the largest offset seen, device clock minus receive time (us)."""
    evidence: list[tuple[CaseKey, dict[str, Any]]] = field(default_factory=list)
    """Evidence that is not a dead letter (a flood counted, a rollback seen)."""
    rotations: list[KeyRotation] = field(default_factory=list)
    catalogue: dict[uuid.UUID, set[str]] = field(default_factory=dict)
    """Per tenant id: metric keys its robots register in this flush."""
    claims: dict[tuple[uuid.UUID, int], bytes] = field(default_factory=dict)
    """Head digests births stated, for seqs not yet held."""

    def dead_letter(self, inbound: Inbound, reason: str, detail: str, **more: Any) -> None:
        self.dead.append(DeadLetter(inbound, reason, detail, **more))

    def suspect(self, case: CaseKey, item: dict[str, Any]) -> None:
        self.evidence.append((case, item))

    def reasons(self) -> Counter[str]:
        return Counter(letter.reason for letter in self.dead)
