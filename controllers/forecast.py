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
from datetime import datetime
from typing import Literal

ForecastSource = Literal["forecast", "persistence"]


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

    def at(self, when: datetime) -> float:
        """Linear between the values, held flat before the first and after the last."""
        times, values = self.times, self.temperatures
        i = bisect_right(times, when)
        if i == 0:
            return values[0]
        if i == len(times):
            return values[-1]
        before, after = times[i - 1], times[i]
        share = (when - before) / (after - before)
        return values[i - 1] + share * (values[i] - values[i - 1])

    def mean(self, start: datetime, end: datetime, steps: int = 12) -> float:
        """The mean over [start, end], from ``steps`` + 1 evenly spaced values."""
        if end <= start:
            return self.at(start)
        span = end - start
        return sum(self.at(start + span * n / steps) for n in range(steps + 1)) / (steps + 1)
