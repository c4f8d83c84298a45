"""Which of a flush's messages come from whom they claim: an active robot of the topic's
tenant, signed with the key in force for them (keys.py); and the key rotations they announce.
What fails is dead-lettered by the judge with its reason (and, for a bad signature, opens a
tamper case)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import partial

from database.models import RobotStatus
from firmware_protocol import ChainLink, Decoded, EventBatch, EventKind, Form
from ingest.bridge import repository as repo
from ingest.bridge.judge import Judge, Parsed, tamper
from ingest.bridge.keys import KeyRing, KeySpan, verifies


def authenticate(judge: Judge, items: list[Parsed], now_us: int) -> list[Parsed]:
    """The messages that come from an active robot of the topic's tenant and verify with
    the key in force for them. Each robot's chained messages are taken in seq order, so a
    KEY_ROTATED message that verifies installs the key of the messages after it."""
    ordered = sorted(items, key=_authentication_order)
    trusted = []
    for item in ordered:
        verified = judge.guarded(item, partial(_authenticate, judge, item, now_us))
        if verified is not None:
            trusted.append(verified)
    return trusted


def _authenticate(judge: Judge, item: Parsed, now_us: int) -> Parsed | None:
    robot_id = item.topic.robot_id
    robot = judge.robots.get(robot_id)
    if robot is None:
        judge.dead_letter(item, "unknown_robot", f"no robot {robot_id}")
        return None
    if robot.tenant_slug != item.topic.tenant:
        detail = f"robot {robot_id} belongs to another tenant than {item.topic.tenant!r}"
        judge.dead_letter(item, "tenant_mismatch", detail)
        return None
    if robot.status != RobotStatus.ACTIVE:
        # Suspended and revoked robots are refused without a word to them: what the robot
        # is not told is committed, it keeps in its outbox.
        judge.dead_letter(item, f"robot_{robot.status}", f"robot {robot_id} is {robot.status}")
        return None
    if item.decoded.form is Form.JSON and judge.policy.accept_json:
        return item
    ring = judge.keys.setdefault(robot_id, KeyRing.of([], robot.public_key))
    link = item.decoded.link
    candidates = (
        [span for span in [ring.for_seq(link.seq)] if span is not None]
        if link is not None
        else ring.for_status(now_us, judge.policy.key_overlap_us)
    )
    span = _verifying(item.decoded, candidates, item.checked)
    if span is None:
        return _refuse_signature(judge, item, robot, ring)
    verified = replace(item, key=span)
    rotation = _announced_key(item.decoded, robot)
    if rotation is not None and link is not None:
        _rotate(judge, item, ring, link=link, key=rotation, now_us=now_us)
    return verified


def _rotate(
    judge: Judge, item: Parsed, ring: KeyRing, *, link: ChainLink, key: bytes, now_us: int
) -> None:
    """Install the key a verified KEY_ROTATED announces, for the messages after it: once
    per rotation request (the same announcement again, or a second one at another seq,
    changes nothing), and only a key no robot has used (robot_keys keeps each key once, so
    that a signature names one robot and one stretch of its chain). A reused key is not
    installed, and is a tamper case: the rotation stays pending, and what the robot signs
    with that key is not taken."""
    robot = judge.robots[item.topic.robot_id]
    if ring.provisional:
        return
    if key in judge.keys_in_use:
        judge.writes.suspect(
            tamper(robot.robot_id, "rotation_key_reused"),
            {"seq": link.seq, "rotation_id": robot.rotation_id, "public_key": key.hex()},
        )
        return
    ring.rotate(link.seq, item.decoded.digest, key, now_us)
    judge.keys_in_use.add(key)  # another robot announcing it in this flush reuses it


def _refuse_signature(
    judge: Judge, item: Parsed, robot: repo.RobotRecord, ring: KeyRing
) -> Parsed | None:
    if item.decoded.signature is None:
        judge.dead_letter(item, "unsigned", "the message is not signed")
        return None
    link = item.decoded.link
    if _may_await_announcement(robot, link, item.inbound.received_us):
        # A key rotation is under way: this may be signed with the new key, announced by a
        # message still on its way. Not evidence of anything; not acknowledged to the
        # robot, which sends it again.
        judge.dead_letter(
            item, "key_pending_rotation", f"rotation {robot.rotation_id} not confirmed yet"
        )
        return None
    where = f"seq {link.seq}" if link is not None else item.decoded.kind.name.lower()
    judge.dead_letter(
        item,
        "bad_signature",
        f"{where}: the signature does not verify",
        case=tamper(robot.robot_id, "bad_signature"),
        seq=None if link is None else link.seq,
    )
    return None


def _may_await_announcement(
    robot: repo.RobotRecord, link: ChainLink | None, received_us: int
) -> bool:
    """Only while a requested rotation's window lasts, and only for what may come after its
    announcement: a status, or a seq beyond what is held. A message at or below the held head
    signed with an unknown key is a bad signature, rotation or not."""
    expires = robot.rotation_expires_at
    if robot.rotation_id is None or expires is None or received_us > expires.timestamp() * 1e6:
        return False
    return link is None or robot.chain_head_seq is None or link.seq > robot.chain_head_seq


def _authentication_order(item: Parsed) -> tuple[uuid.UUID, int, int]:
    """Per robot: chained messages by seq, then statuses."""
    link = item.decoded.link
    return (item.topic.robot_id, 0 if link is not None else 1, link.seq if link else 0)


def _verifying(
    decoded: Decoded, spans: Iterable[KeySpan], checked: Mapping[bytes, bool]
) -> KeySpan | None:
    """The first span whose key verifies the message. `checked`: the decode step's results,
    by public key; a key it did not check (one that changed since) is verified here."""
    if decoded.signature is None or decoded.form is not Form.BINARY:
        return None
    for span in spans:
        verified = checked.get(span.public_key)
        if verified is None:
            verified = verifies(decoded.signed_data, decoded.signature, span.public_key)
        if verified:
            return span
    return None


def _announced_key(decoded: Decoded, robot: repo.RobotRecord) -> bytes | None:
    """The new key of a KEY_ROTATED event answering the robot's pending rotation request."""
    message = decoded.message
    if not isinstance(message, EventBatch) or robot.rotation_id is None:
        return None
    for event in message.events:
        if (
            event.kind == EventKind.KEY_ROTATED
            and event.code == str(robot.rotation_id)
            and event.public_key is not None
        ):
            return event.public_key
    return None
