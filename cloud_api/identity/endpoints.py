"""/v1/auth (sign in, refresh, sign out, me, password) and /v1/users: thin endpoints.

POST /v1/users takes an ``Idempotency-Key`` (its generated password withheld from the stored
reply). The /v1/auth routes take none, on purpose: their replies are credentials. A replayed
sign-in or refresh would hand the same tokens to whoever repeats the request (a refresh token
is single use: replaying its successor defeats reuse detection), and a stored reply would keep
live tokens in ``idempotency_keys``; redacting them would leave nothing worth replaying. A
client whose sign-in timed out signs in again; one whose refresh timed out refreshes with the
token it has, and reuse detection decides.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import PrincipalDep, Require, bearer
from cloud_api.access.roles import Principal, Role
from cloud_api.conventions import (
    Filter,
    IdempotencyDep,
    Listing,
    ListParams,
    ListQuery,
    Page,
    paginate,
)
from cloud_api.conventions.ratelimit import AuthLimit, ReadLimit, WriteLimit
from cloud_api.errors import UnprocessableError, problem_response, problem_responses
from cloud_api.identity import repository, service, sign_in
from cloud_api.identity.authenticator import IdentityAuthenticator
from cloud_api.identity.config import Identity
from cloud_api.identity.opaque_secrets import SecretKind
from cloud_api.identity.schemas import (
    LogoutRequest,
    MeOut,
    PasswordChange,
    PrincipalOut,
    RefreshRequest,
    TokenPair,
    UserCreate,
    UserCreated,
    UserOut,
    UserPatch,
)
from cloud_api.sessions import SessionDep
from database.models import Tenant, User, UserRole

auth_router = APIRouter(prefix="/v1/auth", tags=["auth"])
users_router = APIRouter(prefix="/v1/users", tags=["users"])


USERS = Listing(
    resource="users",
    sort_keys={"created_at": User.created_at, "email": User.email},
    tie_breaker=User.id,
    default_sort="created_at",
    filters={"role": Filter(User.role, UserRole), "tenant": Filter(Tenant.slug)},
)


def get_identity(request: Request) -> Identity:
    identity = getattr(request.app.state, "identity", None)
    if not isinstance(identity, Identity):
        raise RuntimeError("no identity on the app: create_app installs it")
    return identity


IdentityDep = Annotated[Identity, Depends(get_identity)]


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _now() -> datetime:
    return datetime.now(UTC)


@auth_router.post("/token", responses=problem_responses(401))
def issue_token(
    request: Request,
    _limit: AuthLimit,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    identity: IdentityDep,
) -> TokenPair:
    """Sign in with the OAuth2 password form: ``username`` is the email."""
    return sign_in.sign_in(
        session,
        identity,
        email=form.username,
        password=form.password,
        address=_address(request),
        now=_now(),
    )


@auth_router.post("/refresh", response_model=TokenPair, responses=problem_responses(401))
def refresh_token(
    request: Request,
    _limit: AuthLimit,
    body: RefreshRequest,
    session: SessionDep,
    identity: IdentityDep,
) -> TokenPair | JSONResponse:
    """Trade a refresh token (single use) for a new pair; a reused one ends its session."""
    outcome = sign_in.refresh(session, identity, refresh_token=body.refresh_token, now=_now())
    if isinstance(outcome, sign_in.RefreshRefused):  # returned: the revocation must commit
        # Returned, not raised: a raised error would roll back the revocation of the family.
        return problem_response(request, outcome.error)
    return outcome


@auth_router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 422)
)
def logout(
    principal: PrincipalDep,
    _limit: WriteLimit,
    credential: Annotated[str | None, Depends(bearer)],
    session: SessionDep,
    identity: IdentityDep,
    body: LogoutRequest | None = None,
) -> None:
    """End the session: the access token is refused from now on; the refresh token's family
    (if given) is revoked."""
    if credential is None or credential.startswith(SecretKind.API_KEY.value):
        raise UnprocessableError("an API key has no session to end: an admin revokes the key")
    now = _now()
    _, claims = IdentityAuthenticator(identity).access_token(session, credential, now)
    sign_in.sign_out(
        session,
        identity,
        principal,
        claims,
        refresh_token=body.refresh_token if body is not None else None,
        now=now,
    )


@auth_router.get("/me", responses=problem_responses(401))
def me(principal: PrincipalDep, _limit: ReadLimit, session: SessionDep) -> MeOut:
    """Who the credential stands for, and the user (null for a service account)."""
    user = None if principal.role is Role.SERVICE else repository.user_by_id(session, principal.id)
    described = service.describe(session, [user])[0] if user is not None else None
    return MeOut(principal=PrincipalOut.of(principal), user=described)


@auth_router.post("/password", responses=problem_responses(401, 403, 422))
def change_password(
    request: Request,
    principal: PrincipalDep,
    _limit: AuthLimit,
    body: PasswordChange,
    session: SessionDep,
    identity: IdentityDep,
) -> TokenPair:
    """Change one's own password: every session ends; the new pair continues this one."""
    if principal.role is Role.SERVICE:
        raise UnprocessableError("a service account has no password")
    return sign_in.change_password(
        session,
        identity,
        principal,
        current_password=body.current_password,
        new_password=body.new_password,
        address=_address(request),
        now=_now(),
    )


