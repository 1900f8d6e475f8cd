"""The demo commune's past: two years in the store, simulated in well under two minutes.

``gtb demo`` starts on a store that holds what a real one would after two years: a year
under the commune's former heating programme (``fixed``: the savings' baseline year),
then the engine's controllers (``learned``) from the day it took over (the audit log's
first « Moteur démarré ») up to the demo's start, on the seeded weather and occupants of
the live demo. It is simulated in process by the season harness, which the heating benchmark runs on
too (``gtb.sim.season``: the virtual commune stepped every 5 minutes, each strategy
asked every 15), not through devices and the engine, which would take days.

What goes into the store:

- samples: the meters' cumulative indexes (hourly), the outdoor temperature, a river's
  level (``gtb.sim.river``), each zone's
  temperature, setpoint and decided level (hourly, every 15 minutes over the last
  ``FINE_DAYS``), and over those last days its valve, presence, CO2, lighting and mode
  points too; raw samples older than ``RAW_DAYS`` are dropped, as the engine's retention
  does, after their hourly rollups and monthly totals are computed;
- the engine's first start, what each zone has learned (the live engine carries on from
  it), and the efficiency alarms: the daily check (``gtb.engine.efficiency``) runs each
  simulated morning, as the engine's job does, over a fault injected in the engine's
  year, a valve of the school stuck open for ``FAULT_DAYS`` days one winter (and the
  windows of its overheated classrooms left ajar);
- public lighting: the cabinets dusk to dawn at full power under the former regime (a
  photocell), on the engine's timetable since; building circuits lit while someone is
  there (plus the engine's 15 minutes), in both regimes.

The simulation runs in processes: the baseline year in stretches of time on the whole
site, the engine's year in groups of buildings that each have an outdoor sensor (the
learning controller reads one); every meter's index goes on from one part to the next.
The result is cached beside the demo's store, ``demo-history-<seed>-<digest>.sqlite``,
with the simulation's state at its end (``.state``, a pickle this program wrote); the
digest covers the site file and the code that makes the history. A later start copies
the cache and simulates only the days since (up to ``MAX_EXTENSION``; beyond, the history
is made again). docs/simulation.md tells the story and the figures.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import multiprocessing
import os
import pickle
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from queue import Empty
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.progress import Progress, TaskID

from controllers.lighting import cabinet_decision, lighting_entries, sun_times
from gtb.config import load_site
from gtb.engine.efficiency import CHECK_AFTER, EfficiencyWatch
from gtb.model import Cabinet, Site
from gtb.model.points import MODE_OF_LEVEL, Role, zone_mode_key
from gtb.savings.site import MIN_BASELINE_DAYS
from gtb.sim.river import is_river
from gtb.sim.season import (
    CONTROL_STEP_S,
    PHYSICS_STEP_S,
    STEPS_PER_CONTROL,
    WARM_UP,
    FixedProgramme,
    Harness,
    Learned,
    Observations,
    ZoneCommand,
    restrict,
    tabulated_world,
)
from gtb.sim.world import PRESENCE_HOLD_S, VirtualCommune
from gtb.store import Store
from gtb.store.samples import Sample

BASELINE_DAYS = 365
ENGINE_DAYS = 365
FINE_DAYS = 14
"""The last days of the history have 15-minute samples of every zone point; before,
hourly samples of the meters, the outdoor and zone temperatures, setpoints and levels."""
RAW_DAYS = 90
"""Raw samples kept, as the engine's retention keeps them (``gtb.engine.jobs.Retention``)."""
MAX_EXTENSION = timedelta(days=14)
"""A cached history this much older than the demo's start is made again."""
FAULT_DAYS = 10
VERSION = 1
"""Changes what the cache's digest covers when the history's format changes."""

_STEP = timedelta(seconds=CONTROL_STEP_S)
_LIT_AFTER = timedelta(minutes=15)  # the engine's building circuits: presence + 15 min
_ZONE_ROLES = (Role.ZONE_TEMPERATURE, Role.HEATING_SETPOINT, Role.HEATING_MODE, Role.VALVE,
               Role.CO2, Role.LIGHTING_RELAY, Role.OCCUPANCY)
