"""Savings (docs/savings.md): degree-days against published values and their formulas'
branches, the baseline's statistics on a case worked by hand, a planted saving recovered
within its stated uncertainty, planted faults found and normal weeks left alone, and
`gtb savings` on a real store file written with samples and rolled up."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from gtb.cli import main
from gtb.config import parse_site
from gtb.i18n import number_fr
from gtb.model import Site
from gtb.model.calendar import AgendaEntry
from gtb.savings.baseline import DayRecord, SavingsError, day_types, fit_baseline
from gtb.savings.criteria import accepted, criteria
from gtb.savings.degree_days import hdd_costic, hdd_meteo
from gtb.savings.lighting import CabinetSavings, dark_hours
from gtb.savings.readings import building_days, load_baseline_csv
from gtb.savings.reporting import Savings, back_within, efficiency_losses, savings
from gtb.savings.rounding import rounded
from gtb.savings.site import month_savings, site_savings
from gtb.savings.tariffs import DEFAULT_TARIFFS, Rate, TariffsError, load_tariffs
from gtb.savings.totals import Figure, MonthTotal, bound, in_quadrature, month_end
from gtb.savings.trajectory import trajectory
from gtb.sim.weather import LILLE_LESQUIN_1991_2020, SyntheticWeather, daily_extremes
from gtb.store import Store
from gtb.store.samples import Sample

PARIS = ZoneInfo("Europe/Paris")
ROOT = Path(__file__).resolve().parent.parent

# --- degree-days ------------------------------------------------------------------------


def test_meteo_degree_days_match_published_examples() -> None:
    # "si la température moyenne de la journée a été de 5 °C, le nombre de DJU est égal
    # à 13" (lesgrandesterres.net/dju.htm); Lille, 11-20 December 2003: 123 DJU over ten
    # days of mean 5.7 °C (formation.xpair.com, exemples de tables de DJ).
    assert hdd_meteo(1.0, 9.0) == 13.0
    assert float(hdd_meteo(np.full(10, 1.7), np.full(10, 9.7)).sum()) == pytest.approx(123.0)
    assert hdd_meteo(15.0, 23.0) == 0.0  # Tm = 19 °C: nothing below 18 °C, by this method
    assert hdd_meteo(10.0, 20.0, base=16.0) == 1.0


def test_costic_degree_days_follow_each_branch_of_the_formula() -> None:
    # S >= Tx, a cold day: S - Tm, as the météo method.
    assert hdd_costic(2.0, 12.0) == 11.0
    assert hdd_costic(10.0, 18.0) == 4.0  # S = Tx exactly
    # S <= Tn, a warm day: nothing.
    assert hdd_costic(18.0, 25.0) == 0.0
    assert hdd_costic(19.0, 30.0) == 0.0
    # Tn < S < Tx: (S - Tn) (0.08 + 0.42 (S - Tn) / (Tx - Tn)).
    assert hdd_costic(10.0, 20.0) == pytest.approx(8 * (0.08 + 0.42 * 8 / 10))  # 3.328
    assert hdd_costic(14.0, 24.0) == pytest.approx(4 * (0.08 + 0.42 * 4 / 10))  # 0.992
    assert hdd_meteo(14.0, 24.0) == 0.0  # the météo method misses that mild day
    # Another base, as heating contracts sometimes use.
    assert hdd_costic(5.0, 20.0, base=15.0) == pytest.approx(10 * (0.08 + 0.42 * 10 / 15))


def test_costic_degree_days_match_the_worked_examples_found() -> None:
    """Worked examples of the same formula in public documentation (MeteoCiel's
    degres_jours.rst, pandas_degreedays' tests): independent computations of the formula,
    not values published by COSTIC, which sells its DJU by subscription."""
    assert hdd_costic(2.0, 10.0) == pytest.approx(12.0)
    assert hdd_costic(5.0, 25.0) == pytest.approx(4.589, abs=5e-4)
    assert hdd_costic(10.0, 16.0, base=13.0) == pytest.approx(0.870, abs=5e-4)
    assert hdd_costic(5.0, 15.0) == pytest.approx(8.0)
    assert hdd_costic(20.0, 30.0) == 0.0


def test_costic_branches_meet_at_their_edges() -> None:
    eps = 1e-9
    assert hdd_costic(10.0, 18.0 + eps) == pytest.approx(hdd_costic(10.0, 18.0), abs=1e-6)
    assert hdd_costic(18.0 - eps, 25.0) == pytest.approx(0.0, abs=1e-6)


def test_degree_days_take_arrays_and_refuse_impossible_days() -> None:
    tmin, tmax = np.array([2.0, 14.0, 19.0]), np.array([12.0, 24.0, 30.0])
    assert hdd_costic(tmin, tmax) == pytest.approx([11.0, 0.992, 0.0])
    assert hdd_meteo(tmin, tmax) == pytest.approx([11.0, 0.0, 0.0])
    assert isinstance(hdd_costic(2.0, 12.0), float)
    with pytest.raises(ValueError, match="above its maximum"):
        hdd_costic(12.0, 2.0)


@given(st.floats(-30, 35), st.floats(0, 25), st.floats(10, 22))
def test_costic_counts_at_least_the_meteo_method(tmin: float, spread: float,
                                                 base: float) -> None:
    tmax = tmin + spread
    costic, meteo = hdd_costic(tmin, tmax, base), hdd_meteo(tmin, tmax, base)
    assert costic >= meteo - 1e-9
    assert 0.0 <= costic <= max(0.0, base - tmin) + 1e-9


def test_a_typical_lille_year_has_the_degree_days_of_northern_france() -> None:
    # Most of France has 2,000 to 2,900 DJU a year (DOMAIN.md; SDES); the synthetic
    # weather's own estimate from the normals is its reference.
    weather = SyntheticWeather(50.61, 3.14, seed=1)
    _, tmin, tmax = daily_extremes(weather, date(2026, 1, 1), date(2026, 12, 31), PARIS)
    meteo, costic = float(hdd_meteo(tmin, tmax).sum()), float(hdd_costic(tmin, tmax).sum())
    assert 2000 < meteo < 2900
    assert meteo == pytest.approx(LILLE_LESQUIN_1991_2020.expected_degree_days(), rel=0.05)
    assert meteo < costic < meteo * 1.15


# --- the baseline's statistics, worked by hand --------------------------------------------


def cold_day(day: date, hdd: float, kwh: float, day_type: str = "school") -> DayRecord:
    """A day whose degree-days are ``hdd`` whatever the method and base 18 °C."""
    return DayRecord(day, kwh, 18.0 - hdd - 1.0, 18.0 - hdd + 1.0, day_type)


def test_fit_statistics_on_a_small_case_worked_by_hand() -> None:
    # y = 10 + 9 x + e with e orthogonal to 1 and x: OLS gives back 10 and 9 exactly,
    # and the residuals are e.
    x = [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    e = [1.0, -1.0, -1.0, 1.0, 0.0, 0.0]
    days = [cold_day(date(2025, 1, 6) + timedelta(days=i), xi, 10 + 9 * xi + ei)
            for i, (xi, ei) in enumerate(zip(x, e, strict=True))]
    b = fit_baseline(days, method="meteo", balances=(18.0,))
    assert b.balance_c == 18.0
    assert b.coefficients["school"] == pytest.approx({"intercept": 10.0, "slope": 9.0})
    assert (b.n, b.p) == (6, 2)
    # SSE = 4, n - p = 4: RMSE = 1; mean 73; SST = 81 x 70 + 4 = 5674.
    assert b.rmse == pytest.approx(1.0)
    assert b.mean_kwh == pytest.approx(73.0)
    assert b.cv_rmse == pytest.approx(1 / 73)
    assert b.nmbe == pytest.approx(0.0, abs=1e-12)
    assert b.r2 == pytest.approx(1 - 4 / 5674)
    assert b.r2_adjusted == pytest.approx(1 - (4 / 4) / (5674 / 5))
    assert b.autocorrelation == 0.0  # negative lag-1 correlation, kept at 0
    assert b.effective_n == 6
    assert b.months == 0  # one week: no monthly statistics
    # The slope's two-sided p-value: t = 9 / (RMSE / sqrt(Σ(x - x̄)²)) = 9 sqrt(70), 4 dof.
    assert b.slope_p_value == pytest.approx(2 * stats.t.sf(9 * math.sqrt(70), 4))
    # Every day type borrows the only one the baseline has.
    assert set(b.groups.values()) == {"school"}
    assert b.predict([cold_day(date(2025, 2, 1), 5.0, 0.0, "closed")]) == pytest.approx([55.0])


def test_monthly_statistics_are_guideline_14s_on_the_monthly_sums() -> None:
    rng = np.random.default_rng(3)
    start = date(2025, 1, 1)
    days = [cold_day(start + timedelta(days=i), float(h), 0.0)
            for i, h in enumerate(rng.uniform(0, 15, 90))]
    days = [replace(d, kwh=20 + 8 * (18.0 - (d.tmin + d.tmax) / 2) + float(rng.normal(0, 6)))
            for d in days]
    b = fit_baseline(days, method="meteo", balances=(18.0,))
    fitted = b.predict(days)
    months = sorted({d.day.replace(day=1) for d in days})
    actual = np.array([sum(d.kwh for d in days if d.day.replace(day=1) == m) for m in months])
    expected = np.array([sum(f for d, f in zip(days, fitted, strict=True)
                             if d.day.replace(day=1) == m) for m in months])
    assert b.months == 3
    assert b.monthly_cv_rmse == pytest.approx(
        math.sqrt(((actual - expected) ** 2).sum() / 2) / actual.mean())
    assert b.monthly_nmbe == pytest.approx((actual - expected).sum() / (2 * actual.mean()))
    # Guideline 14's calibration criteria, computed on them, named and never used to accept.
    result = savings(b, days)
    calibration = {c.code: c for c in criteria(b, result) if c.kind == "calibration"}
    assert calibration["calibration_cv_rmse"].met == (b.monthly_cv_rmse <= 0.15)
    assert calibration["calibration_nmbe"].met == (abs(b.monthly_nmbe) <= 0.05)


def test_day_types_get_their_own_intercepts_and_rare_ones_borrow() -> None:
    start = date(2025, 1, 6)
    days = []
    for i in range(70):
        day = start + timedelta(days=i)
        kind = "closed" if day.weekday() >= 5 else "school"
        kind = "event" if i in (12, 40) else kind  # two events: too few for their own
        hdd = 8.0 + 4 * math.sin(i / 5)
        days.append(cold_day(day, hdd, (90 if kind != "closed" else 30) + 6 * hdd, kind))
    b = fit_baseline(days, method="meteo", balances=(18.0,))
    assert b.coefficients["school"]["intercept"] == pytest.approx(90, abs=1e-6)
    assert b.coefficients["closed"]["intercept"] == pytest.approx(30, abs=1e-6)
    assert b.coefficients["school"]["slope"] == pytest.approx(6, abs=1e-6)
    assert b.groups["event"] == "school" and b.groups["holiday"] == "closed"


# --- a planted saving, recovered ------------------------------------------------------------

A = {"school": 120.0, "holiday": 55.0, "closed": 40.0, "event": 120.0}
SLOPE = 30.0
BALANCE = 16.0


def synthetic_year(seed: int, first: date, last: date,
                   kinds: Callable[[Sequence[date]], dict[date, str]] | None = None,
                   rho: float = 0.3, sd: float = 14.0) -> list[DayRecord]:
    """Days of a heating meter: a + b HDD(16 °C, COSTIC) + AR(1) noise, on synthetic
    weather of the seed (not a typical year: years differ, as real ones do)."""
    weather = SyntheticWeather(50.4, 3.28, seed=seed, typical=False)
    days, tmin, tmax = daily_extremes(weather, first, last, PARIS)
    types = kinds(days) if kinds else {d: school_calendar(d) for d in days}
    rng = np.random.default_rng(seed)
    noise = np.zeros(len(days))
    for i in range(len(days)):
        noise[i] = (rho * noise[i - 1] if i else 0.0) + rng.normal(0, sd * math.sqrt(1 - rho**2))
    hdd = hdd_costic(tmin, tmax, BALANCE)
    return [DayRecord(d, max(0.0, A[types[d]] + SLOPE * h + n), float(lo), float(hi), types[d])
            for d, h, n, lo, hi in zip(days, hdd, noise, tmin, tmax, strict=True)]


def school_calendar(day: date) -> str:
    if day.weekday() >= 5:
        return "closed"
    return "holiday" if day.month in (7, 8) or (day.month == 12 and day.day > 20) else "school"


def with_saving(days: Sequence[DayRecord], fraction: float) -> list[DayRecord]:
    return [replace(d, kwh=d.kwh * (1 - fraction)) for d in days]


def test_a_planted_saving_is_recovered_within_its_stated_uncertainty() -> None:
    within, fractions = 0, []
    seeds = range(20)
    for seed in seeds:
        year = synthetic_year(seed, date(2024, 1, 1), date(2025, 12, 31))
        base = [d for d in year if d.day.year == 2024]
        counterfactual = [d for d in year if d.day.year == 2025]
        model = fit_baseline(base)
        result = savings(model, with_saving(counterfactual, 0.15))
        truth = 0.15 * sum(d.kwh for d in counterfactual)
        error = abs(result.avoided_kwh - truth)
        within += error <= result.uncertainty_kwh
        assert error <= 2 * result.uncertainty_kwh, seed
        assert result.significant
        fractions.append(result.fraction)
        assert accepted(criteria(model, result))  # FSU at 68 % under half the saving
        assert model.slope_p_value is not None and model.slope_p_value < 1e-6
        assert 14.0 <= (model.balance_c or 0) <= 18.0
    # A 90 % interval: about 18 seeds of 20; fewer than 16 would mean it is too narrow.
    assert within >= 16
    assert float(np.mean(fractions)) == pytest.approx(0.15, abs=0.01)


def test_the_uncertainty_is_caltracks_fractional_savings_uncertainty() -> None:
    year = synthetic_year(7, date(2024, 1, 1), date(2025, 12, 31), rho=0.6)
    model = fit_baseline([d for d in year if d.day.year == 2024])
    reporting = with_saving([d for d in year if d.day.year == 2025], 0.1)
    result = savings(model, reporting, confidence=0.9)
    q, m = 365, 365 / (365.25 / 12)
    t = stats.t.ppf(0.95, model.n - model.p)
    rho = model.autocorrelation
    n_eff = model.n * (1 - rho) / (1 + rho)
    assert rho > 0.3  # the residuals carry the planted autocorrelation
    fsu = (t * (-0.00024 * m**2 + 0.03535 * m + 1.00286) * model.cv_rmse
           * math.sqrt(model.n / n_eff * (1 + 2 / n_eff) / q) / result.fraction)
    assert result.fsu == pytest.approx(fsu)
    assert result.uncertainty_kwh == pytest.approx(fsu * result.avoided_kwh)
    assert savings(model, reporting, confidence=0.95).uncertainty_kwh > result.uncertainty_kwh


def test_monthly_figures_add_up_and_are_valued_at_the_rate() -> None:
    year = synthetic_year(2, date(2024, 1, 1), date(2025, 12, 31))
    model = fit_baseline([d for d in year if d.day.year == 2024])
    rate = DEFAULT_TARIFFS.rate("heating")
    result = savings(model, with_saving([d for d in year if d.day.year == 2025], 0.2),
                     rate=rate)
    assert [m.month for m in result.months] == [date(2025, k, 1) for k in range(1, 13)]
    assert sum(m.avoided_kwh for m in result.months) == pytest.approx(result.avoided_kwh)
    assert sum(m.days for m in result.months) == 365
    january = result.months[0]
    assert january.avoided_kwh == pytest.approx(january.baseline_kwh - january.actual_kwh)
    assert january.avoided_eur == pytest.approx(january.avoided_kwh * rate.eur_per_kwh)
    assert january.avoided_co2_kg == pytest.approx(january.avoided_kwh * rate.kg_co2e_per_kwh)
    assert result.months[6].hdd < january.hdd
    assert json.loads(json.dumps(result.as_dict()))["months"][0]["month"] == "2025-01-01"


# --- losses of efficiency ----------------------------------------------------------------


def test_a_planted_fault_is_found_and_normal_weeks_raise_nothing() -> None:
    for seed in range(8):
        year = synthetic_year(100 + seed, date(2024, 1, 1), date(2025, 12, 31))
        model = fit_baseline([d for d in year if d.day.year == 2024])
        normal = [d for d in year if d.day.year == 2025]
        assert efficiency_losses(model, normal) == [], seed  # 52 weeks without a fault
        fault = (date(2025, 1, 13), date(2025, 1, 19))
        faulty = [replace(d, kwh=d.kwh * 1.4) if fault[0] <= d.day <= fault[1] else d
                  for d in normal]
        found = efficiency_losses(model, faulty, building="ecole", meter="ecole.chauffage",
                                  label="« Compteur chauffage » (École)")
        assert len(found) == 1, seed
        loss = found[0]
        assert loss.start <= date(2025, 1, 15) <= loss.end
        # The fault's days, give or take one: the noise is correlated from day to day, and
        # a loss runs from the day its CUSUM left 0 to the day it peaked.
        assert fault[0] - timedelta(days=1) <= loss.start
        assert loss.end <= fault[1] + timedelta(days=1)
        assert (loss.building, loss.meter) == ("ecole", "ecole.chauffage")
        assert 0.25 < loss.excess_fraction < 0.55
    assert loss.explanation_fr.startswith(f"Du {loss.start:%d/%m/%Y} au {loss.end:%d/%m/%Y}")
    assert "« Compteur chauffage » (École) a consommé" in loss.explanation_fr
    assert "vanne" in loss.explanation_fr and "porte" in loss.explanation_fr
    assert "stuck valve" in loss.explanation_en


def test_a_loss_lasts_several_days_and_ends_when_back_within() -> None:
    year = synthetic_year(11, date(2024, 1, 1), date(2025, 3, 31))
    model = fit_baseline([d for d in year if d.day.year == 2024])
    recent = [d for d in year if d.day.year == 2025]
    assert efficiency_losses(model, recent) == []

    def tripled(days: int) -> list[DayRecord]:
        first = date(2025, 2, 3)
        return [replace(d, kwh=d.kwh * 3) if first <= d.day < first + timedelta(days=days)
                else d for d in recent]

    assert efficiency_losses(model, tripled(2)) == []  # two extreme days are not a loss
    [loss] = efficiency_losses(model, tripled(3))
    assert (loss.start, loss.end, loss.ongoing) == (date(2025, 2, 3), date(2025, 2, 5), False)
    # Cut on the third day, the loss is under way; two days back within end it.
    [under_way] = efficiency_losses(model, [d for d in tripled(3) if d.day <= date(2025, 2, 5)])
    assert under_way.ongoing and under_way.end == date(2025, 2, 5)
    assert not back_within(model, [d for d in tripled(3) if d.day <= date(2025, 2, 6)])
    assert back_within(model, [d for d in tripled(3) if d.day <= date(2025, 2, 7)])


# --- sums, rounding and the décret tertiaire's path -----------------------------------------


def meter_savings(avoided: float, uncertainty: float, rate: Rate) -> Savings:
    """A meter's savings with only what the sums read: 1 000 kWh expected."""
    return Savings(date(2025, 1, 1), date(2025, 12, 31), 365, 1000.0 - avoided, 1000.0,
                   avoided, avoided / 1000.0, uncertainty / avoided, uncertainty, 0.9,
                   avoided * rate.eur_per_kwh, avoided * rate.kg_co2e_per_kwh, 2500.0, ())


def test_meters_add_their_uncertainties_and_heating_and_lighting_combine_independently(
) -> None:
    assert in_quadrature([300.0, 400.0]) == pytest.approx(500.0)
    assert bound([300.0, 400.0]) == pytest.approx(700.0)
    assert in_quadrature([]) == bound([]) == 0.0
    gas, heat_pump = Rate(0.12, 0.24), Rate(0.08, 0.02)
    cabinet = CabinetSavings("ep-centre", former_kwh=500.0, metered_kwh=300.0,
                             avoided_kwh=200.0, avoided_eur=48.0, avoided_co2_kg=11.0,
                             uncertainty_kwh=60.0, uncertainty_eur=14.4,
                             uncertainty_co2_kg=3.3)
    heating = Figure.total([Figure.of_meter(meter_savings(100.0, 30.0, gas), gas),
                            Figure.of_meter(meter_savings(200.0, 40.0, heat_pump), heat_pump)])
    # Heating meters share the weather: their uncertainties add up, a bound whatever their
    # correlation; each is valued at its own rate before.
    assert heating.kwh == pytest.approx(300.0) and heating.kwh_u == pytest.approx(70.0)
    assert heating.eur_u == pytest.approx(30 * 0.12 + 40 * 0.08)
    assert heating.co2_u == pytest.approx(30 * 0.24 + 40 * 0.02)
    # Heating (a weather model) and lighting (an estimate of hours and power): independent.
    total = Figure.independent([heating, Figure.of_cabinet(cabinet)])
    assert (total.actual_kwh, total.baseline_kwh) == pytest.approx((2000.0, 2500.0))
    assert total.kwh == pytest.approx(500.0)
    assert total.kwh_u == pytest.approx(math.hypot(70.0, 60.0))
    assert total.eur == pytest.approx(100 * 0.12 + 200 * 0.08 + 48.0)
    assert total.eur_u == pytest.approx(math.hypot(30 * 0.12 + 40 * 0.08, 14.4))
    assert total.fraction == pytest.approx(0.2) and total.significant
    assert Figure.total([]) == Figure(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize(("value", "uncertainty", "shown"), [
    (12437, 1873, (12400, 1900, 0)),
    (10497, 213, (10500, 200, 0)),
    (2.532, 0.051, (2.53, 0.05, 2)),
    (408.3, 9.8, (408, 10, 0)),
    (1234.4, 0.0, (1234, 0, 0)),
])
def test_figures_are_rounded_to_what_their_uncertainty_allows(
    value: float, uncertainty: float, shown: tuple[float, float, int]
) -> None:
    found = rounded(value, uncertainty)
    assert found[2] == shown[2]
    assert found[0] == pytest.approx(shown[0]) and found[1] == pytest.approx(shown[1])


def months(first: date, kwh: Sequence[tuple[float, float]]) -> list[MonthTotal]:
    """Consecutive months from ``first``: (metered, expected) kWh each."""
    found = []
    for actual, baseline in kwh:
        found.append(MonthTotal(first, actual, baseline))
        first = month_end(first) + timedelta(days=1)
    return found


def test_the_path_of_the_decret_tertiaire_on_a_case_worked_by_hand() -> None:
    # The reference year's middle, 2 July 2024, the 183rd day after 1 January of a leap
    # year: 2024.5 exactly; the 2030 target stands at 2030.5, six years later.
    reference = (date(2024, 1, 2), date(2025, 1, 1))
    # 2025 (from the 15th of January): 90 % of what the baseline expects; 2026: 3 winter
    # months of 1 500 kWh for 2 000 expected, 9 others of 400 for 500.
    kwh = [(900.0, 1000.0)] * 12 + [(1500.0, 2000.0)] * 3 + [(400.0, 500.0)] * 9
    path = trajectory(reference, months(date(2025, 1, 1), kwh), date(2025, 1, 15),
                      date(2026, 12, 31))
    assert path is not None
    first, latest = path.points
    assert (first.start, first.end) == (date(2025, 1, 15), date(2025, 12, 31))
    assert first.index == pytest.approx(90.0)
    assert first.year == pytest.approx(2025 + 189 / 365)  # 9 July 2025
    assert (latest.start, latest.end) == (date(2026, 1, 1), date(2026, 12, 31))
    assert path.window == (date(2026, 1, 1), date(2026, 12, 31))
    assert path.index == pytest.approx(100 * 8100 / 10500)  # 77.14 %: 22.86 % saved
    assert path.reduction == pytest.approx(100 - 100 * 8100 / 10500)
    # The middle of 2026, 2 July: 2026 + 182/365; the steady path from 100 % at 2024.5 to
    # 60 % at 2030.5 is there at 100 − 40 × 1.9986 / 6 = 86.68 %.
    year = 2026 + 182 / 365
    assert latest.year == pytest.approx(year)
    assert path.path == pytest.approx(100 - 40 * (year - 2024.5) / 6)
    assert path.needed == pytest.approx(40 * (year - 2024.5) / 6)
    assert path.ahead and not path.reached
    assert path.remaining == pytest.approx(100 * 8100 / 10500 - 60)  # 17.14 points to 2030
    assert path.target_line == [(2024.5, 100.0), (2030.5, 60.0)]
    assert [v for point in path.actual_line for v in point] == pytest.approx(
        [2024.5, 100.0, 2025 + 189 / 365, 90.0, year, 100 * 8100 / 10500])
    # Before the reference year's middle the path is flat, after 2030 it stays at 60 %.
    assert path.path_at(2024.0) == 100.0 and path.path_at(2035.0) == 60.0
    data = json.loads(json.dumps(path.as_dict()))
    assert data["index"] == pytest.approx(0.7714) and data["ahead"] is True
    assert data["points"][0] == {"start": "2025-01-15", "end": "2025-12-31", "index": 0.9}


def test_the_path_counts_years_back_from_the_latest_month() -> None:
    reference = (date(2024, 1, 2), date(2025, 1, 1))
    # Seventeen months: the latest twelve make a point; the five before, a season, do not.
    path = trajectory(reference, months(date(2025, 8, 1), [(800.0, 1000.0)] * 17),
                      date(2025, 8, 1), date(2026, 12, 31))
    assert path is not None
    assert [(p.start, p.end) for p in path.points] == [(date(2026, 1, 1), date(2026, 12, 31))]
    # Three months in all are all there is: they make the point.
    short = trajectory(reference, months(date(2026, 1, 1), [(500.0, 1000.0)] * 3),
                       date(2026, 1, 1), date(2026, 3, 20))
    assert short is not None and short.window == (date(2026, 1, 1), date(2026, 3, 20))
    assert short.index == 50.0 and short.reached and short.remaining == -10.0
    assert trajectory(reference, [], date(2026, 1, 1), date(2026, 3, 20)) is None


# --- day types -----------------------------------------------------------------------------

SITE_YAML = """
id: essai
name: Commune d'essai
timezone: Europe/Paris
latitude: 50.40
longitude: 3.28
school_zone: B
buildings:
  - id: ecole
    name: École
    use: ecole
    floor_area_m2: 800
    programme:
      mon: ["08:30-16:30"]
      tue: ["08:30-16:30"]
      wed: ["08:30-12:00"]
      thu: ["08:30-16:30"]
      fri: ["08:30-16:30"]
    points:
      - {id: temp-ext, role: outdoor_temperature, binding: {protocol: modbus, host: 127.0.0.1,
         port: 15021, unit: 1, table: input_register, address: 30, data_type: int16}}
      - {id: compteur-chauffage, role: energy_meter, meter: heating, name: Compteur chauffage,
         binding: {protocol: modbus, host: 127.0.0.1, port: 15021, unit: 1,
                   table: input_register, address: 40, data_type: uint32}}
    zones:
      - id: classe
        name: Classe
        area_m2: 60
        points:
          - {id: temperature, role: zone_temperature, binding: {protocol: modbus,
             host: 127.0.0.1, port: 15021, unit: 1, table: input_register, address: 0,
             data_type: int16}}
  - id: mairie
    name: Mairie
    use: mairie
    floor_area_m2: 300
    programme:
      mon: ["08:30-17:00"]
      sat: ["09:00-12:00"]
    zones:
      - id: accueil
        name: Accueil
        area_m2: 50
        points:
          - {id: temperature, role: zone_temperature, binding: {protocol: modbus,
             host: 127.0.0.1, port: 15020, unit: 1, table: input_register, address: 0,
             data_type: int16}}
cabinets:
  - id: ep-centre
    name: Éclairage du centre
    category: road
    power_kw: 4.0
    points:
      - {id: relais, role: cabinet_relay, binding: {protocol: bacnet,
         address: "127.0.0.1:47811", device_instance: 2001, object_type: binaryOutput,
         object_instance: 1}}
      - {id: compteur, role: energy_meter, meter: lighting, binding: {protocol: bacnet,
         address: "127.0.0.1:47811", device_instance: 2001, object_type: analogInput,
         object_instance: 1}}
  - id: ep-stade
    name: Parking du stade
    category: road
    power_kw: 2.0
    points:
      - {id: relais, role: cabinet_relay, binding: {protocol: bacnet,
         address: "127.0.0.1:47812", device_instance: 2002, object_type: binaryOutput,
         object_instance: 1}}
"""

SCHOOL_METER = "ecole.compteur-chauffage"
OUTDOOR = "ecole.temp-ext"
CABINET_METER = "ep-centre.compteur"
CABINET_RELAY = "ep-stade.relais"


@pytest.fixture(scope="module")
def site() -> Site:
    return parse_site(SITE_YAML, "essai.yaml")


def test_day_types_follow_the_programme_the_calendar_and_the_agenda(site: Site) -> None:
    agenda = (
        AgendaEntry(kind="event", label="Kermesse", scope=("ecole",),
                    start=datetime(2025, 6, 14, 10, 0), end=datetime(2025, 6, 14, 18, 0)),
        AgendaEntry(kind="closure", label="Travaux", scope=("ecole",),
                    start=datetime(2025, 3, 11, 0, 0), end=datetime(2025, 3, 12, 0, 0)),
        AgendaEntry(kind="day", label="Centre de loisirs", scope=("ecole.classe",),
                    first=date(2025, 2, 17), last=date(2025, 2, 21), periods=("09:00-17:00",)),
        AgendaEntry(kind="event", label="Conseil", scope=("mairie",),
                    start=datetime(2025, 3, 13, 18, 0), end=datetime(2025, 3, 13, 21, 0)),
    )
    days = [date(2025, 3, 10), date(2025, 3, 12), date(2025, 3, 15), date(2025, 12, 24),
            date(2025, 7, 14), date(2025, 6, 14), date(2025, 3, 11), date(2025, 2, 18),
            date(2025, 3, 13)]
    school = day_types(site, "ecole", days, agenda=agenda)
    assert school == {
        date(2025, 3, 10): "school",    # a Monday
        date(2025, 3, 12): "school",    # Wednesday morning
        date(2025, 3, 15): "closed",    # a Saturday
        date(2025, 12, 24): "holiday",  # Christmas holidays, zone B
        date(2025, 7, 14): "holiday",   # a public holiday in the summer holidays
        date(2025, 6, 14): "event",     # the fair, on a Saturday
        date(2025, 3, 11): "closed",    # closed all day for works
        date(2025, 2, 18): "school",    # winter holidays, opened for the day-care centre
        date(2025, 3, 13): "school",    # the council meets at the town hall, not here
    }
    town_hall = day_types(site, "mairie", days, agenda=agenda)
    assert town_hall[date(2025, 12, 24)] == "closed"  # a Wednesday: the programme says so
    assert town_hall[date(2025, 7, 14)] == "holiday"  # a Monday, public holiday
    assert town_hall[date(2025, 3, 15)] == "school"   # Saturday morning opening
    assert town_hall[date(2025, 3, 13)] == "event"
    assert day_types(site, "mairie", [date(2025, 2, 17)])[date(2025, 2, 17)] == "school"


# --- a real store ------------------------------------------------------------------------

ENGINE_START = datetime(2025, 1, 1, 8, 0, tzinfo=PARIS)
REPORT = (date(2025, 1, 1), date(2025, 12, 31))
SAVED = 0.15
GAP = date(2024, 5, 7)  # no sample that day: the store must say so
CABINET_DAILY_KWH = 21.0
RELAY_HOURS = (18, 19, 20, 21, 22, 5, 6)


@dataclass
class History:
    db: Path
    site_file: Path
    truth: dict[date, DayRecord]  # the meter's days as generated, before the saving

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["savings", str(self.site_file), "--db", str(self.db),
                                         *args])


def hours(first: date, last: date) -> Iterator[datetime]:
    t = datetime.combine(first, time(), PARIS).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), PARIS).astimezone(UTC)
    while t < end:
        yield t
        t += timedelta(hours=1)


