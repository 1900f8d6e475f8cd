"""Savings told as one story and by a sound method (docs/savings.md): a heating slope kept
only when significant, no negative fixed part, ASHRAE Guideline 14's acceptance and
calibration criteria kept apart, and the headline an elected official reads: not
demonstrated only when the interval contains zero, kWh, euros and CO2e that disagree
explained by energy carrier, and a building that used more told so, with the causes the
store holds (a real SQLite store)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from scipy import stats

from gtb.config import parse_site
from gtb.model import Site
from gtb.model.calendar import AgendaEntry
from gtb.model.points import Role
from gtb.savings.baseline import Baseline, DayRecord, fit_baseline
from gtb.savings.criteria import accepted, criteria, fsu_68
from gtb.savings.headline import Causes, headline, known_causes, span_headlines
from gtb.savings.lighting import CabinetSavings
from gtb.savings.reporting import EfficiencyLoss, Savings, relative_uncertainty, savings
from gtb.savings.site import BuildingSavings, SpanSavings
from gtb.savings.tariffs import DEFAULT_TARIFFS
from gtb.store import Store

from .conftest import DEMO_SITE

PARIS = ZoneInfo("Europe/Paris")
FIRST = date(2025, 1, 1)


def day(i: int, hdd: float, kwh: float) -> DayRecord:
    """Day ``i`` of 2025 whose météo degree-days at 18 °C are ``hdd``."""
    return DayRecord(FIRST + timedelta(days=i), kwh, 18.0 - hdd - 1.0, 18.0 - hdd + 1.0)


def ols(hdd: np.ndarray, kwh: np.ndarray) -> tuple[np.ndarray, float]:
    """Intercept and slope of kwh on hdd, and the slope's two-sided p-value."""
    x = np.column_stack([np.ones(len(hdd)), hdd])
    beta, *_ = np.linalg.lstsq(x, kwh, rcond=None)
    residuals = kwh - x @ beta
    dof = len(kwh) - 2
    se = math.sqrt(residuals @ residuals / dof * np.linalg.inv(x.T @ x)[1, 1])
    return beta, float(2 * stats.t.sf(abs(beta[1]) / se, dof))


# --- the baseline's method -------------------------------------------------------------------


def test_a_positive_slope_that_is_not_significant_is_not_kept() -> None:
    rng = np.random.default_rng(1)
    hdd = rng.uniform(0, 15, 365)
    kwh = 100 + 0.3 * hdd + rng.normal(0, 20, 365)
    beta, p_value = ols(hdd, kwh)
    # The slope is positive and improves the adjusted R² (|t| > 1), but p > 0.1.
    assert beta[1] > 0 and 0.1 < p_value < 0.5
    days = [day(i, h, k) for i, (h, k) in enumerate(zip(hdd, kwh, strict=True))]
    model = fit_baseline(days, method="meteo", balances=(18.0,))
    assert model.balance_c is None and model.slope_p_value is None
    assert model.coefficients["school"]["slope"] == 0.0
    assert model.coefficients["school"]["intercept"] == pytest.approx(kwh.mean())
    # The same days with a real heating load keep their slope, and say how significant.
    heated = [day(i, h, k + 8 * h) for i, (h, k) in enumerate(zip(hdd, kwh, strict=True))]
    model = fit_baseline(heated, method="meteo", balances=(18.0,))
    assert model.balance_c == 18.0
    assert model.slope_p_value == pytest.approx(ols(hdd, kwh + 8 * hdd)[1])
    assert model.slope_p_value < 1e-6


def test_a_fixed_part_is_never_negative() -> None:
    rng = np.random.default_rng(2)
    mean_temperature = rng.uniform(-2, 20, 365)
    # A building that heats below 13 °C only, and uses nothing else.
    kwh = np.maximum(0.0, 10 * (13 - mean_temperature)) + rng.normal(0, 2, 365)
    hdd18 = np.maximum(0.0, 18 - mean_temperature)
    beta, p_value = ols(hdd18, kwh)
    assert beta[0] < -20 and beta[1] > 0 and p_value < 1e-6  # a line at 18 °C goes below 0
    days = [day(i, h, k) for i, (h, k) in enumerate(zip(hdd18, kwh, strict=True))]
    # At 18 °C the fixed part is held at 0, the slope alone fitted: one parameter.
    at_18 = fit_baseline(days, method="meteo", balances=(18.0,))
    assert at_18.balance_c == 18.0 and at_18.p == 1
    assert at_18.coefficients["school"]["intercept"] == 0.0
    slope = float(hdd18 @ kwh / (hdd18 @ hdd18))  # least squares through the origin
    assert at_18.coefficients["school"]["slope"] == pytest.approx(slope)
    # The grid finds the building's own balance temperature, whose fixed part is >= 0.
    found = fit_baseline(days, method="meteo")
    assert found.balance_c is not None and 12.0 <= found.balance_c <= 14.0
    assert found.r2_adjusted > at_18.r2_adjusted
    assert all(c["intercept"] >= 0 for c in found.coefficients.values())


