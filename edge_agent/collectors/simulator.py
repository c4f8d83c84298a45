"""A simulated robot: industrial arm, cobot or mobile robot, with wear, fault modes and a
configurable hazard. Used by demos, tests, load runs and the benchmark; it goes through exactly the
same agent code as real collectors.

Signals are smooth duty cycles plus sensor noise; temperatures creep up with wear (operating hours
times `wear`); faults arrive as Poisson processes whose rates are multiplied by `hazard`:
collisions, protective stops, emergency stops, an encoder fault that clears itself, and an
overheating joint whose temperature ramps up until the threshold detector notices.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from edge_agent.collectors.base import Collector, Reading
from firmware_protocol import Event, EventKind, MetricDeclaration, MetricKey, Severity

RobotKind = Literal["industrial_arm", "cobot", "mobile_robot"]
KINDS: tuple[RobotKind, ...] = ("industrial_arm", "cobot", "mobile_robot")
# Base rates per operating hour at hazard 1.
RATES_PER_HOUR = {"collision": 0.05, "protective_stop": 0.3, "emergency_stop": 0.02,
                  "encoder_fault": 0.05, "overheat": 0.02}  # fmt: skip
US_PER_HOUR = 3_600_000_000


@dataclass(frozen=True, slots=True)
class _Profile:
    joints: int
    idle_temperature_c: float
    peak_current_a: float
    mobile: bool


PROFILES: dict[str, _Profile] = {
    "industrial_arm": _Profile(6, 35.0, 12.0, False),
    "cobot": _Profile(6, 32.0, 4.0, False),
    "mobile_robot": _Profile(2, 30.0, 8.0, True),
}


def _declare(name: str, channel: int = 0) -> MetricDeclaration:
    key = MetricKey(name, channel)
    spec = key.spec
    assert spec is not None  # noqa: S101 - only catalogue names are used here
    return MetricDeclaration(key, spec.exponent)


class SimulatedRobot(Collector):
    def __init__(
        self,
        *,
        kind: RobotKind = "cobot",
        metrics: int = 0,
        hazard: float = 1.0,
        wear: float = 1.0,
        seed: int | None = None,
        time_scale: float = 1.0,
    ) -> None:
        if kind not in PROFILES:
            raise ValueError(f"unknown robot kind {kind!r}: one of {sorted(PROFILES)}")
        if hazard < 0 or wear < 0 or time_scale <= 0:
            raise ValueError("hazard and wear must be >= 0, time_scale > 0")
        self.kind, self.hazard, self.wear, self.time_scale = kind, hazard, wear, time_scale
        self._profile = profile = PROFILES[kind]
        self._rng = random.Random(seed)  # noqa: S311 - a simulation, not cryptography
        joints = range(1, profile.joints + 1)
        names: list[MetricDeclaration] = []
        for metric in ("joint_temperature_c", "motor_temperature_c", "motor_current_a"):
            names += [_declare(metric, j) for j in joints]
        if not profile.mobile:
            names += [_declare("joint_torque_nm", j) for j in joints]
            names += [_declare("payload_kg"), _declare("cycle_count")]
        else:
            names += [_declare("battery_soc_pct", 1), _declare("battery_voltage_v", 1)]
            names += [_declare("battery_soh_pct", 1), _declare("odometer_m")]
        names += [_declare("speed_m_s"), _declare("operating_hours_h")]
        names += [_declare("protective_stop_count"), _declare("emergency_stop_count")]
        names += [_declare("collision_count"), _declare("controller_temperature_c")]
        # Pad to the requested number of metrics with vibration sensors (channels 1..255).
        extra = max(0, min(metrics - len(names), 255))
        names += [_declare("vibration_rms_m_s2", c) for c in range(1, extra + 1)]
        self._declarations = tuple(names)
        self._index = {str(d.key): i for i, d in enumerate(names)}
        self._vibration = [self._index[f"vibration_rms_m_s2.{c}"] for c in range(1, extra + 1)]
        self._start_us: int | None = None
        self._last_us = 0
        self.hours = float(self._rng.uniform(100, 20_000))
        self.counters = {"cycle_count": float(self._rng.randrange(1_000, 100_000)),
                         "protective_stop_count": 0.0, "emergency_stop_count": 0.0,
                         "collision_count": 0.0, "odometer_m": self.hours * 900.0}  # fmt: skip
        self.soc = 90.0
        self.overheat_joint: int | None = None
        self.overheat_c = 0.0
        self.encoder_fault_until: int | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> SimulatedRobot:
        return cls(
            kind=options.get("kind", "cobot"),
            metrics=int(options.get("metrics", 0)),
            hazard=float(options.get("hazard", 1.0)),
            wear=float(options.get("wear", 1.0)),
            seed=options.get("seed"),
            time_scale=float(options.get("time_scale", 1.0)),
        )

    @property
    def declarations(self) -> tuple[MetricDeclaration, ...]:
        return self._declarations

    def read(self, mono_us: int) -> Reading:
        if self._start_us is None:
            self._start_us = self._last_us = mono_us
        dt_h = max(mono_us - self._last_us, 0) / US_PER_HOUR * self.time_scale
        self._last_us = mono_us
        self.hours += dt_h
        t_s = (mono_us - self._start_us) / 1e6 * self.time_scale
        events = self._faults(mono_us, dt_h)
        return Reading(self._signals(t_s, dt_h), tuple(events))

    def _signals(self, t_s: float, dt_h: float) -> list[float]:
        p, gauss, j = self._profile, self._rng.gauss, self._profile.joints
        values = [0.0] * len(self._declarations)
        duty = [0.5 + 0.5 * math.sin(2 * math.pi * (t_s / 20.0 + i / j)) for i in range(j)]
        wear_c = 0.0005 * self.wear * self.hours
        joint_t = [p.idle_temperature_c + 15 * d + wear_c + gauss(0, 0.05) for d in duty]
        if self.overheat_joint is not None:
            self.overheat_c = min(self.overheat_c + 0.05 * self.time_scale, 60.0)
            joint_t[self.overheat_joint] += self.overheat_c
        values[0:j] = joint_t
        values[j : 2 * j] = [t + 5 + gauss(0, 0.05) for t in joint_t]
        values[2 * j : 3 * j] = [p.peak_current_a * d + gauss(0, 0.01) for d in duty]
        row = 3 * j
        if not p.mobile:
            values[row : row + j] = [40 * d * (1 + 0.1 * gauss(0, 0.1)) for d in duty]
            self.counters["cycle_count"] += dt_h * 120
            values[row + j] = 5.0
            values[row + j + 1] = math.floor(self.counters["cycle_count"])
            row += j + 2
        else:
            self.soc = max(5.0, self.soc - dt_h * 12) if self.soc > 5.0 else 95.0
            self.counters["odometer_m"] += dt_h * 1500
            values[row : row + 4] = [
                self.soc,
                44 + self.soc * 0.08,
                97.0,
                self.counters["odometer_m"],
            ]
            row += 4
        values[row] = max(0.0, 1.2 * duty[0] + gauss(0, 0.002))
        values[row + 1] = self.hours
        values[row + 2] = self.counters["protective_stop_count"]
        values[row + 3] = self.counters["emergency_stop_count"]
        values[row + 4] = self.counters["collision_count"]
        values[row + 5] = 45 + 0.2 * wear_c + gauss(0, 0.1)
        vibration = 0.2 + 0.001 * self.wear * self.hours / 100
        for index in self._vibration:
            values[index] = vibration + abs(gauss(0, 0.02))
        return values

    def _happens(self, mode: str, dt_h: float) -> bool:
        rate = RATES_PER_HOUR[mode] * self.hazard * dt_h
        return rate > 0 and bool(self._rng.random() < -math.expm1(-rate))

    def _faults(self, mono_us: int, dt_h: float) -> list[Event]:
        events: list[Event] = []
        if self._happens("collision", dt_h):
            self.counters["collision_count"] += 1
            force = float(self._rng.uniform(80, 400))
            events.append(Event(EventKind.COLLISION, mono_us, Severity.ERROR, value=force))
        if self._happens("protective_stop", dt_h):
            self.counters["protective_stop_count"] += 1
            events.append(Event(EventKind.PROTECTIVE_STOP, mono_us, Severity.WARNING,
                                code="safety_zone"))  # fmt: skip
        if self._happens("emergency_stop", dt_h):
            self.counters["emergency_stop_count"] += 1
            events.append(Event(EventKind.EMERGENCY_STOP, mono_us, Severity.CRITICAL,
                                code="pendant"))  # fmt: skip
        if self.encoder_fault_until is not None and mono_us >= self.encoder_fault_until:
            self.encoder_fault_until = None
            events.append(Event(EventKind.FAULT_CLEARED, mono_us, code="encoder_drift"))
        elif self.encoder_fault_until is None and self._happens("encoder_fault", dt_h):
            self.encoder_fault_until = mono_us + int(30e6 / self.time_scale)
            channel = self._rng.randint(1, self._profile.joints)
            events.append(Event(EventKind.FAULT, mono_us, Severity.ERROR, channel,
                                code="encoder_drift"))  # fmt: skip
        if self.overheat_joint is None and self._happens("overheat", dt_h):
            self.overheat_joint = self._rng.randrange(self._profile.joints)
        return events