def shape(hour: int) -> float:
    """0 at 05:00, 1 at 15:00, between 0 and 1 otherwise: the day's extremes are sampled."""
    return 0.5 - 0.5 * math.cos(math.pi * ((hour - 5) % 24) / 10) if (hour - 5) % 24 <= 10 \
        else 0.5 + 0.5 * math.cos(math.pi * ((hour - 15) % 24) / 14)


@pytest.fixture(scope="module")
def history(site: Site, tmp_path_factory: pytest.TempPathFactory) -> History:
    """Two years of hourly samples of the school's outdoor sensor and heating meter (15 %
    saved in the second) and of the cabinets (a meter; a relay only), rolled up, with the
    engine's first start on 1 January 2025."""
    tmp = tmp_path_factory.mktemp("savings")
    first, last = date(2024, 1, 1), REPORT[1]
    # One weather and noise draw; the 90 % coverage over many draws is tested above (this
    # calendar: 38 of 40 seeds within, seed 4 among the two outside).
    generated = synthetic_year(0, first, last, kinds=lambda days: day_types(site, "ecole", days))
    truth = {d.day: d for d in generated}
    samples: list[Sample] = []
    index, cabinet_index, done = 1000.0, 50.0, {}
    for t in hours(first, last):
        local = t.astimezone(PARIS)
        day = local.date()
        record = truth[day]
        kwh = record.kwh * (1 - SAVED if day >= REPORT[0] else 1.0)
        if day not in done:
            done[day] = (index, cabinet_index)
        start_index, start_cabinet = done[day]
        fraction = (local.hour + 1) / 24
        samples.append(Sample(OUTDOOR, t, record.tmin + (record.tmax - record.tmin)
                              * shape(local.hour)))
        if day != GAP:
            samples.append(Sample(SCHOOL_METER, t, start_index + kwh * fraction))
        samples.append(Sample(CABINET_METER, t, start_cabinet + CABINET_DAILY_KWH * fraction))
        if day >= date(2025, 11, 1):
            samples.append(Sample(CABINET_RELAY, t, 1.0 if local.hour in RELAY_HOURS else 0.0))
        if local.hour == 23:
            index, cabinet_index = start_index + kwh, start_cabinet + CABINET_DAILY_KWH
    db = tmp / "gtb.sqlite"
    with Store(db) as store:
        store.samples.write(samples)
        store.rollups.compute(datetime.combine(first, time(), PARIS), datetime.combine(
            last + timedelta(days=1), time(), PARIS))
        store.audit.record(ENGINE_START, "engine", "engine", "Moteur démarré",
                           reason="3 points, site essai", site="essai")
        store.audit.record(ENGINE_START + timedelta(days=3), "engine", "engine",
                           "Moteur démarré", reason="redémarrage", site="essai")
    site_file = tmp / "essai.yaml"
    site_file.write_text(SITE_YAML, encoding="utf-8")
    return History(db, site_file, truth)


