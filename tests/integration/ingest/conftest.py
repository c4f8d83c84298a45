"""What the ingest's database tests share: a fresh database's URL and a robot registered in it."""

from __future__ import annotations

import pytest

from database.settings import CloudSettings
from firmware_protocol import RobotSigner
from tests.support.fleet import SimRobot, register_robot


@pytest.fixture
def database(fresh_database: CloudSettings) -> str:
    return fresh_database.libpq_url


@pytest.fixture
def robot(database: str) -> SimRobot:
    signer = RobotSigner.generate()
    return SimRobot("acme", register_robot(database, signer), signer)
