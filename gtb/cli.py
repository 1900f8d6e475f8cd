"""The ``gtb`` command: the one place where the parts are wired together."""

from __future__ import annotations

import asyncio
import errno
import io
import json
import logging
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click
from rich.console import Console, Group
from rich.live import Live
from rich.progress import Progress
from rich.table import Table

from gtb import export
from gtb.clock import Clock, RealClock, SimulatedClock, monotonic
from gtb.config import SiteFileError, load_site
from gtb.engine import Engine, EngineSettings
from gtb.influx import InfluxSettings, Shipper
from gtb.jobs import Retention, start_jobs
from gtb.model import Site
from gtb.store import Store, StoreError, UserRole

if TYPE_CHECKING:
    from gtb.savings.site import SiteSavings
    from gtb.sim.world import VirtualCommune
    from web import PanelServer

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



def history_options(command: Callable[..., None]) -> Callable[..., None]:
    """Where the engine ships its history, and how long the store keeps it. Secrets
    (GTB_INFLUX_TOKEN, GTB_INFLUX_PASSWORD) are read from the environment only."""
    options = [
        click.option("--influx-url", envvar="GTB_INFLUX_URL", metavar="URL",
                     help="InfluxDB to ship to, e.g. http://127.0.0.1:8086 (default: none, "
                          "no shipping) [env GTB_INFLUX_URL]"),
        click.option("--influx-api", envvar="GTB_INFLUX_API", type=click.Choice(["v1", "v2"]),
                     help="v2: InfluxDB 2.x, 3.x, 1.8+; v1: InfluxDB 1.x /write (default v2) "
                          "[env GTB_INFLUX_API]"),
        click.option("--influx-org", envvar="GTB_INFLUX_ORG", help="[env GTB_INFLUX_ORG]"),
        click.option("--influx-bucket", envvar="GTB_INFLUX_BUCKET",
                     help="v2 bucket [env GTB_INFLUX_BUCKET]"),
        click.option("--influx-database", envvar="GTB_INFLUX_DATABASE",
                     help="v1 database [env GTB_INFLUX_DATABASE]"),
        click.option("--influx-retention-policy", envvar="GTB_INFLUX_RETENTION_POLICY",
                     help="v1 retention policy [env GTB_INFLUX_RETENTION_POLICY]"),
        click.option("--influx-username", envvar="GTB_INFLUX_USERNAME",
                     help="v1 user [env GTB_INFLUX_USERNAME]"),
        click.option("--raw-days", type=click.IntRange(min=1), default=90, show_default=True,
                     help="days the store keeps raw samples"),
        click.option("--hourly-years", type=click.IntRange(min=5), default=6, show_default=True,
                     help="years the store keeps hourly rollups (monthly totals: for ever)"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@dataclass(frozen=True)
class History:
    """Where the history goes and how long the store keeps it, from ``history_options``."""

    influx: InfluxSettings | None
    retention: Retention

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> History:
        given = {name: options.pop(f"influx_{name}") for name in (
            "url", "api", "org", "bucket", "database", "retention_policy", "username")}
        try:
            influx = InfluxSettings.from_env(**given)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        retention = Retention(raw=timedelta(days=options.pop("raw_days")),
                              hourly=timedelta(days=366 * options.pop("hourly_years")))
        return cls(influx, retention)


def panel_options(command: Callable[..., None]) -> Callable[..., None]:
    """Where the web panel listens: loopback unless told otherwise."""
    options = [
        click.option("--panel-host", envvar="GTB_PANEL_HOST", default="127.0.0.1",
                     show_default=True, help="address of the web panel [env GTB_PANEL_HOST]"),
        click.option("--panel-port", envvar="GTB_PANEL_PORT", type=click.IntRange(0, 65535),
                     default=8080, show_default=True, help="[env GTB_PANEL_PORT]"),
        click.option("--panel-secure-cookies", envvar="GTB_PANEL_SECURE_COOKIES",
                     is_flag=True, help="behind HTTPS (a reverse proxy): session cookies "
                                        "never travel in clear [env GTB_PANEL_SECURE_COOKIES]"),
        click.option("--no-panel", is_flag=True, help="run without the web panel"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@dataclass(frozen=True)
class PanelAddress:
    host: str
    port: int
    secure_cookies: bool = False

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> PanelAddress | None:
        host, port = options.pop("panel_host"), options.pop("panel_port")
        secure = options.pop("panel_secure_cookies")
        return None if options.pop("no_panel") else cls(host, port, secure)


@main.command()
@click.argument("site_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("var/gtb.sqlite"), show_default=True, help="the engine's store")
@click.option("--tick", "tick_s", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="seconds between two reads of every point")
@click.option("--bacnet-port", type=int, default=47808, show_default=True,
              help="UDP port of the engine's own BACnet/IP client")
@history_options
@panel_options
def run(site_file: Path, db: Path, tick_s: float, bacnet_port: int, **options: Any) -> None:
    """Run the engine on the real devices of SITE_FILE, with its web panel."""
    history = History.from_options(options)
    panel = PanelAddress.from_options(options)
    site = _load(site_file)
    try:
        asyncio.run(serve_engine(site, db, RealClock(), speed=1.0, tick_s=tick_s,
                                 bacnet_port=bacnet_port, history=history, panel=panel))
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
              help="the demo's store, started afresh each time (its simulated past is "
                   "cached beside it)")
@click.option("--no-history", is_flag=True,
              help="start on an empty store, without the commune's two simulated years")
@click.option("--bacnet-port", type=int, default=47808, show_default=True,
              help="UDP port of the engine's own BACnet/IP client")
@history_options
@panel_options
def demo(site_file: Path, speed: float, seed: int, db: Path, no_history: bool,
         bacnet_port: int, **options: Any) -> None:
    """The virtual commune, the engine on it and the web panel, in one process.

    The store starts with the commune's past (docs/simulation.md): a year under its
    former heating programme, then the engine's controllers up to now, simulated the
    first time (about a minute) and cached beside the store."""
    from gtb.sim.runner import VirtualSite

    history = History.from_options(options)
    panel = PanelAddress.from_options(options)
    site = _load(site_file)
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    start = RealClock().now().replace(microsecond=0)
    past: list[VirtualCommune] = []
    if not no_history:
        past = _demo_past(site_file, seed, db, start)
    clock = SimulatedClock(start, speed=speed)
    if panel is not None:
        _demo_accounts(db, clock)

    async def both() -> None:
        virtual = VirtualSite(site, clock, seed=seed, carry_on=past)
        async with virtual.serving():
            console.print(f"virtual commune on loopback: {len(virtual.servers)} devices; "
                          f"speed ×{speed:g}; store {db} "
                          f"({'new, empty' if no_history else 'with its history'})")
            await serve_engine(site, db, clock, speed=speed, tick_s=60.0,
                               bacnet_port=bacnet_port, history=history, panel=panel)

    try:
        asyncio.run(both())
    except KeyboardInterrupt:
        console.print("stopped")


def _demo_past(site_file: Path, seed: int, db: Path, until: datetime
               ) -> list[VirtualCommune]:
    """The demo's simulated history in its store, up to ``until``; the simulated worlds at
    its end, for the live commune to carry on."""
    from gtb.sim.past import demo_history

    began = monotonic()
    db.parent.mkdir(parents=True, exist_ok=True)
    with Progress(console=errors, transient=True) as progress:
        past = demo_history(site_file, seed, db, until, progress=progress)
    how = "simulé" if past.generated else "repris du cache"
    fault = "" if past.fault is None else (
        f"; vanne bloquée ouverte ({past.fault.zone}) du {past.fault.start:%d/%m/%Y} au "
        f"{past.fault.end - timedelta(days=1):%d/%m/%Y}")
    console.print(f"historique {how} en {monotonic() - began:.0f} s : programme d'origine "
                  f"depuis le {past.start:%d/%m/%Y}, moteur depuis le "
                  f"{past.takeover:%d/%m/%Y}{fault}", highlight=False)
    return past.worlds


def _demo_accounts(db: Path, clock: Clock) -> None:
    """One account per role with a random password, printed: no default credentials."""
    import secrets

    from web.auth import hash_password

    db.parent.mkdir(parents=True, exist_ok=True)
    table = Table(title="Comptes de la démo (mots de passe tirés au hasard à chaque lancement)")
    for column in ("nom", "rôle", "mot de passe"):
        table.add_column(column)
    with Store(db) as store:
        for name, role in (("elu", UserRole.VIEWER), ("gestionnaire", UserRole.OPERATOR),
                           ("admin", UserRole.ADMIN)):
            password = secrets.token_urlsafe(12)
            store.add_user(name, hash_password(password), role, at=clock.now())
            table.add_row(name, role.value, password)
    console.print(table)


async def serve_engine(site: Site, db: Path, clock: Clock, *, speed: float, tick_s: float,
                       bacnet_port: int, history: History, panel: PanelAddress | None) -> None:
    """Wire store, drivers, engine, shipper, jobs and panel; show the zones until
    interrupted."""
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
    shipper = None
    if history.influx is not None:
        shipper = Shipper(store, site, history.influx, clock,
                          progress=lambda line: console.print(line, highlight=False))
        console.print(f"historique envoyé à InfluxDB {history.influx.where}")
    await engine.start()
    scheduler = None
    server = None
    try:
        await engine.tick()
        scheduler = start_jobs(engine, store, clock, speed=speed, console=console,
                               retention=history.retention, shipper=shipper)
        if panel is not None:
            server = _start_panel(site, db, clock, panel)
        with Live(status_view(engine, store), console=console, refresh_per_second=1) as live:
            while True:
                await asyncio.sleep(1.0)
                live.update(status_view(engine, store))
    finally:
        if server is not None:
            server.stop()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await engine.stop()
        if shipper is not None:
            shipper.close()
        store.close()


def _start_panel(site: Site, db: Path, clock: Clock, address: PanelAddress) -> PanelServer:
    from web import PanelConfig, PanelServer, create_app, new_secret_key

    key = new_secret_key(db.with_name(db.name + ".panel-key"))
    app = create_app(PanelConfig(site=site, store_path=db, clock=clock, secret_key=key,
                                 secure_cookies=address.secure_cookies))
    try:
        server = PanelServer(app, address.host, address.port)
    except OSError as exc:
        raise click.ClickException(
            f"the web panel cannot listen on {address.host}:{address.port} ({exc.strerror}); "
            "choose another --panel-port, or --no-panel") from None
    server.start()
    console.print(f"panneau web : {server.url}")
    return server


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


@main.command("export")
@click.argument("site_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("var/gtb.sqlite"), show_default=True,
              help="the engine's store (must exist; never created)")
@click.option("--from", "from_text", required=True, metavar="MONTH|DATE|ISO-TIME",
              help="start, included: a month or a date (its first midnight) or a time; "
                   "without an offset, the site's local time")
@click.option("--to", "to_text", required=True, metavar="MONTH|DATE|ISO-TIME",
              help="end: a time is excluded; a month or a date means its END, so "
                   "--to 2026-03-31 includes 31 March and --to 2026-03 all of March")
@click.option("--building", metavar="ID", help="only the points of this building, its zones' "
                                                "included")
@click.option("--zone", metavar="[BUILDING.]ZONE", help="only the points of this zone")
@click.option("--quantity", "quantities", multiple=True, type=click.Choice(export.QUANTITIES),
              help="only these measurements (repeatable)")
@click.option("--resolution", type=click.Choice([r.value for r in export.Resolution]),
              default="raw", show_default=True,
              help="raw samples; hourly rollups (mean, min, max, count of good samples); local "
                   "calendar days or months of the site (whole ones: the period is widened)")
@click.option("--format", "fmt", type=click.Choice([f.value for f in export.Format]), required=True,
              help="csv (with '#' comment lines first), json (JSON Lines: one object per "
                   "line) or lp (InfluxDB line protocol, second precision; rollups to "
                   "MEASUREMENT_1h, _1d, _1mo)")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="file to write (replaced only once complete)  [default: stdout]")
def export_command(
    site_file: Path, db: Path, from_text: str, to_text: str, building: str | None,
    zone: str | None, quantities: tuple[str, ...], resolution: str, fmt: str,
    output: Path | None,
) -> None:
    """Export the samples or rollups of SITE_FILE's points from the store, for an auditor
    (docs/export.md). A progress bar shows on stderr when it is a terminal and the export
    is long; a summary follows there at the end."""
    site = _load(site_file)
    try:
        start = export.parse_moment(from_text, site.tz, end=False)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--from") from None
    try:
        end = export.parse_moment(to_text, site.tz, end=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    if end <= start:
        raise click.BadParameter(f"--from {start.isoformat()} is not before --to "
                                 f"{end.isoformat()}: the period is empty", param_hint="--to")
    try:
        points = export.select_points(site, building=building, zone=zone, quantities=quantities)
    except export.SelectionError as exc:
        raise click.BadParameter(str(exc), param_hint=exc.option) from None
    if not db.is_file():
        raise click.BadParameter(f"no store at {db}", param_hint="--db")
    if output is not None and not output.parent.is_dir():
        raise click.BadParameter(f"folder {output.parent} does not exist", param_hint="--output")
    step = export.Resolution(resolution)
    period = export.Period(start, end, site.tz).widened(step)
    try:
        store = Store(db)
    except StoreError as exc:
        raise click.BadParameter(str(exc), param_hint="--db") from None
    filters = ", ".join(f"{name}={value}" for name, value in (
        ("building", building), ("zone", zone), ("quantity", "+".join(quantities) or None))
        if value)
    notes = export.comments(site, period, step, points, filters, RealClock().now())
    try:
        with _export_target(output) as out:
            writer = export.writer_for(export.Format(fmt), out, site, step, notes)
            # Counted for the progress bar only: one query per point.
            works = ([export.work(store, point, period, step) for point in points]
                     if errors.is_terminal else [])
            shown = errors.is_terminal and sum(works) >= 20_000
            with Progress(console=errors, transient=True, disable=not shown) as progress:
                task = progress.add_task("export", total=sum(works))
                report = export.export(store, points, period, step, writer, works=works,
                                       progress=lambda n: progress.advance(task, n))
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise  # the reader went away (| head): click ends quietly
        kept = "nothing was written" if output else "the output is incomplete"
        raise click.ClickException(f"export stopped, {kept}: {exc}") from None
    finally:
        store.close()
    errors.print(f"{_count(report.rows, 'row')} written ({_count(len(points), 'point')}, "
                 f"{report.points_with_data} with data; {period.describe(step)}; "
                 f"{site.timezone}) to {output or 'stdout'}", markup=False, highlight=False)


@contextmanager
def _export_target(output: Path | None) -> Iterator[TextIO]:
    """stdout, or a temporary file beside ``output`` that replaces it only once complete:
    an export that fails leaves nothing half-written."""
    if output is None:
        out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            yield out
            out.flush()
        finally:
            out.detach()
        return
    fd, part = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part")
    try:
        with open(fd, "w", encoding="utf-8", newline="") as out:
            yield out
        umask = os.umask(0)  # mkstemp makes the file private; give it the usual mode
        os.umask(umask)
        os.chmod(part, 0o666 & ~umask)
        os.replace(part, output)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise


_DAY = click.DateTime(formats=["%Y-%m-%d"])


@main.command("savings")
@click.argument("site_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("var/gtb.sqlite"), show_default=True,
              help="the engine's store (must exist; never created)")
@click.option("--from", "start", type=_DAY, required=True, metavar="DATE",
              help="first day of the reporting period (local)")
@click.option("--to", "end", type=_DAY, required=True, metavar="DATE",
              help="last day of the reporting period, included")
@click.option("--baseline-from", "baseline_start", type=_DAY, metavar="DATE",
              help="first day of the baseline (default: 365 days before the engine's first "
                   "start)")
@click.option("--baseline-to", "baseline_end", type=_DAY, metavar="DATE",
              help="last day of the baseline, included")
@click.option("--baseline-csv", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="daily meter readings for the baseline (docs/savings.md: meter,date,kwh "
                   "or index_kwh, optional tmin,tmax)")
@click.option("--tariffs", "tariffs_file", type=click.Path(dir_okay=False, exists=True,
                                                           path_type=Path),
              help="prices and emission factors (YAML, docs/savings.md); default: French "
                   "averages")
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
def savings_command(site_file: Path, db: Path, start: datetime, end: datetime,
                    baseline_start: datetime | None, baseline_end: datetime | None,
                    baseline_csv: Path | None, tariffs_file: Path | None,
                    as_json: bool) -> None:
    """What the engine saved on SITE_FILE's heating and public lighting from --from to --to:
    kWh, euros and CO2, weather-normalised against a baseline year, with the uncertainty
    (docs/savings.md). Exits 2 when the figures cannot be made, saying why."""
    from gtb.savings.baseline import SavingsError
    from gtb.savings.readings import load_baseline_csv
    from gtb.savings.site import site_savings
    from gtb.tariffs import DEFAULT_TARIFFS, TariffsError, load_tariffs

    site = _load(site_file)
    if (baseline_start is None) != (baseline_end is None):
        raise click.UsageError("give both --baseline-from and --baseline-to, or neither")
    if not db.is_file():
        raise click.BadParameter(f"no store at {db}", param_hint="--db")
    try:
        tariffs = DEFAULT_TARIFFS if tariffs_file is None else load_tariffs(tariffs_file)
        readings = weather = None
        if baseline_csv is not None:
            readings, weather = load_baseline_csv(baseline_csv)
            unknown = sorted(set(readings) - {ref.key for ref in site.points()})
            if unknown:
                errors.print(f"[yellow]{baseline_csv}: no such meter in {site_file}, ignored: "
                             f"{', '.join(unknown)}[/yellow]", highlight=False)
        baseline = (None if baseline_start is None or baseline_end is None
                    else (baseline_start.date(), baseline_end.date()))
        with Store(db) as store:
            result = site_savings(store, site, start.date(), end.date(),
                                  baseline=baseline, tariffs=tariffs,
                                  readings=readings, weather=weather)
    except (SavingsError, TariffsError, StoreError) as exc:
        errors.print(f"[red]{exc}[/red]", highlight=False)
        sys.exit(2)
    if result.excluded:
        for excluded in result.excluded:
            errors.print(f"[red]{excluded.reason_en}[/red]", highlight=False)
        errors.print("[red]no figures: every heating meter needs its baseline[/red]")
        sys.exit(2)
    if as_json:
        _echo_json(result.as_dict())
        return
    _print_savings(result)


def _print_savings(result: SiteSavings) -> None:
    """A table per heating meter and one for the lighting cabinets, in French, then what the
    figures mean in sentences."""
    from gtb.i18n import number_fr

    def kwh(value: float) -> str:
        return f"{number_fr(value, 0)} kWh"

    pct = f"{100 * result.confidence:.0f} %"
    console.print(f"Économies du {result.start:%d/%m/%Y} au {result.end:%d/%m/%Y}, référence du "
                  f"{result.baseline_period[0]:%d/%m/%Y} au {result.baseline_period[1]:%d/%m/%Y}",
                  style="bold", highlight=False)
    for b in result.buildings:
        s, m = b.savings, b.baseline
        table = Table(title=f"{b.name} — {b.meter}", show_header=False, title_justify="left")
        table.add_column("", no_wrap=True)
        table.add_column("", justify="right", no_wrap=True)
        balance = "sans" if m.balance_c is None else f"{number_fr(m.balance_c)} °C"
        for label, value in (
            ("mesuré", kwh(s.actual_kwh)),
            ("référence, même météo et calendrier", kwh(s.baseline_kwh)),
            ("évité", f"{kwh(s.avoided_kwh)} ({number_fr(100 * s.fraction)} %)"),
            (f"incertitude à {pct}", f"± {kwh(s.uncertainty_kwh)}"),
            ("euros évités", f"{number_fr(s.avoided_eur, 0)} €"),
            ("CO2e évité", f"{number_fr(s.avoided_co2_kg, 0)} kg"),
            ("DJU de la période", number_fr(s.hdd, 0)),
            ("température d'équilibre", balance),
            ("CV(RMSE) mensuel", f"{number_fr(100 * m.monthly_cv_rmse)} % (≤ 15 %)"),
            ("NMBE mensuel", f"{number_fr(round(100 * m.monthly_nmbe, 1) + 0.0)} % (≤ ±5 %)"),
            ("R²", number_fr(m.r2, 2)),
            ("ASHRAE Guideline 14", "oui" if m.meets_guideline14 else "non"),
        ):
            table.add_row(label, value)
        console.print(table)
        console.print(b.explanation_fr, highlight=False)
        for loss in b.losses:
            console.print(f"[yellow]{loss.explanation_fr}[/yellow]", highlight=False)
    if result.cabinets:
        table = Table(title="Éclairage public, contre l'ancien horaire (du coucher au lever du "
                            "soleil, pleine puissance)", title_justify="left")
        for column in ("armoire", "mesure", "ancien horaire", "mesuré", "évité", "€",
                       "kg CO2e"):
            table.add_column(column, justify="left" if column in ("armoire", "mesure")
                             else "right")
        for c in result.cabinets:
            table.add_row(c.cabinet, "compteur" if c.source == "meter" else "relais",
                          kwh(c.former_kwh), kwh(c.metered_kwh), kwh(c.avoided_kwh),
                          number_fr(c.avoided_eur, 0), number_fr(c.avoided_co2_kg, 0))
        console.print(table)
    console.print(f"Total : {kwh(result.avoided_kwh)} évités ± {kwh(result.uncertainty_kwh)} "
                  f"({pct}), {number_fr(result.avoided_eur, 0)} €, "
                  f"{number_fr(result.avoided_co2_kg, 0)} kg de CO2e.", style="bold",
                  highlight=False)


@main.group()
def users() -> None:
    """Accounts of the web panel and API tokens of scripts."""


_DB = click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
                   default=Path("var/gtb.sqlite"), show_default=True, help="the engine's store")


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice([r.value for r in UserRole]), required=True,
              help="viewer (elected officials), operator (building managers), admin")
@_DB
def users_add(name: str, role: str, db: Path) -> None:
    """Create an account; the password is asked, or read from standard input."""
    from gtb.store import ConflictError
    from web.auth import MIN_PASSWORD, hash_password

    if sys.stdin.isatty():
        password = click.prompt("mot de passe", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < MIN_PASSWORD:
        errors.print(f"[red]a password has at least {MIN_PASSWORD} characters; "
                     "nothing was created[/red]")
        sys.exit(2)
    db.parent.mkdir(parents=True, exist_ok=True)
    with Store(db) as store:
        try:
            store.add_user(name, hash_password(password), role, at=RealClock().now())
        except (ConflictError, ValueError) as exc:
            errors.print(f"[red]{exc}; nothing was created[/red]")
            sys.exit(2)
        store.record_event(RealClock().now(), "user_added", "gtb users",
                           f"Compte {name} créé ({role})", reason="ligne de commande",
                           message_en=f"Account {name} created ({role})",
                           reason_en="command line")
    console.print(f"[green]{name}: {role}[/green] in {db}")


@users.command("token")
@click.argument("name")
@click.option("--label", default="script", show_default=True, help="what the token is for")
@_DB
def users_token(name: str, label: str, db: Path) -> None:
    """Make an API token for NAME (same role as the account); it is shown once."""
    from gtb.store import NotFoundError
    from web.auth import hash_token, new_token

    token = new_token()
    with Store(db) as store:
        try:
            store.add_token(name, hash_token(token), label, at=RealClock().now())
        except NotFoundError as exc:
            errors.print(f"[red]{exc}[/red]")
            sys.exit(2)
        store.record_event(RealClock().now(), "token_added", "gtb users",
                           f"Jeton d'API « {label} » créé pour {name}",
                           reason="ligne de commande",
                           message_en=f"API token '{label}' made for {name}",
                           reason_en="command line")
    click.echo(token)


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
    from gtb.bench.engine import bench_engine, summary_rows

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
    from gtb.bench.heating import YEARS, bench_heating, summary_rows

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
    from gtb.bench.lighting import bench_lighting

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
        _echo_json(result)
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
        _echo_json(result)
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
        _echo_json(result)
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