def test_guideline_14s_acceptance_and_calibration_criteria_are_apart() -> None:
    rng = np.random.default_rng(3)
    hdd = rng.uniform(0, 15, 730)
    kwh = 50 + 10 * hdd + rng.normal(0, 15, 730)
    days = [day(i, h, k) for i, (h, k) in enumerate(zip(hdd, kwh, strict=True))]
    model = fit_baseline(days[:365], method="meteo", balances=(18.0,))
    assert model.nmbe == pytest.approx(0.0, abs=1e-12)  # in sample, by construction
    saved = savings(model, [DayRecord(d.day, d.kwh * 0.8, d.tmin, d.tmax) for d in days[365:]])
    found = {c.code: c for c in criteria(model, saved)}
    assert [c.kind for c in found.values()] == ["acceptance", "acceptance",
                                                "calibration", "calibration"]
    # The savings' uncertainty at 68 %, as a fraction of them: CalTRACK's FSU at 68 %.
    expected = (relative_uncertainty(model, saved.days, 0.68) * saved.baseline_kwh
                / saved.avoided_kwh)
    assert found["fsu"].value == pytest.approx(expected) == fsu_68(model, saved)
    assert found["fsu"].value < saved.fsu  # 68 % is narrower than 90 %
    assert found["fsu"].met and accepted(tuple(found.values()))
    assert found["cv_rmse"].value == pytest.approx(model.cv_rmse)
    assert found["cv_rmse"].met == (model.cv_rmse < 0.2)
    # Nothing saved: Guideline 14 accepts no figure, whatever the calibration says.
    same = savings(model, days[365:])
    nothing = criteria(model, same)
    assert not accepted(nothing)
    assert [c.met for c in nothing if c.kind == "calibration"] == [
        c.met for c in found.values() if c.kind == "calibration"]


# --- the headline ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site() -> Site:
    return parse_site(DEMO_SITE.read_text(encoding="utf-8"), "demo-commune.yaml")


@pytest.fixture(scope="module")
def model() -> Baseline:
    rng = np.random.default_rng(4)
    hdd = rng.uniform(0, 15, 365)
    return fit_baseline([day(i, h, 50 + 10 * h + rng.normal(0, 15))
                         for i, h in enumerate(hdd)], method="meteo", balances=(18.0,))


def meter(model: Baseline, building: str, avoided: float, uncertainty: float,
          losses: tuple[EfficiencyLoss, ...] = ()) -> tuple[BuildingSavings, Savings]:
    """A heating meter of ``building`` (gas boiler, the default tariffs) over December."""
    rate = DEFAULT_TARIFFS.rate("heating", building)
    s = Savings(date(2025, 12, 1), date(2025, 12, 31), 31, 10000.0 - avoided, 10000.0,
                avoided, avoided / 10000.0, uncertainty / abs(avoided), uncertainty, 0.9,
                avoided * rate.eur_per_kwh, avoided * rate.kg_co2e_per_kwh, 400.0, ())
    return BuildingSavings(building, building.title(), f"{building}.compteur-chauffage",
                           "heating", model, s, "", "", losses), s


def cabinet(avoided: float, uncertainty: float) -> CabinetSavings:
    rate = DEFAULT_TARIFFS.rate("lighting")
    return CabinetSavings("ep-centre", 5000.0, 5000.0 - avoided, avoided,
                          avoided * rate.eur_per_kwh, avoided * rate.kg_co2e_per_kwh,
                          "Centre", 31, "meter", uncertainty, uncertainty * rate.eur_per_kwh,
                          uncertainty * rate.kg_co2e_per_kwh)


def span(*meters: tuple[BuildingSavings, Savings],
         cabinets: tuple[CabinetSavings, ...] = ()) -> SpanSavings:
    return SpanSavings(date(2025, 12, 1), date(2025, 12, 31), meters, cabinets,
                       DEFAULT_TARIFFS)


def test_not_demonstrated_only_when_the_interval_contains_zero(site: Site,
                                                               model: Baseline) -> None:
    ecole = site.buildings[1]
    unclear = headline(span(meter(model, "ecole", 80.0, 300.0)), Causes(), 0.9, ecole)
    assert unclear.fr == ("Pas d'économie démontrée : l'écart de 80 kWh avec la référence "
                          "reste dans son incertitude (± 300 kWh à 90 % de confiance).")
    assert "No saving shown" in unclear.en
    for said in (unclear.fr, unclear.en):  # nothing beside it is said to be saved
        assert "économisé" not in said and "€" not in said and "saved" not in said
    shown = headline(span(meter(model, "ecole", 1200.0, 300.0)), Causes(), 0.9, ecole)
    assert shown.fr == ("Le bâtiment « École Jules-Ferry » a économisé 1\u202f200 kWh à météo "
                        "égale (± 300 kWh à 90 % de confiance), soit 145 € économisés et 289 "
                        "kg de CO2e évités.")
    assert "démontrée" not in shown.fr


