"""The reports as one printable HTML page (no script, no network resource: inline CSS and SVG):
premium written, earned and incurred by period with the loss ratio; loss ratio, claim frequency
and severity by robot class; the chain ladder's latest and ultimate by accident period with
Mack's standard error; each chart with its figures in a table beneath. Pure: built from the
reports' bodies."""

from __future__ import annotations

from datetime import date
from importlib.resources import files

from jinja2 import Environment, StrictUndefined

from cloud_api.ledger.money import minor_exponent
from cloud_api.reports.charts import HEIGHT, WIDTH, BarChart, bar_chart
from cloud_api.reports.schemas import ClassReport, Period, PremiumReport, ReservesReport


def period_label(start: date, period: Period) -> str:
    if period is Period.YEAR:
        return str(start.year)
    if period is Period.QUARTER:
        return f"{start.year} Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"


def _charts(
    premium: PremiumReport, classes: ClassReport, reserves: ReservesReport, scale: float
) -> list[BarChart]:
    currency = premium.currency
    periods = [period_label(p.period, premium.period) for p in premium.periods]
    by_class = [c.robot_class for c in classes.classes]
    origins = [period_label(o.accident_period, reserves.period) for o in reserves.origins]
    return [
        bar_chart(
            ("Premium and claims by period", currency),
            periods,
            [
                ("written", [p.written_minor / scale for p in premium.periods]),
                ("earned", [p.earned_minor / scale for p in premium.periods]),
                ("incurred", [p.incurred_minor / scale for p in premium.periods]),
            ],
        ),
        bar_chart(
            ("Loss ratio by period", "incurred / earned"),
            periods,
            [("loss ratio", [p.loss_ratio for p in premium.periods])],
        ),
        bar_chart(
            ("Loss ratio by robot class", "incurred / earned"),
            by_class,
            [("loss ratio", [c.loss_ratio for c in classes.classes])],
        ),
        bar_chart(
            ("Claim frequency by robot class", "claims per robot-year"),
            by_class,
            [("frequency", [c.frequency for c in classes.classes])],
        ),
        bar_chart(
            ("Claim severity by robot class", f"{currency} per claim"),
            by_class,
            [
                (
                    "severity",
                    [
                        None if c.severity_minor is None else c.severity_minor / scale
                        for c in classes.classes
                    ],
                )
            ],
        ),
        bar_chart(
            ("Reserves by accident period: latest and ultimate", f"{currency}; whisker: Mack s.e."),
            origins,
            [
                ("latest", [o.latest_minor / scale for o in reserves.origins]),
                ("ultimate", [o.ultimate_minor / scale for o in reserves.origins]),
            ],
            errors=[o.mack_std_err_minor / scale for o in reserves.origins],
        ),
    ]


_PAGE = Environment(autoescape=True, undefined=StrictUndefined).from_string(
    (files("cloud_api.reports") / "page.html").read_text(encoding="utf-8")
)


def html(premium: PremiumReport, classes: ClassReport, reserves: ReservesReport) -> str:
    """The page; money shown in major units of the reports' currency."""
    exponent = minor_exponent(premium.currency)
    scale = float(10**exponent)

    def money(minor: int | None) -> str:
        return "" if minor is None else f"{minor / scale:,.{exponent}f}"

    return _PAGE.render(
        premium=premium,
        classes=classes,
        reserves=reserves,
        charts=_charts(premium, classes, reserves, scale),
        money=money,
        label=period_label,
        width=WIDTH,
        height=HEIGHT,
    )
