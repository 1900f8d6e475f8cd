"""Optimal start and stop from what a zone has learned, and the fallbacks."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter, ValidationError

from controllers.forecast import OutdoorForecast
from controllers.heating import (
    HeatingDecision,
    Learning,
    before,
    elapsed,
    learned_decision,
    programme_decision,
)
from controllers.learning import ZoneLearner
from controllers.occupancy import ArrivalForecast
from controllers.plant import PlantClock
from controllers.schedule import FrenchCalendar, occupation
from controllers.thermal import ThermalModel
from gtb.clock import SimulatedClock
from gtb.engine.decisions import Decider
from gtb.engine.journal import Journal
from gtb.engine.reading import Snapshot
from gtb.model import ComfortLevels, Site
from gtb.model.calendar import AgendaEntry, Programme
from gtb.model.learning import LearningSettings
from gtb.model.points import HeatingLevel, Quality
from gtb.store import Store
from gtb.texts import Reason, said
from web.api_models import Text

PARIS = ZoneInfo("Europe/Paris")
LEVELS = ComfortLevels()
OFFICE = Programme(mon=("08:00-17:30",), tue=("08:00-17:30",), wed=("08:00-17:30",),
                   thu=("08:00-17:30",), fri=("08:00-17:30",))
CALENDAR = FrenchCalendar("B")
# Warms 16 -> 19 °C at 2 °C outside in about 40 min; coasts slowly (well insulated).
ZONE = ThermalModel(k=0.05, g=5.0, g_warmup=5.0, g_after_long_absence=4.0,
                    warmup_error_minutes=3.0, samples=500,
                    fitted_at=datetime(2026, 1, 1, tzinfo=UTC), warmups=12)


def at(hour: int, minute: int = 0, day: int = 13) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=PARIS)  # Tuesday 13 January


def forecast(start: datetime | None, basis: str = "learned",
             end: datetime | None = None) -> ArrivalForecast:
    return ArrivalForecast(start, end, 0.95, basis, 12, said("appris", "learned"))


EIGHT = datetime(2026, 1, 13, 8, 0, tzinfo=PARIS)


def decide(now: datetime, indoor: float, arrival: datetime | None = EIGHT, *,
           present: bool = False, previous: HeatingDecision | None = None,
           model: ThermalModel = ZONE, basis: str = "learned",
           departure: datetime | None = None, weather: OutdoorForecast | None = None,
           plant: PlantClock | None = None) -> HeatingDecision:
    learning = Learning(forecast(arrival, basis, departure), model, indoor, 2.0, present,
                        weather=weather)
    return learned_decision(occupation(OFFICE, CALENDAR, "mairie", now), now, LEVELS,
                            learning, previous, plant=plant)


def test_starts_just_in_time_for_the_learned_arrival_and_holds_it() -> None:
    warmup = ZONE.warmup_minutes(16.0, 19.0, 2.0)
    assert 30 < warmup < 50
    lead = warmup + 20  # the margin floor: the model's own error is smaller
    early = decide(at(8) - timedelta(minutes=lead + 5), 16.0)
    assert early.level is HeatingLevel.FROST_PROTECTION
    # Waiting, it says what it waits for, and when it will start.
    expected = (EIGHT - timedelta(minutes=lead)).strftime("%H:%M")
    # Back at comfort in time from there: a deep setback, not the reduced level.
    assert early.reason.fr == ("Inoccupé (appris) : hors-gel 8,0 °C, la relance rattrape "
                               f"l'arrivée, préchauffage prévu à {expected}")
    now = at(8) - timedelta(minutes=lead - 1)
    start = decide(now, 16.0)
    assert start.level is HeatingLevel.COMFORT
    # One short sentence: when it started, for what; the rest on demand.
    assert start.reason.fr == (f"Préchauffage démarré à {now:%H:%M} pour l'arrivée prévue "
                               "à 08:00")
    details = start.reason.details("fr")
    assert details is not None and details.startswith("arrivée apprise sur 12 jours semblables")
    assert "par 2,0 °C extérieurs (température actuelle, sans prévision)" in details
    assert "marge 20 min" in details
    # Warmer now, the estimate shrinks; the preheat started is held until the arrival.
    assert decide(at(7, 30), 18.8, previous=start).level is HeatingLevel.COMFORT
    assert decide(at(7, 30), 18.8).level is HeatingLevel.FROST_PROTECTION


def test_the_start_shown_is_latched_while_the_estimate_shrinks() -> None:
    previous = decide(at(7, 0), 16.0)
    assert previous.level is HeatingLevel.COMFORT
    shown = previous.reason.fr
    assert shown.startswith("Préchauffage démarré à 07:00 ")
    for now, indoor in ((at(7, 10), 16.8), (at(7, 25), 17.6), (at(7, 40), 18.5),
                        (at(7, 55), 18.9)):
        previous = decide(now, indoor, previous=previous)
        assert previous.level is HeatingLevel.COMFORT
        assert previous.reason.fr == shown
    # The latch ends with the pre-heat: at the arrival, the zone is simply waiting warm.
    after = decide(at(8, 5), 19.0, previous=previous)
    assert after.preheat is None and not after.reason.fr.startswith("Préchauffage")


def test_a_colder_forecast_starts_earlier_than_persistence() -> None:
    flat = decide(at(6, 55), 16.0)
    assert flat.level is HeatingLevel.FROST_PROTECTION
    # Now 2 °C, but -8 °C forecast from 06:00: the warm-up is longer, it starts now.
    cold = OutdoorForecast.of([(at(5), 2.0), (at(6), -8.0), (at(10), -8.0)])
    colder = decide(at(6, 55), 16.0, weather=cold)
    assert colder.level is HeatingLevel.COMFORT
    details = colder.reason.details("fr")
    assert details is not None and "par -8,0 °C extérieurs (prévision)" in details
    # Milder than now: later than persistence.
    mild = OutdoorForecast.of([(at(5), 2.0), (at(6), 12.0), (at(10), 12.0)])
    assert decide(at(7, 0), 16.0).level is HeatingLevel.COMFORT
    assert decide(at(7, 0), 16.0, weather=mild).level is HeatingLevel.FROST_PROTECTION


def test_a_preheat_never_starts_before_the_plant_can_deliver_heat() -> None:
    # The emission pump runs from 07:30: the needed start (about 06:58) is before it.
    pump = PlantClock(Programme(tue=("07:30-18:00",)))
    waiting = decide(at(7, 5), 16.0, plant=pump)
    assert waiting.level is HeatingLevel.REDUCED
    assert waiting.planned == at(7, 30)
    assert waiting.reason.fr.startswith("Inoccupé (appris) : réduit 16,0 °C, préchauffage à "
                                        "07:30, quand le chauffage sera disponible (")
    assert "min plus tard que nécessaire pour 08:00)" in waiting.reason.fr
    started = decide(at(7, 30), 16.0, plant=pump, previous=waiting)
    assert started.level is HeatingLevel.COMFORT
    assert started.preheat is not None and 25 < started.preheat.late_minutes < 40
    assert started.reason.fr.startswith("Préchauffage démarré à 07:30, dès que le chauffage "
                                        "l'a permis (")
    # Its point says no heat now, and no schedule says when: no pre-heat, and it says so.
    off = decide(at(7, 5), 16.0, plant=PlantClock(available=False))
    assert off.level is HeatingLevel.REDUCED and off.planned is None
    assert "préchauffage impossible : chauffage indisponible" in off.reason.fr
    # A plant available all along changes nothing.
    assert decide(at(7, 5), 16.0, plant=PlantClock(available=True)).level is (
        HeatingLevel.COMFORT)


def test_the_fixed_early_start_waits_for_the_plant_and_says_why() -> None:
    pump = PlantClock(Programme(tue=("07:00-18:00",)))
    now = at(6, 30)
    where = occupation(OFFICE, CALENDAR, "mairie", now)
    waiting = programme_decision(where, now, LEVELS, plant=pump)
    assert waiting.level is HeatingLevel.REDUCED
    assert "préchauffage à 07:00, quand le chauffage sera disponible (1 h plus tard" in (
        waiting.reason.fr)
    now = at(7, 0)
    late = programme_decision(occupation(OFFICE, CALENDAR, "mairie", now), now, LEVELS,
                              plant=pump)
    assert late.level is HeatingLevel.COMFORT
    assert late.reason.fr.startswith("Préchauffage fixe de 2 h, commencé 1 h plus tard")


def test_the_fixed_early_start_says_when_the_thermal_model_was_refused() -> None:
    now = at(6, 30)
    refused = programme_decision(occupation(OFFICE, CALENDAR, "mairie", now), now, LEVELS,
                                 refused=said("trop incertain", "too uncertain"))
    assert refused.reason.fr.startswith("Préchauffage fixe de 2 h (modèle thermique refusé)")
    assert refused.reason.details("fr") == "trop incertain"


def test_the_fixed_programme_starts_much_earlier() -> None:
    fixed = programme_decision(occupation(OFFICE, CALENDAR, "mairie", at(6, 30)), at(6, 30),
                               LEVELS)
    assert fixed.level is HeatingLevel.COMFORT  # a fixed 2 h early start
    assert decide(at(6, 30), 16.0).level is HeatingLevel.FROST_PROTECTION


def test_a_slow_zone_starts_at_most_three_hours_early() -> None:
    cold = ThermalModel(k=0.05, g=1.2, g_warmup=1.2, g_after_long_absence=1.0,
                        warmup_error_minutes=5.0, samples=500,
                        fitted_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert math.isinf(cold.warmup_minutes(10.0, 19.0, -5.0)) or (
        cold.warmup_minutes(10.0, 19.0, -5.0) > 180)
    assert decide(at(4, 59), 10.0, model=cold).level is HeatingLevel.REDUCED
    assert decide(at(5, 0), 10.0, model=cold).level is HeatingLevel.COMFORT
    # On Monday, after the weekend at frost protection, it may start the night before:
    # within 12 h, as early as its slow warm-up needs.
    monday = at(8, day=12)
    needed = cold.warmup_minutes(10.0, 19.0, 2.0, after_long_absence=True)
    early = decide(monday - timedelta(hours=8), 10.0, arrival=monday, model=cold)
    assert (early.level is HeatingLevel.COMFORT) == (needed + 20 >= 8 * 60)
    assert decide(monday - timedelta(hours=11, minutes=59), 10.0, arrival=monday,
                  model=cold).level is HeatingLevel.COMFORT
    assert decide(monday - timedelta(hours=12, minutes=1), 10.0, arrival=monday,
                  model=cold).level is HeatingLevel.FROST_PROTECTION


def test_coasts_at_the_end_of_the_period_within_the_comfort_band() -> None:
    assert decide(at(15), 19.0).level is HeatingLevel.COMFORT
    coast = decide(at(17, 15), 19.0)
    # The thermostat is asked for comfort - band, never the reduced level, while people
    # are there.
    assert (coast.level, coast.setpoint, coast.coasting) == (HeatingLevel.COMFORT, 18.5, True)
    assert coast.reason.fr == ("Arrêt anticipé : consigne 18,5 °C, que la zone tient sans "
                               "chauffer jusqu'à la fin prévue à 17:30")
    # Already below the band: heat on.
    assert decide(at(17, 15), 18.3).setpoint == 19.0


def test_an_early_stop_starts_only_in_the_last_hour_and_never_below_one_kelvin() -> None:
    # A zone that would coast for hours (no loss at all): still not before 16:30.
    still = ThermalModel(k=0.001, g=5.0, g_warmup=5.0, g_after_long_absence=4.0,
                         warmup_error_minutes=3.0, samples=500,
                         fitted_at=datetime(2026, 1, 1, tzinfo=UTC), warmups=12)
    for hour, minute in ((9, 0), (12, 0), (16, 29)):
        assert decide(at(hour, minute), 19.0, model=still).setpoint == 19.0
    assert decide(at(16, 30), 19.0, model=still).coasting
    # Held once started, even if the estimate turns; not beyond the hour.
    coast = decide(at(16, 45), 19.0, model=still)
    assert decide(at(17, 0), 18.9, previous=coast).coasting
    # Whatever the settings, the setpoint while people are there is at most 1 K below.
    with pytest.raises(ValidationError):
        LearningSettings(comfort_band_k=1.5)
    wide = LearningSettings(comfort_band_k=1.0, early_stop_max_minutes=30)
    now = at(17, 15)
    widest = learned_decision(occupation(OFFICE, CALENDAR, "mairie", now), now, LEVELS,
                              Learning(forecast(EIGHT), still, 19.0, 2.0, True), None, wide)
    assert widest.coasting and widest.setpoint == LEVELS.comfort - 1.0
    now = at(16, 55)
    assert not learned_decision(occupation(OFFICE, CALENDAR, "mairie", now), now, LEVELS,
                                Learning(forecast(EIGHT), still, 19.0, 2.0, True), None,
                                wide).coasting


def test_a_programmed_period_nobody_uses_stays_set_back_until_someone_comes() -> None:
    # Somebody expected tomorrow: reduced.
    tomorrow = decide(at(10), 16.0, arrival=at(8, day=14))
    assert tomorrow.level is HeatingLevel.REDUCED
    assert tomorrow.reason.fr == ("Période programmée rarement utilisée (appris) : réduit "
                                  "16,0 °C tant que personne n'est détecté")
    # Nobody expected for days: the learned absence is long, frost protection.
    nobody = decide(at(10), 16.0, arrival=None)
    assert nobody.level is HeatingLevel.FROST_PROTECTION
    assert nobody.reason.fr.startswith("Période programmée rarement utilisée (appris) : hors-gel")
    someone = decide(at(10), 16.0, arrival=None, present=True)
    assert someone.level is HeatingLevel.COMFORT
    assert someone.reason.fr.startswith("Présence détectée jusqu'à 17:30")


def test_without_learning_the_programme_applies_unchanged() -> None:
    now = at(6, 30)
    occupied = occupation(OFFICE, CALENDAR, "mairie", now)
    assert learned_decision(occupied, now, LEVELS, None) == programme_decision(occupied, now,
                                                                               LEVELS)
    # Arrivals not learned yet (history too short): the fixed early start, even with a
    # learned warm-up, since the programme's hours are only what was meant.
    guided = decide(now, 16.0, basis="programme")
    assert guided == programme_decision(occupied, now, LEVELS)



def test_once_the_learned_arrival_has_come_the_zone_waits_warm_for_people() -> None:
    # Arrival learned at 07:30, before the 08:00 programme; nobody yet at 07:45.
    waiting = decide(at(7, 45), 19.0, arrival=at(7, 45), departure=at(12))
    assert waiting.level is HeatingLevel.COMFORT
    assert waiting.reason.fr == "Arrivée attendue (appris) : confort 19,0 °C"
    # Past the learned period without anybody: back to the setback.
    assert decide(at(7, 45), 19.0, arrival=at(7, 45), departure=at(7, 45)).level is (
        HeatingLevel.FROST_PROTECTION)


def test_people_who_stay_late_keep_the_zone_warm_until_they_usually_leave() -> None:
    # The programme ends at 17:30; people are learned to stay until 18:30.
    stays = decide(at(17, 15), 19.0, arrival=at(17, 15), departure=at(18, 30))
    assert stays.level is HeatingLevel.COMFORT
    coast = decide(at(18, 15), 19.0, arrival=at(18, 15), departure=at(18, 30), present=True)
    assert coast.coasting
    assert coast.reason.fr.endswith("fin prévue à 18:30")


def test_the_learned_absence_sets_the_level_not_the_programmed_one() -> None:
    # Tuesday night, the programme was left on Tuesday at 17:30 and resumes on Wednesday:
    # a short absence by the programme. But nobody has come since Friday, and the next
    # arrival is learned for Thursday: more than 48 h, so frost protection.
    friday = datetime(2026, 1, 9, 17, 0, tzinfo=PARIS)
    thursday = at(8, day=15)
    learning = Learning(forecast(thursday), ZONE, 12.0, 2.0, False, last_present=friday)
    now = at(22)
    decision = learned_decision(occupation(OFFICE, CALENDAR, "mairie", now), now, LEVELS,
                                learning)
    assert decision.level is HeatingLevel.FROST_PROTECTION
    assert decision.reason.fr.startswith("Inoccupé (appris) : hors-gel 8,0 °C, préchauffage prévu "
                                         "jeudi 15/01 à")
    # Someone came on Tuesday afternoon: the absence is short, reduced.
    learning = Learning(forecast(thursday), ZONE, 12.0, 2.0, False, last_present=at(16))
    decision = learned_decision(occupation(OFFICE, CALENDAR, "mairie", now), now, LEVELS,
                                learning)
    assert decision.level is HeatingLevel.REDUCED


def test_a_room_used_now_and_then_stays_reduced_rather_than_frost_protected() -> None:
    friday = datetime(2026, 1, 9, 17, 0, tzinfo=PARIS)
    now = at(22)
    unexpected = ArrivalForecast(at(8, day=15), None, 0.95, "learned", 12,
                                 said("appris", "learned"), surprise=0.12)
    decision = learned_decision(occupation(OFFICE, CALENDAR, "mairie", now), now, LEVELS,
                                Learning(unexpected, ZONE, 12.0, 2.0, False, friday))
    assert decision.level is HeatingLevel.REDUCED
    assert decision.reason.fr.startswith(
        "Inoccupé (appris) : réduit 16,0 °C, pas hors-gel : venues imprévues certains jours "
        "(jusqu'à 12 % des jours semblables)")


def test_the_details_survive_the_store_and_reach_the_api() -> None:
    reason = decide(at(7, 0), 16.0).reason
    back = TypeAdapter(Reason).validate_json(TypeAdapter(Reason).dump_json(reason))
    assert back.fr == reason.fr and back.details("en") == reason.details("en")
    text = Text.model_validate(back)
    assert text.fr == reason.fr and text.details is not None
    assert text.details.en.startswith("arrival learned from 12 similar days; warm-up estimated")
    # A reason without details has none.
    assert Text.model_validate(said("x")).details is None


def test_the_engine_gives_the_learners_their_forecast_and_the_plants_clock(
    demo_site: Site, tmp_path: Path
) -> None:
    """Tuesday 06:45 in the demo commune, the town hall's emission pump on its own clock
    from 07:00: its zones' fixed early start (06:30) waits for it, and says so; the plant
    is off; the learned zone is given its building's forecast."""
    day = ("07:00-18:00",)
    mairie = demo_site.buildings[0].model_copy(update={"plant_schedule": Programme(
        mon=day, tue=day, wed=day, thu=day, fri=day)})
    site = demo_site.model_copy(update={"buildings": (mairie, *demo_site.buildings[1:])})
    now = at(6, 45)
    asked: list[float | None] = []

    def forecasts(when: datetime, outdoor: float | None) -> OutdoorForecast | None:
        asked.append(outdoor)
        return OutdoorForecast.persistence(when, -3.0)

    with Store(tmp_path / "gtb.sqlite") as store:
        decider = Decider(site, store, Journal(store, SimulatedClock(now), site.id),
                          CALENDAR, forecasts)
        decider.learners["mairie.bureaux"].thermal = ZONE
        keys = [ref.key for ref in site.points()]
        values: dict[str, float | None] = {
            key: 17.0 if key.endswith(".temperature") else 2.0 if "temp-ext" in key else None
            for key in keys}
        quality = {key: Quality.OK if values[key] is not None else Quality.FAILED
                   for key in keys}
        decided = decider.decide(now, Snapshot(values, quality))
    assert asked == [2.0]  # once, with the building's outdoor reading, for its learned zone
    accueil = decided.zones["mairie.accueil"]
    assert accueil.level is HeatingLevel.REDUCED
    assert "préchauffage à 07:00, quand le chauffage sera disponible (30 min plus tard" in (
        accueil.reason.fr)
    plant = decided.outputs["plant:mairie"]
    assert not plant.on and plant.reason.code == "plant.unavailable"
    # The school has no clock of its own: its plant follows its zones as ever.
    assert decided.outputs["plant:ecole"].reason.code != "plant.unavailable"


