"""Stochastic occupants: who is in each zone, every five minutes, and what they give off.

Real buildings are not used as their programmes say. Staff arrive a little earlier or
later each day and take leave in the holidays; pupils follow the school calendar of the
site's zone, with Wednesday afternoons off; a council room programmed like the offices
holds a council meeting a month and a few weddings; a gym's evening associations have a
season, and some join or leave partway through it; a library gets class visits outside
its opening hours; buildings close for a day and host one-off events.

Everything is drawn from generators seeded by (seed, what, building, date) (see
``seeded_rng``), one building-day at a time, so any day can be asked for first and
gives the same answer. Counts are per 5-minute slot of the local wall-clock day.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from controllers.schedule import FrenchCalendar
from gtb.model import Building, Site, Zone, ZoneSimulation
from gtb.model.calendar import AgendaEntry
from gtb.sim.weather import FloatArray, seeded_rng

IntArray = NDArray[np.int64]

SLOT_MINUTES = 5
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

Profile = Literal[
    "office", "reception", "council_room", "classroom", "canteen", "sports_hall",
    "changing_room", "reading_room", "events_hall", "nursery",
]


@dataclass(frozen=True)
class Traits:
    """What one occupant of a kind of zone gives off, and the fresh air the zone gets."""

    sensible_w: float
    """Sensible heat, W (ISO 7730 / ASHRAE activity levels; children less)."""
    co2_lph: float
    """CO2 exhaled, litres per hour."""
    fresh_air_m3h: float
    """Fresh air per occupant while occupied, m³/h (Code du travail R4222-6, RSDT)."""
    equipment_w: float = 0.0
    """Computers and other equipment per occupant present, W (electricity and heat)."""


TRAITS: dict[str, Traits] = {
    "office": Traits(80.0, 18.0, 25.0, 60.0),
    "reception": Traits(85.0, 19.0, 25.0, 40.0),
    "council_room": Traits(80.0, 18.0, 18.0),
    "classroom": Traits(60.0, 12.0, 15.0, 3.0),
    "canteen": Traits(65.0, 14.0, 22.0),
    "sports_hall": Traits(180.0, 60.0, 25.0),
    "changing_room": Traits(100.0, 25.0, 25.0),
    "reading_room": Traits(80.0, 18.0, 18.0, 10.0),
    "events_hall": Traits(90.0, 20.0, 18.0),
    # A crèche's section: toddlers (about 45 W and 8 L/h each, half an adult's at rest)
    # with their carers (90 W, 18 L/h), one for five or six children, so 55 W and 10 L/h
    # a head; 15 m³/h a head as in nursery schools (RSDT art. 64, verify for crèches);
    # 25 W a head for what runs while they are there: the kitchen's reheating and dish
    # washer, bottle warmers, the daily laundry (an assumption, not a survey).
    "nursery": Traits(55.0, 10.0, 15.0, 25.0),
}

DEFAULT_PROFILE: dict[str, Profile] = {
    "mairie": "office", "ecole": "classroom", "gymnase": "sports_hall",
    "mediatheque": "reading_room", "salle_des_fetes": "events_hall", "creche": "nursery",
    "atelier": "office", "eglise": "events_hall", "autre": "office",
}


def zone_simulation(building: Building, zone: Zone) -> ZoneSimulation:
    """The zone's simulation settings, or defaults from the building's use."""
    if zone.simulation is not None:
        return zone.simulation
    return ZoneSimulation(
        profile=DEFAULT_PROFILE[building.use], occupants=max(1, round(zone.area_m2 / 15)),
        lighting_w=10.0 * zone.area_m2,
    )


# --- what happens beyond the weekly routine -------------------------------------------


@dataclass(frozen=True)
class Association:
    """A club using a sports hall one evening a week, for part or all of a season."""

    name: str
    weekday: int
    start: int  # minutes after midnight
    end: int
    people: int
    first_day: date
    last_day: date
    in_school_holidays: bool


@dataclass(frozen=True)
class Event:
    """A one-off use of some zones of a building: elections, a party, a tournament."""

    day: date
    start: int
    end: int
    zone_ids: tuple[str, ...]
    people: int
    label: str


@dataclass(frozen=True)
class Closure:
    """A day a building is closed (works, training), or half-empty (a strike)."""

    day: date
    kind: Literal["closed", "strike"]
    label: str


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _season(day: date) -> int:
    """Sports and school seasons run from September to June, named by their first year."""
    return day.year if day.month >= 8 else day.year - 1


def _random_day(rng: np.random.Generator, first: date, last: date,
                accept: Callable[[date], bool]) -> date | None:
    candidates = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    candidates = [d for d in candidates if accept(d)]
    return candidates[int(rng.integers(len(candidates)))] if candidates else None


# --- one day of one building ----------------------------------------------------------


class _Timeline:
    """Headcount minute by minute, built from stays (start, end, people)."""

    def __init__(self) -> None:
        self._diff = np.zeros(24 * 60 + 1, dtype=np.int64)

    def add(self, start: float, end: float, people: int = 1) -> None:
        first, last = min(max(round(start), 0), 1440), min(max(round(end), 0), 1440)
        if last > first and people > 0:
            self._diff[first] += people
            self._diff[last] -= people

    def add_many(self, starts: FloatArray, ends: FloatArray) -> None:
        first = np.clip(np.round(starts), 0, 1440).astype(np.int64)
        last = np.clip(np.round(ends), 0, 1440).astype(np.int64)
        keep = last > first
        np.add.at(self._diff, first[keep], 1)
        np.add.at(self._diff, last[keep], -1)

    def slots(self) -> NDArray[np.int16]:
        """Per 5-minute slot: the mean headcount rounded up, so a short visit shows."""
        minutes = np.cumsum(self._diff[:-1]).reshape(SLOTS_PER_DAY, SLOT_MINUTES)
        return np.ceil(minutes.mean(axis=1) - 1e-9).astype(np.int16)


@dataclass
class _Day:
    day: date
    public_holiday: bool
    school_holiday: bool
    closure: Closure | None
    rng: np.random.Generator

    @property
    def weekday(self) -> int:
        return self.day.weekday()

    @property
    def school_day(self) -> bool:
        """Pupils are at school (the programme decides the hours, Wednesday included)."""
        return self.weekday < 5 and not self.public_holiday and not self.school_holiday

    @property
    def closed(self) -> bool:
        return self.public_holiday or (self.closure is not None and self.closure.kind == "closed")

    @property
    def strike(self) -> bool:
        return self.closure is not None and self.closure.kind == "strike"

    def staff_absence(self) -> float:
        """Chance that one member of staff is away: illness, training, leave."""
        if self.day.month in (7, 8):
            return 0.45
        return 0.30 if self.school_holiday else 0.05


@dataclass
class Occupants:
    """Occupant counts of every zone of a site, drawn day by day."""

    site: Site
    seed: int = 0
    calendar: FrenchCalendar | None = None
    zone_keys: tuple[str, ...] = field(init=False)
    _zone_of: dict[str, tuple[int, str]] = field(init=False, repr=False)
    _cache: dict[tuple[int, int], dict[str, NDArray[np.int16]]] = field(
        default_factory=dict, init=False, repr=False
    )
    _habits: dict[tuple[str, int], float] = field(default_factory=dict, init=False, repr=False)
    _clubs: dict[tuple[str, int], tuple[Association, ...]] = field(
        default_factory=dict, init=False, repr=False
    )
    _events: dict[tuple[str, int], tuple[Event, ...]] = field(
        default_factory=dict, init=False, repr=False
    )
    _closures: dict[tuple[str, int], tuple[Closure, ...]] = field(
        default_factory=dict, init=False, repr=False
    )
    _councils: dict[tuple[str, int], dict[date, float]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.calendar is None:
            self.calendar = FrenchCalendar(self.site.school_zone, self.site.alsace_moselle)
        self.zone_keys = tuple(
            f"{b.id}.{z.id}" for b in self.site.buildings for z in b.zones
        )
        self._zone_of = {
            f"{b.id}.{z.id}": (i, z.id)
            for i, b in enumerate(self.site.buildings) for z in b.zones
        }

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the days drawn so far: drawn again when asked, the same."""
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    # -- public queries --

    def day(self, zone_key: str, day: date) -> NDArray[np.int16]:
        """Headcount of a zone per 5-minute slot of a local day (slot 0 is 00:00-00:05)."""
        if zone_key not in self._zone_of:
            raise KeyError(f"no zone {zone_key!r} in site {self.site.id}")
        building, zone_id = self._zone_of[zone_key]
        return self._building_day(building, day)[zone_id]

    def counts(self, epoch_s: FloatArray) -> NDArray[np.int16]:
        """Headcounts at UTC instants, one column per zone in ``zone_keys`` order."""
        ordinals, slots = local_slots(np.asarray(epoch_s, dtype=np.float64), self.site.tz)
        days, which = np.unique(ordinals, return_inverse=True)
        table = np.zeros((len(days), len(self.zone_keys), SLOTS_PER_DAY), dtype=np.int16)
        for i, ordinal in enumerate(days):
            day = date.fromordinal(int(ordinal))
            for column, key in enumerate(self.zone_keys):
                building, zone_id = self._zone_of[key]
                table[i, column] = self._building_day(building, day)[zone_id]
        return table[which, :, slots]

    def associations(self, building_id: str, season: int) -> tuple[Association, ...]:
        """Clubs using the building's sports hall in the season starting in September."""
        if (building_id, season) not in self._clubs:
            self._clubs[building_id, season] = _associations(
                self.seed, building_id, season, self._calendar)
        return self._clubs[building_id, season]

    def events(self, building_id: str, year: int) -> tuple[Event, ...]:
        """One-off uses of the building's zones in a calendar year."""
        if (building_id, year) not in self._events:
            self._events[building_id, year] = _events(
                self.seed, self._building(building_id), year, self._calendar)
        return self._events[building_id, year]

    def council_meetings(self, zone_key: str, year: int) -> dict[date, float]:
        """Council meetings held in a council room: day and start (minutes)."""
        if (zone_key, year) not in self._councils:
            self._councils[zone_key, year] = _council_meetings(self.seed, zone_key, year)
        return self._councils[zone_key, year]

    def closures(self, building_id: str, year: int) -> tuple[Closure, ...]:
        """Days the building is closed, or half-empty for a strike, in a calendar year."""
        if (building_id, year) not in self._closures:
            self._closures[building_id, year] = _closures(
                self.seed, self._building(building_id), year, self._calendar)
        return self._closures[building_id, year]

    def agenda(self, first: date, last: date) -> tuple[AgendaEntry, ...]:
        """The agenda a commune's manager would have entered for the days ``first`` to
        ``last``: what is booked or decided ahead, each scoped to the zones or the building
        concerned. The one-off events (tournaments, elections, the mayor's New Year
        wishes, an author's evening, parents' meetings), the council meetings (convened
        days ahead by law; the room booked ``COUNCIL_BOOKED`` from their start) and the
        days a building is closed. Not the associations' weekly slots and Saturday matches,
        the library's class visits, walk-ins, weddings, the staff who come early or stay
        late, nor a strike (the building opens): no manager enters those, and learning is
        there to find them. Events on a day the building is closed are entered and lose to
        the closure, as in the simulation."""
        entries: list[AgendaEntry] = []
        for year in range(first.year, last.year + 1):
            for building in self.site.buildings:
                entries += (_event_entry(building.id, e) for e in self.events(building.id, year)
                            if first <= e.day <= last)
                entries += (_closure_entry(building.id, c)
                            for c in self.closures(building.id, year)
                            if c.kind == "closed" and first <= c.day <= last)
                for zone in building.zones:
                    if zone_simulation(building, zone).profile != "council_room":
                        continue
                    key = f"{building.id}.{zone.id}"
                    entries += (_council_entry(key, day, start)
                                for day, start in self.council_meetings(key, year).items()
                                if first <= day <= last)
        return tuple(sorted(entries, key=lambda e: (e.start, e.label)))

    # -- generation --

    @property
    def _calendar(self) -> FrenchCalendar:
        assert self.calendar is not None
        return self.calendar

    def _building(self, building_id: str) -> Building:
        for building in self.site.buildings:
            if building.id == building_id:
                return building
        raise KeyError(f"no building {building_id!r} in site {self.site.id}")

    def _building_day(self, index: int, day: date) -> dict[str, NDArray[np.int16]]:
        key = (index, day.toordinal())
        known = self._cache.get(key)
        if known is not None:
            return known
        if len(self._cache) > 20_000:  # a few years of a commune; then start afresh
            self._cache.clear()
        building = self.site.buildings[index]
        calendar = self._calendar
        closure = next((c for c in self.closures(building.id, day.year) if c.day == day), None)
        context = _Day(
            day=day,
            public_holiday=calendar.is_public_holiday(day),
            school_holiday=calendar.is_school_holiday(day),
            closure=closure,
            rng=seeded_rng(self.seed, "occupants", building.id, day.isoformat()),
        )
        timelines = {zone.id: _Timeline() for zone in building.zones}
        _populate(self, building, context, timelines)
        for event in self.events(building.id, day.year):
            if event.day == day and not context.closed:
                for zone_id in event.zone_ids:
                    share = math.ceil(event.people / len(event.zone_ids))
                    timelines[zone_id].add(event.start, event.end, share)
        result = {zone_id: timeline.slots() for zone_id, timeline in timelines.items()}
        self._cache[key] = result
        return result

    def habit(self, zone_key: str, person: int) -> float:
        """A person's own habit in minutes (early bird or late riser), fixed for good."""
        known = self._habits.get((zone_key, person))
        if known is None:
            known = float(seeded_rng(self.seed, "habit", zone_key, person).normal(0.0, 8.0))
            self._habits[(zone_key, person)] = known
        return known


