"""The rows an accepted chained message adds: its receipt, its events, its drop notice."""

from __future__ import annotations

import json
from typing import Any

from firmware_protocol import Decoded, DropNotice, EventBatch
from ingest.bridge.repository import to_datetime


def receipt_row(
    decoded: Decoded, received_us: int, offset_us: int, shift_us: int, samples: int
) -> tuple[object, ...]:
    """The receipt keeps the chain whole even when the data itself went to dead letters."""
    message: Any = decoded.message
    return (
        message.robot_id,
        message.seq,
        decoded.kind.name.lower(),
        decoded.digest,
        message.prev_digest,
        message.boot_id,
        to_datetime(message.wall_us),
        to_datetime(received_us),
        offset_us / 1e6,
        shift_us / 1e6,
        samples,
    )


def drop_row(notice: DropNotice) -> tuple[object, ...]:
    return (
        notice.robot_id,
        notice.seq,
        notice.first_seq,
        notice.last_seq,
        notice.reason,
        notice.dropped_bytes,
        notice.digest_before,
        notice.last_digest,
        notice.dropped_samples,
    )


def event_rows(batch: EventBatch, shift_us: int) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for position, event in enumerate(batch.events):
        when = batch.wall_us + (event.mono_us - batch.mono_us) + shift_us
        known = event.known_kind
        detail = {
            "channel": event.channel,
            "message": event.message,
            "value": event.value,
            "threshold": event.threshold,
            "metric": None if event.metric is None else str(event.metric),
            "from_version": event.from_version,
            "to_version": event.to_version,
            "public_key": None if event.public_key is None else event.public_key.hex(),
        }
        rows.append(
            (
                to_datetime(when),
                batch.robot_id,
                batch.seq,
                position,
                known.name.lower() if known is not None else f"kind_{event.kind}",
                event.code,
                int(event.severity),
                json.dumps({k: v for k, v in detail.items() if v is not None}),
            )
        )
    return rows
