"""The Modbus TCP driver against real pymodbus servers on loopback.

The demo commune's simulated servers (``gtb.sim.devices``) check values, data types and
word orders, and count the requests they receive. A ``RecordingServer`` (a pymodbus server
with a register map of our choice, holes included, that records every request it
receives) checks how reads are planned and which function writes use. A plain asyncio TCP
server that accepts, counts what it is sent and never answers plays the dead device.
Requests are always counted where they arrive. Backoff runs on an injected clock, so no
test sleeps through a delay.
"""

from __future__ import annotations

import asyncio
import math
import re
import socket
import struct
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from gtb.model import PointRef, Site
from gtb.model.points import ROLES, ModbusBinding, Point, Role
from gtb.sim.devices import ModbusDeviceServer, device_servers
from gtb.sim.season import restrict
from gtb.sim.traffic import Traffic, fewest_modbus_reads
from protocols.base import DeviceError, DeviceRejected, DeviceTimeout, Reading
from protocols.modbus import ModbusDriver

from .conftest import free_port
from .field_clients import Clock, bounded, elapsed, run

TIMEOUT_S = 0.3
"""The driver's timeout in the fault tests: short, so that a dead device costs little."""

MARGIN_S = 3.0
"""What a read may take beyond the timeout: scheduling, closing, a refused connection, and
a loaded 2-core machine that stalls the process for a while. The requests counted at the
devices, not this bound, show that a dead device is asked once."""

CONCURRENT_TIMEOUT_S = 2.0
"""The timeout when four silent devices are read: one after the other they would take
8 s, together 2 s, and the margin lies between."""

READ = 12
"""Octets of a read request (and of a single write): MBAP header 7, function code 1,
address 2, quantity (or value) 2."""


# --- the demo commune ----------------------------------------------------------------------


@pytest.fixture
def demo_site(demo_site: Site) -> Site:
    """The demo commune's town hall and school, on the two Modbus servers these tests
    count requests on (the crèche's third one is read as they are)."""
    return restrict(demo_site, ["mairie", "ecole"])


def demo_values(site: Site) -> dict[str, float]:
    """A different value for every Modbus point, so that a point read from its neighbour's
    registers shows; bits alternate with their address. BACnet points get any valid value."""
    values = {}
    for index, ref in enumerate(site.points()):
        binding, info = ref.binding, ROLES[ref.role]
        if info.kind == "binary":
            modbus = isinstance(binding, ModbusBinding)
            values[ref.key] = float(modbus and binding.address % 2 == 0)
        elif info.kind == "multistate":
            values[ref.key] = 2.0
        else:
            values[ref.key] = max(info.low, 0.0) + 10.0 + index
    values |= {"mairie.temp-ext": -7.5, "ecole.compteur-chauffage": 123456.25}
    return values


def modbus_points(site: Site, prefix: str = "") -> list[PointRef]:
    return [ref for ref in site.points()
            if isinstance(ref.binding, ModbusBinding) and ref.key.startswith(prefix)]


def modbus_servers(site: Site, values: dict[str, float]) -> list[ModbusDeviceServer]:
    return [s for s in device_servers(site, values) if isinstance(s, ModbusDeviceServer)]


def received(servers: Sequence[ModbusDeviceServer]) -> Traffic:
    """What the servers have received, all together, as they counted it."""
    return sum((server.traffic() for server in servers), Traffic())


@asynccontextmanager
async def serving(*servers: Any) -> AsyncIterator[None]:
    for server in servers:
        await server.start()
    try:
        yield
    finally:
        for server in servers:
            await server.stop()


@asynccontextmanager
async def driver_of(**options: Any) -> AsyncIterator[ModbusDriver]:
    options.setdefault("now", Clock())
    driver = ModbusDriver(**options)
    await driver.start()
    try:
        yield driver
    finally:
        await driver.stop()


def values_of(readings: dict[str, Reading]) -> dict[str, float | None]:
    assert all(r.ok for r in readings.values()), {k: r.error for k, r in readings.items()}
    return {key: r.value for key, r in readings.items()}