def test_a_learner_whose_model_was_refused_says_so_in_its_fixed_early_start() -> None:
    zone = ZoneLearner(OFFICE, "mairie", CALENDAR, LEVELS, PARIS)
    zone.thermal_refused = said("perte au plancher, aucune montée vue",
                                "loss rate at its floor, no warm-up seen")
    decision = zone.decide(at(6, 30), indoor=16.0, outdoor=2.0, present=False)
    assert decision.reason.fr.startswith("Préchauffage fixe de 2 h (modèle thermique refusé)")
    assert decision.reason.details("en") == "loss rate at its floor, no warm-up seen"
    # Learning switched off: the programme, and nothing about a model.
    zone.learning = False
    assert zone.decide(at(6, 30), indoor=16.0, outdoor=2.0, present=False).reason.code == (
        "heating.fixed_preheat")


def test_a_latch_left_from_another_day_is_not_taken_for_this_preheat() -> None:
    monday = decide(at(7, 0, day=12), 16.0, arrival=at(8, day=12))
    assert monday.preheat is not None
    # The zone was decided otherwise since (an agenda entry): Tuesday's start is its own.
    tuesday = decide(at(6, 30), 16.0, previous=monday)
    assert tuesday.level is HeatingLevel.FROST_PROTECTION


@pytest.mark.parametrize(
    ("moment", "span", "expected_utc"),
    [
        # 29 March 2026, 04:00 CEST is 02:00 UTC: two real hours before is 00:00 UTC
        # (01:00 CET), where the wall clock would say 02:00, an hour that does not exist.
        (datetime(2026, 3, 29, 4, 0, tzinfo=PARIS), timedelta(hours=2),
         datetime(2026, 3, 29, 0, 0, tzinfo=UTC)),
        # 25 October 2026, 04:00 CET is 03:00 UTC: three real hours before is 00:00 UTC
        # (02:00 CEST, the repeated hour's first pass), where the wall clock says 01:00.
        (datetime(2026, 10, 25, 4, 0, tzinfo=PARIS), timedelta(hours=3),
         datetime(2026, 10, 25, 0, 0, tzinfo=UTC)),
    ],
)
def test_a_lead_before_an_arrival_is_real_time_across_a_daylight_saving_change(
        moment: datetime, span: timedelta, expected_utc: datetime) -> None:
    start = before(moment, span)
    assert start.astimezone(UTC) == expected_utc and start.tzinfo is PARIS
    assert start.astimezone(UTC) + span == moment.astimezone(UTC)


