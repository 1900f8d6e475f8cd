"""Zone thermal models, emitters, plants and the local thermostat loop.

Each zone is a linear network of three capacities, air (with furniture), structure and
emitter (radiator water and metal), with conductances to the outdoor air:

    outdoor --h_air_out-- air --h_air_struct-- structure --h_struct_out-- outdoor
                           |
                       h_emitter
                           |
                        emitter <-- heat from the plant (valve x emitter output)

Windows and air leakage act on the air node, opaque walls, roof and floor on the
structure node. All zones of a commune are integrated together, vectorised, with the
exact discretisation of the linear system over a step (inputs held during the step), so
5-minute steps are as stable as 1-minute ones and a year runs in seconds. The integral of
the state over each step is exact too, which is what the energy balance is checked on.

Parameters come per construction period (``ENVELOPES``), inertia class (``INERTIA``)
and zone profile (``GEOMETRY``); docs/simulation.md gives their sources.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import expm

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

AIR_HEAT_CAPACITY = 1200.0  # J/(m³·K), rho·c of air
DESIGN_OUTDOOR = -9.0  # °C, base temperature for sizing in the Nord (NF EN 12831, H1 < 200 m)
DESIGN_INDOOR = 19.0  # °C
PLANT_MARGIN = 1.2  # plants are sized 20 % above the design load (reheat after setbacks)
EMITTER_MARGIN = {"radiator": 1.3, "fan_coil": 2.0}
"""Each room's emitters above its design load: radiators a little; fan coils, chosen for
the summer's cooling load, give about twice the heat the room needs (an assumption of
the usual ratio for two-pipe units, to verify)."""
EMITTER_TIME_CONSTANT = {"radiator": 1800.0, "fan_coil": 300.0}
"""s: a radiator's water and metal; a fan coil's few litres and its fan's forced
convection answer in minutes (an assumption of the order of its coil's published
warm-up, to verify)."""
GROUND_FACTOR = 0.5  # floors lose to the ground, slower and warmer than the outdoor air


@dataclass(frozen=True)
class Envelope:
    """Thermal properties of a construction period, in W/(m²·K) of each element."""

    u_wall: float
    u_window: float
    u_roof: float
    u_floor: float
    air_changes: float
    """Air leakage and base ventilation, volumes per hour, when unoccupied."""
    solar_g: float
    """Total solar energy transmittance of the glazing."""
    bridges: float = 0.15
    """Thermal bridges as a fraction of the transmission through elements."""


ENVELOPES: dict[str, Envelope] = {
    # Before the first thermal regulation (1974): solid brick, uninsulated walls; the
    # single glazing replaced since by early double glazing, some loft insulation.
    "pre_1975": Envelope(1.5, 3.3, 0.9, 1.0, 0.7, 0.72, 0.15),
    # RT 1974-1988: a few centimetres of insulation, first double glazing.
    "from_1975": Envelope(0.9, 3.0, 0.55, 0.8, 0.55, 0.72, 0.15),
    # RT 2000 / RT 2005 guard-rail values.
    "from_2000": Envelope(0.45, 2.3, 0.30, 0.40, 0.40, 0.62, 0.15),
    # RT 2012: no element limits, but its Bbio and airtightness (Q4Pa-surf at most
    # 1.7 m³/(h·m²) for non-residential buildings, measured or default) lead to about these
    # values (orders of magnitude of recent public buildings, to verify on a real one).
    "from_2012": Envelope(0.25, 1.5, 0.18, 0.25, 0.25, 0.55, 0.10),
    # Renovated element by element to the RT existant minima (arrêté du 3 mai 2007):
    # walls insulated from inside (strong slab bridges), loft and windows redone, the
    # ground floor and the natural ventilation left as they were.
    "renovated": Envelope(0.40, 2.0, 0.22, 0.8, 0.6, 0.60, 0.30),
}

INERTIA: dict[str, float] = {"light": 110e3, "medium": 165e3, "heavy": 260e3}
"""Internal heat capacity per m² of floor, J/(m²·K) (EN ISO 13790, table 12)."""


@dataclass(frozen=True)
class Geometry:
    """Exposed areas per m² of floor, and the room height, of a kind of zone."""

    height: float
    wall: float
    window: float
    roof: float
    floor: float
    air_changes_factor: float = 1.0
    """Tall halls leak fewer volumes per hour than rooms do."""


_ROOM = Geometry(3.0, 0.75, 0.20, 0.6, 0.6)
GEOMETRY: dict[str, Geometry] = {
    "office": _ROOM,
    "reception": _ROOM,
    "council_room": Geometry(3.5, 0.75, 0.22, 0.6, 0.6),
    "classroom": _ROOM,
    "canteen": Geometry(3.0, 0.70, 0.20, 1.0, 1.0),
    "sports_hall": Geometry(7.0, 0.85, 0.06, 1.0, 1.0, 0.6),
    "changing_room": Geometry(3.0, 0.70, 0.05, 1.0, 1.0),
    "reading_room": _ROOM,
    "events_hall": Geometry(5.0, 0.80, 0.10, 1.0, 1.0, 0.7),
    # A single-storey crèche: every room under the roof and on the ground, wide glazing
    # onto its garden.
    "nursery": Geometry(2.8, 0.80, 0.25, 1.0, 1.0),
    # Corridors, stairs and toilets that belong to no zone of the site file.
    "circulation": Geometry(3.0, 0.5, 0.10, 0.6, 0.6),
}


@dataclass(frozen=True)
class ZoneThermal:
    """Constants of one zone's network, SI units."""

    area_m2: float
    volume_m3: float
    c_air: float
    c_structure: float
    c_emitter: float
    h_air_out: float
    h_structure_out: float
    h_air_structure: float
    h_emitter: float
    emitter_w: float
    solar_aperture_m2: float
    """Horizontal-equivalent collecting area: solar gain = irradiance x this."""

    @classmethod
    def build(
        cls, area_m2: float, profile: str, envelope: str, inertia: str, low_temperature: bool,
        emitter: str = "radiator",
    ) -> ZoneThermal:
        """Constants from the zone's floor area, profile and the building's type.

        ``low_temperature`` emitters (heat pumps) are sized for a 25 K water-to-air
        difference instead of 50 K, so they are larger for the same output. A
        ``fan_coil`` (``EMITTER_TIME_CONSTANT``) gives the same output as a radiator,
        within minutes: its valve or fan follows the thermostat, as a radiator's valve.
        """
        env, geo = ENVELOPES[envelope], GEOMETRY[profile]
        opaque_wall = max(geo.wall - geo.window, 0.0)
        structure_u = (opaque_wall * env.u_wall + geo.roof * env.u_roof
                       + GROUND_FACTOR * geo.floor * env.u_floor) * (1.0 + env.bridges)
        volume = area_m2 * geo.height
        leakage = AIR_HEAT_CAPACITY * env.air_changes * geo.air_changes_factor * volume / 3600
        h_air_out = geo.window * env.u_window * area_m2 + leakage
        h_structure_out = structure_u * area_m2
        c_air = 5.0 * AIR_HEAT_CAPACITY * volume  # air plus furniture and surface layers
        c_structure = max(INERTIA[inertia] * area_m2 - c_air, 0.2 * c_air)
        # ISO 13790: 9.1 W/(m²·K) over 2.5 to 3 m² of massive surface per m² of floor,
        # in series with the 3.45 W/(m²·K) air-to-surface coefficient over 4.5 m².
        mass_surface = 3.0 if inertia == "heavy" else 2.5
        h_air_structure = area_m2 / (1 / (9.1 * mass_surface) + 1 / (3.45 * 4.5))
        design = (h_air_out + h_structure_out) * (DESIGN_INDOOR - DESIGN_OUTDOOR)
        emitter_w = EMITTER_MARGIN[emitter] * design
        h_emitter = emitter_w / (25.0 if low_temperature else 50.0)
        return cls(
            area_m2=area_m2,
            volume_m3=volume,
            c_air=c_air,
            c_structure=c_structure,
            c_emitter=EMITTER_TIME_CONSTANT[emitter] * h_emitter,
            h_air_out=h_air_out,
            h_structure_out=h_structure_out,
            h_air_structure=h_air_structure,
            h_emitter=h_emitter,
            emitter_w=emitter_w,
            solar_aperture_m2=geo.window * env.solar_g * 0.3 * area_m2,
        )

    @property
    def design_load_w(self) -> float:
        return (self.h_air_out + self.h_structure_out) * (DESIGN_INDOOR - DESIGN_OUTDOOR)

    def matrices(self) -> tuple[FloatArray, FloatArray]:
        """Continuous-time ``dx/dt = A x + B u``; x = (air, structure, emitter) °C,
        u = (outdoor °C, gain to air W, gain to structure W, heat to emitter W)."""
        ca, cs, ce = self.c_air, self.c_structure, self.c_emitter
        hao, hso, has, he = (self.h_air_out, self.h_structure_out, self.h_air_structure,
                             self.h_emitter)
        a = np.array([
            [-(hao + has + he) / ca, has / ca, he / ca],
            [has / cs, -(has + hso) / cs, 0.0],
            [he / ce, 0.0, -he / ce],
        ])
        b = np.array([
            [hao / ca, 1.0 / ca, 0.0, 0.0],
            [hso / cs, 0.0, 1.0 / cs, 0.0],
            [0.0, 0.0, 0.0, 1.0 / ce],
        ])
        return a, b