_COARSE_ROLES = (Role.ZONE_TEMPERATURE, Role.HEATING_SETPOINT)
_SIGNAL_ROLES = (Role.FAN_SPEED, Role.EMITTER_POWER, Role.PLANT_AVAILABLE)
"""Read through the points (what the physics says of them), not from its arrays."""
_CODE = ("gtb/sim", "controllers", "gtb/engine/efficiency.py", "gtb/savings")


@dataclass(frozen=True)
class Fault:
    """A zone's valve stuck at ``opening`` (1: wide open) from ``start`` to ``end``: the
    zone overheats, people leave windows open (``air_changes`` an hour) to bear it, and
    the building's heating meter shows it."""

    zone: str
    start: datetime
    end: datetime
    opening: float = 1.0
    air_changes: float = 3.0

    def active(self, now: datetime) -> bool:
        return self.start <= now < self.end


def default_fault(site: Site, takeover: datetime, end: datetime) -> Fault | None:
    """The largest zone of the school (else of the first building) stuck open for
    ``FAULT_DAYS`` days from a Monday of mid-January (else December, else February) of
    the engine's period, at least a month after it took over and three weeks before the
    end; None when the period has no such winter."""
    school = next((b for b in site.buildings if b.use == "ecole"), site.buildings[0])
    zone = max(school.zones, key=lambda z: z.area_m2)
    tz = site.tz
    for month, day in ((1, 10), (12, 1), (2, 1)):
        for year in range(takeover.year, end.year + 1):
            first = date(year, month, day)
            monday = first + timedelta(days=-first.weekday() % 7)
            start = datetime.combine(monday, time(), tz)
            stop = datetime.combine(monday + timedelta(days=FAULT_DAYS), time(), tz)
            if start >= takeover + timedelta(days=30) and stop + timedelta(days=21) <= end:
                return Fault(f"{school.id}.{zone.id}", start, stop)
    return None


class Handover:
    """The former programme until the engine takes over, then its controllers, which
    start from nothing as a newly installed engine does."""

    def __init__(self, site: Site, takeover: datetime | None) -> None:
        self._before = FixedProgramme(site)
        self.after = Learned(site) if takeover is not None else None
        self._takeover = takeover

    def setpoints(self, now: datetime, seen: Observations) -> dict[str, ZoneCommand]:
        if self.after is None or self._takeover is None or now < self._takeover:
            return self._before.setpoints(now, seen)
        return self.after.setpoints(now, seen)


@dataclass
class Recording:
    """What a stretch of the history read, as the engine would have: ``values[n, k]`` is
    point ``keys[k]`` at ``times[n]`` (epoch seconds), NaN where it was not read."""

    times: NDArray[np.int64]
    keys: list[str]
    values: NDArray[np.float64]
    coarse: NDArray[np.bool_]
    """Points also kept, hourly, before the last ``FINE_DAYS``."""
    meters: list[str]
    final: dict[str, float]
    """The meters' indexes at the end of the stretch."""

    def samples(self, fine_from: int) -> Iterator[list[Sample]]:
        """Samples to store, in batches: all points from ``fine_from`` (epoch) on, the
        coarse ones on the hour before."""
        batch: list[Sample] = []
        for n, epoch in enumerate(self.times.tolist()):
            fine = epoch >= fine_from
            if not fine and epoch % 3600:
                continue
            at = datetime.fromtimestamp(epoch, UTC)
            row = self.values[n]
            batch.extend(Sample(key, at, float(row[k])) for k, key in enumerate(self.keys)
                         if (fine or self.coarse[k]) and not math.isnan(row[k]))
            if len(batch) >= 100_000:
                yield batch
                batch = []
        if batch:
            yield batch

    def shift_meters(self, shift: dict[str, float]) -> None:
        for k, key in enumerate(self.keys):
            if key in shift:
                self.values[:, k] += shift[key]
                self.final[key] += shift[key]


