"""Lighting: public lighting cabinets by astronomical clock, building circuits by presence,
scheduled equipment, and the check of a cabinet's programme against the arrêté of
27 December 2018 on light nuisance.

Pure functions of the site file, the agenda and the time, like ``controllers.heating``:
the engine, the benchmark or another system asks, and gets a decision with its reason.

A cabinet's night
-----------------
The *night of* a date D runs from noon on D to noon on D+1 (local time). The cabinet is
lit from sunset(D) + ``on_after_sunset_min`` to sunrise(D+1) - ``off_before_sunrise_min``,
except within its cut-off window (23:00-05:00 by default; ``23:00-sunrise`` does not
relight in the morning), at the level of the dimming window that applies (100 % else).
Wall-clock windows are placed on the night's dates, so a daylight-saving night keeps its
23:00 and 05:00: the cut is an hour shorter or longer in real time, as a clock on the wall
would make it.

Lighting agenda entries (``lights_on``, ``lights_off``) win over the timetable while they
last; where several overlap, the shortest wins (the fireworks within the festival), then
the one listed last. The mayor's immediate on or off is an override with an expiry, which
arbitration applies over all of this.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from astral import Observer
from astral.sun import sun

from controllers.schedule import Occupation, wall_instant
from gtb.model import Cabinet
from gtb.model.calendar import LIGHTING_KINDS, AgendaEntry, NightWindow, parse_night_window
from gtb.texts import Reason, said

# --- the sun -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SunTimes:
    """Sunrise and sunset of one day, aware, in the site's zone."""

    sunrise: datetime
    sunset: datetime


@functools.lru_cache(maxsize=4096)
def sun_times(latitude: float, longitude: float, tz: ZoneInfo, day: date) -> SunTimes:
    """Sunrise and sunset (upper limb on the horizon, with refraction: the published
    convention) on ``day`` at a place, from ``astral``."""
    times = sun(Observer(latitude, longitude), day, tzinfo=tz)
    return SunTimes(times["sunrise"], times["sunset"])


# --- a cabinet's timetable -------------------------------------------------------------------


@dataclass(frozen=True)
class Stretch:
    """Part of a night at one light level (0: off), with why; times in UTC, so that
    durations and order are real ones on daylight-saving nights."""

    start: datetime
    end: datetime
    level: float
    reason: Reason


def night_of(local: datetime) -> date:
    """The date whose night ``local`` belongs to (nights run from noon to noon)."""
    return (local - timedelta(hours=12)).date()


def _window_span(window: NightWindow, night: date, sunrise: datetime, tz: tzinfo
                 ) -> tuple[datetime, datetime]:
    """Where a night window falls on the night of ``night``: a start after noon belongs
    to the evening of ``night``, before noon to the morning after."""
    start_day = night if window.start >= time(12) else night + timedelta(days=1)
    start = wall_instant(start_day, window.start, tz)
    if window.end is None:
        return start, max(start, sunrise)
    end_day = start_day if window.end > window.start else start_day + timedelta(days=1)
    return start, wall_instant(end_day, window.end, tz)


@functools.lru_cache(maxsize=8192)
def timetable(cabinet: Cabinet, latitude: float, longitude: float, tz: ZoneInfo,
              night: date) -> tuple[Stretch, ...]:
    """The programmed stretches of the night of ``night``, lit or not, from noon to noon,
    without the agenda."""
    noon = wall_instant(night, time(12), tz)
    next_noon = wall_instant(night + timedelta(days=1), time(12), tz)
    sunset = sun_times(latitude, longitude, tz, night).sunset.astimezone(UTC)
    sunrise = sun_times(latitude, longitude, tz, night + timedelta(days=1)).sunrise.astimezone(UTC)
    lit_from = sunset + timedelta(minutes=cabinet.on_after_sunset_min)
    lit_to = sunrise - timedelta(minutes=cabinet.off_before_sunrise_min)
    at_dusk = (Reason.of("lighting.after_sunset", minutes=cabinet.on_after_sunset_min,
                         sunset=sunset.astimezone(tz))
               if cabinet.on_after_sunset_min
               else Reason.of("lighting.at_sunset", sunset=sunset.astimezone(tz)))
    # Cut points: the lit span, the cut-off and the dimming windows.
    edges = {noon, next_noon, lit_from, lit_to}
    cut = None
    if cabinet.night_cut is not None:
        cut = _window_span(cabinet.night_cut, night, sunrise, tz)
        edges.update(cut)
    dims = [(_window_span(parse_night_window(d.window), night, sunrise, tz), d.level)
            for d in cabinet.dimming]
    for (start, end), _ in dims:
        edges.update((start, end))
    points = sorted(e for e in edges if noon <= e <= next_noon)
    stretches: list[Stretch] = []
    for start, end in itertools.pairwise(points):
        if start >= end:
            continue
        stretches.append(_stretch(start, end, lit_from, lit_to, sunrise, cut, dims, at_dusk,
                                  tz))
    return tuple(_merged(stretches))