def test_kwh_euros_and_co2_that_disagree_are_explained_by_energy(site: Site,
                                                                 model: Baseline) -> None:
    # Gas heating used 2,000 kWh more while the electric lighting saved 3,000: in all,
    # kWh and euros saved, CO2e emitted over (a kWh of gas emits four times more).
    both = span(meter(model, "ecole", -2000.0, 100.0), cabinets=(cabinet(3000.0, 100.0),))
    said = headline(both, Causes(), 0.9)
    assert said.fr.startswith("La commune a économisé 1\u202f000 kWh à météo égale")
    assert "€ économisés et" in said.fr and "kg de CO2e émis en plus." in said.fr
    assert ("Les euros et le CO2e ne suivent pas les kWh, car chaque énergie pèse "
            "différemment : le chauffage (gaz) a consommé 2\u202f000 kWh de plus, l'éclairage "
            "public (électricité) a économisé 3\u202f000 kWh ; or un kWh d'électricité coûte "
            "23,9 c€ et émet 55 g de CO2e, un kWh de gaz coûte 10,3 c€ et émet 205 g de "
            "CO2e.") in said.fr
    assert "heating (gas) used 2,000 kWh more, public lighting (electricity) saved" in said.en
    # All in one direction: no such sentence.
    agreeing = span(meter(model, "ecole", 2000.0, 100.0), cabinets=(cabinet(3000.0, 100.0),))
    assert "ne suivent pas" not in headline(agreeing, Causes(), 0.9).fr


def test_a_building_that_used_more_says_so_with_what_the_store_knows(
    site: Site, model: Baseline, tmp_path: Path
) -> None:
    loss = EfficiencyLoss("ecole", "ecole.compteur-chauffage", date(2025, 12, 8),
                          date(2025, 12, 12), 900.0, 0.4, "", "")
    used_more = span(meter(model, "ecole", -4400.0, 500.0, (loss,)),
                     meter(model, "mairie", 300.0, 200.0))
    ecole = site.buildings[1]
    setpoint = next(ref.key for ref in site.points() if ref.role is Role.HEATING_SETPOINT
                    and ref.building is not None and ref.building.id == "ecole")
    with Store(tmp_path / "gtb.sqlite") as store:
        at = datetime(2025, 12, 9, 8, 0, tzinfo=PARIS)
        store.alarms.raise_("point:ecole.classe.temperature", at=at, severity="warning",
                            message="sonde muette", building="ecole")
        store.alarms.raise_("point:mairie.accueil.temperature", at=at, severity="warning",
                            message="sonde muette", building="mairie")
        store.overrides.add(setpoint, 21.0, start=at,
                            until=at + timedelta(hours=4), who="gardien", why="spectacle",
                            at=at)
        store.overrides.add(setpoint, 22.0, start=at - timedelta(days=30),
                            until=at - timedelta(days=29), who="gardien", why="avant",
                            at=at - timedelta(days=30))  # November: not this period's
        zone = site.buildings[1].zones[0]
        programme = site.programme_of(site.buildings[1], zone)
        store.programmes.save(f"ecole.{zone.id}", programme, at=at, who="gardien")
        store.agenda.add(AgendaEntry(kind="event", label="Kermesse", scope=("ecole",),
                                     start=datetime(2025, 12, 13, 14, 0),
                                     end=datetime(2025, 12, 13, 18, 0)),
                         at=at, who="gardien")
        causes = known_causes(store, site, used_more, "ecole", date(2025, 12, 1),
                              date(2025, 12, 31))
        assert causes == Causes((loss,), alarms=1, overrides=1, programmes=1, events=1)
        said = headline(used_more, causes, 0.9, ecole)
        assert said.fr.startswith("Le bâtiment « École Jules-Ferry » a consommé 4\u202f400 kWh "
                                  "de plus que prévu à météo égale (± 500 kWh à 90 % de "
                                  "confiance), soit ")
        assert "€ dépensés en plus et " in said.fr and "t de CO2e émises en plus." in said.fr
        assert ("Ce que le moteur sait de la période : une dérive de consommation détectée du "
                "08/12/2025 au 12/12/2025 (900 kWh de plus) ; alarmes de défaut levées : 1 ; "
                "dérogations de consigne (plus de confort) : 1 ; programmes modifiés depuis le "
                "panneau : 1 ; événements à l'agenda (plus d'occupation) : 1.") in said.fr
        assert "What the engine knows of the period: a loss of efficiency" in said.en
        # The town hall saved; a building that used more without a known cause says so.
        headlines = span_headlines(store, site, used_more, 0.9)
        assert set(headlines.buildings) == {"ecole", "mairie"}
        assert "a économisé" in headlines.buildings["mairie"].fr
        assert headlines.commune.fr.startswith("La commune a consommé 4\u202f100 kWh de plus")
    bare = headline(span(meter(model, "ecole", -4400.0, 500.0)), Causes(), 0.9, ecole)
    assert bare.fr.endswith("Cause inconnue : le moteur n'a relevé sur la période ni dérive, "
                            "ni alarme, ni dérogation de consigne, ni programme modifié, ni "
                            "événement à l'agenda.")