def test_colder_than_every_warmup_learnt_the_preheat_starts_as_early_as_its_cap() -> None:
    """A model learnt on mornings from 16 °C at the lowest extrapolates from 13 °C (a cold
    week's structure warms more slowly than its gain says): the pre-heat starts at its
    cap, and says why; within a kelvin of what was seen, at the model's own time."""
    seen = replace(ZONE, coldest_warmup_start=16.0)
    cap = LearningSettings().max_preheat(False)
    assert ZONE.warmup_minutes(13.0, 19.0, 2.0) + 20 < cap.total_seconds() / 60 - 30
    at_cap = EIGHT - cap
    cold = decide(at_cap + timedelta(minutes=5), 13.0, model=seen)
    assert cold.level is HeatingLevel.COMFORT and cold.preheat is not None
    details = cold.reason.details("fr")
    assert details is not None and "plus froide que toutes les montées apprises" in details
    assert "16,0 °C" in details
    # The model without that knowledge, or within a kelvin of it, waits.
    assert decide(at_cap + timedelta(minutes=5), 13.0).preheat is None
    assert decide(at_cap + timedelta(minutes=5), 15.2, model=seen).preheat is None
    # What was seen is kept with the model.
    assert ThermalModel.from_dict(seen.to_dict()).coldest_warmup_start == 16.0


