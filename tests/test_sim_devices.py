"""Simulated devices of the demo commune, driven by real clients over loopback.

A pymodbus client reads and writes every Modbus point; a BAC0 client, on its own UDP port
in the same event loop as the devices (as the engine will be), reads every BACnet point,
commands the writable ones at their priority and releases them.
"""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Any

import BAC0
import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes

from gtb.config import parse_site
from gtb.model import PointRef, Site
from gtb.model.points import BacnetBinding, ModbusBinding, Role
from gtb.sim.devices import (
    BacnetDeviceServer,
    DeviceServer,
    ModbusDeviceServer,
    device_servers,
)

from .conftest import free_port
from .field_clients import bacnet_text, bounded, read_modbus, write_modbus

INITIAL = {
    Role.ZONE_TEMPERATURE: 19.5,
    Role.HEATING_SETPOINT: 19.0,
    Role.HEATING_MODE: 2.0,
    Role.VALVE: 35.5,
    Role.FAN_SPEED: 40.0,
    Role.EMITTER_POWER: 20.0,
    Role.OCCUPANCY: 0.0,
    Role.CO2: 640.0,
    Role.LIGHTING_RELAY: 0.0,
    Role.PLANT_ENABLE: 1.0,
    Role.PLANT_AVAILABLE: 0.0,
    Role.OUTDOOR_TEMPERATURE: -3.5,
    Role.ENERGY_METER: 12345.5,
    Role.POWER: 4.25,
    Role.CABINET_RELAY: 1.0,
    Role.DIMMING_LEVEL: 80.0,
    Role.EQUIPMENT_RELAY: 0.0,
    Role.MEASUREMENT: 2.5,
}
"""What the devices hold at start; command points return to it when released."""

PUBLISHED = {
    Role.ZONE_TEMPERATURE: 21.3,
    Role.VALVE: 62.5,
    Role.FAN_SPEED: 75.5,
    Role.EMITTER_POWER: 55.5,
    Role.PLANT_AVAILABLE: 1.0,
    Role.OCCUPANCY: 1.0,
    Role.CO2: 1150.0,
    Role.OUTDOOR_TEMPERATURE: -7.2,
    Role.ENERGY_METER: 23456.5,
    Role.POWER: 7.5,
    Role.MEASUREMENT: 3.75,
}
"""New readings, each unlike its initial value."""

COMMANDED = {
    Role.HEATING_SETPOINT: 20.5,
    Role.HEATING_MODE: 3.0,
    Role.LIGHTING_RELAY: 1.0,
    Role.PLANT_ENABLE: 0.0,
    Role.CABINET_RELAY: 0.0,
    Role.DIMMING_LEVEL: 45.0,
    Role.EQUIPMENT_RELAY: 1.0,
}
"""What a client writes, each unlike its initial value."""


def initial_values(site: Site) -> dict[str, float]:
    return {ref.key: INITIAL[ref.role] for ref in site.points()}


def points_of(server: DeviceServer, site: Site) -> list[PointRef]:
    return [site.point(key) for key in server.keys]


# --- Modbus ------------------------------------------------------------------------------


def test_modbus_clients_read_and_write_every_point(demo_site: Site) -> None:
    servers = [s for s in device_servers(demo_site, initial_values(demo_site))
               if isinstance(s, ModbusDeviceServer)]
    assert [s.label for s in servers] == [  # the town hall's river gauge is on LoRaWAN
        f"Modbus TCP 127.0.0.1:{servers[0].port} (unit 1): 21 points",
        f"Modbus TCP 127.0.0.1:{servers[1].port} (unit 1): 24 points",
        f"Modbus TCP 127.0.0.1:{servers[2].port} (unit 1): 22 points",
    ]

    async def scenario() -> None:
        for server in servers:
            await server.start()
        try:
            for server in servers:
                client = AsyncModbusTcpClient(server.host, port=server.port, timeout=2, retries=0)
                assert await bounded(client.connect())
                try:
                    await exercise_modbus(client, server, demo_site)
                finally:
                    client.close()
        finally:
            for server in servers:
                await server.stop()

    asyncio.run(scenario())


