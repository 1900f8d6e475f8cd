"""Heating-season benchmark: ``gtb bench heating``, strategies compared on the same season.

One heating season (1 October to 30 April, after a week of warm-up) of the demo commune
is simulated for each strategy and weather year, directly on ``VirtualCommune`` (no
devices, no engine: a season takes seconds). Every strategy sees the same occupants and
the same weather, and uses the same comfort levels, so what differs is *when* each one
heats, and that comes from what it knows: nothing but the clock (``always``), the
programme (``fixed``), what sensors show (``learned``, the project's controller), or
everything, the real occupants and the true building (``oracle``, the limit).

A strategy is asked for each zone's level and setpoint every ``CONTROL_STEP_S``; the
harness writes them to the zone's setpoint (and heating mode, when the zone has one) and
runs the physics in ``PHYSICS_STEP_S`` steps. Energy comes from the buildings' heating
meters, comfort from the true air temperatures during the true occupied time.
docs/heating-bench.md gives the method and the figures measured.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from rich.progress import Progress
from scipy.linalg import expm

from controllers.heating import LONG_ABSENCE, FixedPreheat, programme_decision
from controllers.learning import ZoneLearner
from controllers.schedule import FrenchCalendar, occupation
from gtb.config import load_site
from gtb.i18n import DAYS_FR
from gtb.model import MODE_OF_LEVEL, ComfortLevels, HeatingLevel, Role, Site
from gtb.sim.thermal import FloatArray
from gtb.sim.weather import SyntheticWeather, Weather, to_epoch
from gtb.sim.world import BASE_LOAD_W_M2, PRESENCE_HOLD_S, VirtualCommune

PHYSICS_STEP_S = 300.0  # docs/simulation.md: steps of at most 5 minutes
CONTROL_STEP_S = 900.0  # every strategy decides every 15 minutes, as the engine may
_PER_CONTROL = round(CONTROL_STEP_S / PHYSICS_STEP_S)
WARM_UP = timedelta(days=7)  # BOPTEST warms up a week before it counts
DISCOMFORT_BELOW_K = 0.5  # occupied and more than this below comfort: discomfort (K·h)
MISS_BELOW_K = 1.0  # occupied and more than this below comfort: MissTime (minutes)
YEARS = (1, 2, 3)
"""Seeds of the weather years (``typical=False``: the years differ) and of the occupants."""
SEASON_YEAR = 2025
"""The season runs from 1 October of this year to 30 April of the next."""


@dataclass(frozen=True)
class ZoneCommand:
    """What a strategy wants of a zone: a level (for the mode point) and its setpoint."""

    level: HeatingLevel
    setpoint: float


class Sensors:
    """Which point of a site measures what, looked up once per run."""

    _SENSED = (Role.ZONE_TEMPERATURE, Role.OCCUPANCY, Role.VALVE, Role.HEATING_SETPOINT)

    def __init__(self, site: Site) -> None:
        self.keys: dict[tuple[str, Role], str] = {}
        self.outdoor: str | None = None
        self.zone_index = {key: i for i, (key, _) in enumerate(_zones(site))}
        for ref in site.points():
            if ref.building is not None and ref.zone is not None and ref.role in self._SENSED:
                self.keys[f"{ref.building.id}.{ref.zone.id}", ref.role] = ref.key
            elif ref.role is Role.OUTDOOR_TEMPERATURE and self.outdoor is None:
                self.outdoor = ref.key


class Observations:
    """What a real controller could read now: the site's sensor points, nothing else.

    Readings go through the points (``VirtualCommune.read``), as a device would serve
    them, and only when asked, so a strategy that looks at nothing costs nothing. A zone
    without such a point answers None, as a real site without the sensor would.
    """

    def __init__(self, world: VirtualCommune, sensors: Sensors, now: datetime) -> None:
        self.now = now
        self._world = world
        self._sensors = sensors
        self._detector: tuple[list[datetime], NDArray[np.bool_]] | None = None

    def _read(self, zone_key: str, role: Role) -> float | None:
        key = self._sensors.keys.get((zone_key, role))
        return None if key is None else self._world.read(key)

    def temperature(self, zone_key: str) -> float | None:
        """Air temperature, °C."""
        return self._read(zone_key, Role.ZONE_TEMPERATURE)

    def presence(self, zone_key: str) -> bool | None:
        """The presence detector (on for 10 minutes after the last motion)."""
        value = self._read(zone_key, Role.OCCUPANCY)
        return None if value is None else value > 0.5

    def presence_since_last(self, zone_key: str) -> list[tuple[datetime, bool]]:
        """The presence detector at each physics step since the last control step, the
        last one being now: what an engine polling every few minutes has recorded.
        A zone without a detector answers False throughout."""
        if self._detector is None:
            lags = np.arange(_PER_CONTROL - 1, -1, -1) * PHYSICS_STEP_S
            epochs = to_epoch(self.now) - lags
            hold = np.arange(0.0, PRESENCE_HOLD_S + 1.0, PHYSICS_STEP_S)
            counts = self._world.occupants.counts((epochs[:, None] - hold).ravel())
            on: NDArray[np.bool_] = np.asarray(
                (counts.reshape(len(epochs), len(hold), -1) > 0).any(axis=1))
            times = [self.now - timedelta(seconds=float(lag)) for lag in lags]
            self._detector = (times, on)
        times, on = self._detector
        if (zone_key, Role.OCCUPANCY) not in self._sensors.keys:
            return [(time_, False) for time_ in times]
        column = self._sensors.zone_index[zone_key]
        return [(time_, bool(on[n, column])) for n, time_ in enumerate(times)]

    def valve(self, zone_key: str) -> float | None:
        """Valve opening, 0 to 1."""
        value = self._read(zone_key, Role.VALVE)
        return None if value is None else value / 100.0

    def setpoint(self, zone_key: str) -> float | None:
        """The setpoint the zone's controller holds now, °C."""
        return self._read(zone_key, Role.HEATING_SETPOINT)

    def outdoor(self) -> float | None:
        """Outdoor temperature from the site's first outdoor sensor, °C."""
        key = self._sensors.outdoor
        return None if key is None else self._world.read(key)


