"""Simulated robots on one host keep clocks of their own: their windows close, and their batches
go out, at moments spread over the batch interval, not in one burst (the 1,000-robot soak's API
stalls came every 10 s, when every robot published at once)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

from edge_agent.fleet import BOOTS_WITHIN_US, boot_offset_us, build_agent
from edge_agent.identity import Identity, load_or_create_signer, save_identity
from edge_agent.origin import Origin
from edge_agent.settings import load_settings

BATCH_US = 10_000_000


def test_a_controller_reads_the_hosts_clock_and_a_simulated_one_its_own() -> None:
    robot = uuid.uuid4()
    host = time.monotonic_ns() // 1000
    _, controller = Origin(robot).clock()
    _, simulated = Origin(robot, boot_offset_us=3_600_000_000).clock()
    after = time.monotonic_ns() // 1000
    assert host <= controller <= after
    assert host + 3_600_000_000 <= simulated <= after + 3_600_000_000


def test_a_thousand_robots_batches_are_spread_over_the_interval() -> None:
    offsets = [boot_offset_us(uuid.uuid4()) for _ in range(1000)]
    assert all(0 <= offset < BOOTS_WITHIN_US for offset in offsets)
    # the tenth of the batch interval in which each robot's batch closes: about 100 each
    tenths = Counter(offset % BATCH_US * 10 // BATCH_US for offset in offsets)
    assert len(tenths) == 10
    assert max(tenths.values()) < 150, tenths


def test_a_robots_clock_is_the_same_on_every_run() -> None:
    robot = uuid.uuid4()
    assert boot_offset_us(robot) == boot_offset_us(uuid.UUID(str(robot)))
    assert boot_offset_us(robot) != boot_offset_us(uuid.uuid4())


def test_the_fleet_builds_each_robot_on_its_own_clock(tmp_path: Path) -> None:
    settings = load_settings(environ={}, mqtt_url="mqtt://127.0.0.1:1", state_dir=tmp_path)
    agents = []
    for index in range(2):
        state_dir = tmp_path / f"robot-{index}"
        state_dir.mkdir()
        identity = Identity(uuid.uuid4(), "tenant", f"robot-{index}", "unused password")
        save_identity(state_dir, identity)
        load_or_create_signer(state_dir)
        agents.append(build_agent(settings, state_dir, index))
    try:
        for agent in agents:
            assert agent.origin.boot_offset_us == boot_offset_us(agent.identity.robot_id)
        assert agents[0].origin.boot_offset_us != agents[1].origin.boot_offset_us
    finally:
        for agent in agents:
            agent.outbox.close()