def _stretch(start: datetime, end: datetime, lit_from: datetime, lit_to: datetime,
             sunrise: datetime, cut: tuple[datetime, datetime] | None,
             dims: Sequence[tuple[tuple[datetime, datetime], float]], at_dusk: Reason,
             tz: tzinfo) -> Stretch:
    """One stretch between two edges: what holds in its middle holds throughout."""
    middle = start + (end - start) / 2
    if not lit_from <= middle < lit_to:
        if lit_to <= middle < sunrise:
            before = round((sunrise - lit_to).total_seconds() / 60)
            return Stretch(start, end, 0.0, Reason.of(
                "lighting.before_sunrise", minutes=before, sunrise=sunrise.astimezone(tz)))
        return Stretch(start, end, 0.0, Reason.of("lighting.daylight"))
    if cut is not None and cut[0] <= middle < cut[1]:
        if cut[1] >= lit_to:
            return Stretch(start, end, 0.0, Reason.of("lighting.cut_until_sunrise",
                                                      start=cut[0].astimezone(tz)))
        return Stretch(start, end, 0.0, Reason.of("lighting.cut", start=cut[0].astimezone(tz),
                                                  end=cut[1].astimezone(tz)))
    for (d_start, d_end), level in dims:
        if d_start <= middle < d_end:
            return Stretch(start, end, level, Reason.of(
                "lighting.dimmed", lit=at_dusk, level=level, start=d_start.astimezone(tz),
                end=d_end.astimezone(tz)))
    if cut is not None and middle >= cut[1]:
        return Stretch(start, end, 100.0, Reason.of(
            "lighting.on_again", start=cut[1].astimezone(tz), sunrise=sunrise.astimezone(tz)))
    return Stretch(start, end, 100.0, at_dusk)


def _merged(stretches: Iterable[Stretch]) -> Iterator[Stretch]:
    last: Stretch | None = None
    for stretch in stretches:
        if last is not None and last.level == stretch.level and last.reason == stretch.reason:
            last = Stretch(last.start, stretch.end, last.level, last.reason)
            continue
        if last is not None:
            yield last
        last = stretch
    if last is not None:
        yield last


# --- decisions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CabinetDecision:
    """What a cabinet should do now: on or off, at what level, and why."""

    on: bool
    level: float
    """% of full power (0 when off)."""
    reason: Reason
    event: str | None = None
    """The label of the agenda entry that decides, if one does."""


def lighting_entries(entries: Iterable[AgendaEntry], cabinet: str) -> tuple[AgendaEntry, ...]:
    """The lighting entries that concern one cabinet, in agenda order."""
    return tuple(e for e in entries if e.applies_to_cabinet(cabinet))


def cabinet_decision(cabinet: Cabinet, latitude: float, longitude: float,
                     local_now: datetime, agenda: Sequence[AgendaEntry] = ()) -> CabinetDecision:
    """The cabinet's state at ``local_now`` (aware, in the site's zone): the agenda's
    lighting entries first, then the timetable of the night."""
    tz = local_now.tzinfo
    assert isinstance(tz, ZoneInfo)
    entry = _deciding_entry(agenda, local_now, tz)
    if entry is not None:
        assert entry.end is not None
        end = _existing(entry.end, tz).astimezone(tz)
        on = entry.kind == "lights_on"
        return CabinetDecision(
            on, 100.0 if on else 0.0,
            Reason.of("lighting.entry_on" if on else "lighting.entry_off", at=local_now,
                      label=entry.label, until=end),
            entry.label)
    night = night_of(local_now)
    instant = local_now.astimezone(UTC)
    for stretch in timetable(cabinet, latitude, longitude, tz, night):
        if stretch.start <= instant < stretch.end:
            return CabinetDecision(stretch.level > 0, stretch.level, stretch.reason)
    raise AssertionError(f"{local_now} is not in the night of {night}")  # noon to noon


