"""What every command shares: the consoles, reading a site file, the demo's site, the
simulation's broker."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from gtb.config import SiteFileError, load_site
from gtb.model import Site

DEMO_SITE = Path(__file__).resolve().parents[2] / "sites" / "demo-commune.yaml"


console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def load_or_exit(path: Path) -> Site:
    """The site of ``path``; else every error of the file on stderr, and exit 2."""
    try:
        return load_site(path)
    except SiteFileError as exc:
        for error in exc.errors:
            errors.print(str(error), markup=False, highlight=False)
        noun = "error" if len(exc.errors) == 1 else "errors"
        errors.print(f"[red]{path}: {len(exc.errors)} {noun}[/red]")
        sys.exit(2)


def count(n: int, noun: str) -> str:
    """« 1 zone », « 3 zones »."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def echo_json(result: dict[str, Any]) -> None:
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))


def quiet_bac0() -> None:
    """BAC0 logs every start-up step at INFO: keep warnings and errors only."""
    import BAC0

    BAC0.log_level(logger="warning", stdout="warning", stderr="critical", log_file="warning",
                   log_this=False)


mqtt_port_option = click.option(
    "--mqtt-port", type=click.IntRange(1, 65535),
    help="port of the broker the simulation starts, instead of the site file's (mqtt:)")


@contextlib.contextmanager
def simulation_broker(site: Site) -> Iterator[None]:
    """The simulation's own Mosquitto while in the block, where the site file's broker is
    on loopback (``gtb.sim.broker``); stopped on leaving, however the block ends. A site
    the simulation cannot serve is refused first, saying which points."""
    from gtb.sim.broker import BrokerError, site_broker
    from gtb.sim.devices import refuse_unsimulated
    from gtb.texts import Reason

    try:
        refuse_unsimulated(site)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with site_broker(site) as broker:
            if broker is not None:
                console.print(Reason.of("broker.started", port=broker.ports[0]).fr,
                              highlight=False)
            yield
    except BrokerError as exc:
        raise click.ClickException(exc.reason.fr) from None
