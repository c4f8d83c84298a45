"""Protocol 1.2: bounds every minor can store, status bound to the chain, key rotation."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from firmware_protocol import (
    Config,
    ErrorCode,
    Event,
    EventBatch,
    EventKind,
    ProtocolError,
    RobotSigner,
    RobotState,
    Status,
    decode,
    encode,
    seal_credentials,
)
from firmware_protocol.codec import message_minor

ROBOT, BOOT = uuid.UUID(int=7), uuid.UUID(int=8)


def _birth(**changes: object) -> Status:
    status = Status(
        robot_id=ROBOT,
        boot_id=BOOT,
        wall_us=10**15,
        mono_us=10**9,
        state=RobotState.ONLINE,
        firmware_version="1",
        agent_version="2",
        next_seq=5,
    )
    return dataclasses.replace(status, **changes)  # type: ignore[arg-type]


def test_a_status_with_1_2_fields_is_minor_2_and_round_trips() -> None:
    signer = RobotSigner.generate()
    birth = _birth(connection_seq=3, head_digest=bytes(range(32)))
    assert message_minor(birth) == 2
    assert message_minor(_birth()) == 0
    decoded = decode(encode(birth, signer))
    assert decoded.minor == 2
    assert decoded.message == birth


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"next_seq": None}, ErrorCode.MISSING_FIELD),
        ({"head_digest": bytes(32), "next_seq": 0}, ErrorCode.BAD_FIELD),
        ({"connection_seq": 2**63}, ErrorCode.BAD_FIELD),
        ({"head_digest": bytes(31)}, ErrorCode.BAD_FIELD),
    ],
)
def test_status_rules(changes: dict[str, object], code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as caught:
        _birth(**changes)
    assert caught.value.code is code


def test_an_offline_status_with_a_head_digest_needs_next_seq() -> None:
    with pytest.raises(ProtocolError) as caught:
        Status(
            robot_id=ROBOT,
            boot_id=BOOT,
            wall_us=0,
            mono_us=0,
            state=RobotState.OFFLINE,
            head_digest=bytes(32),
        )
    assert caught.value.code is ErrorCode.MISSING_FIELD


def test_key_rotated_event_needs_the_new_key_and_makes_the_batch_minor_2() -> None:
    with pytest.raises(ProtocolError) as caught:
        Event(EventKind.KEY_ROTATED, 1, code="3")
    assert caught.value.code is ErrorCode.MISSING_FIELD
    rotated = Event(EventKind.KEY_ROTATED, 1, code="3", public_key=bytes(32))
    batch = EventBatch(
        robot_id=ROBOT,
        boot_id=BOOT,
        seq=1,
        prev_digest=bytes(32),
        wall_us=0,
        mono_us=1,
        events=(rotated,),
    )
    assert message_minor(batch) == 2


def test_sealed_credentials_open_only_with_the_robots_key() -> None:
    robot = RobotSigner.generate()
    sealed = seal_credentials(robot.public_key, f"robot-{ROBOT}-r1", "s3cret")
    config = Config(
        robot_id=ROBOT, config_version=4, wall_us=0, rotation_id=1, rotation_credentials=sealed
    )
    decoded = decode(encode(config))
    assert decoded.minor == 2
    opened = decoded.message
    assert isinstance(opened, Config)
    assert robot.open_credentials(opened.rotation_credentials or b"") == (
        f"robot-{ROBOT}-r1",
        "s3cret",
    )
    with pytest.raises(ProtocolError):
        RobotSigner.generate().open_credentials(sealed)


def test_rotation_credentials_need_a_rotation_id() -> None:
    with pytest.raises(ProtocolError) as caught:
        Config(robot_id=ROBOT, config_version=4, wall_us=0, rotation_credentials=bytes(64))
    assert caught.value.code is ErrorCode.MISSING_FIELD
