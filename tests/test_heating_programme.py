"""The programme controller: levels by absence length, fixed early start, French calendar."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from controllers.heating import programme_decision
from controllers.schedule import FrenchCalendar, occupation
from gtb.model import ComfortLevels
from gtb.model.calendar import AgendaEntry, Programme
from gtb.model.points import HeatingLevel

PARIS = ZoneInfo("Europe/Paris")
CALENDAR = FrenchCalendar("B")
LEVELS = ComfortLevels()
MAIRIE = Programme(
    mon=("08:30-12:00", "13:30-17:30"), tue=("08:30-12:00", "13:30-17:30"),
    wed=("08:30-12:00", "13:30-17:30"), thu=("08:30-12:00", "13:30-17:30"),
    fri=("08:30-12:00", "13:30-17:00"), sat=("09:00-12:00",),
)
ECOLE = Programme(mon=("08:20-16:30",), tue=("08:20-16:30",), wed=("08:20-11:30",),
                  thu=("08:20-16:30",), fri=("08:20-16:30",))


def decide(programme: Programme, use: str, local: datetime) -> tuple[HeatingLevel, str]:
    decision = programme_decision(occupation(programme, CALENDAR, use, local), local, LEVELS)
    return decision.level, decision.reason.fr


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def test_occupied_during_a_period_with_its_end_in_the_reason() -> None:
    level, reason = decide(MAIRIE, "mairie", at(2026, 1, 12, 10, 0))
    assert level is HeatingLevel.COMFORT
    assert reason == "Occupé selon le programme jusqu'à 12:00 : confort 19,0 °C"


def test_fixed_preheat_then_reduced_over_a_short_absence() -> None:
    # Saturday 12:00 -> Monday 08:30 is 44.5 h: a short absence, so reduced and a 2 h lead.
    assert decide(MAIRIE, "mairie", at(2026, 1, 12, 6, 29))[0] is HeatingLevel.REDUCED
    level, reason = decide(MAIRIE, "mairie", at(2026, 1, 12, 6, 30))
    assert level is HeatingLevel.COMFORT
    assert reason == "Préchauffage fixe de 2 h : occupation prévue à 08:30"
    level, reason = decide(MAIRIE, "mairie", at(2026, 1, 11, 15, 0))
    assert level is HeatingLevel.REDUCED
    assert reason == "Inoccupé jusqu'à demain 08:30 : réduit 16,0 °C"


def test_frost_protection_over_a_weekend_and_a_longer_lead_after_it() -> None:
    # The school is left on Friday 16:30 and back on Monday 08:20: 64 h.
    level, reason = decide(ECOLE, "ecole", at(2026, 1, 10, 12, 0))
    assert level is HeatingLevel.FROST_PROTECTION
    assert reason == "Inoccupé plus de 48 h (jusqu'à lundi 12/01 08:20) : hors-gel 8,0 °C"
    assert decide(ECOLE, "ecole", at(2026, 1, 12, 4, 19))[0] is HeatingLevel.FROST_PROTECTION
    level, reason = decide(ECOLE, "ecole", at(2026, 1, 12, 4, 20))
    assert level is HeatingLevel.COMFORT
    assert reason == "Préchauffage fixe de 4 h : occupation prévue à 08:20"


def test_school_holidays_and_public_holidays_are_unoccupied() -> None:
    # Zone B Christmas holidays 2025: 20 December to 5 January.
    occupied = occupation(ECOLE, CALENDAR, "ecole", at(2025, 12, 29, 10, 0))
    assert not occupied.occupied and occupied.next_start == at(2026, 1, 5, 8, 20)
    assert decide(ECOLE, "ecole", at(2025, 12, 29, 10, 0))[0] is HeatingLevel.FROST_PROTECTION
    # The town hall does not follow school holidays...
    assert decide(MAIRIE, "mairie", at(2025, 12, 29, 10, 0))[0] is HeatingLevel.COMFORT
    # ...but closes on public holidays: Friday 1 May 2026.
    assert not occupation(MAIRIE, CALENDAR, "mairie", at(2026, 5, 1, 10, 0)).occupied


def test_periods_running_past_midnight_join() -> None:
    night = Programme(fri=("20:00-24:00",), sat=("00:00-02:00", "10:00-12:00"))
    occupied = occupation(night, CALENDAR, "salle_des_fetes", at(2026, 1, 16, 23, 0))
    assert occupied.occupied and occupied.current_end == at(2026, 1, 17, 2, 0)
    assert occupied.next_start == at(2026, 1, 17, 10, 0)


@pytest.mark.parametrize(
    ("now", "level"),
    [
        # 29 March 2026: clocks go from 02:00 to 03:00. 01:30 is 1 h 30 before 04:00 in real
        # time (2 h 30 on the wall clock): inside the 2 h lead.
        (at(2026, 3, 29, 1, 30), HeatingLevel.COMFORT),
        (at(2026, 3, 29, 0, 59), HeatingLevel.REDUCED),
        # 25 October 2026: 02:00-03:00 happens twice. 01:30 is 3 h 30 before 04:00 in real
        # time; 02:30 (first pass) 2 h 30: both outside the lead.
        (at(2026, 10, 25, 1, 30), HeatingLevel.REDUCED),
        (at(2026, 10, 25, 2, 30), HeatingLevel.REDUCED),
        (datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=PARIS), HeatingLevel.COMFORT),
    ],
)
def test_the_lead_is_counted_in_real_time_on_daylight_saving_nights(
    now: datetime, level: HeatingLevel
) -> None:
    early = Programme(sat=("10:00-11:00",), sun=("04:00-06:00",))
    assert decide(early, "autre", now)[0] is level


def test_reasons_name_the_agenda_entry_that_decides() -> None:
    council = AgendaEntry(kind="event", label="Conseil municipal",
                          start=datetime(2026, 1, 12, 19, 30), end=datetime(2026, 1, 12, 22, 30))
    works = AgendaEntry(kind="closure", label="Travaux", start=datetime(2026, 1, 13, 0, 0),
                        end=datetime(2026, 1, 14, 0, 0))
    local = at(2026, 1, 12, 20, 0)
    decision = programme_decision(occupation(MAIRIE, CALENDAR, "mairie", local, (council, works)),
                                  local, LEVELS)
    assert decision.level is HeatingLevel.COMFORT
    assert decision.reason.fr == "Occupé (Conseil municipal) jusqu'à 22:30 : confort 19,0 °C"
    assert decision.reason.en == "Occupied (Conseil municipal) until 22:30: comfort 19.0 °C"
    local = at(2026, 1, 13, 10, 0)
    decision = programme_decision(occupation(MAIRIE, CALENDAR, "mairie", local, (council, works)),
                                  local, LEVELS)
    assert decision.level is HeatingLevel.REDUCED
    assert decision.reason.fr == "Inoccupé (Travaux, jusqu'à demain 08:30) : réduit 16,0 °C"
