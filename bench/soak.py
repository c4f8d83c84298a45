"""`make soak`: a thousand simulated robots for half an hour through the whole deployment, with
API load, policies and claims; then nothing a robot sent lost or counted twice, every process's
memory flat, the API's p99 held.

The deployment is the demo's (cloud_api/demo/stack.py): two ingest processes in one share
group, two API processes behind the nginx gateway, the jobs worker and beat, the risk worker,
the payment processor's stand-in. The robots are registered by their owner through the API and
enrolled with keys made on the robot side (edge_agent.enroll), then run through the real agent
code (`robocover-agent simulate`, a share of the fleet per process: the outbox, the publisher,
the chain). Meanwhile an open-loop load reads the API through the gateway (bench/soak_load.py),
and every minute the underwriter quotes, binds and issues a policy for ten more robots and the
owner files a claim whose evidence the adjuster reads.

The run's figures are the steady state: the API load, the business and the run's minutes begin
once every robot is online (its agent connected and the ingest recorded its presence). Until
then the same reads measure the connection storm on their own, reported apart from the verdict:
on this one machine the storm is mostly the agent processes' own start (a thousand MQTT clients
and signing keys made on the two cores the cloud also runs on), which a real fleet does on its
own controllers.

The soak's API processes take writes and reads without the per-principal rate limits (a
capacity run, not a test of the limits): ROBOCOVER_RATE_LIMIT_READ/WRITE are raised for them.

Run: `python bench/soak.py [--robots 1000] [--minutes 30] [--output docs/benchmarks.md]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import FrameType

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import machine, write_section
from bench.soak_check import Ledger, count_ledger, failures, report
from bench.soak_database import Arrival, DatabaseTrace, wait_online, watch_database
from bench.soak_fleet import (
    register_and_enroll,
    remove_broker_accounts,
    retrying,
    start_fleets,
)
from bench.soak_load import LoadReport, MemoryTrace, open_loop, watch_memory
from cloud_api.demo import story, underwriting
from cloud_api.demo.fleet import DemoRobot
from cloud_api.demo.gateway_process import prepare_gateway, start_gateway
from cloud_api.demo.processes import ProcessGroup
from cloud_api.demo.stack import Stack, start_services, stop_stack, wait_ready
from cloud_api.demo.summary import Board
from cloud_api.settings import ApiSettings
from edge_agent.fleet import MAX_ROBOTS_PER_PROCESS
from migrations.runner import upgrade

UNLIMITED = "1000000/minute"
ONLINE_TIMEOUT_S = 300.0
"""How long the fleet may take to come online before the steady state begins anyway."""


@dataclass(frozen=True)
class SoakOptions:
    robots: int = 1000
    minutes: float = 30.0
    fleets: int = 4
    rate: float = 20.0
    max_inflight: int = 32
    window_s: float = 60.0
    memory_interval_s: float = 15.0


@dataclass
class SoakResult:
    options: SoakOptions
    load: LoadReport
    memory: MemoryTrace
    database: DatabaseTrace
    arrival: Arrival
    storm: LoadReport
    """The reads while the fleet came online (not in the verdict; see the module's doc)."""
    ledger: Ledger
    policies: int
    claims: int
    enrolled_s: float


def _business(
    tale: story.Story,
    robots: list[DemoRobot],
    stop_at: float,
    done: list[int],
    quit_: threading.Event,
) -> None:
    """Every minute: a policy for ten more robots, and a claim on a robot of the last one
    (until `stop_at`, or at once when `quit_` is set)."""
    adjuster, owner = tale["claims_adjuster"], tale["policyholder"]
    for start in range(0, len(robots), 10):
        if time.monotonic() > stop_at or quit_.is_set():
            return
        began = time.monotonic()
        tale.robots = robots[start : start + 10]
        retrying(underwriting.underwrite, tale)
        done[0] += 1
        claim = retrying(
            owner.post,
            "/v1/claims",
            {
                "robot_id": tale.robots[0].robot_id,
                "coverage": "breakdown",
                "loss_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                "description": "Soak: a gripper dropped a part on the conveyor.",
                "estimated_loss_minor": 250_000,
            },
            create=True,
        )
        retrying(adjuster.get, f"/v1/claims/{claim['id']}/evidence")
        done[1] += 1
        if quit_.wait(max(0.0, 60.0 - (time.monotonic() - began))):
            return


async def _run(tale: story.Story, robots: list[DemoRobot], options: SoakOptions) -> SoakResult:
    stack, stop = tale.stack, asyncio.Event()
    reader = tale["auditor"]  # reads everything, writes nothing; its token refreshed below
    paths = [
        "/v1/robots?limit=50",
        "/v1/policies?limit=20",
        "/v1/claims?limit=20",
        "/v1/invoices?limit=20",
        *(f"/v1/robots/{r.robot_id}/risk-scores?limit=5" for r in robots[:50]),
    ]

    def processes() -> dict[str, int]:
        return {c.name: c.popen.pid for c in stack.group.children if c.popen.poll() is None}

    async def keep_signed_in() -> None:
        while not stop.is_set():  # a call through the person refreshes its token when due
            await asyncio.to_thread(reader.get, "/v1/robots", limit=1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 30)

    limits = httpx.Limits(
        max_connections=options.max_inflight, max_keepalive_connections=options.max_inflight
    )
    async with httpx.AsyncClient(
        base_url=stack.base_url, verify=stack.verify, timeout=30, limits=limits
    ) as client:
        memory = asyncio.create_task(watch_memory(processes, options.memory_interval_s, stop))
        database = asyncio.create_task(watch_database(stack.settings.libpq_url, 1.0, stop))
        signed_in = asyncio.create_task(keep_signed_in())
        reads = partial(  # the same reads in the connection storm and in the steady state
            open_loop,
            client,
            paths,
            rate=options.rate,
            window_s=options.window_s,
            max_inflight=options.max_inflight,
            headers=lambda: {"Authorization": f"Bearer {reader.token}"},
        )
        online = asyncio.Event()  # the connection storm: the same reads until the fleet is online
        storm_load = asyncio.create_task(reads(duration_s=ONLINE_TIMEOUT_S, stop=online))
        try:
            ids = [r.robot_id for r in robots if r.robot_id]
            arrival = await wait_online(stack.settings.libpq_url, ids, ONLINE_TIMEOUT_S)
        finally:
            online.set()
        storm = await storm_load
        print(f"soak: {arrival.online} of {arrival.robots} robots online", flush=True)
        done, quit_ = [0, 0], threading.Event()
        stop_at = time.monotonic() + options.minutes * 60 - 90
        business = asyncio.create_task(
            asyncio.to_thread(_business, tale, robots, stop_at, done, quit_)
        )
        try:
            load = await reads(duration_s=options.minutes * 60, stop=stop)
            await business
        finally:  # interrupted too: the business thread must not hold the loop's shutdown
            quit_.set()
            stop.set()
        await signed_in
    return SoakResult(
        options, load, await memory, await database, arrival, storm, Ledger(), done[0], done[1], 0.0
    )


def soak(options: SoakOptions) -> SoakResult:
    # a simulate process watches at most MAX_ROBOTS_PER_PROCESS robots' sockets (edge_agent.fleet)
    fleets = max(options.fleets, -(-options.robots // MAX_ROBOTS_PER_PROCESS))
    options = replace(options, fleets=fleets)
    settings = ApiSettings()
    upgrade(settings.sqlalchemy_url)
    os.environ["ROBOCOVER_RATE_LIMIT_READ"] = UNLIMITED
    os.environ["ROBOCOVER_RATE_LIMIT_WRITE"] = UNLIMITED
    run = uuid.uuid4().hex[:6]
    run_dir = (
        Path(tempfile.gettempdir()) / "robocover-soak" / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{run}"
    )
    run_dir.mkdir(parents=True, mode=0o711)
    group = ProcessGroup(run_dir / "processes.log")
    stack = Stack(settings, group, run_dir)
    tale = story.Story(stack, Board(str(run_dir), str(group.log_path)), [], run)
    print(f"soak: run directory {run_dir}", flush=True)
    robots: list[DemoRobot] = []
    try:
        prepare_gateway(stack)
        start_services(stack)
        start_gateway(stack)
        wait_ready(stack)
        story.cast(tale)
        underwriting.rating_plan(tale)
        underwriting.product(tale)
        began = time.monotonic()
        register_and_enroll(tale, options.robots, options.fleets, run_dir / "fleet", robots)
        enrolled_s = time.monotonic() - began
        print(f"soak: {len(robots)} robots enrolled in {enrolled_s:.0f} s", flush=True)
        start_fleets(tale, robots, options.minutes * 60 + ONLINE_TIMEOUT_S + 600)
        result = asyncio.run(_run(tale, robots, options))
        # the agents told to stop (SIGTERM): each drains its robots' outboxes, then exits
        group.stop(group.running("agent"), timeout_s=600)
        result = replace(result, ledger=count_ledger(settings, robots), enrolled_s=enrolled_s)
    finally:
        # A second Ctrl-C or SIGTERM would cut the cleanup short and leave the ingests' broker
        # sessions in the share group (they would take a share of the next run's messages).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        tale.close()
        stop_stack(stack)
        group.close()
        remove_broker_accounts(stack, robots)
    return result


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", type=int, default=SoakOptions.robots)
    parser.add_argument("--minutes", type=float, default=SoakOptions.minutes)
    parser.add_argument("--fleets", type=int, default=SoakOptions.fleets)
    parser.add_argument("--rate", type=float, default=SoakOptions.rate)
    parser.add_argument("--output", type=Path, help="write the figures into this markdown file")
    args = parser.parse_args()
    options = SoakOptions(
        robots=args.robots, minutes=args.minutes, fleets=args.fleets, rate=args.rate
    )
    # Ctrl-C and SIGTERM end the soak through its cleanup (processes stopped, the robots' broker
    # accounts removed); a shell starting it in the background would have it ignore SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    result = soak(options)
    section = report(result, f"{datetime.now(UTC):%Y-%m-%d}", machine())
    print(section)
    if args.output is not None:
        write_section(args.output, "soak", "Soak (`make soak`, `bench/soak.py`)", section)
    sys.exit(1 if failures(result) else 0)


if __name__ == "__main__":
    main()