CRECHE = Programme(mon=("07:00-18:30",), tue=("07:00-18:30",), wed=("07:00-18:30",),
                   thu=("07:00-18:30",), fri=("07:00-18:30",))
PUMP = PlantClock(Programme(mon=("02:00-19:00",), tue=("05:30-19:00",), wed=("05:30-19:00",),
                            thu=("05:30-19:00",), fri=("05:30-19:00",)))


def test_a_preheat_the_plants_clock_cuts_is_brought_forward_into_its_window_before() -> None:
    """Back from a closure (Wednesday to Friday), with the emission pump stopped from 19:00
    to 05:30: the 4 h fixed early start before 07:00 would begin at 03:00, 2 h 30 before
    the pump resumes. Those 2 h 30 are given at the end of Thursday's window instead, and
    the zone coasts through the night."""
    closure = AgendaEntry(kind="closure", label="Fermeture",
                          start=datetime(2026, 1, 13, 0, 0), end=datetime(2026, 1, 16, 0, 0))

    def fixed(now: datetime) -> HeatingDecision:
        where = occupation(CRECHE, CALENDAR, "creche", now, (closure,))
        return programme_decision(where, now, LEVELS, plant=PUMP)

    thursday = datetime(2026, 1, 15, 16, 0, tzinfo=PARIS)
    assert fixed(thursday).level is HeatingLevel.FROST_PROTECTION
    ahead = fixed(thursday.replace(hour=16, minute=45))
    assert ahead.level is HeatingLevel.COMFORT
    assert ahead.reason.fr == ("Préchauffage avancé jusqu'à 19:00 : le chauffage ne reprend "
                               "que demain à 05:30, trop tard pour l'arrivée prévue demain à "
                               "07:00")
    assert fixed(thursday.replace(hour=19, minute=15)).level is HeatingLevel.FROST_PROTECTION
    # Without a clock, or when the start falls within a window, nothing is brought forward.
    where = occupation(CRECHE, CALENDAR, "creche", thursday.replace(hour=17), (closure,))
    assert programme_decision(where, thursday.replace(hour=17), LEVELS).level is (
        HeatingLevel.FROST_PROTECTION)
    # A learned pre-heat too: from 8 °C, colder than any warm-up learnt from, it would start
    # at its 12 h cap, 19:00 on Thursday, as the pump stops: the 10 h 30 of the night are
    # given on Thursday from 08:30.
    seen = replace(ZONE, coldest_warmup_start=15.0)
    friday = datetime(2026, 1, 16, 7, 0, tzinfo=PARIS)
    learning = Learning(forecast(friday), seen, 8.0, 2.0, False)
    now = thursday.replace(hour=18, minute=30)
    learned = learned_decision(occupation(CRECHE, CALENDAR, "creche", now), now, LEVELS,
                               learning, None, plant=PUMP)
    assert learned.level is HeatingLevel.COMFORT
    assert learned.reason.fr.startswith("Préchauffage avancé jusqu'à 19:00")
    early = thursday.replace(hour=8, minute=15)
    assert learned_decision(occupation(CRECHE, CALENDAR, "creche", early), early, LEVELS,
                            learning, None, plant=PUMP).level is not HeatingLevel.COMFORT


