"""The building's plant: on while a zone needs heat or frost protection, off otherwise.

The decision alone (``controllers.plant``), its place in arbitration (frost protection is
held back by nobody), and the engine commanding the demo commune's boilers over real
Modbus and BACnet stacks on loopback, with the plant's status for the panel.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from controllers.plant import PlantClock, ZoneNeed, plant_decision
from gtb.clock import SimulatedClock
from gtb.engine.alarms import NoHeatAlarms
from gtb.engine.arbitration import Arbiter, Command, Switch
from gtb.engine.journal import Journal
from gtb.model import Site
from gtb.model.calendar import Programme
from gtb.model.learning import LearningSettings
from gtb.model.points import HeatingLevel
from gtb.sim.season import CONTROL_STEP_S, simulate
from gtb.sim.thermal import STANDBY_LOSS
from gtb.sim.world import VirtualCommune
from gtb.store import Store
from gtb.texts import Reason

from .engine_rig import rig, run
from .test_arbitration import override
from .web_rig import NOW, panel_rig

COMFORT, REDUCED, FROST = (HeatingLevel.COMFORT, HeatingLevel.REDUCED,
                           HeatingLevel.FROST_PROTECTION)


def need(level: HeatingLevel, setpoint: float, temperature: float | None) -> ZoneNeed:
    return ZoneNeed("Salle", level, setpoint, temperature, frost_floor=8.0)


def test_the_plant_follows_the_zones_with_hysteresis() -> None:
    # Reduced at 16 °C: heat needed below 16.5 °C when off; once on, until 17 °C.
    assert plant_decision([need(REDUCED, 16.0, 16.6)], was_on=False).on is False
    assert plant_decision([need(REDUCED, 16.0, 16.4)], was_on=False).on is True
    assert plant_decision([need(REDUCED, 16.0, 16.8)], was_on=True).on is True
    off = plant_decision([need(REDUCED, 16.0, 17.1)], was_on=True)
    assert off.on is False and off.reason.code == "plant.idle"
    # One zone that needs heat is enough; a zone at frost protection far from its floor
    # needs none, whatever its setpoint.
    on = plant_decision([need(FROST, 8.0, 12.0), need(COMFORT, 19.0, 18.0)], was_on=False)
    assert on.on and not on.frost
    assert on.reason.fr == ("Chaufferie en marche : Salle en confort, sous sa consigne de "
                            "19,0 °C ou tout près")
    assert plant_decision([need(FROST, 8.0, 10.5)], was_on=False).on is False
    assert plant_decision([need(FROST, 8.0, 10.5)], was_on=True).on is True


def test_frost_protection_and_the_unknown_turn_the_plant_on() -> None:
    cold = plant_decision([need(HeatingLevel.OFF, 8.0, 9.9)], was_on=False)
    assert cold.on and cold.frost
    assert cold.reason.en == "Plant on, frost protection: Salle near its floor of 8.0 °C"
    unknown = plant_decision([need(FROST, 8.0, None)], was_on=False)
    assert unknown.on and unknown.frost and unknown.reason.code == "plant.unknown"


def test_the_plant_keeps_its_minimum_on_and_off_times_frost_first() -> None:
    heat, idle = need(REDUCED, 16.0, 16.0), need(REDUCED, 16.0, 18.0)
    settings = LearningSettings(plant_min_on_minutes=10, plant_min_off_minutes=15)
    # On for 4 min: kept on 6 min more, and it says what comes after.
    kept = plant_decision([idle], was_on=True, held=timedelta(minutes=4), settings=settings)
    assert kept.on and not kept.frost
    assert kept.reason.fr.startswith("Chaufferie maintenue en marche 6 min encore (durée "
                                     "minimale de marche) ; ensuite : Chaufferie à l'arrêt")
    assert plant_decision([idle], was_on=True, held=timedelta(minutes=10),
                          settings=settings).on is False
    # Off for 14 min: a zone that asks waits a minute more; after 15, on.
    assert plant_decision([heat], was_on=False, held=timedelta(minutes=14),
                          settings=settings).reason.code == "plant.kept_off"
    assert plant_decision([heat], was_on=False, held=timedelta(minutes=15),
                          settings=settings).on
    # Frost protection does not wait for the minimum off time.
    frost = plant_decision([need(FROST, 8.0, 9.0)], was_on=False, held=timedelta(0),
                           settings=settings)
    assert frost.on and frost.frost


def test_an_enabled_plant_stays_on_for_a_preheat_about_to_start() -> None:
    now = datetime(2026, 1, 13, 6, 0, tzinfo=UTC)
    soon = ZoneNeed("Salle", REDUCED, 16.0, 18.0, 8.0, preheat_at=now + timedelta(minutes=8))
    later = ZoneNeed("Salle", REDUCED, 16.0, 18.0, 8.0, preheat_at=now + timedelta(hours=1))
    kept = plant_decision([soon], was_on=True, now=now)
    assert kept.on and kept.reason.code == "plant.preheat_soon"
    assert plant_decision([later], was_on=True, now=now).on is False
    # Off, it is not switched on ahead: the pre-heat's comfort does it when it starts.
    assert plant_decision([soon], was_on=False, now=now).on is False


def test_outside_the_plants_own_schedule_it_is_off_and_frost_says_no_heat_comes() -> None:
    assert plant_decision([need(COMFORT, 19.0, 17.0)], was_on=True,
                          available=False).reason.code == "plant.unavailable"
    frost = plant_decision([need(FROST, 8.0, 9.0)], was_on=False, available=False)
    assert frost.on and frost.frost
    assert frost.reason.fr == ("Chaufferie en marche, hors-gel : Salle près de son seuil de "
                               "8,0 °C ; ALERTE : le chauffage n'est pas disponible (horaire "
                               "propre de la chaufferie ou du circuit)")


def test_the_plant_clock_finds_the_next_window() -> None:
    paris = ZoneInfo("Europe/Paris")
    tuesday = datetime(2026, 1, 13, 5, 0, tzinfo=paris)
    pump = PlantClock(Programme(tue=("06:00-18:00",), wed=("06:00-18:00",)))
    assert pump.first_available(tuesday, tuesday) == tuesday.replace(hour=6)
    noon = tuesday.replace(hour=12)
    assert pump.first_available(noon, tuesday) == noon
    assert pump.first_available(tuesday.replace(hour=19), tuesday) == datetime(
        2026, 1, 14, 6, 0, tzinfo=paris)
    # The point speaks for now: it says no, the schedule says when next.
    stopped = PlantClock(pump.schedule, available=False)
    assert stopped.first_available(noon, noon) == datetime(2026, 1, 14, 6, 0, tzinfo=paris)
    assert PlantClock(available=False).first_available(noon, noon) is None
    assert PlantClock().first_available(tuesday, noon) == noon


def test_frost_protection_beats_a_persons_order_and_the_minimum_off_time(
    demo_site: Site
) -> None:
    now = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
    key = "mairie.chaudiere"
    frost = Command(key, 1.0, Reason.of("plant.frost", zone="Accueil", floor=6.0), "safety")
    just_off = {key: Switch(0.0, now - timedelta(minutes=1))}
    final = Arbiter(demo_site).arbitrate({key: frost}, {key: override(key, 0.0)}, just_off,
                                         now)
    assert final[key] == frost
    # Without frost, the order holds, and so does the minimum off time.
    heat = Command(key, 1.0, Reason.of("plant.heat", zone="Accueil", level="réduit",
                                       setpoint=16.0))
    assert Arbiter(demo_site).arbitrate({key: heat}, {key: override(key, 0.0)}, {},
                                        now)[key].value == 0.0
    kept = Arbiter(demo_site).arbitrate({key: heat}, {}, just_off, now)[key]
    assert (kept.value, kept.source) == (0.0, "safety")


def test_the_engine_commands_each_plant_and_says_why(demo_site: Site, tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(demo_site, tmp_path / "gtb.sqlite") as r:
            world = r.virtual.world
            await r.tick()
            # Monday 03:00: every zone still warm from the building's own comfort, above its
            # reduced level or far from its frost floor: every plant off.
            plants = {o.id: o for o in r.store.status.outputs().values() if o.kind == "plant"}
            assert set(plants) == {"mairie", "ecole", "gymnase", "mediatheque", "creche"}
            assert not any(p.on for p in plants.values())
            assert plants["mairie"].reason.code == "plant.idle"
            assert plants["mairie"].name == "Mairie — Chaudière"
            assert world.read("mairie.chaudiere") == world.read("gymnase.chaudiere") == 0.0
            # 04:20: the town hall's zones have cooled to near their reduced 16 °C, the
            # school's classrooms start their early start: both boilers on, and why.
            await r.tick(after_s=80 * 60)
            plants = {o.id: o for o in r.store.status.outputs().values() if o.kind == "plant"}
            assert plants["mairie"].on and plants["ecole"].on
            assert "en réduit" in plants["mairie"].reason.fr
            assert "en confort" in plants["ecole"].reason.fr
            assert world.read("mairie.chaudiere") == world.read("ecole.chaudiere") == 1.0
            # The library's reading room, at frost protection, loses its heat through open
            # windows; a person orders its heat pump off: frost protection keeps it on.
            now = r.clock.now()
            r.store.overrides.add("mediatheque.pac", 0.0, start=now,
                                  until=now + timedelta(hours=8), who="paul",
                                  why="économies", at=now)
            world.open_windows("mediatheque.lecture", 20.0)
            for _ in range(24 * 60):
                await r.tick(after_s=300)
                if world.read("mediatheque.lecture.temperature") < 9.9:
                    break
            await r.tick()
            library = r.store.status.outputs()["plant:mediatheque"]
            assert library.on and library.source == "safety"
            assert library.reason.code == "plant.frost"
            assert world.read("mediatheque.pac") == 1.0

    run(body)


def test_an_enabled_idle_boiler_loses_its_standby_a_disabled_one_nothing(
    demo_site: Site
) -> None:
    start = datetime(2026, 1, 12, 3, 0, tzinfo=UTC)
    lost = {}
    for enabled in (1.0, 0.0):
        world = VirtualCommune(demo_site, start, seed=1, step_s=300.0)
        world.write("mairie.chaudiere", enabled)
        for zone in ("accueil", "bureaux", "salle-du-conseil"):
            world.write(f"mairie.{zone}.consigne", 5.0)  # no zone draws heat
        world.advance_to(start + timedelta(hours=4))
        lost[enabled] = world.building_state("mairie")
    rated_kw = world.plants[0].rated_w / 1000
    idle = lost[1.0]
    assert idle.heat_kwh < 0.05 * idle.standby_kwh
    assert idle.standby_kwh == pytest.approx(STANDBY_LOSS * rated_kw * 4, rel=0.05)
    assert lost[0.0].standby_kwh == lost[0.0].heat_kwh == 0.0


def test_the_building_page_shows_its_plant_and_why(demo_site: Site, tmp_path: Path) -> None:
    for rig_ in panel_rig(demo_site, tmp_path / "gtb.sqlite"):
        rig_.show_output("plant", "mairie", NOW, on=True,
                         reason=Reason.of("plant.heat", zone="Accueil",
                                          level=HeatingLevel.REDUCED.label, setpoint=16.0))
        client = rig_.client("mairie-viewer")
        page = html.unescape(client.get("/building/mairie").get_data(as_text=True))
        assert "<strong>mairie</strong> : en marche" in page
        assert ("Chaufferie en marche : Accueil en réduit, sous sa consigne de 16,0 °C ou "
                "tout près") in page
        # The overview lists lighting and equipment, not the plants.
        assert "Chaufferie" not in html.unescape(client.get("/").get_data(as_text=True))
        client.get("/lang/en")
        page = html.unescape(client.get("/building/mairie").get_data(as_text=True))
        assert "Plant on: Accueil at reduced, below or near its setpoint of 16.0 °C" in page


def test_the_harness_heats_only_within_the_plants_own_schedule(demo_site: Site) -> None:
    """The town hall's emission pump runs 07:30-18:00 on weekdays, by its own clock: the
    fixed 2 h early start (06:30 for 08:30) waits for it, and outside it no heat is made
    at all (the boiler is off, nothing near its frost floor)."""
    day = ("07:30-18:00",)
    mairie = demo_site.buildings[0].model_copy(update={"plant_schedule": Programme(
        mon=day, tue=day, wed=day, thu=day, fri=day)})
    site = demo_site.model_copy(update={"buildings": (mairie,)})
    paris = ZoneInfo("Europe/Paris")
    start = datetime(2026, 1, 13, 0, 0, tzinfo=paris)
    run_ = simulate(site, "fixed", 1, start, start + timedelta(days=2), timedelta(hours=12))
    trace = run_.trace
    for step in range(trace.setpoint.shape[0]):
        moment = datetime.fromtimestamp(trace.origin + step * CONTROL_STEP_S, paris)
        if moment.weekday() < 5 and moment.hour == 7 and moment.minute < 30:
            # Past the fixed early start, before the pump: still set back.
            assert (trace.setpoint[step] < 19.0).all(), moment
        if moment.weekday() < 5 and moment.hour == 8:
            assert (trace.setpoint[step] == 19.0).all(), moment


def test_frost_with_no_heat_available_raises_an_alarm_until_heat_can_come(
    demo_site: Site, tmp_path: Path
) -> None:
    now = datetime(2026, 1, 13, 3, 0, tzinfo=UTC)
    refs = {ref.key: ref for ref in demo_site.points()}
    key = "mairie.chaudiere"
    frost = plant_decision([need(FROST, 8.0, 9.0)], was_on=False, available=False)
    with Store(tmp_path / "gtb.sqlite") as store:
        alarms = NoHeatAlarms(refs, store, Journal(store, SimulatedClock(now), demo_site.id))
        alarms.follow(now, {key: Command(key, 1.0, frost.reason, "safety")},
                      store.alarms.active())
        active = store.alarms.active()
        assert list(active) == [f"no_heat:{key}"]
        assert active[f"no_heat:{key}"].severity == "critical"
        assert "le chauffage n'est pas disponible" in active[f"no_heat:{key}"].message
        heat = plant_decision([need(FROST, 8.0, 9.0)], was_on=False)
        later = now + timedelta(minutes=5)
        alarms.follow(later, {key: Command(key, 1.0, heat.reason, "safety")},
                      store.alarms.active())
        assert store.alarms.active() == {}


def test_the_plant_clock_says_where_its_window_before_a_gap_ends() -> None:
    paris = ZoneInfo("Europe/Paris")
    pump = PlantClock(Programme(mon=("02:00-19:00",), tue=("05:30-19:00",),
                                wed=("05:30-19:00",), thu=("05:30-19:00",),
                                fri=("05:30-19:00",)))
    friday_3am = datetime(2026, 1, 2, 3, 10, tzinfo=paris)
    assert pump.window_before(friday_3am) == (datetime(2026, 1, 1, 19, 0, tzinfo=paris),
                                              datetime(2026, 1, 2, 5, 30, tzinfo=paris))
    # Within a window, no gap; and a clock-less plant says nothing.
    assert pump.window_before(friday_3am.replace(hour=6)) is None
    assert PlantClock().window_before(friday_3am) is None
    # Over the weekend, the window before is Friday's, the next one Monday 02:00.
    sunday = datetime(2026, 1, 4, 20, 0, tzinfo=paris)
    assert pump.window_before(sunday) == (datetime(2026, 1, 2, 19, 0, tzinfo=paris),
                                          datetime(2026, 1, 5, 2, 0, tzinfo=paris))
