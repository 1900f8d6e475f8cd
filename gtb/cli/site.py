"""Site files: ``gtb check`` validates one, ``gtb sim`` serves its virtual buildings."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gtb.cli.common import (
    console,
    count,
    errors,
    load_or_exit,
    mqtt_port_option,
    quiet_bac0,
    simulation_broker,
)
from gtb.clock import RealClock, SimulatedClock, monotonic
from gtb.model import Site

if TYPE_CHECKING:
    from gtb.engine.bindings import Finding


@click.command()
@click.argument("site_file", type=click.Path(path_type=Path))
@click.option("--live", is_flag=True,
              help="also ask every device whether each binding is what the file says")
@click.option("--bacnet-port", type=int, default=47808, show_default=True,
              help="UDP port of the BACnet/IP client of --live")
def check(site_file: Path, live: bool, bacnet_port: int) -> None:
    """Validate SITE_FILE; exit 0 when valid, 2 with every error otherwise.

    A valid file whose lighting programmes break the arrêté of 27 December 2018 on light
    nuisance over the coming year is reported, rule by rule, and exits 1. With --live,
    every binding is checked on its device (the object or register exists and reads, the
    unit is the point's, the value is inside its physical range, a command point can be
    released), one line per problem at the point's line in the file, and exits 2 if any."""
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
        + (f" and {count(devices['mqtt'], 'MQTT topic')} at {site.mqtt.address}"
           if site.mqtt is not None and devices["mqtt"] else "")
        + (f" and {count(devices['lorawan'], 'LoRaWAN device')} through {site.mqtt.address}"
           if site.mqtt is not None and devices["lorawan"] else "")
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
    if live and not _live_bindings_hold(site, site_file, bacnet_port):
        sys.exit(2)
    if breached:
        sys.exit(1)


def _live_bindings_hold(site: Site, site_file: Path, bacnet_port: int) -> bool:
    """Ask the devices what the engine asks them at its start; print each problem as
    ``FILE:LINE: point: problem``; whether there was none. MQTT and LoRaWAN devices are
    not asked: they publish when they want, and the file said all that can be checked of
    them."""
    from gtb.config import point_lines
    from gtb.engine.bindings import check_bindings
    from protocols.bacnet import BacnetDriver  # BAC0 takes most of a second to import
    from protocols.base import Driver
    from protocols.modbus import ModbusDriver

    quiet_bac0()
    refs = [ref for ref in site.points() if ref.binding.protocol in ("modbus", "bacnet")]
    drivers: dict[str, Driver] = {"modbus": ModbusDriver(now=monotonic),
                                  "bacnet": BacnetDriver(now=monotonic, port=bacnet_port)}
    used = {ref.binding.protocol for ref in refs}

    async def ask() -> list[Finding]:
        for protocol in used:
            await drivers[protocol].start()
        try:
            return await check_bindings(refs, drivers)
        finally:
            for protocol in used:
                await drivers[protocol].stop()

    try:
        findings = asyncio.run(ask())
    except OSError as exc:
        raise click.ClickException(f"cannot open the BACnet/IP client on port {bacnet_port} "
                                   f"({exc.strerror}); choose another --bacnet-port") from None
    lines = point_lines(site_file)
    for finding in findings:
        errors.print(f"{site_file}:{lines.get(finding.key, 0)}: {finding.key}: "
                     f"{finding.message}", markup=False, highlight=False)
    devices = len({ref.binding.endpoint for ref in refs})
    if findings:
        errors.print(f"[red]{site_file}: {count(len(findings), 'binding problem')} on the "
                     f"devices[/red]")
        return False
    console.print(f"[green]{site_file}: {count(len(refs), 'binding')} checked on "
                  f"{count(devices, 'device')}, as the file says[/green]")
    return True


@click.command()
@click.argument("site_file", type=click.Path(path_type=Path))
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="simulated seconds per real second")
@click.option("--seed", type=int, default=0, show_default=True,
              help="seed of the weather and the occupants")
@click.option("--start", "start_text", metavar="ISO-TIME",
              help="simulated start, e.g. 2026-01-12T06:00+01:00 (default: now)")
@mqtt_port_option
def sim(site_file: Path, speed: float, seed: int, start_text: str | None,
        mqtt_port: int | None) -> None:
    """Serve the virtual buildings of SITE_FILE on loopback until interrupted; its LoRaWAN
    devices publish on its broker, a Mosquitto started for them if the file's is on
    loopback."""
    from gtb.sim.broker import with_mqtt_port
    from gtb.sim.runner import SimulationStopped, serve_virtual_site

    site = with_mqtt_port(load_or_exit(site_file), mqtt_port)
    start = _parse_start(start_text, site) if start_text else RealClock().now()
    clock = SimulatedClock(start.replace(microsecond=0), speed=speed)
    before = signal.signal(signal.SIGTERM, _interrupted)  # as Ctrl-C: the broker too
    try:
        with simulation_broker(site):
            try:
                asyncio.run(serve_virtual_site(site, clock, seed=seed, console=console))
            except KeyboardInterrupt:
                console.print("stopped")
            except SimulationStopped as exc:
                raise click.ClickException(str(exc)) from None
    finally:
        signal.signal(signal.SIGTERM, before)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _parse_start(text: str, site: Site) -> datetime:
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 time", param_hint="--start"
        ) from None
    return start if start.tzinfo else start.replace(tzinfo=site.tz)
