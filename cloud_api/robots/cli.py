"""`robocover robots enroll-token / suspend / revoke / reinstate / rotate / settle-rotations`
and `robocover reviews ...`: staff commands over the robots and reviews services. Each runs
the service in one transaction, then, after the commit, has the broker follow. enroll-token
registers through the very function POST /v1/robots calls (``fleet.register``), audited with
the actor ``cli``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from cloud_api.robots.service import BrokerChanges
from database.models import RobotClass

ACTOR = typer.Option("--by", help="Who does this (recorded in the audit).")
REASON = typer.Option("--reason", help="Why (recorded in the audit).")
reviews_app = typer.Typer(no_args_is_help=True, help="Review cases of robots: list, decide.")


@contextmanager
def _session() -> Iterator[Any]:
    from sqlalchemy.orm import Session

    from cloud_api.settings import ApiSettings
    from database.engine import make_engine
    from database.logs import configure_logging

    settings = ApiSettings()
    configure_logging(settings.log_level, settings.log_format)
    engine = make_engine(settings, pool_size=1)
    try:
        with Session(engine) as session, session.begin():
            yield session
    finally:
        engine.dispose()


def _follow(changes: BrokerChanges) -> None:
    """After the commit: the broker does what the database now says."""
    from cloud_api.broker_accounts import DynsecAdmin
    from cloud_api.robots.broker import apply_changes
    from cloud_api.settings import ApiSettings

    settings = ApiSettings()
    if settings.mqtt_admin_password is None:
        typer.echo("no broker admin password: the broker was not changed", err=True)
        raise typer.Exit(3)
    password = settings.mqtt_admin_password.get_secret_value()

    def admin() -> DynsecAdmin:
        return DynsecAdmin(
            host=settings.mqtt_url.host or "127.0.0.1",
            port=settings.mqtt_url.port or 1883,
            username=settings.mqtt_admin_username,
            password=password,
        )

    apply_changes(changes, admin, settings)


def _standing(move: Callable[..., BrokerChanges], robot: uuid.UUID, by: str, reason: str) -> None:
    from cloud_api.errors import AppError

    try:
        with _session() as session:
            changes = move(session, robot_id=robot, actor=by, reason=reason, now=_now())
    except AppError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    _follow(changes)
    typer.echo(f"robot {robot}: done")


def _now() -> datetime:
    return datetime.now(UTC)


def enroll_token(
    tenant: Annotated[str, typer.Option(help="The owner's tenant slug.")],
    serial: Annotated[str, typer.Option(help="The robot's serial number.")],
    robot_class: Annotated[RobotClass, typer.Option("--class", help="Rating class.")],
    manufacturer: Annotated[str, typer.Option()],
    model: Annotated[str, typer.Option()],
) -> None:
    """Register a pending robot and print a one-time enrollment token for it."""
    from pydantic import ValidationError

    from cloud_api.errors import AppError
    from cloud_api.robots.fleet import register
    from cloud_api.robots.schemas import RobotRegistration
    from cloud_api.settings import ApiSettings

    try:
        body = RobotRegistration(
            tenant=tenant,
            serial_number=serial,
            robot_class=robot_class,
            manufacturer=manufacturer,
            model=model,
        )
        ttl = timedelta(seconds=ApiSettings().enrollment_token_ttl_s)
        with _session() as session:
            registered = register(session, None, body, ttl=ttl, now=_now())
    except (AppError, ValidationError) as exc:
        typer.echo(getattr(exc, "message", str(exc)), err=True)
        raise typer.Exit(1) from None
    expires = registered.enrollment_token_expires_at.isoformat()
    typer.echo(f"robot {registered.robot.id}, token valid until {expires}:")
    typer.echo(registered.enrollment_token)


def suspend(robot: uuid.UUID, by: Annotated[str, ACTOR], reason: Annotated[str, REASON]) -> None:
    """Suspend a robot: its broker accounts are disabled and its connection ended at once."""
    from cloud_api.robots.service import suspend as move

    _standing(move, robot, by, reason)


def revoke(robot: uuid.UUID, by: Annotated[str, ACTOR], reason: Annotated[str, REASON]) -> None:
    """Revoke a robot for good: accounts disabled, rotation cancelled, keys retired."""
    from cloud_api.robots.service import revoke as move

    _standing(move, robot, by, reason)


def reinstate(robot: uuid.UUID, by: Annotated[str, ACTOR], reason: Annotated[str, REASON]) -> None:
    """Reinstate a suspended robot: its accounts are enabled again."""
    from cloud_api.robots.service import reinstate as move

    _standing(move, robot, by, reason)


def rotate(
    robot: uuid.UUID,
    by: Annotated[str, ACTOR],
    ttl_h: Annotated[
        float,
        typer.Option(
            help="Hours during which a message under a key not yet announced is waited for "
            "rather than refused as a bad signature (the request itself does not expire)."
        ),
    ] = 72.0,
    wait_s: Annotated[float, typer.Option(help="Wait this long for the robot's answer.")] = 0.0,
) -> None:
    """Ask a robot to rotate its signing key and broker account (protocol 1.2)."""
    from cloud_api.broker_accounts import BrokerAccounts
    from cloud_api.errors import AppError
    from cloud_api.robots.service import request_rotation
    from cloud_api.settings import ApiSettings

    try:
        with _session() as session:
            request = request_rotation(
                session,
                BrokerAccounts(ApiSettings()),
                robot_id=robot,
                actor=by,
                ttl=timedelta(hours=ttl_h),
                now=_now(),
            )
    except AppError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    _follow(request.changes)
    typer.echo(
        f"rotation {request.rotation_id} requested; the robot has until {request.expires_at}"
    )
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if settle_rotations() and _rotation_state(request.rotation_id) == "completed":
            typer.echo(f"rotation {request.rotation_id} completed")
            return
        time.sleep(1.0)


def _rotation_state(rotation_id: int) -> str:
    from database.models import CredentialRotation

    with _session() as session:
        return str(session.get_one(CredentialRotation, rotation_id).state)


def settle_rotations() -> bool:
    """Finish the rotations robots answered: their old broker accounts are deleted."""
    from cloud_api.robots.service import settle_rotations as settle

    with _session() as session:
        changes = settle(session, now=_now())
    _follow(changes)
    return True


@reviews_app.command("list")
def list_cases(
    robot: Annotated[uuid.UUID | None, typer.Option(help="One robot's cases.")] = None,
    all_cases: Annotated[bool, typer.Option("--all", help="Closed cases too.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Review cases, newest first (open ones unless --all), as JSON lines."""
    from cloud_api.reviews.service import list_cases as cases

    with _session() as session:
        for case in cases(session, robot_id=robot, open_only=not all_cases, limit=limit):
            typer.echo(json.dumps(_case(case)))