class CommuneRun:
    """The virtual commune as its history drives it: the former programme, then the
    engine's controllers from ``takeover`` (None: the programme throughout), with its
    lighting and its fault. It can be pickled where it stopped and carried on."""

    def __init__(self, site: Site, seed: int, begin: datetime, horizon: datetime,
                 takeover: datetime | None, fault: Fault | None) -> None:
        controls = math.ceil((horizon.astimezone(UTC) - begin.astimezone(UTC)) / _STEP)
        world = tabulated_world(site, seed, begin.astimezone(UTC), controls, typical=True)
        self.site, self.takeover = site, takeover
        self.harness = Harness(site, world, Handover(site, takeover))
        self.now = begin.astimezone(UTC)
        self.fault = fault if fault is not None and fault.zone in world.zone_keys else None
        index = {key: i for i, key in enumerate(world.zone_keys)}
        self._zone_points = [(ref.key, ref.role, index[f"{ref.building.id}.{ref.zone.id}"])
                             for ref in site.points() if ref.role in _ZONE_ROLES
                             and ref.building is not None and ref.zone is not None]
        self._signals = [ref.key for ref in site.points() if ref.role in _SIGNAL_ROLES]
        self._meters = [ref.key for ref in site.points() if ref.role is Role.ENERGY_METER]
        self._rivers = [ref.key for ref in site.points() if ref.role is Role.MEASUREMENT
                        and is_river(ref.point.si_unit, ref.point.watch)]
        self._outdoor = [ref.key for ref in site.points()
                         if ref.role is Role.OUTDOOR_TEMPERATURE]
        self._circuits = [(i, key) for key, role, i in self._zone_points
                          if role is Role.LIGHTING_RELAY]
        self._cabinets = [(cabinet, _role_key(cabinet, Role.CABINET_RELAY),
                           _role_key(cabinet, Role.DIMMING_LEVEL),
                           lighting_entries(site.agenda, cabinet.id))
                          for cabinet in site.cabinets]
        self._written: dict[str, float] = {}

    @property
    def world(self) -> VirtualCommune:
        return self.harness.world

    @property
    def learned(self) -> Learned | None:
        strategy = self.harness.strategy
        return strategy.after if isinstance(strategy, Handover) else None

    def run(self, until: datetime, record_from: datetime,
            progress: Callable[[int], None] | None = None) -> Recording:
        """Drive the commune from where it stands to ``until`` (whole control steps),
        reading its points from ``record_from`` on; ``progress`` hears of each day."""
        world = self.world
        steps = max(0, math.floor((until - self.now) / _STEP))
        start = self.now
        # The presence at every physics step, from the lights' delay before now.
        lead = round((_LIT_AFTER.total_seconds() + PRESENCE_HOLD_S) / PHYSICS_STEP_S)
        instants = np.asarray(start.timestamp() + PHYSICS_STEP_S * np.arange(
            -lead, steps * STEPS_PER_CONTROL + 1), dtype=np.float64)
        present: NDArray[np.bool_] = np.asarray(world.occupants.counts(instants) > 0)
        hold = round(PRESENCE_HOLD_S / PHYSICS_STEP_S)
        keys = [key for key, _, _ in self._zone_points]
        modes = [zone_mode_key(key) for key in world.zone_keys]
        signals = slice(len(keys), len(keys) + len(self._signals))
        all_keys = [*keys, *self._signals, *modes, *self._rivers, *self._meters,
                    *self._outdoor]
        roles = [role for _, role, _ in self._zone_points]
        coarse = np.array([role in _COARSE_ROLES for role in roles] + [False] * len(
            self._signals) + [True] * (len(all_keys) - len(roles) - len(self._signals)))
        first = max(0, math.ceil((record_from - start) / _STEP))
        times = np.array([round(start.timestamp() + CONTROL_STEP_S * c)
                          for c in range(first, steps)], dtype=np.int64)
        values = np.full((len(times), len(all_keys)), np.nan)
        zones = len(world.zone_keys)
        role_rows = {Role.ZONE_TEMPERATURE: 0, Role.HEATING_SETPOINT: 1, Role.HEATING_MODE: 2,
                     Role.VALVE: 3, Role.CO2: 4, Role.LIGHTING_RELAY: 5, Role.OCCUPANCY: 6}
        where = np.array([role_rows[role] * zones + i for _, role, i in self._zone_points],
                         dtype=np.int64)
        modes_at = slice(signals.stop, signals.stop + len(modes))
        rivers = slice(modes_at.stop, modes_at.stop + len(self._rivers))
        meters = slice(rivers.stop, rivers.stop + len(self._meters))
        for c in range(steps):
            now = start + c * _STEP
            k = lead + c * STEPS_PER_CONTROL  # index of now in ``present``
            if self.fault is not None:
                active = self.fault.active(now)
                world.stick_valve(self.fault.zone, self.fault.opening if active else None)
                world.open_windows(self.fault.zone, self.fault.air_changes if active else 0.0)
            row = c - first
            if row >= 0:
                detector = present[k - hold : k + 1].any(axis=0)
                state = np.concatenate([world.network.air[:zones], world.setpoint, world.mode,
                                        100.0 * world.thermostat.valve[:zones],
                                        world.co2[:zones], world.lighting[:zones], detector])
                values[row, : len(keys)] = state[where]
                values[row, signals] = [world.read(key) for key in self._signals]
                values[row, rivers] = [world.read(key) for key in self._rivers]
                if times[row] % 3600 == 0:
                    values[row, meters] = [world.read(key) for key in self._meters]
            self.harness.control(now)
            if row >= 0:
                commands = self.harness.commands
                values[row, modes_at] = [
                    MODE_OF_LEVEL[commands[key].level] if key in commands else np.nan
                    for key in world.zone_keys]
            lit = np.asarray(present[k - lead : k + 1].any(axis=0))
            for i, relay in self._circuits:
                self._write(relay, float(lit[i]))
            self._light_cabinets(now)
            world.advance_to(now + _STEP)
            self.now = now + _STEP
            if progress is not None and (c + 1) % 96 == 0:
                progress(1)
        if len(times):
            outdoor, _ = world.weather.sample(times.astype(np.float64))
            values[:, meters.stop :] = outdoor[:, None]
        return Recording(times, all_keys, values, coarse, list(self._meters),
                         {key: world.read(key) for key in self._meters})

    def _light_cabinets(self, now: datetime) -> None:
        """Dusk to dawn at full power before the engine; its timetable since."""
        local = now.astimezone(self.site.tz)
        engine = self.takeover is not None and now >= self.takeover
        for cabinet, relay, dimming, entries in self._cabinets:
            if engine:
                decision = cabinet_decision(cabinet, self.site.latitude, self.site.longitude,
                                            local, entries)
                on, level = decision.on, decision.level
            else:
                sun = sun_times(self.site.latitude, self.site.longitude, self.site.tz,
                                local.date())
                on, level = not sun.sunrise <= local < sun.sunset, 100.0
            if relay is not None:
                self._write(relay, float(on))
            if dimming is not None and on:
                self._write(dimming, level)

    def _write(self, key: str, value: float) -> None:
        """Only what changed, as the engine writes."""
        if self._written.get(key) != value:
            self.world.write(key, value)
            self._written[key] = value


