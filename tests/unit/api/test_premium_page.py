"""The premium page's step chart and table: each score a step at its time and height, the time
axis from the first score to the last, the premium axis covering every figure in round steps
(a flat premium drawn flat), dots coloured by trigger, changes from the score before, reasons
with how far they moved the premium; and the page holds no script or network resource and
escapes what robots and the risk engine wrote."""

from __future__ import annotations

import itertools
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloud_api.robots.premium_page import (
    BOTTOM,
    HEIGHT,
    LEFT,
    RIGHT,
    TOP,
    TRIGGER_COLORS,
    WIDTH,
    chart,
    html,
    reason_text,
    robot_premiums,
    rows_of,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def score(
    minutes: float, premium: float, trigger: str = "schedule", **extra: Any
) -> dict[str, Any]:
    return {
        "scored_at": T0 + timedelta(minutes=minutes),
        "premium": premium,
        "technical_premium": extra.pop("technical", premium),
        "trigger": trigger,
        "currency": "EUR",
        "reasons": extra.pop("reasons", []),
        **extra,
    }


def points(path: str) -> list[tuple[float, float]]:
    """The corners a step path visits."""
    tokens = path.split()
    x = y = math.nan
    corners = []
    index = 0
    while index < len(tokens):
        op = tokens[index]
        if op == "M":
            x, y = float(tokens[index + 1]), float(tokens[index + 2])
            index += 3
        elif op == "H":
            x = float(tokens[index + 1])
            index += 2
        else:
            assert op == "V"
            y = float(tokens[index + 1])
            index += 2
        corners.append((x, y))
    return corners


def test_each_score_is_a_step_at_its_time_and_height() -> None:
    scores = [score(0, 30_000), score(10, 45_000, "severe_event"), score(40, 40_000)]
    drawn = chart(scores)
    corners = points(drawn.premium)
    plot_w, _plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    xs = [LEFT, LEFT + plot_w * 10 / 40, LEFT + plot_w]
    assert [d.x for d in drawn.dots] == pytest.approx(xs, abs=0.1)
    # The premium stands until the next score: horizontal to its time, then up or down.
    assert corners[0] == pytest.approx((LEFT, drawn.dots[0].y))
    assert corners[1] == pytest.approx((xs[1], drawn.dots[0].y), abs=0.1)
    assert corners[2] == pytest.approx((xs[1], drawn.dots[1].y), abs=0.1)
    assert corners[-1][0] == pytest.approx(LEFT + plot_w)
    # Heights in proportion to the premiums, on an axis of round ticks covering all of them.
    values = [float(t.replace(",", "")) for _, t in drawn.ticks]
    assert values[0] <= 30_000
    assert values[-1] >= 45_000
    assert len({round(b - a, 6) for a, b in itertools.pairwise(values)}) == 1
    (y_low, low), (y_high, high) = drawn.ticks[0], drawn.ticks[-1]
    for dot, premium in zip(drawn.dots, [30_000, 45_000, 40_000], strict=True):
        expected = y_low + (y_high - y_low) * (premium - float(low.replace(",", ""))) / (
            float(high.replace(",", "")) - float(low.replace(",", ""))
        )
        assert dot.y == pytest.approx(expected, abs=0.2)
        assert TOP <= dot.y <= HEIGHT - BOTTOM
    assert [d.color for d in drawn.dots] == [
        TRIGGER_COLORS["schedule"],
        TRIGGER_COLORS["severe_event"],
        TRIGGER_COLORS["schedule"],
    ]
    assert [anchor for _, _, anchor in drawn.times] == ["start", "end"]


def test_the_technical_premium_has_its_own_steps() -> None:
    drawn = chart([score(0, 30_000, technical=20_000), score(5, 30_000, technical=60_000)])
    technical = [y for _, y in points(drawn.technical)]
    premium = [y for _, y in points(drawn.premium)]
    assert len(set(premium)) == 1  # the premium did not move
    assert technical[0] > premium[0] > technical[-1]  # below it, then above (y grows down)


def test_a_flat_or_single_premium_is_drawn_flat_in_the_middle_of_its_axis() -> None:
    drawn = chart([score(0, 26_485.23), score(1, 26_486.30)])
    values = [float(t.replace(",", "")) for _, t in drawn.ticks]
    assert values[-1] - values[0] >= 2_600  # not a cliff of one euro
    assert len(set(values)) == len(values)
    single = chart([score(0, 1_000)])
    assert single.dots[0].x == pytest.approx(LEFT + (WIDTH - LEFT - RIGHT) / 2)
    assert [anchor for _, _, anchor in single.times] == ["middle"]


def test_rows_are_newest_first_with_the_change_and_the_top_reasons() -> None:
    reasons = [
        {"factor": "collision_rate", "reason": "More collisions", "log_change": math.log(1.25)},
        {"factor": "thermal", "reason": "Hotter", "log_change": 0.1},
        {"factor": "stops", "reason": "More stops", "log_change": 0.05},
        {"factor": "gaps", "reason": "Gaps", "log_change": 0.01},
    ]
    rows = rows_of([score(0, 40_000), score(5, 50_000, "severe_event", reasons=reasons)])
    assert [r.trigger for r in rows] == ["severe_event", "schedule"]
    assert rows[0].change == pytest.approx(0.25)
    assert rows[1].change is None
    assert rows[0].reasons == ["More collisions (+25.0%)", "Hotter (+10.5%)", "More stops (+5.1%)"]
    assert reason_text({"factor": "tamper_flag", "log_change": None}) == "tamper_flag (+0.0%)"


def test_the_page_escapes_and_holds_no_script_or_network_resource() -> None:
    robot = {
        "id": "a",
        "serial_number": "<b>SN-1</b>",
        "robot_class": "cobot",
        "model": "UR10e",
        "tenant": "acme",
    }
    reasons = [{"factor": "x", "reason": "<script>alert(1)</script>", "log_change": 0.2}]
    quiet = {**robot, "id": "b", "serial_number": "SN-2"}
    sections = [
        robot_premiums(robot, [score(0, 40_000), score(5, 50_000, reasons=reasons)]),
        robot_premiums(quiet, []),
    ]
    page = html(sections, since=T0, until=T0 + timedelta(hours=1), tenant="acme", more=True)
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;SN-1&lt;/b&gt;" in page
    assert page.count("<svg") == 1  # the robot without scores says so instead
    assert "No score in this window." in page
    assert "More robots than shown" in page
    assert "50,000.00" in page
    assert "+25.0%" in page
    assert not re.search(r"(src|href)=|url\(|@import", page)
