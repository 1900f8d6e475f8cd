"""Lighting through the engine, on the virtual commune over real BACnet and Modbus stacks:
public lighting cabinets by the sun, the night cut and the agenda, the mayor's immediate
on with its expiry, a cabinet that stops answering, building circuits by presence, and a
scheduled output.

The demo commune's cabinets (sites/demo-commune.yaml): ``ep-centre`` (road, cut
23:00-05:00, 50 % from 22:00 to 23:00 and from 05:00 to 06:30), ``ep-eglise`` (heritage,
cut from 23:00 until sunrise), ``ep-stade`` (car park, cut from 23:00 until sunrise).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from controllers.lighting import sun_times
from gtb.config import parse_site
from gtb.engine.status import OutputStatus
from gtb.model import Site

from .engine_rig import PARIS, Rig, rig, run

MONDAY_4PM = datetime(2026, 1, 12, 16, 0, tzinfo=PARIS)


def _status(r: Rig, key: str) -> OutputStatus:
    return next(o for o in r.engine.outputs() if o.id == key)


async def _tick_at(r: Rig, local: datetime) -> None:
    await r.tick(after_s=(local - r.clock.now()).total_seconds())


def _assert_published(r: Rig, *, night: str, today: str, at: datetime) -> None:
    """The engine's last publication for the panel (gtb.engine.outlook): each cabinet's night,
    the holidays ahead, and when it wrote them."""
    nights = r.store.status.nights()
    assert sorted(nights) == sorted(c.id for c in r.engine.site.cabinets)
    assert {n.night.isoformat() for n in nights.values()} == {night}
    holidays = r.store.status.holidays()
    assert holidays is not None and holidays.today.isoformat() == today
    assert {s.at for s in (*nights.values(), holidays)} == {at}


def test_cabinets_follow_the_sun_the_night_cut_and_the_dimming(
    demo_site: Site, tmp_path: Path
) -> None:
    sunset = sun_times(demo_site.latitude, demo_site.longitude, PARIS,
                       MONDAY_4PM.date()).sunset
    sunrise = sun_times(demo_site.latitude, demo_site.longitude, PARIS,
                        MONDAY_4PM.date() + timedelta(days=1)).sunrise

    async def body() -> None:
        async with rig(demo_site, tmp_path / "gtb.sqlite", start=MONDAY_4PM) as r:
            world = r.virtual.world
            await r.tick()
            assert world.read("ep-centre.relais") == 0.0
            assert _status(r, "ep-centre").reason.fr == "jour : éteint"
            first_tick = r.clock.now()
            _assert_published(r, night="2026-01-12", today="2026-01-12", at=first_tick)
            await _tick_at(r, sunset + timedelta(minutes=2))
            for cabinet in ("ep-centre", "ep-eglise", "ep-stade"):
                assert world.read(f"{cabinet}.relais") == 1.0, cabinet
            assert world.read("ep-centre.gradation") == 100.0
            assert _status(r, "ep-centre").reason.fr == (
                f"allumé au coucher du soleil ({sunset:%H:%M})")
            await _tick_at(r, MONDAY_4PM.replace(hour=22, minute=30))
            assert world.read("ep-centre.relais") == 1.0
            assert world.read("ep-centre.gradation") == 50.0
            await _tick_at(r, MONDAY_4PM.replace(hour=23, minute=1))
            assert [world.read(f"{c}.relais") for c in ("ep-centre", "ep-eglise")] == [0, 0]
            assert _status(r, "ep-centre").reason.fr == (
                "coupure de nuit de 23:00 jusqu'à 05:00 : éteint")
            assert _status(r, "ep-eglise").reason.fr == (
                "coupure de nuit de 23:00 jusqu'au lever du soleil : éteint")
            # 05:30: the road lighting is back, dimmed; the church stays dark until sunrise.
            await _tick_at(r, MONDAY_4PM.replace(hour=5, minute=30) + timedelta(days=1))
            assert world.read("ep-centre.relais") == 1.0
            assert world.read("ep-centre.gradation") == 50.0
            assert world.read("ep-eglise.relais") == 0.0
            # The nights and holidays are published again only when the day changes (the
            # holidays) and at sunrise (the night shown).
            _assert_published(r, night="2026-01-12", today="2026-01-13",
                              at=MONDAY_4PM.replace(hour=5, minute=30) + timedelta(days=1))
            await _tick_at(r, sunrise + timedelta(minutes=2))
            assert world.read("ep-centre.relais") == 0.0
            _assert_published(r, night="2026-01-13", today="2026-01-13",
                              at=sunrise + timedelta(minutes=2))
            # What was commanded is in the audit log with its reason.
            commands = r.store.audit.events(kind="command", point="ep-centre.relais", limit=20)
            reasons = [e.reason for e in commands]
            assert "coupure de nuit de 23:00 jusqu'à 05:00 : éteint" in reasons

    run(body)


def test_events_overlapping_each_other_and_the_night_cut(demo_site: Site, tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(demo_site, tmp_path / "gtb.sqlite",
                       start=MONDAY_4PM.replace(hour=21)) as r:
            world = r.virtual.world
            now = r.clock.now()
            r.store.agenda.add(
                {"kind": "lights_on", "label": "Marché de nuit", "scope": ["ep-centre"],
                 "start": "2026-01-12 21:30", "end": "2026-01-13 01:00"}, at=now, who="maire")
            r.store.agenda.add(
                {"kind": "lights_off", "label": "Feu d'artifice", "scope": ["ep-centre"],
                 "start": "2026-01-12 23:30", "end": "2026-01-12 23:45"}, at=now, who="maire")
            await r.tick()
            await _tick_at(r, MONDAY_4PM.replace(hour=23, minute=15))
            # Within the cut, the market keeps the centre lit at full power.
            assert world.read("ep-centre.relais") == 1.0
            assert world.read("ep-centre.gradation") == 100.0
            assert _status(r, "ep-centre").reason.fr == (
                "Marché de nuit : allumé jusqu'à demain 01:00")
            assert world.read("ep-eglise.relais") == 0.0  # not in the event's scope
            await _tick_at(r, MONDAY_4PM.replace(hour=23, minute=35))
            assert world.read("ep-centre.relais") == 0.0  # the shorter event wins
            assert _status(r, "ep-centre").reason.fr == "Feu d'artifice : éteint jusqu'à 23:45"
            await _tick_at(r, MONDAY_4PM.replace(hour=23, minute=50))
            assert world.read("ep-centre.relais") == 1.0
            await _tick_at(r, MONDAY_4PM.replace(hour=1, minute=5) + timedelta(days=1))
            assert world.read("ep-centre.relais") == 0.0  # the market is over: the cut
            assert "coupure de nuit" in _status(r, "ep-centre").reason.fr

    run(body)


def test_the_mayors_immediate_on_expires(demo_site: Site, tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(demo_site, tmp_path / "gtb.sqlite",
                       start=MONDAY_4PM.replace(hour=23, minute=30)) as r:
            world = r.virtual.world
            await r.tick()
            assert world.read("ep-centre.relais") == 0.0
            now = r.clock.now()
            r.store.overrides.add("ep-centre.relais", 1.0, start=now,
                                 until=now + timedelta(minutes=30), who="maire",
                                 why="accident rue de la gare", at=now)
            await r.tick()
            assert world.read("ep-centre.relais") == 1.0
            [event] = [e for e in r.store.audit.events(kind="command", point="ep-centre.relais",
                                                 limit=10) if e.actor == "maire"]
            assert event.reason == ("Dérogation de maire jusqu'à demain 00:01 : accident rue de la "
                                    "gare")
            # The panel reads the order, not the timetable, as the cabinet's state.
            shown = r.store.status.outputs()["cabinet:ep-centre"]
            assert (shown.on, shown.source, shown.reason.fr) == (True, "override", event.reason)
            assert (_status(r, "ep-centre").on, _status(r, "ep-centre").source) == (
                True, "override")
            await r.tick(after_s=31 * 60)
            assert world.read("ep-centre.relais") == 0.0
            shown = r.store.status.outputs()["cabinet:ep-centre"]
            assert (shown.on, shown.source) == (False, "controller")

    run(body)


def test_a_cabinet_that_stops_answering_is_alarmed_and_restored(
    demo_site: Site, tmp_path: Path
) -> None:
    async def body() -> None:
        async with rig(demo_site, tmp_path / "gtb.sqlite",
                       start=MONDAY_4PM.replace(hour=22, minute=50)) as r:
            world = r.virtual.world
            await r.tick()
            assert world.read("ep-centre.relais") == 1.0
            cabinet = r.server("ep-centre")
            await cabinet.stop()
            for _ in range(5):
                await r.tick()
            [alarm] = [a for k, a in r.store.alarms.active().items() if k.startswith("device:")]
            assert "Éclairage public, centre-bourg : dernier état maintenu par l'appareil" in (
                alarm.message)
            # 23:00 passed while it was silent: it keeps the light on, the safe side.
            await _tick_at(r, MONDAY_4PM.replace(hour=23, minute=10))
            assert world.read("ep-centre.relais") == 1.0
            await cabinet.start()
            await r.tick()
            assert world.read("ep-centre.relais") == 0.0  # the state of the moment, at once
            assert not [k for k in r.store.alarms.active() if k.startswith("device:")]

    run(body)


def test_building_circuits_follow_presence_and_are_off_in_an_empty_building(
    demo_site: Site, tmp_path: Path
) -> None:
    circuits = [f"{b.id}.{z.id}" for b in demo_site.buildings for z in b.zones
                if any(p.id == "eclairage" for p in z.points)]

    async def body() -> None:
        async with rig(demo_site, tmp_path / "gtb.sqlite",
                       start=MONDAY_4PM.replace(hour=3)) as r:
            world = r.virtual.world
            await r.tick()
            assert all(world.read(f"{zone}.eclairage") == 0.0 for zone in circuits)
            assert _status(r, "mairie.accueil").reason.fr == "inoccupé, personne : éteint"
            # A school morning: wherever the detector sees someone, the light is on.
            lit_somewhere = False
            await _tick_at(r, MONDAY_4PM.replace(hour=8))
            for _ in range(24):
                await r.tick(after_s=600)
                for zone in circuits:
                    if world.read(f"{zone}.presence") == 1.0:
                        lit_somewhere = True
                        assert world.read(f"{zone}.eclairage") == 1.0, zone
            assert lit_somewhere
            # Nobody after the day: off once the vacancy delay has passed.
            await _tick_at(r, MONDAY_4PM.replace(hour=23, minute=45))
            await r.tick(after_s=20 * 60)
            lit = {zone: _status(r, zone).reason.fr for zone in circuits
                   if world.read(f"{zone}.eclairage") != 0.0}
            assert not lit

    run(body)


def test_the_fountain_pump_follows_its_programme(demo_site: Site, tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(demo_site, tmp_path / "gtb.sqlite",
                       start=MONDAY_4PM.replace(hour=9, minute=55)) as r:
            world = r.virtual.world
            await r.tick()
            assert world.read("fontaine.pompe") == 0.0
            assert _status(r, "fontaine").reason.fr == "programme : arrêt jusqu'à 10:00"
            await r.tick(after_s=10 * 60)
            assert world.read("fontaine.pompe") == 1.0
            assert _status(r, "fontaine").reason.fr == "programme : en marche jusqu'à 19:00"

    run(body)


def test_a_watched_river_level_raises_escalates_and_ends(demo_site_text: str,
                                                         tmp_path: Path) -> None:
    """The Scarpe's level at the bridge: alert at 3.5 m, critical at 4.2 m, after 10
    minutes, ended 0.1 m below the threshold. The gauge is a LoRaWAN device in the demo;
    here on a Modbus input of the town hall, as it was, so that the test moves the level
    tick by tick (the watch is the engine's, whatever the protocol)."""
    key = "mairie.niveau-scarpe"
    port = parse_site(demo_site_text).point("mairie.chaudiere").binding.port  # type: ignore[union-attr]
    site = parse_site(demo_site_text.replace(
        "binding: {protocol: lorawan, device: jauge-scarpe, field: level}",
        f"binding: {{protocol: modbus, host: 127.0.0.1, port: {port}, unit: 1, "
        "table: input_register, address: 50, data_type: uint16, scale: 0.01}"))
    assert site.point(key).binding.protocol == "modbus"

    async def body() -> None:
        async with rig(site, tmp_path / "gtb.sqlite", start=MONDAY_4PM) as r:
            world = r.virtual.world
            await r.tick()
            world.set_measurement(key, 3.8)
            await r.tick(after_s=300)
            assert f"watch:{key}" not in r.store.alarms.active()  # not for 10 min yet
            await r.tick(after_s=600)
            alarm = r.store.alarms.active()[f"watch:{key}"]
            assert alarm.severity.value == "warning"
            assert alarm.message.startswith("Crue de la Scarpe : Niveau de la Scarpe au pont "
                                            "à 3,8 m")
            world.set_measurement(key, 4.5)
            await r.tick(after_s=60)
            await r.tick(after_s=660)
            alarm = r.store.alarms.active()[f"watch:{key}"]
            assert alarm.severity.value == "critical"
            world.set_measurement(key, 3.45)  # below 3.5, within the hysteresis: kept
            await r.tick(after_s=60)
            assert r.store.alarms.active()[f"watch:{key}"].severity.value == "warning"
            world.set_measurement(key, 3.3)
            await r.tick(after_s=60)
            assert f"watch:{key}" not in r.store.alarms.active()
            assert any(m.startswith("Fin d'alarme : Niveau de la Scarpe")
                       for m in r.events("alarm"))

    run(body)
