"""Identity's configuration, built once from the API's settings in the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cloud_api.identity.lockout import LockoutPolicy
from cloud_api.identity.store import IdentityStore, SignInPolicies
from cloud_api.identity.tokens import SigningKey, TokenKeys, VerificationKey
from cloud_api.settings import ApiSettings

# Many people may sign in from one address (an office, a proxy): its policy tolerates ten
# times the failures an email does before backoff and lockout.
ADDRESS_FACTOR = 10


@dataclass(frozen=True, slots=True)
class TokenConfig:
    keys: TokenKeys
    issuer: str
    audience: str
    access_ttl: timedelta
    refresh_ttl: timedelta


@dataclass(frozen=True, slots=True)
class Identity:
    """Everything the identity domain needs beyond the request's session."""

    tokens: TokenConfig
    store: IdentityStore
    policies: SignInPolicies


def token_config(settings: ApiSettings) -> TokenConfig:
    """The signing key and the retired keys; a malformed key fails here, when the app is built."""
    signing = SigningKey(settings.jwt_key_id, settings.jwt_signing_key.get_secret_value())
    retired = tuple(
        VerificationKey(key.kid, key.public_pem) for key in settings.jwt_retired_public_keys
    )
    return TokenConfig(
        keys=TokenKeys(signing, retired),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_ttl=timedelta(seconds=settings.access_token_ttl_s),
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_s),
    )


def sign_in_policies(settings: ApiSettings) -> SignInPolicies:
    lock_for = timedelta(minutes=settings.sign_in_lock_minutes)
    email = LockoutPolicy(
        free_failures=settings.sign_in_free_failures,
        lock_after=settings.sign_in_lock_after,
        window=lock_for,
        lock_for=lock_for,
    )
    address = LockoutPolicy(
        free_failures=settings.sign_in_free_failures * ADDRESS_FACTOR,
        lock_after=settings.sign_in_lock_after * ADDRESS_FACTOR,
        window=lock_for,
        lock_for=lock_for,
    )
    return SignInPolicies(email=email, address=address)


def build_identity(settings: ApiSettings) -> Identity:
    """Nothing connects here: the Redis client connects on its first command."""
    store = IdentityStore(redis_url=str(settings.redis_url))
    return Identity(token_config(settings), store, sign_in_policies(settings))
