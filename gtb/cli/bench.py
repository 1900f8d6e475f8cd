"""``gtb bench``: the benchmarks (gtb/bench/), with their tables for a person."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress
from rich.table import Table

from gtb.cli.common import DEMO_SITE, console, echo_json, errors, load_or_exit, quiet_bac0
from gtb.clock import monotonic


@click.group()
def bench() -> None:
    """Measure the engine on this machine (figures for the README)."""


@bench.command("engine")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
@click.option("--ticks", type=click.IntRange(min=5), default=50, show_default=True)
@click.option("--devices", type=click.IntRange(min=2), default=50, show_default=True,
              help="simulated devices of 100 points each, half Modbus and half BACnet")
def bench_engine_command(as_json: bool, ticks: int, devices: int) -> None:
    """Ticks of the real engine on 5,000 points over 50 devices on loopback."""
    from gtb.bench.engine import bench_engine, summary_rows

    quiet_bac0()
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


@bench.command("faults")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
@click.option("--no-process", is_flag=True,
              help="leave out the process part (gtb run killed, restarted, stopped)")
def bench_faults_command(as_json: bool, no_process: bool) -> None:
    """Every fault a real site throws, injected for real at the demo commune's devices,
    sensors and archive and at the engine's process, on a winter morning, against the
    same morning without any fault (the script names the demo's devices)."""
    from gtb.bench.faults import bench_faults, summary_rows

    quiet_bac0()
    # pymodbus logs every refused connection; the faults are the point, the alarms say so.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    with Progress(console=errors, transient=True) as progress:
        result = bench_faults(progress=progress, process=not no_process)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return
    table = Table(title=f"gtb bench faults — {result.start}, {result.minutes} min")
    for column in ("panne", "détectée (limite)", "levée après", "rétablie en", "écritures",
                   "échantillons en échec"):
        table.add_column(column)
    for row in summary_rows(result):
        table.add_row(*row)
    console.print(table)
    for name, met in result.targets().items():
        console.print(f"{'✓' if met else '✗'} {name}")
    for unsafe in result.unsafe[:10]:
        console.print(f"  dangereux : minute {unsafe.minute}, {unsafe.point} : {unsafe.what}")
    for storm in result.storms[:10]:
        console.print(f"  rafale : {storm.point} {storm.window} : {storm.writes} écritures, "
                      f"{storm.intent_changes} changements")


@bench.command("heating")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
@click.option("--quick", is_flag=True, help="one weather year instead of three")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("bench-out/heating"), show_default=True,
              help="folder of the PNG plots (a cold and a mild week per building and strategy)")
@click.option("--site", "site_file", type=click.Path(dir_okay=False, path_type=Path),
              default=DEMO_SITE, show_default=True)
@click.option("--bound-cache", "bound_cache", type=click.Path(file_okay=False, path_type=Path),
              default=Path("bench-out/heating-bound"), show_default=True,
              help="where the lower bound's spans are kept, to be computed once")
@click.option("--clairvoyant", is_flag=True,
              help="also run the clairvoyant reference: learned told the real occupants "
                   "(what a perfect occupancy forecast would be worth; not a controller)")
@click.option("--bound-tolerance", "bound_tolerance", type=click.FloatRange(0.0, 2.0),
              help="K below comfort the bound may hold occupied air (default: the bench's "
                   "tolerance, 0.5; 0: comfort itself, as a thermostat aims at)")