def test_building_days_come_from_end_of_day_indexes_and_say_what_is_missing(
    site: Site, history: History
) -> None:
    with Store(history.db) as store:
        days = building_days(store, site, "ecole", date(2024, 3, 29), date(2024, 5, 10))
        autumn = building_days(store, site, "ecole", date(2024, 10, 26), date(2024, 10, 28))
    by_day = {d.day: d for d in days}
    # The day without samples, and the day after it (no index the evening before).
    assert days.missing == (GAP, GAP + timedelta(days=1))
    assert len(days) == 43 - 2
    for day in (date(2024, 3, 31), date(2024, 4, 15)):  # 23-hour day, ordinary day
        assert by_day[day].kwh == pytest.approx(history.truth[day].kwh)
        assert by_day[day].tmin == pytest.approx(history.truth[day].tmin)
        assert by_day[day].tmax == pytest.approx(history.truth[day].tmax)
        assert by_day[day].day_type == history.truth[day].day_type
    assert autumn[1].day == date(2024, 10, 27)  # 25 hours
    assert autumn[1].kwh == pytest.approx(history.truth[date(2024, 10, 27)].kwh)


def test_site_savings_recover_the_saving_and_compare_cabinets_with_dusk_to_dawn(
    site: Site, history: History
) -> None:
    with Store(history.db) as store:
        result = site_savings(store, site, *REPORT)
    # The baseline defaults to the 365 days before the engine's first start.
    assert result.baseline_period == (date(2024, 1, 2), date(2024, 12, 31))
    (school,) = result.buildings
    assert (school.building, school.name, school.meter, school.kind) == (
        "ecole", "École", SCHOOL_METER, "heating")
    truth = SAVED * sum(d.kwh for d in history.truth.values() if d.day.year == 2025)
    assert abs(school.savings.avoided_kwh - truth) <= school.savings.uncertainty_kwh
    assert school.baseline.n == 365 - 2  # the day without samples, and the day after it
    assert school.accepted
    assert school.losses == ()
    assert school.explanation_fr.startswith("« Compteur chauffage » (École) : ")
    assert "kWh évités" in school.explanation_fr and "DJU" in school.explanation_fr
    rate = DEFAULT_TARIFFS.rate("heating", "ecole")
    assert school.savings.avoided_eur == pytest.approx(school.savings.avoided_kwh
                                                       * rate.eur_per_kwh)
    centre, stade = result.cabinets
    assert (centre.cabinet, centre.source, centre.days) == ("ep-centre", "meter", 365)
    assert centre.metered_kwh == pytest.approx(365 * CABINET_DAILY_KWH)
    dark = sum(dark_hours(site.latitude, site.longitude, site.tz, REPORT[0] + timedelta(days=i))
               for i in range(365))
    # Sunset to sunrise at 50.4° N: 4,287 h (DOMAIN.md's "about 4,100 h" is a round figure
    # for photocells that switch a little after sunset and before sunrise).
    assert 4250 < dark < 4320
    assert centre.former_kwh == pytest.approx(dark * 4.0)
    assert centre.avoided_kwh == pytest.approx(centre.former_kwh - centre.metered_kwh)
    assert (stade.cabinet, stade.source, stade.days) == ("ep-stade", "relay", 61)
    assert stade.metered_kwh == pytest.approx(61 * len(RELAY_HOURS) * 2.0)
    assert result.avoided_kwh == pytest.approx(school.savings.avoided_kwh
                                               + centre.avoided_kwh + stade.avoided_kwh)
    # The lighting against its former operation: the estimate of the former hours and of
    # the power, the meter's own error; from the relay, lit hours x the same power.
    assert centre.uncertainty_kwh == pytest.approx(math.hypot(
        centre.former_kwh * math.hypot(0.05, 0.05), centre.metered_kwh * 0.02))
    assert stade.uncertainty_kwh == pytest.approx(math.hypot(
        stade.former_kwh * 0.05, stade.avoided_kwh * 0.05))
    # The cabinets' uncertainties add up, and combine with the heating's as independent.
    assert result.uncertainty_kwh == pytest.approx(math.hypot(
        school.savings.uncertainty_kwh, centre.uncertainty_kwh + stade.uncertainty_kwh))
    data = json.loads(json.dumps(result.as_dict()))
    assert data["baseline_period"] == ["2024-01-02", "2024-12-31"]


