"""A robot's status messages (birth and last will): what they say of the chain, and presence.

A birth with next_seq = n says the chain reaches n - 1: what is not held up to there is owed,
a gap at once, so a tail deleted before it was sent shows; a head_digest that contradicts the
held message n - 1 is tampering; a birth of a newer connection claiming less than is held is a
chain rollback, for review. Presence follows the newest status of each robot by
(connection_seq, state) (protocol 1.2, section 9): a connection's will, signed before its birth,
still comes after it, and an old birth replayed changes nothing.
"""

from __future__ import annotations

import uuid
from functools import partial

from firmware_protocol import Status
from firmware_protocol.control import RobotState
from ingest.bridge import repository as repo
from ingest.bridge.judge import ChainContext, Judge, Parsed, conduct, tamper


def judge_statuses(judge: Judge, items: list[Parsed], context: ChainContext) -> None:
    """Each status's claims about the chain; then presence, from the newest of each robot
    by (connection_seq, state), or by the device's clock for robots on protocol < 1.2."""
    latest: dict[uuid.UUID, Status] = {}
    for item in items:
        if isinstance(item.decoded.message, Status):
            status = judge.guarded(item, partial(_status_claims, judge, item, context))
            if status is not None:
                known = latest.get(status.robot_id)
                if known is None or _presence_order(status) >= _presence_order(known):
                    latest[status.robot_id] = status
    for robot_id, status in latest.items():
        if _newer_than_applied(status, judge.robots[robot_id]):
            judge.writes.presence.append(
                (
                    status.state == RobotState.ONLINE,
                    repo.to_datetime(status.wall_us),
                    status.boot_id,
                    status.firmware_version,
                    status.agent_version,
                    status.connection_seq,
                    status.state,
                    robot_id,
                )
            )


def _status_claims(judge: Judge, item: Parsed, context: ChainContext) -> Status | None:
    status: Status = item.decoded.message  # type: ignore[assignment]
    robot = judge.robots[status.robot_id]
    if status.next_seq is None or status.next_seq == 0:
        return status
    last = status.next_seq - 1
    key = (robot.robot_id, last)
    held = context.held.get(key)
    stated = held.digest if held is not None else context.claims.get(key)
    if status.head_digest is not None and stated not in (None, status.head_digest):
        judge.dead_letter(
            item,
            "tampered_status_head",
            f"the status says seq {last} has another digest than the one "
            + ("held" if held is not None else "an earlier birth stated"),
            case=tamper(robot.robot_id, "tampered_status_head"),
            seq=last,
            held_digest=None if held is None else held.digest.hex(),
            earlier_claim=None if held is not None or stated is None else stated.hex(),
            claimed_digest=status.head_digest.hex(),
        )
        return None
    if status.head_digest is not None and held is None:
        context.claims[key] = judge.writes.claims[key] = status.head_digest
    if status.state != RobotState.ONLINE or not _newer_than_applied(status, robot):
        return status
    gaps = judge.robot_gaps(robot.robot_id, context)
    # What was committed before this flush: a chained message judged in this same flush may
    # have been sent after this birth (a robot's messages reach the ingest in its order).
    held_head = robot.chain_head_seq
    if held_head is not None and last < held_head:
        judge.writes.suspect(
            conduct(robot.robot_id, "chain_rollback"),
            {"kind": "status", "next_seq": status.next_seq, "held_head": held_head},
        )
    elif gaps.head is None or last > gaps.head:
        gaps.owe(last, item.inbound.received_us)
    return status


def _presence_order(status: Status) -> tuple[int, int, int]:
    """1.2 robots by (connection_seq, state): a connection's will comes after its birth.
    Older robots by their clock. A robot moving to 1.2 ranks after its old statuses."""
    if status.connection_seq is not None:
        return (1, status.connection_seq, min(status.state, 2))
    return (0, status.wall_us, 0)


def _newer_than_applied(status: Status, robot: repo.RobotRecord) -> bool:
    if status.state not in (RobotState.ONLINE, RobotState.OFFLINE):
        return False  # a state of a later minor: recorded nowhere, presence unchanged
    if robot.presence_connection_seq is not None:
        if status.connection_seq is None:
            return False
        return (status.connection_seq, status.state) > (
            robot.presence_connection_seq,
            robot.presence_state or 0,
        )
    if status.connection_seq is not None:
        return True
    applied = robot.presence_reported_at
    return applied is None or repo.to_datetime(status.wall_us) >= applied
