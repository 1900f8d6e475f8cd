"""The heating bench's lower bound: the least net heat that keeps every occupied
quarter-hour comfortable, with perfect knowledge, by linear programming.

For one building the bound is handed what no controller has: the real occupants
(``world.occupants``), the weather (``world.weather``) and the simulator's own physics,
each zone's 3-node network with the exact discretisation at ``PHYSICS_STEP_S``
(``gtb.sim.thermal``), driven as the world drives it: the base load, the occupants'
sensible and equipment gains, the sun through the aperture, and the ventilation loss of
the occupants' fresh air, which is linear in the air temperature. The decision is the
heat given to each emitter over each physics step, from 0 to the emitter's output, the
building's total within its plant's capacity at that step's outdoor temperature. This
relaxes the thermostat, the valves, the plant's switching and the 15-minute control
grid: every heat trajectory the simulator can produce under any strategy is one of the
LP's, so none can do better than the LP's optimum under the same requirements.

Requirements, over the counted period only, each with the bench's tolerance
(``DISCOMFORT_BELOW_K``): during every occupied physics step, the air as the bench
measures it (linear between control instants) at least the zone's comfort, which is
exactly "no discomfort"; each zone's air at every control instant at least its frost
protection level; a hidden zone (floor area outside the site's zones, heated by the
plant at the average target of its building's zones) at least the area-weighted average
of what its building's zones require then (comfort where occupied, frost protection
elsewhere), the least target any strategy that keeps comfort gives it.

Why it is a bound. The counted period is cut into days; the LP of day d covers
[d - lead-in, d + 1 day) with a free initial state, all requirements also in the
lead-in (when it is counted), and minimises day d's heat + U(start of d) - U(end of d),
U the heat stored in the zones. Any trajectory of the whole period, restricted to that
window, is feasible, so LP_d <= heat_d + U(start of d) - U(end of d) of that trajectory.
Summing over the days the stored terms telescope: sum of LP_d <= heat - (U(end) - U(start))
over the period, the *net* heat, for every trajectory that meets the requirements. The
bench measures each strategy's stored change to compare like with like. A boiler's
standby losses are not bounded (an LP cannot usefully: they depend on when the plant is
enabled, not on the heat) and count 0 here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.linalg import expm
from scipy.optimize import linprog

from gtb.model import Site
from gtb.sim.season import CONTROL_STEP_S, PHYSICS_STEP_S, STEPS_PER_CONTROL, instants
from gtb.sim.thermal import FloatArray, ZoneThermal
from gtb.sim.weather import SyntheticWeather, Weather, to_epoch
from gtb.sim.world import J_PER_KWH, VirtualCommune

LEAD_IN = timedelta(hours=24)
"""How far before each block its LP begins, from a free state: longer is tighter, slower."""
BLOCK_DAYS = 4
"""Days counted by each LP: longer is tighter (fewer free starts); 2 to 6 were the fastest
measured (a 12-day span of the mairie in blocks of 1 to 12 days), 1 twice as slow."""
BOX = (-60.0, 150.0)
"""°C: no node of a heated building is ever colder (France's coldest outdoor air is above
-42 °C) or warmer (boilers stop their water at 110 °C, their safety thermostat): bounds
every trajectory keeps, which keep the LP well posed (a free state has no other). When
it is known when every trajectory began, the floor is higher (``BuildingModel``)."""


class InfeasibleComfort(ValueError):
    """Some days' requirements are out of the emitters' and plant's reach."""


@dataclass(frozen=True)
class Requirements:
    """What every zone of one building must hold, and with what tolerance."""

    comfort: FloatArray
    """(real zones,) comfort level, °C."""
    frost: FloatArray
    """(real zones,) frost-protection level, °C."""
    tolerance_k: float


@dataclass(frozen=True)
class Block:
    """One LP: days [first, last), its value (the bound's share) and its heat, kWh."""

    first: date
    last: date
    net_kwh: float
    """Heat + stored energy at the block's start - at its end: its term of the bound."""
    heat_kwh: float
    """Heat given in the block by the LP's optimum (one of several optima)."""