def test_a_fault_in_the_store_is_reported_with_the_savings(site: Site, history: History,
                                                           tmp_path: Path) -> None:
    db = tmp_path / "fault.sqlite"
    db.write_bytes(history.db.read_bytes())
    with Store(db) as store:
        first, last = datetime(2025, 1, 20, tzinfo=PARIS), datetime(2026, 1, 1, tzinfo=PARIS)
        stored = {s.ts: s.value for s in store.samples.read(SCHOOL_METER, first, last)}
        extra, rows = 0.0, []
        for t, value in sorted(stored.items()):
            local = t.astimezone(PARIS)
            if local.hour == 0 and date(2025, 1, 21) <= local.date() <= date(2025, 1, 27):
                extra += 0.6 * history.truth[local.date()].kwh  # +70 % of what was used
            if extra and value is not None:
                rows.append(Sample(SCHOOL_METER, t, value + extra))
        store.samples.write(rows)
        store.rollups.compute(first, last)
        result = site_savings(store, site, *REPORT)
    school = result.buildings[0]
    (loss,) = school.losses
    assert loss.start <= date(2025, 1, 24) <= loss.end
    assert "« Compteur chauffage » (École)" in loss.explanation_fr
    # The official reads what the loss cost and what the figure would have been without it.
    without = school.savings.avoided_kwh + loss.excess_kwh
    assert (f"Les dérives de consommation signalées (du {loss.start:%d/%m/%Y} au "
            f"{loss.end:%d/%m/%Y}) comptent pour {number_fr(loss.excess_kwh, 0)} kWh : sans "
            f"elles, {number_fr(without, 0)} kWh auraient été évités.") in school.explanation_fr