def bench_heating_command(as_json: bool, quick: bool, plots_dir: Path, site_file: Path,
                          bound_cache: Path, clairvoyant: bool,
                          bound_tolerance: float | None) -> None:
    """A heating season (1 October to 30 April) of each strategy, on the same occupants
    and weather years."""
    from gtb.bench.heating import DISCOMFORT_BELOW_K, YEARS, bench_heating, summary_rows
    from gtb.sim.season import REFERENCE_STRATEGIES, STRATEGIES

    load_or_exit(site_file)  # a bad site file is reported here, not in a worker
    years = YEARS[:1] if quick else YEARS
    result = _timed_bench(lambda progress: bench_heating(
        site_file, years=years, plots=plots_dir, progress=progress,
        bound_cache=bound_cache, bound_tolerance_k=(
            DISCOMFORT_BELOW_K if bound_tolerance is None else bound_tolerance),
        strategies=(*STRATEGIES, *REFERENCE_STRATEGIES) if clairvoyant else tuple(STRATEGIES)))
    if as_json:
        echo_json(result)
        return
    table = Table(title=f"gtb bench heating — saison {result['season']['start']} → "
                        f"{result['season']['end']}, années météo {result['years']}")
    for column in ("stratégie", "kWh chaleur", "dont veille", "kWh/m²", "inconfort K·h",
                   "MissTime min", "vs fixed", "vs as_found", "net / borne"):
        table.add_column(column)
    for row in summary_rows(result):
        table.add_row(*row)
    console.print(table)
    for key in ("first_learned_preheat", "first_learned_preheat_winter"):
        first = result.get(key)
        if first is not None:
            late = first["latest"]
            console.print(
                f"Premier préchauffage appris depuis un démarrage à froid ({first['cold_start']}) "
                + ("dans toutes les zones au plus tard le jour ouvré " + str(late) if late
                   else "pas dans toutes les zones : " + ", ".join(
                       zone for zone, day in first["zones"].items() if day is None)))
    console.print(f"{len(result.get('plots', []))} figures dans {plots_dir}; "
                  f"{result['elapsed_s']} s")


@bench.command("lighting")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
@click.option("--site", "site_file", type=click.Path(dir_okay=False, path_type=Path),
              default=DEMO_SITE, show_default=True)
def bench_lighting_command(as_json: bool, site_file: Path) -> None:
    """A year of the site's public lighting cabinets against dusk to dawn at full power."""
    from gtb.bench.lighting import bench_lighting

    load_or_exit(site_file)  # a bad site file is reported here
    result = _timed_bench(lambda progress: bench_lighting(site_file, progress=progress))
    if as_json:
        echo_json(result)
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


@bench.command("efficiency")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
@click.option("--var", "var", type=click.Path(file_okay=False, path_type=Path),
              default=Path("var"), show_default=True,
              help="where the demo's history is made once and cached")
def bench_efficiency_command(as_json: bool, var: Path) -> None:
    """How soon the daily check finds a loss of efficiency (the demo's stuck valve, faults
    planted in each heating meter's winter) and how often it raises one for nothing."""
    from gtb.bench.efficiency import bench_efficiency

    result = _timed_bench(lambda progress: bench_efficiency(DEMO_SITE, var, progress=progress))
    if as_json:
        echo_json(result)
        return
    fault = result["fault"]
    if fault is not None:
        console.print(f"vanne bloquée ({fault['zone']}) du {fault['start']} au {fault['end']} : "
                      f"alarme le {fault['raised_at'][:16]}, jour {fault['raised_on_day']} de "
                      f"la panne ; levée le {(fault['cleared_at'] or '—')[:16]}")
    table = Table(title="gtb bench efficiency — fautes plantées de 10 jours en hiver : "
                        "trouvées / plantées (jour médian de l'alarme) ; fausses alarmes "
                        "de l'année du moteur / de l'année de référence")
    excesses = list(next(iter(result["planted"].values())))
    table.add_column("compteur", min_width=16)
    for column in (*excesses, "fausses alarmes"):
        table.add_column(column, no_wrap=True)
    for meter, figures in result["planted"].items():
        cells = [f"{f['found']}/{f['faults']}"
                 + (f" j{f['median_day']:g}" if f["median_day"] is not None else "")
                 for f in figures.values()]
        table.add_row(meter, *cells, f"{result['false_alarms']['engine_year'][meter]} / "
                                     f"{result['false_alarms']['baseline_year'][meter]}")
    console.print(table)
    console.print(f"{result['elapsed_s']} s")


@bench.command("history")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
@click.option("--samples", type=click.IntRange(min=5000), default=1_000_000, show_default=True)
def bench_history_command(as_json: bool, samples: int) -> None:
    """Ship a million samples to a local InfluxDB 1.x, then drain the backlog of an hour's
    outage of a 5,000-point site."""
    from gtb.bench.history import bench_history

    result = _timed_bench(lambda progress: bench_history(samples=samples, progress=progress))
    if as_json:
        echo_json(result)
        return
    table = Table(title="gtb bench history — InfluxDB 1.x (Debian) sur la boucle locale")
    for column in ("mesure", "résultat", "objectif"):
        table.add_column(column)
    table.add_row("points envoyés par seconde", f"{result['points_per_s']:,}", "≥ 50 000")
    table.add_row(f"rattrapage d'une heure de panne ({result['outage_samples']:,} points)",
                  f"{result['drain_1h_outage_s']} s", "< 60 s")
    console.print(table)
    console.print(f"{result['samples']:,} échantillons; {result['elapsed_s']} s en tout")


