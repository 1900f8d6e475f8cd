"""What the lighting and programme pages work out for people: a cabinet's night, the week
a person types, the holidays ahead.

The nights and the holidays are the engine's: it publishes them to the store's status
(``gtb.engine.outlook``) and the panel reads them back here, so the panel shows what the engine
does. Nothing here touches the store or Flask; refusals are returned as ``(fr, en)`` texts
for ``Panel`` to raise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise
from typing import Any

from gtb.i18n import DAYS_EN, DAYS_FR
from gtb.model import SCHOOL_USES, WEEKDAYS, Period, Reason, parse_period

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
    """A cabinet's programmed night (without the agenda and orders), in local time, as the
    engine published it."""

    night: date
    sunset: datetime
    sunrise: datetime
    steps: tuple[Step, ...]
    """From the first switch-on to the last switch-off."""

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Night:
        """From a ``night`` status record (gtb.engine.outlook.night_record)."""
        return cls(
            date.fromisoformat(data["night"]), datetime.fromisoformat(data["sunset"]),
            datetime.fromisoformat(data["sunrise"]),
            tuple(Step(datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]),
                       float(s["level"]), _reason(s["reason"])) for s in data["steps"]))

    @property
    def on_at(self) -> datetime | None:
        return next((s.start for s in self.steps if s.level > 0), None)

    @property
    def off_at(self) -> datetime | None:
        return next((s.end for s in reversed(self.steps) if s.level > 0), None)


def _reason(data: Mapping[str, str]) -> Reason:
    return Reason(data["fr"], data["en"])


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


def holidays_from(data: Mapping[str, Any]) -> list[Holiday]:
    """The holidays of a ``holidays`` status record (gtb.engine.outlook.holidays_record)."""
    return [Holiday(date.fromisoformat(h["first"]), date.fromisoformat(h["last"]),
                    _reason(h["name"]), bool(h["school"]), bool(h["estimated"]))
            for h in data["holidays"]]


def school_holidays_apply(use: str) -> bool:
    """Whether the school holidays change a building's programme (schools and gyms)."""
    return use in SCHOOL_USES


# -- how long a person may ask for ----------------------------------------------------------

LIGHTING_ENTRY_DAYS = 31
"""A lighting agenda entry (a market, a festival) lasts a month at most."""
EXCEPTION_DAYS = 366
"""An event, a closure or a run of special days lasts a year at most."""
ORDER_DAYS = 7
"""The mayor's immediate order lasts a week at most; beyond, the agenda says it."""
OVERRIDE_DAYS = 31
"""A zone's override lasts a month at most; beyond, the programme says it."""
