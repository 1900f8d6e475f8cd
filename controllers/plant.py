"""Whether a building's plant (its boiler or heat pump) should be enabled, and why.

An enabled boiler that no zone draws from still loses heat through its casing and flue
(its standby losses, a percent or two of its rated output, docs/heating.md): it should be
off when no zone needs heat, and on as soon as one does. A zone needs heat when:

- it is at comfort or reduced and below its setpoint plus ``DEMAND_MARGIN_K`` (its
  thermostat is, or soon will be, drawing heat to hold it); once the plant is on, it
  stays on until every such zone is ``RELEASE_MARGIN_K`` above its setpoint, so that a
  zone hovering at its threshold does not cycle the plant;
- at any level, it is within ``FROST_MARGIN_K`` of its frost floor (what frost
  protection holds it at: its frost-protection level, 8 °C by default, never below the
  safety floor; ``FROST_RELEASE_MARGIN_K`` once on), or its temperature is unknown (a
  failed sensor could hide a zone freezing): frost protection, which nothing holds back,
  neither a minimum off time nor a person's order.

A plant switched on stays on ``plant_min_on_minutes``, and one switched off stays off
``plant_min_off_minutes`` (``LearningSettings``, the site's), except for frost protection;
an enabled plant is kept on rather than switched off when a zone's planned pre-heat starts
within the minimum off time, so that the pre-heat finds it on.

The plant or its emission circuit may have its own clock (``Building.plant_schedule``, an
emission pump's programme) or a point that says whether heat can be delivered now
(``plant_available``): ``PlantClock``. Outside it no heat comes whatever the engine
commands: the plant is off (nothing to lose standby heat for), and pre-heats are planned
within it (``controllers.heating``). A zone near its frost floor then still enables the
plant, with a reason that says heat is not available.

Pure: the zones' levels, setpoints, temperatures and floors in, a decision out. Its
reasons name the zone that asks, not its temperature of the moment: a command is logged
when what its reason says changes, not at every tick.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from controllers.schedule import wall_instant
from gtb.model import Site, Zone
from gtb.model.calendar import Programme
from gtb.model.learning import DEFAULT_LEARNING, LearningSettings
from gtb.model.points import HeatingLevel
from gtb.texts import Reason

DEMAND_MARGIN_K = 0.5
"""A zone at comfort or reduced below its setpoint plus this needs heat: a zone at its
setpoint still draws heat to stay there."""
RELEASE_MARGIN_K = 1.0
"""An enabled plant goes off only when every zone at comfort or reduced is this far above
its setpoint (the sun, the occupants, a warm day): no heat drawn for a while."""
FROST_MARGIN_K = 2.0
"""A zone within this of its frost floor needs the plant at once, whatever its level: the
plant takes some minutes to deliver heat, and the floor must hold."""
FROST_RELEASE_MARGIN_K = 3.0
"""Kept on for frost protection, the plant is released once every zone is this far above
its floor (unless it needs heat otherwise)."""


@dataclass(frozen=True)
class ZoneNeed:
    """What the plant decision needs of one zone of the building."""

    zone: str
    """The zone's name, for the reason."""
    level: HeatingLevel
    setpoint: float | None
    """°C, the one written (None: the zone has no setpoint point)."""
    temperature: float | None
    """°C, the last good reading (None: unknown)."""
    frost_floor: float
    """°C, what frost protection holds the zone at: its frost-protection level, never
    below the site's safety floor."""
    preheat_at: datetime | None = None
    """When the zone's next pre-heat is planned to start (None: none planned)."""


@dataclass(frozen=True)
class PlantDecision:
    on: bool
    frost: bool
    """Frost protection asks for the plant: nothing may hold it off."""
    reason: Reason


def plant_decision(zones: Sequence[ZoneNeed], was_on: bool, *, now: datetime | None = None,
                   held: timedelta | None = None, available: bool = True,
                   settings: LearningSettings = DEFAULT_LEARNING) -> PlantDecision:
    """The plant's state from its zones; ``was_on`` is its state now (the hysteresis),
    ``held`` how long it has been in it (None: long enough), ``available`` whether it can
    deliver heat now (``PlantClock.first_available``), ``now`` the moment, for the planned
    pre-heats. ``settings``: the site's, for the minimum times."""
    frost_margin = FROST_RELEASE_MARGIN_K if was_on else FROST_MARGIN_K
    for zone in zones:
        if zone.temperature is None:
            return PlantDecision(True, True, _unavailable(
                Reason.of("plant.unknown", zone=zone.zone), available))
        if zone.temperature < zone.frost_floor + frost_margin:
            return PlantDecision(True, True, _unavailable(
                Reason.of("plant.frost", zone=zone.zone, floor=zone.frost_floor), available))
    wanted = _wanted(zones, was_on, now, available, settings)
    minimum = settings.plant_min_on_minutes if was_on else settings.plant_min_off_minutes
    if wanted.on != was_on and held is not None and held < timedelta(minutes=minimum):
        left = minimum - held.total_seconds() / 60
        return PlantDecision(was_on, False, Reason.of(
            "plant.kept_on" if was_on else "plant.kept_off", minutes=left, then=wanted.reason))
    return wanted


