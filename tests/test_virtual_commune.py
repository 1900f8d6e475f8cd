"""The virtual commune served on loopback: real clients read it, write it, and it reacts.

A pymodbus client and a BAC0 client read every point of the demo commune on Modbus and
BACnet and find what the physics says; they write every writable point, simulated time
passes, and the buildings respond as buildings would. (The salle des fêtes and the river
gauge are LoRaWAN devices, on the air through a broker: tests/test_sim_radio.py.)
"""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import BAC0
import pytest
from pymodbus.client import AsyncModbusTcpClient

from gtb.clock import SimulatedClock
from gtb.model import PointRef, Site
from gtb.model.points import BacnetBinding, ModbusBinding
from gtb.sim.runner import VirtualSite

from .conftest import free_port
from .field_clients import bacnet_text, bounded, read_modbus, write_modbus

PARIS = ZoneInfo("Europe/Paris")
MONDAY_5AM = datetime(2026, 1, 12, 5, 0, tzinfo=PARIS)

COMMANDS = {
    "mairie.accueil.consigne": 21.0,
    "mairie.bureaux.consigne": 12.0,
    "mairie.salle-du-conseil.consigne": 16.0,
    "mairie.accueil.eclairage": 1.0,
    "mairie.bureaux.eclairage": 0.0,
    "mairie.salle-du-conseil.eclairage": 0.0,
    "mairie.chaudiere": 1.0,
    "ecole.chaudiere": 0.0,  # the school's boiler is stopped: the school must cool down
    "ecole.maternelle.consigne": 20.0,
    "ecole.elementaire.consigne": 20.0,
    "ecole.cantine.consigne": 20.0,
    "ecole.direction.consigne": 20.0,
    "ecole.maternelle.eclairage": 1.0,
    "ecole.elementaire.eclairage": 1.0,
    "ecole.cantine.eclairage": 0.0,
    "gymnase.chaudiere": 1.0,
    "gymnase.salle.consigne": 20.0,
    "gymnase.salle.mode": 1.0,
    "gymnase.vestiaires.consigne": 20.0,
    "gymnase.vestiaires.mode": 4.0,  # off: no heat whatever the setpoint
    "gymnase.salle.eclairage": 1.0,
    "gymnase.vestiaires.eclairage": 0.0,
    "mediatheque.pac": 1.0,
    "mediatheque.lecture.consigne": 19.0,
    "mediatheque.lecture.mode": 3.0,  # frost protection: the zone's 8 °C level applies
    "mediatheque.bureau.consigne": 19.0,
    "mediatheque.lecture.eclairage": 0.0,
    "ep-centre.relais": 1.0,
    "ep-centre.gradation": 50.0,
    "ep-eglise.relais": 1.0,
    "ep-stade.relais": 0.0,
    "ep-stade.gradation": 100.0,
    "fontaine.pompe": 1.0,
    "creche.chaudiere": 1.0,
    "creche.bebes.consigne": 20.0,
    "creche.moyens.consigne": 20.0,
    "creche.grands.consigne": 20.0,
    "creche.bureau.consigne": 20.0,
    "creche.bebes.eclairage": 1.0,
    "creche.moyens.eclairage": 0.0,
}


class FieldClients:
    """One pymodbus client per Modbus server and one BAC0 client for every BACnet device."""

    def __init__(self, modbus: dict[tuple[str, int], AsyncModbusTcpClient], bacnet: Any) -> None:
        self.modbus = modbus
        self.bacnet = bacnet

    async def read(self, ref: PointRef) -> float:
        binding = ref.binding
        if isinstance(binding, ModbusBinding):
            return await read_modbus(self.modbus[(binding.host, binding.port)], binding)
        value = await bounded(self.bacnet.read(f"{bacnet_object(binding)} presentValue"))
        return float(value)  # BAC0 reads a binary state as an int-like enumeration

    async def write(self, ref: PointRef, value: float) -> None:
        binding = ref.binding
        if isinstance(binding, ModbusBinding):
            await write_modbus(self.modbus[(binding.host, binding.port)], binding, value)
            return
        text = bacnet_text(ref.role, value)
        await bounded(self.bacnet._write(
            f"{bacnet_object(binding)} presentValue {text} - {binding.priority}"
        ))


def bacnet_object(binding: BacnetBinding) -> str:
    return f"{binding.address} {binding.object_type}:{binding.object_instance}"


def tolerance(ref: PointRef) -> float:
    """What the wire can carry: a register step for scaled integers, float32 otherwise."""
    binding = ref.binding
    if isinstance(binding, ModbusBinding) and binding.data_type != "float32":
        return abs(binding.scale) / 2 + 1e-9
    return 1e-3


def run_with_clients(site: Site, virtual: VirtualSite, body: Any) -> None:
    async def scenario() -> None:
        async with virtual.serving(sync_s=0.05):
            modbus: dict[tuple[str, int], AsyncModbusTcpClient] = {}
            for ref in site.points():
                b = ref.binding
                if isinstance(b, ModbusBinding) and (b.host, b.port) not in modbus:
                    client = AsyncModbusTcpClient(b.host, port=b.port, timeout=2, retries=0)
                    assert await bounded(client.connect())
                    modbus[(b.host, b.port)] = client
            try:
                async with BAC0.lite(ip="127.0.0.1/24", port=free_port(socket.SOCK_DGRAM),
                                     deviceId=3998) as bacnet:
                    await body(FieldClients(modbus, bacnet))
            finally:
                for client in modbus.values():
                    client.close()

    asyncio.run(scenario())


