"""The virtual commune's LoRaWAN devices, on the air: the site file's ``lorawan:`` devices
played by simulated network servers (``gtb.sim.lorawan``) on the site's broker.

Each device reports what the virtual commune measures at its uplink: the field of each
point bound to it, as the raw number its binding reads (``(value - offset) / scale``);
``battery``, ``rssi`` and ``snr`` are the radio's own (the simulated server's). A device
whose codec is the engine's (``milesight-wt101``) transmits its maker's bytes, which the
engine decodes; the others' fields are the server's decoded object. A downlink the device
takes writes its command points' values into the commune (a WT101's target temperature
becomes its zone's setpoint), which its next uplinks report.

One network server per kind, application and tenant, each on its own connection to the
broker, as one ChirpStack or The Things Stack integration would publish. Each device has
its own link (a mean RSSI and SNR) and battery, drawn from the seed and its id: a
commune's devices are at different distances from the gateway and were installed at
different times. Batteries run down at a pace that empties them in ``BATTERY_YEARS`` at
the device's uplink interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiomqtt

from gtb.clock import Clock
from gtb.model import Site
from gtb.model.lorawan import LorawanBinding, LorawanDevice
from gtb.sim.broker import plain_loopback
from gtb.sim.lorawan import (
    DownlinkEffect,
    SimulatedDevice,
    SimulatedNetworkServer,
    codec_fields,
    wt101_effect,
)
from gtb.sim.world import VirtualCommune
from protocols.lorawan import Downlink, NetworkServer
from protocols.lorawan_devices import WT101_PORT, wt101_encode

RADIO_FIELDS = frozenset({"battery", "rssi", "snr"})
"""Fields every uplink has, which the radio makes, not the commune."""

BATTERY_YEARS = 3.0
"""How long a full battery lasts at the device's uplink interval: the order of what
makers announce for such devices (several years), not one maker's figure."""

RSSI_RANGE, SNR_RANGE = (-115.0, -80.0), (-6.0, 9.0)
"""Where each device's mean link is drawn: from a gateway on the next roof to one at the
edge of its reach (the engine's weak link alarm is at -120 dBm, -15 dB by default)."""

RECONNECT_S = 1.0
"""Real seconds between a network server's tries at an unreachable broker."""

BATTERY_RANGE = (15.0, 100.0)
"""Where each device's battery level at the start is drawn (%)."""


@dataclass(frozen=True)
class _Bound:
    key: str
    binding: LorawanBinding

    def raw(self, value: float) -> float:
        return (value - self.binding.offset) / self.binding.scale


def _bound(site: Site) -> dict[str, list[_Bound]]:
    """The points bound to each device's uplink fields, by device id."""
    bound: dict[str, list[_Bound]] = {}
    for ref in site.points():
        if isinstance(ref.binding, LorawanBinding):
            bound.setdefault(ref.binding.device, []).append(_Bound(ref.key, ref.binding))
    return bound


