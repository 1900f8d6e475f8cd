"""Charts drawn on the server as inline SVG: no script, they print, and a screen reader gets
their title and the table beside them.

Here is only geometry (positions in the SVG's own units); the templates draw it
(``_savings.html``) and format the numbers in the reader's language. The zone's chart is
drawn in the browser by uPlot (``static/zone-chart.js``); it takes the names of months and
days from here (``calendar_names``), its times on 24 hours and its dates day first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from gtb.i18n import (
    DAYS_EN,
    DAYS_EN_SHORT,
    DAYS_FR,
    DAYS_FR_SHORT,
    MONTHS_EN,
    MONTHS_EN_SHORT,
    MONTHS_FR,
    MONTHS_FR_SHORT,
)

WIDTH = 640
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 24, 40


@dataclass(frozen=True)
class Tick:
    """A horizontal grid line at ``y`` for ``value``."""

    y: float
    value: float


@dataclass(frozen=True)
class Frame:
    """The plot's area, the SVG's own units: from ``left`` to ``right``, down to
    ``bottom``, its grid lines (``ticks``); the axis labels go in the margins."""

    width: int
    height: int
    left: int
    right: float
    bottom: float
    ticks: list[Tick]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: float


@dataclass(frozen=True)
class BarGroup:
    """One month: the baseline's bar beside the metered one; ``label_x`` centres its
    label (shown on every group, or every other when there are many), and the year under
    it on the first month and on each January (``year``)."""

    month: date
    label_x: float
    shown: bool
    year: bool
    baseline: Bar
    actual: Bar


@dataclass(frozen=True)
class BarChart(Frame):
    groups: list[BarGroup]


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round steps from 0 up to at least ``top``: 0, 500, 1 000, 1 500…"""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def bar_chart(months: Sequence[tuple[date, float, float]]) -> BarChart:
    """Monthly bars, the baseline's and the metered kWh side by side, from
    ``(month, actual, baseline)``."""
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    values = [v for _, actual, baseline in months for v in (actual, baseline)]
    ticks = nice_ticks(max([0.0, *values]))
    top_value = ticks[-1]

    def y(value: float) -> float:
        return bottom - (bottom - TOP) * max(0.0, value) / top_value

    slot = (right - LEFT) / max(1, len(months))
    bar = slot * 0.38
    every = 1 if len(months) <= 12 else 2
    groups = []
    for i, (month, actual, baseline) in enumerate(months):
        x = LEFT + i * slot + slot * 0.1
        groups.append(BarGroup(
            month, LEFT + (i + 0.5) * slot, i % every == 0, i == 0 or month.month == 1,
            Bar(x, y(baseline), bar, bottom - y(baseline), baseline),
            Bar(x + bar, y(actual), bar, bottom - y(actual), actual)))
    return BarChart(WIDTH, HEIGHT, LEFT, right, bottom,
                    [Tick(y(value), value) for value in ticks], groups)


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    year: float
    value: float


@dataclass(frozen=True)
class LineChart(Frame):
    """The décret tertiaire's path (``target``: from the reference to the 2030 goal) and
    the commune's consumption (``actual``), both in % of the reference year."""

    years: list[tuple[float, int]]
    """Each year's label, at the middle of the year."""
    target: list[Dot]
    actual: list[Dot]

    @staticmethod
    def points(dots: Sequence[Dot]) -> str:
        return " ".join(f"{d.x:.1f},{d.y:.1f}" for d in dots)


def line_chart(target: Sequence[tuple[float, float]], actual: Sequence[tuple[float, float]]
               ) -> LineChart:
    """Two lines of ``(year as a decimal, % of the reference)``."""
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    everything = [*target, *actual]
    first = math.floor(min(x for x, _ in everything))
    last = math.ceil(max(x for x, _ in everything))
    low = min(50.0, 10 * math.floor(min(v for _, v in everything) / 10))
    high = max(110.0, 10 * math.ceil(max(v for _, v in everything) / 10))

    def dot(year: float, value: float) -> Dot:
        x = LEFT + (right - LEFT) * (year - first) / max(1, last - first)
        return Dot(x, bottom - (bottom - TOP) * (value - low) / (high - low), year, value)

    ticks = [Tick(dot(first, v).y, v) for v in range(int(low), int(high) + 1, 10)]
    years = [(dot(year + 0.5, low).x, year) for year in range(first, last)]
    return LineChart(WIDTH, HEIGHT, LEFT, right, bottom, ticks, years,
                     [dot(*p) for p in target], [dot(*p) for p in actual])


def calendar_names(lang: str) -> dict[str, list[str]]:
    """The names of months and days in ``lang``, as uPlot's ``fmtDate`` takes them: its
    weeks begin on Sunday (JavaScript's ``Date.getDay``)."""
    fr = lang == "fr"

    def sunday_first(days: Sequence[str]) -> list[str]:
        return [days[6], *days[:6]]

    return {"MMMM": list(MONTHS_FR if fr else MONTHS_EN),
            "MMM": list(MONTHS_FR_SHORT if fr else MONTHS_EN_SHORT),
            "WWWW": sunday_first(DAYS_FR if fr else DAYS_EN),
            "WWW": sunday_first(DAYS_FR_SHORT if fr else DAYS_EN_SHORT)}