class BuildingModel:
    """One building's zones as linear maps over each control step, for the whole span.

    Control step c of the span maps the state x (air, structure, emitter of each zone) at
    its start to x at its end: x' = phi_c x + sum_j gamma_cj q_cj + d_c, q_cj the heat
    (kW) to the emitter during physics step j of c: the world's own step matrices
    composed over the ``STEPS_PER_CONTROL`` steps of c.

    ``began``, the epoch at which every trajectory considered began at the world's initial
    state (its zones at their setpoints), raises the floor of every node to the coldest of
    those setpoints and of the outdoor air since then: the network is a positive system
    (the step matrices and input maps have no negative entry, checked here, and heat only
    flows to the outdoor air), so no node can be colder than everything that drives it.
    """

    def __init__(self, site: Site, world: VirtualCommune, building: int,
                 origin: float, controls: int, began: float | None = None) -> None:
        dt, per = PHYSICS_STEP_S, STEPS_PER_CONTROL
        if world.step_s != dt:
            raise ValueError(f"the bound needs a world stepped every {dt} s, "
                             f"not {world.step_s}")
        owner = site.buildings[building]
        reals = [i for i, (b, _) in enumerate(_real_zones(site)) if b == building]
        hidden = [len(_real_zones(site)) + h
                  for h, b in enumerate(_hidden_owners(site)) if b == building]
        self.zones = reals + hidden
        self.real = len(reals)
        thermals: list[ZoneThermal] = [world.network.zones[i] for i in self.zones]
        self.capacity = np.array([[z.c_air, z.c_structure, z.c_emitter] for z in thermals])
        self.emitter_kw = np.array([z.emitter_w for z in thermals]) / 1000.0
        self.area = np.array([z.area_m2 for z in thermals])
        steps = controls * per
        drive = world.drive(instants(origin, dt, steps))
        outdoor = drive.inputs.outdoor
        self.occupied = drive.people[:, reals] > 0
        to_air = drive.inputs.to_air[:, self.zones]
        to_structure = drive.inputs.to_structure[:, self.zones]
        ventilation = drive.inputs.ventilation[:, self.zones]  # W/K
        self.plant_kw = drive.capacity[:, building].reshape(controls, per) / 1000.0
        n = len(self.zones)
        ad, bd = np.empty((n, 3, 3)), np.empty((n, 3, 4))
        for z, zone in enumerate(thermals):
            a, b = zone.matrices()
            ad[z] = expm(a * dt)
            bd[z] = np.linalg.solve(a, (ad[z] - np.eye(3)) @ b)
        # Step k of zone z: x' = m_kz x + g_kz + e_z q (q in kW).
        m = np.broadcast_to(ad, (steps, n, 3, 3)).copy()
        m[..., :, 0] -= ventilation[..., None] * bd[None, :, :, 1]
        g = (bd[None, :, :, 0] * (outdoor[:, None, None])
             + bd[None, :, :, 1] * (to_air + ventilation * outdoor[:, None])[..., None]
             + bd[None, :, :, 2] * to_structure[..., None])
        e = bd[:, :, 3] * 1000.0
        m = m.reshape(controls, per, n, 3, 3)
        g = g.reshape(controls, per, n, 3)
        phi = np.broadcast_to(np.eye(3), (controls, n, 3, 3)).copy()
        d = np.zeros((controls, n, 3))
        gamma = np.zeros((controls, per, n, 3))
        for j in range(per):
            mj = m[:, j]
            phi = np.einsum("cnij,cnjk->cnik", mj, phi)
            d = np.einsum("cnij,cnj->cni", mj, d) + g[:, j]
            gamma[:, :j] = np.einsum("cnij,cpnj->cpni", mj, gamma[:, :j])
            gamma[:, j] = e[None]
        self.phi, self.gamma, self.d = phi, gamma, d
        self.coldest = BOX[0]
        if began is not None:
            if (m < 0).any() or (bd < 0).any():
                raise ValueError(f"the zones of {owner.id!r} are not a positive system at "
                                 f"a {dt} s step: no floor from the outdoor air")
            since = instants(began, dt, round((origin - began) / dt) + steps)
            coldest = float(world.weather.sample(since + dt / 2)[0].min())
            self.coldest = min(coldest, float(world.setpoint.min()))

    def hidden_floor(self, requirements: Requirements, occupied: NDArray[np.bool_]
                     ) -> FloatArray:
        """(control steps,) the least air of the building's hidden zone: the area-weighted
        average of what its real zones require (comfort where occupied, frost elsewhere)."""
        area = self.area[: self.real]
        level = np.where(occupied, requirements.comfort, requirements.frost)
        return np.asarray(level @ area / area.sum() - requirements.tolerance_k)


    def solve(self, first: int, day: int, end: int, counted: int,
              requirements: Requirements) -> tuple[float, float] | None:
        """The LP over control steps [first, end) of the span, day d being [day, end):
        (its value, the day's heat) in kWh, or None when infeasible. Requirements hold
        from control step ``counted`` on."""
        per, n, width = STEPS_PER_CONTROL, len(self.zones), end - first
        size_x = n * (width + 1) * 3
        zone, step, row3 = np.meshgrid(np.arange(n), np.arange(width), np.arange(3),
                                       indexing="ij")
        x_at = (zone * (width + 1) + step) * 3  # first state variable of (zone, step)
        eq_row = (zone * width + step) * 3 + row3
        q_at = size_x + (zone * width + step) * per  # first heat variable of (zone, step)
        phi = self.phi[first:end].transpose(1, 0, 2, 3)  # (zone, step, 3, 3)
        gamma = self.gamma[first:end].transpose(2, 0, 3, 1)  # (zone, step, 3, per)
        rows = [eq_row, np.repeat(eq_row[..., None], 3, -1), np.repeat(eq_row[..., None], per, -1)]
        cols = [x_at + 3 + row3, x_at[..., None] + np.arange(3), q_at[..., None] + np.arange(per)]
        data = [np.ones(eq_row.shape), -phi, -gamma]
        equality = sp.csr_matrix(
            (np.concatenate([v.ravel() for v in data]),
             (np.concatenate([v.ravel() for v in rows]),
              np.concatenate([v.ravel() for v in cols]))),
            shape=(n * width * 3, size_x + n * width * per))
        rhs = self.d[first:end].transpose(1, 0, 2).ravel()
        # The plant: the building's emitters together within its capacity, every step.
        heat = size_x + ((np.arange(n)[:, None] * width + np.arange(width)[None, :]) * per)
        cap_rows = np.arange(width * per).reshape(width, per)
        ub_rows = [np.broadcast_to(cap_rows[None], (n, width, per)).ravel()]
        ub_cols = [(heat[..., None] + np.arange(per)).ravel()]
        ub_data = [np.ones(n * width * per)]
        ub_rhs = [self.plant_kw[first:end].ravel()]
        # Comfort while occupied, on the air the bench measures (linear between instants).
        occupied = self.occupied[first * per : end * per].copy()
        occupied[: max(0, counted - first) * per] = False
        k, z = np.nonzero(occupied)
        c, j = np.divmod(k, per)
        f = (j + 0.5) / per
        comfort_rows = width * per + np.arange(len(k))
        air = (z * (width + 1) + c) * 3
        ub_rows += [comfort_rows, comfort_rows]
        ub_cols += [air, air + 3]
        ub_data += [-(1.0 - f), -f]
        ub_rhs.append(-(requirements.comfort[z] - requirements.tolerance_k))
        inequality = sp.csr_matrix(
            (np.concatenate(ub_data), (np.concatenate(ub_rows), np.concatenate(ub_cols))),
            shape=(width * per + len(k), equality.shape[1]))
        # Frost protection, and the hidden zone's floor, at every counted instant.
        lower = np.full(equality.shape[1], self.coldest)
        upper = np.full(equality.shape[1], BOX[1])
        lower[size_x:] = 0.0
        upper[size_x:] = np.repeat(self.emitter_kw, width * per)
        floors = np.full((n, width + 1), self.coldest)
        since = max(0, counted - first)
        floors[: self.real, since:] = (requirements.frost - requirements.tolerance_k)[:, None]
        if n > self.real:
            occupied_steps = self.occupied[first * per : end * per].reshape(width, per, -1)
            step_floor = self.hidden_floor(requirements, np.asarray(occupied_steps.any(axis=1)))
            step_floor[:since] = self.coldest
            floors[self.real] = np.maximum(np.concatenate([step_floor, [self.coldest]]),
                                           np.concatenate([[self.coldest], step_floor]))
        lower[(np.arange(n)[:, None] * (width + 1) + np.arange(width + 1)) * 3] = floors
        # Day d's heat, plus the heat stored at its start, less what is stored at its end.
        cost = np.zeros(equality.shape[1])
        day_heat = (heat[:, day - first :, None] + np.arange(per)).ravel()
        cost[day_heat] = PHYSICS_STEP_S / 3600.0
        stored = self.capacity / J_PER_KWH
        for instant, sign in ((day - first, 1.0), (width, -1.0)):
            cost[(np.arange(n) * (width + 1) + instant)[:, None] * 3 + np.arange(3)] += (
                sign * stored)
        outcome = _solved(cost, inequality, np.concatenate(ub_rhs), equality, rhs,
                          np.stack([lower, upper], axis=1))
        if outcome is None:
            return None
        return float(outcome.fun), float(outcome.x[day_heat].sum() * PHYSICS_STEP_S / 3600.0)


