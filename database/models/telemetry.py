"""Telemetry: the metric catalogue, the samples (a hypertable), the receipts of signed batches."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class Metric(Base):
    """A metric key the cloud has seen: a catalogue or vendor metric name, and a channel
    (joint, motor, battery pack...). Its text form, ``name`` or ``name.N``, is the key."""

    __tablename__ = "metrics"
    __table_args__ = (CheckConstraint("channel BETWEEN 0 AND 255", name="channel_range"),)

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    key: Mapped[str] = mapped_column(String(70), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    channel: Mapped[int] = mapped_column(SmallInteger)
    unit: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(200), server_default="")


class TenantMetric(Base):
    """A tenant's catalogue: the metric keys its robots registered. Keys are shared names (one
    id per key across tenants), but each tenant may register at most the ingest's
    metric_catalogue_limit of them, so that one robot cannot use up what every tenant shares."""

    __tablename__ = "tenant_metrics"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    metric_id: Mapped[int] = mapped_column(ForeignKey("metrics.id"), primary_key=True)
    registered_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


# One row per sample, narrow, written by binary COPY: a TimescaleDB hypertable partitioned on time.
# It has no primary key: exactly-once is enforced per batch, by batch_receipts, in the same
# transaction. It has no foreign keys either: a per-row trigger would halve the COPY rate, and the
# ingest checks the robot and the metric of a batch before writing any of its rows. Its one index
# serves a robot's recent data and, by a nested loop over a fleet's robots, a fleet's last hour;
# every further index would slow the COPY that fills it.
telemetry = Table(
    "telemetry",
    Base.metadata,
    Column(
        "time", DateTime(timezone=True), nullable=False, comment="sample time, corrected for skew"
    ),
    Column("robot_id", Uuid, nullable=False),
    Column("metric_id", Integer, nullable=False),
    Column("value", Double, nullable=False),
    Column("seq", BigInteger, nullable=False, comment="sequence number of the batch it came in"),
    Index("ix_telemetry_robot_id_time", "robot_id", "time"),
)


class BatchReceipt(Base):
    """One accepted signed message of a robot: the ledger that makes rows exactly-once.

    Every signed message (telemetry, events, drop notices) takes a place in the robot's one sequence
    space and hash chain; a redelivered message finds its receipt and writes nothing.
    """

    __tablename__ = "batch_receipts"
    __table_args__ = (
        CheckConstraint("octet_length(digest) = 32", name="digest_length"),
        CheckConstraint("octet_length(prev_digest) = 32", name="prev_digest_length"),
    )

    robot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("robots.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    digest: Mapped[bytes] = mapped_column(LargeBinary)
    prev_digest: Mapped[bytes] = mapped_column(LargeBinary)
    boot_id: Mapped[uuid.UUID]
    device_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    clock_offset_s: Mapped[float] = mapped_column(
        Double, comment="device wall clock minus receive time, in seconds"
    )
    clock_shift_s: Mapped[float] = mapped_column(
        Double, comment="added to the device's times to correct its clock; 0 when trusted"
    )
    sample_count: Mapped[int] = mapped_column(Integer)


class RobotClock(Base):
    """What the cloud knows of a robot's clock during one boot: the largest offset seen.

    A message's offset (device wall clock minus receive time) is the clock's skew minus the
    message's delay, and delays are never negative: the largest offset over a boot is the best
    estimate of its skew, and only improves as fresher messages arrive.
    """

    __tablename__ = "robot_clocks"

    robot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("robots.id"), primary_key=True)
    boot_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    max_offset_us: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# Hourly rollups per robot and metric, maintained by the ingest in the transaction that writes
# the batch (no continuous aggregates in TimescaleDB's Apache edition). Every column merges
# associatively, so late and out-of-order batches fold in correctly; exactly-once batches make
# redelivery harmless. Kept when raw telemetry chunks are dropped.
telemetry_hourly = Table(
    "telemetry_hourly",
    Base.metadata,
    Column("robot_id", Uuid, primary_key=True),
    Column("metric_id", Integer, primary_key=True),
    Column("bucket", DateTime(timezone=True), primary_key=True, comment="start of the hour"),
    Column("samples", BigInteger, nullable=False),
    Column("total", Double, nullable=False, comment="sum of values"),
    Column("total_sq", Double, nullable=False, comment="sum of squared values"),
    Column("minimum", Double, nullable=False),
    Column("maximum", Double, nullable=False),
    Column("last_time", DateTime(timezone=True), nullable=False),
    Column("last_value", Double, nullable=False),
    Column(
        "updated_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=func.now(),
        comment="when a flush last changed the row: readers take what changed since they last read",
    ),
    Index("ix_telemetry_hourly_updated_at", "updated_at"),
)
