"""A claim's telemetry evidence: the robot's own record around the time of loss, frozen at
first notice with the flags an adjuster should see, and a digest that makes a later change to
the stored record detectable.

What is kept (``snapshot``), for the window ``[loss - before, loss + after)``:
the robot (serial, class, status, last seen); its events; each metric's hourly figures over
the window and its minute figures close to the loss; the batches that carried them (how many,
samples, clock offsets and corrections); the sequence gaps among them, with the times around
each; the spans with no batch longer than the silence threshold; the messages refused in the
window by reason, and whether every batch's signature and chain verified (an accepted batch
was verified by the ingest; a refusal for a bad signature or a broken chain says one did not);
and the robot's open tamper review cases.

The flags, each with its reason: ``no_matching_event`` (no collision, stop or fault near the
loss), ``silent_at_loss`` (no sample near it), ``offline_at_loss`` (inside a span with no
batch), ``gap_at_loss`` (a sequence gap spans it), ``open_tamper_case``, ``late_report``,
``outside_policy`` (the coverage check put the loss outside the policy's term or cover).

The digest is SHA-256 over the canonical JSON (sorted keys, orjson) of the claim, robot, time
of loss, window, snapshot and flags, as stored: ``verify`` recomputes it from the stored row.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy.orm import Session

from cloud_api.claims import evidence_repository as queries
from database.models import Claim, ClaimEvidence

LOSS_EVENTS = frozenset({"collision", "emergency_stop", "protective_stop", "fault"})
INTEGRITY_REFUSALS = frozenset(
    {
        "bad_signature",
        "unsigned",
        "key_not_established",
        "tampered_fork",
        "tampered_broken_back_link",
        "tampered_broken_forward_link",
        "tampered_claimed_head",
        "tampered_status_head",
    }
)
OUTSIDE_POLICY = frozenset({"loss_before_term", "loss_after_term", "no_version", "not_in_force"})


@dataclass(frozen=True)
class EvidenceRules:
    before: timedelta = timedelta(days=1)
    after: timedelta = timedelta(hours=1)
    event_tolerance: timedelta = timedelta(minutes=15)
    silence: timedelta = timedelta(minutes=10)
    close_up: timedelta = timedelta(minutes=15)
    late_report: timedelta = timedelta(days=14)


def _flag(code: str, reason: str) -> dict[str, str]:
    return {"code": code, "reason": reason}


def collect(
    session: Session, robot_id: uuid.UUID, loss_at: datetime, rules: EvidenceRules
) -> dict[str, Any]:
    """The snapshot of the robot's record around ``loss_at`` (JSON-ready values)."""
    start, end = loss_at - rules.before, loss_at + rules.after
    events = queries.events(session, robot_id, start, end)
    near_start, near_end = loss_at - rules.close_up, loss_at + rules.close_up
    snapshot: dict[str, Any] = {
        "robot": queries.robot(session, robot_id),
        "events": events,
        "event_counts": dict(Counter(e["kind"] for e in events)),
        "events_truncated": len(events) >= queries.MAX_EVENTS,
        "metrics_hourly": queries.hourly(session, robot_id, start, end),
        "metrics_close_up": queries.close_up(
            session, robot_id, near_start, near_end, timedelta(minutes=1)
        ),
        "refused": queries.refused(session, robot_id, start, end),
        "tamper_cases": queries.tamper_cases(session, robot_id),
    }
    seqs = queries.seq_range(session, robot_id, start, end)
    if seqs is None:
        snapshot |= {"seq_range": None, "batches": None, "gaps": [], "silences": []}
    else:
        first, last = seqs
        batches = queries.receipts(session, robot_id, first, last)
        spans = queries.silences(session, robot_id, first, last, rules.silence)
        silences = [[s["previous"], s["at"]] for s in spans]
        if batches["first_time"] is not None and batches["first_time"] - start > rules.silence:
            silences.insert(0, [start, batches["first_time"]])
        if batches["last_time"] is not None and end - batches["last_time"] > rules.silence:
            silences.append([batches["last_time"], end])
        snapshot |= {
            "seq_range": [first, last],
            "batches": batches,
            "gaps": queries.gaps(session, robot_id, first, last),
            "silences": silences,
        }
    if snapshot["seq_range"] is None:
        snapshot["silences"] = [[start, end]]
    failures = {r["reason"]: r["messages"] for r in snapshot["refused"]}
    snapshot["chain"] = {
        "every_batch_verified": not (failures.keys() & INTEGRITY_REFUSALS),
        "integrity_refusals": {k: v for k, v in failures.items() if k in INTEGRITY_REFUSALS},
    }
    return snapshot


_INT64 = 2**63


