"""Collectors: the plugin loader, the system collector, the simulator, ROS 2 bag replay."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from edge_agent.collectors import CollectorError, load_collector
from edge_agent.collectors.ros2 import RosbagDiagnosticsCollector
from edge_agent.collectors.simulator import SimulatedRobot
from firmware_protocol import EventKind, MetricKey


def test_built_in_collectors_load_by_name_and_unknown_names_fail() -> None:
    system = load_collector("system", {})
    reading = system.read(0)
    assert len(reading.values) == len(system.declarations)
    assert 0 <= reading.values[1] <= 100  # memory in use, %
    with pytest.raises(CollectorError, match="no collector named"):
        load_collector("nonexistent", {})
    with pytest.raises(CollectorError, match="failed to start"):
        load_collector("simulator", {"kind": "submarine"})


@pytest.mark.parametrize("kind", ["industrial_arm", "cobot", "mobile_robot"])
def test_the_simulator_reports_what_it_declares_and_pads_to_the_asked_count(kind: str) -> None:
    robot = SimulatedRobot(kind=kind, metrics=100, seed=1)  # type: ignore[arg-type]
    assert len(robot.declarations) == 100
    assert len({d.key for d in robot.declarations}) == 100
    for step in range(50):
        reading = robot.read(step * 100_000)
        assert len(reading.values) == 100
        assert all(math.isfinite(value) for value in reading.values)


def test_the_simulators_hazard_drives_its_faults_and_counters() -> None:
    calm = SimulatedRobot(kind="cobot", hazard=0.0, seed=2, time_scale=3600)
    wild = SimulatedRobot(kind="cobot", hazard=50.0, seed=2, time_scale=3600)
    events = {"calm": 0, "wild": 0}
    for step in range(600):  # ten simulated hours
        events["calm"] += len(calm.read(step * 60_000_000 // 3600).events)
        events["wild"] += len(wild.read(step * 60_000_000 // 3600).events)
    assert events["calm"] == 0
    assert events["wild"] > 10
    assert wild.counters["collision_count"] > 0


def _diagnostics_bag(path: Path) -> None:
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    array = store.types["diagnostic_msgs/msg/DiagnosticArray"]
    status = store.types["diagnostic_msgs/msg/DiagnosticStatus"]
    pair = store.types["diagnostic_msgs/msg/KeyValue"]
    header = store.types["std_msgs/msg/Header"]
    stamp = store.types["builtin_interfaces/msg/Time"]
    with Writer(path, version=8) as writer:
        connection = writer.add_connection(
            "/diagnostics", "diagnostic_msgs/msg/DiagnosticArray", typestore=store
        )
        for i, (level, temperature) in enumerate([(0, "41.5"), (2, "88.25"), (0, "45.0")]):
            message = array(
                header=header(stamp=stamp(sec=i, nanosec=0), frame_id=""),
                status=[
                    status(level=level, name="left_wheel_motor", message="hot" if level else "ok",
                           hardware_id="m1", values=[pair(key="temperature", value=temperature),
                                                     pair(key="mode", value="auto")]),
                ],
            )  # fmt: skip
            writer.write(
                connection, i * 1_000_000_000, store.serialize_cdr(message, array.__msgtype__)
            )


def test_ros2_diagnostics_replay_from_a_rosbag2_recording(tmp_path: Path) -> None:
    bag = tmp_path / "diagnostics_bag"
    _diagnostics_bag(bag)
    collector = load_collector(
        "rosbag",
        {"path": str(bag), "mapping": {"left_wheel_motor/temperature": "motor_temperature_c.1"}},
    )
    assert isinstance(collector, RosbagDiagnosticsCollector)
    assert [d.key for d in collector.declarations] == [MetricKey("motor_temperature_c", 1)]
    first = collector.read(0)
    assert list(first.values) == [41.5]
    second = collector.read(1_000_000)  # one second later: the second message is due
    assert list(second.values) == [88.25]
    assert [(e.kind, e.code, e.message) for e in second.events] == [
        (EventKind.FAULT, "left_wheel_motor", "hot")
    ]
    third = collector.read(5_000_000)
    assert list(third.values) == [45.0]
    assert [e.kind for e in third.events] == [EventKind.FAULT_CLEARED]
    assert collector.finished
    collector.close()
