"""Simulated robots for the ingest's tests and benchmarks: register them, and make their signed,
chained messages exactly as the protocol says, with realistic values."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import numpy as np
import psycopg

from firmware_protocol import (
    DropNotice,
    Event,
    EventBatch,
    EventKind,
    RobotSigner,
    RobotState,
    Severity,
    Status,
    TelemetryBatch,
    Topic,
    TopicKind,
    encode,
    payload_digest,
)

GENESIS = bytes(32)
TYPICAL_METRICS = [
    *(f"joint_temperature_c.{j}" for j in range(1, 7)),
    *(f"motor_current_a.{j}" for j in range(1, 7)),
    "battery_soc_pct",
    "controller_cpu_pct",
    "controller_memory_pct",
    "vibration_rms_m_s2.1",
    "speed_m_s",
    "payload_kg",
    "operating_hours_h",
    "protective_stop_count",
]


def register_robot(
    database_url: str,
    signer: RobotSigner,
    *,
    tenant: str = "acme",
    status: str = "active",
    robot_class: str = "cobot",
) -> uuid.UUID:
    """A tenant (created if new) and an enrolled robot with the signer's public key."""
    with psycopg.connect(database_url) as conn:
        tenant_id = conn.execute(
            "INSERT INTO tenants (slug, name) VALUES (%s, %s) ON CONFLICT (slug)"
            " DO UPDATE SET name = EXCLUDED.name RETURNING id",
            (tenant, tenant.title()),
        ).fetchone()
        assert tenant_id is not None
        row = conn.execute(
            "INSERT INTO robots (tenant_id, serial_number, robot_class, manufacturer, model,"
            " status, signing_public_key) VALUES (%s, %s, %s, 'Acme', 'A1', %s, %s) RETURNING id",
            (tenant_id[0], uuid.uuid4().hex[:12], robot_class, status, signer.public_key),
        ).fetchone()
        assert row is not None
        robot_id: uuid.UUID = row[0]
        if status != "pending":  # the key signs the robot's chain from seq 0, as enrollment says
            conn.execute(
                "INSERT INTO robot_keys (robot_id, first_seq, public_key) VALUES (%s, 0, %s)",
                (robot_id, signer.public_key),
            )
        return robot_id


@dataclass
class SimRobot:
    """One robot's side of the chain: every chained message takes the next seq and links to the
    digest of the one before, whether or not it is ever delivered."""

    tenant: str
    robot_id: uuid.UUID
    signer: RobotSigner
    boot_id: uuid.UUID = field(default_factory=uuid.uuid4)
    seq: int = 0
    last_digest: bytes = GENESIS
    mono_us: int = 10_000_000
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(7))

    def topic(self, kind: TopicKind) -> str:
        return str(Topic(self.tenant, str(self.robot_id), kind))

    def _chain(self, payload: bytes) -> bytes:
        self.seq += 1
        self.last_digest = payload_digest(payload)
        return payload

    def telemetry(
        self,
        *,
        samples: int = 60,
        metrics: list[str] | None = None,
        period_us: int = 1_000_000,
        wall_us: int | None = None,
        exponents: dict[str, int] | None = None,
    ) -> bytes:
        """A signed telemetry batch of `samples` per metric, ending now on the device clock
        (vendor metrics need their `exponents`)."""
        keys = TYPICAL_METRICS if metrics is None else metrics
        self.mono_us += samples * period_us
        timestamps = self.mono_us - period_us * np.arange(samples - 1, -1, -1, dtype=np.int64)
        series = {
            key: 40 + 5 * np.sin(np.arange(samples) / 9) + self.rng.normal(0, 0.3, samples)
            for key in keys
        }
        batch = TelemetryBatch.from_values(
            robot_id=self.robot_id,
            boot_id=self.boot_id,
            seq=self.seq,
            prev_digest=self.last_digest,
            wall_us=time.time_ns() // 1000 if wall_us is None else wall_us,
            mono_us=self.mono_us,
            timestamps_us=timestamps,
            series=series,
            exponents=exponents,
        )
        return self._chain(encode(batch, self.signer))

    def events(self, *events: Event) -> bytes:
        chosen = events or (
            Event(
                kind=EventKind.COLLISION, mono_us=self.mono_us, severity=Severity.ERROR, value=80.0
            ),
        )
        batch = EventBatch(
            robot_id=self.robot_id,
            boot_id=self.boot_id,
            seq=self.seq,
            prev_digest=self.last_digest,
            wall_us=time.time_ns() // 1000,
            mono_us=self.mono_us,
            events=tuple(chosen),
        )
        return self._chain(encode(batch, self.signer))

    def skip(self, payloads: int = 1) -> list[bytes]:
        """Make chained telemetry that is never delivered (lost, or withheld)."""
        return [self.telemetry(samples=2) for _ in range(payloads)]

    def drop_notice(
        self,
        dropped: list[bytes],
        first_seq: int,
        dropped_samples: int | None = None,
        reason: int = 1,
    ) -> bytes:
        """Admit, signed, that the messages `dropped` (seqs first_seq..) were discarded; with
        `dropped_samples`, a protocol 1.1 notice that also counts their samples."""
        last_seq = first_seq + len(dropped) - 1
        digest_before = GENESIS if first_seq == 0 else _prev_digest_of(dropped[0])
        notice = DropNotice(
            robot_id=self.robot_id,
            boot_id=self.boot_id,
            seq=self.seq,
            prev_digest=self.last_digest,
            wall_us=time.time_ns() // 1000,
            mono_us=self.mono_us,
            first_seq=first_seq,
            last_seq=last_seq,
            digest_before=digest_before,
            last_digest=payload_digest(dropped[-1]),
            reason=reason,
            dropped_bytes=sum(len(p) for p in dropped),
            dropped_samples=dropped_samples,
        )
        return self._chain(encode(notice, self.signer))

    def status(
        self,
        state: RobotState = RobotState.ONLINE,
        *,
        wall_us: int | None = None,
        connection_seq: int | None = None,
        next_seq: int | None = None,
        head_digest: bytes | None = None,
    ) -> bytes:
        """A signed status; a birth says the chain reaches `next_seq` (by default, up to what
        this robot made), and protocol 1.2's `connection_seq` and `head_digest` when given."""
        online = state == RobotState.ONLINE
        message = Status(
            robot_id=self.robot_id,
            boot_id=self.boot_id,
            wall_us=time.time_ns() // 1000 if wall_us is None else wall_us,
            mono_us=self.mono_us,
            state=state,
            firmware_version="5.11.2" if online else None,
            agent_version="0.1.0" if online else None,
            next_seq=(self.seq if next_seq is None else next_seq) if online else next_seq,
            connection_seq=connection_seq,
            head_digest=head_digest,
        )
        return encode(message, self.signer)


def _prev_digest_of(payload: bytes) -> bytes:
    from firmware_protocol import decode

    decoded = decode(payload)
    assert decoded.link is not None
    return decoded.link.prev_digest
