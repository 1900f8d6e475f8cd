"""The building's plant: on while a zone needs heat or frost protection, off otherwise.

The decision alone (``controllers.plant``), its place in arbitration (frost protection is
held back by nobody), and the engine commanding the demo commune's boilers over real
Modbus and BACnet stacks on loopback, with the plant's status for the panel.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controllers.plant import ZoneNeed, plant_decision
from gtb.engine.arbitration import Arbiter, Command, Switch
from gtb.model import Site
from gtb.model.points import HeatingLevel
from gtb.sim.thermal import STANDBY_LOSS
from gtb.sim.world import VirtualCommune
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
