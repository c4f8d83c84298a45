"""Access tokens: short-lived JWTs signed with ES256, and their verification.

One algorithm only, ES256 (ECDSA on P-256 with SHA-256): the header's ``alg`` is compared with
it before anything else, so ``none``, HS256 keyed with the public key (key confusion) and every
other algorithm are refused before python-jose is asked to verify, and jose itself is told
``algorithms=[ES256]``. The header's ``kid`` picks the public key; an unknown kid is refused
before any verification. ``TokenKeys`` holds the active signing key and the public keys of
retired ones, so tokens signed before a rotation stay valid until they expire.

python-jose's ``jwt.decode`` compares exp and nbf with the wall clock (there is no way to pass
the time in) and checks only the type of iat. So the signature is verified with ``jws.verify``,
and every claim is checked here against the time the caller passes: no hidden clock, and each
refusal has its own reason.

Every refusal raises ``TokenRejected`` whose ``reason`` is machine-readable: malformed,
algorithm_not_allowed, wrong_type, missing_key_id, unexpected_header:<name>, unknown_key,
bad_signature, missing_claim:<name>, invalid_claim:<name>, wrong_issuer, wrong_audience,
expired, not_yet_valid, issued_in_future.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import JWSError, JWTError, jwk, jws, jwt
from jose.backends.base import Key
from jose.constants import ALGORITHMS

from cloud_api.access.actions import Action
from cloud_api.access.roles import Principal, Role

ES256: Final = ALGORITHMS.ES256
JWT_TYP: Final = "at+jwt"  # RFC 9068: an access token, not any other JWT
DEFAULT_LEEWAY: Final = timedelta(seconds=30)  # clock skew between API instances
MAX_TOKEN_CHARS: Final = 8192
_HEADERS: Final = frozenset({"alg", "typ", "kid"})
_LATEST_EPOCH: Final = 253_402_300_800  # 10000-01-01: beyond, datetime cannot represent it
_T = TypeVar("_T")


class TokenRejected(Exception):  # noqa: N818 - the domain's word: a rejected token
    """The token is not accepted; ``reason`` says why (see the module docstring)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _p256_public_pem(key: ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _check_kid(kid: str) -> None:
    if not kid or len(kid) > 128 or not kid.isascii() or not kid.isprintable():
        raise ValueError("a key id is 1 to 128 printable ASCII characters")


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """The public half of a signing key: verifies tokens, never signs."""

    kid: str
    public_pem: str

    def __post_init__(self) -> None:
        _check_kid(self.kid)
        key = serialization.load_pem_public_key(self.public_pem.encode())
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise ValueError(f"key {self.kid} is not an EC P-256 public key")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The active key: a kid and its EC P-256 private key (PKCS#8 PEM, unencrypted)."""

    kid: str
    private_pem: str = field(repr=False)
    public_pem: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_kid(self.kid)
        key = serialization.load_pem_private_key(self.private_pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError(f"key {self.kid} is not an EC P-256 private key")
        object.__setattr__(self, "public_pem", _p256_public_pem(key.public_key()))

    def verification_key(self) -> VerificationKey:
        return VerificationKey(self.kid, self.public_pem)


@dataclass(frozen=True, slots=True)
class TokenKeys:
    """The signing key, and the retired keys whose tokens are still accepted (by kid)."""

    signing: SigningKey
    retired: tuple[VerificationKey, ...] = ()
    _signer: Key = field(init=False, repr=False, compare=False)
    _verifiers: Mapping[str, Key] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        public = (self.signing.verification_key(), *self.retired)
        kids = [key.kid for key in public]
        if len(set(kids)) != len(kids):
            raise ValueError(f"two keys share a kid: {kids}")
        verifiers = {key.kid: jwk.construct(key.public_pem, ES256) for key in public}
        object.__setattr__(self, "_signer", jwk.construct(self.signing.private_pem, ES256))
        object.__setattr__(self, "_verifiers", MappingProxyType(verifiers))

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._verifiers)

    def signer(self) -> Key:
        return self._signer

    def verifier(self, kid: str) -> Key | None:
        return self._verifiers.get(kid)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified (or just issued) access token says."""

    principal: Principal
    issuer: str
    audience: str
    issued_at: datetime
    not_before: datetime
    expires_at: datetime
    token_id: uuid.UUID
    key_id: str

    def to_jwt(self) -> dict[str, Any]:
        return {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(self.principal.id),
            "exp": _epoch(self.expires_at),
            "iat": _epoch(self.issued_at),
            "nbf": _epoch(self.not_before),
            "jti": str(self.token_id),
            "role": self.principal.role.value,
            "tenant": self.principal.tenant,
            "scopes": sorted(scope.value for scope in self.principal.scopes),
        }


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return int(moment.timestamp())


def _moment(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def generate_signing_key(kid: str | None = None) -> SigningKey:
    """A new EC P-256 key; its kid is the RFC 7638 JWK thumbprint unless one is given."""
    private = ec.generate_private_key(ec.SECP256R1())
    kid = jwk_thumbprint(private.public_key()) if kid is None else kid
    return SigningKey(kid, private_key_pem(private))


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    """The key as unencrypted PKCS#8 PEM, the form ``SigningKey`` and the key files hold."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def jwk_thumbprint(key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638: SHA-256 of the key's required JWK members, in canonical JSON, base64url."""
    numbers = key.public_numbers()

    def b64(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()

    canonical = f'{{"crv":"P-256","kty":"EC","x":"{b64(numbers.x)}","y":"{b64(numbers.y)}"}}'
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_access_token(
    keys: TokenKeys,
    principal: Principal,
    now: datetime,
    ttl: timedelta,
    *,
    issuer: str,
    audience: str,
) -> tuple[str, AccessClaims]:
    """Sign an access token for the principal with the active key, valid from now for ttl."""
    if ttl < timedelta(seconds=1):
        raise ValueError("an access token lives at least a second")
    issued_at = _moment(_epoch(now))
    claims = AccessClaims(
        principal=principal,
        issuer=issuer,
        audience=audience,
        issued_at=issued_at,
        not_before=issued_at,
        expires_at=issued_at + timedelta(seconds=int(ttl.total_seconds())),
        token_id=uuid.uuid4(),
        key_id=keys.signing.kid,
    )
    headers = {"kid": keys.signing.kid, "typ": JWT_TYP}
    token = jwt.encode(claims.to_jwt(), keys.signer(), algorithm=ES256, headers=headers)
    return token, claims


def _header(token: str) -> dict[str, Any]:
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRejected("malformed")
    try:  # parses the whole token: header, payload and signature segments
        header = jwt.get_unverified_header(token)
    except JWTError:
        raise TokenRejected("malformed") from None
    if header.get("alg") != ES256:
        raise TokenRejected("algorithm_not_allowed")
    if header.get("typ") != JWT_TYP:
        raise TokenRejected("wrong_type")
    if not isinstance(header.get("kid"), str):
        raise TokenRejected("missing_key_id")
    unexpected = sorted(set(header) - _HEADERS)  # crit, jku, jwk, x5u...: nothing we honour
    if unexpected:
        raise TokenRejected(f"unexpected_header:{unexpected[0]}")
    return header


def _signed_payload(keys: TokenKeys, token: str) -> tuple[str, dict[str, Any]]:
    kid: str = _header(token)["kid"]
    verifier = keys.verifier(kid)
    if verifier is None:
        raise TokenRejected("unknown_key")
    try:
        payload = jws.verify(token, verifier, algorithms=[ES256])
    except JWSError:  # the token parsed above, so only the signature can be wrong here
        raise TokenRejected("bad_signature") from None
    try:
        claims = json.loads(payload)
    except ValueError:
        raise TokenRejected("malformed") from None
    if not isinstance(claims, dict):
        raise TokenRejected("malformed")
    return kid, claims


def _claim(claims: Mapping[str, Any], name: str, kind: type[_T]) -> _T:
    if name not in claims:
        raise TokenRejected(f"missing_claim:{name}")
    value = claims[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TokenRejected(f"invalid_claim:{name}")
    return value


def _time_claim(claims: Mapping[str, Any], name: str) -> int:
    value = _claim(claims, name, int)
    if not 0 <= value < _LATEST_EPOCH:
        raise TokenRejected(f"invalid_claim:{name}")
    return value


def _principal(claims: Mapping[str, Any]) -> Principal:
    try:
        subject = uuid.UUID(_claim(claims, "sub", str))
    except ValueError:
        raise TokenRejected("invalid_claim:sub") from None
    try:
        role = Role(_claim(claims, "role", str))
    except ValueError:
        raise TokenRejected("invalid_claim:role") from None
    if "tenant" not in claims:
        raise TokenRejected("missing_claim:tenant")
    tenant = claims["tenant"]
    if tenant is not None and not isinstance(tenant, str):
        raise TokenRejected("invalid_claim:tenant")
    scope_values = _claim(claims, "scopes", list)
    try:
        scopes = frozenset(Action(value) for value in scope_values)
    except ValueError:
        raise TokenRejected("invalid_claim:scopes") from None
    if scopes and role is not Role.SERVICE:
        raise TokenRejected("invalid_claim:scopes")
    try:
        return Principal(subject, role, tenant, scopes)
    except ValueError:  # staff with a tenant, or a tenant's principal without one
        raise TokenRejected("invalid_claim:tenant") from None


def verify_access_token(
    keys: TokenKeys,
    token: str,
    now: datetime,
    *,
    issuer: str,
    audience: str,
    leeway: timedelta = DEFAULT_LEEWAY,
) -> AccessClaims:
    """The claims of a valid access token; raises TokenRejected(reason) for any other."""
    kid, claims = _signed_payload(keys, token)
    principal = _principal(claims)
    if _claim(claims, "iss", str) != issuer:
        raise TokenRejected("wrong_issuer")
    if _claim(claims, "aud", str) != audience:
        raise TokenRejected("wrong_audience")
    try:
        token_id = uuid.UUID(_claim(claims, "jti", str))
    except ValueError:
        raise TokenRejected("invalid_claim:jti") from None
    expires, not_before, issued = (_time_claim(claims, name) for name in ("exp", "nbf", "iat"))
    current, slack = _epoch(now), int(leeway.total_seconds())
    if current >= expires + slack:
        raise TokenRejected("expired")
    if current + slack < not_before:
        raise TokenRejected("not_yet_valid")
    if current + slack < issued:
        raise TokenRejected("issued_in_future")
    return AccessClaims(
        principal=principal,
        issuer=issuer,
        audience=audience,
        issued_at=_moment(issued),
        not_before=_moment(not_before),
        expires_at=_moment(expires),
        token_id=token_id,
        key_id=kid,
    )
