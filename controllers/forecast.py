"""The outdoor temperature to come, as the heating decisions take it.

A forecast is a few values ahead (hourly, typically for the next 24 to 48 hours) and
where they come from: a weather service (``forecast``), or, when there is none or it
failed, the temperature now held flat (``persistence``). Pure: the sources that fetch
or make forecasts live in the engine and the simulator; this is what they hand over.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Literal

ForecastSource = Literal["forecast", "persistence"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class OutdoorForecast:
    """Outdoor temperatures (°C) at increasing aware times, and their source."""

    times: tuple[datetime, ...]
    temperatures: tuple[float, ...]
    source: ForecastSource

    def __post_init__(self) -> None:
        if not self.times or len(self.times) != len(self.temperatures):
            raise ValueError(f"a forecast needs as many times ({len(self.times)}) as "
                             f"temperatures ({len(self.temperatures)}), at least one")
        if any(t.tzinfo is None for t in self.times):
            raise ValueError("forecast times must carry their time zone")
        if any(b <= a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ValueError("forecast times must increase")

    @classmethod
    def persistence(cls, now: datetime, outdoor: float) -> OutdoorForecast:
        """The temperature now, for ever: what is left without a forecast."""
        return cls((now,), (outdoor,), "persistence")

    @classmethod
    def of(cls, values: Sequence[tuple[datetime, float]],
           source: ForecastSource = "forecast") -> OutdoorForecast:
        ordered = sorted(values)
        return cls(tuple(t for t, _ in ordered), tuple(v for _, v in ordered), source)

    @cached_property
    def _instants(self) -> tuple[int, ...]:
        """The times as microseconds since the epoch (``_micros``), worked out once: a
        forecast serves every zone's decisions for an hour."""
        return tuple(_micros(t) for t in self.times)

    def at(self, when: datetime) -> float:
        """Linear between the values, held flat before the first and after the last."""
        return self._along([_micros(when)])[0]

    def mean(self, start: datetime, end: datetime, steps: int = 12) -> float:
        """The mean of ``steps`` + 1 values evenly spaced in real time over [start, end],
        both ends included (the value at ``start`` when the window is empty): a sample
        mean of the values interpolated, not their integral. Real time, not the wall
        clock: a window across a daylight-saving change is an hour longer or shorter
        than the clock says."""
        first, last = _micros(start), _micros(end)
        if last <= first:
            return self._along([first])[0]
        window = (first, last, steps)
        known = self._means.get(window)
        if known is None:
            known = self._means[window] = (sum(self._along(_spaced(first, last, steps)))
                                           / (steps + 1))
        return known

    @cached_property
    def _means(self) -> dict[tuple[int, int, int], float]:
        """The means worked out so far, by window: the zones of a site pre-heat toward
        the same arrivals, and a pre-heat's start is found again at every decision."""
        return {}

    def _along(self, instants: list[int]) -> list[float]:
        """``at`` increasing instants, in microseconds since the epoch: one search for
        the first, then a walk (a mean asks for a dozen on every decision)."""
        knots, values = self._instants, self.temperatures
        count, i = len(knots), bisect_right(knots, instants[0])
        found = []
        for instant in instants:
            while i < count and knots[i] <= instant:
                i += 1
            if i == 0:
                found.append(values[0])
            elif i == count:
                found.append(values[-1])
            else:
                share = (instant - knots[i - 1]) / (knots[i] - knots[i - 1])
                found.append(values[i - 1] + share * (values[i] - values[i - 1]))
        return found


def _micros(when: datetime) -> int:
    """An aware time as whole microseconds since the epoch: exact, unlike a float
    timestamp, and compared without the time-zone lookups that comparing times of
    different zones costs (a forecast in UTC, a decision in the site's zone)."""
    return (when - _EPOCH) // _MICROSECOND


def _spaced(first: int, last: int, steps: int) -> list[int]:
    """``steps`` + 1 instants evenly spaced from ``first`` to ``last``, each rounded to
    the microsecond as a ``timedelta`` divided by an integer is (halves to even)."""
    span = last - first
    if span % steps == 0:  # nothing to round: a whole number of minutes in 12 steps
        return list(range(first, last + 1, span // steps))
    spaced = []
    for n in range(steps + 1):
        scaled = span * n
        quotient = scaled // steps
        twice = 2 * (scaled - quotient * steps)
        if twice > steps or (twice == steps and quotient % 2):
            quotient += 1
        spaced.append(first + quotient)
    return spaced
