"""What the simulated devices count as it arrives, and the fewest reads their points need.

The engine's own drivers talk to the devices over loopback, and each device counts the
requests (reads, writes, other) and the bytes it received; raw clients send what the
drivers never do. The yardsticks are checked on small layouts whose answers are worked
out by hand in the comments.
"""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from gtb.model import PointRef, Site
from gtb.model.points import BacnetBinding, ModbusBinding, Point, Role
from gtb.sim.devices import BacnetDeviceServer, ModbusDeviceServer, device_servers
from gtb.sim.traffic import Traffic, bacnet_kind, fewest_modbus_reads
from protocols.bacnet import BacnetDriver
from protocols.modbus import ModbusDriver

from .conftest import free_port
from .field_clients import Clock, bounded, run
from .test_bacnet_driver import distinct_values
from .test_sim_bacnet_fast import RPM, RawClient, present_value, rpm

READ = 12
"""Octets of a Modbus TCP read request: MBAP header 7 (transaction, protocol, length,
unit), function code 1, address 2, quantity 2. A single write (FC5, FC6) is as long."""

WHO_IS = 8
"""Octets of a BACnet/IP Who-Is without a range: BVLL 4, NPDU 2 (version, control),
APDU 2 (unconfirmed request, service)."""


def gym_device(site: Site, fast_reads: bool) -> tuple[BacnetDeviceServer, list[PointRef]]:
    """The gym's BACnet device (1001) of the demo commune, holding ``distinct_values``, and
    its points."""
    points = [ref for ref in site.points() if isinstance(ref.binding, BacnetBinding)
              and ref.binding.device_instance == 1001]
    return BacnetDeviceServer(points, distinct_values(site), fast_reads=fast_reads), points


def rpm_octets(objects: int) -> int:
    """Octets of a ReadPropertyMultiple of present values: BVLL 4, NPDU 2, APDU header 4
    (type and flags, max segments and APDU, invoke id, service), and 9 an object (object
    identifier 5, list opening, property identifier 2, list closing)."""
    return 4 + 2 + 4 + 9 * objects


# --- Modbus: what the driver and raw clients send ------------------------------------


async def exchange(port: int, pieces: list[bytes]) -> bytes:
    """Send one Modbus TCP frame in ``pieces`` (each sent on its own, a moment apart)
    and return the answer frame."""
    reader, writer = await bounded(asyncio.open_connection("127.0.0.1", port))
    try:
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.05)
        header = await bounded(reader.readexactly(6))
        return header + await bounded(reader.readexactly(struct.unpack(">H", header[4:])[0]))
    finally:
        writer.close()


def frame(pdu: bytes, unit: int = 1) -> bytes:
    """A Modbus TCP frame: transaction 7, protocol 0, length, unit, then the PDU."""
    return struct.pack(">HHHB", 7, 0, len(pdu) + 1, unit) + pdu


def test_a_modbus_server_counts_the_requests_and_bytes_it_receives(demo_site: Site) -> None:
    town_hall, school, _ = (s for s in device_servers(demo_site, distinct_values(demo_site))
                            if isinstance(s, ModbusDeviceServer))  # and the crèche's
    town_hall_points = [demo_site.point(key) for key in town_hall.keys
                        if key.startswith("mairie.")]
    setpoint, relay = (demo_site.point(key) for key in ("mairie.accueil.consigne",
                                                        "mairie.accueil.eclairage"))
    wide = demo_site.point("ecole.maternelle.consigne")  # a float32: two registers

    async def scenario() -> None:
        await town_hall.start()
        await school.start()
        driver = ModbusDriver(now=Clock())
        try:
            assert town_hall.traffic() == Traffic()
            # the driver's default plan: one request a table (coils, discrete inputs,
            # holding and input registers)
            await bounded(driver.read(town_hall_points))
            assert town_hall.traffic() == Traffic(reads=4, bytes_in=4 * READ)
            await bounded(driver.write(setpoint, 20.5))  # FC6
            await bounded(driver.write(relay, 1))  # FC5
            assert town_hall.traffic() == Traffic(reads=4, writes=2, bytes_in=6 * READ)
            # FC16 of two registers: MBAP 7, function 1, address 2, quantity 2, byte
            # count 1, the registers 4
            await bounded(driver.write(wide, 21.0))
            assert school.traffic() == Traffic(writes=1, bytes_in=17)
            # each write is also counted for the point it lands on, once even when it
            # spans two registers
            await bounded(driver.write(setpoint, 21.0))
            assert town_hall.writes_by_point() == {setpoint.key: 2, relay.key: 1}
            assert school.writes_by_point() == {wide.key: 1}

            before = town_hall.traffic()
            # a read sent in two TCP segments is one request
            read = frame(b"\x04\x00\x00\x00\x01")
            assert (await exchange(town_hall.port, [read[:5], read[5:]]))[7] == 4
            # a function the engine never uses (FC7, read exception status), and one
            # pymodbus cannot decode at all, which it refuses as ILLEGAL_FUNCTION
            assert (await exchange(town_hall.port, [frame(b"\x07")]))[7] == 7
            refusal = await exchange(town_hall.port, [frame(b"\x41\x00")])
            assert refusal[7] & 0x80 and refusal[8] == 1  # an exception, ILLEGAL_FUNCTION
            assert town_hall.traffic() - before == Traffic(
                reads=1, other=2, bytes_in=READ + 8 + 9)

            # an outage is not a new device: the totals go on
            await town_hall.stop()
            await town_hall.start()
            await driver.stop()
            await bounded(driver.read(town_hall_points))
            assert town_hall.traffic() - before == Traffic(
                reads=1 + 4, other=2, bytes_in=READ + 8 + 9 + 4 * READ)
        finally:
            await driver.stop()
            await town_hall.stop()
            await school.stop()

    run(scenario)