@functools.lru_cache(maxsize=4096)
def _existing(wall: datetime, tz: ZoneInfo) -> datetime:
    """An agenda entry's wall-clock time as a UTC instant, read as the zones read it
    (``wall_instant``: 03:00 for a time the spring change skips, the first occurrence
    of one the autumn change repeats)."""
    return wall_instant(wall.date(), wall.time(), tz)


def _deciding_entry(agenda: Sequence[AgendaEntry], local_now: datetime, tz: ZoneInfo
                    ) -> AgendaEntry | None:
    active = []
    instant = local_now.astimezone(UTC)
    for position, entry in enumerate(agenda):
        if entry.kind not in LIGHTING_KINDS:
            continue
        assert entry.start is not None and entry.end is not None
        start, end = _existing(entry.start, tz), _existing(entry.end, tz)
        if start <= instant < end:
            active.append((end - start, -position, entry))
    if not active:
        return None
    return min(active, key=lambda item: (item[0], item[1]))[2]


# --- building circuits and scheduled equipment --------------------------------------------

VACANCY_DELAY = timedelta(minutes=15)
"""A room's lights stay on this long after the last presence detected."""


@dataclass(frozen=True)
class SwitchDecision:
    """On or off for a building's lighting circuit or a piece of equipment, and why."""

    on: bool
    reason: Reason


def circuit_decision(where: Occupation, local_now: datetime, *, detector: bool,
                     presence: bool | None, last_seen: datetime | None,
                     vacancy_delay: timedelta = VACANCY_DELAY) -> SwitchDecision:
    """A zone's lighting circuit: on while someone is there and for ``vacancy_delay``
    after, whatever the programme says, so an empty building is never lit at night.

    Without a detector, or when its reading is not good (stale or failed: ``presence``
    None), the programme decides:
    on in its occupied periods, so nobody is left in the dark, off outside.
    ``last_seen`` is the last moment presence was detected (aware).
    """
    if presence is None:
        missing = Reason.of("circuit.detector_failed" if detector else "circuit.no_detector")
        if where.occupied:
            assert where.current_end is not None
            return SwitchDecision(True, Reason.of(
                "circuit.occupied_unseen", at=local_now, occupied=occupied_by(where),
                until=where.current_end, missing=missing))
        return SwitchDecision(False, Reason.of("circuit.unoccupied_unseen",
                                               unoccupied=unoccupied_by(where), missing=missing))
    if presence:
        return SwitchDecision(True, Reason.of("circuit.presence"))
    if last_seen is not None:
        off_at = last_seen.astimezone(UTC) + vacancy_delay
        if local_now.astimezone(UTC) < off_at:
            return SwitchDecision(True, Reason.of(
                "circuit.vacating", at=local_now, since=last_seen,
                off=off_at.astimezone(local_now.tzinfo)))
    minutes = round(vacancy_delay.total_seconds() / 60)
    if where.occupied:
        return SwitchDecision(False, Reason.of("circuit.occupied_empty",
                                               occupied=occupied_by(where), minutes=minutes))
    return SwitchDecision(False, Reason.of("circuit.unoccupied_empty",
                                           unoccupied=unoccupied_by(where)))


def equipment_decision(where: Occupation, local_now: datetime) -> SwitchDecision:
    """A scheduled output: on in its programme's periods and its events, off otherwise."""
    why = said(where.because) if where.because else Reason.of("equipment.programme")
    if where.occupied:
        assert where.current_end is not None
        return SwitchDecision(True, Reason.of("equipment.on", at=local_now, why=why,
                                              until=where.current_end))
    if where.next_start is not None:
        return SwitchDecision(False, Reason.of("equipment.off_until", at=local_now, why=why,
                                               until=where.next_start))
    return SwitchDecision(False, Reason.of("equipment.off", why=why))


def occupied_by(where: Occupation) -> Reason:
    """« occupé (Conseil municipal) » when an agenda entry decides, else « occupé selon le
    programme »."""
    if where.because:
        return Reason.of("occupation.occupied_because", because=where.because)
    return Reason.of("occupation.occupied")


def unoccupied_by(where: Occupation) -> Reason:
    """« inoccupé (Inventaire) » when an agenda entry decides, else « inoccupé »."""
    if where.because:
        return Reason.of("occupation.unoccupied_because", because=where.because)
    return Reason.of("occupation.unoccupied")
