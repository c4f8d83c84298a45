"""The broker is down for a while; the robot keeps measuring into its outbox; when the broker is
back, every message arrives, in seq order, with an intact chain, and the outbox empties."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol import TelemetryBatch
from tests.integration.agent.conftest import start_agent, stored_next_seq
from tests.support.broker import MosquittoBroker


def _outage(tmp_path: Path, broker: MosquittoBroker, downtime_s: float) -> None:
    running = start_agent(tmp_path, broker)
    agent, cloud = running.agent, running.cloud
    try:
        assert cloud.wait_until(lambda c: len(c.messages) >= 3), "nothing arrived before the outage"
        broker.stop()
        stored_at_outage = agent.outbox.stats().next_seq
        time.sleep(downtime_s)  # the outage itself, not a wait for a result
        stored_during = agent.outbox.stats().next_seq - stored_at_outage
        # One batch a second: the robot kept measuring while nobody listened.
        assert stored_during >= downtime_s * 0.5
        assert agent.outbox.stats().pending_messages >= stored_during
        broker.start()
        target = agent.outbox.stats().next_seq
        assert cloud.wait_until(lambda c: c.has_all(target), timeout=120), (
            f"missing {sorted(set(range(target)) - set(cloud.messages))[:10]}"
        )
    finally:
        running.finish()
        cloud.stop()
    final = stored_next_seq(agent.outbox.path)
    assert cloud.wait_until(lambda c: c.has_all(final), timeout=60)
    assert cloud.arrival_order == sorted(cloud.arrival_order), "not in seq order"
    assert cloud.chain_breaks() == []
    # The measurements taken during the outage are there: windows every second, no hole.
    batches = [d.message for d in cloud.messages.values() if isinstance(d.message, TelemetryBatch)]
    times = np.concatenate([b.timestamps_us for b in sorted(batches, key=lambda b: b.seq)])
    assert np.all(np.diff(times) == 1_000_000)
    assert times[-1] - times[0] >= downtime_s * 1e6


def test_agent_delivers_everything_in_order_after_a_broker_outage(
    tmp_path: Path, own_broker: MosquittoBroker
) -> None:
    _outage(tmp_path, own_broker, downtime_s=20)


@pytest.mark.soak
def test_agent_survives_a_two_minute_broker_outage(
    tmp_path: Path, own_broker: MosquittoBroker
) -> None:
    _outage(tmp_path, own_broker, downtime_s=120)
