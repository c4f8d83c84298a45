"""The decode step of a flush: the per-message CPU done before the writer takes it.

Pure CPU, no database, run in a worker thread while the writer commits the flush before: each
message's topic and payload decoded, its signature checked with the key its robot had at the
writer's last robot lock, and its samples' columns drafted. Nothing a message holds raises out
of here, and nothing decided here is final: the writer judges every message again under the
robots' locks. A signature check is reused there only if it was made with the very key the
writer then finds in force (the result of verifying the same bytes with the same key cannot
differ); a key that changed since is verified again.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from loguru import logger

from firmware_protocol import Form, ProtocolError, TelemetryBatch, Topic, decode
from ingest.bridge.judge import Parsed
from ingest.bridge.keys import KeyRing, verifies
from ingest.bridge.samples import DraftedColumns, SampleDraft, draft_columns, joined_drafts
from ingest.bridge.writes import FlushPolicy, Inbound


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that did not decode: its topic, when that much parsed, names whom it cost."""

    inbound: Inbound
    topic: Topic | None
    reason: str
    detail: str


@dataclass(slots=True)
class Prepared:
    """A flush decoded and ready to be judged against the database."""

    messages: list[Inbound]
    parsed: list[Parsed] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    drafted: DraftedColumns | None = None
    """The flush's sample columns as far as they can be made before judging."""

    @classmethod
    def joined(cls, parts: list[Prepared]) -> Prepared:
        """The parts of one flush, decoded chunk by chunk, as one, in order."""
        whole = cls([])
        for part in parts:
            whole.messages += part.messages
            whole.parsed += part.parsed
            whole.rejected += part.rejected
        drafts = [part.drafted for part in parts]
        if all(draft is not None for draft in drafts):
            try:
                whole.drafted = joined_drafts([draft for draft in drafts if draft is not None])
            except Exception as exc:  # only work saved: the writer flattens instead
                logger.opt(exception=exc).warning("joining a flush's drafts failed: {}", exc)
        return whole


@dataclass(frozen=True, slots=True)
class Known:
    """What the writer knew at its last robot lock, for the next decode steps: each robot's
    keys, and the metric ids registered. Replaced whole, never changed: read from the decode
    thread while the writer makes the next."""

    keys: Mapping[uuid.UUID, KeyRing] = field(default_factory=dict)
    metric_ids: Mapping[str, int] = field(default_factory=dict)


def prepare(messages: list[Inbound], policy: FlushPolicy, known: Known) -> Prepared:
    """Decode a flush's messages (or a chunk of them), and draft their sample columns."""
    prepared = Prepared(messages)
    now_us = max((m.received_us for m in messages), default=0)
    for inbound in messages:
        topic: Topic | None = None
        try:
            topic = Topic.parse(inbound.topic)
            decoded = decode(inbound.payload, topic=topic, allow_json=policy.accept_json)
        except ProtocolError as exc:
            prepared.rejected.append(
                Rejected(inbound, topic, exc.code.value.lower(), str(exc)[:500])
            )
            continue
        except Exception as exc:  # a decoder bug is this message's problem, never the flush's
            logger.opt(exception=exc).error("decoding a message failed: {}", exc)
            detail = f"{type(exc).__name__}: {exc}"[:500]
            prepared.rejected.append(Rejected(inbound, topic, "decoder_error", detail))
            continue
        item = Parsed(inbound, topic, decoded)
        try:
            item = _ahead(item, policy, known, now_us)
        except Exception as exc:  # only work saved: the writer does it again
            logger.opt(exception=exc).warning("the decode step's checks failed: {}", exc)
        prepared.parsed.append(item)
    prepared.drafted = _drafted(prepared.parsed)
    return prepared


def _drafted(parsed: list[Parsed]) -> DraftedColumns | None:
    """The columns of the drafted batches, in the order they came: the placed batches' rows
    are these, less those of batches judged away. None if drafting failed (the writer
    flattens the placed batches instead)."""
    batches = [
        (item.decoded.message, item.draft)
        for item in parsed
        if isinstance(item.decoded.message, TelemetryBatch) and item.draft is not None
    ]
    try:
        return draft_columns(batches)
    except Exception as exc:  # only work saved: the writer does it again
        logger.opt(exception=exc).warning("drafting a flush's columns failed: {}", exc)
        return None


def _ahead(item: Parsed, policy: FlushPolicy, known: Known, now_us: int) -> Parsed:
    """The message with its signature checked against the keys known for its robot, and its
    samples' columns drafted."""
    decoded = item.decoded
    checked: dict[bytes, bool] = {}
    ring = known.keys.get(item.topic.robot_id)
    if ring is not None and decoded.signature is not None and decoded.form is Form.BINARY:
        link = decoded.link
        spans = (
            [span for span in [ring.for_seq(link.seq)] if span is not None]
            if link is not None
            else ring.for_status(now_us, policy.key_overlap_us)
        )
        for span in spans:
            checked[span.public_key] = verifies(
                decoded.signed_data, decoded.signature, span.public_key
            )
    message = decoded.message
    draft = (
        SampleDraft.of(message, known.metric_ids) if isinstance(message, TelemetryBatch) else None
    )
    return Parsed(item.inbound, item.topic, decoded, checked=checked, draft=draft)


__all__ = ["Known", "Prepared", "Rejected", "prepare"]
