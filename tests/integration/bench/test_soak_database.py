"""The soak's database watch sees a statement stuck behind a lock, and for how long; its wait
for the fleet sees when half of it and all of it are online."""

from __future__ import annotations

import asyncio
import threading
import uuid

import psycopg
from psycopg import sql

from bench.soak_database import wait_online, watch_database
from database.settings import CloudSettings
from firmware_protocol import RobotSigner
from tests.support.fleet import register_robot


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


def test_the_fleet_is_online_when_the_ingest_has_seen_every_robot(
    fresh_database: CloudSettings,
) -> None:
    url = fresh_database.libpq_url
    robots = [str(register_robot(url, RobotSigner.generate())) for _ in range(4)]

    def connects(robot_ids: list[str]) -> None:
        with psycopg.connect(url) as conn:
            conn.execute("UPDATE robots SET online = true WHERE id = ANY(%s::uuid[])", (robot_ids,))

    connects(robots[:2])  # half at once; the rest a moment later
    later = threading.Timer(1.5, connects, (robots[2:],))
    later.start()
    arrival = asyncio.run(wait_online(url, robots, timeout_s=30, interval_s=0.1))
    later.join()
    assert arrival.online == arrival.robots == 4
    assert arrival.half_s is not None
    assert arrival.all_s is not None
    assert arrival.half_s < 1.0 < arrival.all_s < 30


def test_a_fleet_not_all_online_is_told_after_the_wait(fresh_database: CloudSettings) -> None:
    url = fresh_database.libpq_url
    robots = [str(register_robot(url, RobotSigner.generate())) for _ in range(3)]
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE robots SET online = true WHERE id = %s", (robots[0],))
    arrival = asyncio.run(wait_online(url, robots, timeout_s=0.5, interval_s=0.1))
    assert (arrival.online, arrival.robots, arrival.half_s, arrival.all_s) == (1, 3, None, None)