@users_router.get("")
def list_users(
    _principal: Annotated[Principal, Depends(Require(Action.USERS_READ))],
    _limit: ReadLimit,
    query: Annotated[ListQuery, Depends(ListParams(USERS))],
    session: SessionDep,
) -> Page[UserOut]:
    """Users, a keyset page at a time; filters ``role`` and ``tenant`` (slug)."""
    page = paginate(session, repository.users(), query)
    return Page[UserOut](
        items=service.describe(session, page.items),
        next_cursor=page.next_cursor,
        limit=page.limit,
    )


@users_router.post(
    "", status_code=status.HTTP_201_CREATED, responses=problem_responses(404, 409, 422)
)
def create_user(
    principal: Annotated[Principal, Depends(Require(Action.USERS_CREATE))],
    _limit: WriteLimit,
    body: UserCreate,
    session: SessionDep,
    response: Response,
    idempotency: IdempotencyDep,
) -> UserCreated:
    """A new user; its generated password is in this response only (a retry with the same
    Idempotency-Key answers null in its place, and Idempotent-Redacted: initial_password)."""

    def write() -> UserCreated:
        password = service.generate_password()
        user = service.create_user(
            session,
            principal,
            email=body.email,
            full_name=body.full_name,
            role=body.role,
            tenant=body.tenant,
            password=password,
            now=_now(),
        )
        response.headers["ETag"] = service.etag(user)
        response.headers["Location"] = f"/v1/users/{user.id}"
        described = service.describe(session, [user])[0]
        return UserCreated(**described.model_dump(), initial_password=password)

    return idempotency.run(write, status_code=status.HTTP_201_CREATED, redact=("initial_password",))


@users_router.get("/{user_id}")
def read_user(
    _principal: Annotated[Principal, Depends(Require(Action.USERS_READ))],
    _limit: ReadLimit,
    user_id: uuid.UUID,
    session: SessionDep,
    response: Response,
) -> UserOut:
    user = service.get_user(session, user_id)
    response.headers["ETag"] = service.etag(user)
    return service.describe(session, [user])[0]


@users_router.patch("/{user_id}", responses=problem_responses(409, 412, 422, 428))
def update_user(
    *,
    principal: Annotated[Principal, Depends(Require(Action.USERS_UPDATE))],
    _limit: WriteLimit,
    user_id: uuid.UUID,
    body: UserPatch,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> UserOut:
    """Change a user; If-Match must carry its current ETag (428 without, 412 when stale)."""
    version = service.expected_version(if_match)
    changes = body.model_dump(include=body.model_fields_set)
    user = service.update_user(session, principal, user_id, changes, version=version, now=_now())
    response.headers["ETag"] = service.etag(user)
    return service.describe(session, [user])[0]


@users_router.post("/{user_id}/disable", responses=problem_responses(409))
def disable_user(
    principal: Annotated[Principal, Depends(Require(Action.USERS_DISABLE))],
    _limit: WriteLimit,
    user_id: uuid.UUID,
    session: SessionDep,
    response: Response,
) -> UserOut:
    """Disable a user: no more sign-in; its tokens stop working at once."""
    user = service.disable_user(session, principal, user_id, _now())
    response.headers["ETag"] = service.etag(user)
    return service.describe(session, [user])[0]
