"""Synthetic weather against the Lille-Lesquin normals, and measured weather from CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from gtb.savings.degree_days import hdd_meteo
from gtb.sim.weather import (
    LILLE_LESQUIN_1991_2020,
    SyntheticWeather,
    WeatherFileError,
    clear_sky_irradiance,
    daily_extremes,
    read_csv,
    write_csv,
)

PARIS = ZoneInfo("Europe/Paris")
LAT, LON = 50.40, 3.28
NORMALS = LILLE_LESQUIN_1991_2020


def epoch(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[misc]


def year_of_days(weather: SyntheticWeather, year: int = 2025) -> tuple[list[date], np.ndarray,
                                                                        np.ndarray]:
    return daily_extremes(weather, date(year, 1, 1), date(year, 12, 31), PARIS)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_monthly_means_match_the_normals_within_10_percent(seed: int) -> None:
    days, tmin, tmax = year_of_days(SyntheticWeather(LAT, LON, seed))
    months = np.array([d.month for d in days])
    daily_mean = (tmin + tmax) / 2
    for month in range(12):
        mean = daily_mean[months == month + 1].mean()
        normal = NORMALS.tmean[month]
        assert abs(mean - normal) <= 0.10 * abs(normal), (month + 1, mean, normal)


def test_the_reference_degree_days_come_from_the_normals() -> None:
    """From the monthly normals and the day-to-day spread: about 2,610 K·day, within 10 %
    of the 2,800 the issue quotes; monthly means alone would give a lower 2,548."""
    reference = NORMALS.expected_degree_days()
    assert reference == pytest.approx(2614, abs=5)
    assert abs(reference - 2800) <= 0.10 * 2800
    monthly_only = sum(max(0.0, 18 - t) * d for t, d in zip(
        NORMALS.tmean, (31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31), strict=True))
    assert monthly_only < reference


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_annual_degree_days_within_10_percent(seed: int) -> None:
    _, tmin, tmax = year_of_days(SyntheticWeather(LAT, LON, seed))
    total = hdd_meteo(tmin, tmax).sum()
    reference = NORMALS.expected_degree_days()
    assert abs(total - reference) <= 0.10 * reference, total
    assert abs(total - 2800) <= 0.10 * 2800, total


def longest_run(mask: np.ndarray) -> int:
    best = current = 0
    for value in mask:
        current = current + 1 if value else 0
        best = max(best, current)
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cold_and_mild_spells_last_several_days(seed: int) -> None:
    days, tmin, tmax = year_of_days(SyntheticWeather(LAT, LON, seed))
    normal = np.array([NORMALS.tmean[d.month - 1] for d in days])
    anomaly = (tmin + tmax) / 2 - normal
    assert longest_run(anomaly < -2.5) >= 4
    assert longest_run(anomaly > 2.5) >= 4
    # and the day-to-day variability is that of a real winter, not white noise
    winter = np.array([d.month in (12, 1, 2) for d in days])
    assert 2.0 < anomaly[winter].std() < 5.0
    assert np.corrcoef(anomaly[:-1], anomaly[1:])[0, 1] > 0.5


def test_diurnal_cycle_follows_the_normal_daily_range() -> None:
    days, tmin, tmax = year_of_days(SyntheticWeather(LAT, LON, 0))
    months = np.array([d.month for d in days])
    for month in (1, 7):
        normal_range = NORMALS.tmax[month - 1] - NORMALS.tmin[month - 1]
        assert (tmax - tmin)[months == month].mean() == pytest.approx(normal_range, rel=0.25)
    weather = SyntheticWeather(LAT, LON, 0)
    hours = epoch(2025, 1, 15) + 3600.0 * np.arange(24 * 30)
    temperature, _ = weather.sample(hours)
    by_hour = temperature.reshape(30, 24).mean(axis=0)
    assert 13 <= int(np.argmax(by_hour)) <= 15  # UTC: mid-afternoon local time
    assert 3 <= int(np.argmin(by_hour)) <= 7  # around dawn


def test_solar_irradiance_is_zero_at_night_and_matches_monthly_irradiation() -> None:
    weather = SyntheticWeather(LAT, LON, 0)
    times = epoch(2025, 1, 1) + 3600.0 * (np.arange(8760) + 0.5)
    _, solar = weather.sample(times)
    clear = clear_sky_irradiance(times, LAT, LON)
    assert np.all(solar[clear == 0] == 0)
    assert np.all(solar <= clear + 1e-9)
    assert solar.max() < 1000
    months = times.astype("datetime64[s]").astype("datetime64[M]").astype(int) % 12
    monthly = np.bincount(months, weights=solar) / 1000.0
    np.testing.assert_allclose(monthly, NORMALS.irradiation, rtol=0.10)


def test_same_seed_same_weather_whatever_the_order_of_queries() -> None:
    times = np.array([epoch(2025, 12, 31, 23), epoch(2024, 6, 1, 12), epoch(2026, 2, 3, 4)])
    first = SyntheticWeather(LAT, LON, 7).sample(times)
    second_weather = SyntheticWeather(LAT, LON, 7)
    reverse = second_weather.sample(times[::-1])
    np.testing.assert_array_equal(first[0], reverse[0][::-1])
    np.testing.assert_array_equal(first[1], reverse[1][::-1])
    other = SyntheticWeather(LAT, LON, 8).sample(times)
    assert not np.allclose(first[0], other[0])


def test_years_join_up_without_a_jump() -> None:
    weather = SyntheticWeather(LAT, LON, 3)
    around = epoch(2026, 1, 1) + np.array([-600.0, -1.0, 0.0, 600.0])
    temperature, _ = weather.sample(around)
    assert np.abs(np.diff(temperature)).max() < 0.5


def test_real_years_vary_around_the_normals() -> None:
    """Without ``typical``, years differ from each other as real ones do."""
    weather = SyntheticWeather(LAT, LON, 0, typical=False)
    januaries = []
    for year in range(2020, 2030):
        _, tmin, tmax = daily_extremes(weather, date(year, 1, 1), date(year, 1, 31), PARIS)
        januaries.append(((tmin + tmax) / 2).mean())
    assert np.std(januaries) > 1.0
    assert abs(np.mean(januaries) - NORMALS.tmean[0]) < 1.5


def test_at_refuses_naive_datetimes() -> None:
    weather = SyntheticWeather(LAT, LON, 0)
    with pytest.raises(ValueError, match="timezone"):
        weather.at(datetime(2025, 1, 1, 12))
    sample = weather.at(datetime(2025, 1, 1, 12, tzinfo=UTC))
    assert -15 < sample.temperature < 15 and sample.solar >= 0


# --- CSV ---------------------------------------------------------------------------------


def test_csv_round_trip(tmp_path: Path) -> None:
    weather = SyntheticWeather(LAT, LON, 5)
    start = datetime(2025, 2, 1, tzinfo=UTC)
    path = tmp_path / "lesquin.csv"
    write_csv(path, weather, start, start + timedelta(days=7))
    measured = read_csv(path, LAT, LON)
    hours = start.timestamp() + 3600.0 * np.arange(7 * 24 + 1)
    original = weather.sample(hours)
    again = measured.sample(hours)
    np.testing.assert_allclose(again[0], original[0], atol=1e-3)
    np.testing.assert_allclose(again[1], original[1], atol=1e-2)
    halfway = measured.sample(hours[:1] + 1800.0)[0][0]
    assert halfway == pytest.approx((again[0][0] + again[0][1]) / 2)
    with pytest.raises(ValueError, match="covers"):
        measured.sample(hours[-1:] + 3600.0)


def test_csv_with_offsets_naive_utc_and_no_solar(tmp_path: Path) -> None:
    path = tmp_path / "station.csv"
    path.write_text(
        "time,temperature\n"
        "2025-01-15T08:00:00+01:00,-2.5\n"
        "2025-01-15T08:00:00,-1.5\n"  # naive: UTC, so one hour later than the row above
        "2025-01-15T10:00:00Z,0.5\n",
        encoding="utf-8",
    )
    measured = read_csv(path, LAT, LON)
    temperature, solar = measured.sample(np.array([epoch(2025, 1, 15, 7), epoch(2025, 1, 15, 9),
                                                   epoch(2025, 1, 15, 7, 30)]))
    np.testing.assert_allclose(temperature, [-2.5, -0.5, -2.0])
    expected = clear_sky_irradiance(np.array([epoch(2025, 1, 15, 9)]), LAT, LON)[0] * 0.45
    assert solar[1] == pytest.approx(expected) and expected > 0


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("time,temperature,solar\n2025-01-01T00:00Z,1,0\n2025-01-01T01:00Z,abc,0\n", 3,
         "temperature 'abc' is not a number"),
        ("time,temperature,solar\n2025-01-01T00:00Z,1,0\nyesterday,2,0\n", 3, "ISO 8601"),
        ("time,temperature,solar\n2025-01-01T00:00Z,1,0\n2025-01-01T00:00Z,2,0\n", 3,
         "increasing time order"),
        ("time,temperature,solar\n2025-01-01T00:00Z,1,0\n2025-01-01T01:00Z,2,-5\n", 3,
         "solar -5.0 is outside"),
        ("date,temp\n2025-01-01,1\n", 1, "`time` and `temperature` are required"),
    ],
)
def test_bad_csv_rows_name_the_file_and_line(tmp_path: Path, body: str, line: int,
                                              words: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(WeatherFileError) as caught:
        read_csv(path, LAT, LON)
    assert f"{path}:{line}:" in str(caught.value)
    assert words in str(caught.value)


def test_missing_csv_file(tmp_path: Path) -> None:
    with pytest.raises(WeatherFileError, match="cannot read"):
        read_csv(tmp_path / "nothing.csv", LAT, LON)


# --- the forecast the virtual commune publishes --------------------------------------


def season_errors(seed: int, first: datetime, days: int) -> np.ndarray:
    """Forecast minus weather for every hourly run of ``days`` days, leads 0 to 48 h."""
    weather = SyntheticWeather(LAT, LON, seed)
    errors = []
    for hour in range(days * 24):
        forecast = weather.forecast(first + timedelta(hours=hour))
        truth, _ = weather.sample(np.array([t.timestamp() for t in forecast.times]))
        errors.append(np.array(forecast.temperatures) - truth)
    return np.array(errors)


@pytest.mark.parametrize("seed", [0, 1])
def test_forecast_error_grows_with_lead_time_as_a_weather_service_s(seed: int) -> None:
    """Over a heating season of hourly runs: about 1 K at day 1, 1.5-2 K at day 2 (the
    RMSE of a national model at a station, FORECAST_RMSE_K), less at the first hours,
    and no bias."""
    errors = season_errors(seed, datetime(2025, 10, 1, tzinfo=UTC), 182)
    rmse = np.sqrt((errors**2).mean(axis=0))
    assert 0.4 <= rmse[0] <= 0.8
    assert 0.85 <= rmse[24] <= 1.15
    assert 1.5 <= rmse[48] <= 2.0
    assert np.all(np.diff(rmse[::6]) > 0)  # grows with the lead
    assert np.all(np.abs(errors.mean(axis=0)) <= 0.3)


def test_forecast_errors_are_correlated_across_leads_and_runs() -> None:
    """Neighbouring hours of a run err alike, and a run three hours later revises the
    forecast of the same instant smoothly rather than drawing a new one."""
    errors = season_errors(0, datetime(2026, 1, 1, tzinfo=UTC), 60)
    along_lead = np.corrcoef(errors[:, 24], errors[:, 25])[0, 1]
    far_lead = np.corrcoef(errors[:, 0], errors[:, 48])[0, 1]
    same_instant = np.corrcoef(errors[:-3, 27], errors[3:, 24])[0, 1]
    assert along_lead > 0.85
    assert abs(far_lead) < 0.3
    assert 0.8 < same_instant < 0.95
    # The hourly change of a forecast for a given instant is a fraction of its error.
    revisions = errors[1:, 23] - errors[:-1, 24]
    assert revisions.std() < 0.4 * errors[:, 24].std()


def test_forecast_is_reproducible_whatever_was_asked_before_and_changes_no_weather() -> None:
    issued = datetime(2025, 12, 31, 22, 40, tzinfo=UTC)
    times = np.arange(epoch(2025, 12, 1), epoch(2026, 1, 3), 600.0)
    before = SyntheticWeather(LAT, LON, 3).sample(times)
    fresh = SyntheticWeather(LAT, LON, 3)
    asked_first = fresh.forecast(datetime(2026, 3, 1, tzinfo=UTC))
    forecast = fresh.forecast(issued)
    after = fresh.sample(times)
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    again = SyntheticWeather(LAT, LON, 3).forecast(issued)
    assert forecast == again
    assert asked_first != SyntheticWeather(LAT, LON, 4).forecast(datetime(2026, 3, 1, tzinfo=UTC))
    # The run of the last whole hour, 48 h ahead, hourly; across New Year without a jump.
    assert forecast.source == "forecast"
    assert forecast.times[0] == datetime(2025, 12, 31, 22, tzinfo=UTC)
    assert forecast.times[-1] - forecast.times[0] == timedelta(hours=48)
    assert len(forecast.times) == 49
    steps = np.diff(forecast.temperatures)
    assert np.abs(steps).max() < 2.5


def test_forecast_refuses_steps_that_are_not_whole_hours() -> None:
    weather = SyntheticWeather(LAT, LON, 0)
    with pytest.raises(ValueError, match="whole number of hours"):
        weather.forecast(datetime(2025, 1, 1, tzinfo=UTC), step=timedelta(minutes=30))
    with pytest.raises(ValueError, match="168"):
        weather.forecast(datetime(2025, 1, 1, tzinfo=UTC), hours=24 * 8)
    assert len(weather.forecast(datetime(2025, 1, 1, tzinfo=UTC), hours=24,
                                step=timedelta(hours=3)).times) == 9
