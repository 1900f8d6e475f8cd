"""Small BACnet devices (MS/TP controllers behind a router, 128 or 480 bytes, no
segmentation) and the driver: each device is read in requests that it can take and
answer, from what its I-Am announces, and from its aborts when the I-Am says more than
it takes. The devices are real bacpypes3 devices on loopback (``gtb.sim.devices``)."""

from __future__ import annotations

import math
import socket

import pytest

from gtb.sim.devices import BacnetDeviceServer

from .conftest import free_port
from .field_clients import run
from .test_bacnet_driver import (
    assert_read,
    bacnet_points,
    distinct_values,
    driver_of,
    one_device_site,
    serving,
)

OBJECTS = 60


@pytest.mark.parametrize(("max_apdu", "per_request"), [
    # request: 4 + 9 an object; answer: 3 + 16 an analog present value (17 at most)
    (128, 7), (480, 28), (1476, 86)])
def test_a_device_that_cannot_segment_is_read_in_requests_it_can_answer(
    max_apdu: int, per_request: int
) -> None:
    site = one_device_site(free_port(socket.SOCK_DGRAM), OBJECTS)
    values = distinct_values(site)
    points = bacnet_points(site)
    device = BacnetDeviceServer(points, values, max_apdu=max_apdu, segment=False)

    async def scenario() -> None:
        async with serving([device]), driver_of() as driver:
            for _ in range(2):
                before = device.traffic()
                assert_read(await driver.read(points), values)
                assert (device.traffic() - before).reads == math.ceil(OBJECTS / per_request)
            assert driver.objects_per_request(points[0].binding) == per_request
            # the yardstick: its answers' octets over the room one of its APDUs has
            assert device.fewest_reads() == math.ceil(OBJECTS * 16 / (max_apdu - 3))

    run(scenario)


def test_a_device_that_aborts_a_request_gets_halves_and_is_remembered() -> None:
    site = one_device_site(free_port(socket.SOCK_DGRAM), OBJECTS)
    values = distinct_values(site)
    points = bacnet_points(site)
    device = BacnetDeviceServer(points, values, max_apdu=480, segment=False,
                                announced_max_apdu=1476)

    async def scenario() -> None:
        async with serving([device]), driver_of() as driver:
            before = device.traffic()
            # 60 objects: the request overflows the device (abort); 30: the answer does
            # not fit, unsegmented (abort); 15: answered, four times
            assert_read(await driver.read(points), values)
            assert (device.traffic() - before).reads == 1 + 2 * (1 + 2)
            assert driver.objects_per_request(points[0].binding) == 15
            before = device.traffic()
            assert_read(await driver.read(points), values)
            assert (device.traffic() - before).reads == 4

    run(scenario)
