"""/v1/reports: premium with the loss ratio by period; loss ratio, claim frequency and severity
by robot class; reserves (chain ladder IBNR with Mack's standard errors) from the platform's own
claims; as JSON or CSV, and all of them on one HTML page with charts. Staff only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import AwareDatetime

from cloud_api.access.actions import Action
from cloud_api.access.dependencies import Require
from cloud_api.access.roles import Principal
from cloud_api.conventions.ratelimit import ReadLimit
from cloud_api.errors import UnprocessableError, problem_responses
from cloud_api.ledger.money import MINOR_EXPONENT
from cloud_api.reports import page, service
from cloud_api.reports.schemas import (
    ClassReport,
    Period,
    PremiumReport,
    ReportFormat,
    ReservesReport,
)
from cloud_api.sessions import SessionDep

router = APIRouter(prefix="/v1/reports", tags=["reports"])
Currency = Annotated[str, Query(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. EUR")]
Valuation = Annotated[
    AwareDatetime | None, Query(description="As known at this instant; now if left out.")
]
CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}, "text/csv": {}}}}


EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _utc(valuation: datetime | None) -> datetime:
    """The valuation instant in UTC (periods are UTC's), now if none; from 2000 to 2100."""
    if valuation is None:
        return datetime.now(UTC)
    if not EARLIEST <= valuation < LATEST:  # compared as instants, whatever the offset
        raise UnprocessableError("the valuation is from 2000 to 2100")
    return valuation.astimezone(UTC)


def _csv(header: list[str], rows: list[list[object]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")


@router.get("/premium", response_model=PremiumReport, responses={**CSV, **problem_responses(422)})
def premium_report(
    session: SessionDep,
    _principal: Annotated[Principal, Depends(Require(Action.REPORTS_READ))],
    _: ReadLimit,
    currency: Currency,
    period: Period = Period.MONTH,
    valuation: Valuation = None,
    format: ReportFormat = ReportFormat.JSON,
) -> PremiumReport | Response:
    """Written and earned premium by period (the ledger), claims incurred on the period's
    losses to date, and their ratio."""
    report = service.premium(session, currency, period, _utc(valuation))
    if format is ReportFormat.CSV:
        return _csv(
            ["period", "written_minor", "earned_minor", "incurred_minor", "loss_ratio"],
            [
                [p.period, p.written_minor, p.earned_minor, p.incurred_minor, p.loss_ratio]
                for p in report.periods
            ],
        )
    return report


@router.get("/reserves", response_model=ReservesReport, responses={**CSV, **problem_responses(422)})
def reserves_report(
    session: SessionDep,
    _principal: Annotated[Principal, Depends(Require(Action.REPORTS_READ))],
    _: ReadLimit,
    currency: Currency,
    period: Period = Period.QUARTER,
    valuation: Valuation = None,
    format: ReportFormat = ReportFormat.JSON,
) -> ReservesReport | Response:
    """IBNR by the chain ladder, with Mack's standard errors, on the incurred triangle of the
    platform's claims by accident and development period."""
    report = service.reserves(session, currency, period, _utc(valuation))
    if format is ReportFormat.CSV:
        return _csv(
            ["accident_period", "latest_minor", "ultimate_minor", "ibnr_minor", "mack_std_err"],
            [
                [
                    o.accident_period,
                    o.latest_minor,
                    o.ultimate_minor,
                    o.ibnr_minor,
                    o.mack_std_err_minor,
                ]
                for o in report.origins
            ],
        )
    return report


CLASS_COLUMNS = [
    "period",
    "robot_class",
    "robot_years",
    "earned_minor",
    "claims",
    "incurred_minor",
    "frequency",
    "severity_minor",
    "loss_ratio",
]


@router.get("/classes", response_model=ClassReport, responses={**CSV, **problem_responses(422)})
def class_report(
    session: SessionDep,
    _principal: Annotated[Principal, Depends(Require(Action.REPORTS_READ))],
    _: ReadLimit,
    currency: Currency,
    period: Period = Period.QUARTER,
    valuation: Valuation = None,
    format: ReportFormat = ReportFormat.JSON,
) -> ClassReport | Response:
    """Loss ratio, claim frequency (claims per robot-year) and severity by robot class and
    period, and by class over all periods."""
    report = service.classes(session, currency, period, _utc(valuation))
    if format is ReportFormat.CSV:
        return _csv(CLASS_COLUMNS, [[getattr(r, c) for c in CLASS_COLUMNS] for r in report.rows])
    return report


@router.get(
    "/page",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}}, **problem_responses(422)},
)
def reports_page(
    session: SessionDep,
    _principal: Annotated[Principal, Depends(Require(Action.REPORTS_READ))],
    _: ReadLimit,
    currency: Currency,
    period: Period = Period.QUARTER,
    valuation: Valuation = None,
) -> HTMLResponse:
    """Every report on one printable HTML page with charts (inline SVG; no script, no network
    resource): premium and the loss ratio by period; loss ratio, frequency and severity by
    robot class; the chain ladder's latest and ultimate with Mack's standard errors."""
    if currency not in MINOR_EXPONENT:
        raise UnprocessableError(f"unsupported currency {currency}")
    at = _utc(valuation)
    document = page.html(
        service.premium(session, currency, period, at),
        service.classes(session, currency, period, at),
        service.reserves(session, currency, period, at),
    )
    return HTMLResponse(document)
