"""Outdoor temperature and solar irradiance for the virtual commune.

Two sources answer the same question, "what is the weather at these instants?":

- ``SyntheticWeather``: a seeded typical year built on climate normals (Lille-Lesquin
  1991-2020 by default), with a diurnal cycle, multi-day cold and mild spells and a
  cloudiness that scales a clear-sky irradiance computed from the sun's position;
- ``CsvWeather``: measured data read from a CSV file (``time``, ``temperature`` and
  optionally ``solar``), interpolated linearly.

Either also publishes a forecast of its own temperature (``Weather.forecast``): the
truth to come plus an error that grows with the lead time, as a weather service's would
(``ForecastErrors``).

Instants are UTC seconds since the epoch in numpy arrays, so that a season of 5-minute
steps is sampled in one call. Every random stream is derived from the seed and what it is
for (``seeded_rng``), year by year, so a value does not depend on which instants were
asked before.
"""

from __future__ import annotations

import csv
import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from pathlib import Path
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy import signal, stats

from controllers.forecast import OutdoorForecast

FloatArray = NDArray[np.float64]

DAY_S = 86_400.0
HOUR_S = 3_600.0


def seeded_rng(seed: int, *key: object) -> np.random.Generator:
    """A random generator that depends only on the seed and on what it is for.

    The whole simulation draws its randomness this way, e.g.
    ``seeded_rng(seed, "occupants", "mairie.bureaux", date)``: a stable hash (not
    Python's per-process ``hash``) of the key, so runs are reproducible across processes
    and results do not depend on the order in which days or zones are generated.
    """
    digest = hashlib.blake2b(repr(key).encode("utf-8"), digest_size=16).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence([seed % 2**64, *words]))


