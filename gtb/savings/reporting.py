"""The reporting period against the baseline: the avoided energy is what the baseline
model predicts under the reporting period's weather and calendar, minus what was metered;
the uncertainty CalTRACK's fractional savings uncertainty (FSU). Days that stay above the
model beyond its uncertainty are reported as losses of efficiency (BACS decree, CCH
R175-3 2°).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from scipy import stats

from gtb.savings.baseline import Baseline, DayRecord, SavingsError
from gtb.savings.degree_days import HDD_METHODS, FloatArray
from gtb.savings.rounding import round_fraction, round_kwh
from gtb.savings.tariffs import DEFAULT_TARIFFS, Rate
from gtb.texts import Reason

# --- savings ---------------------------------------------------------------------------

FSU_DAILY = (-0.00024, 0.03535, 1.00286)
"""a, b, d of CalTRACK 2.0 section 4.3.2.4 for daily data (Sun and Baltazar 2013)."""
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class MonthFigures:
    """One local month of the reporting period (``month`` is its first day)."""

    month: date
    actual_kwh: float
    baseline_kwh: float
    avoided_kwh: float
    avoided_eur: float
    avoided_co2_kg: float
    days: int = 0
    hdd: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"month": self.month.isoformat(), "actual_kwh": round_kwh(self.actual_kwh),
                "baseline_kwh": round_kwh(self.baseline_kwh),
                "avoided_kwh": round_kwh(self.avoided_kwh),
                "avoided_eur": round(self.avoided_eur, 2),
                "avoided_co2_kg": round(self.avoided_co2_kg, 1), "days": self.days,
                "hdd": round(self.hdd, 1)}


@dataclass(frozen=True)
class Savings:
    """Avoided energy over the reporting days, and its uncertainty at ``confidence``.

    ``fraction`` is avoided / baseline; ``fsu`` the fractional savings uncertainty
    (uncertainty / avoided, None when nothing was avoided); ``hdd`` the reporting
    period's degree-days with the baseline's method and base 18 °C (DJU)."""

    start: date
    end: date
    days: int
    actual_kwh: float
    baseline_kwh: float
    avoided_kwh: float
    fraction: float
    fsu: float | None
    uncertainty_kwh: float
    confidence: float
    avoided_eur: float
    avoided_co2_kg: float
    hdd: float
    months: tuple[MonthFigures, ...]

    @property
    def significant(self) -> bool:
        """Whether the avoided energy stands out of its uncertainty."""
        return bool(abs(self.avoided_kwh) > self.uncertainty_kwh)

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(), "days": self.days,
            "actual_kwh": round_kwh(self.actual_kwh), "baseline_kwh": round_kwh(self.baseline_kwh),
            "avoided_kwh": round_kwh(self.avoided_kwh), "fraction": round_fraction(self.fraction),
            "fsu": None if self.fsu is None else round_fraction(self.fsu),
            "uncertainty_kwh": round_kwh(self.uncertainty_kwh), "confidence": self.confidence,
            "significant": self.significant, "avoided_eur": round(self.avoided_eur, 2),
            "avoided_co2_kg": round(self.avoided_co2_kg, 1), "hdd": round(self.hdd, 1),
            "months": [m.as_dict() for m in self.months],
        }


def savings(baseline: Baseline, reporting_days: Sequence[DayRecord], *,
            confidence: float = 0.9, rate: Rate | None = None) -> Savings:
    """Avoided energy = the baseline's prediction under the reporting days' weather and day
    types minus the metered kWh, per month and in all, valued at ``rate`` (the heating
    rate of the default tariffs unless given), with CalTRACK's FSU:

        FSU = t (a M² + b M + d) CV(RMSE) sqrt((n / n') (1 + 2 / n') / Q) / F

    t Student's at ``confidence`` with n - p degrees of freedom, M the months and Q the
    days reported, n' the baseline's effective points, F the fraction saved; the
    uncertainty in kWh is FSU x avoided."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    days = sorted(reporting_days, key=lambda d: d.day)
    if not days:
        raise SavingsError("no day with data in the reporting period",
                           fr="aucun jour de la période n'a de données")
    rate = DEFAULT_TARIFFS.rate("heating") if rate is None else rate
    actual = np.array([d.kwh for d in days], dtype=np.float64)
    expected = baseline.predict(days)
    hdd18 = HDD_METHODS[baseline.method]([d.tmin for d in days], [d.tmax for d in days], 18.0)
    q = len(days)
    total_actual, total_expected = float(actual.sum()), float(expected.sum())
    avoided = total_expected - total_actual
    uncertainty = relative_uncertainty(baseline, q, confidence) * total_expected
    months: dict[date, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    for record, a, e, h in zip(days, actual, expected, hdd18, strict=True):
        month = months[record.day.replace(day=1)]
        month[0] += a
        month[1] += e
        month[2] += 1
        month[3] += h
    return Savings(
        start=days[0].day, end=days[-1].day, days=q, actual_kwh=total_actual,
        baseline_kwh=total_expected, avoided_kwh=avoided,
        fraction=avoided / total_expected if total_expected > 0 else 0.0,
        fsu=uncertainty / abs(avoided) if avoided else None, uncertainty_kwh=uncertainty,
        confidence=confidence, avoided_eur=avoided * rate.eur_per_kwh,
        avoided_co2_kg=avoided * rate.kg_co2e_per_kwh, hdd=float(hdd18.sum()),
        months=tuple(
            MonthFigures(month, a, e, e - a, (e - a) * rate.eur_per_kwh,
                         (e - a) * rate.kg_co2e_per_kwh, int(count), h)
            for month, (a, e, count, h) in sorted(months.items())),
    )


def relative_uncertainty(baseline: Baseline, q: int, confidence: float) -> float:
    """The uncertainty at ``confidence`` of the total predicted over ``q`` reporting days, as
    a fraction of it: FSU x F."""
    a, b, d = FSU_DAILY
    m = q / DAYS_PER_MONTH
    t = float(stats.t.ppf(0.5 + confidence / 2.0, baseline.n - baseline.p))
    n, n_eff = baseline.n, baseline.effective_n
    return (t * (a * m * m + b * m + d) * baseline.cv_rmse
            * math.sqrt((n / n_eff) * (1.0 + 2.0 / n_eff) / q))


# --- losses of efficiency ----------------------------------------------------------------

@dataclass(frozen=True)
class EfficiencyLoss:
    """Days on which a meter stayed above its baseline beyond its uncertainty."""

    building: str
    meter: str
    start: date
    end: date
    """The day the CUSUM peaked: the drift's estimated last day."""
    excess_kwh: float
    excess_fraction: float
    explanation_fr: str
    explanation_en: str
    ongoing: bool = False
    """Not yet ``BACK_WITHIN_DAYS`` days back within the allowance by the last day given."""

    def as_dict(self) -> dict[str, Any]:
        return {"building": self.building, "meter": self.meter, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "excess_kwh": round_kwh(self.excess_kwh),
                "excess_fraction": round_fraction(self.excess_fraction),
                "ongoing": self.ongoing,
                "explanation_fr": self.explanation_fr, "explanation_en": self.explanation_en}


CUSUM_ALLOWANCE = 0.5
"""k of the CUSUM, in standard deviations of a day: half of a one-sigma shift."""
CUSUM_THRESHOLD = 7.0
"""h of the CUSUM. On independent normal days it would raise a false alarm once in many
years; a baseline's errors on a new year are not that tame: on 40 synthetic meter-years
(tests' generator, AR(1) noise) h = 5 gave 0.35 false alarms a year, h = 7 gives 0.1, and
still finds a week at +40 % every time (docs/savings.md)."""
MIN_LOSS_DAYS = 3
"""A loss lasts several days: one extreme day (an event the agenda missed) is not one."""
BACK_WITHIN_DAYS = 2
"""Days in a row back within the allowance that end a loss (one mild day is no recovery)."""


def efficiency_losses(baseline: Baseline, recent_days: Sequence[DayRecord], *,
                      building: str = "", meter: str = "",
                      label: str | None = None) -> list[EfficiencyLoss]:
    """The stretches of days on which the meter used more than its baseline expects, found
    by a one-sided CUSUM of the days' standardised excess (Page, 1954; ISO 7870-4), the
    way a persistent drift is told from bad luck; ``label`` names the meter in the
    explanations.

    Each day's excess over the baseline's prediction is divided by the baseline's RMSE,
    scaled by the square root of expected / mean on days expected above the mean (heating
    scatters more when it works harder, so a cold spell is not taken for a fault), then
    freed of the residuals' day-to-day correlation (``_whitened``). The sum ``S`` of
    these standardised excesses less ``CUSUM_ALLOWANCE`` a day, floored at 0, grows while
    the meter stays above its band. A loss is reported once ``S`` passes
    ``CUSUM_THRESHOLD`` on a day above the allowance at least ``MIN_LOSS_DAYS`` days into
    the stretch (two extreme days followed by normal ones are not a loss); the stretch ends
    after ``BACK_WITHIN_DAYS`` days in a row within the allowance, or at a day without
    figures. It runs from the stretch's first day to the day ``S`` peaked (the classical
    estimates of when a drift began and ended)."""
    ordered = sorted(recent_days, key=lambda d: d.day)
    if not ordered:
        return []
    expected, excess, standardised = _excess(baseline, ordered)
    drift = _whitened(baseline, ordered, standardised)
    found: list[EfficiencyLoss] = []
    stretch: list[int] = []  # the days since S left 0
    sums: list[float] = []  # S on each of them
    back, alarmed = 0, False

    def close(ongoing: bool) -> None:
        if alarmed:
            peak = int(np.argmax(sums))
            found.append(_loss(ordered, stretch[:peak + 1], excess, expected, building, meter,
                               label, ongoing=ongoing))

    for i, day in enumerate(ordered):
        if stretch and (day.day - ordered[stretch[-1]].day).days != 1:
            close(ongoing=False)  # a day without figures: nothing can be said across it
            stretch, sums, back, alarmed = [], [], 0, False
        total = max(0.0, (sums[-1] if sums else 0.0) + float(drift[i]) - CUSUM_ALLOWANCE)
        if not stretch and total == 0.0:
            continue
        stretch.append(i)
        sums.append(total)
        back = back + 1 if standardised[i] <= CUSUM_ALLOWANCE else 0
        alarmed = alarmed or (total > CUSUM_THRESHOLD and back == 0
                              and len(stretch) >= MIN_LOSS_DAYS)
        if total == 0.0 or back >= BACK_WITHIN_DAYS:
            close(ongoing=False)
            stretch, sums, back, alarmed = [], [], 0, False
    if stretch:
        close(ongoing=True)
    return found


def back_within(baseline: Baseline, recent_days: Sequence[DayRecord]) -> bool:
    """Whether the last ``BACK_WITHIN_DAYS`` days given are consecutive and all within the
    allowance of ``efficiency_losses``: what ends a loss."""
    last = sorted(recent_days, key=lambda d: d.day)[-BACK_WITHIN_DAYS:]
    if len(last) < BACK_WITHIN_DAYS or (last[-1].day - last[0].day).days != len(last) - 1:
        return False
    return bool(np.all(_excess(baseline, last)[2] <= CUSUM_ALLOWANCE))


def _excess(baseline: Baseline, days: Sequence[DayRecord]
            ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Each day's expected kWh, its excess over it, and that excess standardised: divided
    by the RMSE, scaled by the square root of expected / mean on days expected above the
    mean (on the demo's buildings, the scatter of a winter day grows about so)."""
    expected = baseline.predict(days)
    excess = np.array([d.kwh for d in days]) - expected
    scale = (np.sqrt(np.maximum(1.0, expected / baseline.mean_kwh))
             if baseline.mean_kwh > 0 else 1.0)
    return expected, excess, excess / (baseline.rmse * scale)


def _whitened(baseline: Baseline, days: Sequence[DayRecord], standardised: FloatArray
              ) -> FloatArray:
    """The standardised excesses freed of the day-to-day correlation of the baseline's
    residuals (lag 1, rho): ``(z[t] - rho z[t-1]) / sqrt(1 - rho²)``, the day after a gap
    taken as it is. Correlated days would otherwise add up to a drift by chance."""
    rho = min(max(baseline.autocorrelation, 0.0), 0.9)
    drift = standardised.copy()
    for i in range(1, len(days)):
        if (days[i].day - days[i - 1].day).days == 1:
            drift[i] = (standardised[i] - rho * standardised[i - 1]) / math.sqrt(1 - rho**2)
    return drift


def _loss(days: Sequence[DayRecord], run: list[int], excess: FloatArray, expected: FloatArray,
          building: str, meter: str, label: str | None, *, ongoing: bool) -> EfficiencyLoss:
    kwh = float(excess[run].sum())
    fraction = kwh / float(expected[run].sum()) if float(expected[run].sum()) > 0 else math.inf
    first, last = days[run[0]].day, days[run[-1]].day
    what: Reason | str = label or meter or building or Reason.of("savings.loss.meter")
    above = (Reason.of("savings.loss.percent", pct=100 * fraction) if math.isfinite(fraction)
             else Reason.of("savings.loss.beyond"))
    said = Reason.of("savings.loss", first=first, last=last, days=len(run), what=what,
                     kwh=kwh, excess=above)
    return EfficiencyLoss(building, meter, first, last, kwh, fraction, said.fr, said.en,
                          ongoing)
