"""What the robots routes share: the fleet's one router (endpoints.py, history_endpoints.py and
telemetry_endpoints.py add their routes to it, so every route keeps its full path, which the
access log and the metrics name; the risk domain's routes have their own, in
risk_endpoints.py), the reader's authorization, the rate limits, the parsing of query-string
values of their filters, the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.roles import Principal

router = APIRouter(prefix="/v1/robots", tags=["robots"])
Reader = Annotated[Principal, Depends(Require(Action.ROBOTS_READ))]


def flag(text: str) -> bool:
    if text.lower() not in {"true", "false"}:
        raise ValueError("true or false")
    return text.lower() == "true"


def aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("give a time zone (Z or +hh:mm)")
    return moment


def now() -> datetime:
    return datetime.now(UTC)
