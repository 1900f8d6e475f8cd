"""Heating-season benchmark: ``gtb bench heating``, strategies compared on the same season.

One heating season (1 October to 30 April, after a week of warm-up) of the demo commune
is simulated for each strategy and weather year by the season harness (``gtb.sim.season``).
Every strategy sees the same occupants and the same weather, and uses the same comfort
levels, so what differs is *when* each one heats, and that comes from what it knows:
nothing but the clock (``always``), a building's boiler clock as found before any
management (``as_found``), the programme and the holidays (``fixed``), what sensors show
(``learned``, the project's controller). Beside them, a lower bound no strategy can beat
(``gtb.bench.bound``: the least net heat with perfect knowledge, by linear programming).
Energy comes from the buildings' heating meters, comfort from the true air temperatures
during the true occupied time. docs/heating-bench.md gives the method and the figures.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress

from controllers.schedule import FrenchCalendar, programmed_periods
from gtb.bench.bound import BLOCK_DAYS, LEAD_IN, Block, bound_span
from gtb.bench.plots import plot, require_matplotlib
from gtb.config import load_site
from gtb.model import BuildingUse, Programme, Site
from gtb.sim.season import (
    CONTROL_STEP_S,
    PHYSICS_STEP_S,
    REFERENCE_STRATEGIES,
    STRATEGIES,
    WARM_UP,
    Run,
    restrict,
    simulate,
    zone_levels,
)
from gtb.sim.thermal import FloatArray

DISCOMFORT_BELOW_K = 0.5  # occupied and more than this below comfort: discomfort (K·h)
MISS_BELOW_K = 1.0  # occupied and more than this below comfort: MissTime (minutes)
YEARS = (1, 2, 3)
"""Seeds of the weather years (``typical=False``: the years differ) and of the occupants."""
SEASON_YEAR = 2025
"""The season runs from 1 October of this year to 30 April of the next."""
BOUND = "bound"
BOUND_TASK_DAYS = 28
"""Days of one building's bound computed by one task of the pool."""
WINTER_COLD_START = (12, 1)
"""Month and day of ``SEASON_YEAR`` from which a second cold start of ``learned`` is
measured (the first Monday from then): an engine installed in winter, when every zone
needs heat, beside the one at the start of the season's warm-up, when a well-insulated
building may need none for weeks."""
COLD_START_DAYS = 21
"""How long that second cold start is followed: three weeks, before the Christmas
holidays."""


def season(year: int = SEASON_YEAR, tz: tzinfo | None = None) -> tuple[datetime, datetime]:
    """1 October of ``year`` 00:00 to 1 May of the next year 00:00, local time."""
    return (datetime(year, 10, 1, tzinfo=tz), datetime(year + 1, 5, 1, tzinfo=tz))


# -- metrics --------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """A building's (or a kind of building's, or the commune's) figures over the counted
    period."""

    heat_kwh: float
    """Heat produced: delivered to the emitters, and a boiler's standby losses."""
    delivered_kwh: float
    standby_kwh: float
    stored_kwh: float
    """Change of the heat stored in the zones over the period (air, structure, emitters)."""
    kwh_m2: float
    """Heat produced per m² of floor."""
    discomfort_kh: float
    """Occupied time below comfort - 0.5 K, weighted by the deficit, K·h (zones summed)."""
    misstime_min: float
    """Occupied time more than 1 K below comfort, minutes (zones summed)."""
    occupied_h: float
    """Occupied time, hours (zones summed): the bound of MissTime."""

    @property
    def net_kwh(self) -> float:
        """Delivered less what was left stored: what the bound bounds."""
        return self.delivered_kwh - self.stored_kwh

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


_SUMMED = ("heat_kwh", "delivered_kwh", "standby_kwh", "stored_kwh", "discomfort_kh",
           "misstime_min", "occupied_h")


