"""The operations tests use the API's harness for the payments they fail."""

from tests.integration.api.conftest import api, api_settings  # noqa: F401 - fixtures
