"""Collectors: where the agent's measurements come from (system, ROS 2, simulator, plugins)."""

from edge_agent.collectors.base import (
    Collector,
    CollectorError,
    CollectorFactory,
    Reading,
    find_factory,
    load_collector,
)

__all__ = [
    "Collector",
    "CollectorError",
    "CollectorFactory",
    "Reading",
    "find_factory",
    "load_collector",
]
