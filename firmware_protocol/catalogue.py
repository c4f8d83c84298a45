"""The standard metric catalogue, and the naming rule for vendor-specific metrics.

On the wire a standard metric is its small integer ``code``; a vendor metric is its name, which
must be ``x_{vendor}_{metric}``. Either may carry a channel (1-255: the joint, motor, battery
pack or sensor number; 0 means the robot as a whole, or the only one). Codes are permanent: a
code is never reused or given another unit; a minor version may only add codes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from firmware_protocol.errors import InvalidFieldError
from firmware_protocol.limits import MAX_CHANNEL, MAX_EXPONENT, MAX_NAME_BYTES, MIN_EXPONENT

VENDOR_NAME_RE: Final = re.compile(r"x_[a-z0-9]{1,16}_[a-z0-9_]{1,44}")
_KEY_TEXT_RE: Final = re.compile(r"([a-z][a-z0-9_]{0,63})(?:\.([1-9][0-9]{0,2}))?")


class MetricKind(StrEnum):
    GAUGE = "gauge"
    """A level sampled at each timestamp (temperature, current)."""
    COUNTER = "counter"
    """A running total that only grows, across reboots too (odometer, stop counts)."""


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One entry of the standard catalogue."""

    code: int
    name: str
    unit: str
    exponent: int
    """Default resolution is 10**exponent units; a batch may declare a finer or coarser one."""
    kind: MetricKind
    channel: str
    """What a channel number means for this metric ("joint", "motor", ... or "" if none)."""
    description: str


_G, _C = MetricKind.GAUGE, MetricKind.COUNTER
STANDARD_METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(1, "joint_temperature_c", "degC", -2, _G, "joint", "Joint (gearbox) temperature"),
    MetricSpec(2, "motor_temperature_c", "degC", -2, _G, "motor", "Motor winding temperature"),
    MetricSpec(3, "motor_current_a", "A", -3, _G, "motor", "Motor phase current, RMS"),
    MetricSpec(4, "joint_torque_nm", "N.m", -2, _G, "joint", "Measured joint torque"),
    MetricSpec(5, "battery_soc_pct", "%", -1, _G, "battery", "Battery state of charge"),
    MetricSpec(6, "battery_soh_pct", "%", -1, _G, "battery", "Battery state of health"),
    MetricSpec(7, "battery_voltage_v", "V", -2, _G, "battery", "Battery terminal voltage"),
    MetricSpec(8, "odometer_m", "m", -2, _C, "", "Distance travelled since commissioning"),
    MetricSpec(9, "operating_hours_h", "h", -3, _C, "", "Powered-on time since commissioning"),
    MetricSpec(10, "payload_kg", "kg", -2, _G, "", "Mass carried by the tool or platform"),
    MetricSpec(11, "speed_m_s", "m/s", -3, _G, "", "Tool-centre-point or platform speed"),
    MetricSpec(12, "vibration_rms_m_s2", "m/s2", -3, _G, "sensor", "Vibration acceleration RMS"),
    MetricSpec(13, "protective_stop_count", "1", 0, _C, "", "Protective stops since commissioning"),
    MetricSpec(14, "emergency_stop_count", "1", 0, _C, "", "Emergency stops since commissioning"),
    MetricSpec(15, "controller_cpu_pct", "%", -1, _G, "", "Controller CPU utilisation"),
    MetricSpec(16, "controller_memory_pct", "%", -1, _G, "", "Controller memory in use"),
    MetricSpec(17, "controller_temperature_c", "degC", -1, _G, "", "Controller board temperature"),
    MetricSpec(18, "cycle_count", "1", 0, _C, "", "Completed work cycles since commissioning"),
    MetricSpec(19, "collision_count", "1", 0, _C, "", "Detected collisions since commissioning"),
)
_BY_CODE: Final = {spec.code: spec for spec in STANDARD_METRICS}
_BY_NAME: Final = {spec.name: spec for spec in STANDARD_METRICS}


def spec_by_code(code: int) -> MetricSpec | None:
    return _BY_CODE.get(code)


def spec_by_name(name: str) -> MetricSpec | None:
    return _BY_NAME.get(name)


def is_vendor_name(name: str) -> bool:
    return VENDOR_NAME_RE.fullmatch(name) is not None