OBJECTIVE_SCALE = 0.01
"""The objective is given to HiGHS in hundreds of kWh: in kWh, the stored energy's
coefficients make its dual simplex fail now and then ("excessive dual values")."""
SOLVERS: tuple[tuple[str, dict[str, bool]], ...] = (
    ("highs-ipm", {}), ("highs-ds", {}), ("highs-ds", {"presolve": False}))
"""HiGHS's interior point method (the fastest here), then its dual simplex, then the
simplex without its presolve: the next is tried when one fails numerically."""


def _solved(cost: FloatArray, inequality: sp.csr_matrix, ub: FloatArray,
            equality: sp.csr_matrix, eq: FloatArray, bounds: FloatArray) -> Any:
    """HiGHS's optimum (objective in kWh), None if infeasible; an error if every solver
    fails."""
    messages = []
    for method, options in SOLVERS:
        outcome = linprog(cost * OBJECTIVE_SCALE, A_ub=inequality, b_ub=ub, A_eq=equality,
                          b_eq=eq, bounds=bounds, method=method, options=options)
        if outcome.status == 0:
            outcome.fun /= OBJECTIVE_SCALE
            return outcome
        if outcome.status == 2:
            return None
        messages.append(f"{method} {options}: {outcome.message}")
    raise RuntimeError(f"the bound's LP failed: {'; '.join(messages)}")


