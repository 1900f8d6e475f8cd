"""The demo's simulated past (``gtb.sim.past``), on short histories so that it runs in
seconds: a few months under the former programme, then the engine, with the school's
valve stuck open for ten days; and the cache that later starts of the demo reuse.

The full history (a year and a year, the whole commune) is what ``gtb demo`` makes; its
timings are in docs/simulation.md."""

from __future__ import annotations

import itertools
import sqlite3
import time as clock
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from gtb.clock import SimulatedClock
from gtb.config import load_site
from gtb.model import Site
from gtb.model.lorawan import LorawanBinding
from gtb.model.points import Role
from gtb.savings.readings import meter_days
from gtb.savings.site import default_baseline_period
from gtb.sim.past import (
    FINE_DAYS,
    RAW_DAYS,
    Fault,
    HistoryState,
    commands,
    demo_history,
    generate,
    where_it_stopped,
)
from gtb.sim.runner import VirtualSite
from gtb.sim.season import restrict
from gtb.sim.world import VirtualCommune
from gtb.store import Store

from .conftest import DEMO_SITE

PARIS = ZoneInfo("Europe/Paris")
END = datetime(2026, 3, 2, tzinfo=PARIS)
TAKEOVER = datetime(2026, 1, 1, tzinfo=PARIS)
FAULT = Fault("ecole.elementaire", datetime(2026, 1, 12, tzinfo=PARIS),
              datetime(2026, 1, 22, tzinfo=PARIS))
HEAT = "ecole.compteur-chauffage"


@pytest.fixture(scope="module")
def site() -> Site:
    return restrict(load_site(DEMO_SITE), ["mairie", "ecole"])


@pytest.fixture(scope="module")
def history(site: Site, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[Store, HistoryState]]:
    """October to December under the programme, January and February under the engine."""
    path = tmp_path_factory.mktemp("history") / "history.sqlite"
    with Store(path) as store:
        state = generate(site, 0, store, END, baseline_days=92, engine_days=60, fault=FAULT,
                         workers=1)
        yield store, state


def test_the_engine_took_over_after_the_baseline(site: Site,
                                                 history: tuple[Store, HistoryState]) -> None:
    store, state = history
    assert (state.start, state.takeover, state.end) == (
        datetime(2025, 10, 1, tzinfo=PARIS), TAKEOVER, END)
    [started] = store.audit.events(kind="engine")
    assert started.message == "Moteur démarré" and started.ts == TAKEOVER
    # The savings' default baseline is the year before that first start.
    assert default_baseline_period(store, site) == (date(2025, 1, 1), date(2025, 12, 31))


def test_the_stuck_valve_raises_the_alarm_and_normal_weeks_do_not(
        history: tuple[Store, HistoryState]) -> None:
    store, _ = history
    [alarm] = store.alarms.history()
    assert alarm.key == "efficiency:ecole:compteur-chauffage"
    assert alarm.severity == "warning" and alarm.point == HEAT
    # Found on the morning after the fault's third day (the figures of three days).
    assert alarm.raised_at == FAULT.start + timedelta(days=3, hours=1)
    assert alarm.raised_at.astimezone(PARIS).time() == time(1)  # the morning check
    assert alarm.cleared_at is not None
    assert FAULT.end < alarm.cleared_at <= FAULT.end + timedelta(days=4)
    assert "« Compteur chauffage » (École Jules-Ferry) a consommé" in alarm.message
    raised, cleared = sorted(store.audit.events(kind="efficiency_loss"), key=lambda e: e.ts)
    assert (raised.data["state"], raised.ts) == ("raised", alarm.raised_at)
    assert (cleared.data["state"], cleared.ts) == ("cleared", alarm.cleared_at)


def test_the_fault_shows_in_the_zone_and_the_meter(site: Site,
                                                   history: tuple[Store, HistoryState]) -> None:
    store, _ = history
    during = store.rollups.hourly("ecole.elementaire.temperature", FAULT.start, FAULT.end)
    after = store.rollups.hourly("ecole.elementaire.temperature", FAULT.end + timedelta(days=2),
                         FAULT.end + timedelta(days=12))
    assert max(h.max for h in during) > 24.0 > max(h.max for h in after)
    daily = meter_days(store, HEAT, date(2026, 1, 5), date(2026, 2, 1), PARIS)
    stuck = [kwh for day, kwh in daily.items() if date(2026, 1, 13) <= day <= date(2026, 1, 21)]
    weeks_after = [kwh for day, kwh in daily.items() if day >= date(2026, 1, 23)]
    assert min(stuck) > 1.5 * sum(weeks_after) / len(weeks_after)


def test_meters_count_on_across_the_takeover(history: tuple[Store, HistoryState]) -> None:
    store, state = history
    for meter in (HEAT, "mairie.compteur-electricite", "ep-centre.compteur"):
        hours = store.rollups.hourly(meter, state.start, state.end)
        steps = [b.last - a.last for a, b in itertools.pairwise(hours)]
        assert min(steps) >= 0.0, meter
        at = next(n for n, h in enumerate(hours) if h.hour >= TAKEOVER)
        assert steps[at - 1] < 4 * max(1.0, sum(steps) / len(steps)), meter