def test_every_demo_point_reads_what_the_server_holds(demo_site: Site) -> None:
    values = demo_values(demo_site)
    points = modbus_points(demo_site)
    kinds = {(p.binding.data_type, p.binding.word_order, p.binding.scale) for p in points
             if isinstance(p.binding, ModbusBinding)}
    assert {("bool", "big", 1.0), ("int16", "big", 0.1), ("uint16", "big", 0.1),
            ("uint16", "big", 1.0), ("uint32", "big", 0.1), ("float32", "big", 1.0),
            ("float32", "little", 1.0)} <= kinds
    assert {p.binding.table for p in points if isinstance(p.binding, ModbusBinding)} == {
        "coil", "discrete_input", "input_register", "holding_register"}

    async def scenario() -> None:
        async with serving(*modbus_servers(demo_site, values)), driver_of() as driver:
            readings = await bounded(driver.read(points))
            assert set(readings) == {p.key for p in points}
            assert values_of(readings) == {
                p.key: pytest.approx(values[p.key], rel=1e-7) for p in points
            }
            assert values_of(await bounded(driver.read(points))) == values_of(readings)

    run(scenario)


def test_nan_and_infinity_from_a_float32_are_values(demo_site: Site) -> None:
    """The engine judges plausibility: a float32 holding NaN or infinity is read as such
    (here a meter's input registers, which a transmitter out of its range may fill so)."""
    (_, school) = modbus_servers(demo_site, demo_values(demo_site))
    meter = next(demo_site.point(key) for key in school.keys
                 if isinstance(binding := demo_site.point(key).binding, ModbusBinding)
                 and binding.data_type == "float32" and binding.table == "input_register")

    async def scenario() -> None:
        async with serving(school), driver_of() as driver:
            for registers, check in (([0x7FC0, 0], math.isnan),
                                     ([0x7F80, 0], lambda v: v == math.inf),
                                     ([0xFF80, 0], lambda v: v == -math.inf)):
                school.send_raw(meter.key, registers)
                reading = (await bounded(driver.read([meter])))[meter.key]
                assert reading.ok and reading.value is not None and check(reading.value)

    run(scenario)


# --- coalescing ------------------------------------------------------------------------------


def test_demo_reads_take_the_requests_computed_by_hand(demo_site: Site) -> None:
    """Counted by hand, with max_gap 8 (a gap: the unused registers between two points);
    the default, 16, bridges every gap of the demo and meets the yardstick.

    Mairie, 20 points (its river gauge is a LoRaWAN device): coils 0-3, one request;
    discrete inputs 0-2, one; holding registers 100-102, one; input registers 0-2, 10-12,
    22, 30, 40-43: gaps 3-9 (7, bridged), 13-21 (9, split), 23-29 (7, bridged), 31-39 (9,
    split), so three requests: 0-12, 22-30, 40-43. Six in all. The fountain's pump, coil
    10 on the same server, joins the coils' request (gap 4-9, 6) when everything is read.
    École, 24 points: coils, discrete inputs, holding registers 100-107: one each; input
    registers 0-7, 20-23, 30-31, 40-43: gaps 8-19 (12, split), 24-29 (6), 32-39 (8), so two
    requests: 0-7 and 20-43. Five in all; the demo takes eleven.
    The fewest, gaps ignored: four per server (a request a table), eight.
    """
    values = demo_values(demo_site)
    mairie, everything = modbus_points(demo_site, "mairie."), modbus_points(demo_site)
    assert len(mairie) == 20
    servers = modbus_servers(demo_site, values)

    async def scenario() -> None:
        async with serving(*servers):
            async with driver_of(max_gap=8) as driver:
                values_of(await bounded(driver.read(mairie)))
                assert received(servers).reads == 6
                values_of(await bounded(driver.read(everything)))
                assert received(servers).reads == 6 + 11
            assert [server.fewest_reads() for server in servers] == [4, 4]
            # The demo's widest gap is 12 registers: the default bridges it.
            async with driver_of() as driver:
                for _ in range(3):
                    values_of(await bounded(driver.read(everything)))
            assert received(servers) == Traffic(reads=6 + 11 + 3 * 8,
                                                bytes_in=(6 + 11 + 3 * 8) * READ)

    run(scenario)


