"""What the database was doing while the soak ran, to explain the API's slowest seconds: once a
second, the client backends running a statement, by what they wait on (``CPU`` when on a core
or runnable, else PostgreSQL's wait event: ``Lock:relation``, ``IO:DataFileRead``, ...), and
how long the oldest of those statements has been running. The report names the seconds when a
statement ran longest and what the others waited on then.

And when the fleet is online: the soak's steady state begins once every robot's agent has
connected and the ingest has recorded its presence (``robots.online``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

BUSY = """
SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'),
       extract(epoch FROM now() - query_start)::float8, left(regexp_replace(query, '\\s+', ' ', 'g'), 100)
FROM pg_stat_activity
WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND datname = current_database()
"""


ONLINE = "SELECT count(*) FROM robots WHERE id = ANY(%(robots)s::uuid[]) AND online"


@dataclass(frozen=True)
class Arrival:
    """How a fleet came online: seconds from the watch's start until half of it and all of it
    were online (None: not within the watch's time)."""

    robots: int
    half_s: float | None = None
    all_s: float | None = None
    online: int = 0
    """Robots online when the watch ended."""


async def wait_online(
    url: str, robot_ids: list[str], timeout_s: float, interval_s: float = 1.0
) -> Arrival:
    """Poll until every robot of ``robot_ids`` is online or ``timeout_s`` has passed."""
    began, half_s, online = time.monotonic(), None, 0
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while True:
            row = await (await conn.execute(ONLINE, {"robots": robot_ids})).fetchone()
            online, at = (int(row[0]) if row else 0), time.monotonic() - began
            if half_s is None and 2 * online >= len(robot_ids):
                half_s = at
            if online >= len(robot_ids):
                return Arrival(len(robot_ids), half_s, at, online)
            if at >= timeout_s:
                return Arrival(len(robot_ids), half_s, None, online)
            await asyncio.sleep(interval_s)


@dataclass(frozen=True)
class Second:
    at: float
    """Wall-clock time (epoch seconds), to match the processes' logs."""
    waits: dict[str, int]
    longest_s: float
    statement: str = ""
    """The beginning of the statement running longest."""

    @property
    def active(self) -> int:
        return sum(self.waits.values())

    def describe(self) -> str:
        clock = datetime.fromtimestamp(self.at, UTC).strftime("%H:%M:%S")
        waits = ", ".join(
            f"{n} {what}" for what, n in sorted(self.waits.items(), key=lambda w: -w[1])
        )
        return (
            f"{clock}: a statement running {self.longest_s:.1f} s; {self.active} active ({waits});"
            f" the oldest: `{self.statement}`"
        )


@dataclass
class DatabaseTrace:
    seconds: list[Second] = field(default_factory=list)

    def slowest(self, count: int = 3) -> list[Second]:
        """The seconds whose oldest running statement was oldest, one per stall (seconds
        within 10 s of one already taken belong to it)."""
        taken: list[Second] = []
        for second in sorted(self.seconds, key=lambda s: -s.longest_s):
            if len(taken) == count:
                break
            if all(abs(second.at - t.at) > 10 for t in taken):
                taken.append(second)
        return taken

    @property
    def most_active(self) -> int:
        return max((s.active for s in self.seconds), default=0)


async def watch_database(url: str, interval_s: float, stop: asyncio.Event) -> DatabaseTrace:
    """Sample ``url``'s pg_stat_activity every ``interval_s`` until ``stop`` (a sample the
    database is slow to answer comes late: the stall shows in the statements' ages)."""
    trace = DatabaseTrace()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            at = time.time()
            rows = await (await conn.execute(BUSY)).fetchall()
            waits = Counter(what for what, _, _ in rows)
            oldest = max(rows, key=lambda row: row[1], default=("", 0.0, ""))
            trace.seconds.append(Second(at, dict(waits), oldest[1], oldest[2]))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
    return trace
