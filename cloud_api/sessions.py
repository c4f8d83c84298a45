"""The request's database session: one transaction per request.

Committed when the endpoint returns and before the response is sent, rolled back when it
raises. Every domain's endpoints take ``SessionDep``; the API's tests override ``get_session``
once to run each test inside a transaction that is rolled back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
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


Transactions = Callable[[], AbstractContextManager[Session]]
"""Opens a transaction and yields its session: the jobs' way to run one unit of work after
another outside any request (``engine_transactions``; a test's savepoints instead)."""


def engine_transactions(engine: Engine) -> Transactions:
    """A new session on ``engine`` per transaction, committed when the block ends."""

    @contextlib.contextmanager
    def transaction() -> Iterator[Session]:
        with Session(engine) as session, session.begin():
            yield session

    return transaction
