"""What the lighting and programme pages work out for people: a cabinet's night, the week
a person types, the holidays ahead.

Pure functions of the site, the calendar and the time, on the controllers' own pure
functions (``controllers.lighting.timetable``, ``controllers.schedule.FrenchCalendar``), so
the panel shows what the engine does. Nothing here touches the store or Flask; refusals
are returned as ``(fr, en)`` texts for ``Panel`` to raise.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise

import holidays

from controllers.lighting import sun_times, timetable
from controllers.schedule import SCHOOL_USES, FrenchCalendar
from gtb.i18n import DAYS_EN, DAYS_FR
from gtb.model import WEEKDAYS, Cabinet, Period, Reason, Site, parse_period

Problem = tuple[str, str]
"""A refusal in French and English."""

# -- a cabinet's night --------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """Part of a night at one level (0: off), in the site's local time."""

    start: datetime
    end: datetime
    level: float
    reason: Reason


@dataclass(frozen=True)
class Night:
    """A cabinet's programmed night (without the agenda and orders), in local time."""

    night: date
    sunset: datetime
    sunrise: datetime
    steps: tuple[Step, ...]
    """From the first switch-on to the last switch-off."""

    @property
    def on_at(self) -> datetime | None:
        return next((s.start for s in self.steps if s.level > 0), None)

    @property
    def off_at(self) -> datetime | None:
        return next((s.end for s in reversed(self.steps) if s.level > 0), None)


def shown_night(site: Site, local_now: datetime) -> date:
    """The night a person wants to see: the one under way before sunrise, tonight's from
    sunrise on (nights run from noon to noon)."""
    today = local_now.date()
    sunrise = sun_times(site.latitude, site.longitude, site.tz, today).sunrise
    return today if local_now >= sunrise else today - timedelta(days=1)


def cabinet_night(site: Site, cabinet: Cabinet, night: date) -> Night:
    """The engine's timetable of the night of ``night`` for one cabinet, in local time."""
    tz = site.tz
    stretches = timetable(cabinet, site.latitude, site.longitude, tz, night)
    lit = [i for i, s in enumerate(stretches) if s.level > 0]
    shown = stretches[lit[0]:lit[-1] + 1] if lit else ()
    return Night(
        night,
        sun_times(site.latitude, site.longitude, tz, night).sunset,
        sun_times(site.latitude, site.longitude, tz, night + timedelta(days=1)).sunrise,
        tuple(Step(s.start.astimezone(tz), s.end.astimezone(tz), s.level, s.reason)
              for s in shown),
    )


def next_sunrise(site: Site, now: datetime) -> datetime:
    """The first sunrise after ``now``, in local time."""
    local = now.astimezone(site.tz)
    for day in (local.date(), local.date() + timedelta(days=1)):
        sunrise = sun_times(site.latitude, site.longitude, site.tz, day).sunrise
        if sunrise > local:
            return sunrise
    raise AssertionError(f"no sunrise after {local}")  # polar sites are not French communes


# -- a week typed by a person ---------------------------------------------------------------

MAX_PERIODS = 12
"""Periods a day may have: more is a typing mistake, not a programme."""
_SEPARATORS = re.compile(r"[\s,;]+")
_SHAPE = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


def day_names(weekday: str) -> tuple[str, str]:
    """``mon`` -> (``lundi``, ``Monday``)."""
    index = WEEKDAYS.index(weekday)
    return DAYS_FR[index], DAYS_EN[index]


def split_periods(text: str | Iterable[str]) -> list[str]:
    """``"08:00-12:00, 14:00-18:00"`` (or a list of such texts) -> one text per period."""
    pieces = [text] if isinstance(text, str) else list(text)
    return [p for piece in pieces for p in _SEPARATORS.split(str(piece).strip()) if p]


def day_problems(what: Problem, texts: list[str]) -> list[Problem]:
    """What is wrong with one day's periods, each naming the day (``what``) and the period:
    not ``HH:MM-HH:MM``, ending before it starts, two that overlap, too many."""
    fr, en = what
    problems: list[Problem] = []
    periods: list[Period] = []
    if len(texts) > MAX_PERIODS:
        problems.append((f"{fr} : {len(texts)} périodes, {MAX_PERIODS} au plus.",
                         f"{en}: {len(texts)} periods, {MAX_PERIODS} at most."))
    for text in texts:
        try:
            periods.append(parse_period(text))
        except ValueError:
            problems.append(_period_problem(fr, en, text))
    periods.sort(key=lambda p: p.start)
    for before, after in pairwise(periods):
        if before.end is None or after.start < before.end:
            problems.append((f"{fr} : les périodes {before} et {after} se chevauchent.",
                             f"{en}: periods {before} and {after} overlap."))
    return problems