async def exercise_modbus(
    client: AsyncModbusTcpClient, server: ModbusDeviceServer, site: Site
) -> None:
    points = [(ref, ref.binding) for ref in points_of(server, site)]
    for ref, binding in points:
        assert isinstance(binding, ModbusBinding)
        assert await read_modbus(client, binding) == pytest.approx(INITIAL[ref.role]), ref.key
        if not ref.point.writable:
            server.publish(ref.key, PUBLISHED[ref.role])
            assert await read_modbus(client, binding) == pytest.approx(PUBLISHED[ref.role])
        else:
            await write_modbus(client, binding, COMMANDED[ref.role])
            assert server.commanded(ref.key) == pytest.approx(COMMANDED[ref.role]), ref.key
            assert await read_modbus(client, binding) == pytest.approx(COMMANDED[ref.role])

    # Modbus has no function to write an input register or a discrete input: a write to
    # the same address goes to the holding register (or coil) and leaves the input alone.
    temperature = next(ref for ref, b in points if ref.role is Role.ZONE_TEMPERATURE)
    binding = temperature.binding
    assert isinstance(binding, ModbusBinding) and binding.table == "input_register"
    response = await bounded(client.write_register(binding.address, 999, device_id=1))
    assert not response.isError()
    assert await read_modbus(client, binding) == pytest.approx(PUBLISHED[Role.ZONE_TEMPERATURE])
    assert not hasattr(client, "write_input_register")

    beyond = max(b.address for _, b in points if isinstance(b, ModbusBinding)
                 and b.table == "holding_register") + 2
    response = await bounded(client.write_register(beyond, 1, device_id=1))
    assert response.isError() and response.exception_code == ExcCodes.ILLEGAL_ADDRESS
    response = await bounded(client.read_input_registers(200, count=1, device_id=1))
    assert response.isError() and response.exception_code == ExcCodes.ILLEGAL_ADDRESS
    response = await bounded(client.read_coils(0, count=1, device_id=42))
    assert response.isError() and response.exception_code == ExcCodes.GATEWAY_NO_RESPONSE


def test_one_modbus_server_serves_every_unit_on_its_port(demo_site_text: str,
                                                         demo_site: Site) -> None:
    town_hall = demo_site.point("mairie.chaudiere").binding
    school = demo_site.point("ecole.chaudiere").binding
    assert isinstance(town_hall, ModbusBinding) and isinstance(school, ModbusBinding)
    text = demo_site_text.replace(f"port: {school.port}, unit: 1",
                                  f"port: {town_hall.port}, unit: 2")
    site = parse_site(text, "two-units.yaml")
    (server, _) = [s for s in device_servers(site, initial_values(site))  # and the crèche's
                   if isinstance(s, ModbusDeviceServer)]
    assert server.label == f"Modbus TCP 127.0.0.1:{town_hall.port} (units 1, 2): 45 points"
    server.publish("mairie.accueil.temperature", 20.5)
    server.publish("ecole.maternelle.temperature", 22.5)

    async def scenario() -> None:
        await server.start()
        client = AsyncModbusTcpClient(server.host, port=server.port, timeout=2, retries=0)
        try:
            assert await bounded(client.connect())
            for key, value in [("mairie.accueil.temperature", 20.5),
                               ("ecole.maternelle.temperature", 22.5),
                               ("ecole.maternelle.co2", INITIAL[Role.CO2])]:
                binding = site.point(key).binding
                assert isinstance(binding, ModbusBinding)
                assert await read_modbus(client, binding) == value
        finally:
            client.close()
            await server.stop()

    asyncio.run(scenario())


def test_publish_and_commanded_check_their_points(demo_site: Site) -> None:
    modbus, bacnet = (
        next(s for s in device_servers(demo_site, initial_values(demo_site))
             if isinstance(s, kind))
        for kind in (ModbusDeviceServer, BacnetDeviceServer)
    )
    for server, prefix in ((modbus, "mairie.accueil."), (bacnet, "gymnase.salle.")):
        with pytest.raises(ValueError, match="command: read it with commanded"):
            server.publish(prefix + "consigne", 20.0)
        with pytest.raises(ValueError, match="reading: publish"):
            server.commanded(prefix + "temperature")
        with pytest.raises(KeyError, match="does not serve point 'ecole"):
            server.publish("ecole.direction.vanne", 1.0)
    with pytest.raises(ValueError, match="does not fit a Modbus int16"):
        modbus.publish("mairie.accueil.temperature", 5000.0)
    with pytest.raises(ValueError, match=re.escape("a binary point is 0 or 1, not 0.5")):
        bacnet.publish("gymnase.salle.presence", 0.5)
    with pytest.raises(ValueError, match=re.escape("1e+39 does not fit a BACnet REAL")):
        bacnet.publish("gymnase.salle.temperature", 1e39)