# --- BACnet: what the driver sends, whichever code answers ---------------------------


@pytest.mark.parametrize("fast_reads", [True, False], ids=["fast-reads", "bacpypes3"])
def test_a_bacnet_device_counts_the_requests_and_bytes_it_receives(
    demo_site: Site, fast_reads: bool
) -> None:
    gym, gym_points = gym_device(demo_site, fast_reads)
    setpoint = demo_site.point("gymnase.salle.consigne")
    assert len(gym_points) == 16

    async def scenario() -> None:
        await gym.start()
        driver = BacnetDriver(now=Clock(), port=free_port(socket.SOCK_DGRAM))
        await driver.start()
        try:
            await driver.read(gym_points)  # first contact: a Who-Is, then the read
            assert gym.traffic() == Traffic(reads=1, other=1, bytes_in=WHO_IS + rpm_octets(16))
            await driver.read(gym_points)
            assert gym.traffic() == Traffic(reads=2, other=1,
                                            bytes_in=WHO_IS + 2 * rpm_octets(16))
            before = gym.traffic()
            await driver.write(setpoint, 21.0)
            await driver.release(setpoint)
            await driver.priority_array(setpoint)  # a ReadProperty
            sent = gym.traffic() - before
            assert (sent.reads, sent.writes, sent.other) == (1, 2, 0)
            assert sent.bytes_in > 0
            # a write and a release (a write of null) to the one object written
            assert gym.writes_by_point() == {setpoint.key: 2}
        finally:
            await driver.stop()
            await gym.stop()

    run(scenario)


def test_bacnet_kind_reads_what_a_datagram_asks() -> None:
    """Datagrams the engine never sends, written by hand: a segmented request, routed
    and forwarded ones, network-layer and BVLL messages, and a runt."""
    unicast = b"\x81\x0a\x00\x00"  # BVLL: Original-Unicast-NPDU (length not checked)
    local = b"\x01\x04"  # NPDU: version 1, expecting a reply
    rpm_service, write_service = b"\x0e", b"\x0f"
    # confirmed request: type 0 (segmented 0x08), max segments/APDU, invoke id, then
    # for a segment its sequence number and window size, then the service
    first_segment = unicast + local + b"\x0c\x05\x01\x00\x04" + rpm_service
    later_segment = unicast + local + b"\x0c\x05\x01\x01\x04" + rpm_service
    # NPDU to network 5, address 0x0a (1 octet), from network 6, address 0x0b0c, hops 255
    routed = b"\x01\x2c\x00\x05\x01\x0a\x00\x06\x02\x0b\x0c\xff"
    forwarded = b"\x81\x04\x00\x00" + bytes(6)  # BVLL: Forwarded-NPDU, original source
    assert bacnet_kind(unicast + local + b"\x00\x05\x01" + rpm_service) == "reads"
    assert bacnet_kind(first_segment) == "reads"
    assert bacnet_kind(later_segment) is None
    assert bacnet_kind(unicast + routed + b"\x00\x05\x01" + write_service) == "writes"
    assert bacnet_kind(forwarded + local + b"\x00\x05\x01\x0c") == "reads"  # ReadProperty
    assert bacnet_kind(unicast + local + b"\x00\x05\x01\x1c") == "other"  # ReinitializeDevice
    assert bacnet_kind(unicast + local + b"\x10\x08") == "other"  # Who-Is
    assert bacnet_kind(unicast + local + b"\x40\x01\x00\x01") == "other"  # a segment ack
    assert bacnet_kind(unicast + b"\x01\x80\x00") == "other"  # Who-Is-Router-To-Network
    assert bacnet_kind(b"\x81\x05\x00\x06\x00\x3c") == "other"  # Register-Foreign-Device
    assert bacnet_kind(unicast + local) == "other"


