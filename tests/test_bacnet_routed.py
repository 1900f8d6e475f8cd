"""Devices behind a BACnet router (MS/TP controllers, reached at network number and MAC
address): named in the site file beside the router's address, validated, and read and
commanded through a real bacpypes3 router on loopback (``gtb.sim.devices.BacnetRouter``:
BACnet/IP on one side, a virtual network per network number on the other, where the
devices stand as they would on an MS/TP bus)."""

from __future__ import annotations

import re
import socket

import pytest

from gtb.config import SiteFileError, parse_site
from gtb.model import Building, PointRef, Site, Zone
from gtb.model.points import BacnetBinding, Point, Role
from gtb.sim.devices import BacnetDeviceServer, device_servers

from .conftest import free_port
from .field_clients import run
from .test_bacnet_driver import assert_read, distinct_values, driver_of, serving
from .test_config import line_of, replace_once


def routed_site(router_port: int, direct_port: int) -> Site:
    """Two controllers behind one router (network 5, MACs 12 and 13), the first with 40
    temperatures and a setpoint, the second with one temperature; and a device on
    BACnet/IP beside them."""
    def point(ident: str, role: Role, obj: str, instance: int, device: int,
              network: int | None = 5, mac: int | None = None,
              port: int = router_port) -> Point:
        return Point(id=ident, role=role, binding=BacnetBinding(
            protocol="bacnet", address=f"127.0.0.1:{port}", device_instance=device,
            object_type=obj, object_instance=instance, network=network, mac=mac))

    points = [point(f"t{i}", Role.ZONE_TEMPERATURE, "analogInput", i, 5012, mac=12)
              for i in range(1, 41)]
    points.append(point("consigne", Role.HEATING_SETPOINT, "analogValue", 1, 5012, mac=12))
    hall = Zone(id="hall", name="Hall", area_m2=500, points=tuple(points))
    office = Zone(id="bureau", name="Bureau", area_m2=20, points=(
        point("t", Role.ZONE_TEMPERATURE, "analogInput", 1, 5013, mac=13),))
    lobby = Zone(id="accueil", name="Accueil", area_m2=20, points=(
        point("t", Role.ZONE_TEMPERATURE, "analogInput", 1, 6001, network=None,
              port=direct_port),))
    building = Building(id="ecole", name="École", use="ecole", floor_area_m2=600,
                        zones=(hall, office, lobby))
    return Site(id="routee", name="Routée", latitude=50.4, longitude=3.28, school_zone="B",
                buildings=(building,))


def test_devices_behind_a_router_are_read_and_commanded_through_it() -> None:
    site = routed_site(free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM))
    values = distinct_values(site)
    refs = list(site.points())
    servers = [s for s in device_servers(site, values, {
        refs[0].binding.address: {"max_apdu": 480, "segment": False}})
        if isinstance(s, BacnetDeviceServer)]
    assert len(servers) == 3
    setpoint: PointRef = site.point("ecole.hall.consigne")

    async def scenario() -> None:
        async with serving(servers), driver_of() as driver:
            for _ in range(2):
                assert_read(await driver.read(refs), values)
            # MS/TP controller of 480 bytes without segmentation, announced through the
            # router: 28 objects a request
            assert driver.objects_per_request(refs[0].binding) == 28
            await driver.write(setpoint, 21.5)
            slots = await driver.priority_array(setpoint)
            assert slots[9] == 21.5
            assert (await driver.read([setpoint]))[setpoint.key].value == 21.5
            await driver.release(setpoint)
            assert await driver.command_priority(setpoint) is None

    run(scenario)


def test_a_routed_device_needs_both_its_network_and_its_mac(demo_site_text: str) -> None:
    text = replace_once(demo_site_text, "device_instance: 1001, ",
                        "device_instance: 1001, network: 5, ")
    with pytest.raises(SiteFileError) as caught:
        parse_site(text, "site.yaml")
    [error] = [e for e in caught.value.errors
               if e.message == "a device behind a router needs both `network` and `mac`"]
    assert error.line == line_of(text, "network: 5")


@pytest.mark.parametrize(("field", "problem"), [
    ("network: 0, mac: 12", "network"), ("network: 65535, mac: 12", "network"),
    ("network: 5, mac: 255", "mac")])
def test_network_and_mac_out_of_range_are_refused(field: str, problem: str,
                                                   demo_site_text: str) -> None:
    text = replace_once(demo_site_text, "device_instance: 1001, ",
                        f"device_instance: 1001, {field}, ")
    with pytest.raises(SiteFileError) as caught:
        parse_site(text, "site.yaml")
    assert any(e.path.endswith(f"binding.{problem}") for e in caught.value.errors)


def test_two_devices_behind_one_router_share_its_address(demo_site_text: str) -> None:
    gym = re.search(r'address: "(127\.0\.0\.1:\d+)", device_instance: 1001, ', demo_site_text)
    assert gym is not None
    text = demo_site_text.replace(gym[0], gym[0] + "network: 5, mac: 12, ")
    text = re.sub(r'address: "127\.0\.0\.1:\d+", device_instance: 1002, ',
                  f'address: "{gym[1]}", device_instance: 1002, network: 5, mac: 13, ', text)
    site = parse_site(text, "site.yaml")
    routed = {(ref.binding.address, getattr(ref.binding, "mac", None))
              for ref in site.points() if getattr(ref.binding, "network", None) == 5}
    assert routed == {(gym[1], 12), (gym[1], 13)}
    # the same MAC for the two devices is one device with two instances: refused
    clash = text.replace("network: 5, mac: 13", "network: 5, mac: 12")
    with pytest.raises(SiteFileError, match="is device 1001"):
        parse_site(clash, "site.yaml")