@reviews_app.command("show")
def show_case(case_id: int) -> None:
    """One case with its evidence and its audit."""
    from cloud_api.errors import AppError
    from cloud_api.reviews.service import case_with_audit

    try:
        with _session() as session:
            case, actions = case_with_audit(session, case_id)
            document = _case(case) | {
                "evidence": case.evidence,
                "actions": [
                    {"at": a.at.isoformat(), "actor": a.actor, "action": a.action, "note": a.note}
                    for a in actions
                ],
            }
    except AppError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(document, indent=1))


def _decide(case_id: int, outcome: str, by: str, note: str) -> None:
    from cloud_api.errors import AppError
    from cloud_api.reviews.service import decide
    from database.models import CaseStatus

    try:
        with _session() as session:
            decide(
                session,
                case_id=case_id,
                outcome=CaseStatus(outcome),
                actor=by,
                note=note,
                now=_now(),
            )
    except (AppError, ValueError) as exc:
        typer.echo(getattr(exc, "message", str(exc)), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"case {case_id} {outcome}")


@reviews_app.command("clear")
def clear_case(case_id: int, by: Annotated[str, ACTOR], reason: Annotated[str, REASON]) -> None:
    """An innocent explanation was found: the case no longer weighs on the robot's premium."""
    _decide(case_id, "cleared", by, reason)


@reviews_app.command("confirm")
def confirm_case(case_id: int, by: Annotated[str, ACTOR], reason: Annotated[str, REASON]) -> None:
    """The suspicion is confirmed: for underwriting and claims to act on."""
    _decide(case_id, "confirmed", by, reason)


def _case(case: Any) -> dict[str, Any]:
    return {
        "id": case.id,
        "robot_id": str(case.robot_id),
        "category": case.category,
        "reason": case.reason,
        "status": case.status,
        "opened_at": case.opened_at.isoformat(),
        "evidence_count": case.evidence_count,
        "resolved_by": case.resolved_by,
        "resolution_note": case.resolution_note,
    }


def register(robots_app: typer.Typer) -> None:
    robots_app.command("enroll-token")(enroll_token)
    for command in (suspend, revoke, reinstate, rotate):
        robots_app.command()(command)
    robots_app.command("settle-rotations")(settle_rotations)
