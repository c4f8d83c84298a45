"""/v1/reports/classes on the real database: earned premium and robot-years by class and month
from the schedules in force (an endorsement that removes a robot stops its class earning from
its effective day; computed here day by day from the schedules), claims and their incurred by
accident month (a withdrawn claim does not count), frequency, severity and the loss ratio; the
classes' earned adds up to the ledger's within rounding; CSV; staff only."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from cloud_api.access.roles import Role
from cloud_api.policies import changes, service
from cloud_api.policies.schemas import EndorsementCreate
from tests.integration.api.claim_factories import InsuredFleet, insured_fleet, recorded_claim
from tests.support.api import ApiHarness, principal

AUDITOR = principal(Role.AUDITOR)
UNDERWRITER = principal(Role.UNDERWRITER)


def month(day: date) -> str:
    return day.replace(day=1).isoformat()


def robot_premiums(api: ApiHarness, fleet: InsuredFleet) -> dict[str, int]:
    """Each insured robot's term premium over its coverages, from the first version."""
    first = service.current(api.session, fleet.policy)  # before any endorsement
    premiums: dict[str, int] = defaultdict(int)
    for line in first.schedule:
        premiums[line["robot_id"]] += line["premium_minor"]
    return premiums


def expected_exposure(
    fleet: InsuredFleet, premiums: dict[str, int], removed: tuple[str, date], through: date
) -> dict[tuple[str, str], tuple[float, int]]:
    """(month, class) -> (earned, robot-days), day by day: each robot earns premium / term
    days on each day it is on the schedule, before the valuation day."""
    start = fleet.term_start.date()
    term_days = (fleet.policy.term_end.date() - start).days
    classes = {str(r.id): r.robot_class for r in fleet.robots}
    cells: dict[tuple[str, str], tuple[float, int]] = defaultdict(lambda: (0.0, 0))
    day = start
    while day < through:
        for robot_id, premium in premiums.items():
            if robot_id == removed[0] and day >= removed[1]:
                continue
            key = (month(day), classes[robot_id])
            earned, days = cells[key]
            cells[key] = (earned + premium / term_days, days + 1)
        day += timedelta(days=1)
    return cells


def test_the_class_report_splits_earned_exposure_and_claims_by_class_and_month(
    api: ApiHarness,
) -> None:
    fleet = insured_fleet(api)
    first, second = fleet.robots[0], fleet.robots[1]
    premiums = robot_premiums(api, fleet)
    today = datetime.now(UTC).date()
    removed_on = today - timedelta(days=5)
    body = EndorsementCreate(effective_on=removed_on, remove_robots=[second.id])
    changes.endorse(api.session, UNDERWRITER, fleet.policy.id, body, datetime.now(UTC))
    loss = fleet.term_start + timedelta(days=3, hours=5)
    recent = datetime.now(UTC) - timedelta(days=1)
    recorded_claim(
        api.session, fleet, first, loss, ([(loss, 1000), (loss + timedelta(days=1), -400)],
        [(loss + timedelta(days=1), 400)])
    )  # fmt: skip
    recorded_claim(api.session, fleet, first, recent, ([(recent, 500)], []))
    recorded_claim(api.session, fleet, second, loss, ([(loss, 700)], []), decision_code="withdrawn")
    valuation = datetime.now(UTC)
    answer = api.client(AUDITOR).get(
        "/v1/reports/classes",
        params={"currency": "EUR", "period": "month", "valuation": valuation.isoformat()},
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    got = {(r["period"], r["robot_class"]): r for r in report["rows"]}
    expected = expected_exposure(fleet, premiums, (str(second.id), removed_on), today)
    assert set(got) == set(expected) | {(month(recent.date()), first.robot_class)}
    for key, (earned, days) in expected.items():
        assert got[key]["earned_minor"] == round(earned), key
        assert got[key]["robot_years"] == round(days / 365.25, 4), key
    claims: dict[tuple[str, str], tuple[int, int]] = defaultdict(lambda: (0, 0))
    for at, incurred in ((loss, 1000), (recent, 500)):
        count, total = claims[month(at.date()), first.robot_class]
        claims[month(at.date()), first.robot_class] = (count + 1, total + incurred)
    for key, row in got.items():
        count, incurred = claims.get(key, (0, 0))
        assert (row["claims"], row["incurred_minor"]) == (count, incurred), key
        if count:
            assert row["severity_minor"] == round(incurred / count)
            assert row["frequency"] == round(count / (expected[key][1] / 365.25), 6)
            assert row["loss_ratio"] == round(incurred / row["earned_minor"], 6)
    (by_first,) = [c for c in report["classes"] if c["robot_class"] == first.robot_class]
    assert (by_first["claims"], by_first["incurred_minor"]) == (2, 1500)
    (by_second,) = [c for c in report["classes"] if c["robot_class"] == second.robot_class]
    assert by_second["claims"] == 0
    assert by_second["severity_minor"] is None
    ledger_earned = changes.earn(api.session, fleet.policy.id, valuation)
    by_class = sum(c["earned_minor"] for c in report["classes"])
    assert abs(by_class - ledger_earned) <= 2, (by_class, ledger_earned)


def test_the_class_report_is_csv_for_staff_and_none_for_policyholders(api: ApiHarness) -> None:
    fleet = insured_fleet(api)
    recorded_claim(api.session, fleet, fleet.robots[0], fleet.term_start, ([], []))
    auditor = api.client(AUDITOR)
    answer = auditor.get("/v1/reports/classes", params={"currency": "EUR", "format": "csv"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {r["robot_class"] for r in rows} == {r.robot_class for r in fleet.robots[:2]}
    assert sum(int(r["claims"]) for r in rows) == 1
    holder = api.client(principal(Role.POLICYHOLDER, "alpha"))
    assert holder.get("/v1/reports/classes", params={"currency": "EUR"}).status_code == 403
    nothing = auditor.get("/v1/reports/classes", params={"currency": "USD"}).json()
    assert nothing["rows"] == []
    assert nothing["classes"] == []


def test_the_reports_page_shows_the_figures_of_the_reports(api: ApiHarness) -> None:
    fleet = insured_fleet(api)
    recorded_claim(
        api.session, fleet, fleet.robots[0], fleet.term_start, ([(fleet.term_start, 12345)], [])
    )
    auditor = api.client(AUDITOR)
    params = {"currency": "EUR", "period": "month"}
    answer = auditor.get("/v1/reports/page", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    classes = auditor.get("/v1/reports/classes", params=params).json()["classes"]
    first = next(c for c in classes if c["robot_class"] == fleet.robots[0].robot_class)
    assert f"<td>{first['robot_class']}</td>" in page
    assert "123.45" in page  # the claim's incurred, in euros
    assert f"{first['earned_minor'] / 100:,.2f}" in page
    assert page.count("<svg") == 6
    assert "<script" not in page
    holder = api.client(principal(Role.POLICYHOLDER, "alpha"))
    assert holder.get("/v1/reports/page", params=params).status_code == 403
    odd = auditor.get("/v1/reports/page", params={"currency": "XYZ"})
    assert odd.status_code == 422