def _plain(value: Any) -> Any:
    """JSON-native values as they are stored: datetimes as ISO strings in UTC, UUIDs as strings,
    integers past 64 bits as strings, floats that JSON has no number for (NaN, infinities) as
    null."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, float | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    keep = isinstance(value, bool | str) or value is None
    keep = keep or (isinstance(value, int) and -_INT64 <= value < _INT64)
    return value if keep else str(value)  # UUIDs, huge integers, anything else a row holds


def _normalised(value: Any) -> Any:
    return orjson.loads(orjson.dumps(_plain(value)))


def _canonical(value: Any) -> Any:
    """What the digest covers: every number as its normalised decimal (PostgreSQL's jsonb keeps
    numbers as ``numeric``: 1e16 comes back as 10000000000000000, -0.0 as 0), marked so no
    string can pass for it (jsonb strings hold no NUL)."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return "\x00" + str((number + 0).normalize())


def flags_of(
    snapshot: dict[str, Any], claim: Claim, loss_at: datetime, rules: EvidenceRules
) -> list[dict[str, str]]:
    """The validation flags, from the (normalised) snapshot and the claim."""
    flags = []
    near = [
        e
        for e in snapshot["events"]
        if e["kind"] in LOSS_EVENTS
        and abs(datetime.fromisoformat(e["time"]) - loss_at) <= rules.event_tolerance
    ]
    if not near:
        minutes = int(rules.event_tolerance.total_seconds() // 60)
        flags.append(
            _flag(
                "no_matching_event",
                f"no collision, stop or fault within {minutes} min of the loss",
            )
        )
    silent_from, silent_to = loss_at - rules.silence, loss_at + rules.silence
    heard = sum(
        m["samples"]
        for m in snapshot["metrics_close_up"]
        if silent_from <= datetime.fromisoformat(m["minute"]) < silent_to
    )
    if heard == 0:
        minutes = int(rules.silence.total_seconds() // 60)
        flags.append(_flag("silent_at_loss", f"no sample within {minutes} min of the loss"))
    for begun, ended in snapshot["silences"]:
        if datetime.fromisoformat(begun) <= loss_at <= datetime.fromisoformat(ended):
            flags.append(_flag("offline_at_loss", f"no batch from {begun} to {ended}"))
            break
    for gap in snapshot["gaps"]:
        if gap["resolution"] == "filled":
            continue
        before = gap["before_time"] and datetime.fromisoformat(gap["before_time"])
        after = gap["after_time"] and datetime.fromisoformat(gap["after_time"])
        if (before is None or before <= loss_at) and (after is None or loss_at <= after):
            state = gap["resolution"] or "open"
            flags.append(
                _flag(
                    "gap_at_loss",
                    f"seq {gap['first_seq']}-{gap['last_seq']} missing ({state}) between "
                    f"{gap['before_time'] or 'the start'} and {gap['after_time'] or 'now'}",
                )
            )
            break
    for case in snapshot["tamper_cases"]:
        flags.append(_flag("open_tamper_case", f"tamper case {case['id']} open: {case['reason']}"))
    delay = claim.reported_at - loss_at
    if delay > rules.late_report:
        flags.append(_flag("late_report", f"reported {delay.days} days after the loss"))
    outside = [
        r["code"] for r in claim.coverage_check.get("reasons", []) if r["code"] in OUTSIDE_POLICY
    ]
    if outside:
        flags.append(_flag("outside_policy", ", ".join(outside)))
    return flags


def digest_of(document: dict[str, Any]) -> bytes:
    canonical = orjson.dumps(_canonical(document), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).digest()


def _document(claim: Claim, row: ClaimEvidence) -> dict[str, Any]:
    document: dict[str, Any] = _normalised(
        {
            "claim_id": claim.id,
            "robot_id": claim.robot_id,
            "loss_at": claim.loss_at.astimezone(UTC),
            "window": [row.window_start.astimezone(UTC), row.window_end.astimezone(UTC)],
            "snapshot": row.snapshot,
            "flags": row.flags,
        }
    )
    return document


def take(session: Session, claim: Claim, rules: EvidenceRules, now: datetime) -> ClaimEvidence:
    """Freeze the evidence of a claim at first notice (in the caller's transaction)."""
    snapshot = _normalised(collect(session, claim.robot_id, claim.loss_at, rules))
    row = ClaimEvidence(
        claim_id=claim.id,
        window_start=claim.loss_at - rules.before,
        window_end=claim.loss_at + rules.after,
        taken_at=now,
        snapshot=snapshot,
        flags=flags_of(snapshot, claim, claim.loss_at, rules),
    )
    row.digest = digest_of(_document(claim, row))
    session.add(row)
    session.flush()
    return row


def verify(claim: Claim, row: ClaimEvidence) -> bool:
    """Whether the stored evidence is what was frozen: its digest recomputed from the row."""
    return digest_of(_document(claim, row)) == row.digest
