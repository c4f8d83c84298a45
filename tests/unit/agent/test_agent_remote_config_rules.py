"""Remote config rules, without a broker: what is applied, what is refused and why, the rollback
when applying fails, and the applied config surviving a restart (its JSON form)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from edge_agent.remote_config import AppliedConfig, RemoteConfig
from edge_agent.settings import SamplingSettings
from firmware_protocol import Config, EventKind, MetricKey, Topic, TopicKind, encode

ROBOT = uuid.uuid4()
TOPIC = Topic("acme", str(ROBOT), TopicKind.CONFIG)
KEYS = (MetricKey("joint_temperature_c", 1), MetricKey("cycle_count"))


@dataclass
class Robot:
    """What the agent does with a config: apply it (or fail to) and report the outcome."""

    fail_on_window_ms: int | None = None
    applied: list[tuple[int, int | None]] = field(default_factory=list)
    reports: list[tuple[EventKind, int, str]] = field(default_factory=list)

    def apply(self, sampling: SamplingSettings, budget: int | None) -> None:
        self.applied.append((sampling.window_ms, budget))
        if sampling.window_ms == self.fail_on_window_ms:
            raise OSError("the collector cannot read that fast")

    def report(self, kind: EventKind, version: int, reason: str) -> None:
        self.reports.append((kind, version, reason))


def _remote(robot: Robot, applied: AppliedConfig | None = None) -> RemoteConfig:
    return RemoteConfig(topic=TOPIC, base=SamplingSettings(), base_budget=1 << 20,
                        known_metrics=KEYS, known_collectors=("system", "simulator"),
                        apply=robot.apply, report=robot.report,
                        applied=applied)  # fmt: skip


def _config(version: int, **fields: object) -> bytes:
    return encode(Config(ROBOT, version, 1_700_000_000_000_000, **fields))  # type: ignore[arg-type]


def test_a_valid_config_is_applied_reported_and_survives_a_restart() -> None:
    robot = Robot()
    remote = _remote(robot)
    applied = remote.handle(_config(3, sample_interval_ms=500, outbox_budget_bytes=2 << 20,
                                    metrics=(KEYS[0],)))  # fmt: skip
    assert applied is not None
    assert (applied.version, applied.sampling.window_ms, applied.budget_bytes) == (3, 500, 2 << 20)
    assert applied.sampling.metrics == ("joint_temperature_c.1",)
    assert robot.applied == [(500, 2 << 20)]
    assert robot.reports == [(EventKind.CONFIG_APPLIED, 3, "applied")]
    # Protocol 1.1 fields: the raw read period and the collectors to read.
    later = remote.handle(_config(4, read_interval_ms=50, collectors=("simulator",)))
    assert later is not None
    assert (later.sampling.read_interval_ms, later.sampling.collectors) == (50, ("simulator",))
    assert later.sampling.window_ms == 500  # kept from version 3
    restored = AppliedConfig.from_json(applied.to_json())
    assert restored == applied
    # After a restart the retained copy of the same config arrives again: nothing happens.
    again = Robot()
    assert _remote(again, restored).handle(_config(3, sample_interval_ms=500)) is None
    assert (again.applied, again.reports) == ([], [])


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"metrics": (MetricKey("payload_kg"),)}, "no collector reports payload_kg"),
        ({"sample_interval_ms": 10_000}, "window_ms must not exceed batch_interval_s"),
        ({"sample_interval_ms": 50}, "window_ms must be at least read_interval_ms"),
        ({"read_interval_ms": 2000}, "window_ms must be at least read_interval_ms"),
        ({"collectors": ("system", "lidar")}, "no collector named lidar"),
    ],
)
def test_a_bad_config_is_refused_with_its_reason_and_nothing_changes(
    fields: dict[str, object], reason: str
) -> None:
    robot = Robot()
    remote = _remote(robot)
    assert remote.handle(_config(4, **fields)) is None
    assert robot.applied == []
    assert robot.reports == [(EventKind.CONFIG_REJECTED, 4, reason)]
    assert remote.last_rejection == (4, reason)
    assert remote.applied.version == -1


def test_an_undecodable_config_is_refused_and_reported() -> None:
    robot = Robot()
    remote = _remote(robot)
    assert remote.handle(b"RC\x01\x00\x05\x00garbage") is None
    [(kind, version, reason)] = robot.reports
    assert (kind, version) == (EventKind.CONFIG_REJECTED, 0)
    assert reason.startswith("undecodable config: ")


def test_a_config_that_fails_to_apply_is_rolled_back_to_what_worked() -> None:
    robot = Robot(fail_on_window_ms=200)
    remote = _remote(robot)
    assert remote.handle(_config(1, sample_interval_ms=500)) is not None
    assert remote.handle(_config(2, sample_interval_ms=200)) is None
    # Tried, failed, and the previous settings applied again.
    assert robot.applied == [(500, 1 << 20), (200, 1 << 20), (500, 1 << 20)]
    assert robot.reports[-1] == (
        EventKind.CONFIG_REJECTED,
        2,
        "rolled back: the collector cannot read that fast",
    )
    assert (remote.applied.version, remote.applied.sampling.window_ms) == (1, 500)
    # A later, good config still applies.
    assert remote.handle(_config(3, batch_interval_s=10)) is not None
    assert remote.applied.sampling.batch_interval_s == 10