def test_a_preheat_brought_forward_is_held_until_its_window_ends() -> None:
    """An evening after the crèche closed, from 8 °C (colder than any warm-up learnt from:
    its 3 h cap from 04:00, the 1 h 30 before the pump resumes given until 19:00), the
    zone warms within minutes past what the model has seen, and its own estimate, shorter,
    would no longer reach back before 19:00: the pre-heat is held until the pump's window
    ends, as a pre-heat is held until its arrival, and not after."""
    seen = replace(ZONE, coldest_warmup_start=15.0)
    friday = datetime(2026, 1, 16, 7, 0, tzinfo=PARIS)

    def learned(now: datetime, indoor: float, previous: HeatingDecision | None,
                arrival: datetime = friday) -> HeatingDecision:
        learning = Learning(forecast(arrival), seen, indoor, 2.0, False)
        return learned_decision(occupation(CRECHE, CALENDAR, "creche", now), now, LEVELS,
                                learning, previous, plant=PUMP)

    thursday = datetime(2026, 1, 15, 18, 40, tzinfo=PARIS)
    first = learned(thursday, 8.0, None)
    assert first.level is HeatingLevel.COMFORT and first.ahead is not None
    warmer = thursday + timedelta(minutes=10)
    assert learned(warmer, 15.5, None).level is not HeatingLevel.COMFORT
    held = learned(warmer, 15.5, first)
    assert held.level is HeatingLevel.COMFORT and held.ahead == first.ahead
    assert held.reason.fr.startswith("Préchauffage avancé jusqu'à 19:00")
    # Nobody expected on Friday any more (the manager closed it): not held for Monday.
    monday = datetime(2026, 1, 19, 7, 0, tzinfo=PARIS)
    assert learned(warmer, 15.5, first, monday).level is not HeatingLevel.COMFORT
    night = learned(thursday.replace(hour=19, minute=15), 15.0, held)
    assert night.level is not HeatingLevel.COMFORT and night.ahead is None


