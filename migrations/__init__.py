"""Alembic migrations for robocover's database, run by `robocover migrate`."""