def _grouped(site: Site, rows: dict[str, FloatArray], build: Callable[..., Any]
             ) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """Per building, per kind of building (``use``) and for the commune: ``build`` of the
    summed rows and the floor area."""
    def summed(ids: list[str]) -> Any:
        area = sum(b.floor_area_m2 for b in site.buildings if b.id in ids)
        return build(sum(rows[i] for i in ids), area)

    uses = dict.fromkeys(b.use for b in site.buildings)
    return ({b.id: summed([b.id]) for b in site.buildings},
            {use: summed([b.id for b in site.buildings if b.use == use]) for use in uses},
            summed([b.id for b in site.buildings]))


def _figures(row: FloatArray, area: float) -> Figures:
    values = dict(zip(_SUMMED, (float(v) for v in row), strict=True))
    return Figures(kwh_m2=values["heat_kwh"] / area, **values)


def figures(site: Site, runs: Sequence[Run]
            ) -> tuple[dict[str, Figures], dict[str, Figures], Figures]:
    """Per building, per kind of building and for the commune, averaged over the runs
    (one per weather year)."""
    comfort = np.array([levels.comfort for _, levels in zone_levels(site)])
    owner = [b.id for b in site.buildings for _ in b.zones]
    rows = {b.id: np.zeros(len(_SUMMED)) for b in site.buildings}
    for run in runs:
        discomfort, miss, occupied = zone_comfort(run, comfort)
        for b in site.buildings:
            mine = np.array([o == b.id for o in owner])
            rows[b.id] += (run.heat_kwh[b.id], run.heat_kwh[b.id] - run.standby_kwh[b.id],
                           run.standby_kwh[b.id], run.stored_kwh[b.id],
                           discomfort[mine].sum(), miss[mine].sum(), occupied[mine].sum())
    return _grouped(site, {b: row / len(runs) for b, row in rows.items()}, _figures)


def _bound_figures(row: FloatArray, area: float) -> dict[str, float]:
    return {"net_kwh": round(float(row[0]), 2), "kwh_m2": round(float(row[0]) / area, 2),
            "heat_kwh": round(float(row[1]), 2)}


def bound_figures(site: Site, blocks: dict[tuple[int, str], list[Block]],
                  tolerance_k: float = DISCOMFORT_BELOW_K) -> dict[str, Any]:
    """The bound per building, kind of building and commune, averaged over the years:
    ``net_kwh`` (the bound), ``heat_kwh`` (the heat of one of the LPs' optima), its
    occupied air held at least ``tolerance_k`` below comfort."""
    years = {seed for seed, _ in blocks}
    rows = {b.id: np.zeros(2) for b in site.buildings}
    for (_, building), found in blocks.items():
        rows[building] += (sum(b.net_kwh for b in found), sum(b.heat_kwh for b in found))
    buildings, uses, total = _grouped(site, {b: r / len(years) for b, r in rows.items()},
                                      _bound_figures)
    return {"buildings": buildings, "uses": uses, "total": total,
            "lead_in_h": LEAD_IN.total_seconds() / 3600, "block_days": BLOCK_DAYS,
            "tolerance_k": tolerance_k}


def _pct_saved(energy: float, reference: float) -> float:
    return round(100.0 * (1.0 - energy / reference), 1) if reference > 0 else 0.0


REFERENCES = ("fixed", "as_found", "always")


def _summary(total: dict[str, Figures], bound_kwh: float | None) -> dict[str, Any]:
    """Savings against each reference, net heat against the bound, comfort, delivered
    heat and standby, each by strategy."""
    summary: dict[str, dict[str, float]] = {
        **{f"savings_vs_{reference}_pct": {} for reference in REFERENCES},
        "net_heat_vs_bound_ratio": {}, "discomfort_kh": {}, "misstime_min": {},
        "delivered_kwh": {}, "standby_kwh": {}}
    for name, found in total.items():
        for reference in REFERENCES:
            if name != reference and reference in total:
                summary[f"savings_vs_{reference}_pct"][name] = _pct_saved(
                    found.heat_kwh, total[reference].heat_kwh)
        if bound_kwh is not None and bound_kwh > 0:
            summary["net_heat_vs_bound_ratio"][name] = round(found.net_kwh / bound_kwh, 3)
        summary["discomfort_kh"][name] = round(found.discomfort_kh, 2)
        summary["misstime_min"][name] = round(found.misstime_min, 1)
        summary["delivered_kwh"][name] = round(found.delivered_kwh, 1)
        summary["standby_kwh"][name] = round(found.standby_kwh, 1)
    return summary


