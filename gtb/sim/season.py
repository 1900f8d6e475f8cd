"""The season harness: a heating strategy at the controls of the virtual commune.

A strategy is asked for each zone's level and setpoint every ``CONTROL_STEP_S``; the
harness writes them to the zone's setpoint (and heating mode, when the zone has one),
commands each building's plant from its zones as the engine does, and runs the physics
in ``PHYSICS_STEP_S`` steps, directly on ``VirtualCommune`` (no devices, no engine: a
season takes seconds). Strategies see only what a real controller could
read (``Observations``: the site's sensor points); the bench's bound, which is handed
the simulator itself, is no strategy (``gtb.bench.bound``).

Both the heating benchmark (``gtb bench heating``) and the demo's simulated past
(``gtb.sim.past``) run on it, so that what the demo shows is what the bench measures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from controllers.forecast import OutdoorForecast
from controllers.heating import HeatingDecision, programme_decision
from controllers.learning import ZoneLearner
from controllers.occupancy import HORIZON_DAYS, ArrivalForecast
from controllers.plant import PlantClock, PlantSwitch, ZoneNeed, frost_floor
from controllers.schedule import FrenchCalendar, agenda_for, occupation
from gtb.model import ComfortLevels, Site
from gtb.model.calendar import AgendaEntry
from gtb.model.points import HEATING_SIGNALS, MODE_OF_LEVEL, HeatingLevel, Role
from gtb.sim.occupants import SLOT_MINUTES, SLOTS_PER_DAY, Occupants
from gtb.sim.thermal import FloatArray
from gtb.sim.weather import SyntheticWeather, Weather, to_epoch
from gtb.sim.world import J_PER_KWH, PRESENCE_HOLD_S, VirtualCommune
from gtb.texts import Reason

PHYSICS_STEP_S = 300.0  # docs/simulation.md: steps of at most 5 minutes
CONTROL_STEP_S = 900.0  # every strategy decides every 15 minutes, as the engine may
STEPS_PER_CONTROL = round(CONTROL_STEP_S / PHYSICS_STEP_S)
WARM_UP = timedelta(days=7)  # BOPTEST warms up a week before it counts


@dataclass(frozen=True)
class ZoneCommand:
    """What a strategy wants of a zone: a level (for the mode point) and its setpoint."""

    level: HeatingLevel
    setpoint: float


class Sensors:
    """Which point of a site measures what, looked up once per run."""

    _SENSED = (Role.ZONE_TEMPERATURE, Role.OCCUPANCY, Role.HEATING_SETPOINT, *HEATING_SIGNALS)

    def __init__(self, site: Site) -> None:
        self.keys: dict[tuple[str, Role], str] = {}
        self.outdoor: str | None = None
        self.forecast: OutdoorForecast | None = None
        """The last forecast run handed out (``Observations.outdoor_forecast``)."""
        self.zone_index = {key: i for i, (key, _) in enumerate(zone_levels(site))}
        for ref in site.points():
            if ref.building is not None and ref.zone is not None and ref.role in self._SENSED:
                self.keys[f"{ref.building.id}.{ref.zone.id}", ref.role] = ref.key
            elif ref.role is Role.OUTDOOR_TEMPERATURE and self.outdoor is None:
                self.outdoor = ref.key
        self.heating_signal = {
            zone_key: key for zone_key in self.zone_index
            if (key := next((self.keys[zone_key, role] for role in HEATING_SIGNALS
                             if (zone_key, role) in self.keys), None)) is not None}
        """Each zone's heating signal point: its valve, emitter power or fan speed point,
        whichever it has, in that order (a zone without any is left out)."""


class Observations:
    """What a real controller could read now: the site's sensor points, nothing else.

    Readings go through the points (``VirtualCommune.read``), as a device would serve
    them, and only when asked, so a strategy that looks at nothing costs nothing; each
    point is read once a step, as an engine polls it (the strategy and the plants ask
    for the same temperatures). A zone without such a point answers None, as a real site
    without the sensor would.
    """

    def __init__(self, world: VirtualCommune, sensors: Sensors, now: datetime) -> None:
        self.now = now
        self._world = world
        self._sensors = sensors
        self._detector: tuple[list[datetime], list[list[bool]]] | None = None
        self._values: dict[str, float] = {}

    def _read(self, zone_key: str, role: Role) -> float | None:
        return self._point(self._sensors.keys.get((zone_key, role)))

    def _point(self, key: str | None) -> float | None:
        """The point's value this step (None: no such point)."""
        if key is None:
            return None
        value = self._values.get(key)
        if value is None:
            value = self._values[key] = self._world.read(key)
        return value

    def temperature(self, zone_key: str) -> float | None:
        """Air temperature, °C."""
        return self._read(zone_key, Role.ZONE_TEMPERATURE)

    def presence(self, zone_key: str) -> bool | None:
        """The presence detector (on for 10 minutes after the last motion)."""
        value = self._read(zone_key, Role.OCCUPANCY)
        return None if value is None else value > 0.5

    def presence_since_last(self, zone_key: str) -> list[tuple[datetime, bool | None]]:
        """The presence detector at each physics step since the last control step, the
        last one being now: what an engine polling every few minutes has recorded.
        A zone without a detector answers None (unknown) throughout, never absence."""
        if self._detector is None:
            lags = np.arange(STEPS_PER_CONTROL - 1, -1, -1) * PHYSICS_STEP_S
            epochs = to_epoch(self.now) - lags
            hold = np.arange(0.0, PRESENCE_HOLD_S + 1.0, PHYSICS_STEP_S)
            counts = self._world.occupants.counts((epochs[:, None] - hold).ravel())
            on: list[list[bool]] = np.asarray(
                (counts.reshape(len(epochs), len(hold), -1) > 0).any(axis=1)).tolist()
            times = [self.now - timedelta(seconds=float(lag)) for lag in lags]
            self._detector = (times, on)  # every zone's, then each zone's column
        times, steps = self._detector
        if (zone_key, Role.OCCUPANCY) not in self._sensors.keys:
            return [(time_, None) for time_ in times]
        column = self._sensors.zone_index[zone_key]
        return [(time_, row[column]) for time_, row in zip(times, steps, strict=True)]

    def heating_signal(self, zone_key: str) -> float | None:
        """The share (0 to 1) of its emitter's output the zone uses, from its valve, emitter
        power or fan speed point, whichever it has (None: none)."""
        value = self._point(self._sensors.heating_signal.get(zone_key))
        return None if value is None else value / 100.0

    def setpoint(self, zone_key: str) -> float | None:
        """The setpoint the zone's controller holds now, °C."""
        return self._read(zone_key, Role.HEATING_SETPOINT)

    def clairvoyance(self) -> Occupants:
        """Not a sensor: the occupants themselves, who will come when. Only the
        ``clairvoyant`` reference reads it (``Clairvoyant``); a strategy that does is no
        controller."""
        return self._world.occupants

    def outdoor(self) -> float | None:
        """Outdoor temperature from the site's first outdoor sensor, °C."""
        return self._point(self._sensors.outdoor)

    def outdoor_forecast(self) -> OutdoorForecast | None:
        """The outdoor temperature to come, as the virtual commune's weather service
        forecasts it (``Weather.forecast``: the run of the last whole hour, 48 hours, with
        its error); None for a site without an outdoor sensor, as the engine has no
        outdoor reading to fall back on there. The same run serves a whole hour."""
        if self._sensors.outdoor is None:
            return None
        run = self.now.replace(minute=0, second=0, microsecond=0)
        known = self._sensors.forecast
        if known is None or known.times[0] != run:
            known = self._sensors.forecast = self._world.weather.forecast(run)
        return known


