"""A robot's record as the ingest would have written it, for the evidence tests: batches of
one minute (a receipt per batch, samples every ten seconds of two metrics, their hourly
rollups), events, sequence gaps and review cases, in the test's rolled-back transaction."""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from database.models import (
    BatchReceipt,
    Metric,
    ReviewCase,
    Robot,
    SequenceGap,
    robot_events,
    telemetry,
    telemetry_hourly,
)

BATCH = timedelta(minutes=1)
STEP = timedelta(seconds=10)


def metrics(session: Session) -> list[Metric]:
    made = []
    for name, unit in (("joint_torque_nm", "N.m"), ("motor_temp_c", "degC")):
        key = f"{name}_{uuid.uuid4().hex[:8]}.0"
        made.append(Metric(key=key, name=key[:-2], channel=0, unit=unit))
    session.add_all(made)
    session.flush()
    return made


def stream(
    session: Session,
    robot: Robot,
    kinds: list[Metric],
    span: tuple[datetime, datetime],
    first_seq: int,
) -> int:
    """Minute batches over ``span``, seqs from ``first_seq``; returns the next seq."""
    seq, (at, end) = first_seq, span
    samples: list[dict[str, Any]] = []
    receipts = []
    hours: dict[tuple[int, datetime], list[float]] = defaultdict(list)
    boot = uuid.uuid4()
    while at < end:
        count = 0
        t = at
        while t < at + BATCH:
            for index, metric in enumerate(kinds):
                value = 20.0 + index * 30 + (seq % 7) * 0.5
                samples.append(
                    {
                        "time": t,
                        "robot_id": robot.id,
                        "metric_id": metric.id,
                        "value": value,
                        "seq": seq,
                    }
                )
                hours[(metric.id, t.replace(minute=0, second=0, microsecond=0))].append(value)
                count += 1
            t += STEP
        receipts.append(
            BatchReceipt(
                robot_id=robot.id,
                seq=seq,
                kind="telemetry",
                digest=os.urandom(32),
                prev_digest=os.urandom(32),
                boot_id=boot,
                device_time=at,
                received_at=at + BATCH + timedelta(seconds=2),
                clock_offset_s=0.2,
                clock_shift_s=0.0,
                sample_count=count,
            )
        )
        seq, at = seq + 1, at + BATCH
    session.execute(insert(telemetry), samples)
    session.add_all(receipts)
    session.execute(
        insert(telemetry_hourly),
        [
            {
                "robot_id": robot.id,
                "metric_id": metric_id,
                "bucket": bucket,
                "samples": len(values),
                "total": sum(values),
                "total_sq": sum(v * v for v in values),
                "minimum": min(values),
                "maximum": max(values),
                "last_time": bucket + timedelta(minutes=59),
                "last_value": values[-1],
            }
            for (metric_id, bucket), values in hours.items()
        ],
    )
    session.flush()
    return seq


def event(session: Session, robot: Robot, at: datetime, kind: str, seq: int) -> None:
    session.execute(
        insert(robot_events),
        [
            {
                "time": at,
                "robot_id": robot.id,
                "seq": seq,
                "position": 0,
                "kind": kind,
                "severity": 3,
                "detail": {"peak_force_n": 412.0},
            }
        ],
    )


def gap(session: Session, robot: Robot, first_seq: int, last_seq: int) -> None:
    session.add(SequenceGap(robot_id=robot.id, first_seq=first_seq, last_seq=last_seq))
    session.flush()


def tamper_case(session: Session, robot: Robot) -> ReviewCase:
    case = ReviewCase(robot_id=robot.id, category="tamper", reason="bad_signature", evidence=[])
    session.add(case)
    session.flush()
    return case