def test_cli_prints_the_figures_and_their_json(history: History) -> None:
    shown = history.run("--from", "2025-01-01", "--to", "2025-12-31")
    assert shown.exit_code == 0, shown.output
    for text in ("École — ecole.compteur-chauffage",
                 "Guideline 14, bâtiment entier (option C) : incertitude à 68 % sous 50 %",
                 "Guideline 14, calage d'une simulation (pour information) : CV(RMSE) mensuel",
                 "La commune a économisé", "Le bâtiment « École » a économisé",
                 "Sommes : les incertitudes des compteurs de chauffage s'additionnent",
                 "incertitude à 90 %", "kWh évités", "ep-centre", "compteur", "ep-stade",
                 "relais", "Total :", "référence du 02/01/2024 au 31/12/2024"):
        assert text in shown.output
    result = history.run("--from", "2025-01-01", "--to", "2025-12-31", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"start", "end", "baseline_period", "buildings", "cabinets",
                         "avoided_kwh", "avoided_eur", "avoided_co2_kg", "uncertainty_kwh",
                         "excluded", "tariffs", "trajectory"}
    building = data["buildings"][0]
    assert set(building) >= {"building", "name", "meter", "kind", "baseline", "savings",
                             "explanation_fr", "losses"}
    assert set(building["baseline"]) >= {"balance_c", "coefficients", "n", "p", "cv_rmse",
                                         "nmbe", "r2", "slope_p_value"}
    assert [c["code"] for c in building["guideline14"]["criteria"]] == [
        "fsu", "cv_rmse", "calibration_cv_rmse", "calibration_nmbe"]
    assert set(building["savings"]) >= {"avoided_kwh", "fraction", "fsu", "uncertainty_kwh",
                                        "months"}
    assert set(building["savings"]["months"][0]) == {
        "month", "actual_kwh", "baseline_kwh", "avoided_kwh", "avoided_eur", "avoided_co2_kg",
        "days", "hdd"}
    assert set(data["cabinets"][0]) >= {"cabinet", "former_kwh", "metered_kwh", "avoided_kwh",
                                        "avoided_eur", "avoided_co2_kg", "uncertainty_kwh"}
    # The headline, with the causes read from the store, in both languages.
    assert data["headline"]["fr"].startswith("La commune a économisé ")
    assert data["headline"]["en"].startswith("The commune saved ")
    assert data["headline"]["buildings"]["ecole"]["fr"].startswith(
        "Le bâtiment « École » a économisé ")


