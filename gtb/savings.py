"""What was saved, in kWh, euros and CO2, weather-normalised, with its uncertainty
(docs/savings.md).

The method is IPMVP option C as CalTRACK 2.0 makes it precise for daily data: a baseline
model is fitted on a year of days before the engine took over, daily kWh = intercept of
the day type + slope x heating degree-days above a balance temperature found by grid
search; the avoided energy is what that model predicts under the reporting period's
weather and calendar, minus what was metered. Fit statistics follow ASHRAE Guideline 14,
the uncertainty CalTRACK's fractional savings uncertainty (FSU). Public lighting is
compared with its former timetable, dusk to dawn at full power. Days that stay above the
model beyond its uncertainty are reported as losses of efficiency (BACS decree, CCH
R175-3 2°).

The computations are pure functions of dataclasses and arrays; ``building_days``,
``site_savings`` and the CSV readers are the thin part that reads the store and files.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal, overload
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from controllers.lighting import sun_times
from controllers.schedule import FrenchCalendar, programmed_periods
from gtb.i18n import number_fr
from gtb.model import AgendaEntry, Building, Cabinet, Role, Site
from gtb.store import Store
from gtb.tariffs import DEFAULT_TARIFFS, Rate, Tariffs

FloatArray = NDArray[np.float64]

__all__ = [
    "DEFAULT_TARIFFS", "Baseline", "BuildingSavings", "CabinetSavings", "DayRecord", "Days",
    "EfficiencyLoss", "MonthFigures", "Savings", "SavingsError", "SiteSavings", "Tariffs",
    "building_days", "day_types", "efficiency_losses", "fit_baseline", "hdd_costic",
    "hdd_meteo", "load_readings_csv", "load_weather_csv", "savings", "site_savings",
]


class SavingsError(ValueError):
    """The figures cannot be computed (no data, a baseline too short…); the message says
    why in English, ``fr`` in French."""

    def __init__(self, message: str, *, fr: str | None = None) -> None:
        super().__init__(message)
        self.fr = fr or message


# --- degree-days -----------------------------------------------------------------------

@overload
def hdd_meteo(tmin: float, tmax: float, base: float = 18.0) -> float: ...
@overload
def hdd_meteo(tmin: ArrayLike, tmax: ArrayLike, base: float = 18.0) -> FloatArray: ...
def hdd_meteo(tmin: ArrayLike, tmax: ArrayLike, base: float = 18.0) -> float | FloatArray:
    """Heating degree-days of each day, Météo-France's ("météo") method:
    Tm = (Tn + Tx) / 2, DJ = max(0, S - Tm), with S the base (18 °C for DJU)."""
    tn, tx = _extremes(tmin, tmax)
    return _shaped(np.maximum(0.0, base - (tn + tx) / 2.0))


@overload
def hdd_costic(tmin: float, tmax: float, base: float = 18.0) -> float: ...
@overload
def hdd_costic(tmin: ArrayLike, tmax: ArrayLike, base: float = 18.0) -> FloatArray: ...
def hdd_costic(tmin: ArrayLike, tmax: ArrayLike, base: float = 18.0) -> float | FloatArray:
    """Heating degree-days of each day, COSTIC's method ("professionnels de l'énergie",
    heating contracts and OPERAT): with S the base and Tm = (Tn + Tx) / 2,

    - S >= Tx (a cold day): DJ = S - Tm;
    - S <= Tn (a warm day): DJ = 0;
    - Tn < S < Tx: DJ = (S - Tn) x (0.08 + 0.42 x (S - Tn) / (Tx - Tn)),

    which counts the part of a mild day spent below the base, where the météo method
    counts nothing once Tm passes S. The three branches meet at their edges."""
    tn, tx = _extremes(tmin, tmax)
    cold, warm = base >= tx, base <= tn
    between = ~(cold | warm)
    span = np.where(between, tx - tn, 1.0)  # never 0 where it is used
    mild = (base - tn) * (0.08 + 0.42 * (base - tn) / span)
    return _shaped(np.where(cold, base - (tn + tx) / 2.0, np.where(warm, 0.0, mild)))


HDD_METHODS: dict[str, Callable[[ArrayLike, ArrayLike, float], FloatArray]] = {
    "costic": hdd_costic, "meteo": hdd_meteo,
}


def _extremes(tmin: ArrayLike, tmax: ArrayLike) -> tuple[FloatArray, FloatArray]:
    tn, tx = np.asarray(tmin, dtype=np.float64), np.asarray(tmax, dtype=np.float64)
    if np.any(tn > tx):
        raise ValueError("a day's minimum temperature is above its maximum")
    return tn, tx


def _shaped(values: FloatArray) -> Any:
    return float(values) if values.ndim == 0 else values


# --- days and day types ----------------------------------------------------------------

DayType = Literal["school", "holiday", "closed", "event"]
DAY_TYPES: tuple[DayType, ...] = ("school", "holiday", "closed", "event")
"""school: a school or working day (the programme has the building open); holiday: a day
the programme would open but a public or school holiday closes; closed: a day the
programme keeps closed (weekends), or a closure or day exception closes; event: an agenda
event opens the building."""

_KIN: dict[str, tuple[DayType, ...]] = {
    "event": ("school", "closed", "holiday"), "holiday": ("closed", "school", "event"),
    "closed": ("holiday", "school", "event"), "school": ("closed", "holiday", "event"),
}
"""The day types whose consumption is most like each one's, nearest first: a type with too
few days joins the first of these that has enough."""


@dataclass(frozen=True)
class DayRecord:
    """One local day of one meter: its kWh, the outdoor extremes and its day type."""

    day: date
    kwh: float
    tmin: float
    tmax: float
    day_type: str = "school"


class Days(list[DayRecord]):
    """Days read from the store, with the days of the period that had to be skipped."""

    def __init__(self, records: Iterable[DayRecord], missing: Sequence[date] = ()) -> None:
        super().__init__(records)
        self.missing = tuple(missing)


def day_types(site: Site, building: Building | str, days: Iterable[date], *,
              agenda: Iterable[AgendaEntry] | None = None) -> dict[date, str]:
    """The day type of each day for one building, from its zones' programmes, the French
    calendar (public holidays; school holidays for schools and gyms) and the agenda
    (``site.agenda`` unless given; pass the store's too). A closure covering the whole day
    wins, then an event, then a day exception, then the calendar, as in
    ``controllers.schedule``."""
    b = _building(site, building)
    calendar = FrenchCalendar(site.school_zone, site.alsace_moselle)
    programmes = [site.programme_of(b, zone) for zone in b.zones]
    entries = [e for e in (site.agenda if agenda is None else agenda)
               if any(e.applies_to(b.id, zone.id) for zone in b.zones)]
    result: dict[date, str] = {}
    for day in days:
        midnight = datetime.combine(day, time())
        next_midnight = midnight + timedelta(days=1)
        timed = [e for e in entries if e.kind != "day" and e.start is not None
                 and e.end is not None and e.start < next_midnight and e.end > midnight]
        exceptions = [e for e in entries if e.kind == "day" and e.first_day <= day <= e.last_day]
        if any(e.kind == "closure" and e.start is not None and e.end is not None
               and e.start <= midnight and e.end >= next_midnight for e in timed):
            result[day] = "closed"
        elif any(e.kind == "event" for e in timed):
            result[day] = "event"
        elif exceptions:
            chosen = min(reversed(exceptions), key=lambda e: (e.last_day - e.first_day).days)
            result[day] = "school" if chosen.periods else "closed"
        elif any(programmed_periods(p, calendar, b.use, day) for p in programmes):
            result[day] = "school"
        elif any(p.periods(day.weekday()) for p in programmes):
            result[day] = "holiday"
        else:
            result[day] = "closed"
    return result


def _building(site: Site, building: Building | str) -> Building:
    if isinstance(building, Building):
        return building
    for b in site.buildings:
        if b.id == building:
            return b
    raise SavingsError(f"no building {building!r} in site {site.id}",
                       fr=f"pas de bâtiment « {building} » dans le site {site.id}")


# --- the baseline model ----------------------------------------------------------------

BALANCE_GRID = tuple(10.0 + 0.5 * i for i in range(25))
"""Candidate balance temperatures, 10 to 22 °C by 0.5 K (CalTRACK 3.2.3: steps of at most
3 °F)."""
MIN_DAYS_PER_TYPE = 10
"""A day type has its own intercept (and may have its own slope) from this many days."""


@dataclass(frozen=True)
class Baseline:
    """A fitted baseline: daily kWh = intercept[day type] + slope[day type] x HDD(balance).

    ``coefficients`` gives, for each day type, its ``intercept`` (kWh/day) and ``slope``
    (kWh per degree-day); types with too few baseline days share those of their nearest
    kin (``groups`` says which). ``balance_c`` is None for a model without weather
    dependence (intercepts only). Statistics, ASHRAE Guideline 14 with n - p: ``cv_rmse``
    and ``nmbe`` on the days, ``monthly_cv_rmse`` and ``monthly_nmbe`` on the monthly sums
    of the fit (n - 1: they are compared, not fitted), ``meets_guideline14`` when the
    monthly ones are within 15 % and 5 %. Fractions, not percentages."""

    method: str
    balance_c: float | None
    coefficients: Mapping[str, Mapping[str, float]]
    groups: Mapping[str, str]
    shared_slope: bool
    start: date
    end: date
    n: int
    p: int
    mean_kwh: float
    rmse: float
    cv_rmse: float
    nmbe: float
    r2: float
    r2_adjusted: float
    autocorrelation: float
    monthly_cv_rmse: float
    monthly_nmbe: float
    months: int
    meets_guideline14: bool

    @property
    def effective_n(self) -> float:
        """Points that carry independent information: n (1 - rho) / (1 + rho), rho the lag-1
        autocorrelation of the residuals (ASHRAE Guideline 14, annex B)."""
        rho = self.autocorrelation
        return self.n * (1.0 - rho) / (1.0 + rho)

    def hdd(self, tmin: ArrayLike, tmax: ArrayLike) -> FloatArray:
        if self.balance_c is None:
            return np.zeros(np.shape(tmin))
        return np.asarray(HDD_METHODS[self.method](tmin, tmax, self.balance_c))

    def predict(self, days: Sequence[DayRecord]) -> FloatArray:
        """Expected kWh of each day under its weather and day type (never below 0)."""
        tmin = np.array([d.tmin for d in days], dtype=np.float64)
        tmax = np.array([d.tmax for d in days], dtype=np.float64)
        hdd = self.hdd(tmin, tmax)
        intercept = np.array([self._coef(d.day_type)["intercept"] for d in days])
        slope = np.array([self._coef(d.day_type)["slope"] for d in days])
        return np.maximum(0.0, intercept + slope * hdd)

    def _coef(self, day_type: str) -> Mapping[str, float]:
        try:
            return self.coefficients[day_type]
        except KeyError:
            raise ValueError(f"unknown day type {day_type!r} (expected one of "
                             f"{', '.join(DAY_TYPES)})") from None

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "balance_c": self.balance_c,
            "coefficients": {t: {"intercept": round(c["intercept"], 3),
                                 "slope": round(c["slope"], 4)}
                             for t, c in self.coefficients.items()},
            "groups": dict(self.groups),
            "shared_slope": self.shared_slope,
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "n": self.n, "p": self.p,
            "mean_kwh": round(self.mean_kwh, 2), "rmse_kwh": round(self.rmse, 2),
            "cv_rmse": _r(self.cv_rmse), "nmbe": _r(self.nmbe), "r2": _r(self.r2),
            "r2_adjusted": _r(self.r2_adjusted), "autocorrelation": _r(self.autocorrelation),
            "monthly_cv_rmse": _r(self.monthly_cv_rmse), "monthly_nmbe": _r(self.monthly_nmbe),
            "months": self.months, "meets_guideline14": self.meets_guideline14,
        }


@dataclass(frozen=True)
class _Fit:
    balance: float | None
    per_group_slopes: bool
    beta: FloatArray
    fitted: FloatArray
    p: int
    r2_adjusted: float


def fit_baseline(days: Sequence[DayRecord], *, method: str = "costic",
                 balances: Sequence[float] = BALANCE_GRID) -> Baseline:
    """Fit the baseline on ``days`` (CalTRACK 2.0 daily, section 3): for each candidate
    balance temperature with enough heating days (10 days and 20 degree-days a year), OLS
    with an intercept per day type and one slope (or one per day type); slopes must be
    positive; the model with the highest adjusted R² wins, the intercepts-only model
    included."""
    if method not in HDD_METHODS:
        raise ValueError(f"degree-day method {method!r} is not one of {', '.join(HDD_METHODS)}")
    ordered = sorted(days, key=lambda d: d.day)
    for record in ordered:
        if record.day_type not in DAY_TYPES:
            raise ValueError(f"{record.day}: unknown day type {record.day_type!r}")
    groups = _groups(Counter(d.day_type for d in ordered))
    labels = sorted(set(groups.values()), key=DAY_TYPES.index)
    n = len(ordered)
    if n < len(labels) + 3:
        raise SavingsError(f"{n} days are too few to fit a baseline",
                           fr=f"{n} jours ne suffisent pas à établir une référence")
    y = np.array([d.kwh for d in ordered], dtype=np.float64)
    tmin = np.array([d.tmin for d in ordered], dtype=np.float64)
    tmax = np.array([d.tmax for d in ordered], dtype=np.float64)
    member = np.array([[groups[d.day_type] == g for g in labels] for d in ordered], dtype=float)
    sst = float(((y - y.mean()) ** 2).sum())
    best = _ols(y, member, sst, None, False)
    years = n / 365.0
    for balance in balances:
        hdd = HDD_METHODS[method](tmin, tmax, balance)
        heating = hdd > 0
        if heating.sum() < 10 * years or hdd.sum() < 20 * years:
            continue
        options = [False]
        if len(labels) > 1 and all((heating & (member[:, j] > 0)).sum() >= MIN_DAYS_PER_TYPE
                                   for j in range(len(labels))):
            options.append(True)
        for per_group in options:
            slopes = member * hdd[:, None] if per_group else hdd[:, None]
            fit = _ols(y, np.hstack([member, slopes]), sst, balance, per_group)
            if np.all(fit.beta[len(labels):] > 0) and fit.r2_adjusted > best.r2_adjusted:
                best = fit
    return _baseline(best, ordered, y, labels, groups, method, sst)


def _groups(counts: Counter[str]) -> dict[str, str]:
    """Which day type's coefficients each of the four uses: its own with enough days,
    else its nearest kin's; types absent from the baseline borrow in the same way."""
    own = [t for t in DAY_TYPES if counts[t] >= MIN_DAYS_PER_TYPE]
    if not own:
        own = [max(DAY_TYPES, key=lambda t: counts[t])]
    return {t: t if t in own else next(k for k in (*_KIN[t], *own) if k in own)
            for t in DAY_TYPES}


def _ols(y: FloatArray, x: FloatArray, sst: float, balance: float | None,
         per_group: bool) -> _Fit:
    solution, *_ = np.linalg.lstsq(x, y, rcond=None)
    beta = np.asarray(solution, dtype=np.float64)
    fitted = x @ beta
    n, p = x.shape
    sse = float(((y - fitted) ** 2).sum())
    r2_adjusted = 1.0 - (sse / (n - p)) / (sst / (n - 1)) if sst > 0 else 0.0
    return _Fit(balance, per_group, beta, fitted, p, r2_adjusted)


def _baseline(fit: _Fit, days: Sequence[DayRecord], y: FloatArray, labels: list[str],
              groups: Mapping[str, str], method: str, sst: float) -> Baseline:
    g = len(labels)
    intercepts = dict(zip(labels, fit.beta[:g], strict=True))
    if fit.balance is None:
        slopes = dict.fromkeys(labels, 0.0)
    elif fit.per_group_slopes:
        slopes = dict(zip(labels, fit.beta[g:], strict=True))
    else:
        slopes = dict.fromkeys(labels, float(fit.beta[g]))
    coefficients: dict[str, dict[str, float]] = {
        t: {"intercept": float(intercepts[groups[t]]),
            "slope": float(slopes[groups[t]])} for t in DAY_TYPES}
    n, p = len(y), fit.p
    residuals = y - fit.fitted
    mean = float(y.mean())
    sse = float((residuals ** 2).sum())
    rmse = math.sqrt(sse / (n - p))
    monthly_cv, monthly_nmbe, months = _monthly_statistics(days, y, fit.fitted)
    rho = _lag1(residuals)
    return Baseline(
        method=method, balance_c=fit.balance, coefficients=coefficients,
        groups=dict(groups), shared_slope=not fit.per_group_slopes,
        start=days[0].day, end=days[-1].day, n=n, p=p, mean_kwh=mean, rmse=rmse,
        cv_rmse=rmse / mean if mean > 0 else math.inf,
        nmbe=float(residuals.sum()) / ((n - p) * mean) if mean > 0 else 0.0,
        r2=1.0 - sse / sst if sst > 0 else 0.0, r2_adjusted=fit.r2_adjusted,
        autocorrelation=rho, monthly_cv_rmse=monthly_cv, monthly_nmbe=monthly_nmbe,
        months=months,
        meets_guideline14=bool(months >= 2 and monthly_cv <= 0.15 and abs(monthly_nmbe) <= 0.05),
    )


MIN_DAYS_PER_MONTH = 15
"""Months with fewer days of data are left out of the monthly statistics."""


def _monthly_statistics(days: Sequence[DayRecord], y: FloatArray, fitted: FloatArray
                        ) -> tuple[float, float, int]:
    """CV(RMSE) and NMBE of the monthly sums of the fit against the metered ones
    (Guideline 14's calibration check, n - 1), over months with enough days."""
    sums: dict[date, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for record, actual, expected in zip(days, y, fitted, strict=True):
        month = sums[record.day.replace(day=1)]
        month[0] += actual
        month[1] += expected
        month[2] += 1
    kept = [(a, e) for a, e, count in sums.values() if count >= MIN_DAYS_PER_MONTH]
    m = len(kept)
    if m < 2:
        return math.inf, 0.0, m
    actual = np.array([a for a, _ in kept])
    expected = np.array([e for _, e in kept])
    mean = float(actual.mean())
    if mean <= 0:
        return math.inf, 0.0, m
    cv = math.sqrt(float(((actual - expected) ** 2).sum()) / (m - 1)) / mean
    return cv, float((actual - expected).sum()) / ((m - 1) * mean), m


def _lag1(residuals: FloatArray) -> float:
    """Lag-1 autocorrelation of the residuals, kept within [0, 0.99]: a negative one would
    make the effective points outnumber the real ones."""
    if len(residuals) < 3 or float(residuals.std()) == 0.0:
        return 0.0
    rho = float(np.corrcoef(residuals[:-1], residuals[1:])[0, 1])
    return min(max(rho, 0.0), 0.99) if math.isfinite(rho) else 0.0


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
        return {"month": self.month.isoformat(), "actual_kwh": _kwh(self.actual_kwh),
                "baseline_kwh": _kwh(self.baseline_kwh), "avoided_kwh": _kwh(self.avoided_kwh),
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
            "actual_kwh": _kwh(self.actual_kwh), "baseline_kwh": _kwh(self.baseline_kwh),
            "avoided_kwh": _kwh(self.avoided_kwh), "fraction": _r(self.fraction),
            "fsu": None if self.fsu is None else _r(self.fsu),
            "uncertainty_kwh": _kwh(self.uncertainty_kwh), "confidence": self.confidence,
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
    uncertainty = _uncertainty(baseline, q, confidence) * total_expected
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


def _uncertainty(baseline: Baseline, q: int, confidence: float) -> float:
    """The uncertainty of the predicted total as a fraction of it: FSU x F."""
    a, b, d = FSU_DAILY
    m = q / DAYS_PER_MONTH
    t = float(stats.t.ppf(0.5 + confidence / 2.0, baseline.n - baseline.p))
    n, n_eff = baseline.n, baseline.effective_n
    return (t * (a * m * m + b * m + d) * baseline.cv_rmse
            * math.sqrt((n / n_eff) * (1.0 + 2.0 / n_eff) / q))


# --- losses of efficiency ----------------------------------------------------------------

@dataclass(frozen=True)
class EfficiencyLoss:
    """Consecutive days on which a meter stayed above its baseline beyond its uncertainty."""

    building: str
    meter: str
    start: date
    end: date
    excess_kwh: float
    excess_fraction: float
    explanation_fr: str
    explanation_en: str

    def as_dict(self) -> dict[str, Any]:
        return {"building": self.building, "meter": self.meter, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "excess_kwh": _kwh(self.excess_kwh),
                "excess_fraction": _r(self.excess_fraction),
                "explanation_fr": self.explanation_fr, "explanation_en": self.explanation_en}


def efficiency_losses(baseline: Baseline, recent_days: Sequence[DayRecord], *, days: int = 5,
                      z: float = 1.645, building: str = "", meter: str = "",
                      label: str | None = None) -> list[EfficiencyLoss]:
    """Runs of at least ``days`` consecutive calendar days whose kWh exceed the baseline's
    prediction by more than ``z`` x its RMSE (1.645: one day in twenty by chance, so five
    in a row almost never); ``label`` names the meter in the explanations.

    Heating consumption scatters in proportion to its level: on a day expected above the
    baseline's mean, the RMSE is scaled by expected / mean, so that a cold spell is not
    taken for a fault."""
    ordered = sorted(recent_days, key=lambda d: d.day)
    if not ordered:
        return []
    expected = baseline.predict(ordered)
    excess = np.array([d.kwh for d in ordered]) - expected
    scale = np.maximum(1.0, expected / baseline.mean_kwh) if baseline.mean_kwh > 0 else 1.0
    above = excess > z * baseline.rmse * scale
    found: list[EfficiencyLoss] = []
    run: list[int] = []
    for i, is_above in enumerate([*above, False]):
        consecutive = bool(run) and i < len(ordered) and (
            ordered[i].day - ordered[run[-1]].day).days == 1
        if is_above and (not run or consecutive):
            run.append(i)
            continue
        if len(run) >= days:
            found.append(_loss(ordered, run, excess, expected, building, meter, label))
        run = [i] if is_above else []
    return found


def _loss(days: Sequence[DayRecord], run: list[int], excess: FloatArray, expected: FloatArray,
          building: str, meter: str, label: str | None) -> EfficiencyLoss:
    kwh = float(excess[run].sum())
    fraction = kwh / float(expected[run].sum()) if float(expected[run].sum()) > 0 else math.inf
    first, last = days[run[0]].day, days[run[-1]].day
    what = label or meter or building or "le compteur"
    pct = f"+{number_fr(100 * fraction, 0)} %" if math.isfinite(fraction) else "au-delà"
    fr = (f"Du {first:%d/%m/%Y} au {last:%d/%m/%Y} ({len(run)} jours), {what} a consommé "
          f"{number_fr(kwh, 0)} kWh de plus que ne le prévoit sa référence pour la météo et "
          f"le calendrier de ces jours ({pct}), bien au-delà de son incertitude. À vérifier : "
          "une vanne ou un circulateur bloqué, une erreur dans la programmation (un réduit "
          "de nuit ou de fin de semaine qui ne se fait plus, une dérogation oubliée), une "
          "consigne relevée à la main, une porte ou des fenêtres restées ouvertes.")
    en_pct = f"+{100 * fraction:.0f} %" if math.isfinite(fraction) else "beyond"
    en = (f"From {first:%d/%m/%Y} to {last:%d/%m/%Y} ({len(run)} days), {label or meter} used "
          f"{kwh:,.0f} kWh more than its baseline expects for those days' weather and "
          f"calendar ({en_pct}), well beyond its uncertainty. Check for a stuck valve or "
          "pump, a programme error (a night or weekend setback no longer applied, a "
          "forgotten override), a setpoint raised by hand, a door or windows left open.")
    return EfficiencyLoss(building, meter, first, last, kwh, fraction, fr, en)


# --- public lighting ---------------------------------------------------------------------

@dataclass(frozen=True)
class CabinetSavings:
    """A lighting cabinet against its former timetable, dusk to dawn at full power, over
    the days it has metered data; ``source`` says how it was metered (``meter``: its
    energy meter; ``relay``: the engine's lit hours times its power, an upper bound when
    it dims)."""

    cabinet: str
    former_kwh: float
    metered_kwh: float
    avoided_kwh: float
    avoided_eur: float
    avoided_co2_kg: float
    name: str = ""
    days: int = 0
    source: str = "meter"

    @property
    def fraction(self) -> float:
        return self.avoided_kwh / self.former_kwh if self.former_kwh > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"cabinet": self.cabinet, "name": self.name, "days": self.days,
                "source": self.source, "former_kwh": _kwh(self.former_kwh),
                "metered_kwh": _kwh(self.metered_kwh), "avoided_kwh": _kwh(self.avoided_kwh),
                "fraction": _r(self.fraction), "avoided_eur": round(self.avoided_eur, 2),
                "avoided_co2_kg": round(self.avoided_co2_kg, 1)}


def dark_hours(latitude: float, longitude: float, tz: ZoneInfo, day: date) -> float:
    """Hours of the local day ``day`` before sunrise and after sunset: what a cabinet lit
    dusk to dawn burns that day (23 and 25 h days included)."""
    sun = sun_times(latitude, longitude, tz, day)
    midnight = datetime.combine(day, time(), tz).astimezone(UTC)
    next_midnight = datetime.combine(day + timedelta(days=1), time(), tz).astimezone(UTC)
    night = ((sun.sunrise.astimezone(UTC) - midnight)
             + (next_midnight - sun.sunset.astimezone(UTC)))
    return night.total_seconds() / 3600.0


def cabinet_savings(site: Site, cabinet: Cabinet, metered: Mapping[date, float], rate: Rate,
                    *, source: str = "meter") -> CabinetSavings:
    """The former timetable's kWh on the days of ``metered`` (kWh per local day) against
    them."""
    former = sum(dark_hours(site.latitude, site.longitude, site.tz, day)
                 for day in metered) * cabinet.power_kw
    used = float(sum(metered.values()))
    avoided = former - used
    return CabinetSavings(cabinet.id, former, used, avoided, avoided * rate.eur_per_kwh,
                          avoided * rate.kg_co2e_per_kwh, cabinet.name, len(metered), source)


# --- reading the store -----------------------------------------------------------------

END_OF_DAY_HOUR = 22
"""An index is a day's end-of-day index when it was read in the day's last two hours."""
MIN_TEMPERATURE_HOURS = 12
"""CalTRACK 2.2.2.3: a day's temperature needs at least half its hours."""


def _utc_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


def _period(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def meter_days(store: Store, key: str, first: date, last: date, tz: tzinfo
               ) -> dict[date, float]:
    """kWh of each local day from first to last of a cumulative meter: the end-of-day index
    minus the day before's. A day without both indexes, or whose index went down (a meter
    replaced), has no figure."""
    rollups = store.hourly(key, _utc_midnight(first - timedelta(days=1), tz),
                           _utc_midnight(last + timedelta(days=1), tz))
    ends: dict[date, float] = {}
    for rollup in rollups:
        local = rollup.hour.astimezone(tz)
        if local.hour >= END_OF_DAY_HOUR:
            ends[local.date()] = rollup.last
    result = {}
    for day in _period(first, last):
        today, before = ends.get(day), ends.get(day - timedelta(days=1))
        if today is not None and before is not None and today >= before:
            result[day] = today - before
    return result


def _temperatures(store: Store, key: str, first: date, last: date, tz: tzinfo
                  ) -> dict[date, tuple[float, float]]:
    return {a.day: (a.min, a.max) for a in store.daily(key, first, last, tz)
            if a.hours >= MIN_TEMPERATURE_HOURS}


def outdoor_point(site: Site, building: Building | str | None = None) -> str:
    """The outdoor temperature point of the building, else the site's first one."""
    refs = [ref for ref in site.points() if ref.role is Role.OUTDOOR_TEMPERATURE]
    own = [ref for ref in refs if building is not None and ref.building is not None
           and ref.building.id == (building if isinstance(building, str) else building.id)]
    if not (own or refs):
        raise SavingsError(f"site {site.id} has no outdoor_temperature point: degree-days "
                           "need one", fr=f"le site {site.id} n'a pas de point de température "
                           "extérieure : les degrés-jours en ont besoin")
    return (own or refs)[0].key


WEATHER_KINDS = ("heating", "gas")
"""Meter kinds whose savings are weather-normalised per building."""


def heating_meters(site: Site, building: Building) -> list[str]:
    """The building's heating and gas meters (its own, else its zones')."""
    refs = [ref for ref in site.points() if ref.building is not None
            and ref.building.id == building.id and ref.role is Role.ENERGY_METER
            and ref.point.meter in WEATHER_KINDS]
    own = [ref.key for ref in refs if ref.zone is None]
    return own or [ref.key for ref in refs]


def building_days(store: Store, site: Site, building: Building | str, start: date, end: date,
                  *, meter: str | None = None,
                  readings: Mapping[date, float] | None = None,
                  weather: Mapping[date, tuple[float, float]] | None = None) -> Days:
    """Local days from start to end (included) of one heating meter (``meter``, a point
    key; default: the sum of the building's heating meters) with the outdoor extremes and
    day types. ``readings`` replaces the store's kWh (an imported CSV), ``weather`` its
    temperatures. Days without kWh or temperatures are skipped: ``Days.missing`` lists
    them."""
    b = _building(site, building)
    tz = site.tz
    if readings is None:
        keys = [meter] if meter is not None else heating_meters(site, b)
        if not keys:
            raise SavingsError(f"building {b.id} has no heating meter",
                               fr=f"le bâtiment {b.name} n'a pas de compteur de chauffage")
        per_meter = [meter_days(store, key, start, end, tz) for key in keys]
        kwh = {d: sum(m[d] for m in per_meter) for d in per_meter[0]
               if all(d in m for m in per_meter)}
    else:
        kwh = {d: v for d, v in readings.items() if start <= d <= end}
    temperatures = dict(weather or {})
    if not all(d in temperatures for d in kwh):
        stored = _temperatures(store, outdoor_point(site, b), start, end, tz)
        temperatures = {**stored, **temperatures}
    agenda = [*site.agenda, *(s.entry for s in store.agenda(start=start,
                                                            end=end + timedelta(days=1)))]
    usable = [d for d in _period(start, end) if d in kwh and d in temperatures]
    kinds = day_types(site, b, usable, agenda=agenda)
    records = [DayRecord(d, kwh[d], *temperatures[d], kinds[d]) for d in usable]
    used = set(usable)
    return Days(records, [d for d in _period(start, end) if d not in used])


def cabinet_days(store: Store, site: Site, cabinet: Cabinet, start: date, end: date
                 ) -> tuple[dict[date, float], str]:
    """kWh of each local day of a cabinet: from its energy meter if it has one, else its
    relay's lit hours times its power; and which of the two."""
    tz = site.tz
    keys = {point.role: f"{cabinet.id}.{point.id}" for point in cabinet.points}
    if Role.ENERGY_METER in keys:
        return meter_days(store, keys[Role.ENERGY_METER], start, end, tz), "meter"
    if Role.CABINET_RELAY not in keys:
        return {}, "relay"
    lit = {a.day: a.sum_of_means * cabinet.power_kw
           for a in store.daily(keys[Role.CABINET_RELAY], start, end, tz)
           if a.hours >= 20}
    return lit, "relay"


# --- the site's figures ------------------------------------------------------------------

MIN_BASELINE_DAYS = 300
MAX_MISSING_FRACTION = 0.10


@dataclass(frozen=True)
class BuildingSavings:
    """One heating meter of one building: its baseline, its savings and what they mean."""

    building: str
    name: str
    meter: str
    kind: str
    baseline: Baseline
    savings: Savings
    explanation_fr: str
    explanation_en: str
    losses: tuple[EfficiencyLoss, ...] = ()
    missing_days: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"building": self.building, "name": self.name, "meter": self.meter,
                "kind": self.kind, "baseline": self.baseline.as_dict(),
                "savings": self.savings.as_dict(), "explanation_fr": self.explanation_fr,
                "explanation_en": self.explanation_en, "missing_days": self.missing_days,
                "losses": [loss.as_dict() for loss in self.losses]}


@dataclass(frozen=True)
class Excluded:
    """A meter left out of the figures, and why."""

    building: str
    meter: str
    reason_en: str
    reason_fr: str

    def as_dict(self) -> dict[str, str]:
        return {"building": self.building, "meter": self.meter, "reason_en": self.reason_en,
                "reason_fr": self.reason_fr}


@dataclass(frozen=True)
class SiteSavings:
    """The site's figures over [start, end]: per heating meter, per lighting cabinet, and
    in all; ``uncertainty_kwh`` combines the meters' (independent) uncertainties."""

    start: date
    end: date
    baseline_period: tuple[date, date]
    buildings: list[BuildingSavings]
    cabinets: list[CabinetSavings]
    avoided_kwh: float
    avoided_eur: float
    avoided_co2_kg: float
    uncertainty_kwh: float
    confidence: float = 0.9
    excluded: list[Excluded] = field(default_factory=list)
    tariffs: Tariffs = DEFAULT_TARIFFS

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "baseline_period": [d.isoformat() for d in self.baseline_period],
            "confidence": self.confidence,
            "avoided_kwh": _kwh(self.avoided_kwh), "avoided_eur": round(self.avoided_eur, 2),
            "avoided_co2_kg": round(self.avoided_co2_kg, 1),
            "uncertainty_kwh": _kwh(self.uncertainty_kwh),
            "buildings": [b.as_dict() for b in self.buildings],
            "cabinets": [c.as_dict() for c in self.cabinets],
            "excluded": [e.as_dict() for e in self.excluded],
            "tariffs": self.tariffs.as_dict(),
        }


def engine_start(store: Store, tz: tzinfo) -> date | None:
    """The local day the engine first started on this store (its first « Moteur démarré »)."""
    started = [e for e in store.events(kind="engine", limit=1_000_000)
               if e.message.startswith("Moteur démarré")]
    return min(started, key=lambda e: e.ts).ts.astimezone(tz).date() if started else None


def default_baseline_period(store: Store, site: Site) -> tuple[date, date]:
    """The twelve months (365 days) before the engine took over."""
    first = engine_start(store, site.tz)
    if first is None:
        raise SavingsError(
            "the store's audit log has no engine start (« Moteur démarré »): give the "
            "baseline period (--baseline-from, --baseline-to)",
            fr="le journal du stockage n'a pas de démarrage du moteur : donnez la période "
               "de référence")
    return first - timedelta(days=365), first - timedelta(days=1)


def check_baseline(days: Days, first: date, last: date, what: str) -> None:
    """CalTRACK 2.2.1: a baseline of a year, at most 10 % of its days missing (here at
    least 300 days long)."""
    length = (last - first).days + 1
    missing = length - len(days)
    if length < MIN_BASELINE_DAYS:
        raise SavingsError(
            f"{what}: the baseline period {first} to {last} is {length} days; CalTRACK asks "
            f"for a year (at least {MIN_BASELINE_DAYS} days here)",
            fr=f"{what} : la période de référence du {first:%d/%m/%Y} au {last:%d/%m/%Y} "
               f"dure {length} jours ; il en faut une année (au moins {MIN_BASELINE_DAYS})")
    if missing > MAX_MISSING_FRACTION * length:
        raise SavingsError(
            f"{what}: {missing} of the baseline's {length} days have no data (more than "
            f"{MAX_MISSING_FRACTION:.0%}, CalTRACK's limit)",
            fr=f"{what} : {missing} des {length} jours de la référence n'ont pas de données "
               f"(plus de {_pct(MAX_MISSING_FRACTION)})")


def site_savings(store: Store, site: Site, start: date, end: date, *,
                 baseline: tuple[date, date] | None = None,
                 tariffs: Tariffs = DEFAULT_TARIFFS, confidence: float = 0.9,
                 method: str = "costic",
                 readings: Mapping[str, Sequence[tuple[date, float]]] | None = None,
                 weather: Mapping[date, tuple[float, float]] | None = None) -> SiteSavings:
    """The site's savings from start to end (local dates, included) against the baseline
    period (default: the twelve months before the engine's first start). ``readings``
    (from ``load_readings_csv``) replace the store's baseline kWh of the meters they name,
    ``weather`` (``load_weather_csv``) its baseline temperatures. A meter whose baseline
    cannot be fitted is listed in ``excluded``; SavingsError when nothing has data."""
    if end < start:
        raise SavingsError(f"the period {start} to {end} is empty",
                           fr=f"la période du {start:%d/%m/%Y} au {end:%d/%m/%Y} est vide")
    if baseline is None:
        baseline = (_readings_span(readings) if readings and engine_start(store, site.tz) is None
                    else default_baseline_period(store, site))
    first, last = baseline
    if last < first:
        raise SavingsError(f"the baseline period {first} to {last} is empty",
                           fr="la période de référence est vide")
    if last >= start:
        raise SavingsError(
            f"the baseline period must end before the reporting period: {last} >= {start}",
            fr="la période de référence doit finir avant la période étudiée")
    results: list[BuildingSavings] = []
    excluded: list[Excluded] = []
    for b in site.buildings:
        for key in heating_meters(site, b):
            try:
                results.append(_building_savings(
                    store, site, b, key, (start, end), (first, last), tariffs, confidence,
                    method, readings, weather))
            except SavingsError as exc:
                excluded.append(Excluded(b.id, key, str(exc), exc.fr))
    cabinets = []
    for cabinet in site.cabinets:
        metered, source = cabinet_days(store, site, cabinet, start, end)
        if metered:
            cabinets.append(cabinet_savings(site, cabinet, metered, tariffs.rate("lighting"),
                                            source=source))
    if not results and not cabinets:
        reasons = "; ".join(e.reason_en for e in excluded) or "no heating meter, no cabinet"
        raise SavingsError(f"no figures for {start} to {end}: {reasons}",
                           fr="aucun chiffre pour cette période : "
                              + ("; ".join(e.reason_fr for e in excluded)
                                 or "ni compteur de chauffage ni armoire"))
    return SiteSavings(
        start, end, (first, last), results, cabinets,
        avoided_kwh=sum(r.savings.avoided_kwh for r in results)
        + sum(c.avoided_kwh for c in cabinets),
        avoided_eur=sum(r.savings.avoided_eur for r in results)
        + sum(c.avoided_eur for c in cabinets),
        avoided_co2_kg=sum(r.savings.avoided_co2_kg for r in results)
        + sum(c.avoided_co2_kg for c in cabinets),
        uncertainty_kwh=math.sqrt(sum(r.savings.uncertainty_kwh ** 2 for r in results)),
        confidence=confidence, excluded=excluded, tariffs=tariffs)


def _building_savings(store: Store, site: Site, b: Building, key: str,
                      reporting: tuple[date, date], base: tuple[date, date],
                      tariffs: Tariffs, confidence: float, method: str,
                      readings: Mapping[str, Sequence[tuple[date, float]]] | None,
                      weather: Mapping[date, tuple[float, float]] | None) -> BuildingSavings:
    ref = site.point(key)
    label = f"« {ref.point.name or key} » ({b.name})"
    imported = None if readings is None or key not in readings else dict(readings[key])
    before = building_days(store, site, b, *base, meter=key, readings=imported, weather=weather)
    if imported and not before:
        raise SavingsError(
            f"{label}: no outdoor temperature for the imported baseline days: add tmin and "
            "tmax columns to the CSV file",
            fr=f"{label} : pas de température extérieure pour les jours importés : ajoutez "
               "les colonnes tmin et tmax au fichier CSV")
    check_baseline(before, *base, label)
    model = fit_baseline(before, method=method)
    after = building_days(store, site, b, *reporting, meter=key)
    if not after:
        raise SavingsError(f"{label}: no day with data from {reporting[0]} to {reporting[1]}",
                           fr=f"{label} : aucun jour avec des données sur la période")
    kind = ref.point.meter or "heating"
    result = savings(model, after, confidence=confidence, rate=tariffs.rate(kind, b.id))
    losses = efficiency_losses(model, after, building=b.id, meter=key, label=label)
    fr, en = _explain(b, label, model, result, len(after.missing))
    return BuildingSavings(b.id, b.name, key, kind, model, result, fr, en, tuple(losses),
                           len(after.missing))


def _explain(b: Building, label: str, model: Baseline, result: Savings, missing: int
             ) -> tuple[str, str]:
    """What the figures mean, for an elected official."""
    s = result
    period = f"du {s.start:%d/%m/%Y} au {s.end:%d/%m/%Y}"
    fr = [f"{label} : {number_fr(s.actual_kwh, 0)} kWh mesurés {period}. Sans le pilotage, "
          f"avec la même météo ({number_fr(s.hdd, 0)} DJU) et le même calendrier, la "
          f"référence établie du {model.start:%d/%m/%Y} au {model.end:%d/%m/%Y} en "
          f"prévoyait {number_fr(s.baseline_kwh, 0)} : "]
    en = [f"{label}: {s.actual_kwh:,.0f} kWh metered from {s.start} to {s.end}. Without the "
          f"engine, under the same weather ({s.hdd:,.0f} degree-days) and calendar, the "
          f"baseline fitted from {model.start} to {model.end} expected "
          f"{s.baseline_kwh:,.0f}: "]
    if s.avoided_kwh >= 0:
        fr.append(f"{number_fr(s.avoided_kwh, 0)} kWh évités ({number_fr(100 * s.fraction, 1)} %"
                  f"), ± {number_fr(s.uncertainty_kwh, 0)} kWh à {_pct(s.confidence)}, soit "
                  f"{number_fr(s.avoided_eur, 0)} € et {number_fr(s.avoided_co2_kg, 0)} kg "
                  "de CO2e.")
        en.append(f"{s.avoided_kwh:,.0f} kWh avoided ({100 * s.fraction:.1f} %), "
                  f"± {s.uncertainty_kwh:,.0f} kWh at {s.confidence:.0%}, that is "
                  f"{s.avoided_eur:,.0f} € and {s.avoided_co2_kg:,.0f} kg CO2e.")
    else:
        fr.append(f"{number_fr(-s.avoided_kwh, 0)} kWh de plus que la référence "
                  f"(± {number_fr(s.uncertainty_kwh, 0)} kWh à {_pct(s.confidence)}).")
        en.append(f"{-s.avoided_kwh:,.0f} kWh more than the baseline "
                  f"(± {s.uncertainty_kwh:,.0f} kWh at {s.confidence:.0%}).")
    if not s.significant:
        fr.append(" L'écart reste dans l'incertitude du modèle : il n'est pas démontré.")
        en.append(" The difference is within the model's uncertainty: it is not shown.")
    if not model.meets_guideline14:
        fr.append(" La référence ne tient pas les seuils de l'ASHRAE Guideline 14 (écart "
                  "mensuel ≤ 15 %, biais ≤ 5 %) : chiffre indicatif.")
        en.append(" The baseline misses ASHRAE Guideline 14's limits (monthly CV(RMSE) "
                  "≤ 15 %, NMBE ≤ 5 %): an indication only.")
    if missing:
        fr.append(f" {missing} jour(s) sans données ne sont pas comptés.")
        en.append(f" {missing} day(s) without data are not counted.")
    return "".join(fr), "".join(en)


# --- imported readings ---------------------------------------------------------------------

def load_readings_csv(path: str | Path) -> dict[str, list[tuple[date, float]]]:
    """Daily kWh per meter from a CSV file (docs/savings.md): a header with ``meter``,
    ``date`` (YYYY-MM-DD) and either ``kwh`` (the day's consumption) or ``index_kwh`` (the
    meter's reading at the end of the day, turned into differences of consecutive days);
    optionally ``tmin`` and ``tmax`` (°C, see ``load_weather_csv``). Comma or semicolon
    separated (a semicolon allows decimal commas); lines starting with '#' are comments."""
    readings, _ = _read_csv(Path(path))
    return readings


def load_weather_csv(path: str | Path) -> dict[date, tuple[float, float]]:
    """The daily outdoor minimum and maximum of the same file's ``tmin`` and ``tmax``
    columns (for a baseline older than the engine's own outdoor sensor)."""
    _, weather = _read_csv(Path(path))
    return weather


def _read_csv(path: Path) -> tuple[dict[str, list[tuple[date, float]]],
                                   dict[date, tuple[float, float]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SavingsError(f"{path}: cannot read: {exc}",
                           fr=f"{path} : lecture impossible : {exc}") from None
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise SavingsError(f"{path}: no data", fr=f"{path} : aucune donnée")
    delimiter = ";" if ";" in lines[0] else ","
    reader = csv.DictReader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    columns = set(reader.fieldnames or [])
    value = "kwh" if "kwh" in columns else "index_kwh"
    needed = {"meter", "date", value}
    if not needed <= columns:
        raise SavingsError(
            f"{path}: the header needs meter, date and kwh (or index_kwh), not "
            f"{', '.join(reader.fieldnames or [])}",
            fr=f"{path} : l'en-tête doit avoir meter, date et kwh (ou index_kwh)")
    values: dict[str, dict[date, float]] = defaultdict(dict)
    weather: dict[date, tuple[float, float]] = {}
    for line, row in enumerate(reader, start=2):
        try:
            day = date.fromisoformat((row["date"] or "").strip())
            values[(row["meter"] or "").strip()][day] = _number(row[value], delimiter)
            if row.get("tmin") and row.get("tmax"):
                weather[day] = (_number(row["tmin"], delimiter), _number(row["tmax"], delimiter))
        except (ValueError, TypeError) as exc:
            raise SavingsError(f"{path}:{line}: {exc}", fr=f"{path}:{line} : {exc}") from None
    if value == "kwh":
        return {m: sorted(v.items()) for m, v in values.items()}, weather
    daily = {}
    for meter, indexes in values.items():
        daily[meter] = [(d, i - indexes[d - timedelta(days=1)]) for d, i in sorted(indexes.items())
                        if d - timedelta(days=1) in indexes
                        and i >= indexes[d - timedelta(days=1)]]
    return daily, weather


def _number(text: str | None, delimiter: str) -> float:
    cleaned = (text or "").strip().replace("\u202f", "").replace(" ", "")
    if delimiter == ";":
        cleaned = cleaned.replace(",", ".")
    number = float(cleaned)
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return number


def _readings_span(readings: Mapping[str, Sequence[tuple[date, float]]]) -> tuple[date, date]:
    days = [d for values in readings.values() for d, _ in values]
    if not days:
        raise SavingsError("the imported readings hold no day",
                           fr="les relevés importés n'ont aucun jour")
    return min(days), max(days)


# --- rounding for JSON ---------------------------------------------------------------------

def _pct(fraction: float) -> str:
    """``0.9`` -> ``90 %`` (French puts a space before the sign)."""
    return f"{100 * fraction:.0f} %"


def _kwh(value: float) -> float:
    return round(value, 1)


def _r(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None