class Strategy(Protocol):
    """A heating strategy under test: called every control step, for every zone."""

    def setpoints(self, now: datetime, seen: Observations) -> dict[str, ZoneCommand]:
        """Each zone's command from now (UTC) until the next call; a zone left out keeps
        its last command."""
        ...


StrategyFactory = Callable[[Site], Strategy]
"""Builds a fresh strategy (no history) for a site: a controller gets the site file's
knowledge and the observations, never the simulator."""


def _zones(site: Site) -> Iterator[tuple[str, ComfortLevels]]:
    for building in site.buildings:
        for zone in building.zones:
            yield f"{building.id}.{zone.id}", site.comfort_of(zone)


class AlwaysComfort:
    """Comfort day and night: no setback, the most energy and the reference for comfort."""

    def __init__(self, site: Site) -> None:
        self._commands = {key: ZoneCommand(HeatingLevel.COMFORT, levels.comfort)
                          for key, levels in _zones(site)}

    def setpoints(self, now: datetime, seen: Observations) -> dict[str, ZoneCommand]:
        return self._commands


class FixedProgramme:
    """The programme as a diligent manager sets it, with the usual fixed early start.

    ``controllers.heating.programme_decision`` with public and school holidays from the
    French calendar: comfort in programmed periods, 2 h of preheat (4 h after more than
    48 h without a period, which covers Mondays and the ends of holidays), reduced or
    frost protection outside. BOPTEST's baseline is the same idea (DOMAIN.md).
    """

    def __init__(self, site: Site) -> None:
        self._tz = site.tz
        self._preheat = FixedPreheat()
        self._calendar = FrenchCalendar(site.school_zone, site.alsace_moselle)
        self._zones = [(f"{b.id}.{z.id}", site.programme_of(b, z), b.use, site.comfort_of(z))
                       for b in site.buildings for z in b.zones]

    def setpoints(self, now: datetime, seen: Observations) -> dict[str, ZoneCommand]:
        local = now.astimezone(self._tz)
        commands = {}
        for key, programme, use, levels in self._zones:
            where = occupation(programme, self._calendar, use, local)
            decision = programme_decision(where, local, levels, self._preheat)
            commands[key] = ZoneCommand(decision.level, decision.setpoint)
        return commands


