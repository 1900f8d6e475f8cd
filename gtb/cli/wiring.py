"""The composition root: store, drivers, engine, history shipping, jobs and panel, wired
together for ``gtb run`` and ``gtb demo``, with the options that configure them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.live import Live

from gtb.cli.common import console, quiet_bac0
from gtb.cli.tables import status_view
from gtb.clock import Clock, monotonic
from gtb.engine import Engine, EngineSettings
from gtb.engine.jobs import Retention, start_jobs
from gtb.i18n import number_fr
from gtb.influx import InfluxSettings, Shipper
from gtb.model import Site
from gtb.model.mqtt import MAX_CLIENT_ID, PASSWORD_ENV
from gtb.store import Store
from gtb.store.sessions import SessionRules

if TYPE_CHECKING:
    from protocols.base import Driver
    from protocols.mqtt import MqttDriver
    from web import PanelServer
    from web.proxies import Network


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
    """Where the web panel listens (loopback unless told otherwise), how long a sign-in
    lasts, and which reverse proxies it believes about the client's address."""
    options = [
        click.option("--panel-host", envvar="GTB_PANEL_HOST", default="127.0.0.1",
                     show_default=True, help="address of the web panel [env GTB_PANEL_HOST]"),
        click.option("--panel-port", envvar="GTB_PANEL_PORT", type=click.IntRange(0, 65535),
                     default=8080, show_default=True, help="[env GTB_PANEL_PORT]"),
        click.option("--panel-secure-cookies", envvar="GTB_PANEL_SECURE_COOKIES",
                     is_flag=True, help="behind HTTPS (a reverse proxy): session cookies "
                                        "never travel in clear [env GTB_PANEL_SECURE_COOKIES]"),
        click.option("--panel-session-hours", envvar="GTB_PANEL_SESSION_HOURS",
                     type=click.IntRange(1, 24 * 31), default=12, show_default=True,
                     help="a sign-in ends this long after it, used or not "
                          "[env GTB_PANEL_SESSION_HOURS]"),
        click.option("--panel-idle-minutes", envvar="GTB_PANEL_IDLE_MINUTES",
                     type=click.IntRange(1, 24 * 60 * 31), default=120, show_default=True,
                     help="a sign-in ends after this long without a request "
                          "[env GTB_PANEL_IDLE_MINUTES]"),
        click.option("--panel-trusted-proxies", envvar="GTB_PANEL_TRUSTED_PROXIES",
                     default="", metavar="ADDRESSES", callback=_networks,
                     help="reverse proxies whose X-Forwarded-For is believed, e.g. "
                          "127.0.0.1,10.0.0.0/8 (default: none) [env GTB_PANEL_TRUSTED_PROXIES]"),
        click.option("--no-panel", is_flag=True, help="run without the web panel"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _networks(context: click.Context, parameter: click.Parameter,
              text: str) -> tuple[Network, ...]:
    from web.proxies import parse_networks  # the web package imports Flask: only when asked

    try:
        return parse_networks(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@dataclass(frozen=True)
class PanelAddress:
    """The panel's options, from ``panel_options``."""

    host: str
    port: int
    secure_cookies: bool
    sessions: SessionRules
    trusted_proxies: tuple[Network, ...]

    @classmethod
    def from_options(cls, options: dict[str, Any], *, speed: float = 1.0) -> PanelAddress | None:
        """``speed``: the clock's (``gtb demo``); the session's durations stay real time."""
        host, port = options.pop("panel_host"), options.pop("panel_port")
        secure = options.pop("panel_secure_cookies")
        sessions = SessionRules(lifetime=timedelta(hours=options.pop("panel_session_hours")),
                                idle=timedelta(minutes=options.pop("panel_idle_minutes")))
        proxies = options.pop("panel_trusted_proxies")
        if options.pop("no_panel"):
            return None
        return cls(host, port, secure, sessions.at_speed(speed), proxies)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
"""SIGTERM is how kill, systemd and most supervisors stop a service; SIGINT is Ctrl-C."""

STOP_DRAIN_S = 10.0
"""Seconds the last shipping pass may start batches when the engine stops: what the last
tick wrote reaches InfluxDB if it is up; if not, it waits in the store for the next start."""


async def until_stopped(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` until it ends or the process is asked to stop, by SIGTERM or SIGINT
    alike: the first signal cancels it, so that its ``finally`` blocks do the orderly stop
    (points released or held, the last samples shipped, the store closed). Signals that
    come during the stop are ignored: a second Ctrl-C must not cut the release short and
    leave points commanded by nobody. Without this, SIGTERM killed the process on the spot."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    stopping: list[signal.Signals] = []

    def stop(received: signal.Signals) -> None:
        if stopping:
            console.print(f"{received.name} : arrêt déjà en cours", highlight=False)
            return
        stopping.append(received)
        console.print(f"{received.name} : arrêt du moteur", highlight=False)
        task.cancel()

    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, stop, number)
    try:
        await task
    except asyncio.CancelledError:
        if not stopping:
            raise  # cancelled from outside, not by a signal: not ours to swallow
    finally:
        for number in STOP_SIGNALS:
            loop.remove_signal_handler(number)


def run_until_stopped(work: Coroutine[Any, Any, None]) -> None:
    """``gtb run``, ``gtb demo``: run ``work`` on a new event loop until SIGTERM or SIGINT
    (``until_stopped``), then say it stopped."""
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C before the loop took the signals
        asyncio.run(until_stopped(work))
    console.print("arrêté")


async def serve_engine(site: Site, db: Path, clock: Clock, *, speed: float, tick_s: float,
                       bacnet_port: int, history: History, panel: PanelAddress | None) -> None:
    """Wire store, drivers, engine, shipper, jobs and panel; show the zones until
    cancelled (``until_stopped``: SIGTERM or SIGINT)."""
    quiet_bac0()
    # A tick still running when the next is due is skipped, and APScheduler warns of it;
    # that is coalescing at work, not news. Job failures are events, printed by the jobs.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    # pymodbus logs every refused connection; the engine's alarms say it once, in French.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    db.parent.mkdir(parents=True, exist_ok=True)
    # The panel takes its port before anything starts: a port in use is said at once.
    server = None if panel is None else _bind_panel(site, db, clock, panel)
    try:
        await _serve(site, db, clock, speed=speed, tick_s=tick_s, bacnet_port=bacnet_port,
                     history=history, panel=server)
    finally:
        if server is not None:
            server.stop()


async def _serve(site: Site, db: Path, clock: Clock, *, speed: float, tick_s: float,
                 bacnet_port: int, history: History, panel: PanelServer | None) -> None:
    from protocols.bacnet import BacnetDriver  # BAC0 takes most of a second to import
    from protocols.modbus import ModbusDriver

    drivers: dict[str, Driver] = {
        "modbus": ModbusDriver(now=monotonic),
        "bacnet": BacnetDriver(now=monotonic, port=bacnet_port),
    }
    store = Store(db)
    mqtt = mqtt_driver(site, clock, store)
    if mqtt is not None:
        drivers["mqtt"] = drivers["lorawan"] = mqtt
        console.print(f"courtier MQTT {mqtt.broker}", highlight=False)
    engine = Engine(site, store, drivers, clock, EngineSettings(tick_s=tick_s))
    shipper = None
    if history.influx is not None:
        shipper = Shipper(store, site, history.influx, clock,
                          progress=lambda line: console.print(line, highlight=False))
        console.print(f"historique envoyé à InfluxDB {history.influx.where}")
    await engine.start()
    scheduler = None
    try:
        await engine.tick()
        scheduler = start_jobs(engine, store, clock, speed=speed, console=console,
                               retention=history.retention, shipper=shipper)
        if panel is not None:
            panel.start()
            console.print(f"panneau web : {panel.url}")
        try:
            with Live(status_view(engine, store), console=console,
                      refresh_per_second=1) as live:
                try:
                    while True:
                        await asyncio.sleep(1.0)
                        live.update(status_view(engine, store))
                finally:  # the last frame: how things stood at the stop, not a second before
                    live.update(status_view(engine, store))
        finally:
            if not console.is_terminal:  # rich ends a file's last frame without a newline
                console.line()
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await engine.stop()
        if shipper is not None:
            # The last tick's samples and the stop's own events (releases, "Moteur arrêté").
            last = await asyncio.to_thread(shipper.drain, STOP_DRAIN_S)
            left = sum(store.shipping.backlog().values())
            console.print(f"InfluxDB à l'arrêt : {number_fr(last.samples + last.events, 0)} "
                          f"envoyés, {number_fr(left, 0)} attendent le prochain démarrage "
                          "dans la base locale", highlight=False)
            shipper.close()
        store.close()


def mqtt_driver(site: Site, clock: Clock, store: Store | None = None) -> MqttDriver | None:
    """The driver of the site's MQTT broker, None when the site has none: its MQTT points
    and LoRaWAN devices; its password is read from GTB_MQTT_PASSWORD, never the site file.
    ``store`` (``gtb run``'s): where each device's downlinks of the day are counted, and
    the LoRaWAN points' last uplink values, which they carry on from; without it, counts
    in memory and nothing heard before. A TLS file that cannot be read is said before
    anything starts."""
    if site.mqtt is None:
        return None
    from protocols.lorawan_points import LorawanPoints
    from protocols.mqtt import MqttDriver

    points = [ref for ref in site.points() if ref.binding.protocol == "mqtt"]
    lorawan = [ref for ref in site.points() if ref.binding.protocol == "lorawan"]
    client_id = site.mqtt.client_id or f"gtb-{site.id}"[:MAX_CLIENT_ID]
    try:
        devices = LorawanPoints(site.lorawan, lorawan, site.tz,
                                None if store is None else store.downlinks)
        if store is not None:
            devices.resume({key: (sample.value, sample.ts) for key, sample in
                            store.samples.latest_good(ref.key for ref in lorawan).items()
                            if sample.value is not None})
        return MqttDriver(site.mqtt, points + lorawan, now=clock.now, client_id=client_id,
                          password=os.environ.get(PASSWORD_ENV), lorawan=devices)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def _bind_panel(site: Site, db: Path, clock: Clock, address: PanelAddress) -> PanelServer:
    """The panel's server, listening but not serving yet."""
    from web import PanelConfig, PanelServer, create_app, new_secret_key

    key = new_secret_key(db.with_name(db.name + ".panel-key"))
    app = create_app(PanelConfig(site=site, store_path=db, clock=clock, secret_key=key,
                                 secure_cookies=address.secure_cookies,
                                 sessions=address.sessions,
                                 trusted_proxies=address.trusted_proxies))
    try:
        return PanelServer(app, address.host, address.port)
    except OSError as exc:
        raise click.ClickException(
            f"the web panel cannot listen on {address.host}:{address.port} ({exc.strerror}); "
            "choose another --panel-port, or --no-panel") from None