def _role_key(cabinet: Cabinet, role: Role) -> str | None:
    return next((f"{cabinet.id}.{p.id}" for p in cabinet.points if p.role is role), None)


# -- the parts, in processes ------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One simulation of the history: some buildings, over [start, until), after a week of
    warm-up under the programme; the engine takes over at ``takeover`` (None: never)."""

    label: str
    site: Site
    seed: int
    start: datetime
    until: datetime
    takeover: datetime | None
    fault: Fault | None

    @property
    def days(self) -> int:
        return math.ceil((self.until - self.start + WARM_UP) / timedelta(days=1))


_REPORTS: Any = None  # a worker's queue for progress (set by its initializer)


def _listen(queue: Any) -> None:
    global _REPORTS
    _REPORTS = queue


def _play(part: Part, report: Callable[[int], None]) -> tuple[Recording, CommuneRun]:
    run = CommuneRun(part.site, part.seed, part.start - WARM_UP, part.until, part.takeover,
                     part.fault)
    return run.run(part.until, part.start, report), run


def _run_part(n: int, part: Part) -> tuple[Recording, CommuneRun]:
    """A part in a worker process, telling the main one of its progress."""
    def report(days: int) -> None:
        if _REPORTS is not None:
            _REPORTS.put((n, days))

    return _play(part, report)


def building_groups(site: Site, groups: int) -> list[tuple[str, ...]]:
    """Up to ``groups`` groups of buildings of about as many zones each, every one with an
    outdoor temperature point (the learning controller reads it); one group when the
    site has fewer buildings with one."""
    outdoor = [b for b in site.buildings
               if any(p.role is Role.OUTDOOR_TEMPERATURE for p in b.points)]
    if groups < 2 or len(outdoor) < 2:
        return [tuple(b.id for b in site.buildings)]
    chosen = [[b] for b in outdoor[:groups]]
    rest = sorted((b for b in site.buildings if all(b not in g for g in chosen)),
                  key=lambda b: -len(b.zones))
    for building in rest:
        min(chosen, key=lambda g: sum(len(b.zones) for b in g)).append(building)
    order = {b.id: i for i, b in enumerate(site.buildings)}
    return [tuple(sorted((b.id for b in g), key=order.__getitem__)) for g in chosen]


def _group_site(site: Site, buildings: Sequence[str], first: bool) -> Site:
    """A group's part of the site; the cabinets and equipment go with the first group."""
    part = restrict(site, buildings)
    return part if first else part.model_copy(update={"cabinets": (), "equipment": ()})


