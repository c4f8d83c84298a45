"""`robocover robots ...`: the command group of staff commands for robots. Its commands live
with the robots domain (cloud_api/robots/cli.py: enroll-token, suspend, revoke, reinstate,
rotate, settle-rotations), which calls the same service functions as the API."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Robots: registration, enrollment and standing.")
