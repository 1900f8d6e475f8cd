"""Site files: ``gtb check`` validates one, ``gtb sim`` serves its virtual buildings."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import click

from gtb.cli.common import console, count, load_or_exit
from gtb.clock import RealClock, SimulatedClock
from gtb.model import Site


@click.command()
@click.argument("site_file", type=click.Path(dir_okay=False, path_type=Path))
def check(site_file: Path) -> None:
    """Validate SITE_FILE; exit 0 when valid, 2 with every error otherwise.

    A valid file whose lighting programmes break the arrêté of 27 December 2018 on light
    nuisance over the coming year is reported, rule by rule, and exits 1."""
    from controllers.light_nuisance import check_programme

    site = load_or_exit(site_file)
    refs = list(site.points())
    zones = sum(len(b.zones) for b in site.buildings)
    devices = Counter(protocol for protocol, _, _ in {ref.binding.endpoint for ref in refs})
    console.print(
        f"[green]{site_file}: valid[/green] — {site.name}: "
        f"{count(len(site.buildings), 'building')}, {count(zones, 'zone')}, "
        f"{count(len(site.cabinets), 'lighting cabinet')}, "
        f"{count(len(site.equipment), 'scheduled output')}, {count(len(refs), 'point')} on "
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


@click.command()
@click.argument("site_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="simulated seconds per real second")
@click.option("--seed", type=int, default=0, show_default=True,
              help="seed of the weather and the occupants")
@click.option("--start", "start_text", metavar="ISO-TIME",
              help="simulated start, e.g. 2026-01-12T06:00+01:00 (default: now)")
def sim(site_file: Path, speed: float, seed: int, start_text: str | None) -> None:
    """Serve the virtual buildings of SITE_FILE on loopback until interrupted."""
    from gtb.sim.runner import SimulationStopped, serve_virtual_site

    site = load_or_exit(site_file)
    start = _parse_start(start_text, site) if start_text else RealClock().now()
    clock = SimulatedClock(start.replace(microsecond=0), speed=speed)
    try:
        asyncio.run(serve_virtual_site(site, clock, seed=seed, console=console))
    except KeyboardInterrupt:
        console.print("stopped")
    except SimulationStopped as exc:
        raise click.ClickException(str(exc)) from None


def _parse_start(text: str, site: Site) -> datetime:
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 time", param_hint="--start"
        ) from None
    return start if start.tzinfo else start.replace(tzinfo=site.tz)