def test_after_a_long_absence_a_preheat_the_plants_clock_cuts_takes_its_whole_cap() -> None:
    """The eve of a reopening after days of closure (Wednesday to Friday), the pump stopped
    from 19:00 to 05:30: the model's 4 h from 8 °C would start at 03:00, and only its
    2 h 30 in the gap would be given on Thursday from 16:30. Heat given before the gap
    goes to a structure days without heat left cold, and the air falls back toward it
    through the night, which no warm-up nor night the model learnt shows: the pre-heat
    takes its whole 12 h cap, the night's 10 h 30 given on Thursday from 08:30, and
    resumes with the pump on Friday, not late."""
    friday = datetime(2026, 1, 16, 7, 0, tzinfo=PARIS)
    closure = AgendaEntry(kind="closure", label="Fermeture",
                          start=datetime(2026, 1, 13, 0, 0), end=datetime(2026, 1, 16, 0, 0))

    def learned(now: datetime, indoor: float, arrival: datetime = friday,
                entry: AgendaEntry = closure, model: ThermalModel = ZONE) -> HeatingDecision:
        learning = Learning(forecast(arrival), model, indoor, 2.0, False)
        where = occupation(CRECHE, CALENDAR, "creche", now, (entry,))
        return learned_decision(where, now, LEVELS, learning, None, plant=PUMP)

    cap = LearningSettings().max_preheat(True)
    assert ZONE.warmup_minutes(8.0, 19.0, 2.0, after_long_absence=True) < 240 - 20
    assert learned(datetime(2026, 1, 15, 8, 15, tzinfo=PARIS), 8.0).ahead is None
    thursday = learned(datetime(2026, 1, 15, 8, 30, tzinfo=PARIS), 8.0)
    assert thursday.level is HeatingLevel.COMFORT and thursday.ahead is not None
    assert elapsed(before(friday, cap), thursday.ahead.resume) > timedelta(hours=10)
    # After the gap, the rest of the pre-heat starts with the pump, as planned.
    night = learned(datetime(2026, 1, 16, 3, 0, tzinfo=PARIS), 14.0)
    assert night.planned == datetime(2026, 1, 16, 5, 30, tzinfo=PARIS)
    resumed = learned(datetime(2026, 1, 16, 5, 30, tzinfo=PARIS), 13.0)
    assert resumed.preheat is not None and resumed.preheat.late_minutes == 0.0
    # A weekend's gap is not bridged (the window before ends more than a day before): a
    # Monday's warm-up of 8 h runs on from when the pump resumes at 02:00, as the model
    # learnt, and is late by what its start misses, not by what the cap's would.
    weekend = AgendaEntry(kind="closure", label="Fermeture",
                          start=datetime(2026, 1, 16, 0, 0), end=datetime(2026, 1, 17, 0, 0))
    monday = datetime(2026, 1, 19, 7, 0, tzinfo=PARIS)
    slow = replace(ZONE, g_after_long_absence=2.0)
    lead = slow.warmup_minutes(8.0, 19.0, 2.0, after_long_absence=True) + 20
    assert 5 * 60 < lead < 9 * 60
    sunday = learned(datetime(2026, 1, 18, 20, 0, tzinfo=PARIS), 8.0, monday, weekend, slow)
    assert sunday.planned == datetime(2026, 1, 19, 2, 0, tzinfo=PARIS)
    then = sunday.reason.params["then"]
    assert isinstance(then, Reason)
    assert then.params["late"] == pytest.approx(lead - 5 * 60, abs=1)