@dataclass
class EnergyAccount:
    """Energy of a set of zones over a period, in joules; ``residual`` should be ~0."""

    heat_in: float
    gains: float
    losses: float
    stored_change: float

    @property
    def residual(self) -> float:
        return self.heat_in + self.gains - self.losses - self.stored_change


@dataclass(frozen=True)
class StepInputs:
    """What drives the zones over a run of steps; arrays are (steps, zones) unless said.

    Everything here is known before the run: only the heat the thermostats ask for and
    the ventilation loss (fresh air at the zone's own temperature) depend on the state.
    """

    outdoor: FloatArray  # (steps,) °C
    to_air: FloatArray  # W
    to_structure: FloatArray  # W
    ventilation: FloatArray  # W/K of fresh air brought in by occupants


Controller = Callable[[FloatArray, int], FloatArray]
"""Heat to each zone's emitter (W) from the air temperatures at the start of step k."""


class ThermalNetwork:
    """All zones' networks, stepped together with the exact discretisation.

    The state is one flat vector, air temperatures of all zones first, then structures,
    then emitters, and the per-zone 3x3 systems are laid out as block matrices, so a step
    is a few matrix-vector products whatever the number of zones.
    """

    def __init__(self, zones: Sequence[ZoneThermal], step_s: float,
                 initial: float | FloatArray) -> None:
        if step_s <= 0:
            raise ValueError(f"step must be positive, not {step_s}")
        self.zones = tuple(zones)
        self.step_s = step_s
        n = self.size = len(self.zones)
        start = np.broadcast_to(np.asarray(initial, dtype=np.float64), (n,))
        self.state = np.concatenate([start, start, start])
        self.capacity = np.concatenate([[z.c_air for z in zones], [z.c_structure for z in zones],
                                        [z.c_emitter for z in zones]])
        self.h_air_out = np.array([z.h_air_out for z in zones])
        self.h_structure_out = np.array([z.h_structure_out for z in zones])
        self._transition = np.zeros((3 * n, 3 * n))
        self._input = np.zeros((4, 3 * n, n))
        self._state_integral = np.zeros((3 * n, 3 * n))
        self._input_integral = np.zeros((4, 3 * n, n))
        rows = np.arange(3)[:, None] * n
        for i, zone in enumerate(self.zones):
            a, b = zone.matrices()
            ad = expm(a * step_s)
            a_inv = np.linalg.inv(a)
            bd = a_inv @ (ad - np.eye(3)) @ b
            at = (rows + i, rows.T + i)
            self._transition[at] = ad
            self._state_integral[at] = a_inv @ (ad - np.eye(3))
            for m in range(4):
                self._input[m][rows[:, 0] + i, i] = bd[:, m]
                self._input_integral[m][rows[:, 0] + i, i] = (a_inv @ (bd - b * step_s))[:, m]
        self._sum_state = np.zeros(3 * n)
        self._sum_input = np.zeros((4, n))
        self._ventilation_j = np.zeros(n)
        self._start_energy = self.stored_energy()

    @property
    def air(self) -> FloatArray:
        return self.state[: self.size]

    def carry_on(self, state: FloatArray) -> None:
        """Take up this state (another network's of the same zones, at any step): the
        energy account starts again from here."""
        if np.shape(state) != self.state.shape:
            raise ValueError(f"a state of {np.shape(state)} values for {self.size} zones")
        self.state = np.array(state, dtype=np.float64)
        self._sum_state = np.zeros(3 * self.size)
        self._sum_input = np.zeros((4, self.size))
        self._ventilation_j = np.zeros(self.size)
        self._start_energy = self.stored_energy()

    def temperatures(self, zone: int) -> tuple[float, float, float]:
        """Air, structure and emitter temperatures of one zone, °C."""
        n = self.size
        return (float(self.state[zone]), float(self.state[n + zone]),
                float(self.state[2 * n + zone]))

    def stored_energy(self) -> FloatArray:
        """Heat held by each zone above 0 °C, J."""
        return np.asarray((self.capacity * self.state).reshape(3, self.size).sum(axis=0))

    def run(self, inputs: StepInputs, controller: Controller) -> FloatArray:
        """Advance ``len(inputs.outdoor)`` steps; returns the heat of each step (W)."""
        n, dt = self.size, self.step_s
        outdoor = inputs.outdoor
        steps = len(outdoor)
        known = (outdoor[:, None] * self._input[0].sum(axis=1)[None, :]
                 + inputs.to_air @ self._input[1].T + inputs.to_structure @ self._input[2].T)
        transition, to_air, to_emitter = self._transition, self._input[1], self._input[3]
        heat = np.empty((steps, n))
        loss = np.empty((steps, n))
        state = self.state
        total = np.zeros(3 * n)
        for k in range(steps):
            air = state[:n]
            loss[k] = inputs.ventilation[k] * (air - outdoor[k])
            heat[k] = controller(air, k)
            total += state
            state = transition @ state + known[k] + to_emitter @ heat[k] - to_air @ loss[k]
        self.state = state
        self._sum_state += total
        self._sum_input[0] += outdoor.sum()
        self._sum_input[1] += inputs.to_air.sum(axis=0) - loss.sum(axis=0)
        self._sum_input[2] += inputs.to_structure.sum(axis=0)
        self._sum_input[3] += heat.sum(axis=0)
        self._ventilation_j += loss.sum(axis=0) * dt
        return heat

    def account(self, zones: NDArray[np.int64] | slice = slice(None)) -> EnergyAccount:
        """Energy balance since construction, of some zones (all by default).

        Envelope losses use the exact integral of the temperatures over each step, so the
        balance closes to rounding if, and only if, the discretisation is right.
        """
        n, dt = self.size, self.step_s
        integral = self._state_integral @ self._sum_state + sum(
            self._input_integral[m] @ self._sum_input[m] for m in range(4))
        outdoor = self._sum_input[0] * dt
        envelope = (self.h_air_out * (integral[:n] - outdoor)
                    + self.h_structure_out * (integral[n : 2 * n] - outdoor))
        gains = (self._sum_input[1] + self._sum_input[2]) * dt + self._ventilation_j
        return EnergyAccount(
            heat_in=float(self._sum_input[3][zones].sum() * dt),
            gains=float(gains[zones].sum()),
            losses=float(envelope[zones].sum() + self._ventilation_j[zones].sum()),
            stored_change=float((self.stored_energy() - self._start_energy)[zones].sum()),
        )


