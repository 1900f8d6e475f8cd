"""Light nuisance: whether what a cabinet lights keeps to the arrêté of 27 December 2018
on the prevention, reduction and limitation of light nuisance (article 2, the hours).

Pure functions, like ``controllers.lighting``: given what was (or would be) lit during the
night of a date, they list the breaches of the rule of the cabinet's category, each with
when it starts, how long it lasts and a reason that names the rule and the article, so
that the panel and ``gtb check`` can report a programme or a night that breaks the arrêté.

The rules, by category (art. 2 of the arrêté, as modified on 29 May 2019)
-------------------------------------------------------------------------
- ``road``: road lighting has no hours in article 2 (the mayor may cut it): never a breach.
- ``heritage``, ``facade`` (II and III): « allumés au plus tôt au coucher du soleil et
  [...] éteints au plus tard à 1 heure du matin ». Nothing allows them on again before the
  next sunset, so a morning relight (the default 23:00-05:00 cut) is a breach.
- ``park`` (II): as heritage, but « s'agissant des parcs et jardins, au plus tard une heure
  après leur fermeture »: with ``activity`` (the opening hours), off by closing + 1 h (never
  later than 1:00: the hours end by 24:00).
- ``activity`` (I, lighting tied to an economic activity): « éteints au plus tard une
  heure après la cessation de l'activité et [...] rallumés à 7 heures du matin au plus tôt
  ou une heure avant le début de l'activité si celle-ci s'exerce plus tôt ».
- ``car_park`` (IV, car parks attached to a place of activity): « allumés au plus tôt au
  coucher du soleil et [...] éteints deux heures après la cessation de l'activité », and
  on again in the morning at 7:00 at the earliest or 1 h before the activity, as in I.
- ``activity`` and ``car_park`` without ``activity`` hours cannot be checked: one breach
  says the hours are needed.

Wall-clock limits (1:00, 7:00, the activity's hours) are placed on the night's local dates
and converted to UTC, so that a daylight-saving night keeps its 1:00; "an hour after" is
then a real hour. A switch within a minute of a limit is not a breach.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from controllers.lighting import sun_times, timetable, wall_instant
from gtb.model import Cabinet
from gtb.model.calendar import Period
from gtb.texts import Reason

TOLERANCE = timedelta(minutes=1)
"""How late (or early) a switch may be before it is a breach."""



@dataclass(frozen=True)
class Breach:
    """One stretch of a night during which a cabinet broke the arrêté."""

    cabinet: str
    """The cabinet's id."""
    night: date
    """The night it belongs to (noon on that date to noon the day after)."""
    rule: str
    """Short id of the rule broken, e.g. ``heritage_off_by_1h``."""
    when: datetime
    """When the breach starts (UTC)."""
    duration: timedelta
    """How long it lasts (0 where it cannot be told: hours needed)."""
    reason: Reason
    """What happened and what the arrêté asks, in French and English."""


_AT_SUNSET = frozenset({"heritage", "park", "facade", "car_park"})
"""Categories that may be switched on at sunset at the earliest (II, III, IV)."""


@dataclass(frozen=True)
class _Limits:
    """Lit from ``off_by`` until ``on_again`` is a breach: ``off_rule`` if the light was
    still on at ``off_by``, ``on_rule`` if it was switched on in between."""

    off_by: datetime
    on_again: datetime
    off_rule: str
    on_rule: str
    off_says: Reason
    """What the arrêté asks of the switching off, after « : l'arrêté ... »."""
    on_says: Reason
    """What it asks of the switching on."""


def breaches(cabinet: Cabinet, latitude: float, longitude: float, tz: ZoneInfo, night: date,
             lit: Sequence[tuple[datetime, datetime, float]]) -> list[Breach]:
    """The breaches of the arrêté during the night of ``night`` (noon to noon, local),
    given what was lit: ``(start, end, level)`` intervals, aware (UTC), level > 0; parts
    outside the night are ignored. In order of ``when``."""
    category = cabinet.category
    if category == "road":
        return []
    noon = wall_instant(night, time(12), tz)
    next_noon = wall_instant(night + timedelta(days=1), time(12), tz)
    spans = _spans(lit, noon, next_noon)
    if not spans:
        return []
    on = Reason.of(f"nuisance.lit.{category}")
    found: list[Breach] = []

    def breach(rule: str, when: datetime, duration: timedelta, reason: Reason) -> None:
        found.append(Breach(cabinet.id, night, rule, when, duration, reason))

    if category in _AT_SUNSET:
        sunset = sun_times(latitude, longitude, tz, night).sunset.astimezone(UTC)
        for start, end in spans:
            early = min(end, sunset) - start
            if early > TOLERANCE:
                breach(f"{category}_on_at_sunset", start, early, Reason.of(
                    "nuisance.on_before_sunset", lit=on, start=start.astimezone(tz),
                    sunset=sunset.astimezone(tz)))
    limits = _limits(cabinet, night, tz, next_noon)
    if limits is None:
        breach(f"{category}_hours_needed", spans[0][0], timedelta(0), Reason.of(
            "nuisance.hours_needed", name=Reason.of(f"nuisance.name.{category}"),
            hours=1 if category == "activity" else 2))
        return sorted(found, key=lambda b: b.when)
    for index, (start, end) in enumerate(spans):
        first, last = max(start, limits.off_by), min(end, limits.on_again)
        if last - first <= TOLERANCE:
            continue
        if start <= limits.off_by + TOLERANCE:
            breach(limits.off_rule, first, last - first, Reason.of(
                "nuisance.lit_until", lit=on, end=end.astimezone(tz), says=limits.off_says))
        else:
            again = Reason.of(f"nuisance.relit.{category}") if index else on
            breach(limits.on_rule, first, last - first, Reason.of(
                "nuisance.lit_at", lit=again, start=start.astimezone(tz),
                says=limits.on_says))
    return sorted(found, key=lambda b: b.when)


