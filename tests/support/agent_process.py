"""The edge agent as robots run it, for end-to-end tests: a separate `python -m edge_agent`
process with a TOML config file, an enrolled identity in its state directory, and the
simulator collector (its hazard multiplies the fault rates: high, a collision comes within
seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from edge_agent.identity import Identity, load_or_create_signer, save_identity
from firmware_protocol import RobotSigner
from tests.support.broker import MosquittoBroker

ROOT = Path(__file__).resolve().parents[2]


def enrolled_identity(
    state_dir: Path, broker: MosquittoBroker, tenant: str, robot_id: uuid.UUID
) -> RobotSigner:
    """The robot's broker account and the identity an enrollment leaves in its state
    directory; returns the agent's signer (its key made there, as on a first boot)."""
    username, password = broker.add_robot(tenant, robot_id)
    save_identity(state_dir, Identity(robot_id, tenant, username, password))
    return load_or_create_signer(state_dir)


def agent_config(
    path: Path, state_dir: Path, broker: MosquittoBroker, *, hazard: float, seed: int = 3
) -> Path:
    path.write_text(
        f"""
mqtt_url = "{broker.url}"
state_dir = "{state_dir}"
log_level = "INFO"
firmware_version = "kr-8.6.1"

[sampling]
read_interval_ms = 20
window_ms = 200
batch_interval_s = 1

[outbox]
headroom_bytes = 0

[publisher]
backoff_min_s = 0.2
backoff_max_s = 1.0

[collectors.simulator]
kind = "industrial_arm"
metrics = 40
hazard = {hazard}
seed = {seed}
"""
    )
    return path


def start_agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "--config", str(config), "run"],
            stdout=out,
            stderr=out,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
