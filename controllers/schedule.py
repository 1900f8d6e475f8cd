"""When a zone is meant to be occupied: the French calendar, the weekly programme, the agenda.

Pure decisions: every function takes the date or the wall-clock time it is about, nothing
reads the clock. The calendar libraries ship their data with them (``holidays`` computes
public holidays, ``vacances-scolaires-france`` carries a CSV of school holidays), so no
network or device is touched here.

The agenda (``gtb.model.calendar.AgendaEntry``: events, closures, day exceptions) layers on top of
the programme and the calendar. Where several things say something about one moment, the
strongest wins:

1. a closure (unoccupied), over
2. an event (occupied), over
3. a day exception (that day's own periods, or closed), over
4. public holidays, and school holidays for schools and gyms (closed), over
5. the weekly programme.

Among day exceptions covering one day, the one with the shortest range wins (14 July
inside a summer timetable), then the one listed last; among overlapping events or
closures, the one listed last names the moment. Everything is wall-clock time in the
site's zone, like the programme's periods, read as an instant by ``wall_instant``, one
rule for periods, day exceptions, events, closures and the cabinets' entries and night
windows:

- on the night clocks go forward (02:00 becomes 03:00), a time in the missing hour is
  read as 03:00: a period 02:30-05:00 starts at 03:00, one of 01:30-02:30 lasts half an
  hour, until 03:00, and an event 02:00-03:00 or 02:15-02:45 names no time that exists
  and occupies nothing;
- on the night they go back (03:00 becomes 02:00, and 02:00-03:00 is lived twice), a time
  in the repeated hour is read at its first occurrence: a period happens once, without a
  gap or a second time, so 01:30-02:30 runs from 01:30 to the first 02:30 and 02:00-03:00
  runs from the first 02:00 to 03:00, both passes (two real hours).

Comparisons are made between instants (UTC), never between wall-clock times, which
Python compares without the fold and would see the repeated hour's second pass inside a
period of its first.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import cache, lru_cache
from itertools import pairwise
from operator import attrgetter
from typing import Literal, NamedTuple

import holidays
from vacances_scolaires_france import SchoolHolidayDates

from gtb.model import SCHOOL_USES, BuildingUse
from gtb.model.calendar import AgendaEntry, Period, Programme, parse_period

SchoolZone = Literal["A", "B", "C"]


class DayType(StrEnum):
    """What kind of day a date is for one building; combined with the weekday by callers."""

    PUBLIC_HOLIDAY = "public_holiday"
    WEEKEND = "weekend"
    SCHOOL_HOLIDAY = "school_holiday"
    SCHOOL_DAY = "school_day"
    WORKING_DAY = "working_day"


# --- school holidays ------------------------------------------------------------------


@cache
def _school_data() -> SchoolHolidayDates:
    """The package parses its CSV (about 0.5 MB) on construction: do it once."""
    return SchoolHolidayDates()


@cache
def _data_coverage() -> tuple[date, date]:
    """First and last day the package's data answers for.

    The CSV has rows up to 31 December of its last year, but the school year that starts
    that September is not in it (its Toussaint and Christmas rows say "not a holiday").
    So the data is trusted from its first row to the last day any zone is on holiday,
    which is the end of the last summer holiday it knows.
    """
    data = _school_data().data
    return (date(_school_data().min_year, 1, 1), max(data))


def _saturday_on_or_after(day: date) -> date:
    return day + timedelta(days=(5 - day.weekday()) % 7)


def _rentree(year: int) -> date:
    """First school day of September: the 1st, or the Monday after if it is a Fri-Sun."""
    first = date(year, 9, 1)
    return first if first.weekday() <= 3 else first + timedelta(days=7 - first.weekday())


_WINTER_ROTATION = {"A": 2023, "B": 2022, "C": 2021}
"""A year (modulo 3) in which the zone's winter holiday takes the earliest of the three
February slots: the rotation the ministry has followed since 2023 (checked up to 2028)."""


@cache
def _rule_based_holidays(year: int, zone: SchoolZone) -> tuple[tuple[date, date], ...]:
    """Approximate school holidays that start in calendar ``year`` (first and last day).

    Fitted on the official dates 2016-2028 (zones A, B, C):
    - winter: two weeks from the Saturday on or after 4 February, shifted by 0, 1 or 2
      weeks in a three-year rotation between the zones;
    - spring: two weeks, eight weeks after the winter holiday starts;
    - summer: from the Saturday in 3-9 July to the day before the rentrée;
    - Toussaint: two weeks from the Saturday in 17-23 October;
    - Christmas: two weeks from the Saturday in 17-23 December.
    Every start is off by at most a week from the official calendar; the bridge days of
    Ascension, decided year by year, are not guessed.
    """
    slot = (year - _WINTER_ROTATION[zone]) % 3
    winter = _saturday_on_or_after(date(year, 2, 4)) + timedelta(weeks=slot)
    spring = winter + timedelta(weeks=8)
    summer = _saturday_on_or_after(date(year, 7, 3))
    toussaint = _saturday_on_or_after(date(year, 10, 17))
    christmas = _saturday_on_or_after(date(year, 12, 17))
    two_weeks = timedelta(days=15)
    return (
        (winter, winter + two_weeks),
        (spring, spring + two_weeks),
        (summer, _rentree(year) - timedelta(days=1)),
        (toussaint, toussaint + two_weeks),
        (christmas, christmas + two_weeks),
    )


def _rule_says_holiday(day: date, zone: SchoolZone) -> bool:
    # A Christmas holiday that started the year before runs into January.
    for year in (day.year - 1, day.year):
        for first, last in _rule_based_holidays(year, zone):
            if first <= day <= last:
                return True
    return False


# --- the calendar ---------------------------------------------------------------------


@dataclass(frozen=True)
class FrenchCalendar:
    """Public holidays (with Alsace-Moselle's two extra days) and school holidays of a zone.

    School holidays come from ``vacances-scolaires-france`` (official dates of the
    education ministry, zones A/B/C, shipped with the package) for the days it covers:
    from 1 January 1990 to the end of the last summer holiday in its data (31 August
    2028 for version 0.12). Outside that range, ``is_school_holiday`` falls back on a
    rule-based approximation (see ``_rule_based_holidays``): right to within a week for
    each holiday, without the Ascension bridges. ``school_holidays_from_data(day)`` tells
    which of the two answered.
    """

    school_zone: SchoolZone
    alsace_moselle: bool = False
    _public: dict[int, dict[date, str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.school_zone not in ("A", "B", "C"):
            raise ValueError(f"school zone must be A, B or C, not {self.school_zone!r}")

    def _public_of(self, year: int) -> dict[date, str]:
        # A plain dict: looking a date up in ``holidays`` objects costs tens of µs.
        known = self._public.get(year)
        if known is None:
            subdiv = "57" if self.alsace_moselle else None
            known = dict(holidays.country_holidays("FR", subdiv=subdiv, years=year).items())
            self._public[year] = known
        return known

    def is_public_holiday(self, day: date) -> bool:
        """A jour férié; in Alsace-Moselle also Good Friday and 26 December."""
        return day in self._public_of(day.year)

    def public_holiday_name(self, day: date) -> str | None:
        return self._public_of(day.year).get(day)

    @staticmethod
    def school_holidays_from_data(day: date) -> bool:
        """True if the official data covers ``day``, False if the rules answer for it."""
        first, last = _data_coverage()
        return first <= day <= last

    def is_school_holiday(self, day: date) -> bool:
        """Whether the schools of the zone are on holiday (weekends inside included)."""
        if self.school_holidays_from_data(day):
            return bool(_school_data().is_holiday_for_zone(day, self.school_zone))
        return _rule_says_holiday(day, self.school_zone)

    def day_type(self, day: date, building_use: BuildingUse | str) -> DayType:
        """Public holiday first, then weekend; school holidays matter to schools and gyms."""
        if self.is_public_holiday(day):
            return DayType.PUBLIC_HOLIDAY
        if day.weekday() >= 5:
            return DayType.WEEKEND
        if building_use in SCHOOL_USES:
            return DayType.SCHOOL_HOLIDAY if self.is_school_holiday(day) else DayType.SCHOOL_DAY
        return DayType.WORKING_DAY


# --- the weekly programme -------------------------------------------------------------


def is_programmed(programme: Programme, local_dt: datetime) -> bool:
    """Whether the weekly programme has the zone occupied at this wall-clock time.

    ``local_dt`` is a time in the site's zone (aware, converted with
    ``astimezone(site.tz)``, or naive wall-clock time): periods are wall-clock times, so on
    a daylight-saving day a period 08:00-12:00 lasts four hours of the wall clock whatever
    the length of the day. An aware time is placed by instant, so that the hour lived
    twice in autumn is in a period once (see the module docstring).
    """
    tz = local_dt.tzinfo
    periods = programme.periods(local_dt.weekday())
    if tz is None:
        moment = local_dt.time()
        return any(period.start <= moment and (period.end is None or moment < period.end)
                   for period in periods)
    instant = local_dt.astimezone(UTC)
    return any(start <= instant < end
               for start, end in (_day_span(local_dt.date(), p, tz) for p in periods))


def programmed_periods(
    programme: Programme, calendar: FrenchCalendar, use: BuildingUse | str, day: date
) -> tuple[Period, ...]:
    """The programme's periods on ``day``: none on public holidays, nor for schools and gyms
    during the school holidays."""
    if calendar.day_type(day, use) in (DayType.PUBLIC_HOLIDAY, DayType.SCHOOL_HOLIDAY):
        return ()
    return programme.periods(day.weekday())


@dataclass(frozen=True)
class Occupation:
    """Where a zone stands in its programme at one instant (aware times in the site's zone).

    ``previous_end`` is when the zone was last left (None when not within the look-back),
    ``current_end`` when the current occupied period ends (None when unoccupied), and
    ``next_start`` when the next occupied period begins (None when not within the horizon).
    Periods that touch, such as 18:00-24:00 then 00:00-02:00, count as one.
    ``because`` is the label of the agenda entry that decides the present moment (« Conseil
    municipal », « Inventaire »), None when the programme and the calendar do.
    """

    occupied: bool
    previous_end: datetime | None
    current_end: datetime | None
    next_start: datetime | None
    because: str | None = None


LOOK_BACK_DAYS = 7
HORIZON_DAYS = 14


def occupation(
    programme: Programme,
    calendar: FrenchCalendar,
    use: BuildingUse | str,
    local_now: datetime,
    agenda: tuple[AgendaEntry, ...] = (),
) -> Occupation:
    """Where ``local_now`` (aware, in the site's zone) falls in the programme and the agenda.

    ``agenda`` holds the entries that apply to the zone (see ``agenda_for``); it is part of
    a cache key, so pass a tuple, and only the entries near ``local_now`` for speed.
    """
    tz = local_now.tzinfo
    assert isinstance(tz, tzinfo)
    today = local_now.date()
    labels: tuple[tuple[datetime, datetime, str], ...] = ()
    if agenda:
        intervals, labels = _agenda_intervals(programme, calendar, use, today, tz, agenda)
    else:
        intervals = _intervals(programme, calendar, use, today, tz)
    now = local_now.astimezone(UTC)  # instants: the autumn's repeated hour is not inside
    because = _label_at(labels, now) if labels else None
    index = bisect_right(intervals, now, key=_end)  # the first that ends after now
    previous_end = intervals[index - 1].local_end if index else None
    if index == len(intervals):
        return Occupation(False, previous_end, None, None, because)
    current = intervals[index]
    if current.start <= now:
        following = intervals[index + 1].local_start if index + 1 < len(intervals) else None
        return Occupation(True, previous_end, current.local_end, following, because)
    return Occupation(False, previous_end, None, current.local_start, because)


def agenda_for(
    entries: Iterable[AgendaEntry], building: str, zone: str, around: date | None = None
) -> tuple[AgendaEntry, ...]:
    """The entries that apply to one zone, in their order; with ``around``, only those
    that touch the days ``occupation`` looks at from that date (the rest cannot matter)."""
    if around is None:
        return tuple(e for e in entries if e.applies_to(building, zone))
    first, last = _window(around)
    return tuple(
        e for e in entries
        if e.applies_to(building, zone) and e.first_day <= last and e.last_day >= first
    )


def _window(today: date) -> tuple[date, date]:
    """The first and last day whose periods ``occupation`` considers."""
    return today - timedelta(days=LOOK_BACK_DAYS), today + timedelta(days=HORIZON_DAYS)


def _day_span(day: date, period: Period, tz: tzinfo) -> tuple[datetime, datetime]:
    """A period of ``day`` as UTC instants (``wall_instant``): empty when it lies wholly
    in the hour skipped in spring."""
    start = wall_instant(day, period.start, tz)
    end = (wall_instant(day + timedelta(days=1), time(), tz) if period.end is None
           else wall_instant(day, period.end, tz))
    return start, end


class _Interval(NamedTuple):
    """An occupied interval: its instants (UTC), compared with the present, and the same
    in the site's zone, as an ``Occupation`` tells them (converted once, in the cache)."""

    start: datetime
    end: datetime
    local_start: datetime
    local_end: datetime


_end = attrgetter("end")
"""An interval's end: joined intervals are in order of their ends, searched by them."""


def _joined(spans: Iterable[tuple[datetime, datetime]], tz: tzinfo) -> tuple[_Interval, ...]:
    """Spans (UTC instants) in order, those that touch or overlap joined into one."""
    intervals: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if intervals and intervals[-1][1] >= start:
            intervals[-1] = (intervals[-1][0], max(intervals[-1][1], end))
        else:
            intervals.append((start, end))
    return tuple(_Interval(start, end, start.astimezone(tz), end.astimezone(tz))
                 for start, end in intervals)


@lru_cache(maxsize=4096)
def _intervals(
    programme: Programme, calendar: FrenchCalendar, use: str, today: date, tz: tzinfo
) -> tuple[_Interval, ...]:
    """The programme's occupied intervals around ``today``, touching
    periods joined; a period that lies wholly in the hour skipped in spring occupies
    nothing.

    Cached: it changes only with the day, and every zone of a building usually shares
    its programme, so a tick of a thousand zones computes a handful of these.
    """
    first, last = _window(today)
    spans = (span for day in _days(first, last)
             for period in programmed_periods(programme, calendar, use, day)
             if (span := _day_span(day, period, tz))[0] < span[1])
    return _joined(spans, tz)


def day_exception(agenda: Sequence[AgendaEntry], day: date
                  ) -> tuple[int, AgendaEntry] | None:
    """The day exception that decides ``day`` and its position in ``agenda``: the
    shortest range is the most specific; then the one listed last. None: no exception."""
    covering = [(p, e) for p, e in enumerate(agenda)
                if e.kind == "day" and e.first_day <= day <= e.last_day]
    if not covering:
        return None
    return max(covering, key=lambda pe: (-(pe[1].last_day - pe[1].first_day).days, pe[0]))


def _days(first: date, last: date) -> Iterable[date]:
    return (first + timedelta(days=n) for n in range((last - first).days + 1))


# Precedence of what decides a moment, weakest first (see the module docstring).
_PROGRAMME, _DAY_CLOSED, _DAY_OPEN, _EVENT, _CLOSURE = range(5)


@dataclass(frozen=True)
class _Span:
    start: datetime
    end: datetime
    rank: tuple[int, int]  # (precedence, position in the agenda): the highest decides
    occupied: bool
    label: str | None


@lru_cache(maxsize=4096)
def _agenda_intervals(
    programme: Programme,
    calendar: FrenchCalendar,
    use: str,
    today: date,
    tz: tzinfo,
    agenda: tuple[AgendaEntry, ...],
) -> tuple[tuple[_Interval, ...], tuple[tuple[datetime, datetime, str], ...]]:
    """The occupied intervals around ``today`` with the agenda applied, and the stretches
    of time an agenda entry decides, with its label (UTC instants). Cached like
    ``_intervals``."""
    first, last = _window(today)
    window_start = wall_instant(first, time(), tz)
    window_end = wall_instant(last + timedelta(days=1), time(), tz)
    spans = _programme_and_day_spans(programme, calendar, use, first, last, tz, agenda)
    for position, entry in enumerate(agenda):
        if entry.kind == "day":
            continue
        assert entry.start is not None and entry.end is not None
        start = max(wall_instant(entry.start.date(), entry.start.time(), tz), window_start)
        end = min(wall_instant(entry.end.date(), entry.end.time(), tz), window_end)
        if start < end:
            event = entry.kind == "event"
            spans.append(_Span(start, end, (_EVENT if event else _CLOSURE, position), event,
                               entry.label))
    segments = _paint(spans)
    intervals = _joined(((s.start, s.end) for s in segments if s.occupied), tz)
    labels: list[tuple[datetime, datetime, str]] = []
    for s in segments:
        if s.label is None:
            continue
        if labels and labels[-1][1] == s.start and labels[-1][2] == s.label:
            labels[-1] = (labels[-1][0], s.end, s.label)
        else:
            labels.append((s.start, s.end, s.label))
    return intervals, tuple(labels)


def _programme_and_day_spans(
    programme: Programme,
    calendar: FrenchCalendar,
    use: str,
    first: date,
    last: date,
    tz: tzinfo,
    agenda: tuple[AgendaEntry, ...],
) -> list[_Span]:
    """Each day's periods: from its day exception if it has one, else from the programme
    and the calendar. An exception day is decided by its entry all day long."""
    spans: list[_Span] = []
    for day in _days(first, last):
        found = day_exception(agenda, day)
        if found is None:
            spans.extend(
                _Span(*_day_span(day, period, tz), (_PROGRAMME, 0), True, None)
                for period in programmed_periods(programme, calendar, use, day)
            )
            continue
        position, entry = found
        midnight = wall_instant(day, time(), tz)
        next_midnight = wall_instant(day + timedelta(days=1), time(), tz)
        spans.append(_Span(midnight, next_midnight, (_DAY_CLOSED, position), False, entry.label))
        spans.extend(
            _Span(*_day_span(day, parse_period(text), tz), (_DAY_OPEN, position), True,
                  entry.label)
            for text in entry.periods
        )
    return spans


def _paint(spans: list[_Span]) -> list[_Span]:
    """Cut the spans at every boundary and keep, for each piece, the highest-ranked span
    over it: a timeline of pieces in order, without gaps decided by nobody."""
    bounds = sorted({s.start for s in spans} | {s.end for s in spans})
    by_start = sorted(spans, key=lambda s: s.start)
    active: list[_Span] = []
    pieces: list[_Span] = []
    next_span = 0
    for start, end in pairwise(bounds):
        while next_span < len(by_start) and by_start[next_span].start <= start:
            active.append(by_start[next_span])
            next_span += 1
        active = [s for s in active if s.end > start]
        if active:
            top = max(active, key=lambda s: s.rank)
            pieces.append(_Span(start, end, top.rank, top.occupied, top.label))
    return pieces


def wall_instant(day: date, clock: time, tz: tzinfo) -> datetime:
    """A wall-clock time on a day, as a UTC instant: a time that the spring change skips
    is read as the end of the skipped hour (``existing_time``), one that the autumn change
    repeats as its first occurrence (see the module docstring)."""
    return existing_time(datetime.combine(day, clock, tzinfo=tz)).astimezone(UTC)


def existing_time(moment: datetime) -> datetime:
    """The time itself, or for one in the hour skipped in spring, the end of that hour:
    an event 02:00-03:00 that night lasts nothing, and none starts or ends at a time that
    never shows on the clock."""
    tz = moment.tzinfo
    while moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != moment.replace(
        tzinfo=None
    ):
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return moment


def _label_at(
    labels: tuple[tuple[datetime, datetime, str], ...], now: datetime
) -> str | None:
    index = bisect_right(labels, now, key=lambda item: item[0]) - 1
    if index >= 0 and now < labels[index][1]:
        return labels[index][2]
    return None
