"""The controller itself, through psutil: CPU, memory, disk, and temperature and battery where the
platform has sensors for them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from edge_agent.collectors.base import Collector, Reading
from firmware_protocol import MetricDeclaration, MetricKey

DISK_METRIC = MetricKey("x_robocover_disk_used_pct")


class SystemCollector(Collector):
    def __init__(self, *, disk_path: Path = Path("/")) -> None:
        self._disk_path = disk_path
        self._has_temperature = bool(_temperatures())
        self._has_battery = _battery() is not None
        psutil.cpu_percent(interval=None)  # primes the counter: the first call always says 0
        declarations = [
            MetricDeclaration(MetricKey("controller_cpu_pct"), -1),
            MetricDeclaration(MetricKey("controller_memory_pct"), -1),
            MetricDeclaration(DISK_METRIC, -1, "%", "file system holding the agent's state"),
        ]
        if self._has_temperature:
            declarations.append(MetricDeclaration(MetricKey("controller_temperature_c"), -1))
        if self._has_battery:
            declarations.append(MetricDeclaration(MetricKey("battery_soc_pct"), -1))
        self._declarations = tuple(declarations)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> SystemCollector:
        return cls(disk_path=Path(options.get("disk_path", "/")))

    @property
    def declarations(self) -> tuple[MetricDeclaration, ...]:
        return self._declarations

    def read(self, mono_us: int) -> Reading:
        values = [
            psutil.cpu_percent(interval=None),
            psutil.virtual_memory().percent,
            psutil.disk_usage(str(self._disk_path)).percent,
        ]
        if self._has_temperature:
            temperatures = _temperatures()
            values.append(max(temperatures) if temperatures else float("nan"))
        if self._has_battery:
            battery = _battery()
            values.append(float("nan") if battery is None else battery)
        return Reading([float(value) for value in values])


def _temperatures() -> list[float]:
    reader = getattr(psutil, "sensors_temperatures", None)
    if reader is None:  # pragma: no cover - not on Linux
        return []
    try:
        groups = reader()
    except OSError:  # pragma: no cover - unreadable sysfs
        return []
    return [entry.current for entries in groups.values() for entry in entries]


def _battery() -> float | None:
    reader = getattr(psutil, "sensors_battery", None)
    battery = reader() if reader is not None else None
    return None if battery is None else float(battery.percent)
