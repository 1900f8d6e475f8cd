"""Time in the site file: weekly programmes and their periods, agenda entries (events,
closures, special days, lighting orders), night windows of public lighting. Wall-clock
times of the site's zone, without offset."""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    field_validator,
    model_validator,
)

from gtb.model.base import (
    Model,
)

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PERIOD = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-(([01]\d|2[0-3]):([0-5]\d)|24:00)$")


@dataclass(frozen=True)
class Period:
    """An occupied period within one day, ``start`` included, ``end`` excluded."""

    start: time
    end: time | None  # None is midnight at the end of the day ("24:00")

    def __str__(self) -> str:
        end = "24:00" if self.end is None else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


@functools.cache
def parse_period(text: str) -> Period:
    """Parse ``"08:00-12:30"``; the end may be ``24:00``; the end must follow the start."""
    match = _PERIOD.match(text.strip())
    if not match:
        raise ValueError(f"period {text!r} is not HH:MM-HH:MM (e.g. 08:00-12:30)")
    start = time(int(match[1]), int(match[2]))
    end = None if match[3] == "24:00" else time(int(match[4]), int(match[5]))
    if end is not None and end <= start:
        raise ValueError(f"period {text!r} ends before it starts")
    return Period(start, end)


PeriodText = Annotated[str, AfterValidator(lambda text: str(parse_period(text)))]


def _sorted_periods(value: tuple[str, ...]) -> tuple[str, ...]:
    """One day's periods in order; two that overlap are an error."""
    periods = sorted((parse_period(text) for text in value), key=lambda p: p.start)
    for before, after in itertools.pairwise(periods):
        if before.end is None or after.start < before.end:
            raise ValueError(f"periods {before} and {after} overlap")
    return tuple(str(p) for p in periods)


