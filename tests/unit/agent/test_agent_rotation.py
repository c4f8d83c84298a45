"""The robot's side of a credential rotation, crash by crash: a key file never disagrees with
the chain about which key signs what."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from edge_agent import rotation
from edge_agent.identity import (
    IDENTITY_FILE,
    KEY_FILE,
    Identity,
    load_identity,
    load_signer,
    save_identity,
    write_private,
)
from edge_agent.origin import Origin
from edge_agent.outbox import Outbox
from firmware_protocol import (
    Config,
    EventBatch,
    EventKind,
    RobotSigner,
    decode,
    seal_credentials,
    verify,
)

ROBOT = uuid.uuid4()


@pytest.fixture
def state(tmp_path: Path) -> tuple[Path, Outbox, Identity, RobotSigner]:
    seed = bytes(range(32))
    write_private(tmp_path / KEY_FILE, seed)
    signer = RobotSigner.from_seed(seed)
    identity = Identity(ROBOT, "acme", f"robot-{ROBOT}", "old-password")
    save_identity(tmp_path, identity)
    outbox = Outbox(tmp_path / "outbox.sqlite3", signer, Origin(ROBOT), budget_bytes=1 << 20)
    return tmp_path, outbox, identity, signer


def _config(signer: RobotSigner, rotation_id: int = 3) -> Config:
    sealed = seal_credentials(signer.public_key, f"robot-{ROBOT}-r{rotation_id}", "new-password")
    return Config(
        robot_id=ROBOT,
        config_version=10,
        wall_us=0,
        rotation_id=rotation_id,
        rotation_credentials=sealed,
    )


def test_a_rotation_announces_the_new_key_signed_with_the_old(
    state: tuple[Path, Outbox, Identity, RobotSigner],
) -> None:
    state_dir, outbox, identity, old = state
    config = _config(old)
    assert rotation.wanted(config, outbox)
    rotated = rotation.rotate(state_dir, outbox, identity, Origin(ROBOT), config)
    assert not rotation.wanted(config, outbox)  # acted on: a retained copy is ignored
    (stored,) = outbox.pending(-1, 10)
    decoded = decode(stored.payload)
    verify(decoded, old.public_key)  # the announcement is the old key's last word
    batch = decoded.message
    assert isinstance(batch, EventBatch)
    (event,) = batch.events
    assert (event.kind, event.code, event.public_key) == (
        EventKind.KEY_ROTATED,
        "3",
        rotated.signer.public_key,
    )
    assert load_signer(state_dir).public_key == rotated.signer.public_key
    assert load_identity(state_dir).mqtt_password == "new-password"
    assert not (state_dir / rotation.NEXT_KEY_FILE).exists()
    assert outbox.signer.public_key == rotated.signer.public_key  # what comes next


def test_credentials_sealed_to_another_key_are_refused_and_nothing_changes(
    state: tuple[Path, Outbox, Identity, RobotSigner],
) -> None:
    state_dir, outbox, identity, old = state
    with pytest.raises(rotation.RotationError):
        rotation.rotate(state_dir, outbox, identity, Origin(ROBOT), _config(RobotSigner.generate()))
    assert outbox.stats().next_seq == 0
    assert load_signer(state_dir).public_key == old.public_key


def test_a_crash_after_the_announcement_completes_at_the_next_start(
    state: tuple[Path, Outbox, Identity, RobotSigner],
) -> None:
    state_dir, outbox, identity, old = state
    rotated = rotation.rotate(state_dir, outbox, identity, Origin(ROBOT), _config(old))
    # Put the files back as they were before the renames (the crash came between).
    write_private(state_dir / rotation.NEXT_KEY_FILE, (state_dir / KEY_FILE).read_bytes())
    (state_dir / IDENTITY_FILE).rename(state_dir / rotation.NEXT_IDENTITY_FILE)
    write_private(state_dir / KEY_FILE, bytes(range(32)))
    save_identity(state_dir, identity)
    assert rotation.finish(state_dir, outbox)
    assert load_signer(state_dir).public_key == rotated.signer.public_key
    assert load_identity(state_dir).mqtt_password == "new-password"


def test_a_crash_before_the_announcement_keeps_the_old_key(
    state: tuple[Path, Outbox, Identity, RobotSigner],
) -> None:
    state_dir, outbox, identity, old = state
    write_private(state_dir / rotation.NEXT_KEY_FILE, RobotSigner.generate().public_key)
    save_identity(state_dir, identity, name=rotation.NEXT_IDENTITY_FILE)
    assert not rotation.finish(state_dir, outbox)
    assert load_signer(state_dir).public_key == old.public_key
    assert not (state_dir / rotation.NEXT_KEY_FILE).exists()
    assert not (state_dir / rotation.NEXT_IDENTITY_FILE).exists()
    assert not rotation.finish(state_dir, outbox)  # nothing left to do