def requirements_of(site: Site, building: int, tolerance_k: float) -> Requirements:
    """The comfort and frost-protection levels of a building's zones."""
    levels = [site.comfort_of(zone) for zone in site.buildings[building].zones]
    return Requirements(np.array([level.comfort for level in levels]),
                        np.array([level.frost_protection for level in levels]), tolerance_k)


def bound_span(site: Site, seed: int, building: str, first: date, last: date, *,
               tolerance_k: float, block_days: int = BLOCK_DAYS, lead_in: timedelta = LEAD_IN,
               counted_from: datetime | None = None, began: datetime | None = None,
               weather: Weather | None = None) -> list[Block]:
    """The LPs of one building's local days [first, last), ``block_days`` at a time, on
    weather and occupants ``seed`` as the season harness has them; requirements hold
    from ``counted_from`` on (by default from ``first``). ``began``: when every trajectory
    bounded started from the world's initial state (the season harness's warm-up), which
    raises the floor of the states (``BuildingModel``); ``weather``: the season harness's
    by default.

    ``InfeasibleComfort`` names the blocks no heat can make comfortable: the bound is
    refused rather than given without them."""
    index = next((b for b, item in enumerate(site.buildings) if item.id == building), None)
    if index is None:
        raise KeyError(f"no building {building!r} in site {site.id}")
    if last <= first or block_days < 1:
        raise ValueError(f"no day to bound from {first} to {last} by {block_days}")
    tz = site.tz

    def midnight(day: date) -> datetime:
        return datetime.combine(day, datetime.min.time(), tzinfo=tz)

    origin = to_epoch(midnight(first) - lead_in)

    def control(when: datetime) -> int:
        return round((to_epoch(when) - origin) / CONTROL_STEP_S)

    world = VirtualCommune(
        site, midnight(first) - lead_in, seed=seed, step_s=PHYSICS_STEP_S,
        weather=weather or SyntheticWeather(site.latitude, site.longitude, seed, typical=False))
    model = BuildingModel(site, world, index, origin, control(midnight(last)),
                          None if began is None else to_epoch(began))
    requirements = requirements_of(site, index, tolerance_k)
    lead = round(lead_in.total_seconds() / CONTROL_STEP_S)
    counted = control(counted_from or midnight(first))
    blocks, infeasible = [], []
    day = first
    while day < last:
        until = min(last, day + timedelta(days=block_days))
        start, end = control(midnight(day)), control(midnight(until))
        outcome = model.solve(start - lead, start, end, counted, requirements)
        if outcome is None:
            infeasible.append(f"{day.isoformat()} to {until.isoformat()}")
        else:
            blocks.append(Block(day, until, *outcome))
        day = until
    if infeasible:
        raise InfeasibleComfort(
            f"building {building!r}, weather and occupants {seed}: no heat within its "
            f"emitters and plant keeps every occupied hour at comfort from "
            f"{'; from '.join(infeasible)}")
    return blocks


def _real_zones(site: Site) -> list[tuple[int, str]]:
    return [(b, f"{building.id}.{zone.id}") for b, building in enumerate(site.buildings)
            for zone in building.zones]


def _hidden_owners(site: Site) -> list[int]:
    """Building of each hidden zone of ``VirtualCommune`` (floor area outside the zones),
    in its order: after the real zones, one per building with more than 1 m² left."""
    return [b for b, building in enumerate(site.buildings)
            if building.floor_area_m2 - sum(z.area_m2 for z in building.zones) > 1.0]
