"""Alembic environment: robocover's one metadata, on the connection or URL the runner hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

import database.models  # noqa: F401  (registers every table on the metadata)
from database.base import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass a connection or set sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError(
        "offline (SQL script) migrations are not supported: hypertables need a database"
    )
run_migrations_online()
