"""ROS 2 diagnostics (diagnostic_msgs/DiagnosticArray): live through rclpy when it is importable,
and replayed from rosbag2 recordings through the pure-Python rosbags library.

Options: `mapping` maps ``"{status name}/{key}"`` to a metric key with its exponent, e.g.
``{"left_wheel_motor/temperature" = "motor_temperature_c.1"}``; values that do not parse as
numbers are ignored. A status whose level rises to ERROR raises a FAULT event (code = the status
name, message = its message); its return to OK raises FAULT_CLEARED.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from edge_agent.collectors.base import Collector, CollectorError, Reading
from firmware_protocol import Event, EventKind, MetricDeclaration, MetricKey, Severity
from firmware_protocol.catalogue import default_exponent

DIAGNOSTICS_TYPE = "diagnostic_msgs/msg/DiagnosticArray"
OK, WARN, ERROR = 0, 1, 2


class _DiagnosticsState:
    """Latest values and fault states from DiagnosticArray messages (any source)."""

    def __init__(self, mapping: Mapping[str, str], exponents: Mapping[str, int]) -> None:
        keys = [MetricKey.parse(k) for k in mapping.values()]
        declarations = []
        for key in keys:
            exponent = exponents.get(str(key), default_exponent(key))
            if exponent is None:
                raise CollectorError(f"vendor metric {key} needs an exponent in `exponents`")
            declarations.append(MetricDeclaration(key, exponent, "1" if key.is_vendor else ""))
        self.declarations = tuple(declarations)
        self._row = {source: i for i, source in enumerate(mapping)}
        self._values = [math.nan] * len(keys)
        self._faulted: set[str] = set()
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def update(self, statuses: Any, mono_us: int) -> None:
        with self._lock:
            for status in statuses:
                name, level = str(status.name), int(status.level)
                for pair in status.values:
                    row = self._row.get(f"{name}/{pair.key}")
                    if row is not None:
                        try:
                            self._values[row] = float(pair.value)
                        except ValueError:
                            continue
                if level >= ERROR and name not in self._faulted:
                    self._faulted.add(name)
                    message = str(status.message)[:256]
                    fault = Event(EventKind.FAULT, mono_us, Severity.ERROR, code=name[:64],
                                  message=message)  # fmt: skip
                    self._events.append(fault)
                elif level == OK and name in self._faulted:
                    self._faulted.discard(name)
                    self._events.append(Event(EventKind.FAULT_CLEARED, mono_us, code=name[:64]))

    def reading(self) -> Reading:
        with self._lock:
            events, self._events = tuple(self._events), []
            return Reading(list(self._values), events)


class RosbagDiagnosticsCollector(Collector):
    """Replays a rosbag2 recording's diagnostics at `speed` times real time (0 = all at once)."""

    def __init__(
        self,
        path: Path,
        *,
        mapping: Mapping[str, str],
        exponents: Mapping[str, int] | None = None,
        topic: str = "/diagnostics",
        speed: float = 1.0,
    ) -> None:
        from rosbags.highlevel import AnyReader  # the `ros` extra

        self._state = _DiagnosticsState(mapping, exponents or {})
        self._reader = AnyReader([path])
        self._reader.open()
        connections = [c for c in self._reader.connections if c.topic == topic]
        if not connections:
            self._reader.close()
            raise CollectorError(f"{path} has no {topic} topic")
        self._messages = self._iterate(connections)
        self._speed = speed
        self._pending: tuple[int, Any] | None = None
        self._bag_start: int | None = None
        self._start_us: int | None = None
        self.finished = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RosbagDiagnosticsCollector:
        return cls(Path(options["path"]), mapping=options.get("mapping", {}),
                   exponents=options.get("exponents"), topic=options.get("topic", "/diagnostics"),
                   speed=float(options.get("speed", 1.0)))  # fmt: skip

    def _iterate(self, connections: list[Any]) -> Iterator[tuple[int, Any]]:
        for connection, timestamp_ns, raw in self._reader.messages(connections=connections):
            yield timestamp_ns, self._reader.deserialize(raw, connection.msgtype)

    @property
    def declarations(self) -> tuple[MetricDeclaration, ...]:
        return self._state.declarations

    def read(self, mono_us: int) -> Reading:
        if self._start_us is None:
            self._start_us = mono_us
        elapsed_ns = (mono_us - self._start_us) * 1000 * self._speed
        while not self.finished:
            if self._pending is None:
                self._pending = next(self._messages, None)
                if self._pending is None:
                    self.finished = True
                    break
            timestamp_ns, message = self._pending
            if self._bag_start is None:
                self._bag_start = timestamp_ns
            if self._speed > 0 and timestamp_ns - self._bag_start > elapsed_ns:
                break
            self._state.update(message.status, mono_us)
            self._pending = None
        return self._state.reading()

    def close(self) -> None:
        self._reader.close()


class LiveDiagnosticsCollector(Collector):
    """Subscribes to /diagnostics with rclpy, spinning in a thread of its own."""

    def __init__(self, *, mapping: Mapping[str, str], exponents: Mapping[str, int] | None = None,
                 topic: str = "/diagnostics") -> None:  # fmt: skip
        try:
            import rclpy  # type: ignore[import-not-found]
            from diagnostic_msgs.msg import DiagnosticArray  # type: ignore[import-not-found]
        except ImportError as exc:
            raise CollectorError("the ros2 collector needs rclpy (a ROS 2 installation)") from exc
        from edge_agent.origin import now_us

        self._state = _DiagnosticsState(mapping, exponents or {})
        rclpy.init()
        self._node = rclpy.create_node("robocover_agent")
        self._node.create_subscription(
            DiagnosticArray, topic, lambda m: self._state.update(m.status, now_us()[1]), 10
        )
        self._rclpy = rclpy
        self._thread = threading.Thread(target=rclpy.spin, args=(self._node,), daemon=True)
        self._thread.start()

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> LiveDiagnosticsCollector:
        return cls(mapping=options.get("mapping", {}), exponents=options.get("exponents"),
                   topic=options.get("topic", "/diagnostics"))  # fmt: skip

    @property
    def declarations(self) -> tuple[MetricDeclaration, ...]:
        return self._state.declarations

    def read(self, mono_us: int) -> Reading:
        return self._state.reading()

    def close(self) -> None:
        self._node.destroy_node()
        self._rclpy.shutdown()
