"""A river's level for the virtual commune's gauge: a seeded scenario, not hydrology.

The demo's river gauge (the Scarpe at the town hall's bridge) is watched with thresholds,
the flood warning the seeds mention; a level held at mid-range would never show one. This
model gives the level a shape a person recognises, from the gauge's own thresholds:

- a base level, 40 % of the warning threshold (``high``), that rises in winter by a
  quarter of it (a cosine peaking mid-January, lowest mid-July): the river runs higher
  in the wet season;
- floods: three episodes each winter (peaks between 1 November and 15 March, at least
  ten days apart), each rising in 12 to 36 hours and receding over days; one of them
  passes the warning threshold (``high``), and in about one winter in five it passes the
  alarm (``high_high``) instead; the other two stay below 90 % of ``high``.

Everything is drawn from a generator seeded by the seed, the point and the winter, so a
level is a function of the moment: the same at every run, in the live demo and in its
simulated past, whatever the order in which it is asked. The synthetic weather has no
rain to drive it (``gtb.sim.weather``): the floods do not follow the weather's days.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gtb.model.points import Watch

_YEAR_S = 365.25 * 86400
_MID_JANUARY = datetime(2000, 1, 15, tzinfo=UTC).timestamp()
_BASE, _WINTER = 0.40, 0.25
"""The base level and its winter rise, as fractions of the warning threshold."""
FLOODS_PER_WINTER = 3
BIG_FLOOD_CHANCE = 0.2
"""The chance in a winter that its largest flood passes ``high_high``."""


@dataclass(frozen=True)
class Flood:
    """One episode: the level rises to ``peak`` (m) at ``peak_at`` (epoch) over ``rise_s``
    and recedes exponentially with the time constant ``fall_s``."""

    peak_at: float
    peak: float
    rise_s: float
    fall_s: float


@dataclass
class RiverLevel:
    """The level of a watched river at any moment (``level``), within ``bounds``."""

    watch: Watch
    bounds: tuple[float, float]
    seed: str
    _winters: dict[int, tuple[Flood, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.watch.high is None:
            raise ValueError("a river's level needs a watch with a high threshold")

    @property
    def high(self) -> float:
        assert self.watch.high is not None
        return self.watch.high

    @property
    def high_high(self) -> float:
        """The alarm threshold, or a fifth above the warning when the watch has none."""
        return self.watch.high_high or 1.2 * self.high

    def seasonal(self, epoch: float) -> float:
        """The level without floods: the base and its winter rise."""
        phase = 2 * math.pi * (epoch - _MID_JANUARY) / _YEAR_S
        return self.high * (_BASE + _WINTER * (0.5 + 0.5 * math.cos(phase)))

    def level(self, epoch: float) -> float:
        at = datetime.fromtimestamp(epoch, UTC)
        # A winter's floods recede into the next summer: the two winters around a moment.
        winter = at.year if at.month >= 10 else at.year - 1
        level = self.seasonal(epoch)
        for flood in (*self.floods(winter - 1), *self.floods(winter)):
            level += (flood.peak - self.seasonal(flood.peak_at)) * _shape(flood, epoch)
        low, high = self.bounds
        return min(high, max(low, level))

    def floods(self, winter: int) -> tuple[Flood, ...]:
        """The episodes of the winter that begins in October of ``winter``."""
        if winter not in self._winters:
            self._winters[winter] = self._draw(winter)
        return self._winters[winter]

    def _draw(self, winter: int) -> tuple[Flood, ...]:
        draw = random.Random(f"{self.seed}:{winter}")
        start = datetime(winter, 11, 1, tzinfo=UTC).timestamp()
        slots = draw.sample(range(13), FLOODS_PER_WINTER)  # 10-day slots to 15 March
        big = draw.randrange(FLOODS_PER_WINTER)
        gap = self.high_high - self.high
        floods = []
        for n, slot in enumerate(sorted(slots)):
            if n != big:
                peak = self.high * draw.uniform(0.70, 0.90)
            elif draw.random() < BIG_FLOOD_CHANCE:
                peak = self.high_high + gap * draw.uniform(0.1, 0.4)
            else:
                peak = self.high + gap * draw.uniform(0.2, 0.7)
            floods.append(Flood(start + (10 * slot + draw.uniform(0, 5)) * 86400, peak,
                                draw.uniform(12, 36) * 3600, draw.uniform(24, 48) * 3600))
        return tuple(floods)


def _shape(flood: Flood, epoch: float) -> float:
    """0 far from the flood, 1 at its peak: a smooth rise, an exponential recession."""
    before = flood.peak_at - epoch
    if before > flood.rise_s:
        return 0.0
    if before >= 0:
        return (1 - before / flood.rise_s) ** 2
    return math.exp((epoch - flood.peak_at) / -flood.fall_s)


def is_river(unit: str, watch: Watch | None) -> bool:
    """A measurement the model plays: a level in metres watched for rising too high."""
    return unit == "m" and watch is not None and watch.high is not None
