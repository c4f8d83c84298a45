"""Settings of `robocover-agent`, the deployable that runs on a robot controller."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AgentSettings(BaseSettings):
    """Read from ``ROBOCOVER_AGENT_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="ROBOCOVER_AGENT_", extra="ignore", frozen=True)

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
