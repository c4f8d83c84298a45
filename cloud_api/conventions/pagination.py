"""Cursor (keyset) pagination of SQLAlchemy 2 selects on a sync Session.

A page is ``ORDER BY key, id LIMIT n + 1`` after the last row of the previous page:
``WHERE (key, id) > (:key, :id)`` (``<`` when descending). The extra row tells whether another
page follows. Unlike OFFSET, a page costs the same at any depth, and rows inserted meanwhile
neither shift nor repeat the rows a client has yet to see.

The cursor is opaque to the client: base64url of a small JSON object (resource, sort, the last
row's key and id) followed by a truncated HMAC-SHA256 under a server key. A cursor that was
altered, that another resource issued, or that no longer matches the requested sort is a 400
problem saying which. ``limit`` is a declared query parameter (1 to MAX_LIMIT, default
DEFAULT_LIMIT): out of range it is FastAPI's 422 validation problem, and the bound shows in
the OpenAPI schema.

Why not sqlakeyset: its 2.0 release fails on SQLAlchemy 2.1 ORM selects (rows come back
without their entity attributes) and its `select_page` is not typed for single-entity
``Select[Model]``; its bookmarks are unsigned anyway, so we would wrap them. With one sort
key plus the id, the keyset predicate is a single row comparison.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session

from cloud_api.conventions.filters import Listing, Sort, apply_filters, parse_filters, parse_sort
from cloud_api.errors import AppError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_CHARS = 1024
MAC_BYTES = 16
MIN_SECRET_BYTES = 32
T = TypeVar("T")
U = TypeVar("U")
_CONTEXT = b"robocover cursor v1\x00"


class InvalidCursorError(AppError):
    status, title = 400, "Invalid cursor"


class Page(BaseModel, Generic[T]):
    """One page of a collection; ``next_cursor`` is null on the last page."""

    items: list[T]
    next_cursor: str | None
    limit: int

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with each item converted (rows to response schemas)."""
        return Page[U](
            items=[convert(item) for item in self.items],
            next_cursor=self.next_cursor,
            limit=self.limit,
        )

    def map_page(self, convert: Callable[[list[T]], list[U]]) -> Page[U]:
        """The same page with its items converted together (to look up what they refer to
        in one query for the page, not one per item)."""
        return Page[U](items=convert(self.items), next_cursor=self.next_cursor, limit=self.limit)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _encode_value(value: object) -> object:
    """JSON for a key value, tagged where JSON would lose its type."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


def _decode_value(value: object) -> object:
    if not isinstance(value, dict):
        return value
    ((tag, text),) = value.items()
    decoders: dict[str, Callable[[str], object]] = {
        "dt": dt.datetime.fromisoformat,
        "d": dt.date.fromisoformat,
        "u": uuid.UUID,
        "n": Decimal,
    }
    return decoders[tag](text)


class CursorSigner:
    """Makes and checks cursors under one server key (at least 32 bytes)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the cursor key must have at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, _CONTEXT + payload, hashlib.sha256).digest()[:MAC_BYTES]

    def encode(self, resource: str, sort: Sort, key: tuple[object, object]) -> str:
        payload = json.dumps(
            {"r": resource, "s": str(sort), "k": [_encode_value(v) for v in key]},
            separators=(",", ":"),
        ).encode()
        return _b64encode(payload + self._mac(payload))

    def decode(self, cursor: str, resource: str, sort: Sort) -> tuple[object, object]:
        """The key of the row after which the page starts; InvalidCursorError otherwise."""
        if len(cursor) > MAX_CURSOR_CHARS:
            raise InvalidCursorError("the cursor is longer than any cursor this API issues")
        try:
            raw = _b64decode(cursor)
        except (binascii.Error, ValueError) as exc:
            raise InvalidCursorError("the cursor is not valid base64url") from exc
        payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if len(raw) <= MAC_BYTES or not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidCursorError(
                "the cursor's signature does not match: it was altered or not issued here; "
                "start again without a cursor"
            )
        try:
            fields = json.loads(payload)
            issued_for, issued_sort = fields["r"], fields["s"]
            first, second = (_decode_value(v) for v in fields["k"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidCursorError("the cursor is of an older format; start again") from exc
        if issued_for != resource:
            raise InvalidCursorError(f"the cursor was issued for {issued_for}, not {resource}")
        if issued_sort != str(sort):
            raise InvalidCursorError(
                f"the cursor was issued for sort={issued_sort}, not sort={sort}; "
                "keep the sort while paging, or start again without a cursor"
            )
        return first, second


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A parsed, validated request for one page of a listing."""

    listing: Listing
    sort: Sort
    filters: Mapping[str, object]
    limit: int
    after: tuple[object, object] | None
    signer: CursorSigner

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit {self.limit} is outside 1..{MAX_LIMIT}")


def cursor_signer_of(request: Request) -> CursorSigner:
    signer = getattr(request.app.state, "cursor_signer", None)
    if not isinstance(signer, CursorSigner):
        raise RuntimeError("no cursor signer on the app: call install_conventions(app, ...)")
    return signer


class ListParams:
    """A dependency parsing ``limit``, ``cursor``, ``sort`` and the filters of ``listing``:
    ``query: Annotated[ListQuery, Depends(ListParams(POLICIES))]``."""

    def __init__(self, listing: Listing) -> None:
        self.listing = listing

    def __call__(
        self,
        request: Request,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = (
            DEFAULT_LIMIT
        ),
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
        sort: Annotated[
            str | None, Query(description="A sort key; prefix '-' for descending")
        ] = None,
    ) -> ListQuery:
        parsed_sort = parse_sort(sort, self.listing)
        filters = parse_filters(request.query_params.multi_items(), self.listing)
        signer = cursor_signer_of(request)
        after = signer.decode(cursor, self.listing.resource, parsed_sort) if cursor else None
        return ListQuery(self.listing, parsed_sort, filters, limit, after, signer)


def _keyset_rows(
    session: Session, statement: Select[Any], query: ListQuery
) -> tuple[list[Any], str | None]:
    """The page's rows (each ending with the sort key and the tie-breaker) and the next cursor."""
    listing = query.listing
    key = listing.sort_column(query.sort)
    tie = listing.tie_breaker
    statement = apply_filters(statement, listing, query.filters)
    if query.after is not None:
        # A Python tuple on the right binds each value with its column's type.
        row, after = tuple_(key, tie), query.after
        statement = statement.where(row < after if query.sort.descending else row > after)
    if query.sort.descending:
        statement = statement.order_by(key.desc(), tie.desc())
    else:
        statement = statement.order_by(key.asc(), tie.asc())
    keyed = statement.add_columns(key, tie).limit(query.limit + 1)
    rows = list(session.execute(keyed).all())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor: str | None = None
    if more:
        last = rows[-1]
        next_cursor = query.signer.encode(listing.resource, query.sort, (last[-2], last[-1]))
    return rows, next_cursor


def paginate(session: Session, statement: Select[T], query: ListQuery) -> Page[T]:
    """One page of a single-entity select (``select(Policy)``, already scoped to what the
    principal may read), filtered, ordered by the sort key then the id, after the cursor."""
    rows, next_cursor = _keyset_rows(session, statement, query)
    items: list[T] = [row[0] for row in rows]
    return Page[T](items=items, next_cursor=next_cursor, limit=query.limit)


def paginate_rows(
    session: Session, statement: Select[Any], query: ListQuery
) -> Page[dict[str, Any]]:
    """One page of a select of columns (a Core table such as ``select(robot_events)``), each
    row as a mapping of the statement's own columns; otherwise as ``paginate``."""
    width = len(statement.selected_columns)
    rows, next_cursor = _keyset_rows(session, statement, query)
    items = [dict(zip(row._fields[:width], row[:width], strict=True)) for row in rows]
    return Page[dict[str, Any]](items=items, next_cursor=next_cursor, limit=query.limit)