class Strategy(Protocol):
    """A heating strategy under test: called every control step, for every zone."""

    def setpoints(self, now: datetime, seen: Observations) -> dict[str, ZoneCommand]:
        """Each zone's command from now (UTC) until the next call; a zone left out keeps
        its last command."""
        ...


StrategyFactory = Callable[[Site], Strategy]
"""Builds a fresh strategy (no history) for a site: a controller gets the site file's
knowledge, with the agenda its manager entered (``simulate``), and the observations,
never the simulator."""


def zone_levels(site: Site) -> Iterator[tuple[str, ComfortLevels]]:
    """Each zone's key and comfort levels, in site-file order (the world's zone order)."""
    for building in site.buildings:
        for zone in building.zones:
            yield f"{building.id}.{zone.id}", site.comfort_of(zone)


class ZoneAgendas:
    """Each zone's agenda entries near a day, as the engine hands them to its decisions
    (``agenda_for`` on the site's agenda), worked out again when the day changes."""

    def __init__(self, site: Site) -> None:
        self._entries = site.agenda
        self._zones = [(f"{b.id}.{z.id}", b.id, z.id) for b in site.buildings for z in b.zones]
        self._day: date | None = None
        self._of: dict[str, tuple[AgendaEntry, ...]] = {}

    def on(self, today: date) -> dict[str, tuple[AgendaEntry, ...]]:
        """Each zone's entries, by zone key, near ``today``."""
        if today != self._day:
            self._of = {key: agenda_for(self._entries, building, zone, today)
                        for key, building, zone in self._zones}
            self._day = today
        return self._of


