from __future__ import annotations

import re

import pytest

from firmware_protocol import STANDARD_METRICS, InvalidFieldError, MetricKey, MetricKind
from firmware_protocol.catalogue import check_exponent, is_vendor_name, spec_by_code, spec_by_name


def test_catalogue_is_consistent() -> None:
    codes = [spec.code for spec in STANDARD_METRICS]
    names = [spec.name for spec in STANDARD_METRICS]
    assert len(set(codes)) == len(codes)
    assert len(set(names)) == len(names)
    assert codes == sorted(codes)
    for spec in STANDARD_METRICS:
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,63}", spec.name)
        assert not spec.name.startswith(("x_", "std_"))
        assert -9 <= spec.exponent <= 9
        assert spec_by_code(spec.code) is spec
        assert spec_by_name(spec.name) is spec
    assert {s.kind for s in STANDARD_METRICS} == set(MetricKind)


def test_required_metrics_are_present() -> None:
    for name in [
        "joint_temperature_c",
        "motor_temperature_c",
        "motor_current_a",
        "battery_soc_pct",
        "battery_soh_pct",
        "odometer_m",
        "operating_hours_h",
        "payload_kg",
        "speed_m_s",
        "vibration_rms_m_s2",
        "protective_stop_count",
        "emergency_stop_count",
        "controller_cpu_pct",
        "controller_memory_pct",
    ]:
        assert spec_by_name(name) is not None, name


def test_key_text_round_trip() -> None:
    key = MetricKey.parse("joint_temperature_c.3")
    assert key == MetricKey("joint_temperature_c", 3)
    assert str(key) == "joint_temperature_c.3"
    assert str(MetricKey.parse("battery_soc_pct")) == "battery_soc_pct"
    assert key.wire_ref == 1
    assert key.spec is not None
    assert not key.is_vendor


def test_vendor_and_unknown_codes() -> None:
    vendor = MetricKey.parse("x_acme_gripper_force_n.2")
    assert vendor.is_vendor
    assert vendor.wire_ref == "x_acme_gripper_force_n"
    assert vendor.spec is None
    assert MetricKey.from_wire("x_acme_gripper_force_n", 2) == vendor
    future = MetricKey.from_wire(900, 0)
    assert future.name == "std_900"
    assert future.wire_ref == 900
    assert MetricKey.from_wire(1, 4) == MetricKey("joint_temperature_c", 4)
    assert is_vendor_name("x_kuka_axis_jerk")
    assert not is_vendor_name("kuka_axis_jerk")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "Joint",
        "joint_temperature_c.0",
        "joint_temperature_c.256",
        "nope",
        "x_acme",
        "std_1",
        "std_0900",
        "a.b.c",
        "x_" + "a" * 70,
    ],
)
def test_bad_key_text(bad: str) -> None:
    with pytest.raises(InvalidFieldError):
        MetricKey.parse(bad)


def test_bad_wire_refs() -> None:
    with pytest.raises(InvalidFieldError):
        MetricKey.from_wire(0, 0)
    with pytest.raises(InvalidFieldError):
        MetricKey.from_wire(70_000, 0)
    with pytest.raises(InvalidFieldError):
        MetricKey.from_wire("battery_soc_pct", 0)  # standard metrics travel by code
    with pytest.raises(InvalidFieldError):
        MetricKey("battery_soc_pct", 300)
    with pytest.raises(InvalidFieldError):
        MetricKey(3, 0)  # type: ignore[arg-type]


def test_exponent_check() -> None:
    assert check_exponent(-9) == -9
    for bad in (10, -10, 1.0, True, "1"):
        with pytest.raises(InvalidFieldError):
            check_exponent(bad)
