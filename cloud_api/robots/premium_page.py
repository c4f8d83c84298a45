"""Premium over time per robot, with the reasons: one printable HTML page (no script, no network
resource: inline CSS and SVG). For each robot, a step chart of its premium (the premium stands
from one score to the next) with its technical premium dashed and each score a dot coloured by
what triggered it, then the scores in a table: when, why (the trigger), the premium, its change
from the score before, and the top reasons the risk engine gave. Pure: built from score rows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any

from jinja2 import Environment, StrictUndefined

WIDTH, HEIGHT = 680, 200
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 10, 30
TRIGGER_COLORS = {"schedule": "#1f4e9e", "severe_event": "#c0392b", "on_demand": "#0a6b0a"}
OTHER_COLOR = "#555555"
REASONS_SHOWN = 3


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    color: str
    title: str


@dataclass(frozen=True)
class PremiumChart:
    premium: str  # SVG path of the premium, a step per score
    technical: str  # SVG path of the technical premium
    dots: list[Dot]
    ticks: list[tuple[float, str]]  # value label at y
    times: list[tuple[float, str, str]]  # time label at x, with its text-anchor


@dataclass(frozen=True)
class ScoreRow:
    scored_at: datetime
    trigger: str
    premium: float
    change: float | None  # from the score before, as a fraction
    reasons: list[str]


@dataclass(frozen=True)
class RobotPremiums:
    robot_id: str
    serial_number: str
    robot_class: str
    model: str
    tenant: str
    currency: str
    chart: PremiumChart | None
    rows: list[ScoreRow]


def nice_step(span: float, count: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``count`` ticks over span."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / count
    power = 10.0 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def reason_text(reason: dict[str, Any]) -> str:
    """``More collisions (+12.4%)``: the reason and how far it moved the premium."""
    change = math.expm1(float(reason.get("log_change") or 0.0))
    return f"{reason.get('reason') or reason.get('factor')} ({change:+.1%})"


def chart(scores: list[dict[str, Any]]) -> PremiumChart:
    """The step chart of ``scores`` (oldest first; each with scored_at, premium,
    technical_premium and trigger)."""
    times = [s["scored_at"].timestamp() for s in scores]
    values = [float(v) for s in scores for v in (s["premium"], s["technical_premium"])]
    low, high = min(values), max(values)
    # A flat premium is drawn flat, not as a cliff of cents: the axis spans a tenth of it.
    pad = max(0.0, (abs(high) * 0.1 - (high - low)) / 2)
    low, high = low - pad, high + pad
    step = nice_step(max(high - low, 1.0))
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    if high == low:
        high = low + step
    first, last = times[0], times[-1]
    span_t = (last - first) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return round(LEFT + plot_w * (t - first) / span_t if last > first else LEFT + plot_w / 2, 1)

    def y(v: float) -> float:
        return round(TOP + plot_h * (high - v) / (high - low), 1)

    def steps(key: str) -> str:
        path = [f"M {x(times[0])} {y(float(scores[0][key]))}"]
        for t, score in zip(times[1:], scores[1:], strict=True):
            path.append(f"H {x(t)} V {y(float(score[key]))}")
        path.append(f"H {LEFT + plot_w}")
        return " ".join(path)

    dots = [
        Dot(
            x(t),
            y(float(s["premium"])),
            TRIGGER_COLORS.get(s["trigger"], OTHER_COLOR),
            f"{s['scored_at']:%Y-%m-%d %H:%M:%S} UTC, {s['trigger']}: {float(s['premium']):,.2f}",
        )
        for t, s in zip(times, scores, strict=True)
    ]
    count = round((high - low) / step)
    ticks = [(y(low + k * step), f"{low + k * step:,.0f}") for k in range(count + 1)]
    fmt = "%H:%M:%S" if span_t < 86_400 else "%m-%d %H:%M"
    first_at, last_at = scores[0]["scored_at"], scores[-1]["scored_at"]
    labels: list[tuple[float, str, str]] = (
        [(x(first), first_at.strftime(fmt), "start"), (x(last), last_at.strftime(fmt), "end")]
        if last > first
        else [(x(first), first_at.strftime(fmt), "middle")]
    )
    return PremiumChart(steps("premium"), steps("technical_premium"), dots, ticks, labels)


def rows_of(scores: list[dict[str, Any]]) -> list[ScoreRow]:
    """The table of ``scores`` (oldest first), newest first."""
    rows = []
    previous: float | None = None
    for score in scores:
        premium = float(score["premium"])
        reasons = score.get("reasons") or []
        rows.append(
            ScoreRow(
                score["scored_at"],
                score["trigger"],
                premium,
                None if not previous else premium / previous - 1,
                [reason_text(r) for r in reasons[:REASONS_SHOWN]],
            )
        )
        previous = premium
    return rows[::-1]


def robot_premiums(robot: dict[str, Any], scores: list[dict[str, Any]]) -> RobotPremiums:
    """One robot's section: ``robot`` (id, serial_number, robot_class, model, tenant), its
    ``scores`` oldest first."""
    return RobotPremiums(
        str(robot["id"]),
        robot["serial_number"],
        str(robot["robot_class"]),
        robot["model"],
        robot["tenant"],
        scores[-1]["currency"] if scores else "",
        chart(scores) if scores else None,
        rows_of(scores),
    )


_PAGE = Environment(autoescape=True, undefined=StrictUndefined).from_string(
    (files("cloud_api.robots") / "premium_page.html").read_text(encoding="utf-8")
)


def html(
    robots: list[RobotPremiums], *, since: datetime, until: datetime, tenant: str | None, more: bool
) -> str:
    """The page; ``more``: robots beyond those shown were left out."""
    return _PAGE.render(
        robots=robots,
        since=since,
        until=until,
        tenant=tenant,
        more=more,
        colors=TRIGGER_COLORS,
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=RIGHT,
        top=TOP,
        bottom=BOTTOM,
    )
