"""The `robocover-agent` command. It uses argparse, not typer: a robot controller installs only the
`agent` extra."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import version


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robocover-agent",
        description="robocover's agent for robot controllers: measures, stores and publishes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('robocover')}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("settings", help="print the settings the agent would run with, as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    from edge_agent.settings import AgentSettings

    args = build_parser().parse_args(argv)
    if args.command == "settings":
        sys.stdout.write(AgentSettings().model_dump_json(indent=2) + "\n")