# --- the yardsticks ------------------------------------------------------------------


def modbus_point(port: int, unit: int, table: str, address: int, data_type: str) -> PointRef:
    role = {"coil": Role.LIGHTING_RELAY, "holding_register": Role.HEATING_SETPOINT,
            "input_register": Role.ZONE_TEMPERATURE}[table]
    binding = ModbusBinding(protocol="modbus", host="127.0.0.1", port=port, unit=unit,
                            table=table, address=address, data_type=data_type)
    point = Point(id=f"u{unit}-{table}-{address}", role=role, binding=binding)
    return PointRef(f"banc.{point.id}", point, None, None, None)


def test_the_fewest_modbus_reads_worked_out_by_hand() -> None:
    """Unit 1, input registers 0, 100-101 and 124-125 and 200: the window 0-124 covers
    0 and 100-101 across the gap 2-99, but not 124-125 (one register past it); the next
    window, from 124, covers 124-125 and 200. Two. Holding register 0: one. Coils 0, 1999
    and 2000: the window of 2000 bits 0-1999 covers two, 2000 needs another. Two. Unit 2,
    input register 0: one. Six in all; a client that bridges every gap reads them in six,
    as the device counts."""
    port = free_port()
    points = [
        modbus_point(port, 1, "input_register", 0, "uint16"),
        modbus_point(port, 1, "input_register", 100, "float32"),
        modbus_point(port, 1, "input_register", 124, "uint32"),
        modbus_point(port, 1, "input_register", 200, "uint16"),
        modbus_point(port, 1, "holding_register", 0, "int16"),
        *(modbus_point(port, 1, "coil", address, "bool") for address in (0, 1999, 2000)),
        modbus_point(port, 2, "input_register", 0, "uint16"),
    ]
    server = ModbusDeviceServer(points, {ref.key: 1.0 for ref in points})
    assert server.fewest_reads() == 6
    assert fewest_modbus_reads([]) == 0

    async def scenario() -> None:
        await server.start()
        driver = ModbusDriver(now=Clock(), max_gap=2000)
        try:
            readings = await bounded(driver.read(points))
            assert all(reading.ok for reading in readings.values()), readings
            assert server.traffic().reads == 6
        finally:
            await driver.stop()
            await server.stop()

    run(scenario)


def bacnet_device(port: int, objects: dict[str, int]) -> list[PointRef]:
    """The points of one device holding ``objects`` (type -> how many)."""
    roles = {"analogInput": Role.ZONE_TEMPERATURE, "binaryInput": Role.OCCUPANCY,
             "multiStateValue": Role.HEATING_MODE}
    refs = []
    for object_type, count in objects.items():
        for instance in range(count):
            binding = BacnetBinding(protocol="bacnet", address=f"127.0.0.1:{port}",
                                    device_instance=3001, object_type=object_type,
                                    object_instance=instance)
            point = Point(id=f"{object_type.lower()}-{instance}", role=roles[object_type],
                          binding=binding)
            refs.append(PointRef(f"banc.{point.id}", point, None, None, None))
    return refs


@pytest.mark.parametrize(("objects", "fewest", "answer"), [
    # 80 REALs of 16 octets (object identifier 5, tags 6, the REAL 5) and 14 binary
    # states of 13 (an enumerated of 2): 1,280 + 182 = 1,462 octets, within the 1,473 a
    # 1,476-octet APDU (BACnet/IP's largest) leaves after the ACK's header of 3: one
    # request, whose answer is 1,465 octets
    ({"analogInput": 80, "binaryInput": 14}, 1, 1465),
    # one state more: 1,475 > 1,473, two requests (no single answer could hold them)
    ({"analogInput": 80, "binaryInput": 15}, 2, None),
])
def test_the_fewest_rpm_requests_worked_out_by_hand(
    objects: dict[str, int], fewest: int, answer: int | None
) -> None:
    port = free_port(socket.SOCK_DGRAM)
    refs = bacnet_device(port, objects)
    device = BacnetDeviceServer(refs, {ref.key: 1.0 for ref in refs})
    assert device.fewest_reads() == fewest
    if answer is None:
        return

    async def scenario() -> None:
        await device.start()
        loop = asyncio.get_running_loop()
        transport, client = await loop.create_datagram_endpoint(
            RawClient, local_addr=("127.0.0.1", 0))
        try:
            # the device's answer to every present value at once (the client accepts
            # 1,476 octets): the APDU after BVLL (4) and NPDU (2) is as worked out
            every = rpm(*(((ref.binding.object_type, ref.binding.object_instance),
                           present_value()) for ref in refs
                          if isinstance(ref.binding, BacnetBinding)))
            (datagram,) = await client.ask(port, RPM, every)
            assert len(datagram) - 6 == answer
        finally:
            transport.close()
            await device.stop()

    run(scenario)