def _simulate(parts: Sequence[Part], workers: int,
              done: Callable[[int, Recording, CommuneRun], None],
              progress: Progress | None) -> None:
    """Run the parts, in ``workers`` processes (1: in this one), calling ``done`` in
    order of the parts as each becomes available."""
    tasks: list[TaskID] = [progress.add_task(part.label, total=part.days) for part in parts
                           ] if progress is not None else []

    def advance(n: int, days: int) -> None:
        if progress is not None:
            progress.advance(tasks[n], days)

    if workers <= 1:
        for n, part in enumerate(parts):
            done(n, *_play(part, functools.partial(advance, n)))
        return
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    ready: dict[int, tuple[Recording, CommuneRun]] = {}
    handed = 0
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_listen,
                             initargs=(queue,)) as pool:
        futures: dict[Future[tuple[Recording, CommuneRun]], int] = {
            pool.submit(_run_part, n, part): n for n, part in enumerate(parts)}
        pending = set(futures)
        while pending or handed < len(parts):
            finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            while True:
                try:
                    advance(*queue.get_nowait())
                except Empty:
                    break
            for future in finished:
                ready[futures[future]] = future.result()
            while handed in ready:
                done(handed, *ready.pop(handed))
                handed += 1


# -- the history -----------------------------------------------------------------------


@dataclass
class HistoryState:
    """Where the history's simulation stopped, to carry it on: pickled beside the cache."""

    version: int
    seed: int
    start: datetime
    takeover: datetime
    end: datetime
    fault: Fault | None
    days: tuple[int, int]
    """Days of the baseline and of the engine, as asked (the end moves on: ``extend``)."""
    runs: list[CommuneRun] = field(default_factory=list)

    @property
    def baseline(self) -> tuple[date, date]:
        """The baseline period: from the history's start to the eve of the takeover."""
        tz = self.takeover.tzinfo
        return (self.start.astimezone(tz).date(),
                self.takeover.astimezone(tz).date() - timedelta(days=1))

    @property
    def worlds(self) -> list[VirtualCommune]:
        return [run.world for run in self.runs]


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tz)