@dataclass
class Thermostat:
    """The local loop of each zone: a PI controller driving the emitter's valve (0..1).

    Like a zone controller (or a thermostatic valve with an integral action), it acts on
    the air temperature against the setpoint it is given. The integral never moves
    further into a saturation (a valve already wide open while still too cold), and it
    stays put while heat is unavailable (plant off), so nothing winds up; a zone switched
    off closes its valve and forgets its integral.
    """

    size: int
    proportional_band: float = 1.5  # K from closed to fully open
    integral_time: float = 2400.0  # s
    integral: FloatArray = field(init=False)
    valve: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        self.integral = np.zeros(self.size)
        self.valve = np.zeros(self.size)

    def update(self, temperature: FloatArray, setpoint: FloatArray, enabled: FloatArray,
               heat_available: BoolArray, dt: float) -> FloatArray:
        """New valve positions; ``enabled`` 0 (mode off) closes the valve."""
        gain = 1.0 / self.proportional_band
        proportional = gain * (setpoint - temperature)
        integral = self.integral
        moved = integral + (dt / self.integral_time) * proportional
        moved = np.minimum(moved, np.maximum(integral, 1.0 - proportional))
        moved = np.maximum(moved, np.minimum(integral, -proportional))
        # Starting within [0, 1], the integral cannot leave it under these two bounds.
        self.integral = np.where(heat_available, moved, integral) * enabled
        self.valve = np.minimum(np.maximum(proportional + self.integral, 0.0), 1.0) * enabled
        return self.valve


