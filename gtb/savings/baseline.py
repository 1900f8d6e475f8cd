"""The baseline model, IPMVP option C as CalTRACK 2.0 makes it precise for daily data: a
baseline model is fitted on a year of days before the engine took over, daily kWh =
intercept of the day type + slope x heating degree-days above a balance temperature found
by grid search. Fit statistics follow ASHRAE Guideline 14.

The days it is fitted on carry their day type, from the building's programmes, the French
calendar and the agenda. Nothing here reads the store.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from controllers.schedule import FrenchCalendar, day_exception, programmed_periods
from gtb.model import Building, Site
from gtb.model.calendar import AgendaEntry
from gtb.savings.degree_days import HDD_METHODS, FloatArray
from gtb.savings.rounding import round_fraction


class SavingsError(ValueError):
    """The figures cannot be computed (no data, a baseline too short…); the message says
    why in English, ``fr`` in French."""

    def __init__(self, message: str, *, fr: str | None = None) -> None:
        super().__init__(message)
        self.fr = fr or message


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
    b = find_building(site, building)
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
        exception = day_exception(entries, day)
        if any(e.kind == "closure" and e.start is not None and e.end is not None
               and e.start <= midnight and e.end >= next_midnight for e in timed):
            result[day] = "closed"
        elif any(e.kind == "event" for e in timed):
            result[day] = "event"
        elif exception is not None:
            result[day] = "school" if exception[1].periods else "closed"
        elif any(programmed_periods(p, calendar, b.use, day) for p in programmes):
            result[day] = "school"
        elif any(p.periods(day.weekday()) for p in programmes):
            result[day] = "holiday"
        else:
            result[day] = "closed"
    return result


def find_building(site: Site, building: Building | str) -> Building:
    """``building`` itself, or the building of ``site`` with that id."""
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
MAX_SLOPE_P_VALUE = 0.1
"""A heating slope is kept only when significant: its p-value (two-sided t-test of OLS)
below 0.1, as CalTRACK's daily qualification asks (CalTRACK 1.0 daily guidelines, « Model
Qualification »; eemeter's ``beta_hdd_maximum_p_value``); otherwise the intercepts-only
model stands."""


@dataclass(frozen=True)
class Baseline:
    """A fitted baseline: daily kWh = intercept[day type] + slope[day type] x HDD(balance).

    ``coefficients`` gives, for each day type, its ``intercept`` (kWh/day) and ``slope``
    (kWh per degree-day); types with too few baseline days share those of their nearest
    kin (``groups`` says which). ``balance_c`` is None for a model without weather
    dependence (intercepts only); ``slope_p_value`` the largest p-value of its slopes (None
    then). No intercept is negative (CalTRACK 2.0, 3.4.3.2): a day type whose intercept
    would be is given 0, a fixed part of nothing, and the others fitted without it.
    Statistics, ASHRAE Guideline 14 with n - p: ``cv_rmse`` and ``nmbe`` on the days (the
    NMBE of an in-sample least-squares fit is 0 by construction, while every day type keeps
    its intercept), ``monthly_cv_rmse`` and
    ``monthly_nmbe`` on the monthly sums of the fit (n - 1: they are compared, not
    fitted). Which of Guideline 14's criteria they meet is
    ``gtb.savings.criteria``'s to say. Fractions, not percentages."""

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
    slope_p_value: float | None = None

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
            "cv_rmse": round_fraction(self.cv_rmse), "nmbe": round_fraction(self.nmbe),
            "r2": round_fraction(self.r2), "r2_adjusted": round_fraction(self.r2_adjusted),
            "autocorrelation": round_fraction(self.autocorrelation),
            "monthly_cv_rmse": round_fraction(self.monthly_cv_rmse),
            "monthly_nmbe": round_fraction(self.monthly_nmbe),
            "months": self.months,
            "slope_p_value": (None if self.slope_p_value is None
                              else round_fraction(self.slope_p_value)),
        }


@dataclass(frozen=True)
class _Fit:
    balance: float | None
    per_group_slopes: bool
    beta: FloatArray
    fitted: FloatArray
    p: int
    r2_adjusted: float
    p_values: FloatArray

    def qualified(self, intercepts: int) -> bool:
        """CalTRACK's qualification of a candidate: every slope positive and significant
        (``MAX_SLOPE_P_VALUE``); its intercepts are never negative (``_ols``)."""
        slopes = self.beta[intercepts:]
        return bool(np.all(slopes > 0)
                    and np.all(self.p_values[intercepts:] < MAX_SLOPE_P_VALUE))


def fit_baseline(days: Sequence[DayRecord], *, method: str = "costic",
                 balances: Sequence[float] = BALANCE_GRID) -> Baseline:
    """Fit the baseline on ``days`` (CalTRACK 2.0 daily, section 3): for each candidate
    balance temperature with enough heating days (10 days and 20 degree-days a year), OLS
    with an intercept per day type and one slope (or one per day type), no intercept below
    0 (a type's that would be is 0); a candidate qualifies when its slopes are positive and
    significant (p < 0.1); the qualified model with the highest adjusted R² wins, the
    intercepts-only model included."""
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
    best = _ols(y, member, sst, None, False, len(labels))
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
            fit = _ols(y, np.hstack([member, slopes]), sst, balance, per_group, len(labels))
            if fit.qualified(len(labels)) and fit.r2_adjusted > best.r2_adjusted:
                best = fit
    return _baseline(best, ordered, y, labels, groups, method, sst)


def _groups(counts: Counter[str]) -> dict[str, str]:
    """Which day type's coefficients each of the four uses: its own with enough days,
    else its nearest kin's; types absent from the baseline borrow in the same way."""
    own = [t for t in DAY_TYPES if counts[t] >= MIN_DAYS_PER_TYPE]
    if not own:
        own = [max(DAY_TYPES, key=lambda t: counts[t])]
    return {t: t if t in own else next(k for k in _KIN[t] if k in own) for t in DAY_TYPES}


def _ols(y: FloatArray, x: FloatArray, sst: float, balance: float | None,
         per_group: bool, intercepts: int) -> _Fit:
    """Least squares of y on the columns of x, the first ``intercepts`` of which are the
    day types' intercepts, none allowed below 0: a type whose intercept comes out negative
    gets 0 (its column left out, the others fitted again) until none is (CalTRACK 2.0,
    3.4.3.2: no negative intercept). ``p`` counts the coefficients left free; each one's
    two-sided p-value is its t-test with n - p degrees of freedom (1 for those fixed)."""
    n = len(y)
    free = np.ones(x.shape[1], dtype=bool)
    while True:
        solution, *_ = np.linalg.lstsq(x[:, free], y, rcond=None)
        beta = np.zeros(x.shape[1])
        beta[free] = solution
        negative = np.flatnonzero(beta[:intercepts] < 0)
        if negative.size == 0:
            break
        free[negative] = False
    fitted = x @ beta
    p = int(free.sum())
    sse = float(((y - fitted) ** 2).sum())
    r2_adjusted = 1.0 - (sse / (n - p)) / (sst / (n - 1)) if sst > 0 else 0.0
    kept = x[:, free]
    variance = sse / (n - p) * np.diag(np.linalg.pinv(kept.T @ kept))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(beta[free]) / np.sqrt(variance)
    p_values = np.ones(x.shape[1])
    p_values[free] = np.where(np.isfinite(t), 2.0 * stats.t.sf(t, n - p), 0.0)
    return _Fit(balance, per_group, beta, fitted, p, r2_adjusted, p_values)


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
        slope_p_value=None if fit.balance is None else float(fit.p_values[g:].max()),
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
