"""Fixtures of the conventions' tests: fresh principals, and the process's JSON logs captured."""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Callable, Iterator

import pytest
from loguru import logger

from database.logs import configure_logging
from tests.integration.api_conventions.conventions_app import LogCapture


@pytest.fixture
def principal() -> Callable[[], str]:
    """A fresh principal id per call: counters of other tests and runs never interfere."""
    return lambda: f"p-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """The process's JSON logging (database/logs.py) into a buffer."""
    capture = LogCapture()
    configure_logging("INFO", "json", capture.stream)
    # The test client's own requests (httpx logs their URLs) are not the server's logs.
    client_logger = logging.getLogger("httpx")
    level = client_logger.level
    client_logger.setLevel(logging.WARNING)
    yield capture
    client_logger.setLevel(level)
    logger.remove()
    logger.add(sys.stderr)
