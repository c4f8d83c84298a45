"""Imports every module that defines tables, so that the metadata Alembic compares is complete."""

import cloud_api.models  # noqa: F401
import ingest.models  # noqa: F401
import risk_engine.models  # noqa: F401