def generate(site: Site, seed: int, store: Store, end: datetime, *,
             baseline_days: int = BASELINE_DAYS, engine_days: int = ENGINE_DAYS,
             fault: Fault | str | None = "default", workers: int = 2,
             progress: Progress | None = None) -> HistoryState:
    """Simulate the history up to ``end`` (a local midnight: the engine took over
    ``engine_days`` earlier, the baseline year began ``baseline_days`` before that) into
    ``store``, which should be empty; returns where it stopped."""
    tz = site.tz
    last = end.astimezone(tz).date()
    takeover = _midnight(last - timedelta(days=engine_days), tz)
    start = _midnight(takeover.date() - timedelta(days=baseline_days), tz)
    end = _midnight(last, tz)
    chosen = default_fault(site, takeover, end) if fault == "default" else fault
    assert not isinstance(chosen, str)
    # The baseline year in as many stretches of time as workers (each after its warm-up
    # week), the engine's year in groups of buildings; every meter goes on from the last
    # index of the part before it.
    cuts = [start + (takeover - start) * i / max(1, workers) for i in range(workers + 1)]
    cuts = [_midnight(cut.astimezone(tz).date(), tz) for cut in cuts[:-1]] + [takeover]
    parts = [Part(f"programme d'origine, {a:%m/%Y} → {b:%m/%Y}", site, seed, a, b,
                  None, None) for a, b in itertools.pairwise(cuts) if a < b]
    first_engine = len(parts)
    parts += [Part(f"moteur : {', '.join(g)}", _group_site(site, g, n == 0), seed, takeover,
                   end, takeover, chosen)
              for n, g in enumerate(building_groups(site, workers))]
    state = HistoryState(VERSION, seed, start, takeover, end, chosen,
                         (baseline_days, engine_days))
    fine_from = round((end - timedelta(days=FINE_DAYS)).timestamp())
    finals: dict[str, float] = {}
    writing: list[TaskID] = []

    def done(n: int, recording: Recording, run: CommuneRun) -> None:
        if progress is not None and not writing:
            writing.append(progress.add_task("écriture dans le stockage", total=len(parts)))
        shift = {key: finals[key] - recording.values[0, k]
                 for k, key in enumerate(recording.keys)
                 if key in recording.meters and key in finals}
        recording.shift_meters(shift)
        for key, value in shift.items():
            run.world.meter_index[key] = run.world.meter_index.get(key, 0.0) + value
        if n < first_engine:
            finals.update(recording.final)
        else:
            state.runs.append(run)
        for batch in recording.samples(fine_from):
            store.samples.write(batch)
        if n == first_engine - 1:  # the baseline year is complete: its rollups, meanwhile
            store.rollups.compute(start, takeover)
            store.rollups.keep_monthly(start.date(), takeover.date() - timedelta(days=1), tz)
        if progress is not None:
            progress.advance(writing[0])

    _simulate(parts, workers, done, progress)
    refs = len(list(site.points()))
    said = f"{refs} points, site {site.id}"
    store.audit.record(takeover, "engine", "engine", "Moteur démarré", reason=said,
                       site=site.id, message_en="Engine started", reason_en=said)
    _settle(site, store, state, takeover, end, progress)
    return state


