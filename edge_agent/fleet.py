"""A fleet of simulated robots through the real agent code (simulator collector -> windows ->
outbox -> publisher), for demos and load. One sampling thread and one network thread per robot.

Each robot is a state directory holding an enrolled identity (identity.json, signing_key); the
caller provisions them (`robocover demo` enrolls them through the cloud).

One process runs at most MAX_ROBOTS_PER_PROCESS robots: paho-mqtt's network loop waits on
select(), which cannot watch a file descriptor numbered FD_SETSIZE (1024) or above, and each
robot holds FILES_PER_ROBOT descriptors. A robot whose socket landed above the limit lost its
connection on every loop and reconnected forever without sending (found by the 1,000-robot
soak: 644 of 1,000 robots in four processes never delivered a message). Larger fleets run in
more processes.

Each simulated robot's monotonic clock is offset as if its controller had booted at its own
moment (within the day before, drawn from its id): robots sharing the host's clock would close
their windows together and a thousand would publish in the same instant every batch interval,
a burst no real fleet makes (the 1,000-robot soak's API stalls came in those bursts, every 10 s).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from edge_agent.agent import Agent
from edge_agent.collectors.simulator import KINDS, SimulatedRobot
from edge_agent.identity import load_identity, load_signer
from edge_agent.settings import AgentSettings, replace_settings

SELECT_LIMIT = 1024
"""FD_SETSIZE on Linux: select() cannot watch a descriptor numbered this or above."""
FILES_PER_ROBOT = 6
"""A robot's broker socket and paho's wake-up socket pair; its outbox database, WAL and
shared-memory index."""
RESERVED_FILES = 64
"""The process's own: standard streams, the interpreter's and the libraries' files."""
MAX_ROBOTS_PER_PROCESS = (SELECT_LIMIT - RESERVED_FILES) // FILES_PER_ROBOT
BOOTS_WITHIN_US = 86_400 * 1_000_000
"""Simulated controllers booted at moments spread over a day (their clocks' offsets)."""


class FleetTooLargeError(ValueError):
    """More robots than one process's network loops can watch."""


@dataclass(frozen=True, slots=True)
class FleetProgress:
    robots: int
    online: int
    stored_messages: int
    pending_messages: int
    dropped_samples: int
    elapsed_s: float


def build_agent(
    settings: AgentSettings, state_dir: Path, index: int, *, metrics: int = 0, hazard: float = 1.0
) -> Agent:
    kind = KINDS[index % len(KINDS)]
    robot = SimulatedRobot(kind=kind, metrics=metrics, hazard=hazard, seed=index)
    robot_settings = replace_settings(settings, state_dir=state_dir)
    identity = load_identity(state_dir)
    return Agent(
        robot_settings,
        identity,
        load_signer(state_dir),
        {"simulator": robot},
        boot_offset_us=boot_offset_us(identity.robot_id),
    )


def boot_offset_us(robot_id: uuid.UUID) -> int:
    """A simulated robot's clock against the host's, drawn from its id: the same on every run,
    different for robots simulated in different processes."""
    return random.Random(robot_id.int).randrange(BOOTS_WITHIN_US)  # noqa: S311 - not a secret


def run_fleet(
    settings: AgentSettings,
    state_dirs: Sequence[Path],
    *,
    duration_s: float,
    metrics: int = 0,
    hazard: float = 1.0,
    on_progress: Callable[[FleetProgress], None] | None = None,
    stop: threading.Event | None = None,
) -> FleetProgress:
    """Run every robot for `duration_s`, then stop them cleanly; the figures returned are taken
    after their publishers drained. Raises FleetTooLargeError, before starting any robot, for more
    than MAX_ROBOTS_PER_PROCESS robots."""
    if len(state_dirs) > MAX_ROBOTS_PER_PROCESS:
        raise FleetTooLargeError(
            f"{len(state_dirs)} robots in one process: at most {MAX_ROBOTS_PER_PROCESS}"
            f" (each holds {FILES_PER_ROBOT} files, and the MQTT client's select() loop"
            f" cannot watch a file numbered {SELECT_LIMIT} or above); split the fleet"
            " across processes"
        )
    stop = stop or threading.Event()
    agents = [
        build_agent(settings, path, i, metrics=metrics, hazard=hazard)
        for i, path in enumerate(state_dirs)
    ]
    threads = [threading.Thread(target=a.run, args=(stop,), daemon=True) for a in agents]
    started = time.monotonic()
    for thread in threads:
        thread.start()

    def progress() -> FleetProgress:
        stats = [a.stats() for a in agents]
        return FleetProgress(
            robots=len(agents),
            online=sum(a.publisher.online.is_set() for a in agents),
            stored_messages=sum(s.next_seq for s in stats),
            pending_messages=sum(s.pending_messages for s in stats),
            dropped_samples=sum(s.dropped_samples for s in stats),
            elapsed_s=time.monotonic() - started,
        )

    while not stop.wait(0.5):
        report = progress()
        if on_progress is not None:
            on_progress(report)
        if report.elapsed_s >= duration_s:
            break
    online = progress().online  # the robots online at the end of the run, before they say goodbye
    stop.set()
    for thread in threads:  # each sends what it holds and waits for its acks (drain_timeout_s)
        thread.join(30)
    return replace(progress(), online=online)