def test_public_lighting_went_from_dusk_to_dawn_to_the_timetable(
        history: tuple[Store, HistoryState]) -> None:
    store, _ = history
    daily = meter_days(store, "ep-centre.compteur", date(2025, 12, 1), date(2026, 1, 31), PARIS)
    december = [kwh for day, kwh in daily.items() if day.month == 12]
    january = [kwh for day, kwh in daily.items() if day.month == 1]
    full_night = 6.4 * 15.5  # the cabinet's kW, over a December night
    assert sum(december) / len(december) == pytest.approx(full_night, rel=0.1)
    assert sum(january) / len(january) < 0.6 * full_night  # cut at night, dimmed


def test_what_the_store_holds(history: tuple[Store, HistoryState]) -> None:
    store, state = history
    point = "ecole.elementaire.temperature"
    fine = store.samples.read(point, END - timedelta(days=FINE_DAYS), END)
    assert len(fine) == FINE_DAYS * 96  # every 15 minutes at the end
    older = store.samples.read(point, END - timedelta(days=RAW_DAYS),
                               END - timedelta(days=FINE_DAYS))
    assert {s.ts.minute for s in older} == {0} and len(older) >= (RAW_DAYS - FINE_DAYS) * 23
    assert store.samples.read(point, state.start, END - timedelta(days=RAW_DAYS + 1)) == []
    hours = (END.astimezone(UTC) - state.start.astimezone(UTC)) // timedelta(hours=1)
    assert store.rollups.count(point, state.start, END) == hours
    store.rollups.delete_before(END)  # the monthly totals were kept: they outlive the hours
    months = store.rollups.monthly(HEAT, date(2025, 10, 1), date(2026, 2, 1), PARIS)
    assert [m.month.month for m in months] == [10, 11, 12, 1, 2]
    learned = store.learning.of("ecole.elementaire")
    assert learned is not None and learned.model["thermal"] is not None
    assert len(learned.model["days"]) >= 50


def _dump(db: Path) -> dict[str, list[Any]]:
    tables = {"samples": "SELECT p.key, s.ts, s.value FROM samples s JOIN points p "
                         "ON p.id = s.point_id ORDER BY 1, 2",
              "hourly": "SELECT p.key, h.hour, h.count, h.total, h.last FROM hourly h "
                        "JOIN points p ON p.id = h.point_id ORDER BY 1, 2",
              "monthly": "SELECT p.key, m.month, m.total FROM monthly m JOIN points p "
                         "ON p.id = m.point_id ORDER BY 1, 2",
              "events": "SELECT ts, kind, message FROM events ORDER BY id",
              "alarms": "SELECT key, raised_at, cleared_at, message FROM alarms ORDER BY id",
              "learning": "SELECT zone, model FROM zone_learning ORDER BY zone"}
    with sqlite3.connect(db) as conn:
        return {name: conn.execute(query).fetchall() for name, query in tables.items()}


def test_the_cache_is_reused_and_gives_the_same_store(tmp_path: Path) -> None:
    until = datetime(2026, 3, 4, 10, 40, tzinfo=PARIS)
    first = tmp_path / "first" / "demo.sqlite"
    began = clock.monotonic()
    made = demo_history(DEMO_SITE, 0, first, until, days=(40, 20))
    made_s = clock.monotonic() - began
    assert made.generated and made.takeover == datetime(2026, 2, 12, tzinfo=PARIS)
    assert made.end == datetime(2026, 3, 4, 10, 30, tzinfo=PARIS)  # up to now, 15 min steps
    [cache] = (tmp_path / "first").glob("demo-history-0-*.sqlite")
    again = cache.parent / "again.sqlite"
    began = clock.monotonic()
    reused = demo_history(DEMO_SITE, 0, again, until, days=(40, 20))
    reused_s = clock.monotonic() - began
    assert not reused.generated and reused_s < min(5.0, made_s / 2)
    assert _dump(first) == _dump(again)
    # The worlds at the end carry the meters' indexes on, for the live commune: the last
    # index stored is of the last whole hour, the plant gives at most 78 kW.
    with Store(again) as store:
        index = store.samples.latest(HEAT)
    [world] = [w for w in reused.worlds if HEAT in w.values()]
    assert index is not None and index.value <= world.read(HEAT) <= index.value + 78.0
    live = VirtualCommune(load_site(DEMO_SITE), reused.end, seed=0)  # what gtb demo serves
    for past in reused.worlds:
        live.carry_on_from(past)
    for past in reused.worlds:
        for zone in past.zone_keys:
            assert live.zone_state(zone).air_temperature == past.zone_state(zone).air_temperature
        meters = [key for key, value in past.values().items() if key.endswith(
            ("compteur", "compteur-chauffage", "compteur-electricite"))]
        assert meters and all(live.read(key) == past.read(key) for key in meters)


