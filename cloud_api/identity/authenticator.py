"""Who a bearer credential stands for: an access token (a user) or an API key (a service account).

Installed on the app with ``install_authenticator`` (the composition root); ``current_principal``
calls it once per request. Every refusal is a 401 whose detail says precisely why (the token's
rejection reason, "revoked", "expired"...), never echoing the credential.

Access tokens: the signature, kid, issuer, audience and times (tokens.py), then the denylist of
signed-out tokens in Redis, then the user's row: it must exist, not be disabled, and not have
changed its password after the token was issued. The principal comes from the row, not the
token's claims, so a change of role or a disabling takes effect at the next request.

The denylist check fails closed: when Redis does not answer, the request is refused with 503
(``IdentityStoreUnavailableError``) rather than accepting a token that may have been signed out.

API keys (``rck_``): the row by its key id, the secret compared with its SHA-256 in constant
time, then not revoked, not expired, its service account not disabled, its tenant active. The
principal is the service account's, with the key's scopes only. ``last_used_at`` is written at
most once a minute per key, so a busy integration does not turn every read into a write.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.orm import Session

from cloud_api.access.actions import Action
from cloud_api.access.roles import Principal, Role
from cloud_api.errors import NotAuthenticatedError
from cloud_api.identity import repository
from cloud_api.identity.config import Identity
from cloud_api.identity.opaque_secrets import (
    MalformedSecret,
    SecretKind,
    parse_secret,
    secret_matches,
)
from cloud_api.identity.service import principal_of
from cloud_api.identity.tokens import AccessClaims, TokenRejected, verify_access_token
from database.models import TenantStatus

LAST_USED_EVERY: Final = timedelta(minutes=1)
_ACTIONS: Final = frozenset(action.value for action in Action)


class IdentityAuthenticator:
    """The app's ``Authenticator`` (cloud_api.access.dependencies)."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def authenticate(self, session: Session, credential: str, now: datetime) -> Principal:
        if credential.startswith(SecretKind.API_KEY.value):
            return self._api_key(session, credential, now)
        if credential.startswith(SecretKind.REFRESH_TOKEN.value):
            raise NotAuthenticatedError(
                "a refresh token is not a bearer credential: trade it at /v1/auth/refresh"
            )
        return self.access_token(session, credential, now)[0]

    def access_token(
        self, session: Session, credential: str, now: datetime
    ) -> tuple[Principal, AccessClaims]:
        """The principal of a valid access token, and the token's claims (for signing out)."""
        config = self.identity.tokens
        try:
            claims = verify_access_token(
                config.keys, credential, now, issuer=config.issuer, audience=config.audience
            )
        except TokenRejected as exc:
            raise NotAuthenticatedError(f"the access token is refused: {exc.reason}") from None
        if self.identity.store.is_denied(claims.token_id):
            raise NotAuthenticatedError("the access token was revoked: its session was ended")
        found = repository.user_with_tenant_slug(session, claims.principal.id)
        if found is None:
            raise NotAuthenticatedError("the access token's user does not exist")
        user, tenant = found
        if user.disabled_at is not None:
            raise NotAuthenticatedError("the access token's user is disabled")
        if claims.issued_at < user.password_changed_at:
            raise NotAuthenticatedError(
                "the access token was issued before the user's password changed"
            )
        return principal_of(user, tenant), claims

    def _api_key(self, session: Session, credential: str, now: datetime) -> Principal:
        try:
            presented = parse_secret(credential, SecretKind.API_KEY)
        except MalformedSecret as exc:
            raise NotAuthenticatedError(f"the API key is malformed ({exc.reason})") from None
        found = repository.api_key_with_owner(session, presented.key_id)
        if not secret_matches(presented, found[0].secret_hash if found is not None else None):
            raise NotAuthenticatedError("the API key is not known")
        assert found is not None  # noqa: S101 - secret_matches is False without a row
        key, account, tenant = found
        if key.revoked_at is not None:
            raise NotAuthenticatedError("the API key was revoked")
        if now >= key.expires_at:
            raise NotAuthenticatedError("the API key expired")
        if account.disabled_at is not None:
            raise NotAuthenticatedError("the API key's service account is disabled")
        if tenant.status != TenantStatus.ACTIVE.value:
            raise NotAuthenticatedError("the API key's tenant is suspended")
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
            repository.touch_api_key(session, key.id, now)
        scopes = frozenset(Action(scope) for scope in key.scopes if scope in _ACTIONS)
        return Principal(account.id, Role.SERVICE, tenant.slug, scopes)
