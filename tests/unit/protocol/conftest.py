"""Fixtures for the protocol tests: the golden-vector generator's fixed content and test key."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from firmware_protocol import RobotSigner, TelemetryBatch

VECTORS_DIR = Path(__file__).resolve().parents[2] / "vectors" / "protocol"


def load_generator() -> ModuleType:
    """The vector generator is a script, not a package module: load it by path, once."""
    name = "robocover_protocol_vector_generator"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, VECTORS_DIR / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def generator() -> ModuleType:
    return load_generator()


@pytest.fixture(scope="session")
def signer(generator: ModuleType) -> RobotSigner:
    result: RobotSigner = generator.SIGNER
    return result


@pytest.fixture(scope="session")
def typical_batch(generator: ModuleType) -> TelemetryBatch:
    batch: TelemetryBatch = generator.typical_batch()
    return batch