def test_the_month_of_a_result_has_the_figures_of_its_month(site: Site,
                                                              history: History) -> None:
    with Store(history.db) as store:
        result = site_savings(store, site, *REPORT)
        december = month_savings(store, site, result, date(2025, 12, 1), date(2025, 12, 31))
    (school,) = result.buildings
    month = school.savings.months[-1]
    figure = december.building("ecole")
    assert figure is not None and december.building("mairie") is None  # no heating meter
    assert (figure.actual_kwh, figure.baseline_kwh, figure.kwh) == pytest.approx(
        (month.actual_kwh, month.baseline_kwh, month.avoided_kwh))
    (bar,) = december.months()
    assert bar.month == date(2025, 12, 1)
    assert (bar.actual_kwh, bar.baseline_kwh) == pytest.approx((month.actual_kwh,
                                                                 month.baseline_kwh))
    centre = december.cabinets[0]
    assert (centre.cabinet, centre.days) == ("ep-centre", 31)
    assert december.total.kwh == pytest.approx(
        figure.kwh + sum(c.avoided_kwh for c in december.cabinets))
    assert december.total.kwh_u == pytest.approx(math.hypot(
        figure.kwh_u, sum(c.uncertainty_kwh for c in december.cabinets)))
    # The whole period sums the same way, and the result's total is that sum.
    whole = result.span
    assert result.avoided_kwh == whole.total.kwh
    assert result.uncertainty_kwh == whole.total.kwh_u
    assert whole.months("ecole") == whole.months()


