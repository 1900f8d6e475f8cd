"""Figures summed over several heating meters and lighting cabinets: avoided kWh, euros and
CO2e with their uncertainties, and the metered and expected kWh month by month.

How uncertainties add up (docs/savings.md, « The sum over meters »):

- the heating meters' baselines are fitted apart, but on the same days of the same weather
  and calendar: their errors are likely correlated (a sunny week, a windy one, a mistyped
  day fool every baseline alike), by an amount no year of data measures well. Their
  uncertainties are added as they are, Σ u: the bound of the sum's uncertainty whatever
  the correlation, the conservative choice. The lighting cabinets likewise: their former
  hours are estimated the same way from the same sun;
- the heating's total and the lighting's total have no cause of error in common (a model
  of the weather on one side, an estimate of hours and power on the other): those two
  combine as independent, sqrt(u₁² + u₂²), the propagation of independent errors.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from gtb.savings.lighting import CabinetSavings
from gtb.savings.reporting import Savings
from gtb.savings.tariffs import Rate


def in_quadrature(uncertainties: Iterable[float]) -> float:
    """The uncertainty of a sum of independent figures: sqrt(Σ u²)."""
    return math.sqrt(sum(u * u for u in uncertainties))


def bound(uncertainties: Iterable[float]) -> float:
    """The uncertainty of a sum of figures however correlated: Σ u, its upper bound."""
    return sum(uncertainties)


@dataclass(frozen=True)
class Figure:
    """Avoided kWh, euros and kg CO2e over a period, each with its uncertainty at the
    result's confidence; ``actual_kwh`` was metered where ``baseline_kwh`` was expected."""

    actual_kwh: float
    baseline_kwh: float
    kwh: float
    kwh_u: float
    eur: float
    eur_u: float
    co2: float
    co2_u: float

    @property
    def fraction(self) -> float:
        """The avoided share of what was expected."""
        return self.kwh / self.baseline_kwh if self.baseline_kwh > 0 else 0.0

    @property
    def significant(self) -> bool:
        """Whether the interval excludes zero: the saving, or the excess, is shown."""
        return abs(self.kwh) > self.kwh_u

    @staticmethod
    def of_meter(s: Savings, rate: Rate) -> Figure:
        """A heating meter's savings; the uncertainty in euros and CO2e is the one in kWh at
        the rate that valued them."""
        u = s.uncertainty_kwh
        return Figure(s.actual_kwh, s.baseline_kwh, s.avoided_kwh, u, s.avoided_eur,
                      u * rate.eur_per_kwh, s.avoided_co2_kg, u * rate.kg_co2e_per_kwh)

    @staticmethod
    def of_cabinet(c: CabinetSavings) -> Figure:
        """A cabinet against its former timetable."""
        return Figure(c.metered_kwh, c.former_kwh, c.avoided_kwh, c.uncertainty_kwh,
                      c.avoided_eur, c.uncertainty_eur, c.avoided_co2_kg, c.uncertainty_co2_kg)

    @staticmethod
    def total(figures: Iterable[Figure]) -> Figure:
        """The sum of meters of one kind (of nothing: zero); their uncertainties, possibly
        correlated, add up (``bound``)."""
        return Figure._sum(list(figures), bound)

    @staticmethod
    def independent(figures: Iterable[Figure]) -> Figure:
        """The sum of figures whose errors have no common cause: uncertainties in
        quadrature."""
        return Figure._sum(list(figures), in_quadrature)

    @staticmethod
    def _sum(found: list[Figure], combine: Callable[[Iterable[float]], float]) -> Figure:
        return Figure(sum(f.actual_kwh for f in found), sum(f.baseline_kwh for f in found),
                      sum(f.kwh for f in found), combine(f.kwh_u for f in found),
                      sum(f.eur for f in found), combine(f.eur_u for f in found),
                      sum(f.co2 for f in found), combine(f.co2_u for f in found))


class MonthTotal(NamedTuple):
    """One local month (``month`` is its first day): the kWh metered and the kWh the
    baselines expected under its weather and calendar, summed over meters."""

    month: date
    actual_kwh: float
    baseline_kwh: float

    @property
    def avoided_kwh(self) -> float:
        return self.baseline_kwh - self.actual_kwh

    @property
    def fraction(self) -> float | None:
        """The avoided share of what was expected; None when nothing was."""
        return self.avoided_kwh / self.baseline_kwh if self.baseline_kwh > 0 else None


def monthly_totals(savings: Iterable[Savings]) -> list[MonthTotal]:
    """The meters' months summed, oldest first."""
    sums: dict[date, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for s in savings:
        for m in s.months:
            sums[m.month][0] += m.actual_kwh
            sums[m.month][1] += m.baseline_kwh
    return [MonthTotal(month, actual, baseline)
            for month, (actual, baseline) in sorted(sums.items())]


def month_end(month: date) -> date:
    """The last day of ``month``'s month."""
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