def wired(site: Site) -> list[PointRef]:
    """The site's points on Modbus and BACnet."""
    return [ref for ref in site.points()
            if isinstance(ref.binding, ModbusBinding | BacnetBinding)]


def test_clients_read_every_point_as_the_physics_has_it(demo_site: Site) -> None:
    clock = SimulatedClock(MONDAY_5AM)
    virtual = VirtualSite(demo_site, clock, seed=3)
    # Let a simulated day pass first, so meters, CO2 and temperatures are not initial values.
    clock.advance(24 * 3600)
    virtual.sync()

    async def body(clients: FieldClients) -> None:
        for ref in wired(demo_site):
            seen = await clients.read(ref)
            assert seen == pytest.approx(virtual.world.read(ref.key), abs=tolerance(ref)), ref.key

    run_with_clients(demo_site, virtual, body)


def test_written_commands_change_what_the_buildings_do(demo_site: Site) -> None:
    clock = SimulatedClock(MONDAY_5AM)
    virtual = VirtualSite(demo_site, clock, seed=3)
    world = virtual.world
    writable = {ref.key for ref in wired(demo_site) if ref.point.writable}
    assert writable == set(COMMANDS), "every writable wired point is commanded by this test"
    before = world.values()

    async def body(clients: FieldClients) -> None:
        for key, value in COMMANDS.items():
            await clients.write(demo_site.point(key), value)
        virtual.sync()
        for key, value in COMMANDS.items():
            assert world.read(key) == pytest.approx(value), key
        clock.advance(4 * 3600)
        virtual.sync()
        for key in ("mairie.accueil.temperature", "ecole.maternelle.temperature",
                    "ep-centre.compteur", "gymnase.vestiaires.vanne"):
            ref = demo_site.point(key)
            assert await clients.read(ref) == pytest.approx(world.read(key), abs=tolerance(ref))

    run_with_clients(demo_site, virtual, body)
    after = world.values()
    hours = 4.0

    # A zone asked for 21 °C ends warmer than its neighbour asked for 12 °C.
    assert after["mairie.accueil.temperature"] > after["mairie.bureaux.temperature"] + 1.0
    # The school's boiler is off: no heat metered, every zone cooler than it was.
    assert after["ecole.compteur-chauffage"] == pytest.approx(before["ecole.compteur-chauffage"])
    for zone in ("maternelle", "elementaire", "cantine", "direction"):
        assert after[f"ecole.{zone}.temperature"] < before[f"ecole.{zone}.temperature"]
    # The town hall's boiler runs and its meter counts.
    assert after["mairie.compteur-chauffage"] > before["mairie.compteur-chauffage"]
    # Mode "off" shuts the changing rooms' valve; frost protection holds the library near 8 °C.
    assert after["gymnase.vestiaires.vanne"] == 0.0
    assert after["mediatheque.lecture.temperature"] < before["mediatheque.lecture.temperature"]
    # Lights: the centre's cabinet at 50 % of 6.4 kW for 4 h, the stadium's off.
    assert after["ep-centre.compteur"] - before["ep-centre.compteur"] == pytest.approx(
        6.4 * 0.5 * hours, rel=0.02)
    assert after["ep-eglise.compteur"] - before["ep-eglise.compteur"] == pytest.approx(
        1.8 * hours, rel=0.02)
    assert after["ep-stade.compteur"] == pytest.approx(before["ep-stade.compteur"])
    # The crèche's pump runs from 06:00 (its own clock): its fan coils have heated.
    assert after["creche.circulateur"] == 1.0
    assert after["creche.compteur-chauffage"] > before["creche.compteur-chauffage"]
    # The reception's 900 W circuit is on: the town hall's electricity meter counts it.
    used = after["mairie.compteur-electricite"] - before["mairie.compteur-electricite"]
    assert used >= 0.9 * hours * 0.98


def test_released_bacnet_command_returns_to_the_building_default(demo_site: Site) -> None:
    clock = SimulatedClock(MONDAY_5AM)
    virtual = VirtualSite(demo_site, clock, seed=3)
    setpoint = demo_site.point("gymnase.salle.consigne")
    binding = setpoint.binding
    assert isinstance(binding, BacnetBinding)
    default = virtual.world.read(setpoint.key)

    async def body(clients: FieldClients) -> None:
        await clients.write(setpoint, 14.0)
        virtual.sync()
        assert virtual.world.read(setpoint.key) == 14.0
        await bounded(clients.bacnet._write(
            f"{bacnet_object(binding)} presentValue null - {binding.priority}"))
        virtual.sync()
        assert virtual.world.read(setpoint.key) == default

    run_with_clients(demo_site, virtual, body)
    assert default == demo_site.comfort.comfort
