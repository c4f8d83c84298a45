"""Settings of `robocover-agent`, the deployable that runs on a robot controller.

Sources, strongest first: arguments, ``ROBOCOVER_AGENT_*`` environment variables (nested with
``__``, e.g. ``ROBOCOVER_AGENT_OUTBOX__BUDGET_BYTES``), the TOML file given with ``--config``
(see edge_agent/packaging/agent.example.toml), then the defaults. The cloud may change the
`sampling` part at run time (remote config); the rest is local to the robot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

MIB = 1 << 20


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SamplingSettings(_Section):
    """What the cloud may change through the config topic."""

    read_interval_ms: int = Field(default=100, ge=10, le=60_000, description="Raw read period.")
    window_ms: int = Field(
        default=1000, ge=10, le=3_600_000, description="Aggregation window = reported period."
    )
    batch_interval_s: int = Field(default=5, ge=1, le=3600, description="Telemetry batch period.")
    compress: bool = True
    gauge_statistic: Literal["mean", "max", "last"] = "mean"
    metrics: tuple[str, ...] | None = Field(
        default=None, description="Metric keys to report (globs allowed); None = all."
    )

    @model_validator(mode="after")
    def _consistent(self) -> SamplingSettings:
        if self.window_ms < self.read_interval_ms:
            raise ValueError("window_ms must be at least read_interval_ms")
        if self.window_ms > self.batch_interval_s * 1000:
            raise ValueError("window_ms must not exceed batch_interval_s")
        if self.batch_interval_s * 1000 // self.window_ms > 4096:
            raise ValueError("a batch would hold more than 4096 windows")
        return self


class OutboxSettings(_Section):
    budget_bytes: int = Field(default=64 * MIB, ge=64 * 1024)
    headroom_bytes: int = Field(
        default=256 * MIB, ge=0, description="Free space left to the robot."
    )
    low_water: float = Field(default=0.9, gt=0, le=1)


class PublisherSettings(_Section):
    inflight_window: int = Field(default=32, ge=1, le=1000)
    ack_timeout_s: float = Field(default=60.0, gt=0)
    backoff_min_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=60.0, gt=0)
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None


class ThresholdSettings(_Section):
    metric: str
    above: float
    hysteresis: float = 1.0


def _default_collectors() -> dict[str, dict[str, Any]]:
    return {"system": {}}


class AgentSettings(BaseSettings):
    """Read from ``ROBOCOVER_AGENT_*`` environment variables and the ``--config`` TOML file."""

    model_config = SettingsConfigDict(
        env_prefix="ROBOCOVER_AGENT_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    mqtt_url: str = Field(
        default="mqtt://127.0.0.1:1884",
        pattern=r"^mqtts?://[^/\s]+$",
        description="The broker, mqtt:// or mqtts:// (TLS).",
    )
    state_dir: Path = Field(
        default=Path("/var/lib/robocover-agent"),
        description="Where the outbox, the signing key and the applied config live.",
    )
    log_level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    firmware_version: str = Field(default="unknown", max_length=64)
    vendor: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=64)
    collectors: dict[str, dict[str, Any]] = Field(
        default_factory=_default_collectors,
        description="Collector name -> its options (entry point group robocover.collectors).",
    )
    sampling: SamplingSettings = SamplingSettings()
    outbox: OutboxSettings = OutboxSettings()
    publisher: PublisherSettings = PublisherSettings()
    thresholds: tuple[ThresholdSettings, ...] = ()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
        if settings_cls.model_config.get("toml_file"):
            sources += (TomlConfigSettingsSource(settings_cls),)
        return sources

    @property
    def mqtt_host_port(self) -> tuple[str, int, bool]:
        scheme, _, rest = self.mqtt_url.partition("://")
        host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
        tls = scheme == "mqtts"
        return host, int(port) if port else (8883 if tls else 1883), tls


def load_settings(config_file: Path | None = None, **overrides: Any) -> AgentSettings:
    """The agent's settings, with `config_file` (TOML) under the environment."""
    if config_file is None:
        return AgentSettings(**overrides)
    if not config_file.is_file():
        raise FileNotFoundError(f"agent config file {config_file} does not exist")

    class FromFile(AgentSettings):
        model_config = SettingsConfigDict(
            **{**AgentSettings.model_config, "toml_file": config_file}
        )

    return FromFile(**overrides)