def to_epoch(t: datetime) -> float:
    """UTC seconds of an aware datetime; a naive one is refused (its zone is unknown)."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{t.isoformat()} has no timezone: give an aware (UTC) datetime")
    return t.timestamp()


# --- climate normals ------------------------------------------------------------------


@dataclass(frozen=True)
class ClimateNormals:
    """Monthly normals of a station: what a typical year has to match."""

    station: str
    period: str
    tmin: tuple[float, ...]
    """Mean of the daily minima per month, °C."""
    tmax: tuple[float, ...]
    """Mean of the daily maxima per month, °C."""
    daily_sd: tuple[float, ...]
    """Day-to-day standard deviation of the daily mean temperature within a month, K."""
    irradiation: tuple[float, ...]
    """Global horizontal irradiation per month, kWh/m²."""
    source: str

    def __post_init__(self) -> None:
        for name in ("tmin", "tmax", "daily_sd", "irradiation"):
            if len(getattr(self, name)) != 12:
                raise ValueError(f"{name} needs 12 monthly values")

    @property
    def tmean(self) -> FloatArray:
        """Monthly mean temperature as Météo-France defines it: (Tn + Tx) / 2."""
        return (np.array(self.tmin) + np.array(self.tmax)) / 2.0

    def expected_degree_days(self, base: float = 18.0) -> float:
        """Heating degree-days (meteorological) of a normal year, from the normals alone.

        Within a month the daily mean is taken as normal around the monthly normal with
        the month's day-to-day spread, so E[max(0, base - T)] has a closed form; with no
        spread this would be the (lower) figure from monthly means only.
        """
        total = 0.0
        for month in range(12):
            mu, sd = float(self.tmean[month]), self.daily_sd[month]
            z = (base - mu) / sd
            per_day = (base - mu) * stats.norm.cdf(z) + sd * stats.norm.pdf(z)
            total += float(per_day) * _MEAN_MONTH_DAYS[month]
        return total


_MEAN_MONTH_DAYS = (31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

LILLE_LESQUIN_1991_2020 = ClimateNormals(
    station="Lille-Lesquin (59343001)",
    period="1991-2020",
    tmin=(1.3, 1.2, 3.1, 4.9, 8.3, 11.2, 13.3, 13.2, 10.7, 7.9, 4.5, 2.0),
    tmax=(7.0, 8.0, 11.6, 15.4, 18.8, 21.8, 24.1, 23.9, 20.4, 15.7, 10.6, 7.4),
    daily_sd=(3.6, 3.6, 3.0, 2.7, 2.7, 2.6, 2.6, 2.4, 2.4, 2.6, 3.0, 3.5),
    irradiation=(23.0, 40.0, 78.0, 122.0, 150.0, 160.0, 158.0, 133.0, 94.0, 56.0, 28.0, 18.0),
    source="Météo-France normals 1991-2020 (temperatures); PVGIS-SARAH (irradiation); "
    "see docs/simulation.md",
)


# --- the sun --------------------------------------------------------------------------


def sun_elevation_sine(epoch_s: FloatArray, latitude: float, longitude: float) -> FloatArray:
    """Sine of the sun's elevation (Spencer 1971 declination and equation of time).

    Accurate to a few tenths of a degree, ample for heat gains; vectorised where
    ``astral`` would cost a Python call per instant.
    """
    # Fraction of the year since 1 January: the Gregorian mean year keeps it in step.
    g = 2.0 * np.pi * ((epoch_s / DAY_S) % 365.2425) / 365.2425
    declination = (
        0.006918 - 0.399912 * np.cos(g) + 0.070257 * np.sin(g) - 0.006758 * np.cos(2 * g)
        + 0.000907 * np.sin(2 * g) - 0.002697 * np.cos(3 * g) + 0.00148 * np.sin(3 * g)
    )
    equation_min = 229.18 * (
        0.000075 + 0.001868 * np.cos(g) - 0.032077 * np.sin(g)
        - 0.014615 * np.cos(2 * g) - 0.040849 * np.sin(2 * g)
    )
    solar_minutes = (epoch_s % DAY_S) / 60.0 + 4.0 * longitude + equation_min
    hour_angle = np.radians(solar_minutes / 4.0 - 180.0)
    lat = math.radians(latitude)
    sine = math.sin(lat) * np.sin(declination)
    return np.asarray(sine + math.cos(lat) * np.cos(declination) * np.cos(hour_angle))


def clear_sky_irradiance(epoch_s: FloatArray, latitude: float, longitude: float) -> FloatArray:
    """Global horizontal irradiance under a clear sky, W/m² (Haurwitz 1945)."""
    sine = sun_elevation_sine(epoch_s, latitude, longitude)
    up = sine > 0.01
    safe = np.where(up, sine, 1.0)
    return np.where(up, 1098.0 * safe * np.exp(-0.057 / safe), 0.0)


# --- the interface --------------------------------------------------------------------


@dataclass(frozen=True)
class WeatherSample:
    temperature: float
    """Outdoor air temperature, °C."""
    solar: float
    """Global horizontal irradiance, W/m²."""


class Weather(ABC):
    """Outdoor conditions at given instants."""

    @abstractmethod
    def sample(self, epoch_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Temperature (°C) and global horizontal irradiance (W/m²) at UTC seconds."""

    def at(self, t: datetime) -> WeatherSample:
        temperature, solar = self.sample(np.array([to_epoch(t)]))
        return WeatherSample(float(temperature[0]), float(solar[0]))

    @property
    def forecast_seed(self) -> int:
        """The seed of the forecast's errors: the weather's own where it has one."""
        return 0

    def forecast(self, issued: datetime, hours: int = 48,
                 step: timedelta = timedelta(hours=1)) -> OutdoorForecast:
        """The outdoor temperature as a weather service would forecast it at ``issued``.

        The service runs every hour: the forecast is the run of the last whole hour at
        or before ``issued``, from that hour to ``hours`` later every ``step`` (whole
        hours): this weather's own temperature plus ``ForecastErrors``' error for that
        run and lead time. The errors have their own random stream: asking for a
        forecast changes no value of the weather, the occupants or anything else.
        """
        run = datetime.fromtimestamp(
            math.floor(to_epoch(issued) / HOUR_S) * HOUR_S, UTC)
        step_h = step / timedelta(hours=1)
        if step_h < 1 or step_h != int(step_h) or hours % int(step_h):
            raise ValueError(f"a forecast step is a whole number of hours dividing {hours} h, "
                             f"not {step}")
        leads = np.arange(0, hours + 1, int(step_h), dtype=np.float64)
        truth, _ = self.sample(run.timestamp() + HOUR_S * leads)
        values = truth + ForecastErrors.of(self.forecast_seed).at(run, leads)
        return OutdoorForecast(
            tuple(run + timedelta(hours=int(lead)) for lead in leads),
            tuple(round(float(v), 2) for v in values), "forecast")


