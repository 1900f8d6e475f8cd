"""Zone thermal networks, thermostats and plants; the demo commune's heating intensity."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gtb.model import Site
from gtb.sim.thermal import (
    INERTIA,
    Plant,
    StepInputs,
    ThermalNetwork,
    Thermostat,
    ZoneThermal,
    share_plant,
)
from gtb.sim.world import VirtualCommune


def office(inertia: str = "medium") -> ZoneThermal:
    return ZoneThermal.build(100.0, "office", "from_1975", inertia, low_temperature=False)


def constant(steps: int, outdoor: float, n: int = 1) -> StepInputs:
    zeros = np.zeros((steps, n))
    return StepInputs(np.full(steps, outdoor), zeros, zeros, zeros)


def test_steady_state_matches_the_analytic_solution() -> None:
    zone = office()
    network = ThermalNetwork([zone], 300.0, 10.0)
    heat = 2500.0
    network.run(constant(20 * 288, 0.0), lambda air, k: np.array([heat]))
    a, b = zone.matrices()
    expected = -np.linalg.solve(a, b @ np.array([0.0, 0.0, 0.0, heat]))
    np.testing.assert_allclose(network.temperatures(0), expected, atol=1e-3)
    # At equilibrium all the heat leaves through the envelope.
    assert heat == pytest.approx(zone.h_air_out * expected[0] + zone.h_structure_out
                                 * expected[1])


def test_discretisation_is_exact_whatever_the_step() -> None:
    """Held inputs give the same state after a day with 1-minute or 15-minute steps (an
    explicit Euler scheme would differ, or blow up, at 15 minutes)."""
    finals = []
    for step in (60.0, 900.0):
        network = ThermalNetwork([office("light")], step, 15.0)
        steps = int(86_400 / step)
        network.run(constant(steps, -5.0), lambda air, k: np.array([4000.0]))
        finals.append(network.state.copy())
    np.testing.assert_allclose(finals[0], finals[1], atol=1e-9)


def test_energy_balance_closes_with_varying_inputs() -> None:
    zones = [office("light"), office("heavy")]
    network = ThermalNetwork(zones, 300.0, np.array([12.0, 20.0]))
    rng = np.random.default_rng(0)
    steps = 2000
    inputs = StepInputs(rng.normal(3.0, 4.0, steps), rng.uniform(0, 800, (steps, 2)),
                        rng.uniform(0, 300, (steps, 2)), rng.uniform(0, 50, (steps, 2)))
    network.run(inputs, lambda air, k: np.where(air < 19.0, 5000.0, 0.0))
    account = network.account()
    assert account.heat_in > 1e8 and account.losses > 1e8
    assert abs(account.residual) < 1e-9 * account.heat_in


def test_time_constants_are_those_of_buildings() -> None:
    """The air answers in minutes to an hour, the structure in a day or more, and a heavy
    building more slowly than a light one."""
    slowest = {}
    for inertia in INERTIA:
        zone = office(inertia)
        eigen = np.sort(-1.0 / np.linalg.eigvals(zone.matrices()[0]).real)
        assert 300 < eigen[0] < 3600
        slowest[inertia] = eigen[-1] / 3600
    assert 8 < slowest["light"] < slowest["medium"] < slowest["heavy"] < 150


def test_thermostat_holds_the_setpoint_without_winding_up() -> None:
    zone = office()
    network = ThermalNetwork([zone], 300.0, 15.0)
    thermostat = Thermostat(1)
    setpoint, on = np.array([19.0]), np.array([1.0])
    available = np.array([True])

    def loop(air: np.ndarray, k: int) -> np.ndarray:
        return thermostat.update(air, setpoint, on, available, 300.0) * zone.emitter_w

    network.run(constant(2 * 288, 0.0), loop)
    assert network.air[0] == pytest.approx(19.0, abs=0.05)
    assert 0.1 < thermostat.valve[0] < 0.9
    held = thermostat.integral.copy()
    available[0] = False  # plant off for a day: the valve opens but nothing winds up
    network.run(constant(288, 0.0), lambda air, k: loop(air, k) * 0.0)
    assert thermostat.valve[0] == 1.0 and thermostat.integral[0] == held[0]
    available[0] = True
    peaks: list[float] = []

    def watched(air: np.ndarray, k: int) -> np.ndarray:
        peaks.append(float(air[0]))
        return loop(air, k)

    network.run(constant(288, 0.0), watched)
    assert min(peaks) < 18.0 and max(peaks) < 19.6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-10, 40), st.floats(0, 35), st.booleans(),
                          st.booleans()), min_size=1, max_size=60))
def test_valve_and_integral_stay_between_0_and_1(
        history: list[tuple[float, float, bool, bool]]) -> None:
    """Whatever the temperatures, setpoints, modes and plant states, in any order."""
    thermostat = Thermostat(1)
    for temperature, setpoint, enabled, available in history:
        valve = thermostat.update(np.array([temperature]), np.array([setpoint]),
                                  np.array([float(enabled)]), np.array([available]), 300.0)
        assert 0.0 <= valve[0] <= 1.0
        assert 0.0 <= thermostat.integral[0] <= 1.0
        if not enabled:
            assert valve[0] == 0.0
        elif temperature < setpoint - 1.5:
            assert valve[0] == 1.0  # beyond the proportional band: wide open


def test_mode_off_closes_the_valve_and_forgets() -> None:
    thermostat = Thermostat(2)
    valve = thermostat.update(np.array([15.0, 15.0]), np.array([19.0, 19.0]),
                              np.array([1.0, 0.0]), np.array([True, True]), 300.0)
    assert valve[0] == 1.0 and valve[1] == 0.0 and thermostat.integral[1] == 0.0


def test_heat_pump_cop_and_capacity_fall_with_the_cold() -> None:
    pump, boiler = Plant("heat_pump", 10_000.0), Plant("boiler", 10_000.0)
    assert float(pump.cop(7.0)) == pytest.approx(4.4, abs=0.1)
    assert float(pump.cop(-7.0)) == pytest.approx(2.9, abs=0.1)
    assert float(pump.cop(-20.0)) >= 1.5
    assert pump.capacity(np.array([-7.0]))[0] < pump.capacity(np.array([7.0]))[0] == 10_000.0
    assert boiler.capacity(np.array([-7.0]))[0] == 10_000.0
    assert pump.electricity_w(3000.0, 7.0) == pytest.approx(3000.0 / float(pump.cop(7.0)))
    assert boiler.electricity_w(3000.0, 7.0) == 0.0
    assert boiler.fuel_w(900.0) == pytest.approx(1000.0) and pump.fuel_w(900.0) == 0.0
    sized = Plant.sized("heat_pump", 10_000.0, None)
    assert sized.capacity(np.array([-9.0]))[0] == pytest.approx(12_000.0)
    assert Plant.sized("boiler", 10_000.0, 25.0).rated_w == 25_000.0


def test_a_small_plant_shares_its_heat_fairly() -> None:
    membership = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    heat = share_plant(np.array([6000.0, 2000.0, 1000.0]), membership,
                       np.array([4000.0, 5000.0]))
    np.testing.assert_allclose(heat, [3000.0, 1000.0, 1000.0])


# --- the demo commune ---------------------------------------------------------------------


SUNDAY = datetime(2025, 1, 12, 0, 0, tzinfo=UTC)


def setpoints(world: VirtualCommune, value: float) -> None:
    for key in world.values():
        if key.endswith(".consigne"):
            world.write(key, value)


def test_demo_energy_balance_with_commands(demo_site: Site) -> None:
    world = VirtualCommune(demo_site, SUNDAY, seed=2, step_s=300.0)
    setpoints(world, 16.0)
    world.advance_to(SUNDAY + timedelta(days=1, hours=5))
    setpoints(world, 19.0)
    world.write("gymnase.salle.mode", 4)
    world.write("mediatheque.lecture.mode", 3)
    world.write("mairie.salle-du-conseil.eclairage", 1)
    world.advance_to(SUNDAY + timedelta(days=3))
    world.write("ecole.chaudiere", 0)
    world.advance_to(SUNDAY + timedelta(days=6))
    for building in ("mairie", "ecole", "gymnase", "mediatheque", None):
        account = world.energy_account(building)
        assert account.heat_in > 0 and account.gains > 0 and account.losses > 0
        assert abs(account.residual) < 1e-9 * account.losses, building


def test_setpoint_step_warms_the_zone_with_a_plausible_time_constant(demo_site: Site) -> None:
    world = VirtualCommune(demo_site, SUNDAY, seed=2, step_s=60.0)
    setpoints(world, 16.0)
    world.advance_to(SUNDAY + timedelta(hours=28))  # Monday 05:00 local, nobody in yet
    start = world.zone_state("mairie.bureaux").air_temperature
    assert start == pytest.approx(16.0, abs=0.3)
    world.write("mairie.bureaux.consigne", 19.0)
    seen = []
    for minutes in range(10, 241, 10):
        world.advance_to(world.now + timedelta(minutes=10))
        seen.append((minutes, world.zone_state("mairie.bureaux").air_temperature))
    temps = dict(seen)
    assert temps[10] - start < 1.0  # radiators and air take time
    assert temps[30] - start > 0.5  # but it is clearly warming
    reached = next(m for m, t in seen if t >= 18.5)
    assert 20 <= reached <= 180
    assert max(t for _, t in seen) < 19.8  # no large overshoot
    assert temps[240] == pytest.approx(19.0, abs=0.4)


def test_with_the_plant_off_zones_cool_towards_outside(demo_site: Site) -> None:
    world = VirtualCommune(demo_site, SUNDAY, seed=2, step_s=300.0)
    world.advance_to(SUNDAY + timedelta(hours=6))
    for key in ("mairie.chaudiere", "ecole.chaudiere", "gymnase.chaudiere", "mediatheque.pac"):
        world.write(key, 0)
    before = world.values()
    drops = {}
    for building, zone in (("gymnase", "salle"), ("mediatheque", "lecture")):
        drops[building] = [world.zone_state(f"{building}.{zone}").air_temperature]
    for _ in range(3):
        world.advance_to(world.now + timedelta(days=1))
        for building, zone in (("gymnase", "salle"), ("mediatheque", "lecture")):
            drops[building].append(world.zone_state(f"{building}.{zone}").air_temperature)
    after = world.values()
    outdoor = after["gymnase.temp-ext"]
    for building in ("mairie", "ecole", "gymnase", "mediatheque"):
        assert after[f"{building}.compteur-chauffage"] == before[f"{building}.compteur-chauffage"]
    for building, temps in drops.items():
        assert all(b < a for a, b in itertools.pairwise(temps)), building
        assert temps[-1] > outdoor
    # The light gym loses heat faster than the heavy, renovated library.
    assert drops["gymnase"][0] - drops["gymnase"][-1] > drops["mediatheque"][0] - drops[
        "mediatheque"][-1]


@pytest.mark.slow
def test_demo_buildings_at_19_degrees_use_what_buildings_of_their_age_use(
        demo_site: Site) -> None:
    """A synthetic year at a constant 19 °C: heat delivered / floor area lands where French
    public buildings are, 80 to 200 kWh/m², and a recent one (RT 2012) at 20 to 60 with
    its emission pump on its own clock (docs/simulation.md has the figures and sources)."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    world = VirtualCommune(demo_site, start, seed=0, step_s=300.0)
    world.advance_to(start.replace(year=2026))
    for building in demo_site.buildings:
        state = world.building_state(building.id)
        intensity = state.heat_kwh / building.floor_area_m2
        recent = building.simulation is not None and building.simulation.envelope == "from_2012"
        low, high = (20, 60) if recent else (80, 200)
        assert low <= intensity <= high, (building.id, intensity)
    # and the heat pump's electricity is its heat over a seasonal COP of 2.5 to 4.5
    library = world.building_state("mediatheque")
    base = 1.5 * 8760 * 360 / 1000
    compressor = library.electricity_kwh - base - library.lighting_kwh
    assert library.heat_kwh / 4.5 < compressor < library.heat_kwh / 2.5
