"""What lies ahead, as the engine publishes it for people: each cabinet's night and the
holidays of the next twelve months.

The panel meets the engine only in the store, so the engine writes these to the store's
status (``store.status.save_outlook``: ``gtb.store.status.Night`` and ``Holidays``) when
they change: the nights at sunrise, when the night people want to see moves on; the
holidays once a day. They come from the controllers' own functions, so the panel shows
what the engine does: each cabinet's programmed night (without the agenda and orders)
from its first switch-on to its last switch-off, in the site's local time, and the public
holidays and the school holidays of the site's zone.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta

import holidays

from controllers.lighting import sun_times, timetable
from controllers.schedule import FrenchCalendar
from gtb.model import Cabinet, Site
from gtb.store.status import Holiday, Holidays, Night, NightStep
from gtb.texts import Reason, said

HOLIDAY_DAYS = 365
"""How far ahead the holidays are published."""


def due(site: Site, local_now: datetime) -> tuple[date, date]:
    """What the records of ``local_now`` rest on: the night shown and the day; the engine
    publishes again when it changes."""
    return shown_night(site, local_now), local_now.date()


def records(site: Site, calendar: FrenchCalendar, night: date, today: date, *,
            at: datetime) -> tuple[list[Night], Holidays]:
    """Each cabinet's night of ``night`` and the holidays from ``today``, published ``at``."""
    return ([night_record(site, cabinet, night, at=at) for cabinet in site.cabinets],
            holidays_record(calendar, today, at=at))


def shown_night(site: Site, local_now: datetime) -> date:
    """The night a person wants to see: the one under way before sunrise, tonight's from
    sunrise on (nights run from noon to noon)."""
    today = local_now.date()
    sunrise = sun_times(site.latitude, site.longitude, site.tz, today).sunrise
    return today if local_now >= sunrise else today - timedelta(days=1)


def night_record(site: Site, cabinet: Cabinet, night: date, *, at: datetime) -> Night:
    """The engine's timetable of the night of ``night`` for one cabinet."""
    tz = site.tz
    stretches = timetable(cabinet, site.latitude, site.longitude, tz, night)
    lit = [i for i, s in enumerate(stretches) if s.level > 0]
    shown = stretches[lit[0]:lit[-1] + 1] if lit else ()
    return Night(
        cabinet=cabinet.id,
        at=at,
        night=night,
        sunset=sun_times(site.latitude, site.longitude, tz, night).sunset,
        sunrise=sun_times(site.latitude, site.longitude, tz, night + timedelta(days=1)).sunrise,
        steps=tuple(NightStep(start=s.start.astimezone(tz), end=s.end.astimezone(tz),
                              level=s.level, reason=s.reason) for s in shown),
    )


_SCHOOL_NAMES = {
    1: "christmas", 2: "winter", 3: "winter", 4: "spring", 5: "ascension", 6: "ascension",
    7: "summer", 8: "summer", 9: "summer", 10: "all_saints", 11: "all_saints", 12: "christmas",
}
"""School holidays named by the month they start in: the ministry's calendar keeps them
there (winter in February, spring in April, the Ascension bridge in May)."""


def holidays_record(calendar: FrenchCalendar, today: date, days: int = HOLIDAY_DAYS, *,
                    at: datetime) -> Holidays:
    """The public holidays and the school holidays of the calendar's zone that touch the
    ``days`` from ``today``, by first day; school holidays under way start when they did."""
    found: list[tuple[date, date, Reason, bool, bool]] = []
    span = [today + timedelta(days=n) for n in range(days)]
    for day in span:
        if calendar.is_public_holiday(day):
            found.append((day, day, _public_name(calendar, day), False, False))
    one = timedelta(days=1)
    ranges: list[tuple[date, date]] = []
    for day in span:
        if not calendar.is_school_holiday(day):
            continue
        if ranges and ranges[-1][1] == day - one:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    for first, last in ranges:
        while calendar.is_school_holiday(first - one):
            first -= one
        while calendar.is_school_holiday(last + one):
            last += one
        found.append((first, last, Reason.of(f"holidays.{_SCHOOL_NAMES[first.month]}"), True,
                      not calendar.school_holidays_from_data(first)))
    found.sort(key=lambda h: (h[0], h[3]))
    return Holidays(at=at, today=today, holidays=tuple(
        Holiday(first=first, last=last, name=name, school=school, estimated=estimated)
        for first, last, name, school, estimated in found))


def _public_name(calendar: FrenchCalendar, day: date) -> Reason:
    english = calendar.public_holiday_name(day) or ""
    french = _names(day.year, calendar.alsace_moselle, "fr").get(day, english)
    return said(french, _names(day.year, calendar.alsace_moselle, "en_US").get(day, english))


@functools.cache
def _names(year: int, alsace_moselle: bool, language: str) -> dict[date, str]:
    """Names of the public holidays in one language (the calendar decides which days)."""
    found = holidays.country_holidays("FR", subdiv="57" if alsace_moselle else None,
                                      years=year, language=language)
    return dict(found.items())