def _settle(site: Site, store: Store, state: HistoryState, first: datetime, end: datetime,
            progress: Progress | None) -> None:
    """What the engine's jobs do as time goes: rollups and monthly totals, the zones'
    learning kept, the daily efficiency check of each day up to ``end``, retention."""
    tz = site.tz
    store.rollups.compute(first, end)
    store.rollups.keep_monthly(first.astimezone(tz).date(), end.astimezone(tz).date(), tz)
    for run in state.runs:
        if run.learned is not None:
            for zone, learner in run.learned.learners.items():
                store.learning.save(zone, learner.learned(), at=end)
    watch = EfficiencyWatch(store, site, baseline=state.baseline,
                            min_baseline_days=min(MIN_BASELINE_DAYS, state.days[0] * 9 // 10))
    day = first.astimezone(tz).date()
    days = [day + timedelta(days=i) for i in range((end.astimezone(tz).date() - day).days + 1)]
    checks = [c for c in (datetime.combine(d, CHECK_AFTER, tz) for d in days)
              if max(first, state.takeover) < c <= end]
    task = progress.add_task("surveillance des dérives, jour par jour", total=len(checks)) \
        if progress and checks else None
    for moment in checks:
        watch.check(moment)
        if progress is not None and task is not None:
            progress.advance(task)
    store.samples.delete_before(end - timedelta(days=RAW_DAYS), keep_unshipped=False)


def extend(site: Site, store: Store, state: HistoryState, until: datetime,
           progress: Progress | None = None) -> None:
    """Carry the history on from where it stopped to ``until`` (every 15 minutes, all
    points), with the jobs' work of the days crossed."""
    began = state.end
    if until - began < _STEP:
        return
    task = progress.add_task("jusqu'à maintenant", total=len(state.runs)) if progress \
        else None
    for run in state.runs:
        recording = run.run(until, began)
        for batch in recording.samples(0):
            store.samples.write(batch)
        if progress is not None and task is not None:
            progress.advance(task)
    state.end = state.runs[0].now if state.runs else began
    _settle(site, store, state, began, state.end, progress)


# -- the demo's cache ------------------------------------------------------------------


def digest(site_file: Path) -> str:
    """What the cached history depends on: the site file and the code that makes it."""
    root = Path(__file__).resolve().parents[2]
    sha = hashlib.sha256(f"{VERSION}\n".encode())
    sha.update(site_file.read_bytes())
    for name in _CODE:
        path = root / name
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            sha.update(source.relative_to(root).as_posix().encode())
            sha.update(source.read_bytes())
    return sha.hexdigest()[:16]


@dataclass
class History:
    """The demo's history, in its store: where it began, when the engine took over, the
    fault, and the simulated worlds at its end for the live demo to carry on."""

    start: datetime
    takeover: datetime
    end: datetime
    fault: Fault | None
    worlds: list[VirtualCommune]
    generated: bool
    """Made now (False: taken from the cache)."""


def demo_history(site_file: Path, seed: int, db: Path, until: datetime, *,
                 days: tuple[int, int] = (BASELINE_DAYS, ENGINE_DAYS), workers: int = 2,
                 progress: Progress | None = None) -> History:
    """Make ``db`` (a new store) with the demo's history up to ``until``: from the cache
    beside it when there is one fresh enough, else made and cached. ``days``: of the
    baseline and of the engine (shorter for tests)."""
    site = load_site(site_file)
    cache = db.parent / f"demo-history-{seed}-{digest(site_file)}.sqlite"
    state_file = cache.with_suffix(".state")
    state = _cached(state_file)
    generated = state is None or state.days != days or not (
        state.end <= until <= state.end + MAX_EXTENSION)
    if generated:
        state = _make_cache(site, seed, cache, state_file, until, days, workers, progress)
    assert state is not None
    # Made beside the store and put in its place once whole: a demo stopped meanwhile
    # leaves no half-made store for the next start to take up.
    part = db.with_name(db.name + ".part")
    remove_store(part)
    with closing(sqlite3.connect(cache)) as source, closing(sqlite3.connect(part)) as copy:
        source.backup(copy)
    with Store(part) as store:
        extend(site, store, state, until, progress)
    remove_store(db)
    os.replace(part, db)
    return History(state.start, state.takeover, state.end, state.fault, state.worlds,
                   generated)


def where_it_stopped(site: Site, db: Path) -> tuple[datetime | None, dict[str, float]]:
    """Where a demo's store ends, for the demo to take up from (``VirtualSite``'s
    ``taking_up``): its last moment (its last sample or event, the engine's stop; None
    when it has neither) and the last value read of each of the site's points."""
    keys = {ref.key for ref in site.points()}
    with Store(db) as store:
        latest = store.samples.latest_all()
        last_event = store.audit.events(limit=1)
    moments = [sample.ts for sample in latest.values()] + [e.ts for e in last_event]
    readings = {key: sample.value for key, sample in latest.items()
                if key in keys and sample.value is not None}
    return max(moments, default=None), readings


def commands(site: Site, readings: dict[str, float]) -> dict[str, float]:
    """The readings of the points the engine commands: what their devices held."""
    commanded = {ref.key for ref in site.points() if ref.point.writable}
    return {key: value for key, value in readings.items() if key in commanded}


def remove_store(db: Path) -> None:
    """Remove a store: its file and SQLite's write-ahead log and shared memory beside it."""
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        path.unlink(missing_ok=True)


def _cached(state_file: Path) -> HistoryState | None:
    try:
        with state_file.open("rb") as file:
            state = pickle.load(file)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    if not isinstance(state, HistoryState) or state.version != VERSION:
        return None
    if not state_file.with_suffix(".sqlite").is_file():
        return None
    return state


def _make_cache(site: Site, seed: int, cache: Path, state_file: Path, until: datetime,
                days: tuple[int, int], workers: int, progress: Progress | None
                ) -> HistoryState:
    cache.parent.mkdir(parents=True, exist_ok=True)
    part = cache.with_name(cache.name + ".part")
    remove_store(part)
    with Store(part) as store:
        state = generate(site, seed, store, _midnight(until.astimezone(site.tz).date(),
                                                      site.tz),
                         baseline_days=days[0], engine_days=days[1], workers=workers,
                         progress=progress)
    with closing(sqlite3.connect(part)) as conn:
        conn.execute("VACUUM")
    os.replace(part, cache)
    state_part = state_file.with_name(state_file.name + ".part")
    with state_part.open("wb") as file:
        pickle.dump(state, file, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(state_part, state_file)
    return state