class Learned:
    """This project's controller from an empty history: a ``ZoneLearner`` per zone.

    Each control step it feeds every zone what its sensors show (air, outdoor and valve
    now; the presence detector at every physics step since the last call, as an engine
    polling every few minutes records it), refits each zone at the first step after
    local midnight, as the engine's nightly job does, and asks for the decision. A zone
    without a temperature sensor, or a site without an outdoor one, stays on its
    programme, as in the engine.
    """

    def __init__(self, site: Site) -> None:
        calendar = FrenchCalendar(site.school_zone, site.alsace_moselle)
        self._tz = site.tz
        self._learners = {
            f"{b.id}.{z.id}": ZoneLearner(site.programme_of(b, z), b.use, calendar,
                                          site.comfort_of(z), site.tz)
            for b in site.buildings for z in b.zones}
        self._refitted: date | None = None

    @property
    def learners(self) -> dict[str, ZoneLearner]:
        """Each zone's learner, by zone key: what the zones learned, for the store."""
        return self._learners

    def setpoints(self, now: datetime, seen: Observations) -> dict[str, ZoneCommand]:
        today = now.astimezone(self._tz).date()
        if self._refitted is None:
            self._refitted = today
        elif today != self._refitted:
            for learner in self._learners.values():
                learner.refit(now)
            self._refitted = today
        outdoor = seen.outdoor()
        commands = {}
        for key, learner in self._learners.items():
            indoor, valve = seen.temperature(key), seen.valve(key)
            presence = seen.presence_since_last(key)
            for moment, present in presence[:-1]:
                learner.record_presence(moment, present)
            if indoor is not None and outdoor is not None and valve is not None:
                learner.observe(now, indoor=indoor, outdoor=outdoor, heating=valve,
                                present=presence[-1][1])
            else:
                learner.record_presence(*presence[-1])
            decision = learner.decide(now, indoor=indoor, outdoor=outdoor,
                                      present=presence[-1][1])
            commands[key] = ZoneCommand(decision.level, decision.setpoint)
        return commands


STRATEGIES: dict[str, StrategyFactory] = {
    "always": AlwaysComfort,
    "fixed": FixedProgramme,
    "learned": Learned,
}
"""Strategies that control from observations; ``oracle`` is built apart (it gets the
simulator)."""

ORACLE = "oracle"


def _hidden_owners(site: Site) -> list[int]:
    """Building of each hidden zone of ``VirtualCommune`` (floor area outside the zones),
    in its order: after the real zones, one per building with more than 1 m² left."""
    return [b for b, building in enumerate(site.buildings)
            if building.floor_area_m2 - sum(z.area_m2 for z in building.zones) > 1.0]


