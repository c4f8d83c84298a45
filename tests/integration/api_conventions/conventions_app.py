"""A small app built with the conventions, on the real Redis, PostgreSQL and broker.

Routes: a paginated listing of `Thing` rows (a table created inside the test's rolled-back
transaction), one thing by id, a token endpoint taking a password form, and a route that fails.
A stand-in for authentication puts the ``X-Principal`` header on the request's state, where the
real one puts the principal's id.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
import warnings
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from loguru import logger
from pydantic import BaseModel, ConfigDict
from sqlalchemy import DateTime, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from cloud_api.conventions import (
    Filter,
    Listing,
    ListParams,
    ListQuery,
    Page,
    RateLimit,
    RateLimits,
    install_conventions,
    paginate,
)
from cloud_api.errors import NotFoundError, install_error_handlers
from database.settings import CloudSettings

with warnings.catch_warnings():
    # Starlette 1.x asks for its httpx fork, which this environment does not install.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient as TestClient  # noqa: PLC0414 - for the tests

CURSOR_SECRET = b"conventions-test-cursor-key-0123456789"


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "conventions_test_thing"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int]


THINGS = Listing(
    resource="things",
    sort_keys={"created_at": Thing.created_at, "rank": Thing.rank},
    tie_breaker=Thing.id,
    default_sort="created_at",
    filters={"status": Filter(Thing.status), "min_rank": Filter(Thing.rank, int, "gte")},
)


class ThingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: dt.datetime
    status: str
    rank: int


def _authenticate(request: Request, x_principal: Annotated[str | None, Header()] = None) -> None:
    if x_principal is not None:
        request.state.principal_id = x_principal


def _session(request: Request) -> Session:
    session = request.app.state.session
    assert isinstance(session, Session), "this app was built without a database session"
    return session


def build_app(
    *,
    settings: CloudSettings,
    redis_url: str | None = None,
    rate_limits: RateLimits | None = None,
    session: Session | None = None,
) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_conventions(
        app,
        redis_url=redis_url if redis_url is not None else str(settings.redis_url),
        settings=settings,
        cursor_secret=CURSOR_SECRET,
        rate_limits=rate_limits,
    )

    app.state.session = session
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(_authenticate)])

    @v1.get("/things", dependencies=[Depends(RateLimit("read"))])
    def list_things(
        query: Annotated[ListQuery, Depends(ListParams(THINGS))],
        db: Annotated[Session, Depends(_session)],
    ) -> Page[ThingOut]:
        return paginate(db, select(Thing), query).map(ThingOut.model_validate)

    @v1.get("/things/{thing_id}", dependencies=[Depends(RateLimit("read"))])
    def read_thing(thing_id: int) -> dict[str, int]:
        if thing_id < 0:
            raise NotFoundError(f"no thing {thing_id}")
        return {"id": thing_id}

    @v1.post("/token", dependencies=[Depends(RateLimit("auth"))])
    async def issue_token(request: Request) -> dict[str, str]:
        form = parse_qs((await request.body()).decode())
        logger.bind(username=form["username"][0]).info("token issued")
        return {"access_token": "issued-" + uuid.uuid4().hex, "token_type": "bearer"}

    @v1.get("/boom")
    def boom() -> None:
        raise RuntimeError("the route failed")

    app.include_router(v1)
    return app


class LogCapture:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def entries(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.text.splitlines()]

    def access_lines(self) -> list[dict[str, object]]:
        return [entry for entry in self.entries() if "route" in entry and "status" in entry]
