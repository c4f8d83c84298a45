"""Retention of raw telemetry: whole chunks older than the retention period are dropped.

TimescaleDB's Apache edition has no background retention policy, so the ingest runs this on a
schedule (and `robocover retention` runs it once). Hourly rollups, events, receipts and gaps are
kept: the risk engine and claims rest on them, not on raw samples.
"""

from __future__ import annotations

import asyncio
import contextlib

import psycopg
from loguru import logger

RETAINED_HYPERTABLES = ("telemetry", "dead_letters")


async def drop_expired_chunks(conn: psycopg.AsyncConnection[tuple[str]], days: int) -> list[str]:
    """Drop chunks of raw telemetry and dead letters entirely older than `days`; their names."""
    dropped: list[str] = []
    for table in RETAINED_HYPERTABLES:
        cursor = await conn.execute(
            "SELECT drop_chunks(%s::regclass, older_than => now() - make_interval(days => %s))",
            (table, days),
        )
        dropped.extend(row[0] for row in await cursor.fetchall())
    return dropped


async def enforce_retention(database_url: str, days: int) -> list[str]:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        dropped = await drop_expired_chunks(conn, days)
    if dropped:
        logger.bind(chunks=len(dropped)).info("retention dropped {} chunks", len(dropped))
    return dropped


async def retention_loop(
    database_url: str, days: int, interval_s: float, stop: asyncio.Event
) -> None:
    """Enforce retention every `interval_s` until `stop`; a failure waits for the next round."""
    while not stop.is_set():
        try:
            await enforce_retention(database_url, days)
        except psycopg.Error as exc:
            logger.warning("retention skipped this round: {}", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