def report(site: Site, runs: Sequence[Run], start: datetime, end: datetime,
           years: Sequence[int], blocks: dict[tuple[int, str], list[Block]] | None = None,
           winter: tuple[datetime, Sequence[Mapping[str, datetime]]] | None = None,
           bound_tolerance_k: float = DISCOMFORT_BELOW_K) -> dict[str, Any]:
    """The JSON of ``gtb bench heating``: season, years, per strategy, the bound, and the
    summary; ``winter``: a second cold start of ``learned`` and the first pre-heats its
    runs learned."""
    names = list(dict.fromkeys(run.strategy for run in runs))
    strategies: dict[str, Any] = {}
    total: dict[str, Figures] = {}
    by_use: dict[str, dict[str, Figures]] = {}
    for name in names:
        buildings, uses, total[name] = figures(site, [r for r in runs if r.strategy == name])
        for use, found in uses.items():
            by_use.setdefault(use, {})[name] = found
        strategies[name] = {"buildings": {b: f.as_dict() for b, f in buildings.items()},
                            "uses": {u: f.as_dict() for u, f in uses.items()},
                            "total": total[name].as_dict()}
    bound = None if blocks is None else bound_figures(site, blocks, bound_tolerance_k)
    summary = _summary(total, None if bound is None else bound["total"]["net_kwh"])
    summary["uses"] = {use: _summary(found, None if bound is None
                                     else bound["uses"][use]["net_kwh"])
                       for use, found in by_use.items()}
    result: dict[str, Any] = {
        "season": {"start": start.date().isoformat(),
                   "end": (end - timedelta(days=1)).date().isoformat(),
                   "warm_up_days": WARM_UP.days, "physics_step_s": PHYSICS_STEP_S,
                   "control_step_s": CONTROL_STEP_S,
                   "figures": "per season, averaged over the years"},
        "years": list(years),
        "strategies": strategies,
        "summary": summary,
    }
    learned = [run for run in runs if run.strategy == "learned"]
    if learned:
        result["first_learned_preheat"] = first_learned_preheats(
            site, [run.first_preheats for run in learned], start - WARM_UP)
    if winter is not None:
        began, seen = winter
        result["first_learned_preheat_winter"] = first_learned_preheats(site, seen, began)
    if bound is not None:
        result[BOUND] = bound
    return result


def first_learned_preheats(site: Site, runs: Sequence[Mapping[str, datetime]],
                           cold_start: datetime) -> dict[str, Any]:
    """How soon a cold start learns: the working day of each zone's first learned
    pre-heat, its own working days counted (the days its programme has a period, with the
    calendar's holidays, from the cold start's day on: a library closed on Mondays learns
    nothing on a Monday), the latest over the runs (each run's first pre-heats by zone;
    None: none in a run), and the latest of all zones."""
    calendar = FrenchCalendar(site.school_zone, site.alsace_moselle)
    first = cold_start.astimezone(site.tz).date()

    def working_day(programme: Programme, use: BuildingUse | str, day: date) -> int:
        days = (first + timedelta(days=n) for n in range((day - first).days + 1))
        return sum(1 for d in days if programmed_periods(programme, calendar, use, d))

    zones: dict[str, int | None] = {}
    for building in site.buildings:
        for zone in building.zones:
            key = f"{building.id}.{zone.id}"
            programme = site.programme_of(building, zone)
            seen = [run.get(key) for run in runs]
            zones[key] = (None if any(when is None for when in seen) else max(
                working_day(programme, building.use, when.astimezone(site.tz).date())
                for when in seen if when))
    known = [day for day in zones.values() if day is not None]
    return {"cold_start": first.isoformat(), "zones": zones,
            "latest": None if len(known) < len(zones) else max(known)}


# -- the whole bench ------------------------------------------------------------------


def _season_task(site_file: str, buildings: tuple[str, ...] | None, strategy: str, seed: int,
                 start: datetime, end: datetime, plots: Path | None
                 ) -> tuple[Run, list[Path]]:
    """One run, and its plots when asked: in the worker, so plots are drawn in parallel."""
    site = restrict(load_site(site_file), buildings)
    run = simulate(site, strategy, seed, start, end)
    return run, [] if plots is None else plot(site, run, plots)


