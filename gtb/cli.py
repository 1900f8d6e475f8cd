"""The ``gtb`` command: the one place where the parts are wired together."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console, Group
from rich.live import Live
from rich.progress import Progress
from rich.table import Table

from gtb.clock import Clock, RealClock, SimulatedClock, monotonic
from gtb.config import SiteFileError, load_site
from gtb.engine import Engine, EngineSettings
from gtb.jobs import start_jobs
from gtb.model import Site
from gtb.store import Store

DEMO_SITE = Path(__file__).resolve().parent.parent / "sites" / "demo-commune.yaml"

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def _load(path: Path) -> Site:
    try:
        return load_site(path)
    except SiteFileError as exc:
        for error in exc.errors:
            errors.print(str(error), markup=False, highlight=False)
        noun = "error" if len(exc.errors) == 1 else "errors"
        errors.print(f"[red]{path}: {len(exc.errors)} {noun}[/red]")
        sys.exit(2)


@click.group()
@click.version_option(package_name="gtb")
def main() -> None:
    """GTB: building energy management for the public buildings of French communes."""


@main.command()
@click.argument("site_file", type=click.Path(dir_okay=False, path_type=Path))
def check(site_file: Path) -> None:
    """Validate SITE_FILE; exit 0 when valid, 2 with every error otherwise.

    A valid file whose lighting programmes break the arrêté of 27 December 2018 on light
    nuisance over the coming year is reported, rule by rule, and exits 1."""
    from controllers.light_nuisance import check_programme

    site = _load(site_file)
    refs = list(site.points())
    zones = sum(len(b.zones) for b in site.buildings)
    devices = Counter(protocol for protocol, _, _ in {ref.binding.endpoint for ref in refs})
    console.print(
        f"[green]{site_file}: valid[/green] — {site.name}: "
        f"{_count(len(site.buildings), 'building')}, {_count(zones, 'zone')}, "
        f"{_count(len(site.cabinets), 'lighting cabinet')}, "
        f"{_count(len(site.equipment), 'scheduled output')}, {_count(len(refs), 'point')} on "
        f"{devices['modbus']} Modbus and {devices['bacnet']} BACnet devices"
    )
    today = RealClock().now().astimezone(site.tz).date()
    breached = False
    for cabinet in site.cabinets:
        found = check_programme(cabinet, site.latitude, site.longitude, site.tz, today,
                                today + timedelta(days=364))
        if found:
            breached = True
            first = found[0]
            nights = len({breach.night for breach in found})
            console.print(f"[yellow]{cabinet.id}: {nights} night(s) of the coming year "
                          f"break the arrêté on light nuisance, first the night of "
                          f"{first.night:%d/%m/%Y}: {first.reason.fr}[/yellow]")
    if breached:
        sys.exit(1)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@main.command()
@click.argument("site_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="simulated seconds per real second")
@click.option("--seed", type=int, default=0, show_default=True,
              help="seed of the weather and the occupants")
@click.option("--start", "start_text", metavar="ISO-TIME",
              help="simulated start, e.g. 2026-01-12T06:00+01:00 (default: now)")
def sim(site_file: Path, speed: float, seed: int, start_text: str | None) -> None:
    """Serve the virtual buildings of SITE_FILE on loopback until interrupted."""
    from gtb.sim.runner import serve_virtual_site

    site = _load(site_file)
    start = _parse_start(start_text, site) if start_text else RealClock().now()
    clock = SimulatedClock(start.replace(microsecond=0), speed=speed)
    try:
        asyncio.run(serve_virtual_site(site, clock, seed=seed, console=console))
    except KeyboardInterrupt:
        console.print("stopped")


def _parse_start(text: str, site: Site) -> datetime:
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 time", param_hint="--start"
        ) from None
    return start if start.tzinfo else start.replace(tzinfo=site.tz)



@main.command()
@click.argument("site_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("var/gtb.sqlite"), show_default=True, help="the engine's store")
@click.option("--tick", "tick_s", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="seconds between two reads of every point")
@click.option("--bacnet-port", type=int, default=47808, show_default=True,
              help="UDP port of the engine's own BACnet/IP client")
def run(site_file: Path, db: Path, tick_s: float, bacnet_port: int) -> None:
    """Run the engine on the real devices of SITE_FILE."""
    site = _load(site_file)
    try:
        asyncio.run(serve_engine(site, db, RealClock(), speed=1.0, tick_s=tick_s,
                                 bacnet_port=bacnet_port))
    except KeyboardInterrupt:
        console.print("stopped")


@main.command()
@click.option("--site", "site_file", type=click.Path(dir_okay=False, path_type=Path),
              default=DEMO_SITE, show_default=True)
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="simulated seconds per real second")
@click.option("--seed", type=int, default=0, show_default=True,
              help="seed of the weather and the occupants")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("var/demo.sqlite"), show_default=True,
              help="the demo's store, started afresh each time")
@click.option("--bacnet-port", type=int, default=47808, show_default=True,
              help="UDP port of the engine's own BACnet/IP client")
def demo(site_file: Path, speed: float, seed: int, db: Path, bacnet_port: int) -> None:
    """The virtual commune and the engine on it, in one process."""
    from gtb.sim.runner import VirtualSite

    site = _load(site_file)
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    clock = SimulatedClock(RealClock().now().replace(microsecond=0), speed=speed)

    async def both() -> None:
        virtual = VirtualSite(site, clock, seed=seed)
        async with virtual.serving():
            console.print(f"virtual commune on loopback: {len(virtual.servers)} devices; "
                          f"speed ×{speed:g}; store {db} (new)")
            await serve_engine(site, db, clock, speed=speed, tick_s=60.0,
                               bacnet_port=bacnet_port)

    try:
        asyncio.run(both())
    except KeyboardInterrupt:
        console.print("stopped")


async def serve_engine(site: Site, db: Path, clock: Clock, *, speed: float, tick_s: float,
                       bacnet_port: int) -> None:
    """Wire store, drivers, engine and jobs; show the zones until interrupted."""
    from protocols.bacnet import BacnetDriver  # BAC0 takes most of a second to import
    from protocols.modbus import ModbusDriver

    _quiet_bac0()
    # A tick still running when the next is due is skipped, and APScheduler warns of it;
    # that is coalescing at work, not news. Job failures are events, printed by the jobs.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    # pymodbus logs every refused connection; the engine's alarms say it once, in French.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    db.parent.mkdir(parents=True, exist_ok=True)
    store = Store(db)
    drivers = {
        "modbus": ModbusDriver(now=monotonic),
        "bacnet": BacnetDriver(now=monotonic, port=bacnet_port),
    }
    engine = Engine(site, store, drivers, clock, EngineSettings(tick_s=tick_s))
    await engine.start()
    scheduler = None
    try:
        await engine.tick()
        scheduler = start_jobs(engine, store, clock, speed=speed, console=console)
        with Live(status_view(engine, store), console=console, refresh_per_second=1) as live:
            while True:
                await asyncio.sleep(1.0)
                live.update(status_view(engine, store))
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await engine.stop()
        store.close()


def status_view(engine: Engine, store: Store) -> Group:
    """The zones, then the lighting cabinets and scheduled outputs, as of the last tick."""
    outputs = Table(title="Éclairage public et équipements programmés")
    for column in ("", "état", "pourquoi"):
        outputs.add_column(column)
    for output in engine.outputs():
        if output.kind == "circuit":
            continue
        on, off = ("allumé", "éteint") if output.kind == "cabinet" else ("en marche", "arrêt")
        state = on if output.on else off
        if output.on and output.level is not None and output.level < 100:
            state += f" {output.level:.0f} %"
        outputs.add_row(output.name, state, output.reason.fr)
    return Group(zone_table(engine, store), outputs)


def zone_table(engine: Engine, store: Store) -> Table:
    """The zones as the engine last saw them: temperature, level, setpoint and why."""
    local = engine.clock.now().astimezone(engine.site.tz)
    alarms = len(store.active_alarms())
    table = Table(title=f"{engine.site.name} — {local:%a %d/%m/%Y %H:%M} — "
                        f"{alarms} alarme{'s' if alarms != 1 else ''}")
    for column in ("zone", "temp. °C", "niveau", "consigne °C", "pourquoi"):
        table.add_column(column)
    for zone in engine.zones():
        shown = "—" if zone.temperature is None else f"{zone.temperature:.1f}"
        if zone.quality != "ok":
            shown += f" ({zone.quality})"
        setpoint = "—" if zone.setpoint is None else f"{zone.setpoint:.1f}"
        table.add_row(zone.name, shown, zone.level.label.fr, setpoint, zone.reason.fr)
    return table


@main.group()
def bench() -> None:
    """Measure the engine on this machine (figures for the README)."""


@bench.command("engine")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
@click.option("--ticks", type=click.IntRange(min=5), default=50, show_default=True)
@click.option("--devices", type=click.IntRange(min=2), default=50, show_default=True,
              help="simulated devices of 100 points each, half Modbus and half BACnet")
def bench_engine_command(as_json: bool, ticks: int, devices: int) -> None:
    """Ticks of the real engine on 5,000 points over 50 devices on loopback."""
    from gtb.bench import bench_engine, summary_rows

    _quiet_bac0()
    with Progress(console=errors, transient=True) as progress:
        result = bench_engine(ticks=ticks, devices=devices, progress=progress)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    table = Table(title="gtb bench engine")
    for column in ("measure", "value", "target"):
        table.add_column(column)
    for row in summary_rows(result):
        table.add_row(*row)
    console.print(table)


@bench.command("heating")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
@click.option("--quick", is_flag=True, help="one weather year instead of three")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("bench-out/heating"), show_default=True,
              help="folder of the PNG plots (a cold and a mild week per building and strategy)")
@click.option("--site", "site_file", type=click.Path(dir_okay=False, path_type=Path),
              default=DEMO_SITE, show_default=True)
def bench_heating_command(as_json: bool, quick: bool, plots_dir: Path, site_file: Path) -> None:
    """A heating season (1 October to 30 April) of each strategy, on the same occupants
    and weather years."""
    from gtb.bench_heating import YEARS, bench_heating, summary_rows

    _load(site_file)  # a bad site file is reported here, not in a worker
    years = YEARS[:1] if quick else YEARS
    result = _timed_bench(lambda progress: bench_heating(
        site_file, years=years, plots=plots_dir, progress=progress))
    if as_json:
        _echo_json(result)
        return
    table = Table(title=f"gtb bench heating — saison {result['season']['start']} → "
                        f"{result['season']['end']}, années météo {result['years']}")
    for column in ("stratégie", "kWh chaleur", "kWh/m²", "inconfort K·h", "MissTime min",
                   "vs fixed", "vs always"):
        table.add_column(column)
    for row in summary_rows(result):
        table.add_row(*row)
    console.print(table)
    console.print(f"{len(result.get('plots', []))} figures dans {plots_dir}; "
                  f"{result['elapsed_s']} s")


@bench.command("lighting")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
@click.option("--site", "site_file", type=click.Path(dir_okay=False, path_type=Path),
              default=DEMO_SITE, show_default=True)
def bench_lighting_command(as_json: bool, site_file: Path) -> None:
    """A year of the site's public lighting cabinets against dusk to dawn at full power."""
    from gtb.bench_lighting import bench_lighting

    _load(site_file)  # a bad site file is reported here
    result = _timed_bench(lambda progress: bench_lighting(site_file, progress=progress))
    if as_json:
        _echo_json(result)
        return
    table = Table(title=f"gtb bench lighting — année {result['year']}")
    for column in ("armoire", "catégorie", "kWh", "heures allumées", "kWh crépuscule-aube",
                   "économie", "infractions"):
        table.add_column(column)
    for cabinet_id, row in result["cabinets"].items():
        table.add_row(cabinet_id, row["category"], f"{row['kwh']:,.0f}", f"{row['lit_h']:,.0f}",
                      f"{row['dusk_to_dawn_kwh']:,.0f}",
                      f"{row['savings_vs_dusk_to_dawn_pct']:.1f} %", str(row["breaches"]))
    summary = result["summary"]
    table.add_row("total", "", f"{summary['kwh']:,.0f}", "", f"{summary['dusk_to_dawn_kwh']:,.0f}",
                  f"{summary['savings_vs_dusk_to_dawn_pct']:.1f} %", str(summary["breaches"]))
    console.print(table)
    console.print(f"événements et ordres du maire respectés : {summary['events_honoured_pct']} % "
                  f"({summary['events']}); {result['elapsed_s']} s")


def _timed_bench(run: Callable[[Progress], dict[str, Any]]) -> dict[str, Any]:
    """A benchmark's result, run with a progress bar on stderr, with its ``elapsed_s``."""
    began = monotonic()
    with Progress(console=errors, transient=True) as progress:
        result = run(progress)
    result["elapsed_s"] = round(monotonic() - began, 1)
    return result


def _echo_json(result: dict[str, Any]) -> None:
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))


def _quiet_bac0() -> None:
    """BAC0 logs every start-up step at INFO: keep warnings and errors only."""
    import BAC0

    BAC0.log_level(logger="warning", stdout="warning", stderr="critical", log_file="warning",
                   log_this=False)


if __name__ == "__main__":
    main()