@bench.command("web")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
@click.option("--days", type=click.IntRange(min=1, max=366), default=365, show_default=True,
              help="days of 5-minute samples in the store")
@click.option("--requests", type=click.IntRange(min=20), default=200, show_default=True,
              help="timed requests of each page")
def bench_web_command(as_json: bool, days: int, requests: int) -> None:
    """The panel's pages and a zone's year of raw data as CSV, over HTTP, on a store of
    50 zones holding a year of 5-minute samples."""
    from gtb.bench.web import bench_web

    result = _timed_bench(lambda progress: bench_web(days=days, requests=requests,
                                                     progress=progress))
    if as_json:
        echo_json(result)
        return
    table = Table(title=f"gtb bench web — {result['store']['zones']} zones, "
                        f"{result['store']['days']} jours au pas de 5 min")
    for column in ("mesure", "p50", "p95", "objectif"):
        table.add_column(column)
    for page in result["pages"].values():
        table.add_row(f"GET {page['path']}", f"{page['p50_ms']} ms", f"{page['p95_ms']} ms",
                      f"p95 < {result['targets']['page_p95_ms']} ms")
    table.add_row(f"export CSV brut d'une zone ({result['export']['bytes'] / 1e6:.0f} Mo)", "",
                  f"{result['export_1y_zone_s']} s",
                  f"< {result['targets']['export_1y_zone_s']:g} s")
    console.print(table)
    console.print(f"{result['store']['samples']:,} échantillons; {result['elapsed_s']} s en tout")


def _month(_context: click.Context, _option: click.Parameter, value: str) -> str:
    """A `--month` that names one, or the usage error saying why not."""
    from gtb.bench.lorawan import month_period

    try:
        month_period(value, UTC)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@bench.command("lorawan")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
@click.option("--month", default="2026-01", show_default=True, callback=_month,
              help="the winter month, YYYY-MM (after a week of warm-up)")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True,
              help="the weather and the occupants")
@click.option("--site", "site_file", type=click.Path(dir_okay=False, path_type=Path),
              default=DEMO_SITE, show_default=True)
def bench_lorawan_command(as_json: bool, month: str, seed: int, site_file: Path) -> None:
    """The salle des fêtes over a winter month: its controller through class A LoRaWAN
    valves and sensors (a simulated network server: latency, losses, duplicates, a
    downlink budget) against the same controller with instant commands."""
    from gtb.bench.lorawan import bench_lorawan, bench_site, summary_rows, target_lines

    load_or_exit(site_file)  # a bad site file is reported here
    try:
        bench_site(site_file)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--site") from None
    result = _timed_bench(lambda progress: bench_lorawan(site_file, month=month, seed=seed,
                                                         progress=progress))
    if as_json:
        echo_json(result)
        return
    table = Table(title=f"gtb bench lorawan — {result['building']}, {result['start']} → "
                        f"{result['end']}, graine {result['seed']}")
    table.add_column("conduite", no_wrap=True)
    for column in ("kWh", "inconfort K·h", "MissTime min", "envois/jour max (j hors budget)",
                   "en retard (hausses)", "attente", "silences vus à temps"):
        table.add_column(column)
    for row in summary_rows(result):
        table.add_row(*row)
    console.print(table)
    for line in target_lines(result["targets"]):
        console.print(line, highlight=False)
    console.print(f"courtier en mémoire (DirectLink, docs/lorawan.md); {result['elapsed_s']} s")


def _timed_bench(run: Callable[[Progress], dict[str, Any]]) -> dict[str, Any]:
    """A benchmark's result, run with a progress bar on stderr, with its ``elapsed_s``."""
    began = monotonic()
    with Progress(console=errors, transient=True) as progress:
        result = run(progress)
    result["elapsed_s"] = round(monotonic() - began, 1)
    return result
