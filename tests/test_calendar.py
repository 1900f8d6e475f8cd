"""The French calendar (public and school holidays) and the weekly programme."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from controllers.schedule import DayType, FrenchCalendar, is_programmed
from gtb.model.calendar import Programme

PARIS = ZoneInfo("Europe/Paris")


def test_public_holidays_with_and_without_alsace_moselle() -> None:
    nord, moselle = FrenchCalendar("B"), FrenchCalendar("B", alsace_moselle=True)
    for day in (date(2025, 1, 1), date(2025, 4, 21), date(2025, 5, 29), date(2025, 7, 14),
                date(2025, 11, 11), date(2025, 12, 25)):
        assert nord.is_public_holiday(day) and moselle.is_public_holiday(day), day
    assert not nord.is_public_holiday(date(2025, 7, 15))
    # Good Friday and Saint Stephen's day only in Alsace-Moselle.
    for day in (date(2025, 4, 18), date(2025, 12, 26)):
        assert moselle.is_public_holiday(day) and not nord.is_public_holiday(day), day
    assert nord.public_holiday_name(date(2025, 7, 14)) is not None
    assert nord.public_holiday_name(date(2025, 7, 15)) is None


def test_school_holidays_differ_between_zones() -> None:
    """Winter 2025: zone B 8-23 February, zone C 15 February-2 March, zone A 22 February-9
    March (official calendar)."""
    a, b, c = FrenchCalendar("A"), FrenchCalendar("B"), FrenchCalendar("C")
    assert b.is_school_holiday(date(2025, 2, 10))
    assert not a.is_school_holiday(date(2025, 2, 10))
    assert not c.is_school_holiday(date(2025, 2, 10))
    assert a.is_school_holiday(date(2025, 3, 5)) and not b.is_school_holiday(date(2025, 3, 5))
    for calendar in (a, b, c):
        assert calendar.is_school_holiday(date(2025, 8, 1))
        assert not calendar.is_school_holiday(date(2025, 9, 2))


def test_data_coverage_and_rule_based_fallback() -> None:
    calendar = FrenchCalendar("B")
    assert calendar.school_holidays_from_data(date(2028, 8, 31))
    assert not calendar.school_holidays_from_data(date(2028, 9, 1))
    assert not calendar.school_holidays_from_data(date(1989, 12, 31))
    # Beyond the data the rules answer: summer, Toussaint and a Christmas holiday that
    # runs into the next January are holidays; an ordinary October week is not.
    assert calendar.is_school_holiday(date(2029, 8, 1))
    assert calendar.is_school_holiday(date(2029, 10, 29))
    assert calendar.is_school_holiday(date(2030, 1, 2))
    assert not calendar.is_school_holiday(date(2029, 10, 10))
    assert not calendar.is_school_holiday(date(2029, 9, 4))


@pytest.mark.parametrize("zone", ["A", "B", "C"])
def test_rules_agree_with_the_official_calendar(zone: str) -> None:
    """The approximation used past the data gets at least 95 % of weekdays of 2023-2028
    right (measured: about 98 %)."""
    from controllers import schedule

    official = FrenchCalendar(zone)
    day, agree, total = date(2023, 1, 2), 0, 0
    while day <= date(2028, 8, 31):
        if day.weekday() < 5:
            total += 1
            agree += schedule._rule_says_holiday(day, zone) == official.is_school_holiday(day)
        day += timedelta(days=1)
    assert agree / total >= 0.95


def test_day_type_depends_on_the_building_use() -> None:
    calendar = FrenchCalendar("B")
    assert calendar.day_type(date(2025, 3, 10), "ecole") is DayType.SCHOOL_DAY
    assert calendar.day_type(date(2025, 2, 10), "ecole") is DayType.SCHOOL_HOLIDAY
    assert calendar.day_type(date(2025, 2, 10), "gymnase") is DayType.SCHOOL_HOLIDAY
    assert calendar.day_type(date(2025, 2, 10), "mairie") is DayType.WORKING_DAY
    assert calendar.day_type(date(2025, 3, 15), "ecole") is DayType.WEEKEND
    assert calendar.day_type(date(2025, 5, 1), "mairie") is DayType.PUBLIC_HOLIDAY
    assert calendar.day_type(date(2025, 8, 15), "ecole") is DayType.PUBLIC_HOLIDAY


def test_unknown_school_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="A, B or C"):
        FrenchCalendar("D")


PROGRAMME = Programme(
    mon=("08:30-12:00", "13:30-17:30"), wed=("08:30-12:00",), sat=("09:00-12:00",),
    sun=("22:00-24:00",),
)


def at(hour: int, minute: int, day: date = date(2025, 3, 10)) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute)


def test_is_programmed_bounds() -> None:
    monday = date(2025, 3, 10)
    assert is_programmed(PROGRAMME, at(8, 30))
    assert not is_programmed(PROGRAMME, at(8, 29))
    assert is_programmed(PROGRAMME, at(11, 59))
    assert not is_programmed(PROGRAMME, at(12, 0))  # the end is excluded
    assert not is_programmed(PROGRAMME, at(12, 45))
    assert not is_programmed(PROGRAMME, at(10, 0, monday + timedelta(days=1)))
    assert is_programmed(PROGRAMME, at(23, 59, monday - timedelta(days=1)))  # until 24:00
    assert not is_programmed(PROGRAMME, at(0, 0, monday))


def test_programmed_minutes_in_a_week_match_the_periods() -> None:
    start = datetime(2025, 3, 10)
    minutes = sum(is_programmed(PROGRAMME, start + timedelta(minutes=m))
                  for m in range(7 * 24 * 60))
    assert minutes == (210 + 240) + 210 + 180 + 120


def test_is_programmed_uses_wall_clock_time_on_daylight_saving_days() -> None:
    """On the 23-hour and 25-hour days the periods keep their wall-clock hours."""
    for sunday in (date(2025, 3, 30), date(2025, 10, 26)):
        late = datetime(sunday.year, sunday.month, sunday.day, 22, 30, tzinfo=PARIS)
        early = datetime(sunday.year, sunday.month, sunday.day, 21, 30, tzinfo=PARIS)
        assert is_programmed(PROGRAMME, late)
        assert not is_programmed(PROGRAMME, early)
        monday = datetime(sunday.year, sunday.month, sunday.day + 1, 8, 45, tzinfo=PARIS)
        assert is_programmed(PROGRAMME, monday)
        # The same instant seen in UTC would be an hour or two earlier: callers convert.
        assert is_programmed(PROGRAMME, monday.astimezone(ZoneInfo("UTC")).astimezone(PARIS))
