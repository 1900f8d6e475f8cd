"""Arbitration: overrides beat controllers, safety bounds beat everyone, relays rest."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtb.config import load_site
from gtb.engine.arbitration import FALLBACK, Arbiter, Command, Switch
from gtb.model import Site
from gtb.model.points import HEATING_MODES, ROLES, Role
from gtb.store.control import Override
from gtb.texts import said

from .conftest import DEMO_SITE

NOW = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)  # 10:00 in Paris
PROGRAMME = said("Occupé selon le programme", "Occupied by the programme")


def override(point: str, value: float, who: str = "marie", hours: float = 2) -> Override:
    return Override(1, point, value, NOW - timedelta(minutes=5), NOW + timedelta(hours=hours),
                    who, "réunion imprévue", NOW - timedelta(minutes=5), None, None, None)


def command(key: str, value: float) -> Command:
    return Command(key, value, PROGRAMME)


def test_an_override_beats_the_controller_and_says_who_and_until_when(demo_site: Site) -> None:
    key = "mairie.accueil.consigne"
    final = Arbiter(demo_site).arbitrate({key: command(key, 16.0)}, {key: override(key, 20.5)},
                                         {}, NOW)
    assert final[key].value == 20.5
    assert final[key].source == "override" and final[key].actor == "marie"
    assert final[key].reason.fr == "Dérogation de marie jusqu'à 12:00 : réunion imprévue"
    assert final[key].reason.en == "Override by marie until 12:00: réunion imprévue"


def test_a_setpoint_override_brings_the_zone_mode_to_comfort(demo_site: Site) -> None:
    setpoint, mode = "gymnase.salle.consigne", "gymnase.salle.mode"
    desired = {setpoint: command(setpoint, 8.0), mode: command(mode, 3.0)}  # frost protection
    final = Arbiter(demo_site).arbitrate(desired, {setpoint: override(setpoint, 19.0)}, {}, NOW)
    assert (final[setpoint].value, final[mode].value) == (19.0, 1.0)
    assert final[mode].source == "override"
    # An explicit override of the mode itself is kept.
    final = Arbiter(demo_site).arbitrate(desired, {setpoint: override(setpoint, 19.0),
                                           mode: override(mode, 4.0)}, {}, NOW)
    assert final[mode].value == 4.0


def test_safety_bounds_clamp_a_person_and_an_algorithm_alike(demo_site: Site) -> None:
    high, low = "mairie.accueil.consigne", "mairie.bureaux.consigne"
    final = Arbiter(demo_site).arbitrate({low: command(low, 2.0)},
                                         {high: override(high, 26.0)}, {}, NOW)
    assert final[high].value == 21.0 and final[high].source == "safety"
    assert final[high].reason.fr.endswith("— plafonné à 21,0 °C (limite de sécurité)")
    assert final[low].value == 6.0
    assert "relevé au plancher hors-gel 6,0 °C" in final[low].reason.fr


def test_outputs_are_normalised(demo_site: Site) -> None:
    dim, relay, mode = "ep-centre.gradation", "ep-centre.relais", "gymnase.salle.mode"
    final = Arbiter(demo_site).arbitrate({dim: command(dim, 140.0), relay: command(relay, 0.7),
                                  mode: command(mode, 7.0)}, {}, {}, NOW)
    assert (final[dim].value, final[relay].value, final[mode].value) == (100.0, 1.0, 4.0)


def test_relays_keep_their_minimum_state_time(demo_site: Site) -> None:
    plant = "mairie.chaudiere"
    switched = {plant: Switch(1.0, NOW - timedelta(minutes=2))}
    final = Arbiter(demo_site).arbitrate({plant: command(plant, 0.0)}, {}, switched, NOW)
    assert final[plant].value == 1.0 and final[plant].source == "safety"
    assert "maintenu en marche encore 180 s" in final[plant].reason.fr
    later = NOW + timedelta(minutes=3)
    final = Arbiter(demo_site).arbitrate({plant: command(plant, 0.0)}, {}, switched, later)
    assert final[plant].value == 0


def test_overrides_of_unknown_or_read_only_points_do_nothing(demo_site: Site) -> None:
    overrides = {"mairie.accueil.temperature": override("mairie.accueil.temperature", 30.0),
                 "mairie.garage.consigne": override("mairie.garage.consigne", 30.0)}
    assert Arbiter(demo_site).arbitrate({}, overrides, {}, NOW) == {}


def test_a_value_that_is_not_a_number_gets_its_safe_fallback(demo_site: Site) -> None:
    setpoint, mode = "gymnase.salle.consigne", "gymnase.salle.mode"
    dim, relay, plant = "ep-centre.gradation", "ep-centre.relais", "mairie.chaudiere"
    asked = {key: command(key, math.nan) for key in (setpoint, dim, relay, plant)}
    asked[mode] = command(mode, math.inf)
    final = Arbiter(demo_site).arbitrate(asked, {}, {relay: Switch(1.0, NOW - timedelta(hours=1))},
                                         NOW)
    # The zone at its frost protection level, full light, the relay as it was, the plant on.
    assert {key: c.value for key, c in final.items()} == {
        setpoint: 8.0, mode: 3.0, dim: 100.0, relay: 1.0, plant: 1.0}
    assert all(c.source == "safety" and c.reason.code == FALLBACK for c in final.values())
    assert final[setpoint].reason.fr == ("Occupé selon le programme — nan n'est pas un nombre : "
                                         "repli sûr sur 8")
    assert final[mode].reason.en.endswith("— inf is not a number: safe fallback to 3")


ARBITER = Arbiter(load_site(DEMO_SITE))
"""One arbiter for every example: the site file is parsed once (ports do not matter here)."""
WRITABLE = [ref for ref in ARBITER.site.points() if ref.point.writable]
KEYS = [ref.key for ref in WRITABLE]
BINARY = [ref.key for ref in WRITABLE if ROLES[ref.role].kind == "binary"]
ANY_FLOAT = st.floats() | st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308])


@given(
    asked=st.dictionaries(st.sampled_from(KEYS), ANY_FLOAT),
    overridden=st.dictionaries(st.sampled_from(KEYS), ANY_FLOAT),
    switched=st.dictionaries(st.sampled_from(BINARY), st.tuples(
        st.sampled_from([0.0, 1.0]), st.integers(min_value=0, max_value=3600))),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_whatever_is_asked_every_output_is_a_number_within_its_bounds(
    asked: dict[str, float], overridden: dict[str, float],
    switched: dict[str, tuple[float, int]],
) -> None:
    site = ARBITER.site
    final = ARBITER.arbitrate(
        {key: command(key, value) for key, value in asked.items()},
        {key: override(key, value) for key, value in overridden.items()},
        {key: Switch(value, NOW - timedelta(seconds=ago))
         for key, (value, ago) in switched.items()},
        NOW,
    )
    assert set(asked) | set(overridden) <= set(final)
    for ref in WRITABLE:
        if ref.key not in final:
            continue
        value = final[ref.key].value
        assert math.isfinite(value), (ref.key, final[ref.key])
        if ref.role is Role.HEATING_SETPOINT:
            assert ref.zone is not None
            bounds = site.bounds_of(ref.zone)
            assert bounds.frost_floor <= value <= bounds.setpoint_ceiling
        elif ref.role is Role.DIMMING_LEVEL:
            assert 0.0 <= value <= 100.0
        elif ref.role is Role.HEATING_MODE:
            assert value in HEATING_MODES
        else:
            assert value in (0.0, 1.0)
