"""Heating-season benchmark: ``gtb bench heating``, strategies compared on the same season.

One heating season (1 October to 30 April, after a week of warm-up) of the demo commune
is simulated for each strategy and weather year by the season harness (``gtb.sim.season``).
Every strategy sees the same occupants and the same weather, and uses the same comfort
levels, so what differs is *when* each one heats, and that comes from what it knows:
nothing but the clock (``always``), the programme (``fixed``), what sensors show
(``learned``, the project's controller), or everything, the real occupants and the true
building (``oracle``). Energy comes from the buildings' heating meters, comfort from the
true air temperatures during the true occupied time. docs/heating-bench.md gives the
method and the figures measured.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.progress import Progress
from scipy.linalg import expm

from controllers.heating import LONG_ABSENCE
from gtb.bench.plots import plot, require_matplotlib
from gtb.config import load_site
from gtb.model import Site
from gtb.model.points import HeatingLevel
from gtb.sim.season import (
    CONTROL_STEP_S,
    PHYSICS_STEP_S,
    STEPS_PER_CONTROL,
    STRATEGIES,
    WARM_UP,
    Observations,
    Run,
    ZoneCommand,
    instants,
    restrict,
    simulate,
    zone_levels,
)
from gtb.sim.thermal import FloatArray
from gtb.sim.weather import to_epoch
from gtb.sim.world import BASE_LOAD_W_M2, VirtualCommune

DISCOMFORT_BELOW_K = 0.5  # occupied and more than this below comfort: discomfort (K·h)
MISS_BELOW_K = 1.0  # occupied and more than this below comfort: MissTime (minutes)
YEARS = (1, 2, 3)
"""Seeds of the weather years (``typical=False``: the years differ) and of the occupants."""
SEASON_YEAR = 2025
"""The season runs from 1 October of this year to 30 April of the next."""

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
        starts = instants(self._origin, dt, steps)
        occupied = world.occupants.counts(starts) > 0
        self._keys = list(world.zone_keys)
        self._levels = dict(zone_levels(site))
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
        if arrival < k + STEPS_PER_CONTROL:
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
        inputs[:STEPS_PER_CONTROL, 3] = 0.0
        responses = self._responses[i][gap - 1 :: -1]
        return float(self._air_rows[i][gap] @ state + np.sum(responses * inputs))


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


def season(year: int = SEASON_YEAR, tz: tzinfo | None = None) -> tuple[datetime, datetime]:
    """1 October of ``year`` 00:00 to 1 May of the next year 00:00, local time."""
    return (datetime(year, 10, 1, tzinfo=tz), datetime(year + 1, 5, 1, tzinfo=tz))


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
    comfort = np.array([levels.comfort for _, levels in zone_levels(site)])
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


# -- the whole bench ------------------------------------------------------------------


def _task(site_file: str, buildings: tuple[str, ...] | None, strategy: str, seed: int,
          start: datetime, end: datetime, plots: Path | None) -> tuple[Run, list[Path]]:
    """One run, and its plots when asked: in the worker, so plots are drawn in parallel."""
    site = restrict(load_site(site_file), buildings)
    run = simulate(site, strategy, seed, start, end,
                   build=Oracle if strategy == ORACLE else None)
    return run, [] if plots is None else plot(site, run, plots)


def bench_heating(site_file: Path, years: Sequence[int] = YEARS,
                  strategies: Sequence[str] = (*STRATEGIES, ORACLE),
                  period: tuple[datetime, datetime] | None = None,
                  buildings: Sequence[str] | None = None, plots: Path | None = None,
                  workers: int = 2, progress: Progress | None = None) -> dict[str, Any]:
    """Every strategy over every weather year; the report, and plots of the first year.

    Runs are independent, so they go to a pool of ``workers`` processes (1: in this one).
    """
    if plots is not None:
        require_matplotlib()
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