def test_the_path_of_the_decret_tertiaire_in_the_results_and_the_command(
    site: Site, history: History, tmp_path: Path
) -> None:
    with Store(history.db) as store:
        result = site_savings(store, site, *REPORT)
    (school,) = result.buildings
    assert result.trajectory is not None
    commune = result.trajectory.commune
    assert commune.reference == result.baseline_period
    assert commune.window == REPORT
    # A year of figures, at equal weather: metered / expected, 1 − the fraction saved.
    assert commune.index == pytest.approx(100 * (1 - school.savings.fraction))
    assert result.trajectory.buildings == ()  # the school has 800 m², the town hall 300
    shown = history.run("--from", "2025-01-01", "--to", "2025-12-31")
    assert "Trajectoire du décret tertiaire" in shown.output
    assert f"s'impose aux bâtiments de {number_fr(1000, 0)} m² et plus (aucun ici)" in shown.output
    # Of 1,200 m², the school is bound by the décret: the command says where it stands.
    bound = tmp_path / "essai.yaml"
    bound.write_text(history.site_file.read_text(encoding="utf-8").replace(
        "floor_area_m2: 800", "floor_area_m2: 1200"), encoding="utf-8")
    args = ["savings", str(bound), "--db", str(history.db), "--from", "2025-01-01",
            "--to", "2025-12-31"]
    data = json.loads(CliRunner().invoke(main, [*args, "--json"]).output)["trajectory"]
    saved = round(100 * school.savings.fraction)
    assert data["targets"] == [{"year": 2030, "reduction": 0.4},
                               {"year": 2040, "reduction": 0.5},
                               {"year": 2050, "reduction": 0.6}]
    assert data["decree_area_m2"] == 1000
    assert data["commune"]["reference"] == ["2024-01-02", "2024-12-31"]
    assert data["commune"]["window"] == ["2025-01-01", "2025-12-31"]
    assert data["commune"]["index"] == pytest.approx(1 - school.savings.fraction, abs=1e-4)
    assert data["commune"]["path"] == pytest.approx(commune.path / 100, abs=1e-4)
    assert data["commune"]["ahead"] is True and data["commune"]["reached"] is False
    (ecole,) = data["buildings"]
    assert (ecole["building"], ecole["name"], ecole["floor_area_m2"]) == ("ecole", "École", 1200)
    assert ecole["index"] == data["commune"]["index"]  # its one meter is the commune's
    table = CliRunner().invoke(main, args).output
    area = number_fr(1200, 0)
    assert re.search(rf"┃ +┃ +┃ École +┃\n┃ +┃ La commune +┃ {area} m² +┃", table)
    assert re.search(rf"│ consommation +│ {saved} % de moins +│ {saved} % de moins +│", table)
    needed = round(commune.needed)
    assert re.search(rf"│ il faudrait en être à │ −{needed} % +│ −{needed} % +│", table)
    assert re.search(r"│ situation +│ en avance sur ce chemin +│ en avance sur ce chemin +│",
                     table)
    remaining = round(commune.remaining)
    assert re.search(rf"│ d'ici 2030 +│ {remaining} points à gagner +│ {remaining} points à "
                     r"gagner +│", table)
    assert f"s'impose aux bâtiments de {number_fr(1000, 0)} m² et plus (École)" in table