@dataclass(frozen=True, slots=True, order=True)
class MetricKey:
    """A metric name plus a channel: ``joint_temperature_c`` channel 3 is ``joint_temperature_c.3``.

    `name` is a standard catalogue name or a vendor name ``x_{vendor}_{metric}``. A standard
    code unknown to this decoder (added by a later minor version) is kept as ``std_{code}``.
    """

    name: str
    channel: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.channel, int) or not 0 <= self.channel <= MAX_CHANNEL:
            raise InvalidFieldError(f"metric channel {self.channel!r} is not in 0..255")
        if not isinstance(self.name, str) or len(self.name.encode()) > MAX_NAME_BYTES:
            raise InvalidFieldError(f"metric name {self.name!r} is not a string of <= 64 bytes")
        if not (self.is_vendor or self.name in _BY_NAME or _unknown_code(self.name) is not None):
            raise InvalidFieldError(
                f"metric {self.name!r} is neither a standard name nor x_{{vendor}}_{{name}}"
            )

    @property
    def is_vendor(self) -> bool:
        return is_vendor_name(self.name)

    @property
    def spec(self) -> MetricSpec | None:
        return _BY_NAME.get(self.name)

    @property
    def wire_ref(self) -> int | str:
        """What the wire carries: the standard code, or the vendor name."""
        spec = _BY_NAME.get(self.name)
        if spec is not None:
            return spec.code
        code = _unknown_code(self.name)
        return self.name if code is None else code

    @classmethod
    def from_wire(cls, ref: int | str, channel: int) -> MetricKey:
        """The key for a wire (ref, channel) pair; memoised, as batches repeat the same keys."""
        # Exact types before the cache: True and 1.0 hash like 1 and would hit its entry.
        if type(ref) not in (int, str) or type(channel) is not int:
            raise InvalidFieldError(f"metric ref {ref!r} is not an unsigned integer or text")
        return _key_from_wire(ref, channel)

    @classmethod
    def _from_wire(cls, ref: int | str, channel: int) -> MetricKey:
        if isinstance(ref, int):
            spec = _BY_CODE.get(ref)
            if spec is not None:
                return cls(spec.name, channel)
            if not 1 <= ref <= 0xFFFF:
                raise InvalidFieldError(f"standard metric code {ref} is not in 1..65535")
            return cls(f"std_{ref}", channel)
        if not is_vendor_name(ref):
            raise InvalidFieldError(
                f"metric name {ref!r} on the wire must be x_{{vendor}}_{{name}}"
            )
        return cls(ref, channel)

    @classmethod
    def parse(cls, text: str) -> MetricKey:
        """Parse ``name`` or ``name.channel`` (channel 1-255)."""
        match = _KEY_TEXT_RE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidFieldError(f"metric key {text!r} is not name or name.channel")
        return cls(match.group(1), int(match.group(2) or 0))

    def __str__(self) -> str:
        return self.name if self.channel == 0 else f"{self.name}.{self.channel}"


def metric_keys(refs: list[Any], channels: bytes) -> tuple[MetricKey, ...]:
    """All keys of a batch at once: one cache lookup for the whole (usually repeated) table."""
    # Exact types first: True and 1.0 hash like 1 and would hit 1's cache entry.
    if not set(map(type, refs)) <= _REF_TYPES:
        raise InvalidFieldError("metric refs must be unsigned integers or text")
    if len(refs) != len(channels):
        raise InvalidFieldError("metric refs and channels differ in length")
    return _keys_from_wire(tuple(refs), channels)


_REF_TYPES: Final = frozenset({int, str})


@functools.lru_cache(maxsize=1024)
def _keys_from_wire(refs: tuple[int | str, ...], channels: bytes) -> tuple[MetricKey, ...]:
    return tuple(_key_from_wire(ref, channel) for ref, channel in zip(refs, channels, strict=True))


@functools.lru_cache(maxsize=4096)
def _key_from_wire(ref: int | str, channel: int) -> MetricKey:
    return MetricKey._from_wire(ref, channel)


def _unknown_code(name: str) -> int | None:
    """``std_{code}`` names a standard code this decoder does not know yet."""
    if name.startswith("std_") and name[4:].isdigit() and len(name) <= 9:
        code = int(name[4:])
        if 1 <= code <= 0xFFFF and code not in _BY_CODE and name == f"std_{code}":
            return code
    return None


def check_exponent(exponent: object) -> int:
    """Resolutions are powers of ten from 1e-9 to 1e9."""
    if type(exponent) is not int or not MIN_EXPONENT <= exponent <= MAX_EXPONENT:
        raise InvalidFieldError(f"exponent {exponent!r} is not an integer in -9..9")
    return exponent


def default_exponent(key: MetricKey) -> int | None:
    spec = key.spec
    return None if spec is None else spec.exponent