# Needs over five hours from 12 °C at 2 °C outside: more than the usual 3 h cap.
SLOW = ThermalModel(k=0.05, g=2.0, g_warmup=2.0, g_after_long_absence=2.0,
                    warmup_error_minutes=3.0, samples=500,
                    fitted_at=datetime(2026, 1, 1, tzinfo=UTC), warmups=12,
                    warmup_error_after_long_absence_minutes=3.0)


def test_a_preheat_from_frost_protection_is_held_as_one_until_the_arrival() -> None:
    """From frost protection at 12 °C this zone needs over five hours, more than the usual
    3 h cap: started from there, its pre-heat keeps the gain and the cap of a cold
    structure until the arrival, though the zone's level is comfort by then (taken for a
    warm zone's, it was dropped for a setback, then started again a tick later)."""
    needed = SLOW.warmup_minutes(12.0, 19.0, 2.0, after_long_absence=True)
    assert 4 * 60 < needed < 6 * 60
    deep = HeatingDecision(HeatingLevel.FROST_PROTECTION, LEVELS.frost_protection,
                           Reason.of("empty"))
    waiting = decide(at(2), 12.0, model=SLOW, previous=deep)
    start = EIGHT - timedelta(minutes=needed + 20)
    assert waiting.level is not HeatingLevel.COMFORT and waiting.planned == start
    started = decide(start + timedelta(minutes=1), 12.0, model=SLOW, previous=deep)
    assert started.level is HeatingLevel.COMFORT and started.preheat is not None
    later = decide(start + timedelta(minutes=16), 12.4, model=SLOW, previous=started)
    assert later.level is HeatingLevel.COMFORT
    assert later.preheat is not None and later.preheat.since == started.preheat.since


def test_an_arrival_after_an_unused_period_is_preheated_for_during_it() -> None:
    """Nobody uses the programmed day, someone comes at 20:00: the zone at frost
    protection needs over five hours, so the pre-heat starts within the unused period
    (it waited for the period's end, and was late)."""
    deep = HeatingDecision(HeatingLevel.FROST_PROTECTION, LEVELS.frost_protection,
                           Reason.of("empty"))
    evening = at(20)
    waiting = decide(at(13), 12.0, arrival=evening, model=SLOW, previous=deep)
    assert waiting.level is not HeatingLevel.COMFORT
    assert waiting.planned is not None and waiting.planned < at(17, 30)
    started = decide(waiting.planned + timedelta(minutes=1), 12.0, arrival=evening,
                     model=SLOW, previous=deep)
    assert started.level is HeatingLevel.COMFORT and started.preheat is not None
