"""What a protected route declares: ``principal: Annotated[Principal, Depends(Require(A.X))]``.

``current_principal`` reads the bearer credential (an access JWT, or a service account's
``rck_`` API key) and asks the app's ``Authenticator`` who it is. The identity domain provides
the authenticator (``install_authenticator`` in the composition root), so this shared module
depends on no domain. ``Require(action)`` then checks the permission table: a role that may not
perform the action at all gets 403. Which tenant's objects the principal may touch is the
services' business (``permissions.tenant_scope``): another tenant's object answers 404.

Every route that is not public declares exactly one ``Require``; the route-walking test reads
it from the route to know what each role must be answered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Protocol

from fastapi import Depends, FastAPI, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from cloud_api.access.actions import Action
from cloud_api.access.permissions import is_allowed
from cloud_api.access.roles import Principal
from cloud_api.errors import ForbiddenError, NotAuthenticatedError
from cloud_api.sessions import SessionDep

TOKEN_URL = "/v1/auth/token"  # noqa: S105 - a path


class Authenticator(Protocol):
    def authenticate(self, session: Session, credential: str, now: datetime) -> Principal:
        """The principal the credential stands for; NotAuthenticatedError if none."""
        ...


bearer = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    scheme_name="bearer",
    description="An access token from /v1/auth/token, or a service account's API key (rck_...).",
)


def install_authenticator(app: FastAPI, authenticator: Authenticator) -> None:
    app.state.authenticator = authenticator


def current_principal(
    request: Request,
    session: SessionDep,
    credential: Annotated[str | None, Depends(bearer)],
) -> Principal:
    """Who the request acts as; 401 without a credential or with one that is not accepted."""
    if not credential:
        raise NotAuthenticatedError("a bearer credential is required", error="invalid_request")
    authenticator: Authenticator | None = getattr(request.app.state, "authenticator", None)
    if authenticator is None:
        raise RuntimeError("no authenticator on the app: call install_authenticator(app, ...)")
    principal = authenticator.authenticate(session, credential, datetime.now(UTC))
    request.state.principal = principal  # the rate limiter charges the principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


class Require:
    """``Depends(Require(Action.ROBOTS_READ))``: the principal, if its role may do the action."""

    def __init__(self, action: Action) -> None:
        self.action = action

    async def __call__(self, principal: PrincipalDep) -> Principal:
        if not is_allowed(principal, self.action):
            raise ForbiddenError(f"a {principal.role} may not {self.action}")
        return principal

    def __repr__(self) -> str:
        return f"Require({self.action.value!r})"
