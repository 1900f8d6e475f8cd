"""What the lighting and programme pages work out for people: the week a person types,
how long a person may ask for.

The nights and the holidays ahead are the engine's: it publishes them to the store's
status (``gtb.store.status.Night`` and ``Holidays``) and the pages read them from there,
so the panel shows what the engine does. Nothing here touches the store or Flask;
refusals are returned as ``(fr, en)`` texts for ``Panel`` to raise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import pairwise

from gtb.i18n import DAYS_EN, DAYS_FR
from gtb.model import SCHOOL_USES
from gtb.model.calendar import WEEKDAYS, Period, parse_period
from web.limits import echoed

Problem = tuple[str, str]
"""A refusal in French and English."""

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
    if len(texts) > MAX_PERIODS:  # each one's problems would only make the refusal long
        return [(f"{fr} : {len(texts)} périodes, {MAX_PERIODS} au plus.",
                 f"{en}: {len(texts)} periods, {MAX_PERIODS} at most.")]
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
    text = echoed(text)
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
