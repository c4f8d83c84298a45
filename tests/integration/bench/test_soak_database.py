"""The soak's database watch sees a statement stuck behind a lock, and for how long."""

from __future__ import annotations

import asyncio
import threading
import uuid

import psycopg
from psycopg import sql

from bench.soak_database import watch_database
from database.settings import CloudSettings


def test_a_statement_waiting_on_a_lock_is_seen_with_its_age(fresh_database: CloudSettings) -> None:
    url = fresh_database.libpq_url
    table = sql.Identifier(f"soak_watch_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute(sql.SQL("CREATE TABLE {} (id int)").format(table))

    def blocked() -> None:  # waits on the holder's lock until it commits
        with psycopg.connect(url) as waiter:
            waiter.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()

    async def run() -> list[str]:
        stop = asyncio.Event()
        with psycopg.connect(url) as holder:
            holder.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
            waiter = threading.Thread(target=blocked)
            waiter.start()
            watch = asyncio.create_task(watch_database(url, 0.2, stop))
            await asyncio.sleep(2.0)
            holder.commit()
            waiter.join(10)
        stop.set()
        trace = await watch
        slowest = trace.slowest(1)
        assert slowest[0].longest_s >= 1.0
        assert trace.most_active >= 1
        return [slowest[0].describe(), *slowest[0].waits]

    described, *waits = asyncio.run(run())
    assert "Lock:relation" in waits
    assert "Lock:relation" in described
    assert 'SELECT count(*) FROM "soak_watch_' in described
