"""What identity keeps in Redis: failed sign-ins (for backoff and lockout) and signed-out tokens.

Failure states are kept per email and, separately, per client address (``lockout.py`` decides
from them); each key expires when its state would be forgotten anyway. A failure is recorded
under WATCH/MULTI, so concurrent failures all count. The denylist holds the ``jti`` of each
access token that was signed out, until the token would have expired.

Redis away: every method raises ``IdentityStoreUnavailableError`` (503). Sign-in and the
denylist check both fail closed: an attacker able to stop Redis must gain neither unlimited
password guesses nor the use of a signed-out token.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

import redis

from cloud_api.errors import ServiceUnavailableError
from cloud_api.identity.lockout import (
    CLEAN,
    AttemptDecision,
    FailureState,
    LockoutPolicy,
    decide,
    record_failure,
)

STORE_TIMEOUT_S: Final = 0.5
KEY_PREFIX: Final = "robocover-identity"
_WATCH_RETRIES: Final = 5
Subject = Literal["email", "address"]


class IdentityStoreUnavailableError(ServiceUnavailableError):
    """Redis did not answer; sign-in and token checks refuse rather than guess."""

    def __init__(self) -> None:
        super().__init__(
            "the session store is unavailable; try again shortly", headers={"Retry-After": "1"}
        )


def _dump(state: FailureState) -> str:
    def moment(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return json.dumps(
        {
            "failures": state.failures,
            "first": moment(state.first_failure_at),
            "last": moment(state.last_failure_at),
            "locked_until": moment(state.locked_until),
        }
    )


def _load(raw: bytes | str | None) -> FailureState:
    if raw is None:
        return CLEAN
    fields = json.loads(raw)

    def moment(name: str) -> datetime | None:
        value = fields.get(name)
        return datetime.fromisoformat(value) if value is not None else None

    return FailureState(
        failures=int(fields["failures"]),
        first_failure_at=moment("first"),
        last_failure_at=moment("last"),
        locked_until=moment("locked_until"),
    )


@dataclass(frozen=True, slots=True)
class SignInPolicies:
    """One policy per email, a more lenient one per client address (many people share one)."""

    email: LockoutPolicy
    address: LockoutPolicy

    def of(self, subject: Subject) -> LockoutPolicy:
        return self.email if subject == "email" else self.address


class IdentityStore:
    """Redis, for identity. No connection is made until the first call."""

    def __init__(
        self, *, redis_url: str, key_prefix: str = KEY_PREFIX, timeout_s: float = STORE_TIMEOUT_S
    ) -> None:
        self._redis = redis.Redis.from_url(
            redis_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._prefix = key_prefix

    def close(self) -> None:
        self._redis.close()

    def _failure_key(self, subject: Subject, value: str) -> str:
        # Hashed: the keys of the store then hold no email address.
        digest = hashlib.sha256(value.encode()).hexdigest()[:32]
        return f"{self._prefix}:failures:{subject}:{digest}"

    def decision(
        self, policy: LockoutPolicy, subject: Subject, value: str, now: datetime
    ) -> AttemptDecision:
        """Whether a sign-in for this email (or from this address) may be attempted now."""
        try:
            raw = self._redis.get(self._failure_key(subject, value))
        except (redis.RedisError, OSError) as exc:
            raise IdentityStoreUnavailableError from exc
        return decide(policy, _load(raw), now)

    def record_failure(
        self, policy: LockoutPolicy, subject: Subject, value: str, now: datetime
    ) -> FailureState:
        key = self._failure_key(subject, value)
        ttl = policy.window + policy.lock_for
        try:
            with self._redis.pipeline() as pipe:
                for _ in range(_WATCH_RETRIES):
                    try:
                        pipe.watch(key)  # type: ignore[no-untyped-call] # redis-py leaves it untyped
                        state = record_failure(policy, _load(pipe.get(key)), now)
                        pipe.multi()
                        pipe.set(key, _dump(state), ex=ttl)
                        pipe.execute()
                        return state
                    except redis.WatchError:
                        continue
        except (redis.RedisError, OSError) as exc:
            raise IdentityStoreUnavailableError from exc
        raise IdentityStoreUnavailableError  # contended beyond reason: refuse, do not guess

    def clear(self, subject: Subject, value: str) -> None:
        try:
            self._redis.delete(self._failure_key(subject, value))
        except (redis.RedisError, OSError) as exc:
            raise IdentityStoreUnavailableError from exc

    def _denied_key(self, token_id: uuid.UUID) -> str:
        return f"{self._prefix}:denied:{token_id.hex}"

    def deny(self, token_id: uuid.UUID, expires_at: datetime, now: datetime) -> None:
        """Refuse this access token from now until it expires (plus a minute of clock skew)."""
        seconds = max(1, math.ceil((expires_at - now + timedelta(minutes=1)).total_seconds()))
        try:
            self._redis.set(self._denied_key(token_id), b"1", ex=seconds)
        except (redis.RedisError, OSError) as exc:
            raise IdentityStoreUnavailableError from exc

    def is_denied(self, token_id: uuid.UUID) -> bool:
        """Whether the token was signed out. Fails closed: Redis away raises (503)."""
        try:
            return bool(self._redis.exists(self._denied_key(token_id)))
        except (redis.RedisError, OSError) as exc:
            raise IdentityStoreUnavailableError from exc