def daily_extremes(
    weather: Weather, first: date, last: date, tz: tzinfo
) -> tuple[list[date], FloatArray, FloatArray]:
    """Minimum and maximum temperature of each local day from ``first`` to ``last``.

    Sampled every 10 minutes of each local day (23 or 25 hours on daylight-saving days).
    """
    start = datetime.combine(first, datetime.min.time(), tz).timestamp()
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz).timestamp()
    times = np.arange(start, end, 600.0)
    temperature, _ = weather.sample(times)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    bounds = np.array(
        [datetime.combine(d, datetime.min.time(), tz).timestamp() for d in days]
    )
    index = np.searchsorted(times, bounds)
    return days, np.minimum.reduceat(temperature, index), np.maximum.reduceat(temperature, index)


# --- synthetic weather ----------------------------------------------------------------

# Fraction of the daily range below the maximum, by solar hour 1..24 (ASHRAE Handbook
# Fundamentals, design-day temperature profile): minimum near sunrise, maximum at 15 h.
_DIURNAL_FRACTION = np.array([
    0.87, 0.92, 0.96, 0.99, 1.00, 0.98, 0.93, 0.84, 0.71, 0.56, 0.39, 0.23,
    0.11, 0.03, 0.00, 0.03, 0.10, 0.21, 0.34, 0.47, 0.58, 0.68, 0.76, 0.82,
])
_FAST_PERSISTENCE = 0.60  # day-to-day: a front passes in one or two days
_SLOW_PERSISTENCE = 0.85  # synoptic regimes: a cold or mild spell lasts a week or more
_SLOW_SHARE = 0.60  # share of the variance carried by the slow regimes
_MEMORY_DAYS = 60  # 0.85 ** 60 < 1e-4: older shocks no longer matter
# Removing each month's mean anomaly (typical years) takes away about a quarter of the
# variance of that mixture (measured over many seeds): give it back.
_TYPICAL_INFLATION = 1.0 / math.sqrt(0.73)
_CLEARNESS_SPREAD = 3.0  # Beta concentration: overcast and sunny days both common
_BLEND_DAYS = 3  # monthly corrections ramp over 2 x 3 days around month boundaries


def _year_days(year: int) -> int:
    return (date(year + 1, 1, 1) - date(year, 1, 1)).days


def _month_of_day(year: int) -> NDArray[np.int64]:
    return np.array(
        [(date(year, 1, 1) + timedelta(days=i)).month - 1 for i in range(_year_days(year))]
    )


@cache
def _mean_preserving_weights(year: int) -> tuple[FloatArray, FloatArray]:
    """Daily interpolation between mid-month nodes whose monthly averages are exact.

    Linear interpolation of monthly normals through mid-month points would flatten the
    peaks (a July mean below the normal); solving for the node values that give back the
    right monthly means keeps the curve smooth and the normals exact.
    Returns (basis: days x 12, inverse of the month-average matrix).
    """
    n = _year_days(year)
    months = _month_of_day(year)
    mids = np.array([np.flatnonzero(months == m).mean() for m in range(12)])
    nodes = np.concatenate([mids - n, mids, mids + n])
    basis = np.zeros((n, 12))
    for j in range(12):
        values = np.zeros(36)
        values[[j, j + 12, j + 24]] = 1.0
        basis[:, j] = np.interp(np.arange(n), nodes, values)
    averaging = np.array([basis[months == m].mean(axis=0) for m in range(12)])
    return basis, np.linalg.inv(averaging)


def _daily_climatology(monthly: Sequence[float] | FloatArray, year: int) -> FloatArray:
    basis, inverse = _mean_preserving_weights(year)
    return np.asarray(basis @ (inverse @ np.asarray(monthly, dtype=np.float64)))


def _ar_filter(shocks: FloatArray, persistence: float) -> FloatArray:
    """Unit-variance AR(1) as a finite moving average of shocks (order-independent)."""
    kernel = persistence ** np.arange(_MEMORY_DAYS) * math.sqrt(1.0 - persistence**2)
    return np.convolve(shocks, kernel)[_MEMORY_DAYS - 1 : len(shocks)]


@dataclass(frozen=True)
class _Daily:
    """One year of daily values, before the diurnal cycle."""

    tmid: FloatArray  # (Tn + Tx) / 2
    half_range: FloatArray  # (Tx - Tn) / 2
    clearness: FloatArray  # irradiance / clear-sky irradiance


