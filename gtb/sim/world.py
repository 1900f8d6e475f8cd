"""The virtual commune: the physics of every building and lighting cabinet of a site.

``VirtualCommune`` answers for every point of a site file by its dotted key, as the
devices would: zone temperatures, valves, presence, CO2, cumulative meters, the outdoor
temperature; and takes what the engine writes: setpoints, heating modes, plant enables,
lighting relays, dimming levels. Between writes it runs the physics in whole steps:
weather (``weather``), occupants (``occupants``), and the zones' thermal networks with
their thermostats and plants (``thermal``), all zones at once.

Before any engine writes, a building does what it would on its own: setpoints at the
zone's comfort level, plants on, heating mode comfort, lights and cabinets off, dimming
at 100 %. A building's emission pump runs by its own clock (``plant_schedule``), which
nothing writes: outside it no heat reaches the building's emitters.

Meters count energy, in kWh:
- ``heating``: heat delivered by the plant to the emitters (for a boiler, the gas burnt
  is heat / efficiency and is what a ``gas`` meter counts);
- ``electricity``: lighting, equipment of the occupants, a base load (pumps, controls,
  standby) and a heat pump's compressor;
- ``lighting``: the lighting circuits, or a cabinet's lamps.
Floor areas not covered by a zone (corridors, stairs, toilets) are simulated as a hidden
zone per building, heated by the same plant at the average target of the zones.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from gtb.model import Building, Programme, Site, Zone
from gtb.model.points import ROLES, Role
from gtb.sim.occupants import TRAITS, Occupants, Traits, local_time, zone_simulation
from gtb.sim.river import RiverLevel, is_river
from gtb.sim.thermal import (
    AIR_HEAT_CAPACITY,
    ENVELOPES,
    GEOMETRY,
    EnergyAccount,
    FloatArray,
    Plant,
    StepInputs,
    ThermalNetwork,
    Thermostat,
    ZoneThermal,
    share_plant,
)
from gtb.sim.weather import SyntheticWeather, Weather, to_epoch

OUTDOOR_CO2 = 420.0  # ppm
BASE_LOAD_W_M2 = 1.5  # W per m² of floor, day and night: pumps, controls, standby, fridges
PRESENCE_HOLD_S = 600.0  # a presence detector stays on 10 minutes after the last motion
J_PER_KWH = 3.6e6
_CHUNK_S = 86_400.0  # weather and occupants are prepared a day of steps at a time
_NOBODY = Traits(0.0, 0.0, 0.0)
_HELD_IN = {
    Role.HEATING_SETPOINT: "setpoint", Role.HEATING_MODE: "mode", Role.CO2: "co2",
    Role.LIGHTING_RELAY: "lighting", Role.PLANT_ENABLE: "plant_enabled",
    Role.CABINET_RELAY: "cabinet_on", Role.DIMMING_LEVEL: "dimming",
    Role.EQUIPMENT_RELAY: "equipment_on", Role.MEASUREMENT: "measurement",
}
"""The attribute holding each role's present values, by the point's index (what the
engine writes, and the CO2)."""


def command_refusal(key: str, role: Role, bounds: tuple[float, float],
                    value: float) -> str | None:
    """Why a command point cannot take ``value``, or None: not writable, not a finite
    number within the point's physical range, or a fraction for a binary or a state. The
    virtual commune's physics and its devices refuse the same values, so that a device
    answers a client with an error where the physics could not follow."""
    info = ROLES[role]
    if not info.writable:
        return f"point {key!r} ({role}) cannot be written"
    value = float(value)
    low, high = bounds
    if not (math.isfinite(value) and low <= value <= high):
        return f"point {key!r}: {value} is outside [{low}, {high}]"
    if info.kind != "analog" and value != round(value):
        return f"point {key!r}: a {info.kind} value is whole, not {value}"
    return None


@dataclass(frozen=True)
class ZoneState:
    """The truth about a zone, for tests and benchmarks (not through points)."""

    key: str
    air_temperature: float
    structure_temperature: float
    emitter_temperature: float
    occupants: int
    presence: bool
    co2: float
    valve: float
    """0 to 1."""
    heat_w: float
    target: float | None
    """Temperature the thermostat aims at (after the heating mode), None when off."""
    lighting_on: bool


@dataclass(frozen=True)
class BuildingState:
    id: str
    heat_kwh: float
    fuel_kwh: float
    electricity_kwh: float
    lighting_kwh: float
    heat_w: float
    plant_enabled: bool
    standby_kwh: float = 0.0
    """Heat the plant lost while enabled, beyond what it delivered (a boiler's standby
    losses, ``gtb.sim.thermal.STANDBY_LOSS``): in the fuel, not in the heating meter."""


@dataclass(frozen=True)
class Drive:
    """What drives the zones over a run of physics steps (``VirtualCommune.drive``)."""

    people: FloatArray
    """(steps, zones) headcount, hidden zones empty."""
    lights: FloatArray
    """(zones,) W of the lighting circuits on."""
    inputs: StepInputs
    running: NDArray[np.bool_]
    """(steps, buildings) each building's emission pump runs (its own clock)."""
    capacity: FloatArray
    """(steps, buildings) W each plant can deliver, 0 while its pump is stopped."""


