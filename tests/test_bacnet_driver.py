"""The BACnet/IP driver against real bacpypes3 devices on loopback.

The simulated devices of ``gtb.sim.devices`` serve the demo commune (or a site built
here), in the same event loop as the driver, as the engine runs. Every point gets its own
value, so that a value read from the wrong object shows. Faults are real: a stopped
device, a silent one, another device instance at the expected address, objects the device
lacks, values it refuses. Requests are counted where they arrive: by the devices, or by
the socket that plays a silent one. Backoff runs on an injected clock, so no test sleeps
through a delay.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import math
import re
import socket
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from bacpypes3.apdu import ReadPropertyMultipleACK
from bacpypes3.basetypes import (
    BinaryPV,
    ErrorType,
    ReadAccessResult,
    ReadAccessResultElement,
    ReadAccessResultElementChoice,
)
from bacpypes3.constructeddata import Any as AnyValue
from bacpypes3.primitivedata import (
    CharacterString,
    Double,
    Enumerated,
    Null,
    ObjectIdentifier,
    Real,
    Unsigned,
)

from gtb.config import parse_site
from gtb.model import Building, PointRef, Site, Zone
from gtb.model.points import ROLES, BacnetBinding, Point, Role
from gtb.sim.devices import BacnetDeviceServer, device_servers
from gtb.sim.traffic import Traffic, bacnet_kind
from protocols.bacnet import MAX_APDU, RPM_OBJECTS, BacnetDriver, decode_rpm_ack
from protocols.base import DeviceRejected, DeviceTimeout, Reading

from .conftest import free_port
from .field_clients import Clock, elapsed, run

TIMEOUT_S = 0.5
"""The driver's timeout in the fault tests: short, so that a dead device costs little."""

MARGIN_S = 3.0
"""What a read may take beyond the timeout: scheduling, the other devices' answers, and a
loaded 2-core machine that stalls the process for a while. The requests counted at the
device, not this bound, show that a silent device is asked once and then not at all."""


def distinct_values(site: Site) -> dict[str, float]:
    """A value for every point of the site, unlike its neighbours' (exact as a REAL)."""
    values: dict[str, float] = {}
    for index, ref in enumerate(site.points()):
        kind = ROLES[ref.role].kind
        if kind == "binary":
            values[ref.key] = float(index % 2)
        elif kind == "multistate":
            values[ref.key] = float(1 + index % 4)
        else:
            values[ref.key] = 10.0 + index * 0.25
    return values


def bacnet_servers(site: Site, values: dict[str, float]) -> list[BacnetDeviceServer]:
    return [server for server in device_servers(site, values)
            if isinstance(server, BacnetDeviceServer)]


def received(servers: Sequence[BacnetDeviceServer]) -> Traffic:
    """What the devices have received, all together, as they counted it."""
    return sum((server.traffic() for server in servers), Traffic())


def bacnet_points(site: Site) -> list[PointRef]:
    return [ref for ref in site.points() if isinstance(ref.binding, BacnetBinding)]


def binding(ref: PointRef) -> BacnetBinding:
    assert isinstance(ref.binding, BacnetBinding)
    return ref.binding


def device_label(ref: PointRef) -> str:
    return f"{binding(ref).address} device {binding(ref).device_instance}"


@asynccontextmanager
async def serving(servers: Iterable[BacnetDeviceServer]) -> AsyncIterator[None]:
    started: list[BacnetDeviceServer] = []
    try:
        for server in servers:
            await server.start()
            started.append(server)
        yield
    finally:
        for server in started:
            await server.stop()


@asynccontextmanager
async def driver_of(**options: Any) -> AsyncIterator[BacnetDriver]:
    options.setdefault("now", Clock())
    driver = BacnetDriver(port=free_port(socket.SOCK_DGRAM), **options)
    await driver.start()
    try:
        yield driver
    finally:
        await driver.stop()


def assert_read(readings: dict[str, Reading], expected: dict[str, float]) -> None:
    assert {key: readings[key] for key in expected} == {
        key: Reading(value) for key, value in expected.items()
    }


