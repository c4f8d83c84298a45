"""What every cloud deployable's settings share: the database, the broker, Redis, logging.

Each deployable (ingest, connector, risk worker, API) subclasses CloudSettings with its own
settings, builds them at its entry point and passes them down."""

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
