"""Settings from a TOML file under the environment; windows, thresholds and batches."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from edge_agent.cli import main
from edge_agent.settings import (
    AgentSettings,
    SamplingSettings,
    SettingsError,
    load_settings,
    replace_settings,
    validate_settings,
)
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
    with pytest.raises(SettingsError, match="window_ms must not exceed batch_interval_s"):
        validate_settings({"window_ms": 10_000, "batch_interval_s": 5}, SamplingSettings)
    with pytest.raises(ValueError, match="at least read_interval_ms"):
        SamplingSettings(read_interval_ms=500, window_ms=100)
    with pytest.raises(SettingsError, match=r">= 10 - at `\$.read_interval_ms`"):
        validate_settings({"read_interval_ms": 5}, SamplingSettings)


def test_settings_name_the_bad_key_and_refuse_unknown_ones(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text("[outbox]\nbudget_byte = 1\n")
    with pytest.raises(SettingsError, match="unknown field `budget_byte`"):
        load_settings(config, environ={})
    config.write_text("[outbox\n")
    with pytest.raises(SettingsError, match=r"agent\.toml: Expected '\]'"):
        load_settings(config, environ={})
    config.write_text('[outbox]\nbudget_bytes = "big"\n')  # text is not a number in TOML
    with pytest.raises(
        SettingsError, match=r"Expected `int`, got `str` - at `\$.outbox.budget_bytes`"
    ):
        load_settings(config, environ={})
    with pytest.raises(SettingsError, match="unknown field `samplng`"):
        load_settings(environ={"ROBOCOVER_AGENT_SAMPLNG__WINDOW_MS": "100"})
    with pytest.raises(SettingsError, match="tls_key_file needs tls_cert_file"):
        load_settings(environ={"ROBOCOVER_AGENT_PUBLISHER__TLS_KEY_FILE": "/etc/robot.key"})
    with pytest.raises(SettingsError, match=r"Expected `object`, got `str` .*collectors"):
        load_settings(environ={"ROBOCOVER_AGENT_COLLECTORS": "{nope"})
    # The file and the environment are checked together: each may need the other.
    config.write_text('[publisher]\ntls_key_file = "/etc/robot.key"\n')
    environ = {"ROBOCOVER_AGENT_PUBLISHER__TLS_CERT_FILE": "/etc/robot.pem"}
    with pytest.raises(SettingsError, match=r"needs tls_cert_file .*\(from .*agent\.toml\)"):
        load_settings(config, environ={})
    assert load_settings(config, environ=environ).publisher.tls_cert_file == Path("/etc/robot.pem")


def test_the_environment_reads_numbers_paths_and_json_tables() -> None:
    settings = load_settings(
        environ={
            "ROBOCOVER_AGENT_STATE_DIR": "/srv/agent",
            "ROBOCOVER_AGENT_SAMPLING__COMPRESS": "false",
            "ROBOCOVER_AGENT_PUBLISHER__ACK_TIMEOUT_S": "2.5",
            "ROBOCOVER_AGENT_COLLECTORS__SIMULATOR__KIND": "cobot",  # merges with the table
            "ROBOCOVER_AGENT_COLLECTORS": '{"simulator": {"metrics": 100}}',
            "ROBOCOVER_AGENT_VENDOR": "[lab] arms",  # text that merely starts with a bracket
            "ROBOCOVER_MQTT_URL": "mqtt://not-for-the-agent:1",
        }
    )
    assert settings.state_dir == Path("/srv/agent")
    assert settings.sampling.compress is False
    assert settings.publisher.ack_timeout_s == 2.5
    assert settings.collectors == {"simulator": {"metrics": 100, "kind": "cobot"}}
    assert settings.vendor == "[lab] arms"
    assert settings.mqtt_url == AgentSettings().mqtt_url
    moved = replace_settings(settings, state_dir=Path("/srv/robot-2"))
    assert (moved.state_dir, moved.collectors) == (Path("/srv/robot-2"), settings.collectors)
    assert settings.state_dir == Path("/srv/agent")


def _declarations() -> tuple[MetricDeclaration, ...]:
    return (
        MetricDeclaration(MetricKey("joint_temperature_c", 1), -2),
        MetricDeclaration(MetricKey("cycle_count"), 0),
    )


def test_windows_average_gauges_and_keep_the_last_counter_value() -> None:
    aggregator = WindowAggregator(_declarations(), 1_000_000, "mean")
    for i, (t, c) in enumerate([(10.0, 1.0), (20.0, 2.0), (math.nan, 3.0)]):
        assert aggregator.add(i * 300_000, [t, c]) is None
    closed = aggregator.add(1_000_000, [50.0, 4.0])
    assert closed is not None
    end, values = closed
    assert end == 1_000_000
    assert values == [15.0, 3.0]
    assert aggregator.add(1_500_000, [math.nan, math.nan]) is None
    assert aggregator.add(2_500_000, [math.nan, math.nan]) == (2_000_000, [50.0, 4.0])
    closed = aggregator.add(3_000_000, [1.0, 1.0])
    assert closed is not None
    assert closed[0] == 3_000_000
    assert math.isnan(closed[1][0])  # no reading in the window: no value, not a stale one
    assert math.isnan(closed[1][1])


def test_windows_report_the_peak_when_asked() -> None:
    aggregator = WindowAggregator(_declarations(), 1_000_000, "max")
    for i, t in enumerate([-5.0, -2.0, -9.0]):
        aggregator.add(i * 300_000, [t, float(i)])
    closed = aggregator.add(1_000_000, [0.0, 0.0])
    assert closed == (1_000_000, [-2.0, 2.0])


def test_threshold_crossings_raise_and_clear_events_with_hysteresis() -> None:
    keys = tuple(d.key for d in _declarations())
    detector = ThresholdDetector(keys, (ThresholdRule("joint_temperature_c.*", 80.0, 2.0),))
    series = [70.0, 81.0, 85.0, math.nan, 79.0, 77.0, 82.0]
    kinds = [[e.kind for e in detector.check(i, [v, 0.0])] for i, v in enumerate(series)]
    assert kinds == [[], [EventKind.OVER_TEMPERATURE], [], [], [], [EventKind.FAULT_CLEARED],
                     [EventKind.OVER_TEMPERATURE]]  # fmt: skip


def test_batches_carry_missing_values_forward_and_leave_out_metrics_never_seen() -> None:
    keys = tuple(d.key for d in _declarations())
    builder = BatchBuilder(keys, {k: 0 for k in keys})
    builder.add(1, [math.nan, 5.0])
    builder.add(2, [math.nan, 6.0])
    times, series = builder.take(None)
    assert times == [1, 2]
    assert list(series) == [MetricKey("cycle_count")]
    builder.add(3, [30.0, math.nan])
    builder.add(4, [math.nan, 7.0])
    _, series = builder.take(None)
    assert series[MetricKey("joint_temperature_c", 1)] == [30.0, 30.0]
    assert series[MetricKey("cycle_count")] == [6.0, 7.0]