class AlwaysComfort:
    """Comfort day and night: no setback, the most energy and the reference for comfort."""

    def __init__(self, site: Site) -> None:
        self._commands = {key: ZoneCommand(HeatingLevel.COMFORT, levels.comfort)
                          for key, levels in zone_levels(site)}

    def setpoints(self, now: datetime, seen: Observations) -> dict[str, ZoneCommand]:
        return self._commands


class FixedProgramme:
    """The programme as a diligent manager sets it, with the usual fixed early start.

    ``controllers.heating.programme_decision`` with public and school holidays from the
    French calendar and the site's agenda (its events and closures): comfort in
    programmed periods and events, the zone's fixed preheat (by default 2 h, 4 h after
    more than 48 h without a period, which covers Mondays and the ends of holidays),
    reduced or frost protection outside. BOPTEST's baseline is the same idea (DOMAIN.md).
    """

    def __init__(self, site: Site) -> None:
        self._tz = site.tz
        self._calendar = FrenchCalendar(site.school_zone, site.alsace_moselle)
        self._agendas = ZoneAgendas(site)
        self._zones = [(f"{b.id}.{z.id}", site.programme_of(b, z), b.use, site.comfort_of(z),
                        site.learning_of(z), PlantClock(b.plant_schedule))
                       for b in site.buildings for z in b.zones]

    def setpoints(self, now: datetime, seen: Observations) -> dict[str, ZoneCommand]:
        local = now.astimezone(self._tz)
        agendas = self._agendas.on(local.date())
        commands = {}
        for key, programme, use, levels, settings, plant in self._zones:
            where = occupation(programme, self._calendar, use, local, agendas[key])
            decision = programme_decision(where, local, levels, settings, plant=plant)
            commands[key] = ZoneCommand(decision.level, decision.setpoint)
        return commands


AS_FOUND_EARLY_START = timedelta(hours=2)
"""How long before the building's first period of the day its clock starts the heating:
the same fixed early start as ``fixed``'s (verify: no survey of clock settings found)."""
AS_FOUND_SETBACK_K = 2.0
"""The setback outside the clock's hours, K below comfort, no deeper than the reduced
level: measured night setbacks are mostly faint or absent (Kocliko's loggers found one
in 5 % of the collective-housing plants whose managers believed 90 % had one, verify)."""


class AsFound:
    """The heating as a small commune's building is found before any management system.

    One clock per building, as its emission circuit has: on each weekday, comfort from
    ``AS_FOUND_EARLY_START`` before the earliest period of any of its zones to the end of
    the latest, the same every week of the season, whatever the school and public
    holidays (a weekly clock knows none; cutting them is a manual job, often forgotten),
    and whatever the agenda (nobody sets the clock for an event or a closure); outside, a
    faint setback (``AS_FOUND_SETBACK_K``) rather than the reduced level, and
    never frost protection, on weekends and holidays alike. Sources and what they say are
    in docs/heating-bench.md.
    """

    def __init__(self, site: Site) -> None:
        self._tz = site.tz
        self._buildings: list[tuple[list[tuple[int, int] | None], list[tuple[str, float, float]]]]
        self._buildings = []
        for building in site.buildings:
            clock: list[tuple[int, int] | None] = []
            for weekday in range(7):
                periods = [p for zone in building.zones
                           for p in site.programme_of(building, zone).periods(weekday)]
                if not periods:
                    clock.append(None)
                    continue
                first = min(p.start.hour * 60 + p.start.minute for p in periods)
                last = max(24 * 60 if p.end is None else p.end.hour * 60 + p.end.minute
                           for p in periods)
                early = round(AS_FOUND_EARLY_START.total_seconds() / 60)
                clock.append((max(0, first - early), last))
            zones = []
            for zone in building.zones:
                levels = site.comfort_of(zone)
                zones.append((f"{building.id}.{zone.id}", levels.comfort,
                              max(levels.reduced, levels.comfort - AS_FOUND_SETBACK_K)))
            self._buildings.append((clock, zones))

    def setpoints(self, now: datetime, seen: Observations) -> dict[str, ZoneCommand]:
        local = now.astimezone(self._tz)
        minute = local.hour * 60 + local.minute
        commands = {}
        for clock, zones in self._buildings:
            hours = clock[local.weekday()]
            on = hours is not None and hours[0] <= minute < hours[1]
            for key, comfort, setback in zones:
                commands[key] = (ZoneCommand(HeatingLevel.COMFORT, comfort) if on
                                 else ZoneCommand(HeatingLevel.REDUCED, setback))
        return commands