_BOUND_SOURCES = ("gtb/bench/bound.py", "gtb/sim/thermal.py", "gtb/sim/world.py",
                  "gtb/sim/occupants.py", "gtb/sim/weather.py", "gtb/sim/season.py")
"""What a bound follows from, besides the site file and its arguments."""


def _bound_key(site_file: str, *arguments: object) -> str:
    """A digest of everything a span's bound follows from: the site file, the
    arguments and settings, and the code of the bound and of the simulator."""
    digest = hashlib.sha256(Path(site_file).read_bytes())
    root = Path(__file__).resolve().parent.parent.parent
    for source in _BOUND_SOURCES:
        digest.update((root / source).read_bytes())
    digest.update(repr((arguments, LEAD_IN, BLOCK_DAYS)).encode())
    return digest.hexdigest()[:32]


def _cold_start_task(site_file: str, buildings: tuple[str, ...] | None, seed: int,
                     begin: datetime, end: datetime) -> dict[str, datetime]:
    """``learned`` from no history at ``begin`` until ``end``, without warm-up: when each
    zone's first learned pre-heat started."""
    site = restrict(load_site(site_file), buildings)
    return simulate(site, "learned", seed, begin, end, warm_up=timedelta(0)).first_preheats


def winter_cold_start(tz: tzinfo | None) -> datetime:
    """The first Monday from ``WINTER_COLD_START`` in ``SEASON_YEAR``, at midnight."""
    day = date(SEASON_YEAR, *WINTER_COLD_START)
    day += timedelta(days=-day.weekday() % 7)
    return datetime.combine(day, datetime.min.time(), tzinfo=tz)


def _bound_task(site_file: str, buildings: tuple[str, ...] | None, seed: int, building: str,
                first: date, last: date, counted_from: datetime, cache: Path | None,
                tolerance_k: float = DISCOMFORT_BELOW_K) -> list[Block]:
    """One building's bound over local days [first, last), occupied air at least
    ``tolerance_k`` below comfort, from ``cache`` when it holds it (a bound depends on
    nothing a strategy does: computed once, it is reused)."""
    stored = None
    if cache is not None:
        key = _bound_key(site_file, buildings, seed, building, first, last, counted_from,
                         tolerance_k)
        stored = cache / f"{key}.json"
        if stored.exists():
            return [Block(date.fromisoformat(b["first"]), date.fromisoformat(b["last"]),
                          b["net_kwh"], b["heat_kwh"])
                    for b in json.loads(stored.read_text(encoding="utf-8"))]
    site = restrict(load_site(site_file), buildings)
    blocks = bound_span(site, seed, building, first, last, tolerance_k=tolerance_k,
                        counted_from=counted_from, began=counted_from - WARM_UP)
    if stored is not None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_text(json.dumps([{**asdict(b), "first": b.first.isoformat(),
                                       "last": b.last.isoformat()} for b in blocks]),
                          encoding="utf-8")
    return blocks