# --- reading -----------------------------------------------------------------------------


def test_every_demo_point_reads_what_the_device_holds(demo_site: Site) -> None:
    values = distinct_values(demo_site)
    points = bacnet_points(demo_site)
    servers = bacnet_servers(demo_site, values)
    assert len(servers) == 5
    assert {ROLES[ref.role].kind for ref in points} == {"analog", "binary", "multistate"}
    expected = {ref.key: values[ref.key] for ref in points}

    async def scenario() -> None:
        async with serving(servers), driver_of() as driver:
            readings = await driver.read(points)
            assert set(readings) == set(expected)
            assert_read(readings, expected)
            # first contact: a Who-Is and a ReadPropertyMultiple per device
            sent = received(servers)
            assert (sent.reads, sent.writes, sent.other) == (5, 0, 5)
            assert sum(server.fewest_reads() for server in servers) == 5

            gym = next(s for s in servers if s.device_instance == 1001)
            gym.publish("gymnase.salle.temperature", 23.5)
            gym.publish("gymnase.salle.presence", 1 - values["gymnase.salle.presence"])
            readings = await driver.read(points)
            assert readings["gymnase.salle.temperature"] == Reading(23.5)
            assert readings["gymnase.salle.presence"] == Reading(
                1 - values["gymnase.salle.presence"])
            sent = received(servers)
            assert (sent.reads, sent.writes, sent.other) == (10, 0, 5)

    run(scenario)


def one_device_site(port: int, objects: int) -> Site:
    """A site with one BACnet device holding ``objects`` analog inputs."""
    points = tuple(
        Point(id=f"capteur-{i}", role=Role.ZONE_TEMPERATURE, binding=BacnetBinding(
            protocol="bacnet", address=f"127.0.0.1:{port}", device_instance=3001,
            object_type="analogInput", object_instance=i))
        for i in range(1, objects + 1)
    )
    zone = Zone(id="hall", name="Hall", area_m2=1000, points=points)
    building = Building(id="centre", name="Centre technique", use="atelier",
                        floor_area_m2=1000, zones=(zone,))
    return Site(id="grand", name="Grand", latitude=50.4, longitude=3.28, school_zone="B",
                buildings=(building,))


@pytest.mark.parametrize(("per_request", "expected_requests", "acknowledgements"),
                         # 150 objects in one request: the device answers in two
                         # segments, and the client acknowledges each
                         [(None, math.ceil(150 / RPM_OBJECTS), 0), (40, 4, 0), (150, 1, 2)])
def test_a_device_of_150_objects_is_read_in_requests_of_the_objects_asked(
    per_request: int | None, expected_requests: int, acknowledgements: int
) -> None:
    site = one_device_site(free_port(socket.SOCK_DGRAM), 150)
    values = distinct_values(site)
    points = bacnet_points(site)
    (device,) = bacnet_servers(site, values)

    async def scenario() -> None:
        async with serving([device]), \
                driver_of(max_objects_per_request=per_request) as driver:
            assert_read(await driver.read(points), values)  # a Who-Is, then the reads
            before = device.traffic()
            assert_read(await driver.read(points), values)
            sent = device.traffic() - before
            assert (sent.reads, sent.writes, sent.other) == (expected_requests, 0,
                                                             acknowledgements)

    run(scenario)


def test_points_sharing_an_object_share_its_reading(demo_site: Site) -> None:
    """Site files refuse two points on one object, but the driver does not rely on it."""
    values = distinct_values(demo_site)
    dimming = demo_site.point("ep-stade.gradation")
    meter = demo_site.point("ep-stade.compteur")
    meter = dataclasses.replace(
        meter, point=meter.point.model_copy(update={"binding": binding(dimming)}))
    servers = bacnet_servers(demo_site, values)
    stadium = next(server for server in servers if dimming.key in server.keys)

    async def scenario() -> None:
        async with serving(servers), driver_of() as driver:
            readings = await driver.read([dimming, meter])
            assert readings == {key: Reading(values[dimming.key])
                                for key in (dimming.key, meter.key)}
            before = stadium.traffic()
            await driver.read([dimming, meter])
            sent = stadium.traffic() - before
            # one request, naming the object once: header 10 octets, 9 for the object
            assert sent == Traffic(reads=1, bytes_in=10 + 9)

    run(scenario)