class Learned:
    """This project's controller from an empty history: a ``ZoneLearner`` per zone.

    Each control step it feeds every zone what its sensors show (air, outdoor, heating
    signal and setpoint now; the presence detector at every physics step since the last
    call, as an engine polling every few minutes records it), refits each zone at the
    first step after local midnight, as the engine's nightly job does, and asks for the
    decision. A zone
    without a temperature sensor, or a site without an outdoor one, stays on its
    programme, as in the engine; a zone without a presence detector records unknown
    presence, never absence, so it is never learned as seldom used. Pre-heats are planned
    within each building's ``plant_schedule``. The site's agenda (its events and closures)
    is handed to each decision as the engine hands it (``controllers.agenda``: a pre-heat
    toward an event is the learned optimal start).
    """

    zone_type: type[ZoneLearner] = ZoneLearner

    def __init__(self, site: Site) -> None:
        calendar = FrenchCalendar(site.school_zone, site.alsace_moselle)
        self._tz = site.tz
        self._agendas = ZoneAgendas(site)
        self._clocks = {f"{b.id}.{z.id}": PlantClock(b.plant_schedule)
                        for b in site.buildings for z in b.zones}
        self._learners = {
            f"{b.id}.{z.id}": self.zone_type(site.programme_of(b, z), b.use, calendar,
                                          site.comfort_of(z), site.tz,
                                          settings=site.learning_of(z))
            for b in site.buildings for z in b.zones}
        self._refitted: date | None = None
        self.first_preheats: dict[str, datetime] = {}
        """When each zone's first learned pre-heat started (its latched start): how soon
        a cold start learns."""

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
        forecast = seen.outdoor_forecast()
        agendas = self._agendas.on(today)
        commands = {}
        for key, learner in self._learners.items():
            indoor, heating = seen.temperature(key), seen.heating_signal(key)
            presence = seen.presence_since_last(key)
            for moment, present in presence[:-1]:
                learner.record_presence(moment, present)
            learner.observe(now, indoor=indoor, outdoor=outdoor, heating=heating,
                            present=presence[-1][1], setpoint=seen.setpoint(key))
            decision = self.decide(key, learner, now, indoor=indoor, outdoor=outdoor,
                                   present=presence[-1][1], plant=self._clocks[key],
                                   forecast=forecast, agenda=agendas[key])
            if decision.preheat is not None and not decision.preheat.agenda:
                self.first_preheats.setdefault(key, decision.preheat.since)
            commands[key] = ZoneCommand(decision.level, decision.setpoint)
        return commands

    def decide(self, key: str, learner: ZoneLearner, now: datetime, *, indoor: float | None,
               outdoor: float | None, present: bool | None, plant: PlantClock,
               forecast: OutdoorForecast | None, agenda: tuple[AgendaEntry, ...]
               ) -> HeatingDecision:
        """Zone ``key``'s decision now, from what it sees: its learner's (a strategy whose
        commands go through a radio looks further ahead, ``gtb.bench.lorawan``)."""
        return learner.decide(now, indoor=indoor, outdoor=outdoor, present=present,
                              plant=plant, forecast=forecast, agenda=agenda)


CLAIRVOYANT_GAP = timedelta(minutes=30)
"""An absence shorter than this inside a clairvoyant period is no absence: a quarter-hour
controller gains nothing by setting back for it. Fixed: a property of the reference."""