def _period_problem(fr: str, en: str, text: str) -> Problem:
    shape = _SHAPE.match(text)
    if shape:
        h1, m1, h2, m2 = (int(g) for g in shape.groups())
        valid = h1 < 24 and m1 < 60 and m2 < 60 and (h2 < 24 or (h2, m2) == (24, 0))
        if valid:
            return (f"{fr} : la période « {text} » finit avant de commencer.",
                    f"{en}: period '{text}' ends before it starts.")
    return (f"{fr} : « {text} » n'est pas une période HH:MM-HH:MM (par exemple 08:00-12:30).",
            f"{en}: '{text}' is not a period HH:MM-HH:MM (for example 08:00-12:30).")


def week_problems(days: dict[str, list[str]]) -> dict[str, list[Problem]]:
    """The problems of each day of a week typed by a person (days without any left out)."""
    found = {day: day_problems(_capitalised(day_names(day)), days.get(day, []))
             for day in WEEKDAYS}
    return {day: problems for day, problems in found.items() if problems}


def _capitalised(names: tuple[str, str]) -> Problem:
    return names[0].capitalize(), names[1]


# -- holidays ahead -------------------------------------------------------------------------


@dataclass(frozen=True)
class Holiday:
    """A public holiday (one day) or the school holidays of the site's zone (a range)."""

    first: date
    last: date
    name: Reason
    school: bool
    estimated: bool = False
    """School holidays beyond the official data, from the rules (right to within a week)."""


_SCHOOL_NAMES = {
    1: Reason("Vacances de Noël", "Christmas holidays"),
    2: Reason("Vacances d'hiver", "Winter holidays"),
    3: Reason("Vacances d'hiver", "Winter holidays"),
    4: Reason("Vacances de printemps", "Spring holidays"),
    5: Reason("Pont de l'Ascension", "Ascension bridge"),
    6: Reason("Pont de l'Ascension", "Ascension bridge"),
    7: Reason("Vacances d'été", "Summer holidays"),
    8: Reason("Vacances d'été", "Summer holidays"),
    9: Reason("Vacances d'été", "Summer holidays"),
    10: Reason("Vacances de la Toussaint", "All Saints' holidays"),
    11: Reason("Vacances de la Toussaint", "All Saints' holidays"),
    12: Reason("Vacances de Noël", "Christmas holidays"),
}
"""School holidays named by the month they start in: the ministry's calendar keeps them
there (winter in February, spring in April, the Ascension bridge in May)."""


def holidays_ahead(calendar: FrenchCalendar, today: date, days: int = 365) -> list[Holiday]:
    """The public holidays and the school holidays of the calendar's zone that touch the
    ``days`` from ``today``, by first day; school holidays under way start when they did."""
    found: list[Holiday] = []
    span = [today + timedelta(days=n) for n in range(days)]
    for day in span:
        if calendar.is_public_holiday(day):
            found.append(Holiday(day, day, _public_name(calendar, day), school=False))
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
        found.append(Holiday(first, last, _SCHOOL_NAMES[first.month], school=True,
                             estimated=not calendar.school_holidays_from_data(first)))
    return sorted(found, key=lambda h: (h.first, h.school))


def school_holidays_apply(use: str) -> bool:
    """Whether the school holidays change a building's programme (schools and gyms)."""
    return use in SCHOOL_USES


def _public_name(calendar: FrenchCalendar, day: date) -> Reason:
    english = calendar.public_holiday_name(day) or ""
    french = _names(day.year, calendar.alsace_moselle, "fr").get(day, english)
    return Reason(french, _names(day.year, calendar.alsace_moselle, "en_US").get(day, english))


@functools.cache
def _names(year: int, alsace_moselle: bool, language: str) -> dict[date, str]:
    """Names of the public holidays in one language (the calendar decides which days)."""
    found = holidays.country_holidays("FR", subdiv="57" if alsace_moselle else None,
                                      years=year, language=language)
    return dict(found.items())


# -- how long a person may ask for ----------------------------------------------------------

LIGHTING_ENTRY_DAYS = 31
"""A lighting agenda entry (a market, a festival) lasts a month at most."""
EXCEPTION_DAYS = 366
"""An event, a closure or a run of special days lasts a year at most."""
ORDER_DAYS = 7
"""The mayor's immediate order lasts a week at most; beyond, the agenda says it."""