class Oracle:
    """The limit: the lowest energy that still has every zone at comfort when people come.

    It is handed the simulator itself, which no real controller has: the real occupant
    timeline (every arrival, including the council meeting nobody programmed), the
    weather to come, and the true thermal network of every zone. When a zone is
    unoccupied it holds the same setback as the others (reduced, or frost protection when
    the *real* absence exceeds 48 h) and switches to comfort at the last control step
    from which full power still brings the air to comfort + ``margin`` by the real
    arrival. "Full power" is the zone's emitter at the share of its plant it would get if
    every zone of the building heated at once (the worst case); the forecast of the
    zone's air is exact for the linear network (same matrices, weather, solar and base
    gains as the world), but assumes no heat while it waits one more step, and does not
    model the thermostat easing its valve near the setpoint: ``margin`` covers that.
    Limits: it does no optimal stop (it keeps comfort to the end of every real presence),
    and it decides on the 15-minute control grid like the others.
    """

    def __init__(self, site: Site, world: VirtualCommune, begin: datetime, end: datetime,
                 margin_k: float = 0.3, horizon: timedelta = timedelta(hours=48)) -> None:
        dt = world.step_s
        self._dt, self._margin = dt, margin_k
        self._origin = to_epoch(begin)
        self._horizon = round(horizon.total_seconds() / dt)
        steps = round((to_epoch(end) - self._origin) / dt) + self._horizon + 1
        starts = _instants(self._origin, dt, steps)
        occupied = world.occupants.counts(starts) > 0
        self._keys = list(world.zone_keys)
        self._levels = dict(_zones(site))
        outdoor, solar = world.weather.sample(starts + dt / 2)
        self._world = world
        network = world.network
        owners = [b for b, building in enumerate(site.buildings) for _ in building.zones]
        owners += _hidden_owners(site)
        emitters = np.array([zone.emitter_w for zone in network.zones])
        capacity = np.stack([plant.capacity(outdoor) for plant in world.plants], axis=1)
        building_emitters = np.bincount(owners, weights=emitters, minlength=len(world.plants))
        share = np.minimum(1.0, capacity / building_emitters)  # (steps, buildings)
        self._inputs: list[FloatArray] = []
        self._air_rows: list[FloatArray] = []
        self._responses: list[FloatArray] = []
        self._next: list[NDArray[np.int64]] = []
        self._last_end: list[NDArray[np.int64]] = []
        index = np.arange(steps)
        for i in range(len(self._keys)):
            zone = network.zones[i]
            base = BASE_LOAD_W_M2 * zone.area_m2
            sun = solar * zone.solar_aperture_m2
            full = emitters[i] * share[:, owners[i]]
            self._inputs.append(np.stack([outdoor, 0.5 * base + 0.2 * sun,
                                          0.5 * base + 0.8 * sun, full], axis=1))
            rows, responses = _air_response(zone.matrices(), dt, self._horizon)
            self._air_rows.append(rows)
            self._responses.append(responses)
            times = np.flatnonzero(occupied[:, i])
            after = np.searchsorted(times, index)
            self._next.append(np.where(after < len(times),
                                       times[np.minimum(after, len(times) - 1)], steps * 10))
            self._last_end.append(np.where(after > 0, times[np.maximum(after - 1, 0)] + 1,
                                           -steps * 10))

    def setpoints(self, now: datetime, seen: Observations) -> dict[str, ZoneCommand]:
        k = round((to_epoch(now) - self._origin) / self._dt)
        return {key: self._decide(i, key, k) for i, key in enumerate(self._keys)}

    def _decide(self, i: int, key: str, k: int) -> ZoneCommand:
        levels = self._levels[key]
        arrival = int(self._next[i][k])
        if arrival < k + _PER_CONTROL:
            return ZoneCommand(HeatingLevel.COMFORT, levels.comfort)
        gap = arrival - k
        if gap <= self._horizon and self._forecast(i, k, gap) < levels.comfort + self._margin:
            return ZoneCommand(HeatingLevel.COMFORT, levels.comfort)
        absence_s = (arrival - int(self._last_end[i][k])) * self._dt
        if absence_s > LONG_ABSENCE.total_seconds():
            return ZoneCommand(HeatingLevel.FROST_PROTECTION, levels.frost_protection)
        return ZoneCommand(HeatingLevel.REDUCED, levels.reduced)

    def _forecast(self, i: int, k: int, gap: int) -> float:
        """Air temperature ``gap`` steps ahead if the zone waits one control step without
        heat, then heats at full power: exact sum of the discrete network's responses."""
        state = np.array(self._world.network.temperatures(i))
        inputs = self._inputs[i][k : k + gap].copy()
        inputs[:_PER_CONTROL, 3] = 0.0
        responses = self._responses[i][gap - 1 :: -1]
        return float(self._air_rows[i][gap] @ state + np.sum(responses * inputs))


def _instants(origin: float, step: float, count: int) -> FloatArray:
    """``count`` epochs ``step`` apart from ``origin``."""
    return np.asarray(origin + step * np.arange(count), dtype=np.float64)


def _air_response(matrices: tuple[FloatArray, FloatArray], dt: float, horizon: int
                  ) -> tuple[FloatArray, FloatArray]:
    """Row of the air node in A_d^n (n = 0..horizon), and in A_d^n B_d (n < horizon): the
    air's response to the initial state and to each step's inputs, as the world steps."""
    a, b = matrices
    ad = expm(a * dt)
    bd = np.linalg.solve(a, (ad - np.eye(3)) @ b)
    rows = np.empty((horizon + 1, 3))
    row = np.array([1.0, 0.0, 0.0])
    for n in range(horizon + 1):
        rows[n] = row
        row = row @ ad
    return rows, rows[:horizon] @ bd


# -- one season of one strategy -------------------------------------------------------


@dataclass(frozen=True)
class Trace:
    """What happened, for metrics and plots; times are UTC epochs."""

    origin: float
    """Epoch of the first physics step (the start of the warm-up)."""
    counted_from: int
    """First physics step that counts (the end of the warm-up)."""
    air: FloatArray
    """(control steps + 1, zones): air temperature at each control instant."""
    setpoint: FloatArray
    """(control steps, zones): the setpoint held over each control step."""
    occupants: NDArray[np.int16]
    """(physics steps, zones): real headcount during each physics step."""
    outdoor: FloatArray
    """(physics steps,): outdoor temperature at the middle of each physics step."""

    def air_per_step(self) -> FloatArray:
        """Air temperature at the middle of each physics step, linear between control
        instants (the world is read every control step only, which is what costs)."""
        fraction = (np.arange(_PER_CONTROL) + 0.5) / _PER_CONTROL
        start, end = self.air[:-1], self.air[1:]
        per = start[:, None, :] + fraction[None, :, None] * (end - start)[:, None, :]
        return per.reshape(-1, self.air.shape[1])


