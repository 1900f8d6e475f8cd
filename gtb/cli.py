"""The ``gtb`` command: the one place where the parts are wired together."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console

from gtb.clock import RealClock, SimulatedClock
from gtb.config import SiteFileError, load_site
from gtb.model import Site

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
    """Validate SITE_FILE; exit 0 when valid, 2 with every error otherwise."""
    site = _load(site_file)
    refs = list(site.points())
    zones = sum(len(b.zones) for b in site.buildings)
    devices = Counter(protocol for protocol, _, _ in {ref.binding.endpoint for ref in refs})
    console.print(
        f"[green]{site_file}: valid[/green] — {site.name}: "
        f"{_count(len(site.buildings), 'building')}, {_count(zones, 'zone')}, "
        f"{_count(len(site.cabinets), 'lighting cabinet')}, {_count(len(refs), 'point')} on "
        f"{devices['modbus']} Modbus and {devices['bacnet']} BACnet devices"
    )


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

