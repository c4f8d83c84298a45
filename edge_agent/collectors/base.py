"""The collector plugin interface.

A collector declares the metrics it reports once, then on each `read` returns one value per
declared metric (NaN where it has none this time) and any discrete events it saw. Collectors are
found by name in the ``robocover.collectors`` entry-point group; the entry point names a factory
taking the collector's options (a mapping, from the agent's configuration file)::

    [project.entry-points."robocover.collectors"]
    acme_gripper = "acme_robocover.gripper:GripperCollector.from_options"
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from firmware_protocol import Event, MetricDeclaration

ENTRY_POINT_GROUP = "robocover.collectors"
# The built-in collectors, also reachable before the entry points are installed.
BUILTIN = {
    "system": "edge_agent.collectors.system:SystemCollector.from_options",
    "simulator": "edge_agent.collectors.simulator:SimulatedRobot.from_options",
    "ros2": "edge_agent.collectors.ros2:LiveDiagnosticsCollector.from_options",
    "rosbag": "edge_agent.collectors.ros2:RosbagDiagnosticsCollector.from_options",
}


class CollectorError(RuntimeError):
    """A collector cannot be found, built or read."""


@dataclass(frozen=True, slots=True)
class Reading:
    values: Sequence[float]
    """One float per declared metric, in declaration order; NaN = no value this time. A list
    (the agent imports no numpy, to stay small), though any sequence of floats will do."""
    events: tuple[Event, ...] = ()


class Collector(ABC):
    """Reads one source of diagnostics. `read` is called from one thread, at the sample rate,
    and must return quickly (no blocking I/O: a slow source runs its own thread)."""

    @property
    @abstractmethod
    def declarations(self) -> tuple[MetricDeclaration, ...]: ...

    @abstractmethod
    def read(self, mono_us: int) -> Reading: ...

    def close(self) -> None:  # noqa: B027 - most collectors hold nothing
        """Release what the collector holds."""


CollectorFactory = Callable[[Mapping[str, Any]], Collector]


def _resolve(target: str) -> CollectorFactory:
    module_name, _, attribute = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    factory: CollectorFactory = obj
    return factory


def find_factory(name: str) -> CollectorFactory:
    """The factory registered under `name`: installed entry points first, then the built-ins."""
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name == name:
            loaded: CollectorFactory = entry_point.load()
            return loaded
    if name in BUILTIN:
        return _resolve(BUILTIN[name])
    raise CollectorError(f"no collector named {name!r} (entry point group {ENTRY_POINT_GROUP})")


def load_collector(name: str, options: Mapping[str, Any]) -> Collector:
    try:
        collector = find_factory(name)(options)
    except CollectorError:
        raise
    except Exception as exc:  # a third-party plugin may raise anything while starting
        raise CollectorError(f"collector {name!r} failed to start: {exc}") from exc
    if not isinstance(collector, Collector):
        raise CollectorError(f"collector {name!r} is not an edge_agent Collector")
    return collector
