"""Settings from a TOML file under the environment; windows, thresholds and batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from edge_agent.cli import main
from edge_agent.settings import SamplingSettings, load_settings
from edge_agent.windows import BatchBuilder, ThresholdDetector, ThresholdRule, WindowAggregator
from firmware_protocol import EventKind, MetricDeclaration, MetricKey

PROJECT = Path(__file__).resolve().parents[3]


def test_the_example_config_is_valid_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = PROJECT / "edge_agent" / "packaging" / "agent.example.toml"
    settings = load_settings(example)
    assert settings.sampling.window_ms == 1000
    assert "system" in settings.collectors
    monkeypatch.setenv("ROBOCOVER_AGENT_OUTBOX__BUDGET_BYTES", str(2 << 20))
    assert load_settings(example).outbox.budget_bytes == 2 << 20
    main(["--config", str(example), "settings"])
    assert '"budget_bytes": 2097152' in capsys.readouterr().out
    with pytest.raises(FileNotFoundError):
        load_settings(PROJECT / "missing.toml")


def test_inconsistent_sampling_is_refused() -> None:
    with pytest.raises(ValidationError, match="window_ms must not exceed"):
        SamplingSettings(window_ms=10_000, batch_interval_s=5)
    with pytest.raises(ValidationError, match="at least read_interval_ms"):
        SamplingSettings(read_interval_ms=500, window_ms=100)


def _declarations() -> tuple[MetricDeclaration, ...]:
    return (
        MetricDeclaration(MetricKey("joint_temperature_c", 1), -2),
        MetricDeclaration(MetricKey("cycle_count"), 0),
    )


def test_windows_average_gauges_and_keep_the_last_counter_value() -> None:
    aggregator = WindowAggregator(_declarations(), 1_000_000, "mean")
    for i, (t, c) in enumerate([(10.0, 1), (20.0, 2), (np.nan, 3)]):
        assert aggregator.add(i * 300_000, np.array([t, c], dtype=float)) is None
    closed = aggregator.add(1_000_000, np.array([50.0, 4.0]))
    assert closed is not None
    end, values = closed
    assert end == 1_000_000
    assert values.tolist() == [15.0, 3.0]


def test_threshold_crossings_raise_and_clear_events_with_hysteresis() -> None:
    keys = tuple(d.key for d in _declarations())
    detector = ThresholdDetector(keys, (ThresholdRule("joint_temperature_c.*", 80.0, 2.0),))
    series = [70.0, 81.0, 85.0, 79.0, 77.0, 82.0]
    kinds = [[e.kind for e in detector.check(i, np.array([v, 0.0]))] for i, v in enumerate(series)]
    assert kinds == [[], [EventKind.OVER_TEMPERATURE], [], [], [EventKind.FAULT_CLEARED],
                     [EventKind.OVER_TEMPERATURE]]  # fmt: skip


def test_batches_carry_missing_values_forward_and_leave_out_metrics_never_seen() -> None:
    keys = tuple(d.key for d in _declarations())
    builder = BatchBuilder(keys, {k: 0 for k in keys})
    builder.add(1, np.array([np.nan, 5.0]))
    builder.add(2, np.array([np.nan, 6.0]))
    times, series = builder.take(None)
    assert times == [1, 2]
    assert list(series) == [MetricKey("cycle_count")]
    builder.add(3, np.array([30.0, np.nan]))
    builder.add(4, np.array([np.nan, 7.0]))
    _, series = builder.take(None)
    assert series[MetricKey("joint_temperature_c", 1)].tolist() == [30.0, 30.0]
    assert series[MetricKey("cycle_count")].tolist() == [6.0, 7.0]
