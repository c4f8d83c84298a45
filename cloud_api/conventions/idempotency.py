"""Idempotent retries of writes: the ``Idempotency-Key`` header (IETF draft
httpapi-idempotency-key-header).

A client that retries a write (a timeout, a dropped connection) sends the same
``Idempotency-Key``; the API does the write once and answers every retry with the first reply
(and ``Idempotent-Replayed: true``). The key is the caller's: it is scoped to the principal, so
two callers' keys never meet.

How it holds under concurrency and crashes: the key's row is claimed with
``INSERT ... ON CONFLICT DO NOTHING`` in the request's own transaction, before the write, and
the reply is stored in that same transaction. The write and its reply commit together or not at
all. A concurrent retry blocks on the claimed row's unique index until the first commits, then
finds the reply and replays it; if the first rolled back, the retry claims the key and does the
write itself. No write happens twice, and no reply is lost.

The same key with another request (method, path or body differ) is a client bug: 422, nothing
done. Keys live ``TTL`` (24 h); an expired key is claimed afresh.

Secrets in a reply (a generated password, an API key, an enrollment token) are shown once: the
route names them in ``redact``, and the STORED reply holds None in their place. The first answer
carries them; a replay answers None and says so in ``Idempotent-Redacted`` (the fields withheld,
comma-separated), so ``idempotency_keys`` never holds a secret and no retry hands one out twice.
A client that lost the first answer rotates the secret.

Expired rows are purged as keys are claimed: each claim deletes up to ``PURGE_BATCH`` expired rows
of any principal (``FOR UPDATE SKIP LOCKED``: never waiting on, or for, another request), so
the table stays bounded by the keys of the last ``TTL`` while writes with keys keep coming.
``purge_expired`` is the same delete, for ``robocover purge-idempotency-keys`` (a cron job, or
after a quiet spell). Not a Celery beat task: the risk engine's worker sits below the API in the
layers and may not import it, and a second scheduler for one DELETE is more to run than it saves.

Usage, on a write route (after the dependency that authenticates)::

    def create(..., idempotency: IdempotencyDep) -> KeyOut:
        return idempotency.run(lambda: do_the_write(), status_code=201, redact={"secret"})

A replay repeats the first reply's status, body and its ``STORED_HEADERS`` (``Location``,
``ETag``), set by the route on its ``Response`` inside ``write``.

``install_conventions`` registers the handler that renders a replayed reply.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, TypeVar

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from cloud_api.errors import UnprocessableError
from cloud_api.sessions import SessionDep
from database.models import IdempotencyKey

TTL: Final = timedelta(hours=24)
MAX_KEY_CHARS: Final = 255
REPLAYED_HEADER: Final = "Idempotent-Replayed"
REDACTED_HEADER: Final = "Idempotent-Redacted"
PURGE_BATCH: Final = 100
# Headers of the first reply a replay answers too (the route sets them on its Response).
STORED_HEADERS: Final = ("Location", "ETag", "Content-Location")
_T = TypeVar("_T")


class IdempotencyKeyReusedError(UnprocessableError):
    title = "Idempotency key reused"


class ReplayedReply(Exception):  # noqa: N818 - not an error: the first reply, answered again
    """Raised by ``Idempotency.run`` to answer a retry with the stored reply; rendered by the
    handler ``install_idempotency`` registers. (Raised, so the endpoint's return type stays its
    model; the request's transaction rolls back, and it wrote nothing.)"""

    def __init__(self, status_code: int, body: Any, headers: dict[str, str]) -> None:
        super().__init__(f"replayed reply {status_code}")
        self.status_code = status_code
        self.body = body
        self.headers = headers


async def render_replay(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ReplayedReply)  # noqa: S101 - registered for it only
    return JSONResponse(
        status_code=exc.status_code,
        content=exc.body,
        headers={**exc.headers, REPLAYED_HEADER: "true"},
    )


def install_idempotency(app: FastAPI) -> None:
    app.add_exception_handler(ReplayedReply, render_replay)


def request_digest(method: str, path: str, body: bytes) -> bytes:
    """SHA-256 of what makes two requests the same: method, path with query, body."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def purge_expired(session: Session, now: datetime, *, limit: int = PURGE_BATCH) -> int:
    """Delete up to ``limit`` keys expired at ``now`` (rows another transaction holds are
    skipped, not waited for); the number deleted. In the caller's transaction."""
    expired = (
        select(IdempotencyKey.principal_id, IdempotencyKey.key)
        .where(IdempotencyKey.expires_at <= now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    deleted = session.execute(
        delete(IdempotencyKey)
        .where(tuple_(IdempotencyKey.principal_id, IdempotencyKey.key).in_(expired))
        .returning(IdempotencyKey.key)
    ).all()
    return len(deleted)


def _redacted(reply: Any, redact: Collection[str]) -> tuple[Any, list[str]]:
    """The reply to store (each field of ``redact`` None) and the fields withheld."""
    if not redact or not isinstance(reply, dict):
        return reply, []
    withheld = sorted(field for field in redact if reply.get(field) is not None)
    return {k: (None if k in withheld else v) for k, v in reply.items()}, withheld


@dataclass(slots=True)
class Idempotency:
    """One write request's idempotency: ``key`` None when the caller sent none."""

    session: Session
    principal_id: uuid.UUID | None
    key: str | None
    digest: bytes
    now: datetime
    response: Response | None = None  # the route's, for the headers a replay repeats

    def run(
        self, write: Callable[[], _T], *, status_code: int = 200, redact: Collection[str] = ()
    ) -> _T:
        """Do ``write`` once per key; a retry gets the first reply (ReplayedReply is raised).

        ``redact``: top-level fields of the reply that are secrets, shown in this answer only;
        the stored reply (and so every replay) holds None in their place."""
        if self.key is None or self.principal_id is None:
            return write()
        self._claim()
        result = write()
        row = self.session.get(IdempotencyKey, (self.principal_id, self.key))
        if row is None:  # pragma: no cover - claimed in this transaction just before
            raise RuntimeError("the idempotency key's claim vanished within its transaction")
        stored, withheld = _redacted(jsonable_encoder(result), redact)
        headers = {
            name: self.response.headers[name]
            for name in STORED_HEADERS
            if self.response is not None and name in self.response.headers
        }
        if withheld:
            headers[REDACTED_HEADER] = ", ".join(withheld)
        row.status_code = status_code
        row.response_body = stored
        row.response_headers = headers
        self.session.flush()
        return result

    def _claim(self) -> None:
        """Claim the key (the write is ours to do), or raise the reply to replay."""
        assert self.key is not None  # noqa: S101 - run() checked both
        assert self.principal_id is not None  # noqa: S101
        where = (IdempotencyKey.principal_id == self.principal_id, IdempotencyKey.key == self.key)
        self.session.execute(
            delete(IdempotencyKey).where(*where, IdempotencyKey.expires_at <= self.now)
        )
        purge_expired(self.session, self.now)
        claimed = self.session.execute(
            insert(IdempotencyKey)
            .values(
                principal_id=self.principal_id,
                key=self.key,
                request_digest=self.digest,
                status_code=0,
                response_body={},  # the reply, stored by run() in this transaction
                expires_at=self.now + TTL,
            )
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.key)
        ).first()
        if claimed is not None:
            return
        row = self.session.scalars(select(IdempotencyKey).where(*where)).one()
        if row.request_digest != self.digest:
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was sent with another request (method, path or body "
                "differ); use a new key for a new request"
            )
        raise ReplayedReply(row.status_code, row.response_body, dict(row.response_headers))


async def idempotency(
    request: Request,
    response: Response,
    session: SessionDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=MAX_KEY_CHARS,
            pattern=r"^[\x21-\x7e]+$",
            description="A key of the caller's choosing (a UUID is good): a retry with the same "
            "key does the write once and answers the first reply.",
        ),
    ] = None,
) -> Idempotency:
    """The request's idempotency; declare it after the dependency that authenticates."""
    principal_id = getattr(getattr(request.state, "principal", None), "id", None)
    if idempotency_key is not None and not isinstance(principal_id, uuid.UUID):
        raise RuntimeError("idempotency is declared before authentication: keys are per principal")
    body = await request.body()
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Idempotency(
        session=session,
        principal_id=principal_id if isinstance(principal_id, uuid.UUID) else None,
        key=idempotency_key,
        digest=request_digest(request.method, path, body),
        now=datetime.now(UTC),
        response=response,
    )


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]
