"""Settings of the ingest's deployables: `robocover ingest` and `robocover connector`."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from database.settings import CloudSettings

INGEST_SECRET_FILES = {
    "mqtt_username": "mqtt_ingest_username",
    "mqtt_password": "mqtt_ingest_password",
}


class IngestSettings(CloudSettings):
    """`robocover ingest`: the MQTT to TimescaleDB bridge. Each ingest process has a broker
    account of its own, bound to its client id (stable per process: the broker keeps its
    session's queue across restarts)."""

    secret_files: ClassVar[dict[str, str]] = INGEST_SECRET_FILES
    mqtt_share_group: str = Field(default="ingest", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    mqtt_session_expiry_s: int = Field(default=7 * 86_400, ge=60)
    receive_maximum: int | None = Field(
        default=None,
        ge=1,
        le=65_535,
        description="Unacknowledged messages the broker may send us: bounds memory (times the "
        "broker's largest message) and is the backpressure while the database is away. Unset: "
        "three flushes' worth (announced_receive_maximum); set, announced as set.",
    )
    flush_max_messages: int = Field(default=500, ge=1, le=65_535)
    flush_max_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1024,
        description="Payload bytes per flush (about 1.3 M typical samples): bounds its memory.",
    )
    flush_interval_s: float = Field(default=0.1, gt=0, le=10)
    clock_skew_threshold_s: float = Field(
        default=2.0, gt=0, description="Device clocks further off than this are corrected."
    )
    max_future_s: float = Field(
        default=300.0, gt=0, description="Samples later than receipt by more go to dead letters."
    )
    accept_json: bool = Field(
        default=False, description="Accept the unsigned JSON debug form (development only)."
    )
    dead_letter_robot_messages_per_hour: int = Field(
        default=600, ge=1, description="Refused messages of one robot stored per hour."
    )
    dead_letter_robot_bytes_per_hour: int = Field(default=16 * 1024 * 1024, ge=1024)
    dead_letter_tenant_bytes_per_hour: int = Field(default=256 * 1024 * 1024, ge=1024)
    dead_letter_unattributed_bytes_per_hour: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Refused messages whose topic names no robot, stored per hour.",
    )
    metric_catalogue_limit: int = Field(
        default=4096, ge=1, description="Metric keys one tenant's robots may register."
    )
    telemetry_retention_days: int = Field(default=90, ge=1)
    retention_interval_s: float = Field(default=3600.0, gt=0)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=9464, ge=0, le=65_535, description="/health and /metrics")
    database_retry_max_s: float = Field(default=10.0, gt=0)

    @property
    def announced_receive_maximum(self) -> int:
        """The Receive Maximum sent to the broker: `receive_maximum` when the operator set it
        (their memory bound holds, even below three flushes: flushes are then smaller), else
        three full flushes (one being written, one decoded and waiting, one being collected),
        so that the broker keeps the next flushes coming while one is written; MQTT caps it at
        65,535."""
        if self.receive_maximum is not None:
            return self.receive_maximum
        return min(65_535, 3 * self.flush_max_messages)


class ConnectorSettings(CloudSettings):
    """`robocover connector`: relays vendor robots' diagnostics APIs into the same path."""

    connector_config: Path = Field(
        default=Path("/etc/robocover/connector.toml"), description="vendor URL and robots"
    )
    poll_interval_s: float = Field(default=30.0, gt=0)
    vendor_timeout_s: float = Field(default=10.0, gt=0)
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = Field(default=60.0, gt=0)
