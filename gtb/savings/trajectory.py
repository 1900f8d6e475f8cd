"""Where the commune's heating, and that of each building subject to the décret tertiaire,
stands on the path to the décret's first target.

The décret tertiaire (décret n° 2019-771 of 23 July 2019) binds the buildings of 1,000 m²
or more to cut their final energy by 40 % in 2030, 50 % in 2040 and 60 % in 2050 against a
reference year from 2010 on; the arrêté « méthode » of 10 April 2020 says how: a yearly
declaration on OPERAT, the heating adjusted by the degree-days of the department's
reference station. Here the reference year is the savings' baseline year, and a year's
consumption is the heating the engine meters in % of what the baselines expect under that
year's weather and calendar: the two years compared at equal weather, as the décret
compares them after its degree-day adjustment, the baseline model doing the adjusting. It
covers the heating only, so it is a landmark to follow the décret, not the declaration,
which counts all the building's energies.

The décret sets milestones, not a path between them: the steady path from the reference
year (100 %) to the 2030 target (60 %) is this module's, to say whether the commune is
ahead or behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from gtb.model import Building, Site
from gtb.savings.reporting import Savings
from gtb.savings.rounding import round_fraction
from gtb.savings.totals import MonthTotal, month_end, monthly_totals

DECREE_AREA_M2 = 1000
"""The décret tertiaire applies to buildings of 1,000 m² or more."""
TARGETS = ((2030, 40), (2040, 50), (2050, 60))
"""The décret tertiaire's targets: (year, % of final energy saved against the reference
year)."""
GOAL_YEAR, GOAL = TARGETS[0]
"""The first target, to which the path leads."""
YEAR_MONTHS = 12
"""The décret counts yearly consumptions: twelve months make a point of the path."""
MIN_MONTHS = 6
"""An older remainder shorter than half a year would be a season rather than a year."""


def subject_to_decree(building: Building) -> bool:
    """Whether the décret tertiaire binds the building (its floor area, 1,000 m² or more);
    for the others its targets are a landmark."""
    return building.floor_area_m2 >= DECREE_AREA_M2


def _decimal_year(day: date) -> float:
    """2025-07-02 → 2025.5: where a day stands on the path's axis of years."""
    start = date(day.year, 1, 1)
    return day.year + (day - start).days / (date(day.year + 1, 1, 1) - start).days


def _middle(first: date, last: date) -> float:
    return _decimal_year(first + (last - first) / 2)


@dataclass(frozen=True)
class TrajectoryPoint:
    """Twelve months (fewer at the start of the period, whose first and last months may be
    partial) and their heating in % of the reference year's at equal weather (``index``:
    metered / the baselines' expectation under their weather and calendar)."""

    start: date
    end: date
    index: float

    @property
    def year(self) -> float:
        """The period's middle, as a decimal year: where it stands on the path."""
        return _middle(self.start, self.end)

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "index": round_fraction(self.index / 100)}


