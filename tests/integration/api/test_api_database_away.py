"""The database away: every route that needs it answers 503 problem details with Retry-After,
never a 500, and says why in the log without PostgreSQL's words in the answer."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from loguru import logger
from sqlalchemy.engine import make_url

from cloud_api.app import create_app
from cloud_api.settings import ApiSettings
from database.logs import configure_logging
from tests.integration.api_conventions.conventions_app import LogCapture
from tests.support.api_process import free_port


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    capture = LogCapture()
    configure_logging("INFO", "json", capture.stream)
    yield capture
    logger.remove()
    logger.add(sys.stderr)


def test_a_database_that_refuses_connections_answers_503(
    api_settings: ApiSettings, logs: LogCapture
) -> None:
    away = make_url(api_settings.sqlalchemy_url).set(port=free_port())
    settings = api_settings.model_copy(
        update={"database_url": away.render_as_string(hide_password=False)}
    )
    with TestClient(create_app(settings)) as client:
        signing_in = client.post(
            "/v1/auth/token", data={"username": "ada@insurer.example", "password": "x" * 16}
        )
    assert signing_in.status_code == 503, signing_in.text
    assert signing_in.headers["content-type"] == "application/problem+json"
    assert signing_in.headers["retry-after"] == "1"
    assert signing_in.json()["detail"] == "the database is unavailable; retry shortly"
    assert "connection" not in signing_in.text.lower()
    assert "database unavailable" in logs.text