def check_programme(cabinet: Cabinet, latitude: float, longitude: float, tz: ZoneInfo,
                    first: date, last: date) -> list[Breach]:
    """The breaches of the cabinet's programmed timetable (without the agenda) for every
    night from ``first`` to ``last`` inclusive. Missing activity hours are reported once,
    on the first night, not every night."""
    found: list[Breach] = []
    hours_asked = False
    night = first
    while night <= last:
        lit = [(s.start, s.end, s.level)
               for s in timetable(cabinet, latitude, longitude, tz, night) if s.level > 0]
        for item in breaches(cabinet, latitude, longitude, tz, night, lit):
            if item.rule.endswith("_hours_needed"):
                if hours_asked:
                    continue
                hours_asked = True
            found.append(item)
        night += timedelta(days=1)
    return found


# --- the limits of each category ------------------------------------------------------------


def _limits(cabinet: Cabinet, night: date, tz: ZoneInfo, next_noon: datetime) -> _Limits | None:
    """When the cabinet must be off during the night of ``night``; None when that depends
    on activity hours that the cabinet does not give."""
    category = cabinet.category
    morning = night + timedelta(days=1)
    one_am = wall_instant(morning, time(1), tz)
    period = cabinet.activity_period
    if category in ("heritage", "facade", "park"):
        off_says, on_says = Reason.of("nuisance.off_by_1h"), Reason.of("nuisance.on_until_1h")
        off_by = one_am
        if category == "park" and period is not None:
            closing = _end_of(period, night, tz)
            if closing + timedelta(hours=1) < one_am:
                off_by = closing + timedelta(hours=1)
                off_says = Reason.of("nuisance.off_after_closing",
                                     closing=closing.astimezone(tz), off=off_by.astimezone(tz))
                on_says = Reason.of("nuisance.on_until_closing", off=off_by.astimezone(tz))
        late = "off_1h_after_closing" if off_by != one_am else "off_by_1h"
        return _Limits(off_by, next_noon, f"{category}_{late}", f"{category}_no_relight",
                       off_says, on_says)
    if period is None:
        return None
    hours = 1 if category == "activity" else 2
    ends = _end_of(period, night, tz)
    off_by = ends + timedelta(hours=hours)
    starts = wall_instant(morning, period.start, tz)
    on_again = min(wall_instant(morning, time(7), tz), starts - timedelta(hours=1))
    return _Limits(
        off_by, max(off_by, on_again), f"{category}_off_{hours}h_after",
        f"{category}_relit_from_7h",
        Reason.of("nuisance.off_after_activity", hours=hours, ends=ends.astimezone(tz),
                  off=off_by.astimezone(tz)),
        Reason.of("nuisance.relight_from", on=on_again.astimezone(tz),
                  starts=starts.astimezone(tz)))


def _end_of(period: Period, night: date, tz: tzinfo) -> datetime:
    """When the activity of ``period`` ends on the evening of ``night`` (UTC)."""
    if period.end is None:
        return wall_instant(night + timedelta(days=1), time(0), tz)
    return wall_instant(night, period.end, tz)


# --- helpers ---------------------------------------------------------------------------------


def _spans(lit: Iterable[tuple[datetime, datetime, float]], noon: datetime,
           next_noon: datetime) -> list[tuple[datetime, datetime]]:
    """The lit intervals within the night, in UTC, in order; those apart by no more than
    the tolerance are one (a change of dimming level is not a relight)."""
    clipped = []
    for start, end, level in lit:
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError(f"lit intervals must be aware (UTC), not {start!r}")
        if level <= 0:
            continue
        start, end = max(start.astimezone(UTC), noon), min(end.astimezone(UTC), next_noon)
        if end > start:
            clipped.append((start, end))
    clipped.sort()
    spans: list[tuple[datetime, datetime]] = []
    for start, end in clipped:
        if spans and start - spans[-1][1] <= TOLERANCE:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans
