"""`robocover robots ...`: staff commands for robots (issuing enrollment tokens)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from database.models import RobotClass

app = typer.Typer(no_args_is_help=True, help="Robots: registration and enrollment.")


@app.command("enroll-token")
def enroll_token(
    tenant: Annotated[str, typer.Option(help="The owner's tenant slug.")],
    serial: Annotated[str, typer.Option(help="The robot's serial number.")],
    robot_class: Annotated[RobotClass, typer.Option("--class", help="Rating class.")],
    manufacturer: Annotated[str, typer.Option()],
    model: Annotated[str, typer.Option()],
) -> None:
    """Register a pending robot and print a one-time enrollment token for it."""
    from sqlalchemy.orm import Session

    from cloud_api.enrollment.service import issue_token
    from cloud_api.settings import ApiSettings
    from database.engine import make_engine
    from database.logs import configure_logging

    settings = ApiSettings()
    configure_logging(settings.log_level, settings.log_format)
    engine = make_engine(settings, pool_size=1)
    try:
        with Session(engine) as session, session.begin():
            issued = issue_token(
                session,
                tenant=tenant,
                serial_number=serial,
                robot_class=robot_class,
                manufacturer=manufacturer,
                model=model,
                ttl=timedelta(seconds=settings.enrollment_token_ttl_s),
                now=datetime.now(UTC),
            )
    finally:
        engine.dispose()
    typer.echo(f"robot {issued.robot_id}, token valid until {issued.expires_at.isoformat()}:")
    typer.echo(issued.token)