class _InProcess(Executor):
    """Runs each task when submitted: the bench with one worker, in this process."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def bench_heating(site_file: Path, years: Sequence[int] = YEARS,
                  strategies: Sequence[str] = tuple(STRATEGIES), bound: bool = True,
                  period: tuple[datetime, datetime] | None = None,
                  buildings: Sequence[str] | None = None, plots: Path | None = None,
                  workers: int = 2, progress: Progress | None = None,
                  bound_cache: Path | None = None,
                  cold_start: tuple[datetime, datetime] | None = None,
                  bound_tolerance_k: float = DISCOMFORT_BELOW_K) -> dict[str, Any]:
    """Every strategy over every weather year, and the bound when asked; the report, and
    plots of the first year.

    Seasons and the bound's spans are independent, so they go to a pool of ``workers``
    processes (1: in this one), the long seasons first. The bound's spans are kept in
    ``bound_cache`` when given, by a digest of all they follow from, and taken from it.
    ``cold_start`` (from, until): a second cold start of ``learned``, each weather year,
    to see how soon it learns there; by default, for the whole season,
    ``COLD_START_DAYS`` from ``winter_cold_start``. ``bound_tolerance_k``: how far below
    comfort the bound may hold occupied air (the bench's own tolerance by default; 0 is
    the bound of a controller that holds comfort itself, as a thermostat aims to).
    """
    if plots is not None:
        require_matplotlib()
    site = restrict(load_site(site_file), buildings)
    start, end = period or season(SEASON_YEAR, site.tz)
    picked = tuple(buildings) if buildings is not None else None
    # The long seasons first (``learned`` and the references built on it learn as they
    # go: several times the others' work), so that no worker is left with one at the end.
    seasons = [(str(site_file), picked, name, seed, start, end,
                plots if seed == years[0] else None)
               for name in sorted(strategies,
                                  key=lambda name: name not in ("learned", *REFERENCE_STRATEGIES))
               for seed in years]
    spans = []
    if bound:
        first, last = start.date(), end.astimezone(site.tz).date()
        cuts = [*range(0, (last - first).days, BOUND_TASK_DAYS), (last - first).days]
        spans = [(str(site_file), picked, seed, b.id, first + timedelta(days=a),
                  first + timedelta(days=z), start, bound_cache, bound_tolerance_k)
                 for seed in years for b in site.buildings
                 for a, z in itertools.pairwise(cuts)]
    if cold_start is None and period is None:
        winter = winter_cold_start(site.tz)
        cold_start = (winter, winter + timedelta(days=COLD_START_DAYS))
    colds = ([(str(site_file), picked, seed, *cold_start) for seed in years]
             if cold_start is not None and "learned" in strategies else [])
    track = (progress.add_task("saisons et bornes",
                               total=len(seasons) + len(colds) + len(spans))
             if progress else None)
    runs: list[Run] = []
    drawn: list[Path] = []
    blocks: dict[tuple[int, str], list[Block]] = {}

    def advance(_: Future[Any]) -> None:
        if progress is not None and track is not None:
            progress.advance(track)

    pool: Executor = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
                      if workers > 1 else _InProcess())
    with pool:
        ran = [pool.submit(_season_task, *task) for task in seasons]
        cold = [pool.submit(_cold_start_task, *task) for task in colds]
        bounded = [pool.submit(_bound_task, *task) for task in spans]
        every: list[Future[Any]] = [*ran, *cold, *bounded]
        for future in every:
            future.add_done_callback(advance)
        for future in ran:
            run, paths = future.result()
            runs.append(run)
            drawn.extend(paths)
        runs.sort(key=lambda run: list(strategies).index(run.strategy))  # as asked
        for task, future in zip(spans, bounded, strict=True):
            blocks.setdefault((task[2], task[3]), []).extend(future.result())
    result = report(site, runs, start, end, years, blocks if bound else None,
                    None if not colds or cold_start is None
                    else (cold_start[0], [future.result() for future in cold]),
                    bound_tolerance_k)
    if plots is not None:
        result["plots"] = [str(path) for path in drawn]
    return result


def summary_rows(result: dict[str, Any]) -> Iterator[tuple[str, ...]]:
    """What a person reads: one row per strategy, commune totals, then the bound."""
    summary = result["summary"]
    for name, figures_ in result["strategies"].items():
        total = figures_["total"]
        ratio = summary["net_heat_vs_bound_ratio"].get(name)
        yield (name, f"{total['heat_kwh']:,.0f}", f"{total['standby_kwh']:,.0f}",
               f"{total['kwh_m2']:.1f}", f"{total['discomfort_kh']:.1f}",
               f"{total['misstime_min']:.0f}",
               _signed(summary["savings_vs_fixed_pct"].get(name)),
               _signed(summary["savings_vs_as_found_pct"].get(name)),
               "—" if ratio is None else f"{ratio:.2f}")
    if BOUND in result:
        total = result[BOUND]["total"]
        yield (BOUND, f"{total['net_kwh']:,.0f}", "0", f"{total['kwh_m2']:.1f}", "0.0", "0",
               "—", "—", "1.00")


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f} %"
