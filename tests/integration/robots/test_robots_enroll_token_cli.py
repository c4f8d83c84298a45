"""`robocover robots enroll-token` as a process against a database of its own: it registers
through the same function as POST /v1/robots, so the robot, its token, the robot's action and
the audit event (actor ``cli``) are the same as the API's, and so are its refusals."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, pool, select
from sqlalchemy.orm import Session

from database.models import AuditEvent, EnrollmentToken, Robot, RobotAction, Tenant
from database.settings import CloudSettings

ROOT = Path(__file__).resolve().parents[3]


def _enroll_token(settings: CloudSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROBOCOVER_DATABASE_URL": str(settings.database_url)}
    return subprocess.run(
        [sys.executable, "-m", "cloud_api", "robots", "enroll-token", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


ARGS = ("--tenant", "acme", "--serial", "SN-CLI-1", "--class", "cobot")
MORE = ("--manufacturer", "Universal Robots", "--model", "UR10e")


def test_the_command_registers_as_the_api_does(fresh_database: CloudSettings) -> None:
    engine = create_engine(fresh_database.sqlalchemy_url, poolclass=pool.NullPool)
    try:
        with Session(engine) as session, session.begin():
            session.add(Tenant(slug="acme", name="Acme"))
        result = _enroll_token(fresh_database, *ARGS, *MORE)
        assert result.returncode == 0, result.stderr
        line, token = result.stdout.strip().splitlines()
        with Session(engine) as session:
            robot = session.scalars(select(Robot)).one()
            assert line.startswith(f"robot {robot.id}, token valid until ")
            assert (robot.status, robot.serial_number, robot.model) == (
                "pending",
                "SN-CLI-1",
                "UR10e",
            )
            stored = session.scalars(select(EnrollmentToken)).one()
            secret = token.split(".", 1)[1]
            assert stored.secret_hash == hashlib.sha256(secret.encode()).digest()
            action = session.scalars(select(RobotAction)).one()
            assert (action.action, action.actor) == ("registered", "cli")
            event = session.scalars(select(AuditEvent)).one()
            assert (event.action, event.actor_id, event.actor_role) == (
                "robots:register",
                None,
                "cli",
            )
            assert (event.target_id, event.tenant_id) == (str(robot.id), robot.tenant_id)
            assert secret not in str(event.detail)
        # The rules are the API's: an unknown tenant is refused, and nothing is written.
        unknown = _enroll_token(fresh_database, "--tenant", "nowhere", *ARGS[2:], *MORE)
        assert unknown.returncode == 1
        assert "nowhere" in unknown.stderr
        with Session(engine) as session:
            assert len(session.scalars(select(Robot)).all()) == 1
    finally:
        engine.dispose()
