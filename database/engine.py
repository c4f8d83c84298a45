"""Engines are built from settings by the process that owns them, never at import time."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from database.settings import CloudSettings

UTC_SESSION = {"options": "-c TimeZone=UTC"}
"""Every session reads timestamps in UTC, whatever the server's TimeZone: a policy's days start
at 00:00 UTC, and psycopg returns timestamptz in the session's zone."""


def make_engine(settings: CloudSettings, *, pool_size: int = 5) -> Engine:
    """A synchronous engine (psycopg 3) for the CLI, migrations and workers."""
    return create_engine(
        settings.sqlalchemy_url,
        pool_size=pool_size,
        pool_pre_ping=True,
        connect_args=UTC_SESSION,
    )


def make_async_engine(settings: CloudSettings, *, pool_size: int = 10) -> AsyncEngine:
    """An asyncio engine (psycopg 3) for the API."""
    return create_async_engine(
        settings.sqlalchemy_url, pool_size=pool_size, pool_pre_ping=True, connect_args=UTC_SESSION
    )