@dataclass(frozen=True)
class Run:
    strategy: str
    seed: int
    heat_kwh: dict[str, float]
    """Heat metered per building over the counted period."""
    trace: Trace


def season(year: int = SEASON_YEAR, tz: tzinfo | None = None) -> tuple[datetime, datetime]:
    """1 October of ``year`` 00:00 to 1 May of the next year 00:00, local time."""
    return (datetime(year, 10, 1, tzinfo=tz), datetime(year + 1, 5, 1, tzinfo=tz))


def tabulated_world(site: Site, seed: int, begin: datetime, controls: int, *,
                    typical: bool = False) -> VirtualCommune:
    """The virtual commune from ``begin``, stepped every ``PHYSICS_STEP_S``, on weather
    ``seed`` (a typical year, or not) computed once for ``controls`` control steps."""
    weather = _Tabulated(SyntheticWeather(site.latitude, site.longitude, seed, typical=typical),
                         to_epoch(begin), controls * _PER_CONTROL)
    return VirtualCommune(site, begin, seed=seed, weather=weather, step_s=PHYSICS_STEP_S)


class Harness:
    """A strategy at the controls of a world, as the engine is: asked at each control
    step, and only what changed is written, to the zone's setpoint and, where the zone
    has one, its heating mode."""

    def __init__(self, site: Site, world: VirtualCommune, strategy: Strategy) -> None:
        self.world = world
        self.strategy = strategy
        self.commands: dict[str, ZoneCommand] = {}
        """The last command written to each zone."""
        self._writable, self._sensors = _writable(site), Sensors(site)

    def control(self, now: datetime) -> None:
        """Ask the strategy at ``now`` and write what changed."""
        seen = Observations(self.world, self._sensors, now)
        for key, command in self.strategy.setpoints(now, seen).items():
            if self.commands.get(key) == command:
                continue
            self.commands[key] = command
            setpoint_key, mode_key = self._writable[key]
            self.world.write(setpoint_key, command.setpoint)
            if mode_key is not None:
                self.world.write(mode_key, MODE_OF_LEVEL[command.level])


def simulate(site: Site, strategy: str, seed: int, start: datetime, end: datetime,
             warm_up: timedelta = WARM_UP) -> Run:
    """One strategy over [start, end) after ``warm_up``, on weather and occupants ``seed``."""
    begin = (start - warm_up).astimezone(UTC)
    controls = round((to_epoch(end) - to_epoch(begin)) / CONTROL_STEP_S)
    world = tabulated_world(site, seed, begin, controls)
    counted_from = round(warm_up.total_seconds() / CONTROL_STEP_S)
    chosen = (Oracle(site, world, begin, end) if strategy == ORACLE
              else STRATEGIES[strategy](site))
    harness = Harness(site, world, chosen)
    zones = len(world.zone_keys)
    air = np.empty((controls + 1, zones))
    setpoints = np.empty((controls, zones))
    air[0] = world.network.air[:zones]
    metered = dict.fromkeys((b.id for b in site.buildings), 0.0)
    for c in range(controls):
        if c == counted_from:
            metered = {b: world.building_state(b).heat_kwh for b in metered}
        now = begin + timedelta(seconds=c * CONTROL_STEP_S)
        harness.control(now)
        setpoints[c] = world.setpoint
        world.advance_to(now + timedelta(seconds=CONTROL_STEP_S))
        air[c + 1] = world.network.air[:zones]
    origin = to_epoch(begin)
    starts = _instants(origin, PHYSICS_STEP_S, controls * _PER_CONTROL)
    trace = Trace(origin, counted_from * _PER_CONTROL, air, setpoints,
                  world.occupants.counts(starts),
                  world.weather.sample(starts + PHYSICS_STEP_S / 2)[0])
    heat = {b: world.building_state(b).heat_kwh - before for b, before in metered.items()}
    return Run(strategy, seed, heat, trace)