def test_device_servers_refuse_bad_input(demo_site: Site, demo_site_text: str) -> None:
    initial = initial_values(demo_site)
    del initial["mairie.chaudiere"]
    initial["mairie.garage"] = 1.0
    with pytest.raises(ValueError, match=re.escape(
        "missing ['mairie.chaudiere'], unknown ['mairie.garage']"
    )):
        device_servers(demo_site, initial)
    initial = initial_values(demo_site)
    with pytest.raises(ValueError, match=re.escape("salle.mode: a mode is a state 1..4, not 95")):
        device_servers(demo_site, initial | {"gymnase.salle.mode": 95.0})
    remote = parse_site(demo_site_text.replace("host: 127.0.0.1", "host: 192.0.2.7"),
                        "x.yaml").wired()
    with pytest.raises(ValueError, match=re.escape("loopback only, not '192.0.2.7'")):
        device_servers(remote, initial)


# --- BACnet ------------------------------------------------------------------------------

def priority_slots(array: Any) -> list[float | None]:
    return [None if slot.null is not None else float(getattr(slot, slot._choice))
            for slot in array]


def test_bacnet_client_reads_commands_and_releases_every_point(demo_site: Site) -> None:
    servers = [s for s in device_servers(demo_site, initial_values(demo_site))
               if isinstance(s, BacnetDeviceServer)]
    assert len(servers) == 5
    assert servers[0].label == f"BACnet/IP 127.0.0.1:{servers[0].port} device 1001: 16 objects"

    async def scenario() -> None:
        for server in servers:
            await server.start()
        try:
            async with BAC0.lite(ip="127.0.0.1/24", port=free_port(socket.SOCK_DGRAM),
                                 deviceId=3999) as client:
                assert client.localIPAddr.addrBroadcastTuple[0] == "127.0.0.255"
                for server in servers:
                    await exercise_bacnet(client, server, demo_site)
        finally:
            for server in servers:
                await server.stop()

    asyncio.run(scenario())


async def exercise_bacnet(client: Any, server: BacnetDeviceServer, site: Site) -> None:
    address = f"{server.host}:{server.port}"
    name = await bounded(client.read(f"{address} device:{server.device_instance} objectName"))
    assert name == server.keys[0].split(".")[0]
    for ref in points_of(server, site):
        binding = ref.binding
        assert isinstance(binding, BacnetBinding)
        obj = f"{address} {binding.object_type}:{binding.object_instance}"
        if not ref.point.writable:
            server.publish(ref.key, PUBLISHED[ref.role])
        value, object_name = await bounded(client.readMultiple(f"{obj} presentValue objectName"))
        assert object_name == ref.key
        if not ref.point.writable:
            # float(): BAC0 reads a binary state as a BinaryPV enumeration (an int)
            assert float(value) == pytest.approx(PUBLISHED[ref.role], rel=1e-6), ref.key
            continue
        assert float(value) == pytest.approx(INITIAL[ref.role]), ref.key
        command = COMMANDED[ref.role]
        text = bacnet_text(ref.role, command)
        await bounded(client._write(f"{obj} presentValue {text} - {binding.priority}"))
        assert server.commanded(ref.key) == pytest.approx(command), ref.key
        slots = priority_slots(await bounded(client.read(f"{obj} priorityArray")))
        assert slots == [command if p == binding.priority else None for p in range(1, 17)]
        await bounded(client._write(f"{obj} presentValue null - {binding.priority}"))
        assert server.commanded(ref.key) == pytest.approx(INITIAL[ref.role]), ref.key
        assert priority_slots(await bounded(client.read(f"{obj} priorityArray"))) == [None] * 16