class RecordingServer:
    """A pymodbus server, unit 1, with input and holding registers (and coils) where the
    test says, every other address answering ILLEGAL_ADDRESS; it records each request as
    ``(function code, address, count)`` (count 0 for single writes), and each client
    connecting (True) or leaving (False). While ``refusal`` is set, every request to an
    existing address gets that exception."""

    def __init__(self, registers: dict[int, int], coils: int = 16) -> None:
        self.port = free_port()
        self.requests: list[tuple[int, int, int]] = []
        self.connections: list[bool] = []
        starts = [a for a in sorted(registers) if a - 1 not in registers]
        runs = []
        for start in starts:
            stop = start
            while stop in registers:
                stop += 1
            runs.append(SimData(start, values=[registers[a] for a in range(start, stop)],
                                datatype=DataType.REGISTERS))
        bits = [SimData(0, values=[i % 3 == 0 for i in range(coils)], datatype=DataType.BITS)]
        self._device = SimDevice(1, simdata=(bits, bits, runs, runs), action=self._act)
        self._server: ModbusTcpServer | None = None
        self.refusal: ExcCodes | None = None

    async def _act(self, *_: Any) -> ExcCodes | None:
        return self.refusal

    def _record(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            self.requests.append((pdu.function_code, pdu.address, pdu.count))
        return pdu

    async def start(self) -> None:
        self._server = ModbusTcpServer([self._device], address=("127.0.0.1", self.port),
                                       trace_pdu=self._record,
                                       trace_connect=self.connections.append)
        await bounded(self._server.serve_forever(background=True))

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    def point(self, address: int, data_type: str = "uint16", table: str = "input_register",
              unit: int = 1) -> PointRef:
        role = Role.LIGHTING_RELAY if data_type == "bool" else Role.HEATING_SETPOINT
        if table in ("discrete_input", "input_register"):
            role = Role.OCCUPANCY if data_type == "bool" else Role.ZONE_TEMPERATURE
        binding = ModbusBinding(protocol="modbus", host="127.0.0.1", port=self.port, unit=unit,
                                table=table, address=address, data_type=data_type)
        point = Point(id=f"p{address}", role=role, binding=binding)
        return PointRef(f"{table}.{address}.{data_type}", point, None, None, None)


def test_a_gap_wider_than_max_gap_splits_the_block() -> None:
    server = RecordingServer({address: address for address in range(20)})
    near = [server.point(0), server.point(1), server.point(10)]   # 8 registers between
    far = [server.point(0), server.point(1), server.point(11)]    # 9 registers between

    async def scenario() -> None:
        async with serving(server), driver_of(max_gap=8) as driver:
            assert values_of(await bounded(driver.read(near))) == {
                p.key: p.binding.address for p in near if isinstance(p.binding, ModbusBinding)}
            assert server.requests == [(4, 0, 11)]
            server.requests.clear()
            values_of(await bounded(driver.read(far)))
            assert server.requests == [(4, 0, 2), (4, 11, 1)]

    run(scenario)


def test_a_block_never_exceeds_the_protocol_limit() -> None:
    server = RecordingServer({address: 1000 + address for address in range(200)}, coils=2512)
    registers = [server.point(address) for address in range(200)]
    coils = [server.point(address, "bool", "coil") for address in range(2500)]
    # a uint32 at 124-125 does not fit the window 0-124 of the uint16 at 0
    straddling = [server.point(0), server.point(124, "uint32")]

    async def scenario() -> None:
        async with serving(server), driver_of(max_gap=200) as driver:
            readings = values_of(await bounded(driver.read(registers + coils)))
            assert server.requests == [(1, 0, 2000), (1, 2000, 500), (4, 0, 125), (4, 125, 75)]
            assert [readings[p.key] for p in registers] == [1000 + a for a in range(200)]
            assert [readings[p.key] for p in coils] == [float(a % 3 == 0) for a in range(2500)]
            # as few as the protocol's limits allow
            assert fewest_modbus_reads(p.binding for p in registers + coils
                                       if isinstance(p.binding, ModbusBinding)) == 4
            server.requests.clear()
            values_of(await bounded(driver.read(straddling)))
            assert server.requests == [(4, 0, 1), (4, 124, 2)]
            assert fewest_modbus_reads(p.binding for p in straddling
                                       if isinstance(p.binding, ModbusBinding)) == 2

    run(scenario)


# --- writing ---------------------------------------------------------------------------------


def test_every_writable_demo_point_is_written(demo_site: Site) -> None:
    values = demo_values(demo_site)
    servers = modbus_servers(demo_site, values)
    writable = [p for p in modbus_points(demo_site) if p.point.writable]
    assert {p.binding.data_type for p in writable if isinstance(p.binding, ModbusBinding)} == {
        "bool", "int16", "float32"}
    # each unlike what the device holds, and within the point's range (a device refuses
    # a value out of it, as the simulated ones do)
    commands = {p.key: 1.0 - values[p.key] if ROLES[p.role].kind == "binary"
                else ROLES[p.role].low + 1.5 + n % 10 for n, p in enumerate(writable)}

    async def scenario() -> None:
        async with serving(*servers), driver_of() as driver:
            for point in writable:
                await bounded(driver.write(point, commands[point.key]))
            sent = received(servers)
            assert (sent.reads, sent.writes, sent.other) == (0, len(writable), 0)
            for point in writable:
                server = next(s for s in servers if point.key in s.keys)
                assert server.commanded(point.key) == pytest.approx(commands[point.key])
            readings = values_of(await bounded(driver.read(writable)))
            assert readings == {key: pytest.approx(value) for key, value in commands.items()}

    run(scenario)


def test_writes_use_the_function_of_their_width_and_refusals_are_clear() -> None:
    server = RecordingServer({100: 0, 101: 0, 102: 0, 103: 0, 0: 0})
    setpoint = server.point(100, "int16", "holding_register")
    wide = server.point(102, "float32", "holding_register")
    relay = server.point(1, "bool", "coil")
    missing = server.point(500, "int16", "holding_register")
    reading = server.point(0, "int16", "input_register")

    async def scenario() -> None:
        async with serving(server), driver_of() as driver:
            await bounded(driver.write(setpoint, 19))
            await bounded(driver.write(wide, 20.5))
            await bounded(driver.write(relay, 1))
            assert server.requests == [(6, 100, 0), (16, 102, 2), (5, 1, 0)]
            readings = values_of(await bounded(driver.read([setpoint, wide, relay])))
            assert readings == {setpoint.key: 19, wide.key: 20.5, relay.key: 1}
            requests = len(server.requests)

            with pytest.raises(DeviceRejected, match=(
                rf"^127\.0\.0\.1:{server.port} unit 1: holding_register 500 does not exist "
                r"\(ILLEGAL_ADDRESS\); 21 not written$"
            )):
                await bounded(driver.write(missing, 21))
            assert len(server.requests) == requests + 1
            with pytest.raises(DeviceRejected, match="input_register 0 is read-only"):
                await bounded(driver.write(reading, 21))
            with pytest.raises(ValueError, match="does not fit a Modbus int16"):
                await bounded(driver.write(setpoint, 1e6))
            await bounded(driver.release(setpoint))
            assert len(server.requests) == requests + 1
            # a refusal is an answer: the device is not backed off
            await bounded(driver.write(setpoint, 18))
            assert len(server.requests) == requests + 2

    run(scenario)


# --- faults ------------------------------------------------------------------------------------


class SilentServer:
    """Accepts TCP connections, reads what it is sent, never answers: a hung device. It
    counts the connections and the octets it received."""

    def __init__(self) -> None:
        self.port = free_port()
        self.connections = 0
        self.closed = 0
        self.received = 0
        self._server: asyncio.Server | None = None

    async def _swallow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while data := await reader.read(1024):
            self.received += len(data)
        self.closed += 1
        writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._swallow, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


class HangingUpServer(SilentServer):
    """Accepts TCP connections and closes each at its first request, cleanly or with a
    reset (SO_LINGER 0: a RST, as a device that restarts or a firewall that cuts)."""

    def __init__(self, reset: bool) -> None:
        super().__init__()
        self.reset = reset

    async def _swallow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.received += len(await reader.read(1024))
        if self.reset:
            writer.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()


def retargeted(points: Sequence[PointRef], port: int, unit: int | None = None) -> list[PointRef]:
    """The same points, served on another port (or unit)."""
    moved = []
    for ref in points:
        binding = ref.binding
        assert isinstance(binding, ModbusBinding)
        binding = binding.model_copy(update={"port": port, "unit": unit or binding.unit})
        point = ref.point.model_copy(update={"binding": binding})
        moved.append(PointRef(ref.key, point, ref.building, ref.zone, ref.cabinet))
    return moved


async def eventually(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)
    await bounded(poll())


def test_a_silent_device_fails_its_points_in_time_and_its_connection_is_renewed(
    demo_site: Site,
) -> None:
    silent = SilentServer()
    values = demo_values(demo_site)
    (_, school) = modbus_servers(demo_site, values)
    hung = retargeted(modbus_points(demo_site, "mairie."), silent.port)
    healthy = modbus_points(demo_site, "ecole.")
    clock = Clock()

    async def scenario() -> None:
        async with serving(silent, school), \
                driver_of(now=clock, timeout_s=TIMEOUT_S, backoff_s=(1.0, 3.0)) as driver:
            took = elapsed()
            readings = await bounded(driver.read(hung + healthy))
            assert took() < TIMEOUT_S + MARGIN_S
            message = f"127.0.0.1:{silent.port} unit 1 did not answer within 0.3 s"
            assert {readings[p.key].error for p in hung} == {f"{message}; next attempt in 1 s"}
            assert values_of({p.key: readings[p.key] for p in healthy})
            # one request received, unanswered (the school's four are answered); the
            # stalled connection is closed
            assert (silent.received, school.traffic().reads) == (READ, 4)
            await eventually(lambda: silent.closed == 1)

            # backing off: no request, no connection, the error says when
            for t, delay, left in [(0.5, 1, 1), (1.0, 2, None), (2.5, 2, 1), (3.0, 3, None),
                                   (5.9, 3, 1), (6.0, 3, None)]:
                clock.t = t
                octets, connections = silent.received, silent.connections
                readings = await bounded(driver.read(hung))
                errors = {readings[p.key].error for p in hung}
                if left is None:  # due: one new connection, one request
                    assert errors == {f"{message}; next attempt in {delay} s"}
                    assert (silent.received, silent.connections) == (octets + READ,
                                                                     connections + 1)
                else:
                    assert errors == {f"{message}; next attempt in {left} s"}
                    assert (silent.received, silent.connections) == (octets, connections)

            octets = silent.received
            with pytest.raises(DeviceTimeout, match=rf"^{message}; next attempt in 3 s$"):
                await bounded(driver.write(hung[0], 1))
            assert silent.received == octets  # backing off: the write is not sent
            clock.t = 9.0
            took = elapsed()
            with pytest.raises(DeviceTimeout, match=rf"^{message}; next attempt in 3 s$"):
                await bounded(driver.write(hung[0], 1))
            assert took() < TIMEOUT_S + MARGIN_S
            assert silent.received == octets + READ  # due: sent (FC5), unanswered

    run(scenario)


@pytest.mark.parametrize("reset", [False, True])
def test_a_device_that_hangs_up_is_not_said_silent(reset: bool) -> None:
    """A closed or reset connection says so, at once, not after the timeout as silence."""
    server = HangingUpServer(reset)
    points = retargeted([RecordingServer({0: 1}).point(0)], server.port)

    async def scenario() -> None:
        async with serving(server), driver_of(timeout_s=20.0) as driver:
            readings = await bounded(driver.read(points))
            assert {r.error for r in readings.values()} == {
                f"127.0.0.1:{server.port} unit 1 closed (or reset) the connection instead of "
                "answering; next attempt in 1 s"}

    run(scenario)


def test_devices_are_read_concurrently() -> None:
    silent = [SilentServer() for _ in range(4)]
    server = RecordingServer({0: 1})
    points = [p for s in silent for p in retargeted([server.point(0)], s.port)]

    async def scenario() -> None:
        async with serving(*silent), driver_of(timeout_s=CONCURRENT_TIMEOUT_S) as driver:
            took = elapsed()
            readings = await bounded(driver.read(points))
            assert took() < CONCURRENT_TIMEOUT_S + MARGIN_S < len(silent) * CONCURRENT_TIMEOUT_S
            assert not any(r.ok for r in readings.values())

    run(scenario)


def test_a_stopped_device_is_refused_then_read_again_after_its_backoff(demo_site: Site) -> None:
    values = demo_values(demo_site)
    (town_hall, _) = modbus_servers(demo_site, values)
    points = modbus_points(demo_site, "mairie.")
    clock = Clock()

    async def scenario() -> None:
        async with driver_of(now=clock, timeout_s=TIMEOUT_S) as driver:
            took = elapsed()
            readings = await bounded(driver.read(points))
            assert took() < TIMEOUT_S + MARGIN_S
            assert {r.error for r in readings.values()} == {
                f"connection refused by 127.0.0.1:{town_hall.port}; next attempt in 1 s"}
            with pytest.raises(DeviceError, match=r"refused.*; next attempt in 1 s$"):
                await bounded(driver.write(demo_site.point("mairie.chaudiere"), 0))

            await town_hall.start()
            clock.t = 1.0
            try:
                first = values_of(await bounded(driver.read(points)))
                assert town_hall.traffic().reads == 4
                await town_hall.stop()
                clock.t = 10.0
                readings = await bounded(driver.read(points))
                assert not any(r.ok for r in readings.values())

                await town_hall.start()   # the same port, while the driver backs off
                clock.t = 10.5
                readings = await bounded(driver.read(points))
                assert {r.error.rsplit("; ", 1)[1] for r in readings.values()
                        if r.error} == {"next attempt in 1 s"}
                assert town_hall.traffic().requests == 4  # up, but not asked
                clock.t = 11.0
                assert values_of(await bounded(driver.read(points))) == first
                assert town_hall.traffic().reads == 4 + 4
            finally:
                await town_hall.stop()

    run(scenario)


def test_an_address_the_device_lacks_fails_only_its_points() -> None:
    """Registers 0-3 and 10-13 exist, 4-9 do not: a block bridging them is refused, read
    point by point, and never bridged again; a point beyond the map fails alone."""
    server = RecordingServer({a: 100 + a for a in [0, 1, 2, 3, 10, 11, 12, 13]})
    good = [server.point(a) for a in [0, 1, 2, 3, 10, 11, 12, 13]]
    beyond = server.point(40, "uint32")

    async def scenario() -> None:
        async with serving(server), driver_of() as driver:
            for _ in range(2):
                readings = await bounded(driver.read([*good, beyond]))
                assert values_of({p.key: readings[p.key] for p in good}) == {
                    p.key: 100 + p.binding.address for p in good
                    if isinstance(p.binding, ModbusBinding)}
                assert readings[beyond.key].error == (
                    f"127.0.0.1:{server.port} unit 1: input_register 40-41 does not exist "
                    "(ILLEGAL_ADDRESS)")
            first, second = server.requests[:10], server.requests[10:]
            assert first == [(4, 0, 14), *[(4, a, 1) for a in [0, 1, 2, 3, 10, 11, 12, 13]],
                             (4, 40, 2)]
            assert second == [(4, 0, 4), (4, 10, 4), (4, 40, 2)]

    run(scenario)


def test_exception_codes_read_as_what_to_do(demo_site: Site) -> None:
    """A unit the server does not have: the simulated server answers as a gateway."""
    (town_hall, _) = modbus_servers(demo_site, demo_values(demo_site))
    # (the simulated server answers so for address 0 only; elsewhere ILLEGAL_ADDRESS)
    keys = ["mairie.chaudiere", "mairie.accueil.presence", "mairie.accueil.temperature"]
    lost = retargeted([demo_site.point(key) for key in keys], town_hall.port, unit=42)

    async def scenario() -> None:
        async with serving(town_hall), driver_of() as driver:
            readings = await bounded(driver.read(lost))
            advice = ("the gateway got no answer from this unit; check the unit id, the "
                      "device's power and its serial line "
                      "(GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND)")
            assert [readings[p.key].error for p in lost] == [
                f"127.0.0.1:{town_hall.port} unit 42: {table} 0: {advice}"
                for table in ("coil", "discrete_input", "input_register")]
            with pytest.raises(DeviceRejected, match=re.escape(
                f"unit 42: coil 0: {advice}; 1 not written"
            )):
                await bounded(driver.write(lost[0], 1))

    run(scenario)


def test_every_exception_code_reads_as_what_to_do() -> None:
    server = RecordingServer({0: 1, 100: 0})
    point, setpoint = server.point(0), server.point(100, "int16", "holding_register")
    names = {
        ExcCodes.ILLEGAL_FUNCTION: "the device does not support read input registers (FC4) "
                                   "(ILLEGAL_FUNCTION)",
        ExcCodes.ILLEGAL_ADDRESS: "does not exist (ILLEGAL_ADDRESS)",
        ExcCodes.ILLEGAL_VALUE: "refused the quantity or value sent (ILLEGAL_DATA_VALUE)",
        ExcCodes.DEVICE_FAILURE: "failed while handling the request (SERVER_DEVICE_FAILURE)",
        ExcCodes.ACKNOWLEDGE: "has not finished it (ACKNOWLEDGE)",
        ExcCodes.DEVICE_BUSY: "try again later (SERVER_DEVICE_BUSY)",
        ExcCodes.NEGATIVE_ACKNOWLEDGE: "cannot perform this request (NEGATIVE_ACKNOWLEDGE)",
        ExcCodes.MEMORY_PARITY_ERROR: "it needs servicing (MEMORY_PARITY_ERROR)",
        ExcCodes.GATEWAY_PATH_UNAVIABLE: "check the unit id (GATEWAY_PATH_UNAVAILABLE)",
        ExcCodes.GATEWAY_NO_RESPONSE: "(GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND)",
    }
    assert set(names) == set(ExcCodes)

    async def scenario() -> None:
        async with serving(server), driver_of() as driver:
            where = f"127.0.0.1:{server.port} unit 1: "
            for code, phrase in names.items():
                server.refusal = code
                error = (await bounded(driver.read([point])))[point.key].error
                assert error is not None and error.startswith(f"{where}input_register 0")
                assert error.endswith(phrase)
                with pytest.raises(DeviceRejected, match=re.escape(f"{where}holding_register "
                                                                   "100") + ".*; 20 not written"):
                    await bounded(driver.write(setpoint, 20))
            # refusals are answers: no backoff, every read and write was sent
            assert len(server.requests) == 2 * len(names)

    run(scenario)


# --- the rest of the interface -------------------------------------------------------------


def test_options_and_points_are_checked(demo_site: Site) -> None:
    driver = ModbusDriver(now=Clock())
    with pytest.raises(ValueError, match="timeout_s"):
        ModbusDriver(now=Clock(), timeout_s=0)
    with pytest.raises(ValueError, match="max_gap"):
        ModbusDriver(now=Clock(), max_gap=-1)
    with pytest.raises(ValueError, match="backoff_s"):
        ModbusDriver(now=Clock(), backoff_s=(5.0, 1.0))
    with pytest.raises(TypeError, match="not a Modbus point"):
        asyncio.run(driver.read([next(p for p in demo_site.points()
                                      if not isinstance(p.binding, ModbusBinding))]))


def test_stop_closes_every_connection_and_is_idempotent() -> None:
    servers = [RecordingServer({0: 1}) for _ in range(2)]
    points = [servers[0].point(0), *retargeted([servers[0].point(1, "bool", "coil")],
                                               servers[1].port)]

    async def scenario() -> None:
        async with serving(*servers):
            driver = ModbusDriver(now=Clock())
            await driver.start()
            values_of(await bounded(driver.read(points)))
            await driver.stop()
            await eventually(lambda: all(s.connections == [True, False] for s in servers))
            await driver.stop()
            # and a stopped driver reconnects if asked again
            values_of(await bounded(driver.read(points)))
            await driver.stop()

    run(scenario)
