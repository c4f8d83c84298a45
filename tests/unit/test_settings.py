from __future__ import annotations

import pytest
from pydantic import ValidationError

from database.settings import CloudSettings
from edge_agent.settings import SettingsError, load_settings
from ingest.settings import IngestSettings


def test_cloud_defaults_reach_the_local_services(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "MQTT_URL", "REDIS_URL"):
        monkeypatch.delenv(f"ROBOCOVER_{name}", raising=False)
    settings = CloudSettings()
    assert str(settings.database_url) == "postgresql://robocover@127.0.0.1:5432/robocover"
    assert settings.sqlalchemy_url == "postgresql+psycopg://robocover@127.0.0.1:5432/robocover"
    assert (settings.mqtt_url.host, settings.mqtt_url.port) == ("127.0.0.1", 1884)
    assert str(settings.redis_url) == "redis://127.0.0.1:6379/0"


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBOCOVER_DATABASE_URL", "postgresql://u:p@db.example:6543/rc")
    monkeypatch.setenv("ROBOCOVER_MQTT_URL", "mqtts://broker.example:8883")
    monkeypatch.setenv("ROBOCOVER_LOG_FORMAT", "json")
    settings = IngestSettings()
    assert settings.libpq_url == "postgresql://u:p@db.example:6543/rc"
    assert settings.mqtt_url.scheme == "mqtts"
    assert settings.log_format == "json"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ROBOCOVER_DATABASE_URL", "mysql://x@h/db"),
        ("ROBOCOVER_MQTT_URL", "http://broker:1883"),
        ("ROBOCOVER_LOG_FORMAT", "xml"),
        ("ROBOCOVER_MQTT_SHARE_GROUP", "has/slash"),
    ],
)
def test_invalid_settings_fail_fast(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        IngestSettings()


def test_agent_settings_have_their_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBOCOVER_MQTT_URL", "mqtt://cloud-only:1")
    monkeypatch.setenv("ROBOCOVER_AGENT_MQTT_URL", "mqtts://broker.example:8883")
    assert load_settings().mqtt_url == "mqtts://broker.example:8883"
    monkeypatch.setenv("ROBOCOVER_AGENT_MQTT_URL", "tcp://nope")
    with pytest.raises(SettingsError, match=r"at `\$.mqtt_url`"):
        load_settings()
