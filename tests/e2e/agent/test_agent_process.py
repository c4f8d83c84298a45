"""The agent as robots run it: a separate process with a TOML config file. kill -9 loses nothing
that was stored: after a restart every stored message is delivered, and the chain continues."""

from __future__ import annotations

import signal
import sqlite3
import uuid
from pathlib import Path

from tests.support.agent_cloud import CloudStandIn
from tests.support.agent_process import agent_config, enrolled_identity, start_agent
from tests.support.broker import MosquittoBroker

TENANT = "acme-e2e"


def _next_seq(db_path: Path) -> int:
    with sqlite3.connect(db_path) as db:
        return int(db.execute("SELECT next_seq FROM chain").fetchone()[0])


def test_kill_9_loses_nothing_that_was_stored(tmp_path: Path, mqtt_broker: MosquittoBroker) -> None:
    state_dir = tmp_path / "state"
    robot_id = uuid.uuid4()
    public_key = enrolled_identity(state_dir, mqtt_broker, TENANT, robot_id).public_key
    config = agent_config(tmp_path / "agent.toml", state_dir, mqtt_broker, hazard=5000.0)
    cloud = CloudStandIn(mqtt_broker, TENANT, robot_id, public_key)
    cloud.start()
    log = tmp_path / "agent.log"
    process = start_agent(config, log)
    try:
        assert cloud.wait_until(lambda c: len(c.messages) >= 5), log.read_text()
        # Stop acknowledging, so the outbox holds unsent and unacknowledged messages when killed.
        cloud.acknowledge = False
        pending_before = len(cloud.messages)
        assert cloud.wait_until(lambda c: len(c.messages) >= pending_before + 3)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        stored = _next_seq(state_dir / "outbox.sqlite3")
        assert stored > pending_before
        cloud.acknowledge = True
        process = start_agent(config, log)
        # Everything stored before the kill arrives, and the restarted agent goes on after it.
        assert cloud.wait_until(lambda c: c.has_all(stored + 5), timeout=90), log.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    final = _next_seq(state_dir / "outbox.sqlite3")
    assert cloud.wait_until(lambda c: c.has_all(final), timeout=60)
    assert set(cloud.messages) == set(range(final))
    assert cloud.chain_breaks() == []
    # Two boots, one chain: the seqs continue across the restart.
    boots = {d.message.boot_id for d in cloud.messages.values()}  # type: ignore[union-attr]
    assert len(boots) == 2
    # The simulator's faults made events, in the same chain as the telemetry.
    assert cloud.events()
    # Births (retained STATUS) came at each connection, with the next seq to expect.
    assert len([s for s in cloud.statuses if s.message.state == 1]) >= 2  # type: ignore[union-attr]
    cloud.stop()
    with sqlite3.connect(state_dir / "outbox.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