class _Tabulated(Weather):
    """A weather computed once at the middle of every physics step of a run, where the
    world samples it each step; other instants are asked of the weather itself. Same
    values, a tenth of the cost of the season's weather lookups."""

    def __init__(self, weather: Weather, origin: float, steps: int) -> None:
        self._weather, self._origin = weather, origin
        self._table = weather.sample(_instants(origin + PHYSICS_STEP_S / 2, PHYSICS_STEP_S,
                                               steps))

    def sample(self, epoch_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        where = (np.asarray(epoch_s) - self._origin) / PHYSICS_STEP_S - 0.5
        index = np.rint(where).astype(np.int64)
        if (np.all(np.abs(where - index) < 1e-6) and index.min() >= 0
                and index.max() < len(self._table[0])):
            return self._table[0][index], self._table[1][index]
        return self._weather.sample(epoch_s)


def _writable(site: Site) -> dict[str, tuple[str, str | None]]:
    """Each zone's setpoint point and heating-mode point (None when it has none)."""
    setpoint: dict[str, str] = {}
    mode: dict[str, str] = {}
    for ref in site.points():
        if ref.building is None or ref.zone is None:
            continue
        zone_key = f"{ref.building.id}.{ref.zone.id}"
        if ref.role is Role.HEATING_SETPOINT:
            setpoint[zone_key] = ref.key
        elif ref.role is Role.HEATING_MODE:
            mode[zone_key] = ref.key
    return {key: (point, mode.get(key)) for key, point in setpoint.items()}


# -- metrics --------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """A building's (or the commune's) figures over the counted period."""

    heat_kwh: float
    kwh_m2: float
    discomfort_kh: float
    """Occupied time below comfort - 0.5 K, weighted by the deficit, K·h (zones summed)."""
    misstime_min: float
    """Occupied time more than 1 K below comfort, minutes (zones summed)."""
    occupied_h: float
    """Occupied time, hours (zones summed): the bound of MissTime."""

    def as_dict(self) -> dict[str, float]:
        return {name: round(value, 2) for name, value in asdict(self).items()}


def zone_comfort(run: Run, comfort: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Discomfort (K·h), MissTime (min) and occupied time (h) of each zone."""
    trace = run.trace
    first = trace.counted_from
    air = trace.air_per_step()[first:]
    occupied = trace.occupants[first:] > 0
    hours = PHYSICS_STEP_S / 3600.0
    deficit = np.maximum(0.0, comfort - DISCOMFORT_BELOW_K - air) * occupied
    missed = (air < comfort - MISS_BELOW_K) & occupied
    return (deficit.sum(axis=0) * hours, missed.sum(axis=0) * hours * 60.0,
            occupied.sum(axis=0) * hours)


def figures(site: Site, runs: Sequence[Run]) -> tuple[dict[str, Figures], Figures]:
    """Per building and for the commune, averaged over the runs (one per weather year)."""
    comfort = np.array([levels.comfort for _, levels in _zones(site)])
    owner = np.array([b for b, building in enumerate(site.buildings) for _ in building.zones])
    totals = np.zeros((len(site.buildings), 4))
    for run in runs:
        discomfort, miss, occupied = zone_comfort(run, comfort)
        for b, building in enumerate(site.buildings):
            mine = owner == b
            totals[b] += (run.heat_kwh[building.id], discomfort[mine].sum(), miss[mine].sum(),
                          occupied[mine].sum())
    totals /= len(runs)
    buildings = {building.id: Figures(row[0], row[0] / building.floor_area_m2, *row[1:])
                 for building, row in zip(site.buildings, totals, strict=True)}
    area = sum(building.floor_area_m2 for building in site.buildings)
    whole = totals.sum(axis=0)
    return buildings, Figures(whole[0], whole[0] / area, *whole[1:])


def _pct_saved(energy: float, reference: float) -> float:
    return round(100.0 * (1.0 - energy / reference), 1) if reference > 0 else 0.0


def report(site: Site, runs: Sequence[Run], start: datetime, end: datetime,
           years: Sequence[int]) -> dict[str, Any]:
    """The JSON of ``gtb bench heating``: season, years, per strategy, and the summary."""
    names = list(dict.fromkeys(run.strategy for run in runs))
    strategies: dict[str, Any] = {}
    total: dict[str, Figures] = {}
    for name in names:
        buildings, total[name] = figures(site, [run for run in runs if run.strategy == name])
        strategies[name] = {"buildings": {b: f.as_dict() for b, f in buildings.items()},
                            "total": total[name].as_dict()}
    summary: dict[str, dict[str, float]] = {
        "savings_vs_fixed_pct": {}, "savings_vs_always_pct": {},
        "energy_vs_oracle_ratio": {}, "discomfort_kh": {}, "misstime_min": {}}
    for name in names:
        energy = total[name].heat_kwh
        if name != "fixed" and "fixed" in total:
            summary["savings_vs_fixed_pct"][name] = _pct_saved(energy, total["fixed"].heat_kwh)
        if name != "always" and "always" in total:
            summary["savings_vs_always_pct"][name] = _pct_saved(energy,
                                                                total["always"].heat_kwh)
        if ORACLE in total and total[ORACLE].heat_kwh > 0:
            summary["energy_vs_oracle_ratio"][name] = round(energy / total[ORACLE].heat_kwh, 3)
        summary["discomfort_kh"][name] = round(total[name].discomfort_kh, 2)
        summary["misstime_min"][name] = round(total[name].misstime_min, 1)
    return {
        "season": {"start": start.date().isoformat(),
                   "end": (end - timedelta(days=1)).date().isoformat(),
                   "warm_up_days": WARM_UP.days, "physics_step_s": PHYSICS_STEP_S,
                   "control_step_s": CONTROL_STEP_S,
                   "figures": "per season, averaged over the years"},
        "years": list(years),
        "strategies": strategies,
        "summary": summary,
    }


# -- plots ----------------------------------------------------------------------------

LABELS_FR = {"always": "confort permanent", "fixed": "programme, relance fixe",
             "learned": "appris", ORACLE: "oracle"}


def typical_weeks(trace: Trace, tz: tzinfo) -> dict[str, datetime]:
    """The coldest and the mildest whole week (Monday to Monday, local) that counts."""
    first = datetime.fromtimestamp(trace.origin + trace.counted_from * PHYSICS_STEP_S, tz)
    monday = datetime.combine(first.date() + timedelta(days=(7 - first.weekday()) % 7),
                              time(), tzinfo=tz)
    means: dict[datetime, float] = {}
    while True:
        a, b = (round((to_epoch(t) - trace.origin) / PHYSICS_STEP_S)
                for t in (monday, monday + timedelta(days=7)))
        if b > len(trace.outdoor):
            break
        means[monday] = float(trace.outdoor[a:b].mean())
        monday = datetime.combine(monday.date() + timedelta(days=7), time(), tzinfo=tz)
    return {"froide": min(means, key=means.__getitem__),
            "douce": max(means, key=means.__getitem__)}


def _day_label(tz: tzinfo) -> Callable[[float, int], str]:
    """Axis ticks as « lun. 01 », whatever the machine's locale."""
    import matplotlib.dates as mdates

    def label(value: float, _: int) -> str:
        day = mdates.num2date(value, tz=tz)
        return f"{DAYS_FR[day.weekday()][:3]}. {day:%d}"

    return label


def plot(site: Site, run: Run, folder: Path, dpi: int = 72) -> list[Path]:
    """One PNG per building: zones in rows, the cold and the mild week in columns."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    folder.mkdir(parents=True, exist_ok=True)
    trace, tz = run.trace, site.tz
    written = []
    column = 0
    for building in site.buildings:
        zones = building.zones
        figure, axes = plt.subplots(len(zones), 2, figsize=(13, 1.9 * len(zones) + 1.2),
                                    squeeze=False, sharey="row")
        for w, (kind, monday) in enumerate(typical_weeks(trace, tz).items()):
            a = round((to_epoch(monday) - trace.origin) / PHYSICS_STEP_S)
            b = a + round(7 * 86400 / PHYSICS_STEP_S)
            ca, cb = a // _PER_CONTROL, b // _PER_CONTROL
            steps = [datetime.fromtimestamp(trace.origin + PHYSICS_STEP_S * n, tz)
                     for n in range(a, b)]
            controls = [datetime.fromtimestamp(trace.origin + CONTROL_STEP_S * n, tz)
                        for n in range(ca, cb + 1)]
            for z, zone in enumerate(zones):
                ax = axes[z][w]
                i = column + z
                ax.fill_between(steps, 0, 1, where=trace.occupants[a:b, i] > 0, step="post",
                                transform=ax.get_xaxis_transform(), color="tab:green",
                                alpha=0.18, linewidth=0, label="occupé (réel)")
                ax.plot(steps, trace.outdoor[a:b], color="grey", linewidth=0.8,
                        label="extérieur")
                ax.step(controls[:-1], trace.setpoint[ca:cb, i], where="post",
                        color="tab:orange", linewidth=1.0, label="consigne")
                ax.plot(controls, trace.air[ca : cb + 1, i], color="tab:red", linewidth=1.2,
                        label="air intérieur")
                ax.set_title(f"{zone.name} — semaine {kind} du {monday:%d/%m/%Y}",
                             fontsize=9)
                ax.xaxis.set_major_formatter(FuncFormatter(_day_label(tz)))
                ax.tick_params(labelsize=8)
                ax.grid(alpha=0.3)
                if w == 0:
                    ax.set_ylabel("°C", fontsize=8)
        column += len(zones)
        handles, labels = axes[0][0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
        figure.suptitle(f"{building.name} — stratégie {LABELS_FR.get(run.strategy, run.strategy)}"
                        f" (année météo {run.seed})", fontsize=11)
        figure.tight_layout(rect=(0, 0.05, 1, 1))
        path = folder / f"{building.id}-{run.strategy}.png"
        figure.savefig(path, dpi=dpi)
        plt.close(figure)
        written.append(path)
    return written


# -- the whole bench ------------------------------------------------------------------


def _task(site_file: str, buildings: tuple[str, ...] | None, strategy: str, seed: int,
          start: datetime, end: datetime, plots: Path | None) -> tuple[Run, list[Path]]:
    """One run, and its plots when asked: in the worker, so plots are drawn in parallel."""
    site = restrict(load_site(site_file), buildings)
    run = simulate(site, strategy, seed, start, end)
    return run, [] if plots is None else plot(site, run, plots)


def restrict(site: Site, buildings: Sequence[str] | None) -> Site:
    """The site with only these buildings (all when None): for short tests."""
    if buildings is None:
        return site
    unknown = set(buildings) - {b.id for b in site.buildings}
    if unknown:
        raise KeyError(f"no building {sorted(unknown)} in site {site.id}")
    return site.model_copy(update={"buildings": tuple(
        b for b in site.buildings if b.id in buildings)})


def bench_heating(site_file: Path, years: Sequence[int] = YEARS,
                  strategies: Sequence[str] = (*STRATEGIES, ORACLE),
                  period: tuple[datetime, datetime] | None = None,
                  buildings: Sequence[str] | None = None, plots: Path | None = None,
                  workers: int = 2, progress: Progress | None = None) -> dict[str, Any]:
    """Every strategy over every weather year; the report, and plots of the first year.

    Runs are independent, so they go to a pool of ``workers`` processes (1: in this one).
    """
    site = restrict(load_site(site_file), buildings)
    start, end = period or season(SEASON_YEAR, site.tz)
    picked = tuple(buildings) if buildings is not None else None
    tasks = [(str(site_file), picked, name, seed, start, end, plots if seed == years[0] else None)
             for seed in years for name in strategies]
    track = progress.add_task("saisons simulées", total=len(tasks)) if progress else None
    runs: list[Run] = []
    drawn: list[Path] = []

    def done(outcome: tuple[Run, list[Path]]) -> None:
        runs.append(outcome[0])
        drawn.extend(outcome[1])
        if progress is not None and track is not None:
            progress.advance(track)

    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")
                                 ) as pool:
            for outcome in pool.map(_task, *zip(*tasks, strict=True)):
                done(outcome)
    else:
        for task in tasks:
            done(_task(*task))
    result = report(site, runs, start, end, years)
    if plots is not None:
        result["plots"] = [str(path) for path in drawn]
    return result


def summary_rows(result: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    """What a person reads: one row per strategy, commune totals."""
    summary = result["summary"]
    for name, figures_ in result["strategies"].items():
        total = figures_["total"]
        yield (name, f"{total['heat_kwh']:,.0f}", f"{total['kwh_m2']:.1f}",
               f"{total['discomfort_kh']:.1f}", f"{total['misstime_min']:.0f}",
               _signed(summary["savings_vs_fixed_pct"].get(name)),
               _signed(summary["savings_vs_always_pct"].get(name)))


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f} %"

