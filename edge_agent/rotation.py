"""Credential rotation on the robot (docs/protocol.md section 12, protocol 1.2).

The cloud asks with a config holding `rotation_id` and the robot's new broker account sealed to
its current key. The robot makes a new key pair and appends, signed with the OLD key, an event
batch holding one KEY_ROTATED event (code: the rotation id; public_key: the new key); every later
message is signed with the new key, and the next connection uses the new account.

Crash safety: the new key and account are written beside the old ones (`*.next`, 0600) before
the KEY_ROTATED message is appended; that append and the record of the rotation (outbox state)
are one SQLite transaction. At start, `finish` completes a rotation whose message exists (the
`.next` files replace the old ones) and discards one whose message does not (the cloud's config
is still retained: the robot will rotate again when it sees it).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from edge_agent.identity import IDENTITY_FILE, KEY_FILE, Identity, save_identity, write_private
from edge_agent.origin import Origin
from edge_agent.outbox import Outbox
from firmware_protocol import (
    ChainedMessage,
    Config,
    Event,
    EventBatch,
    EventKind,
    ProtocolError,
    RobotSigner,
)

STATE_KEY = "rotation"
NEXT_KEY_FILE = KEY_FILE + ".next"
NEXT_IDENTITY_FILE = "identity.next.json"
logger = logging.getLogger(__name__)


class RotationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Rotated:
    identity: Identity
    signer: RobotSigner
    seq: int


def last_rotation(outbox: Outbox) -> int:
    """The greatest rotation id this robot acted on (0: none)."""
    stored = outbox.get_state(STATE_KEY)
    return int(json.loads(stored)["id"]) if stored else 0


def wanted(config: Config, outbox: Outbox) -> bool:
    return config.rotation_id is not None and config.rotation_id > last_rotation(outbox)


def rotate(
    state_dir: Path, outbox: Outbox, identity: Identity, origin: Origin, config: Config
) -> Rotated:
    """Act on `config`'s rotation request; the robot's new identity and signer."""
    assert config.rotation_id is not None  # noqa: S101 - checked by `wanted`
    current = outbox.signer
    username, password = identity.mqtt_username, identity.mqtt_password
    if config.rotation_credentials is not None:
        try:
            username, password = current.open_credentials(config.rotation_credentials)
        except ProtocolError as exc:
            raise RotationError(f"the new broker account cannot be opened: {exc.reason}") from exc
    seed = os.urandom(32)
    new_signer = RobotSigner.from_seed(seed)
    new_identity = Identity(
        identity.robot_id, identity.tenant, username, password, identity.mqtt_client_id
    )
    write_private(state_dir / NEXT_KEY_FILE, seed)
    save_identity(state_dir, new_identity, name=NEXT_IDENTITY_FILE)
    rotation_id = config.rotation_id
    state = json.dumps(
        {"id": rotation_id, "public_key": new_signer.public_key.hex(), "username": username}
    ).encode()

    def build(seq: int, prev_digest: bytes) -> ChainedMessage:
        _, mono_us = origin.clock()
        event = Event(
            EventKind.KEY_ROTATED, mono_us, code=str(rotation_id), public_key=new_signer.public_key
        )
        return EventBatch(**origin.chain_fields(seq, prev_digest), events=(event,))

    stored = outbox.rotate_key(build, new_signer, STATE_KEY, state)
    finish(state_dir, outbox)
    logger.info("rotated the signing key at seq %d (rotation %d)", stored.seq, rotation_id)
    return Rotated(new_identity, new_signer, stored.seq)


def finish(state_dir: Path, outbox: Outbox) -> bool:
    """Complete or discard a rotation left half done; True if the key files changed."""
    next_key = state_dir / NEXT_KEY_FILE
    next_identity = state_dir / NEXT_IDENTITY_FILE
    if not next_key.exists():
        next_identity.unlink(missing_ok=True)
        return False
    stored = outbox.get_state(STATE_KEY)
    recorded = json.loads(stored)["public_key"] if stored else None
    if recorded == RobotSigner.from_seed(next_key.read_bytes()).public_key.hex():
        if next_identity.exists():
            next_identity.replace(state_dir / IDENTITY_FILE)
        next_key.replace(state_dir / KEY_FILE)
        return True
    next_key.unlink()  # the KEY_ROTATED message was never stored: the rotation did not happen
    next_identity.unlink(missing_ok=True)
    return False
