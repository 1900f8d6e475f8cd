"""Optimal start and stop from what a zone has learned, and the fallbacks."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from controllers.heating import HeatingDecision, Learning, learned_decision, programme_decision
from controllers.occupancy import ArrivalForecast
from controllers.schedule import FrenchCalendar, occupation
from controllers.thermal import ThermalModel
from gtb.model import ComfortLevels
from gtb.model.calendar import Programme
from gtb.model.points import HeatingLevel
from gtb.texts import said

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
           present: bool = False, previous: HeatingLevel | None = None,
           model: ThermalModel = ZONE, basis: str = "learned",
           departure: datetime | None = None) -> HeatingDecision:
    learning = Learning(forecast(arrival, basis, departure), model, indoor, 2.0, present)
    return learned_decision(occupation(OFFICE, CALENDAR, "mairie", now), now, LEVELS,
                            learning, previous)


def test_starts_just_in_time_for_the_learned_arrival_and_holds_it() -> None:
    warmup = ZONE.warmup_minutes(16.0, 19.0, 2.0)
    assert 30 < warmup < 50
    lead = warmup + 20  # the margin floor: the model's own error is smaller
    early = decide(at(8) - timedelta(minutes=lead + 5), 16.0)
    assert early.level is HeatingLevel.REDUCED
    # Waiting, it says what it waits for, and when it will start.
    expected = (EIGHT - timedelta(minutes=lead)).strftime("%H:%M")
    assert early.reason.fr == f"Inoccupé (appris) : réduit 16,0 °C, préchauffage vers {expected}"
    start = decide(at(8) - timedelta(minutes=lead - 1), 16.0)
    assert start.level is HeatingLevel.COMFORT
    expected = (EIGHT - timedelta(minutes=lead)).strftime("%H:%M")
    assert start.reason.fr.startswith(f"Préchauffage démarré à {expected} : ")
    assert "arrivée prévue à 08:00 (apprise sur 12 jours semblables)" in start.reason.fr
    assert "par 2,0 °C extérieurs" in start.reason.fr
    # Warmer now, the estimate shrinks; the preheat started is held until the arrival.
    assert decide(at(7, 30), 18.8, previous=HeatingLevel.COMFORT).level is HeatingLevel.COMFORT
    assert decide(at(7, 30), 18.8).level is HeatingLevel.REDUCED


def test_the_fixed_programme_starts_much_earlier() -> None:
    fixed = programme_decision(occupation(OFFICE, CALENDAR, "mairie", at(6, 30)), at(6, 30),
                               LEVELS)
    assert fixed.level is HeatingLevel.COMFORT  # a fixed 2 h early start
    assert decide(at(6, 30), 16.0).level is HeatingLevel.REDUCED


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
    assert coast.level is HeatingLevel.REDUCED
    assert coast.reason.fr == ("Arrêt anticipé : la zone reste au-dessus de 18,5 °C jusqu'à la "
                               "fin prévue à 17:30")
    # Already below the band: heat on.
    assert decide(at(17, 15), 18.3).level is HeatingLevel.COMFORT


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
        HeatingLevel.REDUCED)


def test_people_who_stay_late_keep_the_zone_warm_until_they_usually_leave() -> None:
    # The programme ends at 17:30; people are learned to stay until 18:30.
    stays = decide(at(17, 15), 19.0, arrival=at(17, 15), departure=at(18, 30))
    assert stays.level is HeatingLevel.COMFORT
    coast = decide(at(18, 15), 19.0, arrival=at(18, 15), departure=at(18, 30), present=True)
    assert coast.level is HeatingLevel.REDUCED
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
    assert decision.reason.fr.startswith("Inoccupé (appris) : hors-gel 8,0 °C, préchauffage vers "
                                         "jeudi 15/01")
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
