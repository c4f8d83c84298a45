"""The `robocover-agent` command. It uses argparse, not typer: a robot controller installs only the
`agent` extra."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge_agent.settings import AgentSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robocover-agent",
        description="robocover's agent for robot controllers: measures, stores and publishes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('robocover')}")
    parser.add_argument("--config", type=Path, help="TOML configuration file")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("settings", help="print the settings the agent would run with, as JSON")
    sub.add_parser("run", help="measure, store and publish until SIGTERM")
    enroll = sub.add_parser("enroll", help="enroll this robot with a one-time token")
    enroll.add_argument("--token", required=True)
    enroll.add_argument("--cloud-url", required=True)
    enroll.add_argument("--retry-for", type=float, default=300.0, metavar="SECONDS",
                        help="keep trying while the cloud answers 'not now' (503, 429) or "
                        "cannot be reached, this long at most (default 300)")  # fmt: skip
    simulate = sub.add_parser("simulate", help="run simulated robots through the agent code")
    simulate.add_argument("--fleet-dir", type=Path, required=True,
                          help="a directory of enrolled robot state directories")  # fmt: skip
    simulate.add_argument("--duration", type=float, default=60.0)
    simulate.add_argument("--metrics", type=int, default=0)
    simulate.add_argument("--hazard", type=float, default=1.0)
    return parser


def _stop_on_signals() -> threading.Event:
    """An event set on SIGTERM or SIGINT. Not set by the signal handler: a Python handler runs
    in the main thread between two of its instructions, and the main thread may then hold the
    event's own lock (inside Event.wait, the sampling loop's sleep), so Event.set there can
    deadlock and the agent ignore every SIGTERM after it. The interpreter's C handler writes
    the signal to a pipe (signal.set_wakeup_fd); a thread of its own reads it and sets the
    event."""
    stop = threading.Event()
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

    def ignore(_signum: int, _frame: FrameType | None) -> None:
        """The wakeup fd is written only for signals that have a Python handler."""

    signal.signal(signal.SIGTERM, ignore)
    signal.signal(signal.SIGINT, ignore)

    def watch() -> None:
        os.read(read_fd, 1)  # blocks until the first signal
        stop.set()

    threading.Thread(target=watch, name="signals", daemon=True).start()
    return stop


def _run(settings: AgentSettings) -> int:
    from edge_agent.agent import Agent
    from edge_agent.collectors import load_collector
    from edge_agent.identity import load_identity, load_signer

    # The standard library's logging, to journald through stderr: loguru costs the agent 3 MB.
    logging.basicConfig(
        stream=sys.stderr,
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    collectors = {
        name: load_collector(name, options) for name, options in settings.collectors.items()
    }
    identity = load_identity(settings.state_dir)
    agent = Agent(settings, identity, load_signer(settings.state_dir), collectors)
    agent.run(_stop_on_signals())
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    from edge_agent.settings import SettingsError, load_settings, settings_json

    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except (SettingsError, FileNotFoundError) as exc:
        sys.stderr.write(f"robocover-agent: bad settings: {exc}\n")
        sys.exit(2)
    if args.command == "settings":
        sys.stdout.write(settings_json(settings) + "\n")
    elif args.command == "run":
        sys.exit(_run(settings))
    elif args.command == "enroll":
        from edge_agent.enroll import EnrollmentError, enroll

        try:
            identity = enroll(
                cloud_url=args.cloud_url,
                token=args.token,
                state_dir=settings.state_dir,
                retry_for_s=args.retry_for,
            )
        except EnrollmentError as exc:
            sys.stderr.write(f"robocover-agent: {exc}\n")
            sys.exit(1)
        sys.stdout.write(f"enrolled as robot {identity.robot_id} of tenant {identity.tenant}\n")
    elif args.command == "simulate":
        from edge_agent.fleet import FleetTooLargeError, run_fleet

        dirs = sorted(p for p in args.fleet_dir.iterdir() if p.is_dir())
        stop = _stop_on_signals()
        try:
            report = run_fleet(settings, dirs, duration_s=args.duration,
                               metrics=args.metrics, hazard=args.hazard, stop=stop)  # fmt: skip
        except FleetTooLargeError as exc:
            sys.stderr.write(f"robocover-agent: {exc}\n")
            sys.exit(2)
        sys.stdout.write(f"{report.robots} robots stored {report.stored_messages} messages, "
                         f"{report.pending_messages} not yet acknowledged\n")  # fmt: skip