# --- the answer, byte by byte --------------------------------------------------------------


def rpm_ack(results: list[tuple[tuple[str, int], str, Any]]) -> bytes:
    """The service data of a ReadPropertyMultiple answer, as bacpypes3 encodes it.

    Each result is (object, property, value); an ``ErrorType`` value is an access error."""
    listed: list[ReadAccessResult] = []
    for obj, prop, value in results:
        choice = (ReadAccessResultElementChoice(propertyAccessError=value)
                  if isinstance(value, ErrorType)
                  else ReadAccessResultElementChoice(propertyValue=AnyValue(value)))
        element = ReadAccessResultElement(propertyIdentifier=prop, readResult=choice)
        if listed and listed[-1].objectIdentifier == ObjectIdentifier(obj):
            listed[-1].listOfResults.append(element)
        else:
            listed.append(ReadAccessResult(objectIdentifier=ObjectIdentifier(obj),
                                           listOfResults=[element]))
    ack = ReadPropertyMultipleACK(listOfReadAccessResults=listed)
    ack.apduInvokeID = 1
    return bytes(ack.encode().pduData)


def test_decode_reads_every_kind_of_present_value() -> None:
    data = rpm_ack([
        (("analogInput", 1), "presentValue", Real(21.5)),
        (("analogInput", 1), "objectName", CharacterString("gymnase.salle.temperature")),
        (("binaryInput", 4194302), "presentValue", BinaryPV("active")),
        (("binaryOutput", 2), "presentValue", BinaryPV("inactive")),
        (("multiStateValue", 1), "presentValue", Unsigned(3)),
        (("analogValue", 7), "presentValue", Double(1e12 + 0.5)),
        (("analogValue", 8), "presentValue", Null(())),
        (("analogValue", 9), "presentValue", CharacterString("vingt")),
        (("analogValue", 10), "presentValue", Real(float("nan"))),
        (("analogInput", 99), "presentValue",
         ErrorType(errorClass="object", errorCode="unknownObject")),
    ])
    assert decode_rpm_ack(data) == {
        (0, 1): 21.5,
        (3, 4194302): 1.0,
        (4, 2): 0.0,
        (19, 1): 3.0,
        (2, 7): 1e12 + 0.5,
        (2, 8): "the present value is null",
        (2, 9): "the present value is a character string, not a number",
        (2, 10): "the present value is nan, not a number",
        (0, 99): "error object: unknown-object",
    }
    for cut in (1, 7, len(data) - 1):
        with pytest.raises(ValueError, match="answer"):
            decode_rpm_ack(data[:cut])
    with pytest.raises(ValueError, match="unexpected tag at byte 0"):
        decode_rpm_ack(b"\x21\x01")


def test_a_full_request_is_answered_in_one_unsegmented_apdu() -> None:
    """The worst answer per object (a vendor error code past 255, the largest instance)
    still fits 1476 bytes with ``RPM_OBJECTS`` objects, and would not with one more."""
    def worst(count: int) -> bytes:
        return rpm_ack([
            (("analogInput", 4194302 - i), "presentValue",
             ErrorType(errorClass=Enumerated(260), errorCode=Enumerated(300)))
            for i in range(count)
        ])

    header = 3  # complex ack: type, invoke id, service choice
    assert RPM_OBJECTS == 86
    assert header + len(worst(RPM_OBJECTS)) <= MAX_APDU < header + len(worst(RPM_OBJECTS + 1))
    assert header + len(rpm_ack([(("analogInput", i), "presentValue", Real(1.0))
                                 for i in range(RPM_OBJECTS)])) <= MAX_APDU
    assert set(decode_rpm_ack(worst(2)).values()) == {"error 260: 300"}


