"""The agent's sampling step, without a broker (the publisher is never started): readings become
windows, windows become signed batches in the outbox; a collector that returns the wrong number
of values is left out, said once, and does not take the others down."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from edge_agent.collectors import Collector, Reading
from edge_agent.identity import Identity, load_identity, load_or_create_signer, save_identity
from edge_agent.settings import load_settings, replace_settings
from firmware_protocol import (
    Config,
    MetricDeclaration,
    MetricKey,
    RobotState,
    TelemetryBatch,
    decode,
    encode,
)


class Fixed(Collector):
    """Declares `declared` vendor metrics and returns `returned` values of `value`."""

    def __init__(self, name: str, declared: int, returned: int, value: float) -> None:
        self._declarations = tuple(
            MetricDeclaration(MetricKey(f"x_acme_{name}", c), 0, "1", "a test metric")
            for c in range(1, declared + 1)
        )
        self._values = [value] * returned

    @property
    def declarations(self) -> tuple[MetricDeclaration, ...]:
        return self._declarations

    def read(self, mono_us: int) -> Reading:
        return Reading(self._values)


def _agent(tmp_path: Path, collectors: dict[str, Collector]) -> Agent:
    state = tmp_path / "agent"
    save_identity(state, Identity(uuid.uuid4(), "acme", "robot", "secret"))
    settings = load_settings(
        environ={},
        state_dir=state,
        sampling={"read_interval_ms": 100, "window_ms": 1000, "batch_interval_s": 1},
        outbox={"headroom_bytes": 0},
    )
    return Agent(settings, load_identity(state), load_or_create_signer(state), collectors)


def test_a_misreporting_collector_is_left_out_and_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = Fixed("good", declared=2, returned=2, value=7.0)
    bad = Fixed("bad", declared=3, returned=2, value=1.0)
    agent = _agent(tmp_path, {"good": good, "bad": bad})
    with caplog.at_level(logging.ERROR, logger="edge_agent.agent"):
        for step in range(25):  # 2.5 s of reads: two windows closed, two batches
            agent.step(step * 100_000)
    batches = [decode(m.payload).message for m in agent.outbox.pending(-1, 10)]
    telemetry = [b for b in batches if isinstance(b, TelemetryBatch)]
    assert len(telemetry) == 2
    for batch in telemetry:
        assert [str(k) for k in batch.keys] == ["x_acme_good.1", "x_acme_good.2"]
        assert batch.series("x_acme_good.1").tolist() == [7.0]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        "collector Fixed returned 2 values for its 3 declared metrics: its values are ignored"
    ]
    agent.outbox.close()


def test_collectors_are_chosen_by_name_and_the_birth_names_the_applied_config(
    tmp_path: Path,
) -> None:
    good = Fixed("good", declared=1, returned=1, value=1.0)
    other = Fixed("other", declared=1, returned=1, value=2.0)
    agent = _agent(tmp_path, {"good": good, "other": other})
    assert agent._status(RobotState.ONLINE).config_version is None
    sampling = replace_settings(agent.sampling, collectors=("other",))
    agent.apply_sampling(sampling, None)
    for step in range(15):
        agent.step(step * 100_000)
    [batch] = [decode(m.payload).message for m in agent.outbox.pending(-1, 10)]
    assert isinstance(batch, TelemetryBatch)
    assert [str(k) for k in batch.keys] == ["x_acme_other.1"]
    with pytest.raises(ValueError, match="no configured collector: \\['lidar'\\]"):
        agent.apply_sampling(replace_settings(agent.sampling, collectors=("lidar",)), None)
    config = Config(agent.identity.robot_id, 4, 1, compress=False)
    assert agent.remote_config.handle(encode(config)) is not None
    assert agent._status(RobotState.ONLINE).config_version == 4
    assert agent._status(RobotState.OFFLINE).config_version is None
    agent.outbox.close()
