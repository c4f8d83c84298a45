"""Which key verifies which seq, and which dead letters a budget stores: pure decisions."""

from __future__ import annotations

import uuid

from ingest.bridge.budget import HOUR_US, Usage, allocate, scopes_of
from ingest.bridge.gaps import GapPiece, RobotGaps
from ingest.bridge.keys import KeyRing, KeySpan
from ingest.bridge.writes import Budgets, DeadLetter, Inbound

A, B = bytes([1]) * 32, bytes([2]) * 32


def test_keys_by_chain_position() -> None:
    ring = KeyRing.of([KeySpan(0, 9, A, retired_at_us=100), KeySpan(10, None, B)], None)
    assert ring.for_seq(0) == KeySpan(0, 9, A, retired_at_us=100)
    assert ring.for_seq(9).public_key == A  # type: ignore[union-attr]
    assert ring.for_seq(10).public_key == B  # type: ignore[union-attr]
    assert [s.public_key for s in ring.for_status(now_us=150, overlap_us=100)] == [B, A]
    assert [s.public_key for s in ring.for_status(now_us=300, overlap_us=100)] == [B]


def test_a_robot_enrolled_before_keys_by_seq_signs_its_whole_chain_with_its_key() -> None:
    ring = KeyRing.of([], A)
    assert ring.for_seq(123_456) == KeySpan(0, None, A)
    assert KeyRing.of([], None).for_status(0, 1) == []


def test_a_rotation_seen_in_a_flush_is_provisional_until_its_message_is_held() -> None:
    ring = KeyRing.of([KeySpan(0, None, A)], None)
    ring.rotate(4, b"digest", B, now_us=7)
    assert ring.for_seq(4).public_key == A  # type: ignore[union-attr]
    span = ring.for_seq(5)
    assert span is not None
    assert span.public_key == B
    assert ring.announced_by(span) == (4, b"digest")
    assert ring.announced_by(ring.spans[0]) is None


def test_an_announcement_delivered_twice_in_one_flush_rotates_once() -> None:
    """The broker may hand the same KEY_ROTATED message over twice (a resumed session and the
    robot's resend): the second must not retire the new key, or a status the robot signed
    with its old key before the switch would no longer verify."""
    ring = KeyRing.of([], A)
    ring.rotate(4, b"digest", B, now_us=7)
    ring.rotate(4, b"digest", B, now_us=7)
    assert ring.spans == [KeySpan(0, 4, A, retired_at_us=7), KeySpan(5, None, B)]
    assert [s.public_key for s in ring.for_status(now_us=8, overlap_us=100)] == [B, A]
    ring.rotate(2, b"older", bytes([3]) * 32, now_us=9)  # an older announcement changes nothing
    assert ring.spans == [KeySpan(0, 4, A, retired_at_us=7), KeySpan(5, None, B)]


def _letter(robot: uuid.UUID | None, tenant: str | None, size: int, at: int = 0) -> DeadLetter:
    return DeadLetter(Inbound("t", b"x" * size, at), "bad_magic", "", robot, True, tenant)


def test_a_robots_budget_stores_then_counts_and_the_tenants_binds_too() -> None:
    robot = uuid.uuid4()
    budgets = Budgets(robot_messages=3, robot_bytes=10_000, tenant_bytes=250)
    letters = [_letter(robot, "acme", 100) for _ in range(5)]
    result = allocate(letters, {}, budgets)
    assert len(result.stored) == 2  # the tenant's 250 bytes end it before the robot's 3
    assert len(result.counted) == 3
    assert result.flooded == {robot}
    assert result.tally[(f"robot:{robot}", 0, "bad_magic")] == [2, 200, 3, 300]


def test_budgets_are_per_hour_and_what_names_no_robot_has_its_own() -> None:
    robot = uuid.uuid4()
    used = {(f"robot:{robot}", 0): Usage(3, 300)}
    budgets = Budgets(robot_messages=3)
    assert allocate([_letter(robot, None, 10)], used, budgets).counted
    assert allocate([_letter(robot, None, 10, at=HOUR_US)], used, budgets).stored
    nobody = _letter(None, None, 10)
    assert scopes_of(nobody) == ("unattributed",)
    tight = allocate([nobody, nobody], {}, Budgets(unattributed_bytes=15))
    assert (len(tight.stored), len(tight.counted), tight.flooded) == (1, 1, set())


def test_what_a_birth_says_is_owed_becomes_a_gap_once() -> None:
    gaps = RobotGaps(head=1)
    gaps.owe(5, now_us=9)
    assert gaps.open == [GapPiece(2, 5, 9)]
    gaps.owe(4, now_us=10)  # less than already owed: nothing new
    gaps.arrive(3, now_us=11)
    assert gaps.open == [GapPiece(2, 2, 9), GapPiece(4, 5, 9)]
    fresh = RobotGaps(head=None)
    fresh.owe(0, now_us=1)
    assert fresh.open == [GapPiece(0, 0, 1)]