# --- writing -------------------------------------------------------------------------------


def other_value(ref: PointRef, value: float) -> float:
    kind = ROLES[ref.role].kind
    if kind == "binary":
        return 1 - value
    if kind == "multistate":
        return 1 + value % 4
    return value + 1.5


def test_writes_take_their_priority_slot_and_release_empties_it(demo_site: Site) -> None:
    values = distinct_values(demo_site)
    servers = bacnet_servers(demo_site, values)
    server_of = {key: server for server in servers for key in server.keys}
    commands = [ref for ref in bacnet_points(demo_site) if ref.point.writable]
    assert {ROLES[ref.role].kind for ref in commands} == {"analog", "binary", "multistate"}

    async def scenario() -> None:
        async with serving(servers), driver_of() as driver:
            for ref in commands:
                server, default = server_of[ref.key], values[ref.key]
                command = other_value(ref, default)
                await driver.write(ref, command)
                assert server.commanded(ref.key) == command, ref.key
                slots = await driver.priority_array(ref)
                assert slots == [command if p == binding(ref).priority else None
                                 for p in range(1, 17)], ref.key
                assert (await driver.read([ref]))[ref.key] == Reading(command)
                await driver.release(ref)
                assert await driver.priority_array(ref) == [None] * 16
                assert server.commanded(ref.key) == default, ref.key
                assert (await driver.read([ref]))[ref.key] == Reading(default)

    run(scenario)


def test_refused_writes_raise_device_rejected_with_the_bacnet_error(demo_site: Site) -> None:
    values = distinct_values(demo_site)
    servers = bacnet_servers(demo_site, values)
    gym = next(server for server in servers if server.device_instance == 1001)
    mode = demo_site.point("gymnase.salle.mode")
    temperature = demo_site.point("gymnase.salle.temperature")
    relay = demo_site.point("gymnase.salle.eclairage")
    label = device_label(mode)

    async def scenario() -> None:
        async with serving(servers), driver_of() as driver:
            with pytest.raises(DeviceRejected, match=re.escape(
                f"{label} refused writing 7 to multiStateValue:1 at priority 10 "
                "(error property: value-out-of-range)"
            )) as refused:
                await driver.write(mode, 7)
            assert not isinstance(refused.value, DeviceTimeout)
            assert gym.commanded(mode.key) == values[mode.key]
            with pytest.raises(DeviceRejected, match="write-access-denied"):
                await driver.write(temperature, 30.0)
            with pytest.raises(DeviceRejected, match=re.escape(
                "reading the priority array of analogInput:1 (error property: "
                "unknown-property)")):
                await driver.priority_array(temperature)
            before = gym.traffic()
            with pytest.raises(ValueError, match=re.escape("a binary point is 0 or 1, not 0.5")):
                await driver.write(relay, 0.5)
            with pytest.raises(ValueError, match=re.escape("a state is a whole number, not 2.5")):
                await driver.write(mode, 2.5)
            assert gym.traffic() == before

    run(scenario)


# --- faults ------------------------------------------------------------------------------


class SilentDevice(asyncio.DatagramProtocol):
    """Holds a device's UDP port and never answers: the device hung, or a network that
    lets requests in and no answer out. It keeps what each datagram that reaches it asks,
    as the device would count it."""

    def __init__(self) -> None:
        self.kinds: list[str | None] = []

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.kinds.append(bacnet_kind(data))


@asynccontextmanager
async def silent_at(port: int) -> AsyncIterator[SilentDevice]:
    transport, silent = await asyncio.get_running_loop().create_datagram_endpoint(
        SilentDevice, local_addr=("127.0.0.1", port))
    try:
        yield silent
    finally:
        transport.close()
        await asyncio.sleep(0)  # asyncio closes a datagram socket on the next iteration


