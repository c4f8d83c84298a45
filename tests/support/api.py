"""The API under test: the real application on the real database, inside the test's
rolled-back transaction (FastAPI's dependency overrides, as docs/NOTES ask: no database clone
per test).

``ApiHarness.client(principal)`` is a TestClient whose requests act as that principal (the
override of ``current_principal``); ``client()`` with no principal goes through the real
authentication (bearer tokens, API keys). Seed data goes through ``harness.session``: the
endpoints see it, and everything is rolled back after the test.
"""

from __future__ import annotations

import contextlib
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi import FastAPI, Request
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from cloud_api.access.dependencies import current_principal
from cloud_api.access.roles import Principal, Role
from cloud_api.sessions import Transactions, get_session
from database.models import Tenant

PRINCIPAL_HEADER = "X-Test-Principal"
T = TypeVar("T")

with warnings.catch_warnings():
    # Starlette 1.x asks for its httpx fork, which this environment does not install.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@dataclass
class ApiHarness:
    app: FastAPI
    session: Session
    _clients: list[TestClient] = field(default_factory=list)
    _principals: dict[str, Principal] = field(default_factory=dict)

    def install_session(self) -> None:
        def test_session() -> Iterator[Session]:
            # A savepoint per request: rolled back if the endpoint raises, as a real
            # request's transaction would be; the test's transaction is rolled back at the end.
            with self.session.begin_nested():
                yield self.session

        self.app.dependency_overrides[get_session] = test_session

    def client(self, principal: Principal | None = None) -> TestClient:
        """A client acting as ``principal``, or authenticating for real when it is None."""
        if principal is None:
            self.app.dependency_overrides.pop(current_principal, None)
            client = TestClient(self.app, raise_server_exceptions=True)
        else:
            # Each client acts as its own principal, named by a header only this harness
            # reads: two clients of one test do not take each other's identity.
            key = str(len(self._principals))
            self._principals[key] = principal
            principals = self._principals

            def acting_as(request: Request) -> Principal:
                chosen = principals[request.headers.get(PRINCIPAL_HEADER, key)]
                request.state.principal = chosen  # as current_principal does
                return chosen

            self.app.dependency_overrides[current_principal] = acting_as
            client = TestClient(
                self.app, raise_server_exceptions=True, headers={PRINCIPAL_HEADER: key}
            )
        self._clients.append(client)
        return client

    def tenant(self, slug: str, name: str | None = None) -> Tenant:
        """The tenant of this slug, created if new."""
        tenant = self.session.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            tenant = Tenant(slug=slug, name=name or slug.title())
            self.session.add(tenant)
            self.session.flush()
        return tenant

    def statements(self, call: Callable[[], T]) -> tuple[T, int]:
        """What ``call`` returns, and how many statements the database was sent meanwhile
        (to show a page costs the same queries whatever its size)."""
        sent = 0

        def count(*_args: object) -> None:
            nonlocal sent
            sent += 1

        connection = self.session.connection()
        event.listen(connection, "before_cursor_execute", count)
        try:
            return call(), sent
        finally:
            event.remove(connection, "before_cursor_execute", count)

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.app.dependency_overrides.clear()


def principal(role: Role, tenant: str | None = None, *scopes: str) -> Principal:
    """A principal of this role (a fresh id), in ``tenant`` unless it is staff."""
    from cloud_api.access.actions import Action

    return Principal(
        id=uuid.uuid4(),
        role=role,
        tenant=None if role.is_staff else tenant,
        scopes=frozenset(Action(scope) for scope in scopes),
    )


def savepoints(session: Session) -> Transactions:
    """A job's transactions as savepoints of the test's own session (rolled back with it)."""

    @contextlib.contextmanager
    def transaction() -> Iterator[Session]:
        with session.begin_nested():
            yield session

    return transaction
