"""Settings of the cloud deployables: each builds its own at its entry point and passes it down."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, PostgresDsn, RedisDsn, SecretStr, UrlConstraints
from pydantic.fields import FieldInfo
from pydantic_core import Url
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

MqttUrl = Annotated[Url, UrlConstraints(allowed_schemes=["mqtt", "mqtts"], default_port=1883)]
LogFormat = Literal["auto", "json", "console"]
# Written once by scripts/services-up.sh (0600): the broker's cloud accounts.
SECRETS_DIR = Path("/var/lib/robocover/secrets")
CLOUD_SECRET_FILES = {
    "mqtt_username": "mqtt_cloud_username",
    "mqtt_password": "mqtt_cloud_password",
}
INGEST_SECRET_FILES = {
    "mqtt_username": "mqtt_ingest_username",
    "mqtt_password": "mqtt_ingest_password",
}


class _SecretFilesSource(PydanticBaseSettingsSource):
    """The broker account from SECRETS_DIR when the environment does not name one, so that
    `robocover` works on a machine set up by scripts/services-up.sh without exporting secrets.
    Each deployable reads its own account's files (`secret_files` of its settings class)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # pragma: no cover - __call__ does the work

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        files: dict[str, str] = getattr(self.settings_cls, "secret_files", {})
        for field_name, file_name in files.items():
            path = SECRETS_DIR / file_name
            try:
                values[field_name] = path.read_text().strip()
            except OSError:
                continue
        return values


class CloudSettings(BaseSettings):
    """What every cloud-side process shares: where the services are and how to log.

    Read from ``ROBOCOVER_*`` environment variables; the defaults reach the local services that
    ``scripts/services-up.sh`` sets up.
    """

    model_config = SettingsConfigDict(env_prefix="ROBOCOVER_", extra="ignore", frozen=True)
    secret_files: ClassVar[dict[str, str]] = CLOUD_SECRET_FILES

    database_url: PostgresDsn = Field(
        default=PostgresDsn("postgresql://robocover@127.0.0.1:5432/robocover"),
        description="PostgreSQL with TimescaleDB, as a libpq URL.",
    )
    mqtt_url: MqttUrl = Field(
        default=Url("mqtt://127.0.0.1:1884"),
        description="The MQTT 5 broker (mqtt:// or mqtts://).",
    )
    mqtt_username: str | None = Field(default=None, description="The broker account, if any.")
    mqtt_password: SecretStr | None = Field(default=None, description="Never logged.")
    mqtt_client_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="The client id the broker binds the account to; default: the user name.",
    )
    redis_url: RedisDsn = Field(
        default=RedisDsn("redis://127.0.0.1:6379/0"),
        description="Redis, for Celery and caches.",
    )
    log_level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: LogFormat = Field(
        default="auto",
        description="json: a JSON object per line; console: readable; auto: console on a tty.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then ROBOCOVER_* variables, then the secret files of SECRETS_DIR."""
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            file_secret_settings,
            _SecretFilesSource(settings_cls),
        )

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with SQLAlchemy's psycopg 3 driver name."""
        return str(self.database_url).replace("postgresql://", "postgresql+psycopg://", 1)

    @property
    def client_id(self) -> str:
        """What this process connects to the broker as: every account is bound to one client
        id (its user name, unless told otherwise), so no account can take over another's
        session."""
        return self.mqtt_client_id or self.mqtt_username or "robocover-anonymous"

    @property
    def libpq_url(self) -> str:
        """The database URL as libpq and psycopg take it."""
        return str(self.database_url).replace("postgresql+psycopg://", "postgresql://", 1)


class IngestSettings(CloudSettings):
    """`robocover ingest`: the MQTT to TimescaleDB bridge. Each ingest process has a broker
    account of its own, bound to its client id (stable per process: the broker keeps its
    session's queue across restarts)."""

    secret_files: ClassVar[dict[str, str]] = INGEST_SECRET_FILES
    mqtt_share_group: str = Field(default="ingest", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    mqtt_session_expiry_s: int = Field(default=7 * 86_400, ge=60)
    receive_maximum: int = Field(
        default=1000,
        ge=1,
        le=65_535,
        description="Unacknowledged messages the broker may send us: bounds memory and is the "
        "backpressure while the database is away.",
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


class ConnectorSettings(CloudSettings):
    """`robocover connector`: relays vendor robots' diagnostics APIs into the same path."""

    connector_config: Path = Field(
        default=Path("/etc/robocover/connector.toml"), description="vendor URL and robots"
    )
    poll_interval_s: float = Field(default=30.0, gt=0)
    vendor_timeout_s: float = Field(default=10.0, gt=0)
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = Field(default=60.0, gt=0)