STANDBY_LOSS = 0.015
"""Standby loss of an enabled, idle boiler, as a share of its rated output: an
assumption in the middle of the 1 to 2 % usually quoted for the non-condensing boilers
of small public buildings (EN 15316-4-1's standby loss at 30 K; quoted from memory, to
verify; older boilers lose more, condensing ones less)."""


@dataclass(frozen=True)
class Plant:
    """A building's heat source, shared by its zones' emitters.

    A boiler gives its rated output whatever the weather; the heating meter counts heat
    delivered, and the fuel burnt is heat / ``efficiency`` (seasonal, on the lower
    heating value). A heat pump's output and COP fall with the outdoor temperature
    (rated at +7 °C outdoor, 35 °C water): COP = 40 % of the Carnot COP for 35 °C water,
    between 1.5 and 5.5, which gives about 4.4 at +7 °C and 2.9 at -7 °C, in line with
    EN 14511 ratings of air-to-water units.
    """

    kind: str
    rated_w: float
    efficiency: float = 0.90

    def capacity(self, outdoor: FloatArray) -> FloatArray:
        """Heat output available at these outdoor temperatures, W."""
        outdoor = np.asarray(outdoor, dtype=np.float64)
        if self.kind == "heat_pump":
            return self.rated_w * np.clip(1.0 + 0.02 * (outdoor - 7.0), 0.6, 1.15)
        return np.full_like(outdoor, self.rated_w)

    def cop(self, outdoor: FloatArray | float) -> FloatArray:
        """Coefficient of performance of a heat pump at these outdoor temperatures."""
        supply = 35.0
        carnot = (supply + 273.15) / np.maximum(supply - np.asarray(outdoor), 5.0)
        return np.asarray(np.clip(0.40 * carnot, 1.5, 5.5))

    def electricity_w(self, heat_w: float, outdoor: float) -> float:
        """Electric power drawn to deliver ``heat_w``; a boiler's auxiliaries are ignored."""
        return heat_w / float(self.cop(outdoor)) if self.kind == "heat_pump" else 0.0

    def fuel_w(self, heat_w: float) -> float:
        """Fuel (gas) power burnt, on the lower heating value; 0 for a heat pump."""
        return heat_w / self.efficiency if self.kind == "boiler" else 0.0

    def standby_w(self, heat_w: FloatArray) -> FloatArray:
        """Heat an enabled boiler loses through its casing and flue beyond what it
        delivers: ``STANDBY_LOSS`` of its rated output when idle, less as it works (the
        losses while firing are in its efficiency). None modelled for a heat pump."""
        if self.kind != "boiler":
            return np.zeros_like(np.asarray(heat_w, dtype=np.float64))
        idle = np.clip(1.0 - np.asarray(heat_w) / self.rated_w, 0.0, 1.0)
        return np.asarray(STANDBY_LOSS * self.rated_w * idle)

    @classmethod
    def sized(cls, kind: str, design_load_w: float, rated_kw: float | None) -> Plant:
        """A plant as the site file says, or sized on the design load with a margin."""
        if rated_kw is not None:
            return cls(kind, rated_kw * 1000.0)
        needed = PLANT_MARGIN * design_load_w
        if kind == "heat_pump":  # rated at +7 °C: size it for the design outdoor temperature
            needed /= float(np.clip(1.0 + 0.02 * (DESIGN_OUTDOOR - 7.0), 0.6, 1.15))
        return cls(kind, needed)


def share_plant(demand: FloatArray, membership: FloatArray, capacity: FloatArray) -> FloatArray:
    """Heat each zone gets when its building's plant cannot meet every valve's demand:
    the same fraction for all zones of that building (``membership``: buildings x zones,
    1 where the zone belongs to the building)."""
    total = membership @ demand
    ratio = np.minimum(1.0, capacity / np.maximum(total, 1.0))
    return np.asarray(demand * (ratio @ membership))