def test_a_silent_device_fails_in_time_backs_off_and_recovers(demo_site: Site) -> None:
    values = distinct_values(demo_site)
    servers = bacnet_servers(demo_site, values)
    gym = next(server for server in servers if server.device_instance == 1001)
    other_devices = [server for server in servers if server is not gym]
    points = bacnet_points(demo_site)
    gym_points = [ref for ref in points if ref.key in gym.keys]
    others = {ref.key: values[ref.key] for ref in points if ref.key not in gym.keys}
    label = device_label(gym_points[0])
    silent = f"{label} did not answer within {TIMEOUT_S:g} s"
    clock = Clock()

    def assert_gym_failed(readings: dict[str, Reading], message: str) -> None:
        assert {readings[ref.key] for ref in gym_points} == {Reading.failed(message)}
        assert_read(readings, others)

    async def scenario() -> None:
        async with serving(servers), \
                driver_of(now=clock, timeout_s=TIMEOUT_S, backoff_s=(1.0, 4.0)) as driver:
            assert all(reading.ok for reading in (await driver.read(points)).values())

            await gym.stop()
            async with silent_at(gym.port) as hung:
                took = elapsed()
                readings = await driver.read(points)
                assert took() < TIMEOUT_S + MARGIN_S
                assert_gym_failed(readings, f"{silent}; next attempt in 1 s")
                assert hung.kinds == ["reads"]  # the ReadPropertyMultiple, unanswered

                # backing off: the gym's points fail at once and it is not asked
                before = received(other_devices)
                assert_gym_failed(await driver.read(points), f"{silent}; next attempt in 1 s")
                with pytest.raises(DeviceTimeout, match="next attempt in 1 s"):
                    await driver.write(gym_points[0], 1.0)
                assert hung.kinds == ["reads"]
                assert (received(other_devices) - before).reads == 4

                clock.t += 1.0  # due: a Who-Is, unanswered, doubles the delay
                assert_gym_failed(await driver.read(points), f"{silent}; next attempt in 2 s")
                assert hung.kinds == ["reads", "other"]
                clock.t += 1.5
                assert_gym_failed(await driver.read(points), f"{silent}; next attempt in 1 s")
                assert hung.kinds == ["reads", "other"]

            await gym.start()
            clock.t += 0.5  # due: a Who-Is, answered, then the read
            before = gym.traffic()
            assert_read(await driver.read(points), {ref.key: values[ref.key] for ref in points})
            sent = gym.traffic() - before
            assert (sent.reads, sent.writes, sent.other) == (1, 0, 1)

            await gym.stop()  # the answer reset the delay to its first step
            assert_gym_failed(await driver.read(points), f"{silent}; next attempt in 1 s")

    run(scenario)


