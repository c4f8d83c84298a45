"""The soak's API load and its process watch, apart from the stack they run against.

The load is open-loop: requests are due on a fixed schedule (``rate`` per second), whatever the
answers take, and each latency is counted from when its request was due, so a slow server shows
as latency rather than as fewer requests (no coordinated omission). The client holds at most
``max_inflight`` requests open (its connection pool is that size): a request due while that many
are still open is not sent and counts as an error (status -1, "not sent"), so a server that
cannot keep up shows as errors, and the client never measures its own queue. Each answer's
latency and status land in the window (``window_s``) it was due in; the soak compares the
windows' p99 over the run.

The watch samples every process's resident memory (RSS, with its children) on an interval; a
process whose memory keeps growing shows as a slope over the run's second half.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
import psutil

NOT_SENT = -1  # the status of a request the client could not send on time (see open_loop)


@dataclass
class Window:
    started: float
    latencies_s: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def p(self, q: int) -> float:
        if len(self.latencies_s) < 2:
            return self.latencies_s[0] if self.latencies_s else 0.0
        return statistics.quantiles(self.latencies_s, n=100, method="inclusive")[q - 1]

    @property
    def errors(self) -> int:
        """Answers that are not 2xx, no answer (status 0) or not sent (status -1)."""
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)


@dataclass
class LoadReport:
    windows: list[Window]

    @property
    def requests(self) -> int:
        return sum(len(w.latencies_s) for w in self.windows)

    @property
    def errors(self) -> int:
        return sum(w.errors for w in self.windows)

    @property
    def not_sent(self) -> int:
        return sum(w.statuses.get(NOT_SENT, 0) for w in self.windows)

    def overall(self) -> Window:
        """Every window's answers as one."""
        merged = Window(self.windows[0].started if self.windows else 0.0)
        for window in self.windows:
            merged.latencies_s.extend(window.latencies_s)
            for status, count in window.statuses.items():
                merged.statuses[status] += count
        return merged


async def open_loop(
    client: httpx.AsyncClient,
    paths: Sequence[str],
    *,
    rate: float,
    duration_s: float,
    window_s: float,
    stop: asyncio.Event,
    max_inflight: int,
    headers: Callable[[], dict[str, str]] = dict,
) -> LoadReport:
    """GET ``paths`` in turn, ``rate`` per second for ``duration_s`` (or until ``stop``), each
    with ``headers()`` (a bearer that is refreshed meanwhile), at most ``max_inflight`` open at
    once (``client``'s pool should hold as many connections)."""
    began = time.monotonic()
    windows: list[Window] = []
    pending: set[asyncio.Task[None]] = set()

    async def one(path: str, window: Window, due: float) -> None:
        try:
            response = await client.get(path, headers=headers())
            status = response.status_code
        except httpx.HTTPError:
            status = 0
        window.latencies_s.append(time.monotonic() - due)
        window.statuses[status] += 1

    index = 0
    while not stop.is_set():
        due = began + index / rate
        now = time.monotonic()
        if due - began >= duration_s:
            break
        if due > now:
            await asyncio.sleep(due - now)
        slot = int((due - began) // window_s)
        while len(windows) <= slot:
            windows.append(Window(began + len(windows) * window_s))
        index += 1
        if len(pending) >= max_inflight:
            windows[slot].statuses[NOT_SENT] += 1
            continue
        task = asyncio.create_task(one(paths[(index - 1) % len(paths)], windows[slot], due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending)
    return LoadReport(windows)


@dataclass
class MemoryTrace:
    """RSS (bytes) per process name over time (seconds since the watch began)."""

    samples: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))

    def growth(self, name: str) -> float:
        """The relative growth of the process's RSS over the second half of the run: the
        least-squares slope times the half's length, over the half's mean (0.05: 5 %)."""
        points = self.samples[name]
        half = [p for p in points if p[0] >= points[-1][0] / 2]
        if len(half) < 3:
            return 0.0
        xs, ys = [p[0] for p in half], [float(p[1]) for p in half]
        slope = statistics.linear_regression(xs, ys).slope
        return slope * (xs[-1] - xs[0]) / statistics.fmean(ys)

    def peak(self, name: str) -> int:
        return max(rss for _, rss in self.samples[name])

    def first(self, name: str) -> int:
        return self.samples[name][0][1]


def rss_with_children(pid: int) -> int:
    """The resident memory of a process and its descendants (an nginx master and its workers,
    a Celery worker and its pool)."""
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total
    except psutil.NoSuchProcess:
        return 0


async def watch_memory(
    processes: Callable[[], dict[str, int]], interval_s: float, stop: asyncio.Event
) -> MemoryTrace:
    """Sample ``processes()`` (name -> pid) every ``interval_s`` until ``stop``."""
    trace = MemoryTrace()
    began = time.monotonic()
    while not stop.is_set():
        at = time.monotonic() - began
        for name, pid in processes().items():
            rss = await asyncio.to_thread(rss_with_children, pid)
            if rss:
                trace.samples[name].append((at, rss))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
    return trace
