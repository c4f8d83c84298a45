"""Keyset pagination, sorting and filters through the API, on a real PostgreSQL table."""

from __future__ import annotations

import base64
import datetime as dt
import random
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from database.settings import CloudSettings
from tests.integration.api_conventions.conventions_app import (
    Base,
    TestClient,
    Thing,
    build_app,
)

ROWS = 123
EPOCH = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def things(db_session: Session) -> list[Thing]:
    """123 rows in a table made inside the test's rolled-back transaction; three rows share
    each timestamp and ids are shuffled, so the order needs its tie-breaker."""
    Base.metadata.create_all(db_session.connection())
    ids = random.Random(7).sample(range(1, 10_000), ROWS)
    rows = [
        Thing(
            id=thing_id,
            created_at=EPOCH + dt.timedelta(minutes=n // 3),
            status=("active", "lapsed", "pending")[n % 3],
            rank=n % 7,
        )
        for n, thing_id in enumerate(ids)
    ]
    db_session.add_all(rows)
    db_session.flush()
    return rows


@pytest.fixture
def client(base_settings: CloudSettings, db_session: Session) -> Iterator[TestClient]:
    with TestClient(build_app(settings=base_settings, session=db_session)) as test_client:
        yield test_client


def _walk(client: TestClient, query: str) -> tuple[list[int], list[int]]:
    """Every page of ``/v1/things?{query}``: the ids in order and the size of each page."""
    ids: list[int] = []
    sizes: list[int] = []
    cursor: str | None = None
    for _ in range(ROWS + 1):
        suffix = f"&cursor={cursor}" if cursor else ""
        response = client.get(f"/v1/things?{query}{suffix}")
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [item["id"] for item in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, sizes
    raise AssertionError("the pages never ended")


def test_pages_of_50_give_every_row_once_in_order_ascending(
    client: TestClient, things: list[Thing]
) -> None:
    ids, sizes = _walk(client, "limit=50&sort=created_at")
    assert sizes == [50, 50, 23]
    assert ids == [t.id for t in sorted(things, key=lambda t: (t.created_at, t.id))]


def test_pages_of_50_give_every_row_once_in_order_descending(
    client: TestClient, things: list[Thing]
) -> None:
    ids, sizes = _walk(client, "limit=50&sort=-created_at")
    assert sizes == [50, 50, 23]
    assert ids == [t.id for t in sorted(things, key=lambda t: (t.created_at, t.id), reverse=True)]


def test_filters_and_another_sort_key_page_together(
    client: TestClient, things: list[Thing]
) -> None:
    ids, _ = _walk(client, "limit=7&sort=-rank&status=active&min_rank=3")
    chosen = [t for t in things if t.status == "active" and t.rank >= 3]
    assert ids == [t.id for t in sorted(chosen, key=lambda t: (t.rank, t.id), reverse=True)]
    assert len(ids) > 7  # more than one page


def test_the_default_limit_is_50_and_an_exact_last_page_has_no_next_cursor(
    client: TestClient, things: list[Thing]
) -> None:
    first = client.get("/v1/things").json()
    assert (len(first["items"]), first["limit"]) == (50, 50)
    whole = client.get("/v1/things?limit=200").json()
    assert len(whole["items"]) == ROWS
    assert whole["next_cursor"] is None


def _flip_one_character(cursor: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[raw.index(b'"s":"') + 5] ^= 0x01  # the sort, inside the signed JSON
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("cursor", "detail"),
    [
        ("tampered", "signature does not match"),
        ("!!not*base64!!", "not valid base64url"),
        ("QUJD", "signature does not match"),
        ("A" * 2000, "longer than any cursor"),
    ],
)
def test_a_tampered_or_malformed_cursor_is_a_precise_400(
    client: TestClient, things: list[Thing], cursor: str, detail: str
) -> None:
    if cursor == "tampered":
        issued = client.get("/v1/things?limit=10").json()["next_cursor"]
        cursor = _flip_one_character(issued)
    response = client.get(f"/v1/things?limit=10&cursor={cursor}")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Invalid cursor"
    assert detail in problem["detail"]


def test_a_cursor_replayed_with_another_sort_is_refused(
    client: TestClient, things: list[Thing]
) -> None:
    issued = client.get("/v1/things?limit=10&sort=-created_at").json()["next_cursor"]
    response = client.get(f"/v1/things?limit=10&sort=rank&cursor={issued}")
    assert response.status_code == 400
    assert "issued for sort=-created_at, not sort=rank" in response.json()["detail"]


@pytest.mark.parametrize("limit", ["0", "201", "-1", "many"])
def test_a_limit_out_of_1_to_200_is_a_422_problem(client: TestClient, limit: str) -> None:
    response = client.get(f"/v1/things?limit={limit}")
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["location"] == ["query", "limit"]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("sort=name", "cannot sort things by 'name'; sort by one of: created_at, rank"),
        ("sort=-", "cannot sort things by ''; sort by one of: created_at, rank"),
        ("colour=red", "unknown filter 'colour' on things; filters allowed: min_rank, status"),
        ("min_rank=high", "filter 'min_rank': 'high' is not valid"),
        ("status=active&status=lapsed", "filter 'status' is given more than once"),
    ],
)
def test_unknown_sort_keys_and_filters_are_400_naming_what_is_allowed(
    client: TestClient, query: str, detail: str
) -> None:
    response = client.get(f"/v1/things?{query}")
    assert response.status_code == 400
    problem = response.json()
    assert problem["title"] == "Invalid query"
    assert problem["detail"].startswith(detail)
