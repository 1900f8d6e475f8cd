"""``gtb run`` on a real site and ``gtb demo`` on the virtual commune, with its past."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.progress import Progress
from rich.table import Table

from gtb.cli.common import (
    DEMO_SITE,
    console,
    errors,
    load_or_exit,
    mqtt_port_option,
    simulation_broker,
)
from gtb.cli.wiring import (
    History,
    PanelAddress,
    history_options,
    panel_options,
    run_until_stopped,
    serve_engine,
)
from gtb.clock import Clock, RealClock, SimulatedClock, monotonic
from gtb.i18n import shortest
from gtb.store import Store
from gtb.store.accounts import UserRole
from gtb.texts import Reason

if TYPE_CHECKING:
    from gtb.sim.world import VirtualCommune


@click.command()
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
    site = load_or_exit(site_file)
    run_until_stopped(serve_engine(site, db, RealClock(), speed=1.0, tick_s=tick_s,
                                   bacnet_port=bacnet_port, history=history, panel=panel))


@click.command()
@click.option("--site", "site_file", type=click.Path(dir_okay=False, path_type=Path),
              default=DEMO_SITE, show_default=True)
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="simulated seconds per real second")
@click.option("--seed", type=int, default=0, show_default=True,
              help="seed of the weather and the occupants")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("var/demo.sqlite"), show_default=True,
              help="the demo's store, kept from one start to the next (its simulated past "
                   "is cached beside it)")
@click.option("--afresh", is_flag=True,
              help="start on a new store: forget what was done in the panel (overrides, "
                   "programmes, agenda, accounts) and the demo's days since its past")
@click.option("--no-history", is_flag=True,
              help="a new store starts empty, without the commune's two simulated years")
@click.option("--bacnet-port", type=int, default=47808, show_default=True,
              help="UDP port of the engine's own BACnet/IP client")
@mqtt_port_option
@history_options
@panel_options
def demo(site_file: Path, speed: float, seed: int, db: Path, afresh: bool, no_history: bool,
         bacnet_port: int, mqtt_port: int | None, **options: Any) -> None:
    """The virtual commune, the engine on it and the web panel, in one process.

    A new store starts with the commune's past (docs/simulation.md): a year under its
    former heating programme, then the engine's controllers up to now, simulated the
    first time (about a minute) and cached beside the store. A store already there is
    taken up where the demo stopped, with what people did in the panel. The commune's
    LoRaWAN devices publish on a Mosquitto started for them, stopped with the demo."""
    from gtb.sim.broker import with_mqtt_port
    from gtb.sim.past import commands, remove_store, where_it_stopped
    from gtb.sim.runner import SimulationStopped, VirtualSite

    history = History.from_options(options)
    panel = PanelAddress.from_options(options, speed=speed)
    site = with_mqtt_port(load_or_exit(site_file), mqtt_port)
    if afresh:
        remove_store(db)
    start = RealClock().now().replace(microsecond=0)
    past: list[VirtualCommune] = []
    if db.exists():
        stopped, readings = where_it_stopped(site, db)
        start = stopped or start
        said = Reason.of("demo.resumed", db=str(db), at=start.astimezone(site.tz)).fr
    else:
        if not no_history:
            past = _demo_past(site_file, seed, db, start)
        # The devices hold what the past's engine last wrote, as real ones would.
        readings = commands(site, where_it_stopped(site, db)[1]) if past else {}
        said = Reason.of("demo.new_empty" if no_history else "demo.new_history",
                         db=str(db)).fr
    clock = SimulatedClock(start, speed=speed)
    if panel is not None:
        _demo_accounts(db, clock)

    async def both() -> None:
        virtual = VirtualSite(site, clock, seed=seed, carry_on=past, taking_up=readings,
                              serve_forecast=True)
        async with virtual.serving():
            radio = "" if virtual.radio is None else (
                f" et {len(virtual.radio.devices)} LoRaWAN par MQTT "
                f"{virtual.radio.host}:{virtual.radio.port}")
            console.print(f"commune virtuelle sur la boucle locale : {len(virtual.servers)} "
                          f"appareils{radio} ; vitesse ×{shortest(speed)} ; {said}",
                          highlight=False)
            await virtual.alongside(serve_engine(
                site, db, clock, speed=speed, tick_s=60.0, bacnet_port=bacnet_port,
                history=history, panel=panel))

    with simulation_broker(site):
        try:
            run_until_stopped(both())
        except SimulationStopped as exc:
            raise click.ClickException(str(exc)) from None


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
    """One account per role with a random password, printed: no default credentials.
    Accounts the store already has are kept, with their passwords (not printed again)."""
    import secrets

    from web.auth import hash_password

    db.parent.mkdir(parents=True, exist_ok=True)
    table = Table(title="Comptes de la démo (mots de passe tirés au hasard à leur création)")
    for column in ("nom", "rôle", "mot de passe"):
        table.add_column(column)
    kept: list[str] = []
    with Store(db) as store:
        for name, role in (("elu", UserRole.VIEWER), ("gestionnaire", UserRole.OPERATOR),
                           ("admin", UserRole.ADMIN)):
            if store.accounts.user(name) is not None:
                kept.append(name)
                continue
            password = secrets.token_urlsafe(12)
            store.accounts.add_user(name, hash_password(password), role, at=clock.now())
            table.add_row(name, Reason.of(f"role.{role.value}").fr, password)
    if table.row_count:
        console.print(table)
    if kept:
        console.print(Reason.of("demo.accounts_kept", names=", ".join(kept), db=str(db)).fr,
                      highlight=False)