@dataclass(eq=False)
class SyntheticWeather(Weather):
    """A seeded typical year of weather at a site, calibrated on climate normals.

    The daily mean is the normal (interpolated so that monthly means are kept) plus an
    anomaly made of a fast AR(1) (fronts) and a slow AR(1) (week-long cold or mild
    spells), scaled by the month's day-to-day spread. With ``typical=True`` (default)
    each month's mean anomaly is removed, ramped over a few days at month boundaries, so
    every year matches the normals month by month as a typical meteorological year does;
    with ``typical=False`` years differ from each other as real years do.

    Cloudiness is a daily clearness index (Beta distributed, correlated from day to day,
    its monthly mean set so that monthly irradiation matches the normals) with hourly
    fluctuations; it also widens the diurnal range of clear days and narrows that of
    overcast ones.
    """

    latitude: float
    longitude: float
    seed: int = 0
    normals: ClimateNormals = LILLE_LESQUIN_1991_2020
    typical: bool = True
    _daily_cache: dict[int, _Daily] = field(default_factory=dict, init=False, repr=False)
    _hourly_cache: dict[int, tuple[FloatArray, FloatArray]] = field(
        default_factory=dict, init=False, repr=False
    )

    @property
    def forecast_seed(self) -> int:
        return self.seed

    # -- daily values --

    def _shocks(self, year: int) -> FloatArray:
        return seeded_rng(self.seed, "weather", "synoptic", year).standard_normal(
            (2, _year_days(year))
        )

    def _raw_anomaly(self, year: int) -> FloatArray:
        """Unit-variance anomaly of each day of ``year``, continuous across New Year."""
        shocks = np.concatenate([self._shocks(year - 1), self._shocks(year)], axis=1)
        fast = _ar_filter(shocks[0], _FAST_PERSISTENCE)
        slow = _ar_filter(shocks[1], _SLOW_PERSISTENCE)
        mixed = math.sqrt(1 - _SLOW_SHARE) * fast + math.sqrt(_SLOW_SHARE) * slow
        return mixed[-_year_days(year) :]

    def _monthly_means(self, year: int) -> FloatArray:
        anomaly, months = self._raw_anomaly(year), _month_of_day(year)
        return np.array([anomaly[months == m].mean() for m in range(12)])

    def _anomaly(self, year: int) -> FloatArray:
        anomaly = self._raw_anomaly(year)
        if not self.typical:
            return anomaly
        # The monthly mean anomaly, as a step function ramped around each boundary; the
        # ramps across New Year use the neighbouring years so that years join up.
        means = np.concatenate([
            self._monthly_means(year - 1)[-1:], self._monthly_means(year),
            self._monthly_means(year + 1)[:1],
        ])
        months = _month_of_day(year) + 1
        correction = means[months]
        starts = [0, *np.flatnonzero(np.diff(months)) + 1, len(months)]
        for boundary, before, after in zip(starts, means[:-1], means[1:], strict=True):
            for offset in range(-_BLEND_DAYS, _BLEND_DAYS):
                day = boundary + offset
                if 0 <= day < len(months):
                    weight = (offset + _BLEND_DAYS + 0.5) / (2 * _BLEND_DAYS)
                    correction[day] = before + (after - before) * weight
        return (anomaly - correction) * _TYPICAL_INFLATION

    def _daily(self, year: int) -> _Daily:
        known = self._daily_cache.get(year)
        if known is not None:
            return known
        normals = self.normals
        months = _month_of_day(year)
        spread = _daily_climatology(normals.daily_sd, year)
        tmid = _daily_climatology(normals.tmean, year) + spread * self._anomaly(year)
        clearness_mean = self._clearness_targets(year)[months]
        rng = seeded_rng(self.seed, "weather", "clearness", year)
        correlated = _ar_filter(rng.standard_normal(len(months) + _MEMORY_DAYS), 0.5)
        quantile = stats.norm.cdf(correlated[-len(months) :])
        # Between 0.05 (dark overcast) and 0.95 (clear), with the month's mean.
        share = (clearness_mean - 0.05) / 0.9
        drawn = stats.beta.ppf(quantile, share * _CLEARNESS_SPREAD,
                               (1.0 - share) * _CLEARNESS_SPREAD)
        clearness = 0.05 + 0.9 * drawn
        if self.typical:
            # Each month gets its normal irradiation, not only on average over years.
            drawn_means = np.bincount(months, weights=clearness) / np.bincount(months)
            clearness = np.clip(clearness * (clearness_mean / drawn_means[months]), 0.03, 0.97)
        half_range = _daily_climatology(
            (np.array(normals.tmax) - np.array(normals.tmin)) / 2.0, year
        ) * (0.4 + 0.6 * clearness / clearness_mean)
        daily = _Daily(tmid, half_range, np.asarray(clearness, dtype=np.float64))
        self._daily_cache[year] = daily
        return daily

    def _clearness_targets(self, year: int) -> FloatArray:
        """Monthly mean clearness that gives the normal irradiation of each month."""
        start = datetime(year, 1, 1, tzinfo=UTC).timestamp()
        hours = start + HOUR_S * (np.arange(_year_days(year) * 24, dtype=np.float64) + 0.5)
        clear = clear_sky_irradiance(hours, self.latitude, self.longitude) / 1000.0
        months = np.repeat(_month_of_day(year), 24)
        clear_monthly = np.bincount(months, weights=clear, minlength=12)
        return np.clip(np.asarray(self.normals.irradiation) / clear_monthly, 0.1, 0.85)

    # -- hourly values --

    def _hourly(self, year: int) -> tuple[FloatArray, FloatArray]:
        """Temperature and clearness at each UTC hour of ``year`` and the next 00:00."""
        known = self._hourly_cache.get(year)
        if known is not None:
            return known
        days = [self._daily(year - 1), self._daily(year), self._daily(year + 1)]
        tmid = np.concatenate([days[0].tmid[-1:], days[1].tmid, days[2].tmid[:1]])
        half = np.concatenate([days[0].half_range[-1:], days[1].half_range,
                               days[2].half_range[:1]])
        clear = np.concatenate([days[0].clearness[-1:], days[1].clearness,
                                days[2].clearness[:1]])
        n_hours = _year_days(year) * 24 + 1
        hour = np.arange(n_hours, dtype=np.float64)
        # Daily values hold at noon (index 1 is 1 January of ``year``).
        position = (hour - 12.0) / 24.0 + 1.0
        centres = np.arange(len(tmid), dtype=np.float64)
        solar_hour = (hour + self.longitude / 15.0) % 24.0
        fraction = np.interp(solar_hour, np.arange(1, 25), _DIURNAL_FRACTION, period=24.0)
        temperature = np.interp(position, centres, tmid) + np.interp(
            position, centres, half) * (1.0 - 2.0 * fraction)
        rng = seeded_rng(self.seed, "weather", "clouds", year)
        flicker = _ar_filter(rng.standard_normal(n_hours + _MEMORY_DAYS), 0.7)[-n_hours:]
        clearness = np.clip(np.interp(position, centres, clear) * (1.0 + 0.2 * flicker),
                            0.02, 1.0)
        result = (temperature, clearness)
        self._hourly_cache[year] = result
        return result

    def sample(self, epoch_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        epoch_s = np.asarray(epoch_s, dtype=np.float64)
        temperature = np.empty_like(epoch_s)
        clearness = np.empty_like(epoch_s)
        years = _utc_years(epoch_s)
        for year in np.unique(years):
            mask = years == year
            hourly_t, hourly_k = self._hourly(int(year))
            hours = (epoch_s[mask] - datetime(int(year), 1, 1, tzinfo=UTC).timestamp()) / HOUR_S
            grid = np.arange(len(hourly_t), dtype=np.float64)
            temperature[mask] = np.interp(hours, grid, hourly_t)
            clearness[mask] = np.interp(hours, grid, hourly_k)
        solar = clear_sky_irradiance(epoch_s, self.latitude, self.longitude) * clearness
        return temperature, solar


def _utc_years(epoch_s: FloatArray) -> NDArray[np.int64]:
    as_dates = np.floor(epoch_s).astype(np.int64).astype("datetime64[s]").astype("datetime64[Y]")
    return as_dates.astype(np.int64) + 1970


# --- forecasts ------------------------------------------------------------------------

FORECAST_RMSE_K = ((0, 0.6), (24, 1.0), (48, 1.7), (168, 3.0))
"""RMSE of a 2 m temperature forecast at a station by lead time (hours, K), linear in
between. Day 1 about 1 K and day 2 1.5 to 2 K: the figures the issue gives for a national
NWP model at a station, after the usual statistical post-processing (verify against
ECMWF's station scores or Météo-France's published verification); ECMWF's forecast user
guide (2 m temperature) says post-processing improves raw model output substantially
and that errors depend little on the range in the first days, larger near the ground in
calm, cold and clear nights (not modelled). Lead 0 (the service's value for the hour it
is issued) is 0.6 K away from the station: a model's grid point is not the sensor.
Beyond a week nothing is served."""
MAX_LEAD_H = FORECAST_RMSE_K[-1][0]
_LEAD_TIME_SCALE_H = 12.0  # errors 12 h apart in a run correlate at exp(-1) = 0.37
_RUN_TIME_SCALE_H = 24.0  # runs a day apart share exp(-1) of their error on an instant
_RUN_MEMORY_H = 168  # exp(-168 / 24) < 1e-3: older runs no longer matter; a week


@dataclass(eq=False)
class ForecastErrors:
    """The error of the forecast each hourly run makes at each lead time, K.

    ``error(run, lead) = rmse(lead) × z(run, run + lead)``: ``z`` is a unit-variance
    Gaussian field, exponentially correlated along the instants a run forecasts (a front
    a few hours early errs on neighbouring hours alike: exp(-Δ/12 h)) and along the runs
    for one instant (the next run is mostly the last one, revised: exp(-Δ/24 h)), so a
    forecast issued an hour later changes by about a third of its error, and forecasts
    change smoothly from one issue to the next. Zero mean: no bias is modelled.

    Shocks are drawn a week of runs at a time (168 hourly runs, counted from the epoch)
    from ``seeded_rng(seed, "forecast", week)``, filtered along the instants (an AR(1),
    stationary from lead 0) and then averaged along the runs with exponential weights,
    over the week before too: an error depends only on the seed, the run and the lead,
    never on what was asked before, and draws from no other stream.
    """

    seed: int
    _weeks: dict[int, FloatArray] = field(default_factory=dict, init=False, repr=False)

    _known: ClassVar[dict[int, ForecastErrors]] = {}

    @classmethod
    def of(cls, seed: int) -> ForecastErrors:
        """The errors of ``seed``, made once per process (a week of runs costs 10 ms)."""
        known = cls._known.get(seed)
        if known is None:
            known = cls._known[seed] = cls(seed)
        return known

    @staticmethod
    def rmse(lead_h: FloatArray) -> FloatArray:
        hours, values = zip(*FORECAST_RMSE_K, strict=True)
        return np.interp(lead_h, hours, values)

    def at(self, run: datetime, leads_h: FloatArray) -> FloatArray:
        """The error of the run of ``run`` (a whole UTC hour) at whole-hour leads."""
        leads = np.rint(leads_h).astype(np.int64)
        if leads.size and (leads.min() < 0 or leads.max() > MAX_LEAD_H):
            raise ValueError(f"forecast leads run from 0 to {MAX_LEAD_H} h")
        week, row = divmod(math.floor(to_epoch(run) / HOUR_S), _RUN_MEMORY_H)
        return np.asarray(self.rmse(np.asarray(leads_h)) * self._field(week)[row, leads])

    def _shocks(self, week: int) -> FloatArray:
        return seeded_rng(self.seed, "forecast", week).standard_normal(
            (_RUN_MEMORY_H, MAX_LEAD_H + _RUN_MEMORY_H + 1))

    def _field(self, week: int) -> FloatArray:
        """z(run, run + lead) for every run of ``week`` (rows) and lead (columns)."""
        known = self._weeks.get(week)
        if known is not None:
            return known
        lead_phi = math.exp(-1.0 / _LEAD_TIME_SCALE_H)
        gain = math.sqrt(1.0 - lead_phi**2)
        shocks = np.concatenate([self._shocks(week - 1), self._shocks(week)])
        # Along the instants of each run: stationary from lead 0 (a plain shock).
        instants = signal.lfilter([gain], [1.0, -lead_phi], shocks, axis=1,
                                  zi=(1.0 - gain) * shocks[:, :1])[0]
        # Along the runs for one instant: the run k hours earlier saw it at lead + k.
        weights = math.exp(-1.0 / _RUN_TIME_SCALE_H) ** np.arange(_RUN_MEMORY_H + 1)
        weights /= math.sqrt(float((weights**2).sum()))
        made = np.zeros((_RUN_MEMORY_H, MAX_LEAD_H + 1))
        for k, weight in enumerate(weights):
            made += weight * instants[_RUN_MEMORY_H - k : 2 * _RUN_MEMORY_H - k,
                                      k : k + MAX_LEAD_H + 1]
        self._weeks[week] = made
        return made


# --- measured weather -----------------------------------------------------------------


class WeatherFileError(ValueError):
    """A weather CSV that cannot be used; the message names the file and the line."""


@dataclass(frozen=True, eq=False)
class CsvWeather(Weather):
    """Measured weather, interpolated linearly between rows.

    Without a ``solar`` column the irradiance is the clear-sky value at the site times
    ``MEAN_CLEARNESS``, a crude stand-in that keeps solar gains in the right range.
    """

    times: FloatArray
    temperature: FloatArray
    solar: FloatArray | None
    latitude: float
    longitude: float
    source: str = "<memory>"

    MEAN_CLEARNESS = 0.45

    def sample(self, epoch_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        epoch_s = np.asarray(epoch_s, dtype=np.float64)
        if epoch_s.size and (epoch_s.min() < self.times[0] or epoch_s.max() > self.times[-1]):
            first = datetime.fromtimestamp(self.times[0], UTC).isoformat()
            last = datetime.fromtimestamp(self.times[-1], UTC).isoformat()
            raise ValueError(f"weather data {self.source} covers {first} to {last} only")
        temperature = np.interp(epoch_s, self.times, self.temperature)
        if self.solar is not None:
            solar = np.interp(epoch_s, self.times, self.solar)
        else:
            solar = clear_sky_irradiance(epoch_s, self.latitude, self.longitude)
            solar = solar * self.MEAN_CLEARNESS
        return temperature, solar


def read_csv(path: str | Path, latitude: float, longitude: float) -> CsvWeather:
    """Read ``time,temperature[,solar]`` rows; times ISO 8601 with an offset, or UTC."""
    path = Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WeatherFileError(f"{name}: cannot read: {exc.strerror}") from exc
    reader = csv.DictReader(text.splitlines())
    columns = set(reader.fieldnames or ())
    if not {"time", "temperature"} <= columns:
        raise WeatherFileError(f"{name}:1: columns `time` and `temperature` are required, "
                               f"found {sorted(columns)}")
    has_solar = "solar" in columns
    times: list[float] = []
    temperatures: list[float] = []
    solar: list[float] = []
    for row in reader:
        line = reader.line_num
        times.append(_parse_time(row["time"], name, line))
        temperatures.append(_parse_number(row, "temperature", -60.0, 60.0, name, line))
        if has_solar:
            solar.append(_parse_number(row, "solar", 0.0, 1500.0, name, line))
        if len(times) > 1 and times[-1] <= times[-2]:
            raise WeatherFileError(f"{name}:{line}: time {row['time']} does not follow the "
                                   "previous row (rows must be in increasing time order)")
    if len(times) < 2:
        raise WeatherFileError(f"{name}: needs at least two rows of data")
    return CsvWeather(
        np.array(times), np.array(temperatures), np.array(solar) if has_solar else None,
        latitude, longitude, name,
    )


def _parse_time(text: str | None, name: str, line: int) -> float:
    try:
        moment = datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise WeatherFileError(
            f"{name}:{line}: time {text!r} is not ISO 8601 (e.g. 2025-01-15T08:00:00+01:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _parse_number(
    row: dict[str, str | None], column: str, low: float, high: float, name: str, line: int
) -> float:
    text = (row.get(column) or "").strip()
    try:
        value = float(text)
    except ValueError:
        raise WeatherFileError(f"{name}:{line}: {column} {text!r} is not a number") from None
    if not low <= value <= high:
        raise WeatherFileError(f"{name}:{line}: {column} {value} is outside [{low}, {high}]")
    return value


def write_csv(
    path: str | Path, weather: Weather, start: datetime, end: datetime, step_s: float = HOUR_S
) -> None:
    """Write ``weather`` from ``start`` to ``end`` (included) in the format ``read_csv`` reads."""
    times = np.arange(to_epoch(start), to_epoch(end) + 0.5 * step_s, step_s)
    temperature, solar = weather.sample(times)
    with Path(path).open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["time", "temperature", "solar"])
        for t, temp, sun in zip(times, temperature, solar, strict=True):
            stamp = datetime.fromtimestamp(float(t), UTC).isoformat()
            writer.writerow([stamp, f"{temp:.3f}", f"{sun:.2f}"])
