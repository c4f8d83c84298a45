"""GET /v1/robots/premiums/page: premium over time per robot with the reasons, as a printable
HTML page. Thin, as endpoints.py: one ``Require``, one call of history.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query
from fastapi.responses import HTMLResponse

from cloud_api.conventions import InvalidQueryError
from cloud_api.conventions.ratelimit import ReadLimit
from cloud_api.errors import problem_responses
from cloud_api.robots import history
from cloud_api.robots.deps import Reader, aware, now, router
from cloud_api.sessions import SessionDep
from database.models import RobotClass

Tenant = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
Moment = Annotated[
    str | None,
    Query(
        description="ISO 8601 with a time zone (Z or +hh:mm).",
        json_schema_extra={"format": "date-time"},
    ),
]


def _moment(name: str, text: str | None) -> datetime | None:
    """An instant as the events' filters read it (ISO 8601 with a zone; 400 otherwise), not
    a number of seconds."""
    if text is None:
        return None
    try:
        return aware(text)
    except ValueError:
        raise InvalidQueryError(f"{name}: give an ISO 8601 time with a time zone") from None


@router.get(
    "/premiums/page",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}, **problem_responses(400)},
)
def premiums_page(  # noqa: PLR0917 (query parameters)
    session: SessionDep,
    principal: Reader,
    _: ReadLimit,
    tenant: Tenant = None,
    robot_class: RobotClass | None = None,
    since: Moment = None,
    until: Moment = None,
) -> HTMLResponse:
    """Premium over time per robot, with the risk engine's reasons, on one printable HTML page
    (inline SVG; no script, no network resource): the robots you see, by serial number (at
    most 50), each with its scores in [since, until] (31 days to now by default; at most 366
    days)."""
    page = history.premiums_page(
        session,
        principal,
        tenant=tenant,
        robot_class=None if robot_class is None else robot_class.value,
        since=_moment("since", since),
        until=_moment("until", until),
        now=now(),
    )
    return HTMLResponse(page)
