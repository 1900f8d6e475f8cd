"""The virtual commune through its points, as the device servers and the engine see it."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from gtb.model import Programme, Site
from gtb.model.points import ROLES, Role
from gtb.sim.season import restrict, simulate, tabulated_world
from gtb.sim.thermal import StepInputs, ThermalNetwork, ZoneThermal
from gtb.sim.weather import CsvWeather, SyntheticWeather
from gtb.sim.world import VirtualCommune

PARIS = ZoneInfo("Europe/Paris")
TUESDAY = datetime(2025, 3, 11, 4, 0, tzinfo=PARIS).astimezone(UTC)  # a school day


@pytest.fixture
def world(demo_site: Site) -> VirtualCommune:
    return VirtualCommune(demo_site, TUESDAY, seed=1, step_s=60.0)


def test_initial_values_are_what_a_building_does_alone(world: VirtualCommune,
                                                       demo_site: Site) -> None:
    values = world.values()
    assert set(values) == {ref.key for ref in demo_site.points()}
    for ref in demo_site.points():
        value = values[ref.key]
        low, high = ROLES[ref.role].low, ROLES[ref.role].high
        assert math.isfinite(value) and low <= value <= high, ref.key
        if ref.role is Role.HEATING_SETPOINT:
            assert value == demo_site.comfort_of(ref.zone).comfort  # type: ignore[arg-type]
        expected = {Role.HEATING_MODE: 1.0, Role.PLANT_ENABLE: 1.0, Role.LIGHTING_RELAY: 0.0,
                    Role.CABINET_RELAY: 0.0, Role.DIMMING_LEVEL: 100.0,
                    Role.ENERGY_METER: 0.0}
        if ref.role in expected:
            assert value == expected[ref.role], ref.key


def test_every_point_reads_a_plausible_value_after_a_day(world: VirtualCommune,
                                                         demo_site: Site) -> None:
    world.advance_to(TUESDAY + timedelta(hours=30))
    values = world.values()
    for ref in demo_site.points():
        value = values[ref.key]
        if ref.role is Role.ZONE_TEMPERATURE:
            assert 15 < value < 25, ref.key
        elif ref.role is Role.CO2:
            assert 400 <= value < 5000, ref.key
        elif ref.role is Role.OUTDOOR_TEMPERATURE:
            assert -10 < value < 20, ref.key
        elif ref.role is Role.ENERGY_METER and ref.point.meter == "heating":
            assert value > 10, ref.key
        elif ref.role in (Role.OCCUPANCY, Role.LIGHTING_RELAY):
            assert value in (0.0, 1.0), ref.key
    assert values["mairie.temp-ext"] == values["gymnase.temp-ext"]


def test_writes_are_checked(world: VirtualCommune) -> None:
    with pytest.raises(ValueError, match=re.escape("'mairie.nowhere'")):
        world.write("mairie.nowhere", 1)
    with pytest.raises(ValueError, match=re.escape("'mairie.accueil.temperature'")):
        world.write("mairie.accueil.temperature", 20)
    with pytest.raises(ValueError, match=re.escape("'mairie.accueil.consigne'")):
        world.write("mairie.accueil.consigne", 40)
    with pytest.raises(ValueError, match=re.escape("'gymnase.salle.mode'")):
        world.write("gymnase.salle.mode", 2.5)
    with pytest.raises(ValueError, match=re.escape("'gymnase.salle.mode'")):
        world.write("gymnase.salle.mode", 5)
    with pytest.raises(ValueError, match=re.escape("'ep-centre.relais'")):
        world.write("ep-centre.relais", float("nan"))
    with pytest.raises(ValueError, match=re.escape("'mairie.nowhere'")):
        world.read("mairie.nowhere")
    world.write("gymnase.salle.mode", 2)
    world.write("ep-centre.gradation", 35.5)
    assert world.read("gymnase.salle.mode") == 2.0
    assert world.read("ep-centre.gradation") == 35.5


def test_a_world_takes_up_from_the_last_readings_of_another(world: VirtualCommune,
                                                             demo_site: Site) -> None:
    """What ``gtb demo`` does on a kept store: a new world goes on from the last values
    read of the one before, the meters counting on from their index, the commands as the
    devices held them; a command out of range is left as the building has it."""
    world.advance_to(TUESDAY + timedelta(hours=6))
    last = world.values()
    later = VirtualCommune(demo_site, TUESDAY + timedelta(hours=6, minutes=5), seed=1)
    held = {"mairie.accueil.consigne": 16.5, "gymnase.salle.mode": 2.0,
            "ep-centre.gradation": 40.0, "ecole.maternelle.consigne": 99.0}
    meters = [ref.key for ref in demo_site.points() if ref.role is Role.ENERGY_METER]
    temperatures = [ref.key for ref in demo_site.points()
                    if ref.role is Role.ZONE_TEMPERATURE]
    later.take_up({**{key: last[key] for key in meters + temperatures}, **held})
    for key in temperatures:
        zone = later.zone_state(key.rsplit(".", 1)[0])
        assert later.read(key) == last[key] == zone.structure_temperature, key
    assert all(later.read(key) == last[key] for key in meters)
    assert sum(last[key] > 0 for key in meters) >= 5
    assert {key: later.read(key) for key in held} == {**held, "ecole.maternelle.consigne": 19.0}
    later.advance_to(later.now + timedelta(hours=1))
    assert all(later.read(key) >= last[key] for key in meters)
    with pytest.raises(ValueError, match=r"no point 'mairie\.nowhere'"):
        later.take_up({"mairie.nowhere": 1.0})


def test_time_advances_in_whole_steps(demo_site: Site) -> None:
    with pytest.raises(ValueError, match="timezone"):
        VirtualCommune(demo_site, datetime(2025, 3, 11, 4))
    world = VirtualCommune(demo_site, TUESDAY, step_s=300.0)
    world.advance_to(TUESDAY + timedelta(seconds=299))
    assert world.now == TUESDAY
    world.advance_to(TUESDAY + timedelta(seconds=1000))
    assert world.now == TUESDAY + timedelta(seconds=900)
    world.advance_to(TUESDAY)  # the past: nothing happens
    assert world.now == TUESDAY + timedelta(seconds=900)
    assert world.now.tzinfo is not None and world.now.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="timezone"):
        world.advance_to(datetime(2025, 3, 12))


def test_lighting_circuits_and_meters(demo_site: Site) -> None:
    lit, dark = (VirtualCommune(demo_site, TUESDAY, seed=1, step_s=60.0) for _ in range(2))
    lit.write("mairie.accueil.eclairage", 1)
    for world in (lit, dark):
        world.advance_to(TUESDAY + timedelta(hours=2))
    assert lit.read("mairie.accueil.eclairage") == 1.0
    extra = lit.read("mairie.compteur-electricite") - dark.read("mairie.compteur-electricite")
    assert extra == pytest.approx(0.9 * 2, rel=1e-9)  # the 900 W circuit, two hours
    assert lit.building_state("mairie").lighting_kwh == pytest.approx(1.8)
    assert dark.read("mairie.compteur-electricite") > 0  # the base load never stops


def test_public_lighting_cabinets(world: VirtualCommune) -> None:
    world.write("ep-centre.relais", 1)
    world.write("ep-centre.gradation", 50)
    world.write("ep-eglise.relais", 1)  # no dimming point: full power
    world.advance_to(TUESDAY + timedelta(hours=3))
    assert world.read("ep-centre.compteur") == pytest.approx(6.4 * 0.5 * 3)
    assert world.read("ep-eglise.compteur") == pytest.approx(1.8 * 3)
    assert world.read("ep-stade.compteur") == 0.0
    world.write("ep-centre.relais", 0)
    world.advance_to(TUESDAY + timedelta(hours=5))
    assert world.read("ep-centre.compteur") == pytest.approx(6.4 * 0.5 * 3)


def local(hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, 11, hour, minute, tzinfo=PARIS)


def test_co2_and_presence_follow_the_pupils(world: VirtualCommune) -> None:
    world.advance_to(local(6))
    assert world.read("ecole.maternelle.presence") == 0.0
    assert world.read("ecole.maternelle.co2") == pytest.approx(420, abs=20)
    world.advance_to(local(10, 30))
    state = world.zone_state("ecole.elementaire")
    assert state.occupants > 90 and state.presence
    assert world.read("ecole.elementaire.presence") == 1.0
    assert 900 < world.read("ecole.elementaire.co2") < 3000
    world.advance_to(local(23))
    assert world.read("ecole.elementaire.presence") == 0.0
    assert world.read("ecole.elementaire.co2") < 600


def test_presence_detectors_hold_a_few_minutes(world: VirtualCommune) -> None:
    occupants = world.occupants
    day = datetime(2025, 3, 11, tzinfo=PARIS)
    counts = occupants.day("mairie.bureaux", day.date())
    last = int(max(i for i, c in enumerate(counts) if c > 0))
    left = day + timedelta(minutes=5 * (last + 1))  # everybody gone from here on
    world.advance_to(left.astimezone(UTC) + timedelta(minutes=4))
    assert world.zone_state("mairie.bureaux").occupants == 0
    assert world.read("mairie.bureaux.presence") == 1.0  # still held
    world.advance_to(left.astimezone(UTC) + timedelta(minutes=16))
    assert world.read("mairie.bureaux.presence") == 0.0


def test_heating_modes(world: VirtualCommune) -> None:
    world.write("gymnase.salle.mode", 4)
    world.write("gymnase.vestiaires.mode", 3)
    world.write("gymnase.vestiaires.consigne", 21)
    world.advance_to(TUESDAY + timedelta(hours=3))
    hall, changing = world.zone_state("gymnase.salle"), world.zone_state("gymnase.vestiaires")
    assert hall.target is None and hall.valve == 0.0 and hall.heat_w == 0.0
    assert world.read("gymnase.salle.vanne") == 0.0
    assert changing.target == 8.0  # the zone's frost-protection level, not its setpoint
    assert changing.valve == 0.0  # it is far warmer than 8 °C
    world.write("gymnase.salle.mode", 2)
    world.write("gymnase.salle.consigne", 23)
    world.advance_to(TUESDAY + timedelta(hours=4))
    assert world.zone_state("gymnase.salle").target == 23.0
    assert world.read("gymnase.salle.vanne") > 50


def test_plant_off_means_no_heat_but_the_valves_still_call(world: VirtualCommune) -> None:
    world.advance_to(TUESDAY + timedelta(hours=1))
    world.write("ecole.chaudiere", 0)
    meter = world.read("ecole.compteur-chauffage")
    world.advance_to(TUESDAY + timedelta(hours=8))
    assert world.read("ecole.compteur-chauffage") == meter
    assert world.building_state("ecole").heat_w == 0.0
    assert world.read("ecole.direction.vanne") == 100.0  # too cold: the valve is wide open
    assert world.read("mairie.compteur-chauffage") > 0


def test_same_seed_same_world(demo_site: Site) -> None:
    runs = []
    for _ in range(2):
        world = VirtualCommune(demo_site, TUESDAY, seed=9, step_s=120.0)
        world.write("mediatheque.lecture.consigne", 17)
        world.advance_to(TUESDAY + timedelta(hours=20))
        runs.append(world.values())
    assert runs[0] == runs[1]
    other = VirtualCommune(demo_site, TUESDAY, seed=10, step_s=120.0)
    other.write("mediatheque.lecture.consigne", 17)
    other.advance_to(TUESDAY + timedelta(hours=20))
    assert other.values() != runs[0]


def test_measured_weather_can_drive_the_world(demo_site: Site) -> None:
    times = TUESDAY.timestamp() + np.array([0.0, 86_400.0])
    measured = CsvWeather(times, np.array([-3.0, -3.0]), np.zeros(2), 50.4, 3.28, "test")
    world = VirtualCommune(demo_site, TUESDAY, weather=measured, step_s=300.0)
    world.advance_to(TUESDAY + timedelta(hours=2))
    assert world.read("mairie.temp-ext") == -3.0
    with pytest.raises(ValueError, match="covers"):
        world.advance_to(TUESDAY + timedelta(days=2))


@pytest.mark.parametrize(("sunday", "school"), [(datetime(2025, 3, 30), True),
                                               (datetime(2025, 10, 26), False)])
def test_daylight_saving_days(demo_site: Site, sunday: datetime, school: bool) -> None:
    """Through a 23-hour and a 25-hour day, steps stay whole and the Monday's staff come
    at their usual local time (the autumn one is in the Toussaint holidays)."""
    start = sunday.replace(tzinfo=PARIS).astimezone(UTC)
    world = VirtualCommune(demo_site, start, seed=1, step_s=300.0)
    world.advance_to(start + timedelta(hours=20))
    assert world.now == start + timedelta(hours=20)
    monday = (sunday + timedelta(days=1)).replace(tzinfo=PARIS)
    world.advance_to((monday + timedelta(hours=6)).astimezone(UTC))
    assert world.read("mairie.bureaux.presence") == 0.0
    world.advance_to((monday + timedelta(hours=10)).astimezone(UTC))
    assert world.read("mairie.bureaux.presence") == 1.0
    assert world.read("ecole.elementaire.presence") == float(school)


def test_zone_state_and_building_state(world: VirtualCommune) -> None:
    world.advance_to(TUESDAY + timedelta(hours=6))
    state = world.zone_state("ecole.cantine")
    assert state.key == "ecole.cantine" and state.target == 19.0
    assert state.air_temperature == world.read("ecole.cantine.temperature")
    assert state.valve * 100 == world.read("ecole.cantine.vanne")
    building = world.building_state("ecole")
    assert building.heat_kwh == pytest.approx(world.read("ecole.compteur-chauffage"))
    # The boiler burns for the heat it delivers and for its standby losses while idle.
    assert building.standby_kwh > 0
    assert building.fuel_kwh == pytest.approx((building.heat_kwh + building.standby_kwh) / 0.9)
    assert building.plant_enabled
    with pytest.raises(KeyError):
        world.zone_state("ecole.nowhere")
    with pytest.raises(KeyError):
        world.building_state("piscine")


def test_an_emission_pump_on_its_own_clock_lets_heat_through_only_in_its_hours(
        world: VirtualCommune) -> None:
    """The crèche's pump runs 05:30-19:00 on Tuesdays whatever its boiler is told: the
    ``plant_available`` point reads it, and no heat reaches the emitters outside it."""
    assert world.read("creche.chaudiere") == 1.0
    world.advance_to(local(5, 25))
    assert world.read("creche.circulateur") == 0.0
    assert world.read("creche.compteur-chauffage") == 0.0
    calling = world.zone_state("creche.bebes")
    assert calling.valve > 0 and calling.heat_w == 0.0  # cooled since 04:00, it calls
    assert world.read("creche.bebes.ventilo") == 0.0  # no hot water: the fan stays still
    world.advance_to(local(6, 30))
    assert world.read("creche.circulateur") == 1.0
    assert world.read("creche.compteur-chauffage") > 0
    assert world.read("creche.bebes.ventilo") == pytest.approx(
        100 * world.zone_state("creche.bebes").valve)
    world.write("creche.bebes.consigne", 30)  # far above the room: the coil gives all it can
    world.advance_to(local(19))
    meter = world.read("creche.compteur-chauffage")
    world.advance_to(local(23))
    assert world.read("creche.circulateur") == 0.0
    assert world.read("creche.compteur-chauffage") == meter
    assert world.building_state("creche").heat_w == 0.0


def test_any_building_can_have_a_plant_schedule(demo_site: Site) -> None:
    """The town hall given a pump clock of 10:00-12:00 on Tuesdays heats only then."""
    mairie = demo_site.buildings[0]
    clock = Programme(tue=("10:00-12:00",))
    site = demo_site.model_copy(update={"buildings": (
        mairie.model_copy(update={"plant_schedule": clock}), *demo_site.buildings[1:])})
    world = VirtualCommune(site, TUESDAY, seed=1, step_s=300.0)
    world.advance_to(local(9, 55))
    assert world.read("mairie.compteur-chauffage") == 0.0
    assert world.read("ecole.compteur-chauffage") > 0  # the school has no clock: it heats
    world.advance_to(local(12))
    meter = world.read("mairie.compteur-chauffage")
    assert meter > 0
    world.advance_to(local(16))
    assert world.read("mairie.compteur-chauffage") == meter


def test_heating_signals_say_what_the_emitters_give(world: VirtualCommune,
                                                    demo_site: Site) -> None:
    """A fan coil's speed, an emitter's power, or nothing at all (the crèche's grands)."""
    signals = {Role.VALVE, Role.FAN_SPEED, Role.EMITTER_POWER}
    roles = {ref.zone.id: {r.role for r in demo_site.points() if r.zone is ref.zone}
             for ref in demo_site.points() if ref.building is not None
             and ref.building.id == "creche" and ref.zone is not None}
    assert roles["bebes"] & signals == {Role.FAN_SPEED}
    assert roles["bureau"] & signals == {Role.EMITTER_POWER}
    assert roles["grands"] & signals == set()
    world.write("creche.bureau.consigne", 25)
    world.advance_to(local(8))
    assert world.read("creche.bureau.puissance") == pytest.approx(100.0)  # wide open
    world.write("creche.bureau.consigne", 10)
    world.advance_to(local(9))
    assert world.read("creche.bureau.puissance") == 0.0
    assert world.zone_state("creche.bureau").heat_w == 0.0


def test_a_fan_coil_warms_its_room_faster_than_a_radiator() -> None:
    rises = {}
    for emitter in ("radiator", "fan_coil"):
        zone = ZoneThermal.build(80.0, "nursery", "from_2012", "medium", False, emitter)
        network = ThermalNetwork([zone], 60.0, 15.0)
        steps = 15
        inputs = StepInputs(np.full(steps, 15.0), np.zeros((steps, 1)), np.zeros((steps, 1)),
                            np.zeros((steps, 1)))
        network.run(inputs, lambda air, k, w=zone.emitter_w: np.array([w]))
        rises[emitter] = float(network.air[0]) - 15.0
    assert rises["fan_coil"] > 2 * rises["radiator"] > 0


def test_a_double_flow_unit_saves_the_fresh_airs_heat(demo_site: Site) -> None:
    """The crèche's heat recovery: less heat for the same occupants and the same CO2."""
    creche = next(b for b in demo_site.buildings if b.id == "creche")
    assert creche.simulation is not None and creche.simulation.heat_recovery > 0
    results = []
    for recovery in (creche.simulation.heat_recovery, 0.0):
        simulation = creche.simulation.model_copy(update={"heat_recovery": recovery})
        site = restrict(demo_site, ["creche"])
        site = site.model_copy(update={"buildings": (
            creche.model_copy(update={"simulation": simulation}),)})
        world = VirtualCommune(site, TUESDAY, seed=1, step_s=300.0)
        world.advance_to(local(17))
        results.append((world.read("creche.compteur-chauffage"), world.co2.copy()))
    (recovered, co2), (plain, co2_plain) = results
    assert recovered < 0.95 * plain
    assert co2 == pytest.approx(co2_plain, rel=0.01)


def test_the_creche_under_its_fixed_programme_is_warm_when_the_children_are_there(
        demo_site: Site) -> None:
    """A January week of the season harness (the bench's): within its pump's clock, the
    programme's fixed early start has the rooms at comfort when the carers arrive, for
    about 1.7 kWh/m² of heat in this cold week (docs/simulation.md: some 30 a season)."""
    site = restrict(demo_site, ["creche"])
    run = simulate(site, "fixed", 1, datetime(2026, 1, 13, tzinfo=PARIS),
                   datetime(2026, 1, 20, tzinfo=PARIS), timedelta(days=3))
    trace = run.trace
    air = trace.air_per_step()[trace.counted_from:]
    occupied = trace.occupants[trace.counted_from:] > 0
    assert occupied.any(axis=0).all()
    assert (air[occupied] >= 18.5).mean() > 0.99
    assert 1.0 < run.heat_kwh["creche"] / 420 < 2.5


def test_a_control_step_at_a_time_is_the_same_world_as_all_at_once(demo_site: Site) -> None:
    """The world works out what drives it a day ahead (``_next_steps``): stepped by a
    harness's quarter-hours across days, with commands and windows changing on the way,
    its physics must be the world's stepped in one go between the same commands (its
    meters and CO2, summed over each batch of steps, differ in the last digits)."""
    worlds = [VirtualCommune(demo_site, TUESDAY, seed=3, step_s=300.0) for _ in range(2)]
    changes = [(TUESDAY + timedelta(hours=9), "ecole.elementaire.consigne", 17.0),
               (TUESDAY + timedelta(hours=26), "ecole.elementaire.consigne", 20.0)]
    quarter = TUESDAY
    for at, key, value in changes:
        worlds[0].advance_to(at)
        while quarter < at:
            quarter += timedelta(minutes=15)
            worlds[1].advance_to(quarter)
        for world in worlds:
            world.write(key, value)
            world.open_windows("ecole.elementaire", 2.0 if value < 18 else 0.0)
    end = TUESDAY + timedelta(hours=40)
    worlds[0].advance_to(end)
    while quarter < end:
        quarter += timedelta(minutes=15)
        worlds[1].advance_to(quarter)
    assert np.array_equal(worlds[0].network.state, worlds[1].network.state)
    assert np.array_equal(worlds[0].thermostat.valve, worlds[1].thermostat.valve)
    assert np.array_equal(worlds[0].thermostat.integral, worlds[1].thermostat.integral)


def test_a_seasons_tabulated_weather_is_the_weather(demo_site: Site) -> None:
    """The table is what the weather says at its instants, and instants past the run
    (the world looks a day ahead) are the weather's own, in the same answer."""
    world = tabulated_world(demo_site, 2, TUESDAY, 8)
    weather = SyntheticWeather(demo_site.latitude, demo_site.longitude, 2, typical=False)
    epochs = TUESDAY.timestamp() + 150.0 * np.arange(0, 300)  # 8 quarters tabulated
    for got, expected in zip(world.weather.sample(epochs), weather.sample(epochs),
                             strict=True):
        assert np.array_equal(got, expected)
