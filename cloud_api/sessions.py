"""The request's database session: one transaction per request.

Committed when the endpoint returns and before the response is sent, rolled back when it
raises. Every domain's endpoints take ``SessionDep``; the API's tests override ``get_session``
once to run each test inside a transaction that is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed if the endpoint returns, rolled back otherwise."""
    with Session(request.app.state.engine) as session, session.begin():
        yield session


# scope="function": the transaction ends when the endpoint returns, BEFORE the response is sent,
# so a client never gets a success for a write whose commit then failed, and its next request
# sees the change. (With FastAPI's default scope for dependencies with yield, the commit would
# run after the response went out.)
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
