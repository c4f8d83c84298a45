"""Bar charts as SVG geometry for the reports page: pure arithmetic, no I/O, no script. A chart
is categories along x (periods, robot classes), one bar per series in each, an optional
whisker per category (a standard error), and a zero line; the template draws what is here."""

from __future__ import annotations

import math
from dataclasses import dataclass

WIDTH, HEIGHT = 680, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 10, 40
PALETTE = ("#1f4e9e", "#7fa7e0", "#c0392b", "#e08000", "#0a6b0a")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str  # shown on hover, and read by a screen reader


@dataclass(frozen=True)
class Whisker:
    x: float
    top: float
    bottom: float


@dataclass(frozen=True)
class BarChart:
    title: str
    unit: str
    bars: list[Bar]
    whiskers: list[Whisker]
    labels: list[tuple[float, str]]  # category label at x
    ticks: list[tuple[float, str]]  # value label at y
    legend: list[tuple[str, str]]  # (color, series name)
    zero_y: float
    width: int = WIDTH
    height: int = HEIGHT


def nice_step(span: float, count: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about ``count`` ticks over span."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / count
    power = 10.0 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def number(value: float) -> str:
    """A tick or bar value, short: 1.2M, 35k, 1.5k, 0.25."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e3:
        return f"{value / 1e3:.3g}k"
    return f"{value:.3g}"


def bar_chart(
    title: tuple[str, str],
    categories: list[str],
    series: list[tuple[str, list[float | None]]],
    errors: list[float] | None = None,
) -> BarChart:
    """``title``: (title, unit); ``series``: (name, a value or None per category); ``errors``:
    a whisker of plus and minus this around the last series' value, per category."""
    values = [v for _, vs in series for v in vs if v is not None and math.isfinite(v)]
    tops = [v + e for v, e in zip(series[-1][1], errors or [], strict=False) if v is not None]
    high = max([0.0, *values, *tops])
    low = min([0.0, *values])
    step = nice_step(high - low)
    high = math.ceil(high / step) * step if high > 0 else 0.0
    low = math.floor(low / step) * step if low < 0 else 0.0
    span = (high - low) or 1.0
    plot_h = HEIGHT - TOP - BOTTOM

    def y(value: float) -> float:
        return round(TOP + plot_h * (high - value) / span, 1)

    slot = (WIDTH - LEFT - RIGHT) / max(len(categories), 1)
    bar_w = slot * 0.8 / max(len(series), 1)
    bars: list[Bar] = []
    whiskers: list[Whisker] = []
    for i, category in enumerate(categories):
        left = LEFT + i * slot + slot * 0.1
        for j, (name, vs) in enumerate(series):
            value = vs[i] if i < len(vs) else None
            if value is None or not math.isfinite(value):
                continue
            top, bottom = sorted((y(value), y(0.0)))
            x = round(left + j * bar_w, 1)
            color = PALETTE[j % len(PALETTE)]
            label = f"{category}, {name}: {number(value)}"
            bars.append(Bar(x, top, round(bar_w, 1), round(bottom - top, 1), color, label))
        if errors is not None and i < len(errors) and series[-1][1][i] is not None:
            centre = series[-1][1][i] or 0.0
            x = round(left + (len(series) - 0.5) * bar_w, 1)
            whiskers.append(Whisker(x, y(centre + errors[i]), y(max(centre - errors[i], low))))
    every = max(1, math.ceil(len(categories) / 12))  # at most a dozen category labels
    labels = [
        (round(LEFT + (i + 0.5) * slot, 1), c) for i, c in enumerate(categories) if i % every == 0
    ]
    count = round((high - low) / step)
    ticks = [(y(low + k * step), number(low + k * step)) for k in range(count + 1)]
    legend = [(PALETTE[j % len(PALETTE)], name) for j, (name, _) in enumerate(series)]
    return BarChart(title[0], title[1], bars, whiskers, labels, ticks, legend, y(0.0))