def local_time(epoch_s: FloatArray, tz: ZoneInfo) -> tuple[IntArray, FloatArray]:
    """Local date ordinal and wall-clock seconds since midnight of each UTC instant.

    Offsets are looked up once per quarter-hour (every zone's changes fall on one), so a
    year of 1-minute steps costs 35,000 lookups, not 500,000; the quarters are told apart
    by a set, not a sort, which the few instants of a control step would cost most.
    """
    quarters = np.floor(epoch_s / 900.0).astype(np.int64)
    listed = quarters.ravel().tolist()
    offset_of = {quarter: _utc_offset(quarter * 900, tz) for quarter in set(listed)}
    offsets = np.array([offset_of[quarter] for quarter in listed], dtype=np.float64)
    local = epoch_s + offsets.reshape(quarters.shape)
    days = np.floor(local / 86_400.0).astype(np.int64)
    return days + _EPOCH_ORDINAL, local - days * 86_400.0


def local_slots(epoch_s: FloatArray, tz: ZoneInfo) -> tuple[IntArray, IntArray]:
    """Local date ordinal and 5-minute wall-clock slot of each UTC instant."""
    days, seconds = local_time(epoch_s, tz)
    slots = (seconds // (SLOT_MINUTES * 60)).astype(np.int64)
    return days, np.minimum(slots, SLOTS_PER_DAY - 1)


def _utc_offset(epoch_s: int, tz: ZoneInfo) -> float:
    offset = datetime.fromtimestamp(epoch_s, UTC).astimezone(tz).utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


# --- profiles -------------------------------------------------------------------------


def _populate(
    occupants: Occupants, building: Building, ctx: _Day, timelines: dict[str, _Timeline]
) -> None:
    sessions = _sports_sessions(occupants, building, ctx)
    for zone in building.zones:
        sim = zone_simulation(building, zone)
        periods = [
            (p.start.hour * 60 + p.start.minute,
             1440 if p.end is None else p.end.hour * 60 + p.end.minute)
            for p in occupants.site.programme_of(building, zone).periods(ctx.weekday)
        ]
        if ctx.closed:
            continue
        key = f"{building.id}.{zone.id}"
        timeline = timelines[zone.id]
        people = sim.occupants
        profile = sim.profile
        if profile in ("office", "reception"):
            _staff(occupants, key, ctx, periods, people, timeline)
            if profile == "reception":
                _visitors(ctx, periods, 4.0 + people, (3.0, 15.0), timeline)
        elif profile == "council_room":
            _council_room(occupants.council_meetings(key, ctx.day.year), ctx, people, timeline)
        elif profile == "classroom":
            _classroom(ctx, periods, people, timeline)
        elif profile == "canteen":
            _canteen(ctx, periods, people, timeline)
        elif profile == "sports_hall":
            for start, end, count, _ in sessions:
                _crowd(ctx.rng, timeline, start, end, count)
        elif profile == "changing_room":
            _changing_room(ctx, sessions, timeline)
        elif profile == "reading_room":
            _reading_room(occupants.seed, building.id, ctx, periods, people, timeline)
        elif profile == "nursery":
            _nursery(occupants.seed, key, ctx, periods, people, timeline)
        else:
            _events_hall(ctx, periods, people, timeline)


def _crowd(rng: np.random.Generator, timeline: _Timeline, start: float, end: float,
           count: int, spread: float = 10.0) -> None:
    """A group that trickles in before ``start`` and out after ``end``."""
    if count <= 0:
        return
    arrive = start + rng.uniform(-spread, spread / 2, count)
    leave = end + rng.uniform(-spread / 2, spread, count)
    timeline.add_many(arrive, leave)


def _staff(occupants: Occupants, key: str, ctx: _Day, periods: Sequence[tuple[int, int]],
           people: int, timeline: _Timeline) -> None:
    """Staff on the programme's days: personal habits, daily jitter, lunch, leave."""
    if not periods:
        return
    rng = ctx.rng
    rota = range(people) if ctx.weekday < 5 else rng.permutation(people)[: -(-people // 3)]
    for person in rota:
        if rng.random() < ctx.staff_absence():
            continue
        habit = occupants.habit(key, int(person))
        arrive = periods[0][0] - 10 + habit + rng.normal(0.0, 6.0)
        for (_, end), (start, _) in itertools.pairwise(periods):
            if rng.random() < 0.15:  # lunch at the desk
                continue
            timeline.add(arrive, end + rng.normal(3.0, 4.0))
            arrive = start - 5 + rng.normal(0.0, 5.0)
        leave = periods[-1][1] + 5 + 0.5 * habit + rng.exponential(12.0)
        timeline.add(arrive, leave)


def _nursery(seed: int, key: str, ctx: _Day, periods: Sequence[tuple[int, int]],
             places: int, timeline: _Timeline) -> None:
    """A crèche's section on a weekday: each child on the days of its contract, dropped
    off from the opening and picked up until the closing at its parents' own hours, and
    their carers in shifts from a quarter of an hour before the opening to after the last
    child has gone. The children change every September."""
    if not periods or ctx.weekday >= 5:
        return
    rng = ctx.rng
    opening, closing = periods[0][0], periods[-1][1]
    children = seeded_rng(seed, "children", key, _season(ctx.day))
    days = children.choice([5, 4, 3], size=places, p=[0.6, 0.25, 0.15])
    off = children.integers(0, 5, size=places)  # a four-day contract: one weekday off
    off = np.where(days == 4, np.where(children.random(places) < 0.6, 2, off), off)
    drop = np.clip(children.normal(510.0, 35.0, places), opening, opening + 150)
    pick = np.clip(children.normal(1040.0, 40.0, places), closing - 240, closing - 5)
    weekday = ctx.weekday
    contracted = np.where(days == 5, True, np.where(days == 4, off != weekday,
                                                    weekday in (0, 1, 3)))
    away = 0.05 + 0.05 * (ctx.day.month in (11, 12, 1, 2, 3))  # winter illnesses
    if ctx.school_holiday:
        away += 0.25  # older siblings at home, parents on leave
    if ctx.day.month == 7:
        away += 0.15
    here = contracted & (rng.random(places) >= away)
    count = int(here.sum())
    arrive = np.maximum(drop[here] + rng.normal(0.0, 10.0, count), opening)
    leave = np.minimum(pick[here] + rng.normal(0.0, 12.0, count), closing)
    timeline.add_many(arrive, leave)
    carers = max(1, math.ceil(places / 6))  # one adult for five that do not walk, eight that do
    shift = 7.5 * 60
    for n in range(carers):
        if n == 0:
            start = opening - 15.0
        elif n == carers - 1:
            start = closing + 10 - shift
        else:
            start = opening + 45.0 + 60 * (n - 1)
        start += rng.uniform(-5.0, 5.0)
        timeline.add(start, start + shift + rng.normal(5.0, 5.0))


def _visitors(ctx: _Day, periods: Sequence[tuple[int, int]], per_hour: float,
              stay: tuple[float, float], timeline: _Timeline) -> None:
    for start, end in periods:
        count = ctx.rng.poisson(per_hour * (end - start) / 60.0)
        arrivals = ctx.rng.uniform(start, end, count)
        timeline.add_many(arrivals, arrivals + ctx.rng.uniform(*stay, count))


def _council_room(meetings: dict[date, float], ctx: _Day, people: int,
                  timeline: _Timeline) -> None:
    """Rarely used: monthly councils in the evening, Saturday weddings, a few meetings."""
    rng, day = ctx.rng, ctx.day
    meeting = meetings.get(day)
    if meeting is not None:
        _crowd(rng, timeline, meeting, meeting + rng.uniform(100, 170),
               min(people, 19) + int(rng.integers(0, 6)))
    wedding_chance = (0.05, 0.05, 0.1, 0.15, 0.35, 0.5, 0.55, 0.5, 0.45, 0.2, 0.05, 0.05)
    if ctx.weekday == 5 and rng.random() < wedding_chance[day.month - 1]:
        start = float(rng.choice([630, 660, 870, 930, 960]))
        _crowd(rng, timeline, start, start + rng.uniform(35, 50), int(rng.integers(15, 45)), 5)
    if ctx.weekday < 5 and rng.random() < 0.08:
        start = float(rng.integers(9, 16)) * 60
        _crowd(rng, timeline, start, start + rng.uniform(60, 120), int(rng.integers(4, 10)), 5)


def _council_meetings(seed: int, key: str, year: int) -> dict[date, float]:
    """About ten councils a year (at least one a quarter is the law), weekday evenings."""
    rng = seeded_rng(seed, "councils", key, year)
    meetings: dict[date, float] = {}
    for month in range(1, 13):
        if month == 8 or rng.random() > 0.85:
            continue
        day = date(year, month, int(rng.integers(3, 27)))
        while day.weekday() > 3:
            day += timedelta(days=1)
        meetings[day] = float(rng.choice([1110, 1140, 1170, 1200]))
    return meetings


def _classroom(ctx: _Day, periods: Sequence[tuple[int, int]], pupils: int,
               timeline: _Timeline) -> None:
    """Pupils on school days, lunch at the canteen or at home, after-school care."""
    if not ctx.school_day or not periods:
        return
    rng = ctx.rng
    start, end = periods[0][0], periods[-1][1]
    present = rng.binomial(pupils, 0.25 if ctx.strike else 0.95)
    teachers = max(1, round(pupils / 25))
    teachers = rng.binomial(teachers, 0.3) if ctx.strike else teachers
    lunch = start < 11 * 60 + 30 and end > 13 * 60 + 30
    for _ in range(teachers):
        arrive = start - rng.uniform(15, 40)
        leave = end + rng.uniform(10, 70)
        if lunch:
            timeline.add(arrive, 11 * 60 + 35 + rng.uniform(0, 15))
            arrive = 13 * 60 + 5 + rng.uniform(0, 12)
        timeline.add(arrive, leave)
    arrivals = start + rng.uniform(-10, 8, present)
    departures = end + rng.uniform(0, 10, present)
    if end < 13 * 60:  # a morning only (Wednesday): a few wait to be picked up
        departures += np.where(rng.random(present) < 0.1, rng.uniform(10, 30, present), 0)
    elif ctx.weekday != 2:  # after-school care, in the classrooms, until parents come
        departures = np.where(rng.random(present) < 0.15,
                              rng.uniform(17 * 60, 18 * 60 + 30, present), departures)
    if lunch:
        timeline.add_many(arrivals, 11 * 60 + 30 + rng.uniform(0, 5, present))
        arrivals = 13 * 60 + 20 + rng.uniform(-8, 5, present)
    timeline.add_many(arrivals, departures)


def _canteen(ctx: _Day, periods: Sequence[tuple[int, int]], pupils: int,
             timeline: _Timeline) -> None:
    """Kitchen staff through the late morning, then two sittings of pupils."""
    if not ctx.school_day or not periods or ctx.strike:
        return
    rng = ctx.rng
    start = periods[0][0]
    for _ in range(3):
        timeline.add(start - 90 + rng.normal(0, 8), start + 165 + rng.normal(0, 10))
    eating = rng.binomial(pupils, 0.88)
    first = int(eating * 0.45)
    _crowd(rng, timeline, start + 15, start + 55, first, 4)
    _crowd(rng, timeline, start + 60, start + 105, eating - first, 4)


Session = tuple[float, float, int, str]  # start, end, people, kind


def _sports_sessions(occupants: Occupants, building: Building, ctx: _Day) -> list[Session]:
    """Everything that happens in a building's sports hall on a day."""
    halls = [z for z in building.zones if zone_simulation(building, z).profile == "sports_hall"]
    if not halls or ctx.closed:
        return []
    rng, day, seed = ctx.rng, ctx.day, occupants.seed
    season = _season(day)
    sessions: list[Session] = []
    if ctx.school_day:
        for start in _pe_timetable(seed, building.id, season).get(ctx.weekday, ()):
            if rng.random() < 0.9:
                sessions.append((start, start + 55, int(rng.integers(22, 29)), "school"))
    for club in occupants.associations(building.id, season):
        active = club.first_day <= day <= club.last_day and club.weekday == ctx.weekday
        if active and (club.in_school_holidays or not ctx.school_holiday):
            count = round(club.people * rng.uniform(0.6, 1.1))
            sessions.append((club.start, club.end, count, "association"))
    in_season = not (date(day.year, 6, 20) < day < date(day.year, 9, 15))
    if ctx.weekday == 5 and in_season and not ctx.public_holiday and rng.random() < 0.7:
        for start in rng.choice([600, 840, 960], size=int(rng.integers(1, 4)), replace=False):
            players = int(rng.integers(16, 25)) + int(rng.integers(5, 30))
            sessions.append((float(start), float(start) + 120, players, "match"))
    return sessions


def _pe_timetable(seed: int, building_id: str, season: int) -> dict[int, tuple[float, ...]]:
    """School PE slots, fixed for the school year: Monday, Tuesday, Thursday, Friday."""
    rng = seeded_rng(seed, "pe", building_id, season)
    slots = (8 * 60 + 30, 9 * 60 + 30, 10 * 60 + 30, 13 * 60 + 30, 14 * 60 + 30, 15 * 60 + 30)
    return {
        weekday: tuple(float(s) for s in slots if rng.random() < 0.5)
        for weekday in (0, 1, 3, 4)
    }


_CLUBS = ("basket", "badminton", "volley", "futsal", "handball", "tennis de table",
          "gym douce", "zumba", "judo", "tir à l'arc")


def _associations(seed: int, building_id: str, season: int,
                  calendar: FrenchCalendar) -> tuple[Association, ...]:
    """Evening clubs of a season; one starts after Christmas, one stops at Easter."""
    rng = seeded_rng(seed, "associations", building_id, season)
    slots = [(weekday, start) for weekday in range(5) for start in (18 * 60, 20 * 60)]
    order = rng.permutation(len(slots))
    names = rng.permutation(len(_CLUBS))
    regular = int(rng.integers(5, 8))
    opening = _first_school_day_after(calendar, date(season, 9, 10))
    closing = date(season + 1, 6, 27)
    clubs = []
    for rank, slot_index in enumerate(order[: regular + 1]):
        weekday, start = slots[slot_index]
        first, last = opening + timedelta(days=int(rng.integers(0, 8))), closing
        if rank == regular:  # the newcomer: after the Christmas holidays
            first = _first_school_day_after(calendar, date(season + 1, 1, 2)) + timedelta(
                days=int(rng.integers(0, 21)))
        elif rank == 0:  # the club that stops early
            last = date(season + 1, 4, 1) + timedelta(days=int(rng.integers(0, 20)))
        clubs.append(Association(
            name=_CLUBS[names[rank % len(_CLUBS)]], weekday=weekday, start=start,
            end=start + int(rng.choice([90, 105, 120])), people=int(rng.integers(8, 26)),
            first_day=first, last_day=last, in_school_holidays=bool(rng.random() < 0.3),
        ))
    # Wednesday afternoons: the municipal sports school, in term time.
    clubs.append(Association("école municipale des sports", 2, 14 * 60, 16 * 60 + 30,
                             int(rng.integers(15, 30)), opening, closing, False))
    return tuple(clubs)


def _first_school_day_after(calendar: FrenchCalendar, day: date) -> date:
    while day.weekday() >= 5 or calendar.is_school_holiday(day) or calendar.is_public_holiday(
            day):
        day += timedelta(days=1)
    return day


def _changing_room(ctx: _Day, sessions: Sequence[Session], timeline: _Timeline) -> None:
    """Before and after each session, most players change; pupils rarely do."""
    rng = ctx.rng
    for start, end, people, kind in sessions:
        changing = rng.binomial(people, 0.3 if kind == "school" else 0.7)
        arrive = start - rng.uniform(5, 20, changing)
        timeline.add_many(arrive, arrive + rng.uniform(4, 12, changing))
        out = end + rng.uniform(0, 8, changing)
        timeline.add_many(out, out + rng.uniform(5, 25, changing))


def _reading_room(seed: int, building_id: str, ctx: _Day, periods: Sequence[tuple[int, int]],
                  visitors: int, timeline: _Timeline) -> None:
    """A desk staffed in opening hours, walk-in readers, class visits and story time."""
    rng = ctx.rng
    for start, end in periods:
        timeline.add(start - rng.uniform(10, 30), end + rng.uniform(5, 20))
    busy = 1.5 if ctx.weekday in (2, 5) else 1.0
    _visitors(ctx, periods, 0.6 * visitors * busy, (10.0, 50.0), timeline)
    visit_days = seeded_rng(seed, "class-visits", building_id, _season(ctx.day)).choice(
        [1, 3, 4], size=2, replace=False)
    if ctx.school_day and ctx.weekday in visit_days and rng.random() < 0.5:
        _crowd(rng, timeline, 9 * 60 + 30, 10 * 60 + 30, int(rng.integers(22, 30)), 5)
    if ctx.weekday == 2 and ctx.day.day <= 7 and periods:
        _crowd(rng, timeline, 10 * 60 + 30, 11 * 60 + 15, int(rng.integers(8, 21)), 5)


def _events_hall(ctx: _Day, periods: Sequence[tuple[int, int]], people: int,
                 timeline: _Timeline) -> None:
    """Private parties on Saturdays, Sunday banquets, a seniors' club, some programme."""
    rng = ctx.rng
    if ctx.weekday == 5 and rng.random() < 0.45:
        _crowd(rng, timeline, 18 * 60, 24 * 60, int(rng.integers(40, 121)), 30)
    if ctx.weekday == 6 and rng.random() < 0.15:
        _crowd(rng, timeline, 12 * 60, 17 * 60, int(rng.integers(50, 101)), 20)
    if ctx.weekday == 1 and not ctx.school_holiday:
        _crowd(rng, timeline, 14 * 60, 17 * 60 + 30, int(rng.integers(15, 26)))
    for start, end in periods:
        if rng.random() < 0.5:
            _crowd(rng, timeline, start, end, max(1, people // 3))


# --- events and closures of a year ----------------------------------------------------


COUNCIL_BOOKED = timedelta(hours=3)
"""How long the council room is booked from a meeting's start: a convocation gives the
start; meetings here last 100 to 170 minutes."""


def _at(day: date, minutes: float) -> datetime:
    """A wall-clock time of ``day``, ``minutes`` after its midnight."""
    return datetime.combine(day, time()) + timedelta(minutes=minutes)


def _capitalised(label: str) -> str:
    return label[:1].upper() + label[1:]


def _event_entry(building: str, event: Event) -> AgendaEntry:
    return AgendaEntry(kind="event", label=_capitalised(event.label),
                       scope=tuple(f"{building}.{zone}" for zone in event.zone_ids),
                       start=_at(event.day, event.start), end=_at(event.day, event.end))


def _closure_entry(building: str, closure: Closure) -> AgendaEntry:
    return AgendaEntry(kind="closure", label=_capitalised(closure.label), scope=(building,),
                       start=_at(closure.day, 0), end=_at(closure.day, 24 * 60))


def _council_entry(zone_key: str, day: date, start: float) -> AgendaEntry:
    begin = _at(day, start)
    return AgendaEntry(kind="event", label="Conseil municipal", scope=(zone_key,),
                       start=begin, end=begin + COUNCIL_BOOKED)


def _events(seed: int, building: Building, year: int,
            calendar: FrenchCalendar) -> tuple[Event, ...]:
    rng = seeded_rng(seed, "events", building.id, year)
    by_profile: dict[str, tuple[str, ...]] = {}
    for zone in building.zones:
        profile = zone_simulation(building, zone).profile
        by_profile[profile] = (*by_profile.get(profile, ()), zone.id)
    largest = (max(building.zones, key=lambda z: z.area_m2).id,)

    def on(weekday: int, first: date, last: date) -> date | None:
        return _random_day(rng, first, last, lambda d: d.weekday() == weekday
                           and not calendar.is_public_holiday(d))

    def event(day: date | None, start: str, end: str, zones: tuple[str, ...] | None,
              people: int, label: str) -> list[Event]:
        if day is None or not zones:
            return []
        return [Event(day, _minutes(start), _minutes(end), zones, people, label)]

    events: list[Event] = []
    if building.use == "mairie":
        polling = by_profile.get("council_room", largest)
        if rng.random() < 0.7:  # an election with two rounds, a fortnight apart
            first_round = on(6, date(year, 3, 1), date(year, 6, 14))
            events += event(first_round, "07:30", "19:30", polling, 10, "élections, 1er tour")
            if first_round is not None:
                events += event(first_round + timedelta(days=14), "07:30", "19:30", polling,
                                10, "élections, 2nd tour")
        events += event(on(4, date(year, 1, 8), date(year, 1, 25)), "18:30", "21:00",
                        polling, 60, "vœux du maire")
    elif building.use == "ecole":
        classes = by_profile.get("classroom", largest)
        fete = on(5, date(year, 6, 10), date(year, 6, 30))
        events += event(fete, "10:00", "16:00", classes + by_profile.get("canteen", ()),
                        120, "fête de l'école")
        events += event(on(int(rng.choice([1, 3])), date(year, 9, 8), date(year, 9, 26)),
                        "18:00", "19:30", classes, 40, "réunion de rentrée des parents")
    elif building.use == "gymnase":
        hall = by_profile.get("sports_hall", largest)
        for first, last in ((date(year, 1, 10), date(year, 3, 20)),
                            (date(year, 11, 5), date(year, 12, 12))):
            events += event(on(6, first, last), "09:00", "18:00",
                            hall, 70, "tournoi")
    elif building.use == "mediatheque":
        room = by_profile.get("reading_room", largest)
        for first, last in ((date(year, 3, 1), date(year, 3, 31)),
                            (date(year, 10, 1), date(year, 10, 31))):
            events += event(on(4, first, last), "19:00", "21:30", room, 35,
                            "rencontre avec un auteur")
    elif building.use == "creche":
        sections = by_profile.get("nursery", largest)
        events += event(on(4, date(year, 6, 15), date(year, 7, 10)), "16:30", "19:30",
                        sections[:1], 45, "fête de fin d'année des familles")
        events += event(on(int(rng.choice([1, 3])), date(year, 9, 8), date(year, 10, 2)),
                        "18:45", "20:15", sections[:1], 25, "réunion des parents")
    else:
        for first, last in ((date(year, 4, 1), date(year, 6, 30)),
                            (date(year, 10, 1), date(year, 12, 15))):
            events += event(on(5, first, last), "14:00", "23:00", largest, 80, "fête")
    return tuple(sorted(events, key=lambda e: (e.day, e.start)))


def _closures(seed: int, building: Building, year: int,
              calendar: FrenchCalendar) -> tuple[Closure, ...]:
    rng = seeded_rng(seed, "closures", building.id, year)
    school = building.use == "ecole"
    nursery = building.use == "creche"

    def open_day(d: date) -> bool:
        if d.weekday() >= 5 or calendar.is_public_holiday(d):
            return False
        return not (school and calendar.is_school_holiday(d))

    closures: list[Closure] = []
    labels = ("fermeture exceptionnelle : travaux", "formation du personnel",
              "fermeture exceptionnelle : panne")
    for _ in range(int(rng.integers(1, 3))):
        day = _random_day(rng, date(year, 1, 5), date(year, 12, 15), open_day)
        if day is not None:
            closures.append(Closure(day, "closed", labels[int(rng.integers(len(labels)))]))
    if school:
        for _ in range(int(rng.integers(1, 3))):
            day = _random_day(rng, date(year, 1, 5), date(year, 6, 30), open_day)
            if day is not None:
                closures.append(Closure(day, "strike", "grève"))
    if nursery:  # three weeks from the first Monday of August, and Christmas to New Year
        summer = date(year, 8, 1) + timedelta(days=-date(year, 8, 1).weekday() % 7)
        closures += [Closure(summer + timedelta(days=n), "closed", "fermeture estivale")
                     for n in range(19)]
        closures += [Closure(date(year, 12, day), "closed", "fermeture de fin d'année")
                     for day in range(24, 32)]
        closures.append(Closure(date(year, 1, 1), "closed", "fermeture de fin d'année"))
    unique = {c.day: c for c in closures}
    return tuple(sorted(unique.values(), key=lambda c: c.day))