class SiteRadio:
    """The site's LoRaWAN devices fed by ``world``, behind simulated network servers on
    the broker at the site's ``mqtt:`` address."""

    def __init__(self, site: Site, world: VirtualCommune, clock: Clock, seed: int = 0
                 ) -> None:
        broker = site.mqtt
        if broker is None:
            raise ValueError(f"site {site.id} has LoRaWAN points but no broker (mqtt:)")
        if not plain_loopback(broker):
            raise ValueError(f"the virtual commune publishes on a plain broker on loopback, "
                             f"not on {broker.address}{' with TLS' if broker.tls else ''}")
        self.site, self.world, self.clock, self.seed = site, world, clock, seed
        self.host = broker.host
        self.port = broker.port or 1883
        bound = _bound(site)
        self.devices = {device.id: self._simulated(device, bound[device.id])
                        for device in site.lorawan if device.id in bound}
        """The simulated devices, by their id in the site file."""
        self.groups: dict[tuple[NetworkServer, str, str | None], list[SimulatedDevice]] = {}
        for device in site.lorawan:
            if device.id in self.devices:
                self.groups.setdefault(
                    (device.network_server, device.application, device.tenant), []
                ).append(self.devices[device.id])
        self.servers: list[SimulatedNetworkServer] = []
        """The network servers, while on the air (``on_air``)."""
        self.connected: set[SimulatedNetworkServer] = set()
        """The network servers connected to the broker now."""
        self._sending: asyncio.Task[None] | None = None

    def _simulated(self, device: LorawanDevice, bound: list[_Bound]) -> SimulatedDevice:
        measured = [b for b in bound if b.binding.field not in RADIO_FIELDS]
        world = self.world

        def readings(at: datetime) -> dict[str, float]:
            return {b.binding.field: b.raw(world.read(b.key)) for b in measured}

        draw = random.Random(f"{self.seed}:{device.id}")
        interval = timedelta(seconds=device.interval_s)
        uplinks_a_battery = BATTERY_YEARS * 365.25 * 86400 / device.interval_s
        wt101 = device.codec == "milesight-wt101"
        return SimulatedDevice(  # The Things Stack's topics name it by its device id
            device.device_id or device.id, device.dev_eui or _eui_of(device.id), interval,
            readings,
            on_downlink=self._effect(wt101_effect if wt101 else codec_fields, bound),
            f_port=WT101_PORT if wt101 else 1, battery=round(draw.uniform(*BATTERY_RANGE), 1),
            drain=100.0 / uplinks_a_battery, rssi=round(draw.uniform(*RSSI_RANGE)),
            snr=round(draw.uniform(*SNR_RANGE), 1), encode=wt101_encode if wt101 else None)

    def _effect(self, read: Callable[[Downlink], Mapping[str, float]],
                bound: list[_Bound]) -> DownlinkEffect:
        """A downlink as the device applies it: each field it sets that a command point
        names (``command_field``) written into the commune; nothing is kept in the device,
        whose uplinks report the commune's values. ``ValueError`` (the downlink ignored)
        when it sets none, or a value its point refuses."""
        commands = {b.binding.command_field: b for b in bound
                    if b.binding.command_field is not None}
        world = self.world

        def apply(downlink: Downlink) -> dict[str, float]:
            targets = [(commands[name], raw) for name, raw in read(downlink).items()
                       if name in commands]
            if not targets:
                raise ValueError(f"no command point takes {sorted(read(downlink))}")
            for point, raw in targets:
                value = raw * point.binding.scale + point.binding.offset
                refused = world.refusal(point.key, value)
                if refused is not None:
                    raise ValueError(refused)
            for point, raw in targets:
                world.write(point.key, raw * point.binding.scale + point.binding.offset)
            return {}

        return apply

    @contextlib.asynccontextmanager
    async def on_air(self) -> AsyncIterator[SiteRadio]:
        """A network server per group, each connected to the broker, taking its downlinks
        while in the block. A server that cannot reach the broker tries again every
        ``RECONNECT_S`` (its uplinks meanwhile are lost, counted as ``unpublished``); its
        session is kept (``clean_session`` false), so that the downlinks published while
        it was away reach it. Uplinks go out at ``transmit``."""
        self.servers = [
            SimulatedNetworkServer(
                aiomqtt.Client(self.host, self.port, identifier=f"gtb-sim-serveur-{n}",
                               clean_session=False, timeout=10),
                kind, application, devices, self.clock, seed=self.seed + n,
                timezone=self.site.tz, tenant=tenant)
            for n, ((kind, application, tenant), devices) in enumerate(self.groups.items())]
        tried = [asyncio.Event() for _ in self.servers]
        tasks = [asyncio.create_task(self._keep_connected(server, event))
                 for server, event in zip(self.servers, tried, strict=True)]
        try:
            for event in tried:  # each server's first try at the broker, done
                await event.wait()
            yield self
        finally:
            for task in [*tasks, *([self._sending] if self._sending else [])]:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await task
            self._sending = None
            self.servers = []

    async def _keep_connected(self, server: SimulatedNetworkServer, tried: asyncio.Event
                              ) -> None:
        while True:
            try:
                async with server.client:
                    await server.subscribe()
                    self.connected.add(server)
                    tried.set()
                    await server.listen()
            except aiomqtt.MqttError:
                pass
            finally:
                self.connected.discard(server)
            tried.set()
            await asyncio.sleep(RECONNECT_S)

    def transmit(self) -> None:
        """Publish the uplinks due by the clock's now, in a task of their own, so that a
        broker slow to acknowledge never holds the commune's other devices; unless the
        last ones are still going out. Raises what made the last ones fail."""
        if self._sending is not None:
            if not self._sending.done():
                return
            self._sending.result()
        self._sending = asyncio.create_task(self._publish_due(self.clock.now()))

    async def _publish_due(self, by: datetime) -> None:
        """Only what was due when the commune was brought up to ``by``: the clock may
        move while the messages go out, the commune only at its next step."""
        for server in self.servers:
            await server.publish_due(by)


def _eui_of(device_id: str) -> str:
    """A DevEUI for a device of The Things Stack, which the site names by its id only."""
    return f"{random.Random(device_id).getrandbits(64):016x}"
