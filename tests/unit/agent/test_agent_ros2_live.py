"""The live ROS 2 collector, against a stand-in for rclpy: ROS 2 cannot be installed here (rclpy
is not on PyPI), so a small module speaking the same API (init, create_node,
create_subscription, spin, shutdown) delivers DiagnosticArray-shaped messages on rclpy's own
spin thread, as a real executor would."""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from edge_agent.collectors import CollectorError, load_collector
from edge_agent.collectors.ros2 import LiveDiagnosticsCollector
from firmware_protocol import EventKind, MetricKey


class FakeNode:
    def __init__(self, name: str) -> None:
        self.name = name
        self.subscriptions: list[tuple[Any, str, Callable[[Any], None], int]] = []
        self.inbox: queue.Queue[Any] = queue.Queue()
        self.destroyed = False

    def create_subscription(
        self, msg_type: Any, topic: str, callback: Callable[[Any], None], qos: int
    ) -> None:
        self.subscriptions.append((msg_type, topic, callback, qos))


class FakeRclpy(ModuleType):
    def __init__(self) -> None:
        super().__init__("rclpy")
        self.running = False
        self.nodes: list[FakeNode] = []
        self.spin_threads: list[threading.Thread] = []

    def init(self) -> None:
        self.running = True

    def create_node(self, name: str) -> FakeNode:
        node = FakeNode(name)
        node.destroy_node = lambda: setattr(node, "destroyed", True)  # type: ignore[attr-defined]
        self.nodes.append(node)
        return node

    def spin(self, node: FakeNode) -> None:
        self.spin_threads.append(threading.current_thread())
        while self.running:
            try:
                message = node.inbox.get(timeout=0.02)
            except queue.Empty:
                continue
            for _type, _topic, callback, _qos in node.subscriptions:
                callback(message)

    def shutdown(self) -> None:
        self.running = False


def _status(level: int, temperature: str) -> SimpleNamespace:
    pair = SimpleNamespace(key="temperature", value=temperature)
    return SimpleNamespace(name="left_wheel_motor", level=level, message="hot", values=[pair])


@pytest.fixture
def rclpy(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRclpy]:
    fake = FakeRclpy()
    msgs = ModuleType("diagnostic_msgs.msg")
    msgs.DiagnosticArray = type("DiagnosticArray", (), {})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rclpy", fake)
    monkeypatch.setitem(sys.modules, "diagnostic_msgs", ModuleType("diagnostic_msgs"))
    monkeypatch.setitem(sys.modules, "diagnostic_msgs.msg", msgs)
    yield fake
    fake.shutdown()


def _wait(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10  # bounds a hang; not a timing assertion
    while not condition():
        assert time.monotonic() < deadline, "the spin thread delivered nothing"
        time.sleep(0.01)


def test_live_diagnostics_arrive_through_rclpys_spin_thread(rclpy: FakeRclpy) -> None:
    collector = load_collector(
        "ros2", {"mapping": {"left_wheel_motor/temperature": "motor_temperature_c.1"}}
    )
    assert isinstance(collector, LiveDiagnosticsCollector)
    assert [d.key for d in collector.declarations] == [MetricKey("motor_temperature_c", 1)]
    node = rclpy.nodes[0]
    [(msg_type, topic, _callback, depth)] = node.subscriptions
    assert (msg_type.__name__, topic, depth) == ("DiagnosticArray", "/diagnostics", 10)

    first = collector.read(0)
    assert first.events == ()
    assert first.values[0] != first.values[0]  # NaN: nothing received yet

    node.inbox.put(SimpleNamespace(status=[_status(2, "88.5")]))
    seen: list[Any] = []

    def arrived() -> bool:
        reading = collector.read(1)
        seen.extend(reading.events)
        return list(reading.values) == [88.5]

    _wait(arrived)
    assert [(e.kind, e.code) for e in seen] == [(EventKind.FAULT, "left_wheel_motor")]
    node.inbox.put(SimpleNamespace(status=[_status(0, "41.0")]))
    _wait(lambda: collector.read(3).values[0] == 41.0)

    collector.close()
    assert node.destroyed
    assert not rclpy.running
    rclpy.spin_threads[0].join(5)
    assert not rclpy.spin_threads[0].is_alive()


def test_live_collector_reports_fault_and_clearance_events(rclpy: FakeRclpy) -> None:
    collector = LiveDiagnosticsCollector(
        mapping={"left_wheel_motor/temperature": "motor_temperature_c.1"}, topic="/diag"
    )
    node = rclpy.nodes[0]
    assert node.subscriptions[0][1] == "/diag"
    events: list[Any] = []
    node.inbox.put(SimpleNamespace(status=[_status(2, "90.0")]))
    node.inbox.put(SimpleNamespace(status=[_status(2, "91.0")]))  # still faulted: no new event
    node.inbox.put(SimpleNamespace(status=[_status(0, "45.0")]))

    def collect() -> bool:
        events.extend(collector.read(0).events)
        return len(events) >= 2 and node.inbox.empty()

    _wait(collect)
    assert [(e.kind, e.code, e.message) for e in events] == [
        (EventKind.FAULT, "left_wheel_motor", "hot"),
        (EventKind.FAULT_CLEARED, "left_wheel_motor", None),
    ]
    collector.close()


def test_without_ros2_the_live_collector_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "rclpy", None)  # an import of rclpy raises ImportError
    with pytest.raises(CollectorError, match="needs rclpy"):
        load_collector("ros2", {"mapping": {}})
