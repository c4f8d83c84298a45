"""Remote config: a bad one is refused and reported, a good one is applied without a restart."""

from __future__ import annotations

import time
from pathlib import Path

from firmware_protocol import Config, EventKind, MetricKey
from tests.integration.agent.conftest import start_agent
from tests.support.agent_cloud import CloudStandIn
from tests.support.broker import MosquittoBroker


def _reports(cloud: CloudStandIn, kind: EventKind) -> list[tuple[str | None, str | None]]:
    return [(e.code, e.message) for b in cloud.events() for e in b.events if e.kind == kind]


def test_agent_refuses_and_reports_a_bad_config_and_applies_a_good_one(
    tmp_path: Path, mqtt_broker: MosquittoBroker
) -> None:
    running = start_agent(tmp_path, mqtt_broker)
    agent, cloud = running.agent, running.cloud
    robot = agent.identity.robot_id
    try:
        assert agent.publisher.online.wait(30)
        # A window longer than the batch: each field is valid, the combination is not.
        cloud.publish_config(Config(robot, 5, time.time_ns() // 1000, sample_interval_ms=10_000))
        assert cloud.wait_until(lambda c: bool(_reports(c, EventKind.CONFIG_REJECTED)))
        [(code, reason)] = _reports(cloud, EventKind.CONFIG_REJECTED)
        assert code == "5"
        assert reason is not None
        assert "window_ms must not exceed batch_interval_s" in reason
        assert agent.sampling.window_ms == 1000
        assert agent.remote_config.applied.version == -1

        unknown = (MetricKey("battery_soc_pct", 9),)
        cloud.publish_config(Config(robot, 6, time.time_ns() // 1000, metrics=unknown))
        assert cloud.wait_until(lambda c: len(_reports(c, EventKind.CONFIG_REJECTED)) == 2)
        assert "no collector reports battery_soc_pct.9" in str(
            _reports(cloud, EventKind.CONFIG_REJECTED)[1]
        )

        chosen = (MetricKey("joint_temperature_c", 1), MetricKey("motor_current_a", 2))
        cloud.publish_config(
            Config(robot, 7, time.time_ns() // 1000, sample_interval_ms=500, metrics=chosen)
        )
        assert cloud.wait_until(lambda c: bool(_reports(c, EventKind.CONFIG_APPLIED)))
        assert _reports(cloud, EventKind.CONFIG_APPLIED) == [("7", "applied")]
        assert agent.sampling.window_ms == 500
        assert agent.remote_config.applied.version == 7
        # Batches made after the change carry only the chosen metrics, every half second.
        start = agent.outbox.stats().next_seq
        assert cloud.wait_until(lambda c: len([s for s in c.messages if s > start + 2]) > 0)
        later = [d.message for s, d in cloud.messages.items() if s > start + 1]
        telemetry = [m for m in later if hasattr(m, "keys")]
        assert telemetry
        for batch in telemetry:
            assert set(batch.keys) == set(chosen)

        # Protocol 1.1: the raw read period and the collectors read, by name.
        cloud.publish_config(Config(robot, 8, time.time_ns() // 1000, collectors=("lidar",)))
        assert cloud.wait_until(lambda c: len(_reports(c, EventKind.CONFIG_REJECTED)) == 3)
        assert _reports(cloud, EventKind.CONFIG_REJECTED)[2] == ("8", "no collector named lidar")
        cloud.publish_config(Config(robot, 9, time.time_ns() // 1000, read_interval_ms=50,
                                    collectors=("simulator",)))  # fmt: skip
        assert cloud.wait_until(lambda c: len(_reports(c, EventKind.CONFIG_APPLIED)) == 2)
        assert (agent.sampling.read_interval_ms, agent.sampling.collectors) == (50, ("simulator",))
        assert agent.sampling.window_ms == 500  # what config 7 set is kept
    finally:
        running.finish()
        cloud.stop()
