"""`robocover admin create-user`: how the first administrator (and any user) is made from the
command line. The password is typed twice at a prompt, read from ``--password-file``, or read
from standard input when it is not a terminal; there is no default password anywhere. The
audit trail records the creation with no actor (the command line)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from database.models import UserRole

admin_app = typer.Typer(no_args_is_help=True, help="Administration: users of the insurer API.")


def _read_password(password_file: Path | None) -> str:
    if password_file is not None:
        try:
            text = password_file.read_text()
        except OSError as exc:
            typer.echo(f"cannot read {password_file}: {exc.strerror}", err=True)
            raise typer.Exit(2) from None
        password = text.rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        typer.echo("no password given", err=True)
        raise typer.Exit(2)
    return password


@admin_app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="The user's email: the sign-in name.")],
    role: Annotated[UserRole, typer.Option(help="The user's role.")],
    full_name: Annotated[str, typer.Option(help="The user's name.")],
    tenant: Annotated[
        str | None, typer.Option(help="A policyholder's tenant slug (staff have none).")
    ] = None,
    password_file: Annotated[
        Path | None,
        typer.Option(help="Read the password from this file (its first line) instead."),
    ] = None,
) -> None:
    """Create a user with a password of your choosing (at least 12 characters, not the email)."""
    from sqlalchemy.orm import Session

    from cloud_api.errors import AppError
    from cloud_api.identity import service
    from database.engine import make_engine
    from database.logs import configure_logging
    from database.settings import CloudSettings

    password = _read_password(password_file)
    settings = CloudSettings()
    configure_logging(settings.log_level, settings.log_format)
    engine = make_engine(settings, pool_size=1)
    try:
        with Session(engine) as session, session.begin():
            user = service.create_user(
                session,
                None,
                email=email,
                full_name=full_name,
                role=role,
                tenant=tenant,
                password=password,
                now=datetime.now(UTC),
            )
            user_id, user_email = user.id, user.email
    except AppError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"user {user_id} created: {user_email} ({role.value})")