def test_devices_refuse_what_real_controllers_refuse(demo_site: Site) -> None:
    server = next(s for s in device_servers(demo_site, initial_values(demo_site))
                  if isinstance(s, BacnetDeviceServer))

    async def scenario() -> None:
        await server.start()
        try:
            async with BAC0.lite(ip="127.0.0.1/24", port=free_port(socket.SOCK_DGRAM),
                                 deviceId=3998) as client:
                address = f"{server.host}:{server.port}"
                mode = await bounded(client.readMultiple(
                    f"{address} multiStateValue:1 numberOfStates stateText relinquishDefault"
                ))
                assert mode == [4, ["comfort", "reduced", "frost protection", "off"], 2]
                units = await bounded(client.readMultiple(
                    f"{address} analogInput:1 units analogInput:20 units analogInput:11 units"
                ))
                assert [str(u) for u in units] == ["degrees-celsius", "kilowatt-hours", "percent"]
                # BAC0 reports an Error PDU as NoResponseFromController, with the reason
                for write, reason in [
                    ("analogInput:1 presentValue 30 - 10", "write-access-denied"),
                    ("binaryInput:1 presentValue active", "write-access-denied"),
                    ("multiStateValue:1 presentValue 7 - 10", "value-out-of-range"),
                ]:
                    with pytest.raises(Exception, match=reason):
                        await bounded(client._write(f"{address} {write}"))
                assert await bounded(client.read(f"{address} analogInput:1 presentValue")) == 19.5
                assert server.commanded("gymnase.salle.mode") == 2.0
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_devices_stop_free_their_ports_and_start_again(demo_site: Site) -> None:
    """One BAC0 client and two BACnet devices share a loop, as the engine and `gtb sim` do."""
    servers = device_servers(demo_site, initial_values(demo_site))
    modbus = next(s for s in servers if isinstance(s, ModbusDeviceServer))
    gym, library = (s for s in servers if isinstance(s, BacnetDeviceServer)
                    and s.device_instance in (1001, 1002))
    devices = (modbus, gym, library)
    setpoint = "gymnase.salle.consigne"
    library.publish("mediatheque.lecture.temperature", 18.0)

    async def start_all() -> None:
        for server in devices:
            await server.start()
        client = AsyncModbusTcpClient(modbus.host, port=modbus.port, timeout=2, retries=0)
        assert await bounded(client.connect())
        client.close()

    async def scenario() -> None:
        async with BAC0.lite(ip="127.0.0.1/24", port=free_port(socket.SOCK_DGRAM),
                             deviceId=3997) as client:
            gym_setpoint = f"{gym.host}:{gym.port} analogValue:1 presentValue"
            temperature = f"{library.host}:{library.port} analogInput:1 presentValue"
            await start_all()
            await bounded(client._write(f"{gym_setpoint} 17.5 - 8"))
            assert gym.commanded(setpoint) == 17.5
            assert await bounded(client.read(temperature)) == 18.0

            for server in devices:
                await server.stop()
            for server, kind in ((gym, socket.SOCK_DGRAM), (library, socket.SOCK_DGRAM),
                                 (modbus, socket.SOCK_STREAM)):
                with socket.socket(socket.AF_INET, kind) as probe:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    probe.bind((server.host, server.port))
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(client.read(temperature), 1.0)

            await start_all()
            # a stop is an outage, not a power cycle: the command survived it
            assert gym.commanded(setpoint) == 17.5
            assert await bounded(client.read(temperature)) == 18.0
            await bounded(client._write(f"{gym_setpoint} null - 8"))
            assert gym.commanded(setpoint) == INITIAL[Role.HEATING_SETPOINT]
            for server in devices:
                await server.stop()

    asyncio.run(scenario())


def test_start_fails_fast_on_a_taken_port(demo_site: Site) -> None:
    servers = device_servers(demo_site, initial_values(demo_site))
    modbus = next(s for s in servers if isinstance(s, ModbusDeviceServer))
    bacnet = next(s for s in servers if isinstance(s, BacnetDeviceServer))

    async def scenario() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            udp.bind((bacnet.host, bacnet.port))
            tcp.bind((modbus.host, modbus.port))
            tcp.listen()
            with pytest.raises(OSError, match="in use"):
                await bounded(bacnet.start())
            with pytest.raises(RuntimeError, match="Could not start listen"):
                await bounded(modbus.start())

    asyncio.run(scenario())


def test_a_reading_on_a_commandable_object_can_be_overridden(demo_site_text: str) -> None:
    """A sensor on an analogValue: the reading is the relinquish default, a command wins."""
    text = demo_site_text.replace(
        "{id: temperature, role: zone_temperature, binding: {protocol: bacnet, "
        'address: "127.0.0.1:', "{id: temperature, role: zone_temperature, binding: "
        '{protocol: bacnet, object_type: analogValue, address: "127.0.0.1:', 1
    ).replace("device_instance: 1001, object_type: analogInput, object_instance: 1}}",
              "device_instance: 1001, object_instance: 9}}", 1)
    site = parse_site(text, "sensor-on-value.yaml")
    key = "gymnase.salle.temperature"
    server = next(s for s in device_servers(site, initial_values(site)) if key in s.keys)
    assert isinstance(server, BacnetDeviceServer)

    async def scenario() -> None:
        await server.start()
        try:
            async with BAC0.lite(ip="127.0.0.1/24", port=free_port(socket.SOCK_DGRAM),
                                 deviceId=3996) as client:
                temperature = f"{server.host}:{server.port} analogValue:9 presentValue"
                server.publish(key, 21.5)
                assert await bounded(client.read(temperature)) == 21.5
                await bounded(client._write(f"{temperature} 30 - 8"))
                server.publish(key, 22.5)
                assert await bounded(client.read(temperature)) == 30.0
                await bounded(client._write(f"{temperature} null - 8"))
                assert await bounded(client.read(temperature)) == 22.5
        finally:
            await server.stop()

    asyncio.run(scenario())