@dataclass(frozen=True)
class Trajectory:
    """The heating of some meters (a commune's, a building's) year by year since the engine
    took over, in % of the reference year's at equal weather (``points``, oldest first),
    against the steady path from the reference (100 %, at the middle of its year) to the
    2030 target (100 − ``GOAL`` %, at the middle of 2030). The latest point says where they
    stand."""

    reference: tuple[date, date]
    points: tuple[TrajectoryPoint, ...]

    @property
    def reference_year(self) -> float:
        return _middle(*self.reference)

    def path_at(self, year: float) -> float:
        """The steady path's % of the reference at ``year`` (a decimal year)."""
        x0, goal_x = self.reference_year, GOAL_YEAR + 0.5
        return 100.0 - GOAL * min(1.0, max(0.0, (year - x0) / (goal_x - x0)))

    @property
    def latest(self) -> TrajectoryPoint:
        return self.points[-1]

    @property
    def window(self) -> tuple[date, date]:
        """The latest twelve months (at most)."""
        return self.latest.start, self.latest.end

    @property
    def index(self) -> float:
        """The latest twelve months' heating in % of the reference year's."""
        return self.latest.index

    @property
    def path(self) -> float:
        """The steady path's % at the latest twelve months' middle."""
        return self.path_at(self.latest.year)

    @property
    def reduction(self) -> float:
        """Points of % saved against the reference year (negative: used more)."""
        return 100.0 - self.index

    @property
    def needed(self) -> float:
        """The reduction the steady path asks for at the same time."""
        return 100.0 - self.path

    @property
    def remaining(self) -> float:
        """Points of % still to gain by 2030 (negative once beyond the target)."""
        return self.index - (100.0 - GOAL)

    @property
    def ahead(self) -> bool:
        """At or below the steady path."""
        return bool(self.index <= self.path)

    @property
    def reached(self) -> bool:
        """The 2030 target already met."""
        return bool(self.reduction >= GOAL)

    @property
    def target_line(self) -> list[tuple[float, float]]:
        """The steady path as (decimal year, %): from the reference to the 2030 target."""
        return [(self.reference_year, 100.0), (GOAL_YEAR + 0.5, 100.0 - GOAL)]

    @property
    def actual_line(self) -> list[tuple[float, float]]:
        """The consumption as (decimal year, %): the reference, then each point."""
        return [(self.reference_year, 100.0), *((p.year, p.index) for p in self.points)]

    def as_dict(self) -> dict[str, Any]:
        """Percentages as fractions, as in the rest of the JSON."""
        return {"reference": [d.isoformat() for d in self.reference],
                "window": [d.isoformat() for d in self.window],
                "index": round_fraction(self.index / 100),
                "path": round_fraction(self.path / 100),
                "reduction": round_fraction(self.reduction / 100),
                "needed": round_fraction(self.needed / 100),
                "remaining": round_fraction(self.remaining / 100),
                "ahead": self.ahead, "reached": self.reached,
                "points": [p.as_dict() for p in self.points]}


def trajectory(reference: tuple[date, date], months: Sequence[MonthTotal], start: date,
               end: date) -> Trajectory | None:
    """The path of the meters whose monthly totals are ``months`` over the reporting period
    ``start`` to ``end``: twelve months at a time, counted back from the latest, a
    remainder at the start left out when shorter than ``MIN_MONTHS`` unless it is all
    there is. None without a month."""
    if not months:
        return None
    chunks = [months[max(0, i - YEAR_MONTHS):i]
              for i in range(len(months), 0, -YEAR_MONTHS)][::-1]
    return Trajectory(reference, tuple(_point(chunk, start, end) for chunk in chunks
                                       if len(chunk) >= MIN_MONTHS or chunk is chunks[-1]))


def _point(months: Sequence[MonthTotal], start: date, end: date) -> TrajectoryPoint:
    """Some months' heating in % of the reference year's at equal weather; their days
    within the reporting period."""
    expected = float(sum(m.baseline_kwh for m in months))
    index = 100.0 * float(sum(m.actual_kwh for m in months)) / expected if expected > 0 else 100.0
    return TrajectoryPoint(max(months[0].month, start), min(month_end(months[-1].month), end),
                           index)


@dataclass(frozen=True)
class BuildingTrajectory:
    """The path of one building subject to the décret tertiaire."""

    building: str
    name: str
    floor_area_m2: float
    trajectory: Trajectory

    def as_dict(self) -> dict[str, Any]:
        return {"building": self.building, "name": self.name,
                "floor_area_m2": self.floor_area_m2, **self.trajectory.as_dict()}


@dataclass(frozen=True)
class SiteTrajectory:
    """The commune's path, all its heating meters together, and that of each building the
    décret binds (``buildings``: those with heating figures, in the site file's order)."""

    commune: Trajectory
    buildings: tuple[BuildingTrajectory, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"targets": [{"year": year, "reduction": cut / 100} for year, cut in TARGETS],
                "decree_area_m2": DECREE_AREA_M2, "commune": self.commune.as_dict(),
                "buildings": [b.as_dict() for b in self.buildings]}


def site_trajectory(site: Site, reference: tuple[date, date],
                    meters: Sequence[tuple[str, Savings]], start: date, end: date
                    ) -> SiteTrajectory | None:
    """The paths of the site's heating meters (``meters``: each one's building and savings
    over ``start`` to ``end``) against the reference period; None without a meter."""
    commune = trajectory(reference, monthly_totals(s for _, s in meters), start, end)
    if commune is None:
        return None
    buildings = []
    for b in filter(subject_to_decree, site.buildings):
        own = trajectory(reference, monthly_totals(s for key, s in meters if key == b.id),
                         start, end)
        if own is not None:
            buildings.append(BuildingTrajectory(b.id, b.name, b.floor_area_m2, own))
    return SiteTrajectory(commune, tuple(buildings))