class ClairvoyantZone(ZoneLearner):
    """A ``ZoneLearner`` whose arrival forecast is what its occupants will really do: the
    next time anyone is in the zone, until the zone is empty for ``CLAIRVOYANT_GAP``
    (``Observations.clairvoyance``). Everything else is the learner's own."""

    occupants: Occupants | None = None
    key: str = ""

    def _forecast_at(self, local_now: datetime) -> ArrivalForecast:
        assert self.occupants is not None, "set by Clairvoyant before deciding"
        days = [local_now.date() + timedelta(days=d) for d in range(HORIZON_DAYS)]
        row = np.concatenate([self.occupants.day(self.key, day) for day in days]) > 0
        midnight = datetime.combine(days[0], datetime.min.time(), tzinfo=local_now.tzinfo)

        def at(slot: int) -> datetime:  # wall time: a day's slots are local
            day, within = divmod(slot, SLOTS_PER_DAY)
            return midnight + timedelta(days=day, minutes=within * SLOT_MINUTES)

        now = (local_now.hour * 60 + local_now.minute) // SLOT_MINUTES
        ahead = np.flatnonzero(row[now:])
        reason = Reason.of("forecast.clairvoyant")
        if ahead.size == 0:
            return ArrivalForecast(None, None, 1.0, "learned", 0, reason)
        first = now + int(ahead[0])
        gap = round(CLAIRVOYANT_GAP.total_seconds() / 60 / SLOT_MINUTES)
        last = first
        while last < row.size and row[last:last + gap].any():
            last += 1
        return ArrivalForecast(max(at(first), local_now), at(last), 1.0, "learned", 0, reason)


class Clairvoyant(Learned):
    """A reference, not a controller: ``learned`` told who will really come when
    (``ClairvoyantZone``), with everything else its own (thermal models learnt from an
    empty history, the forecast, the plant). What separates it from ``learned`` is what a
    perfect occupancy forecast would be worth; what separates it from the bound, the
    rest: the thermal model, the thermostats, the control grid, the margins."""

    zone_type = ClairvoyantZone

    def setpoints(self, now: datetime, seen: Observations) -> dict[str, ZoneCommand]:
        for key, learner in self._learners.items():
            assert isinstance(learner, ClairvoyantZone)
            learner.occupants, learner.key = seen.clairvoyance(), key
        return super().setpoints(now, seen)


STRATEGIES: dict[str, StrategyFactory] = {
    "always": AlwaysComfort,
    "as_found": AsFound,
    "fixed": FixedProgramme,
    "learned": Learned,
}
"""Strategies that control from observations; the bench's bound is no strategy
(``gtb.bench.bound``)."""
REFERENCE_STRATEGIES: dict[str, StrategyFactory] = {"clairvoyant": Clairvoyant}
"""Strategies that also know what no controller can (the occupants to come): references
that measure what that knowledge is worth, run only when asked."""


def instants(origin: float, step: float, count: int) -> FloatArray:
    """``count`` epochs ``step`` apart from ``origin``."""
    return np.asarray(origin + step * np.arange(count), dtype=np.float64)



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
        fraction = (np.arange(STEPS_PER_CONTROL) + 0.5) / STEPS_PER_CONTROL
        start, end = self.air[:-1], self.air[1:]
        per = start[:, None, :] + fraction[None, :, None] * (end - start)[:, None, :]
        return per.reshape(-1, self.air.shape[1])


@dataclass(frozen=True)
class Run:
    strategy: str
    seed: int
    heat_kwh: dict[str, float]
    """Heat produced per building over the counted period: delivered to the emitters, and
    a boiler's standby losses while enabled (``_produced_kwh``)."""
    standby_kwh: dict[str, float]
    """Of which standby losses, per building."""
    stored_kwh: dict[str, float]
    """Change of the heat stored in each building's zones over the counted period (air,
    structure, emitters): what a bound on the net heat compares with."""
    trace: Trace
    first_preheats: dict[str, datetime]
    """When each zone's first learned pre-heat started, from the cold start at the
    beginning of the warm-up (the ``learned`` strategy's; empty for the others)."""


def tabulated_world(site: Site, seed: int, begin: datetime, controls: int, *,
                    typical: bool = False) -> VirtualCommune:
    """The virtual commune from ``begin``, stepped every ``PHYSICS_STEP_S``, on weather
    ``seed`` (a typical year, or not) computed once for ``controls`` control steps."""
    weather = _Tabulated(SyntheticWeather(site.latitude, site.longitude, seed, typical=typical),
                         to_epoch(begin), controls * STEPS_PER_CONTROL)
    return VirtualCommune(site, begin, seed=seed, weather=weather, step_s=PHYSICS_STEP_S)


