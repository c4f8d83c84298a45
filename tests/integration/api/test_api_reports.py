"""/v1/reports on the real database: the incurred triangle built from claims' reserve movements
and payments by accident and development quarter (each cell checked against the movements
summed here), its chain ladder IBNR and Mack errors, JSON and CSV; the premium report's
written and earned premium from the ledger and the loss ratio; staff only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from cloud_api.access.roles import Role
from cloud_api.policies import changes, service
from cloud_api.reports.reserving import chain_ladder
from tests.integration.api.claim_factories import InsuredFleet, insured_fleet, recorded_claim
from tests.support.api import ApiHarness, principal

AUDITOR = principal(Role.AUDITOR)
VALUATION = datetime(2026, 12, 1, tzinfo=UTC)


def at(year: int, month: int, day: int = 15) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


# (loss, [(when, reserve change)], [(when, payment)]); quarters of 2026 are accident 0..3.
CLAIMS = [
    (at(2026, 1, 10), [(at(2026, 1, 20), 1000), (at(2026, 5, 1), 500)], [(at(2026, 8, 1), 1800)]),
    (at(2026, 2, 5), [(at(2026, 2, 6), 400)], [(at(2026, 4, 2), 400)]),
    (at(2026, 4, 20), [(at(2026, 4, 21), 900)], [(at(2026, 10, 3), 700)]),
    (at(2026, 7, 7), [(at(2026, 7, 8), 1200), (at(2026, 9, 30), -200)], []),
    (at(2026, 8, 30), [(at(2026, 11, 2), 300)], [(at(2026, 11, 20), 100)]),
    (at(2026, 10, 1), [(at(2026, 10, 2), 2000)], []),
    (at(2026, 11, 29), [(at(2026, 12, 5), 999)], []),  # after the valuation: not counted
]


def quarter(moment: datetime) -> int:
    return (moment.year - 2026) * 4 + (moment.month - 1) // 3


def expected_triangle() -> np.ndarray:
    increments = np.zeros((4, 4))
    for loss, reserves, payments in CLAIMS:
        for when, amount in [*reserves, *payments]:
            if when < VALUATION:
                increments[quarter(loss), quarter(when) - quarter(loss)] += amount
    cumulative = np.cumsum(increments, axis=1)
    for row in range(4):
        cumulative[row, 4 - row :] = np.nan
    return cumulative


@pytest.fixture
def insured(api: ApiHarness) -> InsuredFleet:
    fleet = insured_fleet(api)
    for loss, reserves, payments in CLAIMS:
        recorded_claim(api.session, fleet, fleet.robots[0], loss, (reserves, payments))
    api.session.flush()
    return fleet


def test_the_reserves_report_develops_the_claims_incurred_triangle(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    response = api.client(AUDITOR).get(
        "/v1/reports/reserves",
        params={"currency": "EUR", "period": "quarter", "valuation": VALUATION.isoformat()},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    expected = expected_triangle()
    assert report["triangle"] == [
        [None if np.isnan(v) else round(v) for v in row] for row in expected
    ]
    assert [o["accident_period"] for o in report["origins"]] == [
        "2026-01-01",
        "2026-04-01",
        "2026-07-01",
        "2026-10-01",
    ]
    reserve = chain_ladder(expected)
    assert report["total_ibnr_minor"] == round(reserve.total_ibnr)
    assert report["total_mack_std_err_minor"] == round(reserve.total_std_err)
    assert [o["ibnr_minor"] for o in report["origins"]] == [round(x) for x in reserve.ibnr]
    assert report["development_factors"] == [round(float(f), 6) for f in reserve.factors]
    csv = api.client(AUDITOR).get(
        "/v1/reports/reserves",
        params={"currency": "EUR", "valuation": VALUATION.isoformat(), "format": "csv"},
    )
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    lines = csv.text.strip().splitlines()
    assert lines[0] == "accident_period,latest_minor,ultimate_minor,ibnr_minor,mack_std_err"
    assert lines[1].startswith("2026-01-01,")
    assert len(lines) == 5


def test_the_premium_report_shows_written_earned_incurred_and_the_loss_ratio(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    now = datetime.now(UTC)
    earned = changes.earn(api.session, insured.policy.id, now)
    assert earned > 0
    report = (
        api.client(AUDITOR)
        .get(
            "/v1/reports/premium",
            params={"currency": "EUR", "period": "year", "valuation": now.isoformat()},
        )
        .json()
    )
    years = {p["period"]: p for p in report["periods"]}
    this_year = years[f"{now.year}-01-01"]
    assert this_year["earned_minor"] == earned
    assert this_year["written_minor"] == insured_premium(api, insured)
    incurred = sum(
        amount
        for _, reserves, payments in CLAIMS
        for when, amount in [*reserves, *payments]
        if when < now
    )
    assert years["2026-01-01"]["incurred_minor"] == incurred  # every loss is of 2026
    assert this_year["loss_ratio"] == round(this_year["incurred_minor"] / earned, 6)


def insured_premium(api: ApiHarness, insured: InsuredFleet) -> int:
    return int(service.current(api.session, insured.policy).term_premium_minor)


def test_reports_are_for_staff_and_bounded(api: ApiHarness, insured: InsuredFleet) -> None:
    holder = api.client(principal(Role.POLICYHOLDER, "alpha"))
    assert holder.get("/v1/reports/premium", params={"currency": "EUR"}).status_code == 403
    auditor = api.client(AUDITOR)
    assert auditor.get("/v1/reports/premium", params={"currency": "eur"}).status_code == 422
    monthly = auditor.get(
        "/v1/reports/reserves",
        params={
            "currency": "EUR",
            "period": "month",
            "valuation": (VALUATION + timedelta(days=365 * 5)).isoformat(),  # 2031
        },
    )
    assert monthly.status_code == 422  # 71 months of claims: too many periods for a triangle
    assert "at most 60" in monthly.json()["detail"]
    ancient = auditor.get(
        "/v1/reports/premium", params={"currency": "EUR", "valuation": "0001-01-01T00:00:00+01:00"}
    )
    assert ancient.status_code == 422  # it once overflowed converting to UTC: a 500


def test_a_valuation_with_an_offset_is_the_same_instant_in_utc(
    api: ApiHarness, insured: InsuredFleet
) -> None:
    auditor = api.client(AUDITOR)
    utc = auditor.get(
        "/v1/reports/reserves", params={"currency": "EUR", "valuation": VALUATION.isoformat()}
    ).json()
    shifted = VALUATION.astimezone(timezone(timedelta(hours=2)))
    local = auditor.get(
        "/v1/reports/reserves", params={"currency": "EUR", "valuation": shifted.isoformat()}
    ).json()
    assert local["triangle"] == utc["triangle"]
    assert local["total_ibnr_minor"] == utc["total_ibnr_minor"]