class _Ahead(NamedTuple):
    """What drives the zones over a run of physics steps whatever they are told: the
    weather, the occupants and the pumps' clocks (``VirtualCommune._ahead``)."""

    starts: FloatArray
    outdoor: FloatArray
    solar: FloatArray
    people: FloatArray
    running: NDArray[np.bool_]
    capacity: FloatArray


@dataclass(frozen=True)
class _Entry:
    """A simulated zone: one of the site file, or the rest of a building's floor area."""

    building: int
    owner: Building
    zone: Zone | None
    area: float
    profile: str

    @property
    def traits(self) -> Traits:
        return TRAITS.get(self.profile, _NOBODY)

    @property
    def lighting_w(self) -> float:
        return 0.0 if self.zone is None else zone_simulation(self.owner, self.zone).lighting_w

    def thermal(self) -> ZoneThermal:
        sim = self.owner.simulation
        emitter = "radiator" if self.zone is None else zone_simulation(
            self.owner, self.zone).emitter
        return ZoneThermal.build(
            self.area, self.profile, sim.envelope if sim else "from_1975",
            sim.inertia if sim else "medium", bool(sim and sim.plant == "heat_pump"), emitter,
        )


def _weekly_minutes(programme: Programme) -> NDArray[np.bool_]:
    """A weekly programme as (weekday, minute of the wall-clock day): in a period."""
    on = np.zeros((7, 1440), dtype=bool)
    for weekday in range(7):
        for period in programme.periods(weekday):
            end = 1440 if period.end is None else period.end.hour * 60 + period.end.minute
            on[weekday, period.start.hour * 60 + period.start.minute : end] = True
    return on


def _entries(site: Site) -> list[_Entry]:
    """The site's zones in file order, then one hidden zone per building if needed."""
    real = [_Entry(b, building, zone, zone.area_m2, zone_simulation(building, zone).profile)
            for b, building in enumerate(site.buildings) for zone in building.zones]
    hidden = []
    for b, building in enumerate(site.buildings):
        rest = building.floor_area_m2 - sum(z.area_m2 for z in building.zones)
        if rest > 1.0:
            hidden.append(_Entry(b, building, None, rest, "circulation"))
    return real + hidden


@dataclass(frozen=True)
class _PointSlot:
    role: Role
    index: int  # zone, building or cabinet index, by where the point stands
    meter: str | None
    where: str  # "zone", "building", "cabinet", "equipment" or "measurement"
    bounds: tuple[float, float]


