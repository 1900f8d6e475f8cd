"""Runs the virtual commune in (accelerated) real time behind its simulated devices.

Every ``sync_s`` real seconds: commands that clients wrote to the devices go into the
physics, the physics advances to the clock's now, the new readings go back to the
devices, and the LoRaWAN devices' uplinks due by then go on the air. The devices are real
Modbus TCP servers and BACnet/IP devices on loopback, and LoRaWAN devices behind simulated
network servers publishing on a real MQTT broker (``gtb.sim.radio``), so whatever talks to
them (the engine, a BMS tool, a test) sees real protocol traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from typing import Any, TypeVar

from rich.console import Console
from rich.live import Live
from rich.table import Table

from gtb.clock import SimulatedClock
from gtb.i18n import number_fr, short_day
from gtb.model import Site
from gtb.model.lorawan import LorawanBinding
from gtb.model.points import Role
from gtb.sim.devices import DeviceServer, device_servers
from gtb.sim.forecast import ForecastServer, loopback_address
from gtb.sim.radio import SiteRadio
from gtb.sim.world import VirtualCommune

T = TypeVar("T")


class SimulationStopped(RuntimeError):
    """The loop that keeps the devices in step with the physics failed: why, and when."""


class VirtualSite:
    """The physics of a site and the devices that expose it, kept in step."""

    def __init__(self, site: Site, clock: SimulatedClock, seed: int = 0,
                 carry_on: Sequence[VirtualCommune] = (),
                 taking_up: Mapping[str, float] | None = None,
                 bacnet_options: Mapping[str, Mapping[str, Any]] | None = None,
                 serve_forecast: bool = False) -> None:
        """``carry_on``: worlds (of the site or of some of its buildings) whose physics
        the virtual site continues, as the demo continues its simulated history;
        ``taking_up``: the last readings of a run no longer at hand, by point key
        (``VirtualCommune.take_up``): its devices start holding the commands they held
        then (a BACnet point as its relinquish default), not the building's own
        defaults, which a power cycle still brings back;
        ``bacnet_options``: devices unlike the others (``device_servers``);
        ``serve_forecast``: serve the weather's forecast where the site file's
        ``forecast: url:`` says, if that is on loopback (``gtb.sim.forecast``).
        LoRaWAN devices publish on the site's broker, which the caller starts
        (``gtb.sim.broker``)."""
        self.site = site
        self.clock = clock
        self.world = VirtualCommune(site, clock.now(), seed=seed)
        for past in carry_on:
            self.world.carry_on_from(past)
        self._defaults = self.world.values()
        self.world.take_up(taking_up or {})
        self._bacnet_options = bacnet_options
        self.servers: list[DeviceServer] = device_servers(site, self.world.values(),
                                                          bacnet_options)
        self._writable = {ref.key for ref in site.points() if ref.point.writable}
        self._stepping: asyncio.Task[None] | None = None
        self._pair_points()
        self.radio = (SiteRadio(site, self.world, clock, seed)
                      if any(isinstance(ref.binding, LorawanBinding) for ref in site.points())
                      else None)
        """The site's LoRaWAN devices, when it has some."""
        address = (None if not serve_forecast or site.forecast is None
                   else loopback_address(site.forecast.url))
        self.forecast = None if address is None else ForecastServer(
            self.world.weather, clock.now, site.latitude, site.longitude, *address)
        """The weather service, when this virtual site serves one."""

    def _pair_points(self) -> None:
        self._commands = [(s, k) for s in self.servers for k in s.keys if k in self._writable]
        self._readings = [(s, k) for s in self.servers for k in s.keys
                          if k not in self._writable]

    def sync(self) -> None:
        """Commands in, physics up to now, readings out. A command the physics cannot take
        (a device power-cycled to an invalid value: clients' writes of one are refused by
        the devices) leaves the physics as it was, as a controller ignores it."""
        for server, key in self._commands:
            value = server.commanded(key)
            if self.world.refusal(key, value) is None:
                self.world.write(key, value)
        self.world.advance_to(self.clock.now())
        for server, key in self._readings:
            server.publish(key, self.world.read(key))

    async def power_cycle(self, server: DeviceServer,
                          held: Mapping[str, float] | None = None) -> DeviceServer:
        """Switch a device off and on: it comes back holding the building's own defaults
        for its commands, as a controller that lost its memory does, or what ``held`` says
        for some of them: a value out of the point's range (a mode 0, a setpoint of
        -1000 °C) is what a controller that lost its configuration may hold."""
        await server.stop()
        values = self.world.values()
        initial = {key: self._defaults[key] if key in self._writable else values[key]
                   for key in self._defaults}
        for key, value in (held or {}).items():
            if key not in self._writable or key not in server.keys:
                raise ValueError(f"{key!r} is not a command point of {server.label}")
            initial[key] = value
        [fresh] = [s for s in device_servers(self.site, initial, self._bacnet_options)
                   if s.keys == server.keys]
        self.servers[self.servers.index(server)] = fresh
        self._pair_points()
        await fresh.start()
        return fresh

    @contextlib.asynccontextmanager
    async def serving(self, sync_s: float = 0.25) -> AsyncIterator[VirtualSite]:
        """Start every device (LoRaWAN ones on the air, through the site's broker), keep
        them in step with the physics, stop them on exit."""
        started: list[DeviceServer] = []
        try:
            for server in self.servers:
                await server.start()
                started.append(server)
            async with contextlib.AsyncExitStack() as air:
                if self.radio is not None:
                    await air.enter_async_context(self.radio.on_air())
                async with self._in_step(sync_s):
                    yield self
        finally:
            for server in reversed(started):
                await server.stop()

    @contextlib.asynccontextmanager
    async def _in_step(self, sync_s: float) -> AsyncIterator[None]:
        """The loop that keeps the devices in step with the physics, and the weather
        service, while in the block."""
        try:
            self.sync()
            if self.forecast is not None:
                self.forecast.start()
            self._stepping = asyncio.create_task(self._keep_in_step(sync_s))
            try:
                yield
            finally:
                self._stepping.cancel()
                with contextlib.suppress(asyncio.CancelledError, SimulationStopped):
                    await self._stepping
                self._stepping = None
        finally:
            if self.forecast is not None:
                self.forecast.stop()

    async def _keep_in_step(self, sync_s: float) -> None:
        while True:
            await asyncio.sleep(sync_s)
            try:
                self.sync()
                if self.radio is not None:
                    self.radio.transmit()
            except Exception as exc:
                raise SimulationStopped(
                    f"the virtual commune stopped at {self.world.now:%Y-%m-%d %H:%M} "
                    f"(simulated, UTC): {type(exc).__name__}: {exc}; its devices would "
                    "answer with frozen values") from exc

    async def alongside(self, work: Awaitable[T]) -> T:
        """Run ``work`` while serving; if the loop that keeps the devices in step with the
        physics fails, ``work`` is cancelled and ``SimulationStopped`` says why, instead of
        devices answering with frozen values while nobody knows."""
        if self._stepping is None:
            raise RuntimeError("alongside() runs inside serving()")
        worker = asyncio.ensure_future(work)
        watcher = asyncio.ensure_future(asyncio.shield(self._stepping))
        try:
            await asyncio.wait((worker, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            if not worker.done():
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
        if self._stepping.done() and not self._stepping.cancelled():
            self._stepping.result()  # raises SimulationStopped
        return worker.result()


def zone_table(virtual: VirtualSite) -> Table:
    """What the virtual commune is doing now, one line a zone."""
    site, world = virtual.site, virtual.world
    local = world.now.astimezone(site.tz)
    outdoor = next(
        (world.read(ref.key) for ref in site.points() if ref.role is Role.OUTDOOR_TEMPERATURE),
        None,
    )
    weather = "" if outdoor is None else f", {number_fr(outdoor)} °C dehors"
    table = Table(title=f"{site.name} — {short_day(local)} {local:%d/%m/%Y %H:%M} "
                        f"(simulé){weather}")
    for column in ("zone", "temp. °C", "consigne °C", "chauffage %", "présence"):
        table.add_column(column, justify="left" if column == "zone" else "right")
    for building in site.buildings:
        for zone in building.zones:
            values = {
                ref.role: world.read(ref.key)
                for ref in site.points()
                if ref.zone is zone and ref.building is building
            }

            def show(role: Role, digits: int, values: dict[Role, float] = values) -> str:
                return number_fr(values[role], digits) if role in values else "—"

            signal = next((role for role in (Role.VALVE, Role.FAN_SPEED, Role.EMITTER_POWER)
                           if role in values), Role.VALVE)  # whichever the zone reports

            table.add_row(
                f"{building.name} / {zone.name}",
                show(Role.ZONE_TEMPERATURE, 1),
                show(Role.HEATING_SETPOINT, 1),
                show(signal, 0),
                "oui" if values.get(Role.OCCUPANCY) else "non",
            )
    return table


async def serve_virtual_site(
    site: Site, clock: SimulatedClock, seed: int = 0, console: Console | None = None
) -> None:
    """``gtb sim``: serve until cancelled, showing where devices listen and the zones."""
    console = console or Console()
    virtual = VirtualSite(site, clock, seed, serve_forecast=True)
    async with virtual.serving():
        devices = Table(title="Virtual devices on loopback")
        devices.add_column("device")
        for server in virtual.servers:
            devices.add_row(server.label)
        if virtual.radio is not None:
            for name, device in virtual.radio.devices.items():
                devices.add_row(f"LoRaWAN {name} ({device.dev_eui}) via MQTT "
                                f"{virtual.radio.host}:{virtual.radio.port}")
        if virtual.forecast is not None:
            devices.add_row(f"weather forecast {virtual.forecast.url}")
        console.print(devices)
        console.print(f"speed ×{clock.speed:g}; Ctrl-C to stop")
        with Live(zone_table(virtual), console=console, refresh_per_second=1) as live:

            async def show() -> None:
                while True:
                    await asyncio.sleep(1.0)
                    live.update(zone_table(virtual))

            await virtual.alongside(show())
