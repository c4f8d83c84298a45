"""Fixtures of the API's tests: the application inside the test's rolled-back transaction."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from cloud_api.app import create_app
from cloud_api.identity.tokens import generate_signing_key
from cloud_api.settings import ApiSettings
from database.settings import CloudSettings
from tests.support.api import ApiHarness

TEST_SIGNING_KEY = generate_signing_key()  # made in-process: no test reads the machine's key
WEBHOOK_SECRET = "whsec_test_" + "w" * 32
ATTACHMENTS_DIR = Path(tempfile.mkdtemp(prefix="robocover-attachments-"))  # the run's own


def settings_for_tests(base_settings: CloudSettings) -> ApiSettings:
    """The API's settings for tests: generous rate limits (the limiter has tests of its own),
    Redis database 15 (the tests'), a cursor key and a token signing key of the test run's own."""
    return ApiSettings(
        database_url=base_settings.database_url,
        redis_url=f"{str(base_settings.redis_url).rstrip('/0123456789')}/15",
        cursor_secret="test-cursor-secret-" + "x" * 32,
        rate_limit_read="100000/minute",
        rate_limit_write="100000/minute",
        rate_limit_auth="100000/minute",
        jwt_signing_key=TEST_SIGNING_KEY.private_pem,
        jwt_key_id=TEST_SIGNING_KEY.kid,
        processor_webhook_secret=WEBHOOK_SECRET,
        attachments_dir=ATTACHMENTS_DIR,
    )


@pytest.fixture(scope="session")
def api_settings(base_settings: CloudSettings) -> ApiSettings:
    return settings_for_tests(base_settings)


@pytest.fixture
def api(api_settings: ApiSettings, db_session: Session) -> Iterator[ApiHarness]:
    harness = ApiHarness(create_app(api_settings), db_session)
    harness.install_session()
    yield harness
    harness.close()