def test_a_timeout_leaves_no_library_traceback_in_the_log(
    demo_site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """bacpypes3 ends an unanswered request at its own APDU timeout, about when the driver
    gives up: the driver must not leave it a cancelled answer to complete, which it
    reports as a stray "Task exception was never retrieved" with a traceback. A race:
    several timeouts, each after the device was read again."""
    caplog.set_level(logging.WARNING)
    values = distinct_values(demo_site)
    gym = next(server for server in bacnet_servers(demo_site, values)
               if server.device_instance == 1001)
    points = [ref for ref in bacnet_points(demo_site) if ref.key in gym.keys]
    clock = Clock()

    async def scenario() -> None:
        async with driver_of(now=clock, timeout_s=TIMEOUT_S, backoff_s=(1.0, 1.0)) as driver:
            for _ in range(6):
                clock.t += 1.0
                async with serving([gym]):
                    assert all(r.ok for r in (await driver.read(points)).values())
                async with silent_at(gym.port) as hung:
                    readings = await driver.read(points)
                    assert hung.kinds == ["reads"]
                assert not any(r.ok for r in readings.values())
                await asyncio.sleep(TIMEOUT_S)  # bacpypes3's own timeout has passed

    run(scenario)
    gc.collect()  # asyncio logs a task's unretrieved exception when it is collected
    leaked = [(r.name, r.levelname, r.getMessage()) for r in caplog.records
              if r.levelno >= logging.ERROR or r.exc_info]
    assert leaked == []


def test_another_device_at_the_address_fails_its_points(demo_site_text: str) -> None:
    site = parse_site(demo_site_text, "demo.yaml")
    intruder = parse_site(demo_site_text.replace("device_instance: 1001,",
                                                 "device_instance: 1005,"), "intruder.yaml")
    values = distinct_values(site)
    points = bacnet_points(site)
    gym_points = [ref for ref in points if binding(ref).device_instance == 1001]
    address = binding(gym_points[0]).address
    wrong = f"device at {address} is 1005, the site file says 1001"

    async def scenario() -> None:
        async with serving(bacnet_servers(intruder, values)), driver_of() as driver:
            readings = await driver.read(points)
            assert {readings[ref.key] for ref in gym_points} == {
                Reading.failed(f"{wrong}; next attempt in 1 s")}
            assert_read(readings, {ref.key: values[ref.key] for ref in points
                                   if ref not in gym_points})
            with pytest.raises(DeviceRejected, match=re.escape(wrong)):
                await driver.write(site.point("gymnase.salle.consigne"), 20.0)

    run(scenario)


def test_an_object_the_device_lacks_fails_only_its_point(demo_site_text: str) -> None:
    served = parse_site(demo_site_text, "demo.yaml")
    text = demo_site_text.replace(
        "device_instance: 1001, object_type: analogInput, object_instance: 1}}",
        "device_instance: 1001, object_type: analogInput, object_instance: 99}}", 1)
    for obj, missing in (("binaryOutput", "98"), ("analogInput", "97")):
        text = text.replace("device_instance: 2002, object_type: " + obj + ", object_instance: 1}}",
                            "device_instance: 2002, object_type: " + obj + ", object_instance: "
                            + missing + "}}")
    site = parse_site(text, "missing.yaml")
    values = distinct_values(served)
    points = bacnet_points(site)
    lacking = site.point("gymnase.salle.temperature")
    church = [site.point("ep-eglise.relais"), site.point("ep-eglise.compteur")]
    assert binding(lacking).object_instance == 99
    servers = bacnet_servers(served, values)
    church_device = next(server for server in servers if server.device_instance == 2002)

    async def scenario() -> None:
        async with serving(servers), driver_of() as driver:
            readings = await driver.read(points)
            assert readings[lacking.key] == Reading.failed(
                f"{device_label(lacking)} analogInput:99: error object: unknown-object")
            # none of the objects asked exists: the device refuses the whole request
            refused = Reading.failed(f"{device_label(church[0])} refused ReadPropertyMultiple "
                                     "(error object: unknown-object)")
            assert {readings[ref.key] for ref in church} == {refused}
            assert_read(readings, {ref.key: values[ref.key] for ref in points
                                   if ref != lacking and ref not in church})
            # a refusal is an answer: no backoff, the next tick asks again
            before = church_device.traffic()
            assert (await driver.read(church))[church[0].key] == refused
            assert (church_device.traffic() - before).reads == 1

    run(scenario)


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="timeout_s must be positive"):
        BacnetDriver(now=Clock(), timeout_s=0)
    with pytest.raises(ValueError, match="max_objects_per_request must be 1 or more"):
        BacnetDriver(now=Clock(), max_objects_per_request=0)
    with pytest.raises(ValueError, match="backoff_s must be"):
        BacnetDriver(now=Clock(), backoff_s=(5.0, 1.0))
    with pytest.raises(ValueError, match="ip must be address/prefix"):
        BacnetDriver(now=Clock(), ip="127.0.0.1")


def test_start_fails_fast_on_a_taken_port_and_stop_is_idempotent() -> None:
    async def scenario() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", 0))
            driver = BacnetDriver(now=Clock(), port=taken.getsockname()[1])
            with pytest.raises(OSError, match="in use"):
                await driver.start()
            await driver.stop()
        async with driver_of() as driver:
            await driver.start()
            await driver.stop()
            await driver.start()  # on the same port, at once
        with pytest.raises(RuntimeError, match="not started"):
            await driver.read(bacnet_points(one_device_site(47809, 1)))

    run(scenario)