def test_a_later_start_carries_the_cached_history_on(tmp_path: Path) -> None:
    """The cache carried on to a later start; the live commune, as ``gtb demo`` builds
    it, takes up from it with its devices holding the history's last commands (the
    Saturday's reduced setpoints), not the building's own comfort defaults, which its
    engine would read once before its first write: no setpoint spike at the start."""
    until = datetime(2026, 3, 4, 10, 40, tzinfo=PARIS)
    db = tmp_path / "demo.sqlite"
    demo_history(DEMO_SITE, 0, db, until, days=(40, 20))
    later = until + timedelta(days=3)  # a Saturday
    carried = demo_history(DEMO_SITE, 0, db, later, days=(40, 20))
    assert not carried.generated
    with Store(db) as store:
        last = store.samples.latest("mairie.temp-ext")
        hours = store.rollups.hourly(HEAT, until - timedelta(days=1), later)
    assert last is not None and later - last.ts.astimezone(UTC) <= timedelta(minutes=30)
    assert all(b.last >= a.last for a, b in itertools.pairwise(hours))
    assert len(hours) >= 4 * 24 - 1

    site = load_site(DEMO_SITE)
    ended, readings = where_it_stopped(site, db)
    assert ended == last.ts
    held = commands(site, readings)
    virtual = VirtualSite(site, SimulatedClock(later), seed=0, carry_on=carried.worlds,
                          taking_up=held)
    setpoints = [ref for ref in site.points() if ref.role is Role.HEATING_SETPOINT]
    with Store(db) as store:
        for ref in setpoints:
            stored = store.samples.latest(ref.key)
            assert stored is not None and held[ref.key] == stored.value, ref.key
            assert virtual.world.read(ref.key) == stored.value, ref.key
            # A LoRaWAN valve is on the air: it reports the commune's setpoint.
            devices = [s for s in virtual.servers if ref.key in s.keys]
            assert devices or isinstance(ref.binding, LorawanBinding), ref.key
            assert all(device.commanded(ref.key) == stored.value for device in devices)
    reduced = [ref.key for ref in setpoints if ref.zone is not None
               and held[ref.key] < site.comfort_of(ref.zone).comfort]
    assert len(reduced) >= len(setpoints) // 2, held


def test_the_creches_history_has_its_fan_speeds_emitter_power_and_pump(tmp_path: Path
                                                                       ) -> None:
    """A week under its programme, a week under the engine: the crèche's heating signals
    and its pump's state are in the store as the engine would have read them."""
    site = restrict(load_site(DEMO_SITE), ["creche"])
    with Store(tmp_path / "creche.sqlite") as store:
        generate(site, 0, store, END, baseline_days=7, engine_days=7, fault=None, workers=1)
        day = END - timedelta(days=4)  # a Thursday
        pump = store.samples.read("creche.circulateur", day, day + timedelta(days=1))
        running = {s.ts.astimezone(PARIS).time() for s in pump if s.value == 1.0}
        assert time(5, 30) in running and time(18, 45) in running
        assert time(5, 15) not in running and time(19) not in running
        fan = store.samples.read("creche.bebes.ventilo", day, day + timedelta(days=1))
        assert max(s.value for s in fan) > 0
        assert all(s.value == 0 for s in fan if s.ts.astimezone(PARIS).time() < time(5, 30))
        power = store.samples.read("creche.bureau.puissance", day, day + timedelta(days=1))
        assert len(power) == 96 and max(s.value for s in power) > 0
        assert store.samples.latest("creche.compteur-chauffage") is not None
        for zone in ("bebes", "moyens", "grands", "bureau"):
            assert store.learning.of(f"creche.{zone}") is not None, zone


def test_the_salle_des_fetes_and_the_river_gauge_have_their_history(tmp_path: Path) -> None:
    """Their LoRaWAN devices are not asked by the history (no broker there): the zones'
    points are the physics', as for every zone, and the gauge reads the seeded river."""
    site = restrict(load_site(DEMO_SITE), ["mairie", "salle-des-fetes"])
    with Store(tmp_path / "salle.sqlite") as store:
        generate(site, 0, store, END, baseline_days=7, engine_days=7, fault=None, workers=1)
        day = END - timedelta(days=4)
        for zone in ("grande-salle", "petite-salle"):
            for point in ("temperature", "consigne", "vanne"):
                samples = store.samples.read(f"salle-des-fetes.{zone}.{point}", day,
                                             day + timedelta(days=1))
                assert len(samples) == 96, (zone, point)
        presence = store.samples.read("salle-des-fetes.grande-salle.presence", day,
                                      day + timedelta(days=1))
        assert len(presence) == 96
        gauge = store.samples.read("mairie.niveau-scarpe", day, day + timedelta(days=1))
        assert len(gauge) == 96
        [river] = VirtualCommune(site, END, seed=0).rivers.values()
        assert [s.value for s in gauge] == pytest.approx(
            [river.level(s.ts.timestamp()) for s in gauge])
