"""The printable evidence report of a claim: one self-contained HTML page (no script, no
network resource: inline CSS and SVG) with the flags, the robot's events and chain, and a chart
per metric over the window (hourly mean within its hourly minimum and maximum) and close to the
loss (minute means), the time of loss and the loss-type events marked on each. Built from the
stored snapshot only, so the page shows exactly what the digest covers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any

from jinja2 import Environment, StrictUndefined

from database.models import Claim, ClaimEvidence

WIDTH, HEIGHT, PAD = 640, 130, 6
MAX_CHARTS = 24


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    line: str  # SVG polyline points
    band: str  # SVG polygon points (min..max), or ""
    low: str
    high: str
    loss_x: float
    marks: list[float]  # x of loss-type events


def _x(at: datetime, start: datetime, end: datetime) -> float:
    span = (end - start).total_seconds() or 1.0
    return round(PAD + (WIDTH - 2 * PAD) * (at - start).total_seconds() / span, 1)


def _y(value: float, low: float, high: float) -> float:
    span = (high - low) or 1.0
    return round(HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - low) / span, 1)


def chart(
    title: tuple[str, str],
    series: list[tuple[datetime, float, float, float]],
    window: tuple[datetime, datetime],
    loss: datetime,
    events: list[datetime],
) -> Chart:
    """``title``: (title, unit); ``series``: (time, mean, minimum, maximum), in time order."""
    start, end = window
    low = min(s[2] for s in series)
    high = max(s[3] for s in series)
    line = " ".join(f"{_x(t, start, end)},{_y(v, low, high)}" for t, v, _, _ in series)
    top = [f"{_x(t, start, end)},{_y(hi, low, high)}" for t, _, _, hi in series]
    bottom = [f"{_x(t, start, end)},{_y(lo, low, high)}" for t, _, lo, _ in reversed(series)]
    return Chart(
        title=title[0],
        unit=title[1],
        line=line,
        band=" ".join(top + bottom) if len(series) > 1 else "",
        low=f"{low:.4g}",
        high=f"{high:.4g}",
        loss_x=_x(loss, start, end),
        marks=[_x(t, start, end) for t in events if start <= t <= end],
    )


def charts(snapshot: dict[str, Any], row: ClaimEvidence, loss: datetime) -> list[Chart]:
    """Per metric: the window from its hourly figures, then the close-up from its minutes."""
    window = (row.window_start, row.window_end)
    events = [
        datetime.fromisoformat(e["time"])
        for e in snapshot["events"]
        if e["kind"] in {"collision", "emergency_stop", "protective_stop", "fault"}
    ]
    units = {}
    hourly: dict[str, list[tuple[datetime, float, float, float]]] = defaultdict(list)
    for h in snapshot["metrics_hourly"]:
        units[h["key"]] = h["unit"]
        mean = h["total"] / h["samples"] if h["samples"] else 0.0
        hourly[h["key"]].append(
            (datetime.fromisoformat(h["bucket"]), mean, h["minimum"], h["maximum"])
        )
    minutes: dict[str, list[tuple[datetime, float, float, float]]] = defaultdict(list)
    for m in snapshot["metrics_close_up"]:
        minutes[m["key"]].append(
            (datetime.fromisoformat(m["minute"]), m["mean"], m["minimum"], m["maximum"])
        )
    made = []
    for key in sorted(set(hourly) | set(minutes))[:MAX_CHARTS]:
        unit = units.get(key, "")
        if hourly.get(key):
            made.append(chart((f"{key}, hourly", unit), hourly[key], window, loss, events))
        if minutes.get(key):
            near = (minutes[key][0][0], minutes[key][-1][0])
            title = (f"{key}, by minute near the loss", unit)
            made.append(chart(title, minutes[key], near, loss, events))
    return made


_PAGE = Environment(autoescape=True, undefined=StrictUndefined).from_string(
    (files("cloud_api.claims") / "evidence_report.html").read_text(encoding="utf-8")
)


def html(claim: Claim, row: ClaimEvidence, intact: bool) -> str:
    snapshot = row.snapshot
    return _PAGE.render(
        claim=claim,
        row=row,
        intact=intact,
        s=snapshot,
        robot=snapshot["robot"],
        charts=charts(snapshot, row, claim.loss_at),
        width=WIDTH,
        height=HEIGHT,
    )