class Harness:
    """A strategy at the controls of a world, as the engine is: asked at each control
    step, and only what changed is written, to the zone's setpoint and, where the zone
    has one, its heating mode; each building's plant follows its zones as the engine
    commands it (``controllers.plant``), whatever the strategy."""

    def __init__(self, site: Site, world: VirtualCommune, strategy: Strategy) -> None:
        self.world = world
        self.strategy = strategy
        self.commands: dict[str, ZoneCommand] = {}
        """The last command written to each zone."""
        self._writable, self._sensors = _writable(site), Sensors(site)
        self._tz, self._settings = site.tz, site.learning
        self._plants = [
            (f"{b.id}.{p.id}", [(f"{b.id}.{z.id}", z.name, frost_floor(site, z))
                                for z in b.zones], PlantSwitch(),
             PlantClock(b.plant_schedule),
             next((f"{b.id}.{q.id}" for q in b.points if q.role is Role.PLANT_AVAILABLE), None))
            for b in site.buildings for p in b.points if p.role is Role.PLANT_ENABLE]

    def control(self, now: datetime) -> None:
        """Ask the strategy at ``now`` and write what changed."""
        seen = self.observe(now)
        for key, command in self.strategy.setpoints(now, seen).items():
            if self.commands.get(key) == command:
                continue
            self.commands[key] = command
            self.write(key, command, now)
        self._command_plants(seen)

    def observe(self, now: datetime) -> Observations:
        """What the strategy sees at ``now``: the site's points as the world serves them
        (a harness whose devices answer otherwise, through a radio, says so here)."""
        return Observations(self.world, self._sensors, now)

    def write(self, zone_key: str, command: ZoneCommand, now: datetime) -> None:
        """A zone's new command, at once, as BACnet or Modbus takes it: its setpoint and,
        where the zone has one, its heating mode."""
        setpoint_key, mode_key = self._writable[zone_key]
        self.world.write(setpoint_key, command.setpoint)
        if mode_key is not None:
            self.world.write(mode_key, MODE_OF_LEVEL[command.level])

    def advance_to(self, until: datetime) -> None:
        """Run the world to ``until``, the next control step."""
        self.world.advance_to(until)

    def _command_plants(self, seen: Observations) -> None:
        """Each plant on while a zone of its building needs heat or frost protection, off
        otherwise and outside its own schedule, with the engine's minimum times (the
        control step, 15 min, is longer than the defaults)."""
        local_now = seen.now.astimezone(self._tz)
        for plant, zones, switch, schedule, available_key in self._plants:
            needs = []
            for key, name, floor in zones:
                command = self.commands.get(key)
                if command is None:
                    continue  # never commanded yet: the building's own comfort
                needs.append(ZoneNeed(name, command.level, command.setpoint,
                                      seen.temperature(key), floor))
            was_on = self.world.read(plant) >= 0.5
            clock = schedule if available_key is None else PlantClock(
                schedule.schedule, self.world.read(available_key) >= 0.5)
            available = clock.first_available(local_now, local_now) == local_now
            on = switch.decide(needs, was_on, seen.now, available=available,
                               settings=self._settings).on
            if on != was_on:
                self.world.write(plant, 1.0 if on else 0.0)


HarnessFactory = Callable[[Site, VirtualCommune, Strategy], Harness]
"""Puts a strategy at the controls of a world: ``Harness`` itself, or one whose commands
and readings go otherwise (``gtb.bench.lorawan``: through a LoRaWAN radio)."""


