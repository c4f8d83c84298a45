"""What a collection may be sorted and filtered by, and the parsing of ``?sort=`` and filters.

A resource declares a `Listing`: the public names of its sort keys and filters, each mapped to a
column. Anything else a client sends is refused with a 400 problem naming what is allowed; no
client text ever becomes a column name or an operator.

Sorting is by one whitelisted key (``?sort=created_at``, ``?sort=-created_at`` for descending),
always followed by the listing's unique tie-breaker (the id) in the same direction, so that the
order is total and keyset pagination neither skips nor repeats a row. Sort keys must be NOT NULL
columns: SQL orders NULLs apart and a keyset comparison with NULL is never true.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, SQLColumnExpression

from cloud_api.errors import AppError

RESERVED_PARAMETERS = frozenset({"sort", "cursor", "limit"})
FilterOperator = Literal["eq", "gte", "lte", "prefix"]
SelectT = TypeVar("SelectT", bound=Select[Any])


class InvalidQueryError(AppError):
    """A sort key, filter or filter value the resource does not offer."""

    status, title = 400, "Invalid query"


@dataclass(frozen=True, slots=True)
class Filter:
    """A filter on ``column``: the query string value is converted by ``parse`` (which raises
    ValueError on a bad value) and compared with ``op``; ``prefix`` matches the values that
    start with the text given (LIKE, its wildcards escaped: one bound pattern, so a btree index
    with ``text_pattern_ops`` serves it)."""

    column: SQLColumnExpression[Any]
    parse: Callable[[str], object] = str
    op: FilterOperator = "eq"

    def clause(self, value: object) -> ColumnElement[bool]:
        if self.op == "gte":
            return self.column >= value
        if self.op == "lte":
            return self.column <= value
        if self.op == "prefix":
            text = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return self.column.like(text + "%", escape="\\")
        return self.column == value


@dataclass(frozen=True, slots=True)
class Sort:
    key: str
    descending: bool

    def __str__(self) -> str:
        return f"-{self.key}" if self.descending else self.key


@dataclass(frozen=True, slots=True)
class Listing:
    """The sort keys and filters one collection endpoint offers, by public name."""

    resource: str
    sort_keys: Mapping[str, SQLColumnExpression[Any]]
    tie_breaker: SQLColumnExpression[Any]
    default_sort: str
    filters: Mapping[str, Filter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.sort_keys:
            raise ValueError(f"listing {self.resource}: no sort key")
        for name, column in self.sort_keys.items():
            if getattr(getattr(column, "expression", column), "nullable", False):
                raise ValueError(f"listing {self.resource}: sort key {name} is nullable")
        if self.default_sort.removeprefix("-") not in self.sort_keys:
            raise ValueError(f"listing {self.resource}: default sort {self.default_sort!r}")
        if clash := RESERVED_PARAMETERS & self.filters.keys():
            raise ValueError(f"listing {self.resource}: filters named {sorted(clash)}")

    def sort_column(self, sort: Sort) -> SQLColumnExpression[Any]:
        return self.sort_keys[sort.key]


def _allowed(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def quoted(text: str, limit: int = 40) -> str:
    """Client text echoed in an error, cut short: a problem detail is not a mirror."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def parse_sort(raw: str | None, listing: Listing) -> Sort:
    """``created_at`` or ``-created_at``; None or empty: the listing's default."""
    text = raw if raw else listing.default_sort
    key = text.removeprefix("-")
    if key not in listing.sort_keys:
        allowed = _allowed(listing.sort_keys)
        raise InvalidQueryError(
            f"cannot sort {listing.resource} by {quoted(key)}; sort by one of: {allowed} "
            "(prefix '-' for descending)"
        )
    return Sort(key, descending=text.startswith("-"))


def parse_filters(parameters: Iterable[tuple[str, str]], listing: Listing) -> dict[str, object]:
    """The filters among the query parameters (``sort``, ``cursor`` and ``limit`` apart),
    each converted; an unknown name, a repeated one or a bad value is a 400."""
    values: dict[str, object] = {}
    for name, raw in parameters:
        if name in RESERVED_PARAMETERS:
            continue
        spec = listing.filters.get(name)
        if spec is None:
            allowed = _allowed(listing.filters)
            raise InvalidQueryError(
                f"unknown filter {quoted(name)} on {listing.resource}; filters allowed: {allowed}"
            )
        if name in values:
            raise InvalidQueryError(f"filter {name!r} is given more than once")
        try:
            values[name] = spec.parse(raw)
        except ValueError as exc:
            raise InvalidQueryError(
                f"filter {name!r}: {quoted(raw)} is not valid: {quoted(str(exc), 80)}"
            ) from exc
    return values


def apply_filters(statement: SelectT, listing: Listing, values: Mapping[str, object]) -> SelectT:
    for name, value in values.items():
        statement = statement.where(listing.filters[name].clause(value))
    return statement