class VirtualCommune:
    """Every zone, plant and cabinet of a site, stepped in whole steps of ``step_s``."""

    def __init__(self, site: Site, start: datetime, seed: int = 0,
                 weather: Weather | None = None, step_s: float = 60.0) -> None:
        if step_s <= 0:
            raise ValueError(f"step_s must be positive, not {step_s}")
        self.site = site
        self.step_s = float(step_s)
        self._epoch = to_epoch(start)
        self.weather = weather or SyntheticWeather(site.latitude, site.longitude, seed)
        self.occupants = Occupants(site, seed)
        self._instant: dict[str, FloatArray] = {}  # presence and outdoor, at ``now``
        self._known_ahead: _Ahead | None = None  # the steps to come (``_next_steps``)
        entries = _entries(site)
        self._real = sum(e.zone is not None for e in entries)
        self._entry_keys = [f"{e.owner.id}.{e.zone.id if e.zone else '*'}" for e in entries]
        self.zone_keys = self.occupants.zone_keys
        self._zone_index = {key: i for i, key in enumerate(self.zone_keys)}
        self._building = np.array([e.building for e in entries], dtype=np.int64)
        self._membership = (self._building[None, :] == np.arange(len(site.buildings))[
            :, None]).astype(np.float64)
        zones = [e.thermal() for e in entries]
        self._area = np.array([z.area_m2 for z in zones])
        self._volume = np.array([z.volume_m3 for z in zones])
        self._emitter_w = np.array([z.emitter_w for z in zones])
        self._aperture = np.array([z.solar_aperture_m2 for z in zones])
        self._leak_m3s = self._volume / 3600.0 * np.array([
            ENVELOPES[e.owner.simulation.envelope if e.owner.simulation else "from_1975"]
            .air_changes * GEOMETRY[e.profile].air_changes_factor for e in entries])
        self._sensible = np.array([e.traits.sensible_w for e in entries])
        self._co2_m3s = np.array([e.traits.co2_lph / 3.6e6 for e in entries])
        self._fresh_m3s = np.array([e.traits.fresh_air_m3h / 3600.0 for e in entries])
        self._unrecovered = 1.0 - np.array([
            e.owner.simulation.heat_recovery if e.owner.simulation else 0.0 for e in entries])
        # The emission pumps' own clocks (``plant_schedule``): no heat reaches a
        # building's emitters outside it, whatever its plant is told.
        self._pump_clock = [None if b.plant_schedule is None
                            else _weekly_minutes(b.plant_schedule) for b in site.buildings]
        self._equipment_w = np.array([e.traits.equipment_w for e in entries])
        self._lighting_w = np.array([e.lighting_w for e in entries])
        comfort = [site.comfort_of(e.zone) for e in entries if e.zone is not None]
        self._frost = np.array([c.frost_protection for c in comfort])
        # What the engine writes, at what the building does on its own.
        self.setpoint = np.array([c.comfort for c in comfort])
        self.mode = np.ones(self._real, dtype=np.int64)
        self.lighting = np.zeros(len(entries), dtype=bool)
        self.plant_enabled = np.ones(len(site.buildings), dtype=bool)
        self.cabinet_on = np.zeros(len(site.cabinets), dtype=bool)
        self.dimming = np.full(len(site.cabinets), 100.0)
        self.equipment_on = np.zeros(len(site.equipment), dtype=bool)
        # Measurements hold the middle of their range until a test or a scenario sets
        # them (``set_measurement``), but for a river's level, which a seeded scenario
        # plays (``gtb.sim.river``), by the index of the point among the measurements.
        measured = [ref for ref in site.points() if ref.role is Role.MEASUREMENT]
        self.measurement = np.array([sum(ref.point.physical_range) / 2 for ref in measured])
        self.rivers = {
            index: RiverLevel(ref.point.watch, ref.point.physical_range, f"{seed}:{ref.key}")
            for index, ref in enumerate(measured)
            if ref.point.watch is not None and is_river(ref.point.si_unit, ref.point.watch)}
        """The measurements a river's level plays, by their index."""
        # The physics.
        initial = np.concatenate([self.setpoint, np.full(len(entries) - self._real,
                                                         self.setpoint.mean())])
        self.network = ThermalNetwork(zones, self.step_s, initial)
        self.thermostat = Thermostat(len(entries))
        self._stuck = np.full(len(entries), np.nan)  # valves held by a fault (NaN: free)
        self._window_m3s = np.zeros(len(entries))  # air through windows left open
        self.meter_index: dict[str, float] = {}
        """kWh an energy meter already showed when the simulation began, by point key:
        installed meters do not start at zero. Added to what each counts."""
        self.plants = [
            Plant.sized(b.simulation.plant if b.simulation else "boiler",
                        sum(z.design_load_w for z, e in zip(zones, entries, strict=True)
                            if e.owner is b),
                        b.simulation.plant_kw if b.simulation else None)
            for b in site.buildings
        ]
        self._heat_pump = np.array([p.kind == "heat_pump" for p in self.plants])
        self._standby_j = np.zeros(len(site.buildings))  # an enabled boiler's idle losses
        self._standby_w = np.zeros(len(site.buildings))
        self.co2 = np.full(len(entries), OUTDOOR_CO2)
        self._occupancy = np.zeros(len(entries), dtype=np.int64)
        self._heat_w = np.zeros(len(entries))
        self._heat_j = np.zeros(len(entries))
        self._lighting_j = np.zeros(len(entries))
        self._other_j = np.zeros(len(entries))  # equipment and base load
        self._compressor_j = np.zeros(len(entries))  # heat pump power, by the zone heated
        self._cabinet_kw = np.array([c.power_kw for c in site.cabinets])
        self._cabinet_j = np.zeros(len(site.cabinets))
        self._points = self._slots()

    def _slots(self) -> dict[str, _PointSlot]:
        buildings = {b.id: i for i, b in enumerate(self.site.buildings)}
        cabinets = {c.id: i for i, c in enumerate(self.site.cabinets)}
        equipment = {e.id: i for i, e in enumerate(self.site.equipment)}
        measurements = itertools.count()
        slots = {}
        for ref in self.site.points():
            if ref.role is Role.MEASUREMENT:
                where, index = "measurement", next(measurements)
            elif ref.equipment is not None:
                where, index = "equipment", equipment[ref.equipment.id]
            elif ref.zone is not None and ref.building is not None:
                where, index = "zone", self._zone_index[f"{ref.building.id}.{ref.zone.id}"]
            elif ref.building is not None:
                where, index = "building", buildings[ref.building.id]
            else:
                assert ref.cabinet is not None
                where, index = "cabinet", cabinets[ref.cabinet.id]
            slots[ref.key] = _PointSlot(ref.role, index, ref.point.meter, where,
                                        ref.point.physical_range)
        return slots

    # -- time --

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self._epoch, UTC)

    def advance_to(self, t: datetime) -> None:
        """Run whole steps up to ``t``; a remainder shorter than a step waits."""
        steps = math.floor((to_epoch(t) - self._epoch) / self.step_s + 1e-9)
        per_chunk = max(1, int(_CHUNK_S // self.step_s))
        while steps > 0:
            chunk = min(steps, per_chunk)
            self._run(chunk)
            steps -= chunk

    def _targets(self) -> tuple[FloatArray, NDArray[np.bool_]]:
        """Thermostat targets of every zone (hidden ones follow their building)."""
        enabled = self.mode != 4
        target = np.where(self.mode == 3, self._frost, self.setpoint)
        weights = self._area[: self._real] * enabled
        real = self._membership[:, : self._real]
        total, weighted = real @ weights, real @ (weights * target)
        hidden = self._building[self._real :]
        return (np.concatenate([target, weighted[hidden] / np.maximum(total[hidden], 1e-9)]),
                np.concatenate([enabled, total[hidden] > 0]))

    def drive(self, starts: FloatArray) -> Drive:
        """What drives the zones over the physics steps beginning at ``starts``, known
        before they run: the weather, the occupants, the lights as they are now, and what
        each building's plant can deliver (its pump's clock included, its ``plant_enable``
        aside). The world's own steps and a bound over its physics take the same."""
        return self._drive(self._ahead(starts))

    def _ahead(self, starts: FloatArray) -> _Ahead:
        """What drives the zones over these steps whatever they are told."""
        outdoor, solar = self.weather.sample(starts + self.step_s / 2)
        people = np.zeros((len(starts), len(self._area)))
        people[:, : self._real] = self.occupants.counts(starts)
        running = self.pumps_running(starts)
        capacity = np.stack([p.capacity(outdoor) for p in self.plants], axis=1) * running
        return _Ahead(starts, outdoor, solar, people, running, capacity)

    def _next_steps(self, steps: int) -> _Ahead:
        """``_ahead`` the next ``steps`` steps, sliced from a day of steps worked out at
        once: a harness steps the world a control step at a time, and each batch costs
        the same dozen array operations whatever its length."""
        starts = self._epoch + self.step_s * np.arange(steps, dtype=np.float64)
        known = self._known_ahead
        if known is not None:
            first = int(np.searchsorted(known.starts, starts[0]))
            part = _Ahead._make(values[first : first + steps] for values in known)
            if np.array_equal(part.starts, starts):
                return part
        day = max(steps, int(_CHUNK_S // self.step_s))
        self._known_ahead = self._ahead(
            self._epoch + self.step_s * np.arange(day, dtype=np.float64))
        return _Ahead._make(values[:steps] for values in self._known_ahead)

    def _drive(self, ahead: _Ahead) -> Drive:
        """The drive of the steps ``ahead``, with the lights as they are now."""
        outdoor, solar, people = ahead.outdoor, ahead.solar, ahead.people
        lights = self._lighting_w * self.lighting
        internal = people * (self._sensible + self._equipment_w) + (
            lights + BASE_LOAD_W_M2 * self._area)
        sun = solar[:, None] * self._aperture
        # A double-flow unit gives back part of the occupants' fresh air's heat (its own
        # coil is not modelled: the zones' emitters make up the rest).
        ventilated = people * self._fresh_m3s * self._unrecovered + self._window_m3s
        inputs = StepInputs(outdoor, 0.5 * internal + 0.2 * sun, 0.5 * internal + 0.8 * sun,
                            AIR_HEAT_CAPACITY * ventilated)
        return Drive(people, lights, inputs, ahead.running, ahead.capacity)

    def _run(self, steps: int) -> None:
        dt = self.step_s
        drive = self._drive(self._next_steps(steps))
        people, lights, inputs = drive.people, drive.lights, drive.inputs
        outdoor = inputs.outdoor
        fresh = people * self._fresh_m3s + self._window_m3s
        target, on = self._targets()
        enabled = on.astype(np.float64)
        delivering = self.plant_enabled & drive.running  # (steps, buildings)
        available = delivering[:, self._building]
        emitter = self._emitter_w * available
        capacity = drive.capacity * self.plant_enabled
        thermostat, membership = self.thermostat, self._membership
        free = np.isnan(self._stuck)
        stuck = np.where(free, 0.0, self._stuck)

        def controller(air: FloatArray, k: int) -> FloatArray:
            valve = thermostat.update(air, target, enabled, available[k], dt)
            if not free.all():
                valve = np.where(free, valve, stuck)
            return share_plant(valve * emitter[k], membership, capacity[k])

        heat = self.network.run(inputs, controller)
        produced = heat @ self._membership.T  # (steps, buildings)
        standby = self.plant_enabled * np.stack(
            [p.standby_w(produced[:, b]) for b, p in enumerate(self.plants)], axis=1)
        self._standby_j += standby.sum(axis=0) * dt
        self._standby_w = standby[-1]
        inverse_cop = np.stack([1.0 / p.cop(outdoor) if p.kind == "heat_pump"
                                else np.zeros(steps) for p in self.plants], axis=1)
        self._heat_j += heat.sum(axis=0) * dt
        self._compressor_j += (heat * inverse_cop[:, self._building]).sum(axis=0) * dt
        self._other_j += ((people * self._equipment_w).sum(axis=0)
                          + BASE_LOAD_W_M2 * self._area * steps) * dt
        self._lighting_j += lights * dt * steps
        self._cabinet_j += self._cabinet_power_w() * dt * steps
        self._heat_w = heat[-1]
        self._occupancy = people[-1].astype(np.int64)
        self._co2_run(people, fresh)
        self._epoch += dt * steps
        self._instant.clear()

    def pumps_running(self, epoch_s: FloatArray) -> NDArray[np.bool_]:
        """(instants, buildings): each building's emission pump runs by its own clock
        (``plant_schedule``; always without one). No heat reaches a building's emitters
        while its pump is stopped: a bound over this world's physics must hold to it."""
        running = np.ones((len(epoch_s), len(self.site.buildings)), dtype=bool)
        if any(clock is not None for clock in self._pump_clock):
            days, seconds = local_time(epoch_s, self.site.tz)
            weekday, minute = (days - 1) % 7, (seconds // 60).astype(np.int64)
            for b, clock in enumerate(self._pump_clock):
                if clock is not None:
                    running[:, b] = clock[weekday, minute]
        return running

    def _co2_run(self, people: FloatArray, fresh: FloatArray) -> None:
        """CO2 mass balance, exact over each step: only its value at the end is kept."""
        flow = self._leak_m3s + fresh
        balance = OUTDOOR_CO2 + 1e6 * people * self._co2_m3s / flow
        decay = np.exp(-flow * self.step_s / self._volume)
        after = np.cumprod(decay[::-1], axis=0)[::-1]  # product of decays from step k on
        later = np.vstack([after[1:], np.ones((1, len(self.co2)))])
        self.co2 = self.co2 * after[0] + ((1.0 - decay) * balance * later).sum(axis=0)

    # -- faults and continuity --

    def stick_valve(self, zone_key: str, opening: float | None) -> None:
        """A valve stuck at ``opening`` (0 to 1) whatever its thermostat asks, or free
        again (None). The valve point still shows what the thermostat asks: a stuck valve
        does not say so; the zone's temperature and the heating meter do."""
        if opening is not None and not 0.0 <= opening <= 1.0:
            raise ValueError(f"a valve opens from 0 to 1, not {opening}")
        i = self._zone_index.get(zone_key)
        if i is None:
            raise KeyError(f"no zone {zone_key!r} in site {self.site.id}")
        self._stuck[i] = np.nan if opening is None else opening

    def open_windows(self, zone_key: str, air_changes: float) -> None:
        """Windows left open in a zone: ``air_changes`` more volumes of outdoor air an
        hour (0: shut again), a loss at the zone's temperature and fresh air for its CO2."""
        if not 0.0 <= air_changes <= 20.0:
            raise ValueError(f"air changes per hour from 0 to 20, not {air_changes}")
        i = self._zone_index.get(zone_key)
        if i is None:
            raise KeyError(f"no zone {zone_key!r} in site {self.site.id}")
        self._window_m3s[i] = self._volume[i] * air_changes / 3600.0

    def carry_on_from(self, other: VirtualCommune) -> None:
        """Continue the physics of ``other``, a world of this site or of some of its
        buildings (at any step): the temperatures of their zones, structures and emitters,
        the thermostats, the CO2 and what every meter has counted. Commands stay this
        world's until written."""
        mine = {key: i for i, key in enumerate(self._entry_keys)}
        pairs = [(mine[key], j) for j, key in enumerate(other._entry_keys) if key in mine]
        if len(pairs) != len(other._entry_keys):
            raise ValueError(f"the other world simulates zones that site {self.site.id} lacks")
        to, of = (np.array(side, dtype=np.int64) for side in zip(*pairs, strict=True))
        n, m = len(self._entry_keys), len(other._entry_keys)
        state = self.network.state.copy()
        for part in range(3):  # air, structure, emitter
            state[part * n + to] = other.network.state[part * m + of]
        self.network.carry_on(state)
        self.thermostat.integral[to] = other.thermostat.integral[of]
        self.thermostat.valve[to] = other.thermostat.valve[of]
        self.co2[to] = other.co2[of]
        for counted in ("_heat_j", "_lighting_j", "_other_j", "_compressor_j"):
            getattr(self, counted)[to] = getattr(other, counted)[of]
        buildings = {b.id: i for i, b in enumerate(self.site.buildings)}
        for j, building in enumerate(other.site.buildings):
            self._standby_j[buildings[building.id]] = other._standby_j[j]
        cabinets = {c.id: i for i, c in enumerate(self.site.cabinets)}
        for j, cabinet in enumerate(other.site.cabinets):
            self._cabinet_j[cabinets[cabinet.id]] = other._cabinet_j[j]
        self.meter_index.update(other.meter_index)
        self._instant.clear()

    def take_up(self, readings: Mapping[str, float]) -> None:
        """Take up from what was last read of a world of this site that is no longer at
        hand (the demo's store, when it starts again): each zone's air, structure and
        emitters at the temperature read, each meter at the index read, each command as
        its device held it (the engine's last write, not the building's own default).
        Points the readings lack stay this world's; a command its point would refuse
        (out of range, since the site file changed) too."""
        state = self.network.state.copy()
        n = self.network.size
        for key, value in readings.items():
            slot = self._slot(key)
            if slot.role is Role.ZONE_TEMPERATURE and slot.where == "zone":
                state[[slot.index, n + slot.index, 2 * n + slot.index]] = value
            elif slot.role is Role.ENERGY_METER:
                self.meter_index[key] = self.meter_index.get(key, 0.0) + value - self.read(key)
            elif ROLES[slot.role].writable and self.refusal(key, value) is None:
                self.write(key, value)
        self.network.carry_on(state)
        self._instant.clear()

    # -- what sensors see now --

    def _cabinet_power_w(self) -> FloatArray:
        return np.asarray(self._cabinet_kw * 1000.0 * self.cabinet_on * self.dimming / 100.0)

    def _presence(self) -> FloatArray:
        """What each zone's detector says: someone there within the hold time."""
        if "presence" not in self._instant:
            lags = np.arange(0.0, PRESENCE_HOLD_S + 1.0, 300.0)
            counts = self.occupants.counts(self._epoch - lags)
            self._instant["presence"] = np.asarray((counts > 0).any(axis=0), dtype=np.float64)
        return self._instant["presence"]

    def _pumps_now(self) -> FloatArray:
        if "pumps" not in self._instant:
            self._instant["pumps"] = self.pumps_running(np.array([self._epoch]))[0].astype(
                np.float64)
        return self._instant["pumps"]

    def _outdoor(self) -> float:
        if "outdoor" not in self._instant:
            self._instant["outdoor"] = self.weather.sample(np.array([self._epoch]))[0]
        return float(self._instant["outdoor"][0])

    def _metered(self, slot: _PointSlot) -> tuple[float, float]:
        """Energy (J) and power (W) of what a meter or power point measures."""
        if slot.where == "cabinet":
            if slot.meter not in ("lighting", "electricity"):
                return 0.0, 0.0
            return float(self._cabinet_j[slot.index]), float(self._cabinet_power_w()[slot.index])
        zones = (np.array([slot.index]) if slot.where == "zone"
                 else np.flatnonzero(self._building == slot.index))
        heat = self._heat_w[zones]
        if slot.meter == "heating":
            return float(self._heat_j[zones].sum()), float(heat.sum())
        if slot.meter == "gas":
            fuel = np.array([self.plants[b].fuel_w(1.0) for b in self._building[zones]])
            energy, power = (self._heat_j[zones] * fuel).sum(), (heat * fuel).sum()
            if slot.where == "building":  # the boiler's standby losses burn gas too
                boiler = self.plants[slot.index]
                energy += boiler.fuel_w(float(self._standby_j[slot.index]))
                power += boiler.fuel_w(float(self._standby_w[slot.index]))
            return float(energy), float(power)
        lighting = self._lighting_w[zones] * self.lighting[zones]
        if slot.meter == "lighting":
            return float(self._lighting_j[zones].sum()), float(lighting.sum())
        if slot.meter == "electricity":
            cop = np.array([float(p.cop(self._outdoor())) for p in self.plants])
            compressor = heat * self._heat_pump[self._building[zones]] / cop[
                self._building[zones]]
            other = (BASE_LOAD_W_M2 * self._area[zones]
                     + self._occupancy[zones] * self._equipment_w[zones])
            energy = self._lighting_j[zones] + self._other_j[zones] + self._compressor_j[zones]
            return float(energy.sum()), float((lighting + other + compressor).sum())
        return 0.0, 0.0  # water is not simulated

    # -- points --

    def read(self, key: str) -> float:
        """A point's present value in SI units (bool 0/1, multistate 1..4, meters kWh)."""
        slot = self._slot(key)
        role, i = slot.role, slot.index
        if role in (Role.ENERGY_METER, Role.POWER):
            joules, watts = self._metered(slot)
            if role is Role.POWER:
                return watts / 1000.0
            return joules / J_PER_KWH + self.meter_index.get(key, 0.0)
        if role is Role.OUTDOOR_TEMPERATURE:
            return self._outdoor()
        if role is Role.OCCUPANCY:
            return float(self._presence()[i])
        if role is Role.ZONE_TEMPERATURE:
            return float(self.network.air[i])
        if role is Role.VALVE:
            return 100.0 * float(self.thermostat.valve[i])
        if role is Role.FAN_SPEED:  # a fan coil's fan stops without hot water
            return 100.0 * float(self.thermostat.valve[i] * self._pumps_now()[self._building[i]]
                                 * self.plant_enabled[self._building[i]])
        if role is Role.EMITTER_POWER:
            return 100.0 * float(self._heat_w[i] / self._emitter_w[i])
        if role is Role.PLANT_AVAILABLE:
            return float(self._pumps_now()[i])
        if role is Role.MEASUREMENT and i in self.rivers:
            return self.rivers[i].level(self._epoch)
        return float(getattr(self, _HELD_IN[role])[i])

    def write(self, key: str, value: float) -> None:
        """Take a command; ``ValueError`` naming the key if it cannot be written so."""
        slot = self._slot(key)
        refused = command_refusal(key, slot.role, slot.bounds, value)
        if refused is not None:
            raise ValueError(refused)
        getattr(self, _HELD_IN[slot.role])[slot.index] = float(value)

    def refusal(self, key: str, value: float) -> str | None:
        """Why ``write`` would refuse ``value`` on the point ``key``, or None."""
        slot = self._slot(key)
        return command_refusal(key, slot.role, slot.bounds, value)

    def set_measurement(self, key: str, value: float) -> None:
        """What a measurement point reads from now on (a river's level too: the scenario
        no longer plays it)."""
        slot = self._slot(key)
        if slot.role is not Role.MEASUREMENT:
            raise ValueError(f"point {key!r} ({slot.role}) is not a measurement")
        self.rivers.pop(slot.index, None)
        self.measurement[slot.index] = float(value)

    def values(self) -> dict[str, float]:
        """Every point's present value, by key."""
        return {key: self.read(key) for key in self._points}

    def _slot(self, key: str) -> _PointSlot:
        slot = self._points.get(key)
        if slot is None:
            raise ValueError(f"no point {key!r} in site {self.site.id}")
        return slot

    # -- the truth, for tests and benchmarks --

    def zone_state(self, zone_key: str) -> ZoneState:
        if zone_key not in self._zone_index:
            raise KeyError(f"no zone {zone_key!r} in site {self.site.id}")
        i = self._zone_index[zone_key]
        target, enabled = self._targets()
        air, structure, emitter = self.network.temperatures(i)
        return ZoneState(
            key=zone_key, air_temperature=air, structure_temperature=structure,
            emitter_temperature=emitter, occupants=int(self._occupancy[i]),
            presence=bool(self._presence()[i]), co2=float(self.co2[i]),
            valve=float(self.thermostat.valve[i]), heat_w=float(self._heat_w[i]),
            target=float(target[i]) if enabled[i] else None,
            lighting_on=bool(self.lighting[i]),
        )

    def _building_index(self, building_id: str) -> int:
        for index, building in enumerate(self.site.buildings):
            if building.id == building_id:
                return index
        raise KeyError(f"no building {building_id!r} in site {self.site.id}")

    def building_state(self, building_id: str) -> BuildingState:
        index = self._building_index(building_id)
        zones = self._building == index
        heat_j = float(self._heat_j[zones].sum())
        electricity_j = (self._lighting_j + self._other_j + self._compressor_j)[zones].sum()
        standby_j = float(self._standby_j[index])
        return BuildingState(
            id=building_id, heat_kwh=heat_j / J_PER_KWH,
            fuel_kwh=self.plants[index].fuel_w(heat_j + standby_j) / J_PER_KWH,
            electricity_kwh=float(electricity_j) / J_PER_KWH,
            lighting_kwh=float(self._lighting_j[zones].sum()) / J_PER_KWH,
            heat_w=float(self._heat_w[zones].sum()),
            plant_enabled=bool(self.plant_enabled[index]),
            standby_kwh=standby_j / J_PER_KWH,
        )

    def energy_account(self, building_id: str | None = None) -> EnergyAccount:
        """Heat in, gains, losses and stored energy (J) since the start, to check balance."""
        if building_id is None:
            return self.network.account()
        index = self._building_index(building_id)
        return self.network.account(np.flatnonzero(self._building == index))