def simulate(site: Site, strategy: str, seed: int, start: datetime, end: datetime,
             warm_up: timedelta = WARM_UP, *, harness: HarnessFactory = Harness,
             factory: StrategyFactory | None = None) -> Run:
    """One strategy over [start, end) after ``warm_up``, on weather and occupants ``seed``:
    the strategy named ``strategy`` in ``STRATEGIES`` or ``REFERENCE_STRATEGIES``, given
    the site with the agenda its manager would have entered for the run
    (``Occupants.agenda``: the booked events, the council meetings and the closures), as
    an engine has it; ``fixed``, ``learned`` and ``clairvoyant`` follow it, ``always``
    and ``as_found`` know no agenda. ``harness`` puts it at the controls (by default
    commands reach the world at once, as BACnet and Modbus take them); ``factory``, when
    given, builds the strategy instead, the run keeping the name ``strategy``."""
    begin = (start - warm_up).astimezone(UTC)
    controls = round((to_epoch(end) - to_epoch(begin)) / CONTROL_STEP_S)
    world = tabulated_world(site, seed, begin, controls)
    counted_from = round(warm_up.total_seconds() / CONTROL_STEP_S)
    entered = world.occupants.agenda(begin.astimezone(site.tz).date(),
                                     end.astimezone(site.tz).date())
    chosen = (factory or (STRATEGIES | REFERENCE_STRATEGIES)[strategy])(
        site.model_copy(update={"agenda": (*site.agenda, *entered)}))
    at_controls = harness(site, world, chosen)
    zones = len(world.zone_keys)
    air = np.empty((controls + 1, zones))
    setpoints = np.empty((controls, zones))
    air[0] = world.network.air[:zones]
    metered = dict.fromkeys((b.id for b in site.buildings), 0.0)
    standby, stored = dict(metered), dict(metered)
    for c in range(controls):
        if c == counted_from:
            metered = {b: _produced_kwh(world, b) for b in metered}
            standby = {b: world.building_state(b).standby_kwh for b in metered}
            stored = {b: _stored_kwh(world, b) for b in metered}
        now = begin + timedelta(seconds=c * CONTROL_STEP_S)
        at_controls.control(now)
        setpoints[c] = world.setpoint
        at_controls.advance_to(now + timedelta(seconds=CONTROL_STEP_S))
        air[c + 1] = world.network.air[:zones]
    origin = to_epoch(begin)
    starts = instants(origin, PHYSICS_STEP_S, controls * STEPS_PER_CONTROL)
    trace = Trace(origin, counted_from * STEPS_PER_CONTROL, air, setpoints,
                  world.occupants.counts(starts),
                  world.weather.sample(starts + PHYSICS_STEP_S / 2)[0])
    heat = {b: _produced_kwh(world, b) - before for b, before in metered.items()}
    return Run(strategy, seed, heat,
               {b: world.building_state(b).standby_kwh - before for b, before in standby.items()},
               {b: _stored_kwh(world, b) - before for b, before in stored.items()}, trace,
               dict(chosen.first_preheats) if isinstance(chosen, Learned) else {})


def _produced_kwh(world: VirtualCommune, building: str) -> float:
    """Heat the building's plant produced: delivered to the emitters (its heating meter)
    and lost on standby while enabled and idle (a boiler's)."""
    state = world.building_state(building)
    return state.heat_kwh + state.standby_kwh


def _stored_kwh(world: VirtualCommune, building: str) -> float:
    """Heat stored in the building's zones since the world began."""
    return world.energy_account(building).stored_change / J_PER_KWH


class _Tabulated(Weather):
    """A weather computed once every half physics step of a run: at the middle of each
    step, where the world's physics samples it, and at its start, where the outdoor
    sensor is read at each control step; other instants (the world looks a day ahead,
    past the run's end) are asked of the weather itself. Same values, a tenth of the
    cost of the season's weather lookups."""

    def __init__(self, weather: Weather, origin: float, steps: int) -> None:
        self._weather, self._origin = weather, origin
        self._table = weather.sample(instants(origin, PHYSICS_STEP_S / 2, 2 * steps))

    def sample(self, epoch_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        where = (np.asarray(epoch_s) - self._origin) / (PHYSICS_STEP_S / 2)
        index = np.rint(where).astype(np.int64)
        tabulated = (np.abs(where - index) < 1e-6) & (index >= 0) & (index < len(self._table[0]))
        if tabulated.all():
            return self._table[0][index], self._table[1][index]
        outdoor, solar = self._weather.sample(epoch_s)
        at = np.clip(index, 0, len(self._table[0]) - 1)
        return (np.where(tabulated, self._table[0][at], outdoor),
                np.where(tabulated, self._table[1][at], solar))

    def forecast(self, issued: datetime, hours: int = 48,
                 step: timedelta = timedelta(hours=1)) -> OutdoorForecast:
        return self._weather.forecast(issued, hours, step)


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


def restrict(site: Site, buildings: Sequence[str] | None) -> Site:
    """The site with only these buildings (all when None): for short tests."""
    if buildings is None:
        return site
    unknown = set(buildings) - {b.id for b in site.buildings}
    if unknown:
        raise KeyError(f"no building {sorted(unknown)} in site {site.id}")
    return site.model_copy(update={"buildings": tuple(
        b for b in site.buildings if b.id in buildings)})