@dataclass
class PlantSwitch:
    """One plant's last switch, for its minimum times: kept by whatever commands it (the
    engine, the season harness), which asks it for each decision."""

    on: bool | None = None
    since: datetime | None = None

    def decide(self, zones: Sequence[ZoneNeed], was_on: bool, now: datetime, *,
               available: bool = True,
               settings: LearningSettings = DEFAULT_LEARNING) -> PlantDecision:
        """``plant_decision``, held the time since this switch last changed it (none
        known when it never did, or something else switched it since: long enough)."""
        held = now - self.since if self.since is not None and self.on == was_on else None
        decision = plant_decision(zones, was_on, now=now, held=held, available=available,
                                  settings=settings)
        if decision.on != was_on:
            self.on, self.since = decision.on, now
        return decision


def _wanted(zones: Sequence[ZoneNeed], was_on: bool, now: datetime | None, available: bool,
            settings: LearningSettings) -> PlantDecision:
    """What the zones ask, frost aside and before the minimum times."""
    if not available:
        return PlantDecision(False, False, Reason.of("plant.unavailable"))
    margin = RELEASE_MARGIN_K if was_on else DEMAND_MARGIN_K
    for zone in zones:
        assert zone.temperature is not None
        if (zone.level in (HeatingLevel.COMFORT, HeatingLevel.REDUCED)
                and zone.setpoint is not None
                and zone.temperature < zone.setpoint + margin):
            return PlantDecision(True, False, Reason.of(
                "plant.heat", zone=zone.zone, level=zone.level.label, setpoint=zone.setpoint))
    if was_on and now is not None:
        soon = now + timedelta(minutes=settings.plant_min_off_minutes)
        for zone in zones:
            if zone.preheat_at is not None and zone.preheat_at <= soon:
                return PlantDecision(True, False, Reason.of(
                    "plant.preheat_soon", zone=zone.zone, at=now, start=zone.preheat_at))
    return PlantDecision(False, False, Reason.of("plant.idle"))


def _unavailable(reason: Reason, available: bool) -> Reason:
    """A frost protection reason, and that no heat comes when the plant is not available:
    a zone nearing its floor with no heat to come is worth an alarm."""
    return reason if available else Reason.of("plant.frost_unavailable", why=reason)


LOOK_AHEAD_DAYS = 8
"""How far ahead the plant's next window is looked for: every weekday once."""


@dataclass(frozen=True)
class PlantClock:
    """When a building's plant or emission circuit can deliver heat: its own weekly
    ``schedule`` (``Building.plant_schedule``; None: always) and what its
    ``plant_available`` point says now (None: no point, or its reading is not good). The
    point speaks for now only; later moments follow the schedule."""

    schedule: Programme | None = None
    available: bool | None = None

    def first_available(self, when: datetime, now: datetime) -> datetime | None:
        """The first moment at or after ``when`` (aware, in the site's time zone: the
        schedule is wall-clock time; like ``now``) when heat can be delivered; None when
        not within ``LOOK_AHEAD_DAYS``, or when the point says no now and nothing says
        when it will."""
        if when <= now:
            if self.available is False:
                return self._next_window(now, strictly=True)
            when = now
        return when if self.schedule is None else self._next_window(when, strictly=False)

    def window_before(self, start: datetime) -> tuple[datetime, datetime] | None:
        """When the schedule cannot deliver heat at ``start`` (aware, in the site's zone):
        the end of its last window before, and when heat comes again; None when it can, or
        nothing says (no schedule, or no window around within ``LOOK_AHEAD_DAYS``)."""
        if self.schedule is None:
            return None
        resume = self._next_window(start, strictly=False)
        if resume is None or resume <= start:
            return None
        ends = [end for _, end in self._windows(start - timedelta(days=LOOK_AHEAD_DAYS))
                if end <= start]
        return (ends[-1], resume) if ends else None

    def _next_window(self, when: datetime, *, strictly: bool) -> datetime | None:
        if self.schedule is None:
            return None
        for start, end in self._windows(when):
            if end <= when:
                continue
            if start <= when and not strictly:
                return when
            if start > when:
                return start
        return None

    def _windows(self, when: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The schedule's periods, in order, from the day before ``when``'s."""
        assert self.schedule is not None and when.tzinfo is not None
        tz, first = when.tzinfo, when.date() - timedelta(days=1)
        for n in range(LOOK_AHEAD_DAYS + 2):
            day = first + timedelta(days=n)
            for period in self.schedule.periods(day.weekday()):
                end = (wall_instant(day + timedelta(days=1), time(0), tz) if period.end is None
                       else wall_instant(day, period.end, tz))
                yield wall_instant(day, period.start, tz).astimezone(tz), end.astimezone(tz)


def frost_floor(site: Site, zone: Zone) -> float:
    """What frost protection holds a zone at: its frost-protection level, never below the
    site's (or zone's) safety floor."""
    return max(site.comfort_of(zone).frost_protection, site.bounds_of(zone).frost_floor)
