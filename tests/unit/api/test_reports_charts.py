"""The reports page's bar charts: bars proportional to their values from a zero line, negative
values below it, missing values drawn as nothing, whiskers around the last series, ticks at
round steps covering every value; and the page itself holds no script or network resource."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cloud_api.reports.charts import BOTTOM, HEIGHT, TOP, bar_chart, nice_step, number
from cloud_api.reports.page import html, period_label
from cloud_api.reports.schemas import (
    ClassPeriodOut,
    ClassReport,
    OriginOut,
    Period,
    PremiumPeriodOut,
    PremiumReport,
    ReservesReport,
)


@pytest.mark.parametrize(
    ("span", "step"), [(100.0, 50.0), (7.0, 2.0), (0.9, 0.5), (12_345.0, 5000.0), (0.0, 1.0)]
)
def test_steps_are_round(span: float, step: float) -> None:
    assert nice_step(span) == pytest.approx(step)


def test_numbers_are_short() -> None:
    figures = [number(v) for v in (2_500_000, 35_000, 5000, 1500, 0.25, -12)]
    assert figures == ["2.5M", "35k", "5k", "1.5k", "0.25", "-12"]


def test_bars_are_proportional_from_the_zero_line() -> None:
    chart = bar_chart(("t", "u"), ["a", "b", "c"], [("s", [100.0, 50.0, None])])
    assert len(chart.bars) == 2  # the missing value draws nothing
    full, half = chart.bars
    assert full.y + full.height == pytest.approx(chart.zero_y)
    assert half.height == pytest.approx(full.height / 2, abs=0.2)
    assert chart.zero_y == pytest.approx(HEIGHT - BOTTOM)
    assert full.y == pytest.approx(TOP)  # 100 is the top tick
    assert [t for _, t in chart.ticks] == ["0", "50", "100"]
    assert full.x < half.x
    assert "a, s: 100" in full.title


def test_negative_values_hang_below_zero_and_whiskers_follow_the_last_series() -> None:
    chart = bar_chart(
        ("t", "u"), ["a", "b"], [("x", [10.0, -5.0]), ("y", [20.0, 8.0])], errors=[4.0, 2.0]
    )
    negative = chart.bars[2]  # "b", series x: -5
    assert negative.y == pytest.approx(chart.zero_y)
    assert negative.height > 0
    first, second = chart.whiskers
    y_bar = chart.bars[1]  # "a", series y: 20
    assert first.top < y_bar.y < first.bottom  # 16 to 24 around 20
    assert second.top < second.bottom
    assert float(chart.ticks[-1][1]) >= 24  # the top tick covers the whisker
    assert float(chart.ticks[0][1]) <= -5


def test_period_labels() -> None:
    day = date(2026, 8, 1)
    assert period_label(day, Period.QUARTER) == "2026 Q3"
    assert period_label(day, Period.MONTH) == "2026-08"
    assert period_label(day, Period.YEAR) == "2026"


def test_the_page_shows_every_report_with_no_script_or_network_resource() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    quarter = date(2026, 7, 1)
    premium = PremiumReport(
        currency="EUR",
        period=Period.QUARTER,
        valuation=at,
        periods=[PremiumPeriodOut(period=quarter, written_minor=123456, earned_minor=100000,
                                  incurred_minor=55000, loss_ratio=0.55)],
    )  # fmt: skip
    row = ClassPeriodOut(
        period=quarter, robot_class="<script>cobot</script>", robot_years=2.5,
        earned_minor=100000, claims=2, incurred_minor=55000, frequency=0.8,
        severity_minor=27500, loss_ratio=0.55,
    )  # fmt: skip
    classes = ClassReport(currency="EUR", period=Period.QUARTER, valuation=at, rows=[row],
                          classes=[row])  # fmt: skip
    reserves = ReservesReport(
        currency="EUR", period=Period.QUARTER, valuation=at, development_factors=[1.2],
        triangle=[[1, 2], [3, None]],
        origins=[OriginOut(accident_period=quarter, latest_minor=40000, ultimate_minor=48000,
                           ibnr_minor=8000, mack_std_err_minor=3000)],
        total_ibnr_minor=8000, total_mack_std_err_minor=3000,
    )  # fmt: skip
    document = html(premium, classes, reserves)
    assert "<script" not in document  # the class name is escaped
    assert "&lt;script&gt;cobot" in document
    assert "http://" not in document
    assert "https://" not in document
    assert document.count("<svg") == 6
    for figure in ("1,234.56", "1,000.00", "550.00", "275.00", "80.00", "30.00", "2026 Q3"):
        assert figure in document
