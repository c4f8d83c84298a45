"""A simulated fleet stays within what one process's MQTT network loops can watch: paho-mqtt
waits on select(), blind to file descriptors numbered 1024 or above."""

from __future__ import annotations

import threading
from pathlib import Path

import psutil
import pytest

from edge_agent.agent import Agent
from edge_agent.collectors.simulator import SimulatedRobot
from edge_agent.fleet import (
    FILES_PER_ROBOT,
    MAX_ROBOTS_PER_PROCESS,
    RESERVED_FILES,
    SELECT_LIMIT,
    FleetTooLargeError,
    run_fleet,
)
from edge_agent.identity import load_or_create_signer
from tests.integration.agent.conftest import enrolled_state, fast_settings, start_agent
from tests.support.broker import MosquittoBroker


def test_one_more_robot_holds_at_most_the_files_the_fleet_budgets(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    first = start_agent(tmp_path, mqtt_broker, metrics=4)
    second_dir = tmp_path / "second"
    identity, _ = enrolled_state(second_dir, mqtt_broker)
    settings = fast_settings(second_dir, mqtt_broker)
    robot = SimulatedRobot(kind="cobot", metrics=4, seed=2)
    before = psutil.Process().num_fds()
    agent = Agent(settings, identity, load_or_create_signer(second_dir), {"simulator": robot})
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert agent.publisher.online.wait(30), "the second robot never came online"
        held = psutil.Process().num_fds() - before
    finally:
        stop.set()
        thread.join(30)
        first.finish()
        first.cloud.stop()
    assert 0 < held <= FILES_PER_ROBOT
    assert (
        RESERVED_FILES + MAX_ROBOTS_PER_PROCESS * FILES_PER_ROBOT <= SELECT_LIMIT
    )  # numbered 0-1023


def test_a_fleet_too_large_for_one_process_is_refused_before_any_robot_starts(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    dirs = [tmp_path / f"robot-{i:04d}" for i in range(MAX_ROBOTS_PER_PROCESS + 1)]
    settings = fast_settings(tmp_path / "unused", mqtt_broker)
    with pytest.raises(FleetTooLargeError, match=f"at most {MAX_ROBOTS_PER_PROCESS}"):
        run_fleet(settings, dirs, duration_s=1.0)
    assert not any(path.exists() for path in dirs)


def test_a_robots_figures_can_be_read_from_another_thread_while_it_stops(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    """What the fleet's progress does while a SIGTERM stops every robot (found by the soak: a
    read between the robot's last figures and its outbox's close hit a closed database, and
    `simulate` exited 1 before its other robots had drained)."""
    identity, _ = enrolled_state(tmp_path, mqtt_broker)
    settings = fast_settings(tmp_path, mqtt_broker)
    robot = SimulatedRobot(kind="cobot", metrics=4, seed=3)
    agent = Agent(settings, identity, load_or_create_signer(tmp_path), {"simulator": robot})
    stop, reading, failures = threading.Event(), threading.Event(), []
    figures = []

    def read_all_along() -> None:
        while not reading.is_set():
            try:
                figures.append(agent.stats().next_seq)
            except Exception as error:
                failures.append(error)

    runner = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    reader = threading.Thread(target=read_all_along, daemon=True)
    runner.start()
    assert agent.publisher.online.wait(30), "the robot never came online"
    reader.start()
    stop.set()
    runner.join(30)
    reading.set()
    reader.join(10)
    assert failures == []
    assert figures
    assert agent.final_stats is not None
    assert agent.stats() == agent.final_stats  # the outbox is closed: its last figures
