"""The virtual commune behaves like devices when clients write what no device takes, and
says so when its own loop fails.

Real clients over loopback (pymodbus, BAC0) write a setpoint of 95 °C and a NaN: the
devices answer as controllers do (Modbus exception 03, BACnet value-out-of-range), keep
what they held, and the loop that keeps them in step with the physics goes on.
"""

from __future__ import annotations

import asyncio
import math
import socket
import struct
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import BAC0
import pytest
from bacpypes3.apdu import SimpleAckPDU, WritePropertyRequest
from bacpypes3.basetypes import ObjectTypesSupported, ServicesSupported
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Null, ObjectIdentifier
from click.testing import CliRunner
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes

from gtb.cli import main
from gtb.clock import SimulatedClock
from gtb.model import Site
from gtb.model.points import BacnetBinding, ModbusBinding
from gtb.sim.runner import SimulationStopped, VirtualSite, serve_virtual_site
from gtb.sim.world import VirtualCommune

from .conftest import free_port
from .field_clients import bounded

MONDAY_5AM = datetime(2026, 1, 12, 5, 0, tzinfo=ZoneInfo("Europe/Paris"))


async def until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    """Wait for a condition, however busy the machine."""
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout_s)


def serve(site: Site, body: Callable[[VirtualSite], Awaitable[None]]) -> None:
    """The commune at 600 simulated seconds a real second, its loop every 50 ms."""
    virtual = VirtualSite(site, SimulatedClock(MONDAY_5AM, speed=600.0), seed=3)

    async def scenario() -> None:
        async with virtual.serving(sync_s=0.05):
            await body(virtual)
            # The loop goes on: the physics still follows the clock.
            reached = virtual.world.now
            await until(lambda: virtual.world.now > reached)

    asyncio.run(scenario())


def test_modbus_devices_answer_illegal_data_value_and_go_on(demo_site: Site) -> None:
    town_hall = demo_site.point("mairie.accueil.consigne")  # int16, scale 0.1
    school = demo_site.point("ecole.maternelle.consigne")  # float32
    assert isinstance(town_hall.binding, ModbusBinding)
    assert isinstance(school.binding, ModbusBinding)

    async def body(virtual: VirtualSite) -> None:
        held = {ref.key: virtual.world.read(ref.key) for ref in (town_hall, school)}
        nan = list(struct.unpack(">HH", struct.pack(">f", math.nan)))
        for ref, registers in ((town_hall, [950]), (school, nan),
                               (school, AsyncModbusTcpClient.convert_to_registers(
                                   95.0, AsyncModbusTcpClient.DATATYPE.FLOAT32))):
            binding = ref.binding
            assert isinstance(binding, ModbusBinding)
            client = AsyncModbusTcpClient(binding.host, port=binding.port, timeout=2, retries=0)
            assert await bounded(client.connect())
            try:
                answer = await bounded(client.write_registers(
                    binding.address, registers, device_id=binding.unit))
                assert answer.isError(), ref.key
                assert answer.exception_code == ExcCodes.ILLEGAL_VALUE
                # A good write right after is taken: the device is not broken.
                good = await bounded(client.write_registers(
                    binding.address, [170] if binding.data_type == "int16"
                    else AsyncModbusTcpClient.convert_to_registers(
                        17.0, AsyncModbusTcpClient.DATATYPE.FLOAT32),
                    device_id=binding.unit))
                assert not good.isError()
            finally:
                client.close()
        await until(lambda: all(virtual.world.read(k) == 17.0 for k in held))

    serve(demo_site, body)


def test_bacnet_devices_answer_value_out_of_range_and_go_on(demo_site: Site) -> None:
    setpoint = demo_site.point("gymnase.salle.consigne")
    binding = setpoint.binding
    assert isinstance(binding, BacnetBinding)

    async def body(virtual: VirtualSite) -> None:
        server = next(s for s in virtual.servers if setpoint.key in s.keys)
        obj = f"{binding.address} analogValue:{binding.object_instance}"
        async with BAC0.lite(ip="127.0.0.1/24", port=free_port(socket.SOCK_DGRAM),
                             deviceId=3995) as client:
            before = server.commanded(setpoint.key)
            # BAC0 reports an Error PDU as NoResponseFromController, with the reason
            for value in ("95", "nan"):
                with pytest.raises(Exception, match="value-out-of-range"):
                    await bounded(client._write(f"{obj} presentValue {value} - 8"))
            assert server.commanded(setpoint.key) == before
            assert await bounded(client.read(f"{obj} maxPresValue")) == 35.0
            # A write without priority is at 16, and so is a NULL without priority.
            await bounded(client._write(f"{obj} presentValue 17"))
            slots = await bounded(client.read(f"{obj} priorityArray"))
            assert [s.null is None for s in slots] == [False] * 15 + [True]
            assert server.commanded(setpoint.key) == 17.0
            # BAC0 sends no NULL without a priority: bacpypes3's request, as any client's.
            app = client.this_application.app
            answer = await bounded(app.request(WritePropertyRequest(
                objectIdentifier=ObjectIdentifier(f"analog-value,{binding.object_instance}"),
                propertyIdentifier="present-value", propertyValue=Null(()),
                destination=Address(binding.address))))
            assert isinstance(answer, SimpleAckPDU), answer
            slots = await bounded(client.read(f"{obj} priorityArray"))
            assert all(s.null is not None for s in slots)
            assert server.commanded(setpoint.key) == before
            # The device says what it serves, its unconfirmed services by their own names.
            device = f"{binding.address} device:{binding.device_instance}"
            services, types = await bounded(client.readMultiple(
                f"{device} protocolServicesSupported protocolObjectTypesSupported"))
            for service in ("readProperty", "readPropertyMultiple", "writeProperty",
                            "subscribeCOV", "whoIs", "whoHas"):
                assert services[getattr(ServicesSupported, service)] == 1, service
            assert services[ServicesSupported.addListElement] == 0
            served = {name for name in ("analogInput", "analogValue", "binaryInput",
                                        "binaryOutput", "multiStateValue", "device",
                                        "analogOutput", "calendar")
                      if types[getattr(ObjectTypesSupported, name)]}
            assert served == {"analogInput", "analogValue", "binaryInput", "binaryOutput",
                              "multiStateValue", "device"}

    serve(demo_site, body)


def physics_failing_after_the_first_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault no client can cause any more: the physics raising. A fake (the one way to
    make the loop fail), the rest real."""
    advance = VirtualCommune.advance_to
    calls = 0

    def failing(self: VirtualCommune, t: datetime) -> None:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise FloatingPointError("the thermal network diverged")
        advance(self, t)

    monkeypatch.setattr(VirtualCommune, "advance_to", failing)


def test_a_failing_loop_ends_the_virtual_commune_saying_why(
    demo_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    physics_failing_after_the_first_step(monkeypatch)
    clock = SimulatedClock(MONDAY_5AM, speed=60.0)
    with pytest.raises(SimulationStopped, match="FloatingPointError: the thermal network "
                                                "diverged; its devices would answer"):
        asyncio.run(asyncio.wait_for(serve_virtual_site(demo_site, clock), 30))


def test_gtb_sim_exits_non_zero_when_its_loop_fails(
    demo_site_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    physics_failing_after_the_first_step(monkeypatch)
    site_file = tmp_path / "site.yaml"
    site_file.write_text(demo_site_text, encoding="utf-8")
    result = CliRunner().invoke(main, ["sim", str(site_file), "--speed", "60"])
    assert result.exit_code == 1, result.output
    assert "the virtual commune stopped at" in result.output
    assert "the thermal network diverged" in result.output