class Programme(Model):
    """The official weekly programme: when a zone is meant to be occupied.

    Each day lists periods as ``"HH:MM-HH:MM"`` text; a day left out is unoccupied.
    """

    mon: tuple[PeriodText, ...] = ()
    tue: tuple[PeriodText, ...] = ()
    wed: tuple[PeriodText, ...] = ()
    thu: tuple[PeriodText, ...] = ()
    fri: tuple[PeriodText, ...] = ()
    sat: tuple[PeriodText, ...] = ()
    sun: tuple[PeriodText, ...] = ()

    @field_validator("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    @classmethod
    def _no_overlap(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _sorted_periods(value)

    def periods(self, weekday: int) -> tuple[Period, ...]:
        """Periods of a day, Monday being 0 as in ``date.weekday()``."""
        return tuple(parse_period(text) for text in getattr(self, WEEKDAYS[weekday]))


AgendaKind = Literal["event", "closure", "day", "lights_on", "lights_off"]
LIGHTING_KINDS = frozenset({"lights_on", "lights_off"})
_SCOPE = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)?$")


class AgendaEntry(Model):
    """One line of the agenda: an event, a closure or a day exception, for some zones.

    - ``event``: occupied from ``start`` to ``end`` (a council meeting, a Christmas fair);
    - ``closure``: unoccupied from ``start`` to ``end`` (an inventory, works);
    - ``day``: from ``first`` to ``last`` (inclusive, default ``first``) the day's periods
      are ``periods`` instead of the weekly programme's; none means closed those days;
    - ``lights_on``, ``lights_off``: public lighting forced on or off from ``start`` to
      ``end`` (a Christmas market, fireworks) for the cabinets of ``scope``, all when empty.

    ``start`` and ``end`` are wall-clock times of the site's zone, without offset, like
    the programme's periods. ``scope`` lists building ids or ``building.zone`` keys; empty,
    the entry applies to the whole site. Which entry wins where several apply is decided
    in ``controllers.schedule``: closure, then event, then day exception, then holidays,
    then the weekly programme.
    """

    kind: AgendaKind
    label: str = Field(min_length=1, max_length=120, description="shown to people")
    scope: tuple[str, ...] = Field(
        default=(), description="building ids or building.zone keys; empty: the whole site"
    )
    start: datetime | None = Field(default=None, description="event, closure: local time")
    end: datetime | None = Field(default=None, description="event, closure: local time")
    first: date | None = Field(default=None, description="day: first day")
    last: date | None = Field(default=None, description="day: last day, default first")
    periods: tuple[PeriodText, ...] = Field(default=(), description="day: HH:MM-HH:MM")

    @field_validator("label")
    @classmethod
    def _label_has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("label must not be blank")
        return value.strip()

    @field_validator("scope")
    @classmethod
    def _scope_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for key in value:
            if not _SCOPE.match(key):
                raise ValueError(f"scope item {key!r} is not a building id or building.zone")
        return value

    @field_validator("start", "end")
    @classmethod
    def _wall_clock(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError(
                f"{value.isoformat()} has an offset: write the site's local time without one "
                "(e.g. 2026-03-10 18:30)"
            )
        return value

    @field_validator("periods")
    @classmethod
    def _periods_apart(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _sorted_periods(value)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> AgendaEntry:
        if self.kind == "day":
            if self.start is not None or self.end is not None:
                raise ValueError("a day exception has first/last and periods, not start/end")
            if self.first is None:
                raise ValueError("a day exception needs `first` (and `last` for a range)")
            if self.last is not None and self.last < self.first:
                raise ValueError(f"last {self.last} is before first {self.first}")
            return self
        if self.first is not None or self.last is not None or self.periods:
            raise ValueError(f"{self.kind} entries have start and end, not first/last/periods")
        if self.start is None or self.end is None:
            raise ValueError(f"{self.kind} entries need `start` and `end`")
        if self.end <= self.start:
            raise ValueError(f"end {self.end:%Y-%m-%d %H:%M} is not after start "
                             f"{self.start:%Y-%m-%d %H:%M}")
        return self

    @property
    def last_day(self) -> date:
        """The last day the entry touches (for an event or closure, the day of its end)."""
        if self.kind == "day":
            assert self.first is not None
            return self.last or self.first
        assert self.end is not None
        return self.end.date()

    @property
    def first_day(self) -> date:
        if self.kind == "day":
            assert self.first is not None
            return self.first
        assert self.start is not None
        return self.start.date()

    def applies_to(self, building: str, zone: str) -> bool:
        """Whether the entry concerns this zone: listed, its building listed, or no scope.
        Lighting entries concern cabinets only."""
        if self.kind in LIGHTING_KINDS:
            return False
        return not self.scope or building in self.scope or f"{building}.{zone}" in self.scope

    def applies_to_cabinet(self, cabinet: str) -> bool:
        """Whether a lighting entry concerns this cabinet: listed, or no scope."""
        return self.kind in LIGHTING_KINDS and (not self.scope or cabinet in self.scope)

    def applies_to_equipment(self, equipment: str) -> bool:
        """Whether the entry concerns this equipment: it must name it (the whole site's
        events open buildings, they do not ring bells)."""
        return self.kind not in LIGHTING_KINDS and equipment in self.scope


_NIGHT_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-(([01]\d|2[0-3]):([0-5]\d)|sunrise)$")


@dataclass(frozen=True)
class NightWindow:
    """A stretch of the night, which may cross midnight: ``23:00-05:00``; ``23:00-sunrise``
    lasts until sunrise (no relighting in the morning)."""

    start: time
    end: time | None  # None: until sunrise

    def __str__(self) -> str:
        end = "sunrise" if self.end is None else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


@functools.cache
def parse_night_window(text: str) -> NightWindow:
    match = _NIGHT_WINDOW.match(text.strip())
    if not match:
        raise ValueError(f"night window {text!r} is not HH:MM-HH:MM or HH:MM-sunrise "
                         "(e.g. 23:00-05:00)")
    start = time(int(match[1]), int(match[2]))
    end = None if match[3] == "sunrise" else time(int(match[4]), int(match[5]))
    if end == start:
        raise ValueError(f"night window {text!r} is empty")
    return NightWindow(start, end)


NightWindowText = Annotated[str, AfterValidator(lambda text: str(parse_night_window(text)))]
