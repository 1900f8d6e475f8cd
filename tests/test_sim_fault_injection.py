"""Faults the simulated devices inject on demand (for ``gtb bench faults``), seen through
the engine's own drivers over loopback, as the engine sees them."""

from __future__ import annotations

import math
import socket

import pytest
from pymodbus.constants import ExcCodes

from gtb.model import Site
from gtb.sim.devices import ModbusDeviceServer, device_servers
from protocols.bacnet import BacnetDriver
from protocols.modbus import ModbusDriver

from .conftest import free_port
from .field_clients import Clock, bounded, run
from .test_bacnet_driver import distinct_values
from .test_sim_traffic import gym_device


def test_a_modbus_server_answers_exceptions_until_told_to_stop(demo_site: Site) -> None:
    town_hall = next(s for s in device_servers(demo_site, distinct_values(demo_site))
                     if isinstance(s, ModbusDeviceServer))
    points = [demo_site.point(key) for key in town_hall.keys]

    async def scenario() -> None:
        await town_hall.start()
        driver = ModbusDriver(now=Clock())
        try:
            town_hall.fail_with(ExcCodes.DEVICE_FAILURE)
            failed = await bounded(driver.read(points))
            assert not any(reading.ok for reading in failed.values())
            assert all("SERVER_DEVICE_FAILURE" in (reading.error or "")
                       for reading in failed.values()), failed
            town_hall.fail_with(None)
            await driver.stop()  # no backoff left over from the failures
            again = await bounded(driver.read(points))
            assert all(reading.ok for reading in again.values()), again
        finally:
            await driver.stop()
            await town_hall.stop()

    run(scenario)


@pytest.mark.parametrize("fast_reads", [True, False], ids=["fast-reads", "bacpypes3"])
def test_a_withdrawn_bacnet_object_fails_alone_and_comes_back(
    demo_site: Site, fast_reads: bool
) -> None:
    values = distinct_values(demo_site)
    gym, gym_points = gym_device(demo_site, fast_reads)
    presence, temperature = "gymnase.salle.presence", "gymnase.salle.temperature"

    async def scenario() -> None:
        await gym.start()
        driver = BacnetDriver(now=Clock(), port=free_port(socket.SOCK_DGRAM))
        await driver.start()
        try:
            gym.withdraw(presence)
            readings = await bounded(driver.read(gym_points))
            assert not readings[presence].ok
            assert "unknown" in (readings[presence].error or "").lower(), readings[presence]
            assert all(r.ok for key, r in readings.items() if key != presence), readings
            gym.withdraw(presence, gone=False)
            gym.send_not_a_number(temperature)
            readings = await bounded(driver.read(gym_points))
            assert readings[presence].value == values[presence]
            # NaN is a REAL like any other on the wire: the engine judges it, not the driver
            nan = readings[temperature]
            assert (nan.value is not None and math.isnan(nan.value)) or not nan.ok, nan
            with pytest.raises(ValueError, match="only an analog object"):
                gym.send_not_a_number(presence)
        finally:
            await driver.stop()
            await gym.stop()

    run(scenario)
