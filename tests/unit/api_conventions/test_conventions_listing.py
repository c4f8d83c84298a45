"""Listings, sort and filter parsing, rate configuration: the parts that need no service."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, select

from cloud_api.conventions import Filter, InvalidQueryError, Listing, RateLimits, Sort
from cloud_api.conventions.filters import apply_filters, parse_filters, parse_sort, quoted
from cloud_api.conventions.probes import _as_json
from cloud_api.conventions.ratelimit import RateLimitStatus
from cloud_api.conventions.request_ids import UNMATCHED_ROUTE, route_template
from cloud_api.health import ProbeResult

POLICY = Table(
    "policy",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("written_at", DateTime(timezone=True), nullable=False),
    Column("premium", Integer, nullable=False),
    Column("cancelled_at", DateTime(timezone=True), nullable=True),
    Column("status", String, nullable=False),
)
POLICIES = Listing(
    resource="policies",
    sort_keys={"written_at": POLICY.c.written_at, "premium": POLICY.c.premium},
    tie_breaker=POLICY.c.id,
    default_sort="-written_at",
    filters={
        "status": Filter(POLICY.c.status),
        "written_after": Filter(POLICY.c.written_at, dt.datetime.fromisoformat, "gte"),
    },
)


def test_the_sort_defaults_to_the_listing_and_a_dash_means_descending() -> None:
    assert parse_sort(None, POLICIES) == Sort("written_at", descending=True)
    assert parse_sort("premium", POLICIES) == Sort("premium", descending=False)
    assert str(parse_sort("-premium", POLICIES)) == "-premium"


@pytest.mark.parametrize("raw", ["status", "--premium", "premium ", "id", "written_at,premium"])
def test_only_whitelisted_sort_keys_are_accepted(raw: str) -> None:
    with pytest.raises(InvalidQueryError, match=r"sort by one of: premium, written_at"):
        parse_sort(raw, POLICIES)


def test_filters_are_converted_and_reserved_parameters_left_alone() -> None:
    parsed = parse_filters(
        [("limit", "5"), ("status", "active"), ("written_after", "2025-01-01T00:00:00+00:00")],
        POLICIES,
    )
    assert parsed == {
        "status": "active",
        "written_after": dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    }
    sql = str(apply_filters(select(POLICY), POLICIES, parsed))
    assert "policy.status = :status_1" in sql
    assert "policy.written_at >= :written_at_1" in sql


def test_a_long_bad_value_is_cut_short_in_the_error() -> None:
    with pytest.raises(InvalidQueryError) as caught:
        parse_filters([("written_after", "9" * 5000)], POLICIES)
    assert len(caught.value.message) < 250
    assert quoted("x" * 100) == repr("x" * 40 + "...")


def test_a_listing_refuses_nullable_sort_keys_and_reserved_filter_names() -> None:
    with pytest.raises(ValueError, match="sort key cancelled_at is nullable"):
        Listing("p", {"cancelled_at": POLICY.c.cancelled_at}, POLICY.c.id, "cancelled_at")
    with pytest.raises(ValueError, match="default sort"):
        Listing("p", {"premium": POLICY.c.premium}, POLICY.c.id, "-written_at")
    with pytest.raises(ValueError, match=r"filters named \['cursor'\]"):
        Listing(
            "p",
            {"premium": POLICY.c.premium},
            POLICY.c.id,
            "premium",
            {"cursor": Filter(POLICY.c.status)},
        )


def test_a_malformed_rate_fails_when_the_config_is_built() -> None:
    with pytest.raises(ValueError, match="rate limit write='lots'"):
        RateLimits(write="lots")
    assert RateLimits().item("auth").amount == 10


def test_uncounted_requests_send_no_rate_headers() -> None:
    assert RateLimitStatus(10, 10, 60, counted=False).headers() == {}
    assert RateLimitStatus(10, 4, 7).headers() == {
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "4",
        "RateLimit-Reset": "7",
    }


def test_a_request_no_route_served_is_logged_without_its_path() -> None:
    assert route_template({"type": "http", "path": "/v1/policies/123"}) == UNMATCHED_ROUTE


def test_a_probe_detail_quoting_a_connection_url_loses_its_password() -> None:
    failed = ProbeResult(
        "postgresql", False, "cannot reach postgresql://rc:hunter2@db:5432/rc", 3.0
    )
    assert _as_json(failed)["detail"] == "cannot reach postgresql://rc:***@db:5432/rc"
