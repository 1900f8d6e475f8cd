"""Presence is not absence: a zone without a detector, or whose detector's readings are
not good, is unknown to its learner, and unknown never teaches that a programmed period is
seldom used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from controllers.learning import ZoneLearner
from controllers.occupancy import rarely_used, seen_whole
from controllers.schedule import FrenchCalendar
from controllers.thermal import ThermalModel
from gtb.model import ComfortLevels
from gtb.model.calendar import Programme
from gtb.model.points import HeatingLevel
from gtb.texts import Reason

PARIS = ZoneInfo("Europe/Paris")
CALENDAR = FrenchCalendar("B")
OFFICE = Programme(mon=("08:00-17:30",), tue=("08:00-17:30",), wed=("08:00-17:30",),
                   thu=("08:00-17:30",), fri=("08:00-17:30",))
# Warms 16 -> 19 °C at 2 °C outside in about 40 min.
MODEL = ThermalModel(k=0.05, g=5.0, g_warmup=5.0, g_after_long_absence=4.0,
                     warmup_error_minutes=3.0, samples=500,
                     fitted_at=datetime(2026, 1, 1, tzinfo=UTC), warmups=12)
FIRST_MONDAY = datetime(2026, 1, 5, tzinfo=PARIS)  # no holiday in the five weeks after
STEP = timedelta(minutes=15)


def learner() -> ZoneLearner:
    """A zone whose warm-up is already learned: only its presence is in question."""
    zone = ZoneLearner(OFFICE, "mairie", CALENDAR, ComfortLevels(), PARIS)
    zone.thermal = MODEL
    return zone


def office_hours(moment: datetime) -> bool:
    return moment.weekday() < 5 and 8 <= moment.hour < 17


def feed(zone: ZoneLearner, days: int, detector: str, start: datetime = FIRST_MONDAY) -> None:
    """``days`` of quarter-hour steps from ``start``, refitted each night, the detector
    being "none" (no detector: unknown), "empty" (it reads nobody) or "people" (it reads
    the office hours); the outdoor sensor is missing, which must not cost the presence."""
    moment = start
    while moment < start + timedelta(days=days):
        present = {"none": None, "empty": False, "people": office_hours(moment)}[detector]
        zone.observe(moment, indoor=19.0, outdoor=None, heating=0.5, present=present)
        moment += STEP
        if moment.hour == 0 and moment.minute == 0:
            zone.refit(moment)


def week(zone: ZoneLearner, monday: datetime, present: bool | None
         ) -> dict[datetime, HeatingLevel]:
    """The level asked at each hour from Monday to Friday evening, in order (air at
    18 °C: no early stop)."""
    return {moment: zone.decide(moment, indoor=18.0, outdoor=2.0, present=present).level
            for moment in (monday + timedelta(hours=h) for h in range(4 * 24 + 18))}


def programmed(levels: dict[datetime, HeatingLevel]) -> set[HeatingLevel]:
    """The levels asked in the programmed hours."""
    return {level for moment, level in levels.items() if 8 <= moment.hour < 17}


def test_a_day_joins_the_history_only_when_the_detector_saw_it_whole() -> None:
    day = datetime(2026, 1, 5, 8, 0)
    good = [(day + timedelta(minutes=m), False) for m in range(0, 60, 5)]
    assert seen_whole(good)
    # A failed read within a quarter-hour that had good ones costs nothing.
    assert seen_whole([*good, (day + timedelta(minutes=7), None)])
    # A quarter-hour seen by nobody: the day is not known to be empty.
    assert not seen_whole([*good, (day + timedelta(hours=2), None)])
    assert not seen_whole([(day, None)])
    assert not seen_whole([])


def test_a_zone_without_a_detector_is_never_seldom_used_and_keeps_its_programme() -> None:
    zone = learner()
    feed(zone, 28, "none")
    assert zone.occupancy.days == {}
    assert rarely_used(zone.occupancy, OFFICE, CALENDAR, "mairie") == []
    monday = FIRST_MONDAY + timedelta(days=28)
    assert programmed(week(zone, monday, None)) == {HeatingLevel.COMFORT}
    assert zone.next_arrival(monday).basis == "programme"


def test_a_detector_that_reads_nobody_is_still_learned_as_absence() -> None:
    """The other side of the rule: a good reading of nobody counts, as it should."""
    zone = learner()
    feed(zone, 28, "empty")
    assert len(zone.occupancy.days) == 28
    monday = FIRST_MONDAY + timedelta(days=28)
    assert zone.decide(monday + timedelta(hours=10), indoor=18.0, outdoor=2.0,
                       present=False).reason.code == "heating.seldom_used"
    assert HeatingLevel.COMFORT not in programmed(week(zone, monday, False))


def test_a_detector_failed_for_two_weeks_leaves_the_learned_arrivals_as_they_were() -> None:
    zone = learner()
    feed(zone, 21, "people")
    learned = dict(zone.occupancy.days)
    assert len(learned) == 21
    failed_from = FIRST_MONDAY + timedelta(days=21)
    feed(zone, 14, "none", start=failed_from)
    assert zone.occupancy.days.keys() == learned.keys()
    monday = failed_from + timedelta(days=14)
    levels = week(zone, monday, None)
    assert programmed(levels) == {HeatingLevel.COMFORT}
    # Between two working days, the setback is the usual night's (a deep setback, the
    # zone being back in time from it), not the frost protection of a long absence: the
    # last presence seen, two weeks ago, is not taken for one.
    nights = [zone.decide(moment, indoor=18.0, outdoor=2.0, present=None).reason.params[
        "setback"] for moment in levels if moment.weekday() > 0 and 1 <= moment.hour < 4]
    assert {setback.code if isinstance(setback, Reason) else None for setback in nights} == {
        "setback.deep"}


def test_presence_is_recorded_when_the_outdoor_sensor_is_missing() -> None:
    zone = learner()
    feed(zone, 1, "people")
    [day] = zone.occupancy.days.values()
    assert day[9 * 4] and not day[20 * 4]
