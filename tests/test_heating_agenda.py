"""A zone under the agenda (``controllers.agenda``): the pre-heat toward an event is the
learned optimal start where a thermal model exists, the fixed early start otherwise; the
engine and the bench decide alike; the bench's agenda is what a manager enters."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from controllers.forecast import OutdoorForecast
from controllers.learning import ZoneLearner
from controllers.schedule import FrenchCalendar
from controllers.thermal import ThermalModel
from gtb.clock import SimulatedClock
from gtb.engine.decisions import Decider
from gtb.engine.journal import Journal
from gtb.engine.reading import Snapshot
from gtb.model import ComfortLevels, Site
from gtb.model.calendar import AgendaEntry, Programme
from gtb.model.points import HeatingLevel, Quality
from gtb.sim.occupants import Occupants
from gtb.sim.season import (
    AsFound,
    FixedProgramme,
    Learned,
    Observations,
    Sensors,
    ZoneCommand,
    restrict,
    simulate,
    tabulated_world,
)
from gtb.store import Store

PARIS = ZoneInfo("Europe/Paris")
LEVELS = ComfortLevels()
CALENDAR = FrenchCalendar("B")
OFFICE = Programme(mon=("08:00-17:30",), tue=("08:00-17:30",), wed=("08:00-17:30",),
                   thu=("08:00-17:30",), fri=("08:00-17:30",))
FITTED = datetime(2026, 1, 1, tzinfo=UTC)
FAST = ThermalModel(k=0.05, g=5.0, g_warmup=5.0, g_after_long_absence=4.0,
                    warmup_error_minutes=3.0, samples=500, fitted_at=FITTED, warmups=12,
                    warmup_error_after_long_absence_minutes=4.0)
"""Warms 16 -> 19 °C at 2 °C outside in under an hour, from a cold structure too."""
SLOW = ThermalModel(k=0.05, g=1.2, g_warmup=1.2, g_after_long_absence=1.0,
                    warmup_error_minutes=5.0, samples=500, fitted_at=FITTED, warmups=12,
                    warmup_error_after_long_absence_minutes=6.0)
"""Needs hours for the same."""
TOURNAMENT = AgendaEntry(kind="event", label="Tournoi de badminton",
                         start=datetime(2026, 1, 18, 9, 0), end=datetime(2026, 1, 18, 18, 0))
"""Sunday 18 January 2026, 09:00-18:00; the programme has nothing on Sundays."""
SUNDAY_NINE = datetime(2026, 1, 18, 9, 0, tzinfo=PARIS)


def zone(model: ThermalModel | None) -> ZoneLearner:
    learner = ZoneLearner(OFFICE, "mairie", CALENDAR, LEVELS, PARIS)
    learner.thermal = model
    return learner


def before(minutes: int) -> datetime:
    return SUNDAY_NINE - timedelta(minutes=minutes)


def test_a_learned_preheat_toward_an_event_starts_later_on_a_fast_zone_earlier_on_a_slow_one(
) -> None:
    def comfort_from(model: ThermalModel | None) -> int:
        """Minutes before the event the zone is first asked for comfort (15-min steps)."""
        learner = zone(model)
        for minutes in range(6 * 60, -1, -15):
            decision = learner.decide(before(minutes), indoor=16.0, outdoor=2.0,
                                      present=False, agenda=(TOURNAMENT,))
            if decision.level is HeatingLevel.COMFORT:
                return minutes
        raise AssertionError("never pre-heated")

    fixed = comfort_from(None)
    assert fixed == 120  # the fixed early start: 2 h, Friday's end is not 48 h before
    fast, slow = comfort_from(FAST), comfort_from(SLOW)
    # Just in time, with its margin (set back to frost protection before: the slower
    # warm-up of a cold structure).
    warmup = FAST.warmup_minutes(16.0, 19.0, 2.0, after_long_absence=True)
    assert warmup + 20 - 15 < fast <= warmup + 20 < fixed  # the first step after its start
    assert fixed < slow <= 180  # earlier, within the learned pre-heat's cap


def test_the_preheat_toward_an_event_names_it_and_the_setback_before_it_too() -> None:
    learner = zone(FAST)
    waiting = learner.decide(before(120), indoor=16.0, outdoor=2.0, present=False,
                             agenda=(TOURNAMENT,))
    assert waiting.level is not HeatingLevel.COMFORT and waiting.planned is not None
    assert waiting.reason.fr.startswith("Inoccupé (Tournoi de badminton dimanche 18/01 à "
                                        "09:00) : ")
    started = learner.decide(before(45), indoor=16.0, outdoor=2.0, present=False,
                             agenda=(TOURNAMENT,))
    assert started.level is HeatingLevel.COMFORT
    assert started.preheat is not None and started.preheat.agenda
    assert started.reason.fr == "Préchauffage démarré à 08:15 pour Tournoi de badminton (09:00)"
    assert started.reason.en == "Preheat started at 08:15 for Tournoi de badminton (09:00)"
    assert (started.reason.details("fr") or "").startswith("arrivée connue par l'agenda ; ")
    # Under way, the event decides: comfort, and the reason says why.
    during = learner.decide(SUNDAY_NINE + timedelta(hours=2), indoor=19.0, outdoor=2.0,
                            present=True, agenda=(TOURNAMENT,))
    assert during.level is HeatingLevel.COMFORT
    assert during.reason.fr == ("Occupé (Tournoi de badminton) jusqu'à 18:00 : confort "
                                "19,0 °C")


def test_without_a_thermal_model_the_fixed_early_start_applies_to_an_event() -> None:
    learner = zone(None)
    assert learner.decide(before(125), indoor=16.0, outdoor=2.0, present=False,
                          agenda=(TOURNAMENT,)).level is HeatingLevel.REDUCED
    fixed = learner.decide(before(120), indoor=16.0, outdoor=2.0, present=False,
                           agenda=(TOURNAMENT,))
    assert fixed.level is HeatingLevel.COMFORT
    assert fixed.reason.fr == "Préchauffage fixe de 2 h : occupation prévue à 09:00"
    # Learning switched off, with a model: the same.
    learner = zone(FAST)
    learner.learning = False
    assert learner.decide(before(120), indoor=16.0, outdoor=2.0, present=False,
                          agenda=(TOURNAMENT,)).reason.code == "heating.fixed_preheat"


def test_a_closure_is_a_setback_whatever_was_learned() -> None:
    works = AgendaEntry(kind="closure", label="Travaux", start=datetime(2026, 1, 13, 0, 0),
                        end=datetime(2026, 1, 14, 0, 0))
    tuesday = datetime(2026, 1, 13, 10, 0, tzinfo=PARIS)
    learner = zone(FAST)
    assert learner.decide(tuesday, indoor=19.0, outdoor=2.0, present=False
                          ).level is HeatingLevel.COMFORT
    closed = learner.decide(tuesday, indoor=19.0, outdoor=2.0, present=False, agenda=(works,))
    assert closed.level is HeatingLevel.REDUCED
    assert closed.reason.fr.startswith("Inoccupé (Travaux, ")


def test_the_reopening_after_a_closure_gets_a_learned_preheat_from_a_cold_zone() -> None:
    """A week's closure to Sunday: the zone is at 9 °C, colder than any warm-up its model
    was learnt on, so its pre-heat toward Monday's 08:00 starts at the 12 h cap, during
    the closure, where the fixed early start would wait until 04:00; the rest of the
    closure is its setback, named."""
    closed = AgendaEntry(kind="closure", label="Fermeture", start=datetime(2026, 1, 12, 0, 0),
                         end=datetime(2026, 1, 19, 0, 0))
    cold = replace(SLOW, coldest_warmup_start=14.0)
    sunday = datetime(2026, 1, 18, 20, 15, tzinfo=PARIS)
    learner = zone(cold)
    early = learner.decide(sunday, indoor=9.0, outdoor=2.0, present=False, agenda=(closed,))
    assert early.level is HeatingLevel.COMFORT and early.preheat is not None
    assert early.reason.fr.startswith("Préchauffage démarré à 20:15")
    without = zone(None).decide(sunday, indoor=9.0, outdoor=2.0, present=False,
                                agenda=(closed,))
    assert without.level is HeatingLevel.FROST_PROTECTION
    assert without.reason.fr.startswith("Inoccupé plus de 48 h (Fermeture, ")
    midweek = zone(cold).decide(sunday - timedelta(days=3), indoor=9.0, outdoor=2.0,
                                present=False, agenda=(closed,))
    assert midweek.level is HeatingLevel.FROST_PROTECTION
    assert midweek.reason.fr.startswith("Inoccupé plus de 48 h (Fermeture, ")


def test_the_agenda_a_manager_enters_holds_events_closures_and_councils_not_clubs(
    demo_site: Site
) -> None:
    occupants = Occupants(demo_site, seed=1)
    first, last = date(2025, 1, 1), date(2026, 12, 31)
    entries = occupants.agenda(first, last)
    events = {(f"{building.id}.{zone_id}", e.day, e.label)
              for building in demo_site.buildings for year in (2025, 2026)
              for e in occupants.events(building.id, year) if first <= e.day <= last
              for zone_id in e.zone_ids}
    councils = {day for year in (2025, 2026)
                for day in occupants.council_meetings("mairie.salle-du-conseil", year)
                if first <= day <= last}
    closed = {(building.id, c.day) for building in demo_site.buildings
              for year in (2025, 2026) for c in occupants.closures(building.id, year)
              if first <= c.day <= last and c.kind == "closed"}
    strikes = [c for year in (2025, 2026) for c in occupants.closures("ecole", year)
               if first <= c.day <= last and c.kind == "strike"]
    assert events and councils and closed and strikes
    entered_events = {(key, e.first_day, e.label.lower()) for e in entries
                      if e.kind == "event" and e.label != "Conseil municipal"
                      for key in e.scope}
    assert entered_events == {(key, day, label.lower()) for key, day, label in events}
    assert {e.first_day for e in entries if e.label == "Conseil municipal"} == councils
    assert {(e.scope[0], e.first_day) for e in entries if e.kind == "closure"} == closed
    # Strikes (the school opens), clubs and their matches are not entered.
    assert not {s.day for s in strikes} & {e.first_day for e in entries if "ecole" in e.scope}
    clubs = {club.name for club in occupants.associations("gymnase", 2025)}
    assert not any(club in e.label.lower() for e in entries for club in clubs)
    assert {e.kind for e in entries} == {"event", "closure"}
    # An entered event is when the simulated people are there.
    tournament = next(e for e in entries if e.label == "Tournoi")
    assert tournament.start is not None
    day = occupants.day("gymnase.salle", tournament.start.date())
    noon = 12 * 60 // 5
    assert day[noon] > 20 and day[: 8 * 60 // 5].max() == 0


def test_the_bench_gives_fixed_the_agenda_and_as_found_none(demo_site: Site) -> None:
    site = demo_site.model_copy(update={"agenda": (
        TOURNAMENT.model_copy(update={"scope": ("gymnase.salle",)}),)})
    now = SUNDAY_NINE + timedelta(hours=1)
    fixed = FixedProgramme(site).setpoints(now, None)  # type: ignore[arg-type]
    assert fixed["gymnase.salle"] == ZoneCommand(HeatingLevel.COMFORT, 19.0)
    assert fixed["gymnase.vestiaires"].level is not HeatingLevel.COMFORT
    as_found = AsFound(site).setpoints(now, None)  # type: ignore[arg-type]
    assert as_found["gymnase.salle"].level is HeatingLevel.REDUCED


def test_a_season_run_follows_the_communes_agenda(demo_site: Site) -> None:
    """The gym's tournament of Sunday 18 January 2026 (weather and occupants 1), which
    only the agenda tells: ``fixed`` heats the hall for it."""
    gym = restrict(demo_site, ["gymnase"])
    run = simulate(gym, "fixed", 1, datetime(2026, 1, 18, tzinfo=PARIS),
                   datetime(2026, 1, 19, tzinfo=PARIS), warm_up=timedelta(hours=6))
    trace = run.trace
    counted = trace.counted_from // 3  # control steps
    noon = counted + 12 * 4
    assert trace.setpoint[noon, 0] == 19.0  # the hall, at comfort for the tournament
    assert trace.setpoint[noon, 1] < 19.0  # its changing rooms are not in the entry


def test_the_engine_and_the_bench_decide_alike_before_and_for_an_event(
    demo_site: Site, tmp_path: Path
) -> None:
    """The council room of the town hall, with a learned thermal model, an event entered
    for a Sunday afternoon: the engine's decision and the bench's ``learned`` are the
    same, from the same readings, before the pre-heat and during it."""
    mairie = restrict(demo_site, ["mairie"])
    event = AgendaEntry(kind="event", label="Repas des aînés",
                        scope=("mairie.salle-du-conseil",),
                        start=datetime(2026, 1, 18, 14, 0), end=datetime(2026, 1, 18, 17, 0))
    site = mairie.model_copy(update={"agenda": (event,)})
    key = "mairie.salle-du-conseil"
    for now in (datetime(2026, 1, 18, 9, 0, tzinfo=PARIS),
                datetime(2026, 1, 18, 13, 50, tzinfo=PARIS)):
        world = tabulated_world(site, 1, now.astimezone(UTC), 2)
        seen = Observations(world, Sensors(site), now.astimezone(UTC))
        bench = Learned(site)
        bench.learners[key].thermal = FAST
        command = bench.setpoints(now.astimezone(UTC), seen)[key]
        with Store(tmp_path / f"{now:%H%M}.sqlite") as store:
            forecast = seen.outdoor_forecast()

            def forecasts(when: datetime, outdoor: float | None,
                          forecast: OutdoorForecast | None = forecast
                          ) -> OutdoorForecast | None:
                return forecast

            decider = Decider(site, store, Journal(store, SimulatedClock(now), site.id),
                              FrenchCalendar(site.school_zone), forecasts)
            decider.learners[key].thermal = FAST
            values = {ref.key: world.read(ref.key) for ref in site.points()}
            quality = {k: Quality.OK if v is not None else Quality.FAILED
                       for k, v in values.items()}
            engine = decider.decide(now.astimezone(UTC), Snapshot(values, quality)).zones[key]
        assert (engine.level, engine.setpoint) == (command.level, command.setpoint)
        if now.hour == 13:
            assert engine.level is HeatingLevel.COMFORT
            assert engine.reason.code == "heating.preheat_event"
            assert "pour Repas des aînés (14:00)" in engine.reason.fr
        else:
            assert engine.level is not HeatingLevel.COMFORT
            assert "Repas des aînés dimanche 18/01 à 14:00" in engine.reason.fr
