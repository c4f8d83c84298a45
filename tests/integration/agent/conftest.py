"""An in-process agent on a broker of the test's own, with a cloud stand-in that acknowledges."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edge_agent.agent import Agent
from edge_agent.collectors.simulator import SimulatedRobot
from edge_agent.identity import Identity, load_or_create_signer, save_identity
from edge_agent.settings import AgentSettings, load_settings
from tests.support.agent_cloud import CloudStandIn
from tests.support.broker import MosquittoBroker

TENANT = "acme-test"


@dataclass
class RunningAgent:
    agent: Agent
    cloud: CloudStandIn
    broker: MosquittoBroker
    stop: threading.Event
    thread: threading.Thread

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


def fast_settings(state_dir: Path, broker: MosquittoBroker, **overrides: Any) -> AgentSettings:
    """A simulator read at 50 Hz, 1 s windows, a batch every second, quick reconnects."""
    values: dict[str, Any] = {
        "mqtt_url": broker.url,
        "state_dir": state_dir,
        "sampling": {"read_interval_ms": 20, "window_ms": 1000, "batch_interval_s": 1},
        "publisher": {"backoff_min_s": 0.2, "backoff_max_s": 2.0, "ack_timeout_s": 20},
        "outbox": {"headroom_bytes": 0},
    }
    values.update(overrides)
    return load_settings(environ={}, **values)


def enrolled_state(state_dir: Path, broker: MosquittoBroker) -> tuple[Identity, bytes]:
    """A robot with an account on `broker` and a key in `state_dir` (as enrollment leaves it)."""
    robot_id = uuid.uuid4()
    username, password = broker.add_robot(TENANT, robot_id)
    identity = Identity(robot_id, TENANT, username, password)
    save_identity(state_dir, identity)
    return identity, load_or_create_signer(state_dir).public_key


def stored_next_seq(outbox_path: Path) -> int:
    """The chain state on disk, read the way the agent's next start reads it."""
    with sqlite3.connect(outbox_path) as db:
        return int(db.execute("SELECT next_seq FROM chain").fetchone()[0])


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker this test may stop and start."""
    broker = MosquittoBroker(tmp_path / "broker")
    broker.start()
    yield broker
    broker.stop()


def start_agent(
    tmp_path: Path, broker: MosquittoBroker, *, metrics: int = 20, **overrides: Any
) -> RunningAgent:
    state_dir = tmp_path / "agent"
    identity, public_key = enrolled_state(state_dir, broker)
    cloud = CloudStandIn(broker, TENANT, identity.robot_id, public_key)
    cloud.start()
    settings = fast_settings(state_dir, broker, **overrides)
    robot = SimulatedRobot(kind="industrial_arm", metrics=metrics, seed=1)
    agent = Agent(settings, identity, load_or_create_signer(state_dir), {"simulator": robot})
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    thread.start()
    return RunningAgent(agent, cloud, broker, stop, thread)