def test_cli_uses_a_tariffs_file(history: History) -> None:
    plain = json.loads(history.run("--from", "2025-01-01", "--to", "2025-03-31",
                                   "--json").output)
    priced = json.loads(history.run("--from", "2025-01-01", "--to", "2025-03-31", "--json",
                                    "--tariffs", str(ROOT / "docs/examples/tariffs.yaml"))
                        .output)
    assert priced["buildings"][0]["savings"]["avoided_kwh"] == \
        plain["buildings"][0]["savings"]["avoided_kwh"]
    assert priced["tariffs"]["buildings"]["mediatheque"]["efficiency"] == 3.0


@pytest.mark.parametrize(("args", "message"), [
    (("--db", "/nonexistent/gtb.sqlite"), "no store at"),
    (("--from", "2027-01-01", "--to", "2027-02-01"), "no day with data"),
    (("--baseline-from", "2024-06-01", "--baseline-to", "2024-09-01"), "is 93 days"),
    (("--baseline-from", "2024-01-02"), "both --baseline-from and --baseline-to"),
    (("--baseline-from", "2024-03-01", "--baseline-to", "2025-02-28"),
     "must end before the reporting period"),
])
def test_cli_errors_exit_2_and_say_why(history: History, args: tuple[str, ...],
                                       message: str) -> None:
    base = ["--from", "2025-01-01", "--to", "2025-12-31"]
    if "--from" in args:
        base = []
    result = CliRunner().invoke(main, ["savings", str(history.site_file), "--db",
                                       str(history.db), *base, *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_cli_refuses_a_store_without_the_engines_start(history: History,
                                                       tmp_path: Path) -> None:
    db = tmp_path / "empty.sqlite"
    Store(db).close()
    result = CliRunner().invoke(main, ["savings", str(history.site_file), "--db", str(db),
                                       "--from", "2025-01-01", "--to", "2025-12-31"])
    assert result.exit_code == 2
    assert "Moteur démarré" in result.output


def test_cli_refuses_a_bad_tariffs_file(history: History, tmp_path: Path) -> None:
    bad = tmp_path / "tariffs.yaml"
    bad.write_text("energies:\n  electricity: {eur_per_kwh: -1}\n  coal: {}\n", encoding="utf-8")
    result = history.run("--from", "2025-01-01", "--to", "2025-12-31", "--tariffs", str(bad))
    assert result.exit_code == 2
    with pytest.raises(TariffsError, match="eur_per_kwh"):
        load_tariffs(bad)


# --- imported readings and tariffs --------------------------------------------------------


def test_a_baseline_from_an_imported_csv(site: Site, history: History, tmp_path: Path) -> None:
    lines = ["# relevés du compteur de chaleur, export du gestionnaire",
             "meter;date;index_kwh;tmin;tmax"]
    total = 500.0
    for day in sorted(d for d in history.truth if d.year == 2024):
        record = history.truth[day]
        total += record.kwh
        numbers = f"{total:.3f};{record.tmin:.3f};{record.tmax:.3f}".replace(".", ",")
        lines.append(f"{SCHOOL_METER};{day};{numbers}")
    csv_file = tmp_path / "releves.csv"
    csv_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    readings, weather = load_baseline_csv(csv_file)
    assert readings[SCHOOL_METER][0] == (date(2024, 1, 2), pytest.approx(
        history.truth[date(2024, 1, 2)].kwh, abs=1e-3))
    assert weather[date(2024, 1, 1)][0] == pytest.approx(
        history.truth[date(2024, 1, 1)].tmin, abs=1e-3)
    result = history.run("--from", "2025-01-01", "--to", "2025-12-31", "--json",
                         "--baseline-csv", str(csv_file))
    assert result.exit_code == 0, result.output
    school = json.loads(result.output)["buildings"][0]
    assert school["baseline"]["n"] == 365  # the gap in the store is not in the file
    truth = SAVED * sum(d.kwh for d in history.truth.values() if d.day.year == 2025)
    assert abs(school["savings"]["avoided_kwh"] - truth) <= school["savings"]["uncertainty_kwh"]


def test_readings_csv_in_daily_kwh_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "kwh.csv"
    good.write_text("meter,date,kwh\nm.a,2024-01-01,12.5\nm.a,2024-01-02,13\nm.b,2024-01-01,4\n",
                    encoding="utf-8")
    readings, weather = load_baseline_csv(good)
    assert readings == {"m.a": [(date(2024, 1, 1), 12.5), (date(2024, 1, 2), 13.0)],
                        "m.b": [(date(2024, 1, 1), 4.0)]}
    assert weather == {}
    bad = tmp_path / "bad.csv"
    bad.write_text("meter,date,kwh\nm.a,2024-13-01,12.5\n", encoding="utf-8")
    with pytest.raises(SavingsError, match=r"bad.csv:2"):
        load_baseline_csv(bad)
    headless = tmp_path / "headless.csv"
    headless.write_text("compteur,jour,valeur\n", encoding="utf-8")
    with pytest.raises(SavingsError, match="header needs meter, date and kwh"):
        load_baseline_csv(headless)


def test_tariffs_turn_heat_into_energy_bought() -> None:
    tariffs = load_tariffs(ROOT / "docs/examples/tariffs.yaml")
    electricity = tariffs.energies["electricity"]
    assert tariffs.rate("heating", "mediatheque").eur_per_kwh == pytest.approx(
        electricity.eur_per_kwh / 3.0)
    assert tariffs.rate("heating", "mairie").kg_co2e_per_kwh == pytest.approx(0.205 / 0.85)
    assert tariffs.rate("lighting") == electricity
    assert tariffs.rate("water").eur_per_kwh == 0.0
    assert tariffs.energies["fuel_oil"] == DEFAULT_TARIFFS.energies["fuel_oil"]
    assert "février 2025" in tariffs.sources["electricity"]
