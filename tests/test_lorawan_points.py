"""LoRaWAN points: the site file's devices and bindings (``gtb check``), and uplinks read
through the MQTT driver against Debian's Mosquitto (``mosquitto`` fixture).

A fake network server stands in for ChirpStack and The Things Stack: an aiomqtt client
publishing messages shaped like their documentation's examples (``tests/data/lorawan/``)
on the topics their MQTT integrations use. The arrival times come from a clock the test
sets, so that staleness is shown without waiting.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gtb.cli import main
from gtb.config import parse_site
from gtb.model.lorawan import LorawanBinding
from gtb.site_yaml import SiteFileError

CHIRPSTACK_APP = "17c82e96-be03-4f38-aef3-f83d48582d97"
VALVE_EUI = "0101010101010101"

DEVICES = f"""\
lorawan:
  - id: vanne-1
    network_server: chirpstack
    application: {CHIRPSTACK_APP}
    dev_eui: "{VALVE_EUI}"
    interval_s: 600
  - id: capteur-1
    network_server: tts
    application: app1
    tenant: tenant1
    device_id: dev1
    interval_s: 900
"""

SITE = """\
id: essai
name: Essai
latitude: 48.1
longitude: -1.6
school_zone: B
{broker}{devices}buildings:
  - id: salle
    name: Salle des fêtes
    floor_area_m2: 400
    use: salle_des_fetes
    zones:
      - id: grande
        name: Grande salle
        area_m2: 300
        points:
          - id: temperature
            role: zone_temperature
            binding: {{protocol: lorawan, device: {device}, field: {field}}}
          - id: batterie
            role: measurement
            unit: "%"
            binding: {{protocol: lorawan, device: vanne-1, field: battery}}
          - id: rssi
            role: measurement
            unit: dBm
            binding: {{protocol: lorawan, device: vanne-1, field: rssi}}
          - id: luminosite
            role: measurement
            unit: lx
            binding: {{protocol: lorawan, device: capteur-1, field: luminosity, scale: 100}}
"""


def site_text(*, broker: str = "mqtt:\n  host: 127.0.0.1\n", devices: str = DEVICES,
              device: str = "vanne-1", field: str = "temperature") -> str:
    return SITE.format(broker=broker, devices=devices, device=device, field=field)


def errors_of(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(SiteFileError) as raised:
        parse_site(text, "essai.yaml")
    return [(error.line, error.path, error.message) for error in raised.value.errors]


TEMPERATURE = "buildings[salle].zones[grande].points[temperature].binding"


def test_a_site_with_lorawan_devices_and_points_is_valid() -> None:
    site = parse_site(site_text(), "essai.yaml")
    valve, sensor = site.lorawan
    assert valve.topics == (
        f"application/{CHIRPSTACK_APP}/device/{VALVE_EUI}/event/up",
        f"application/{CHIRPSTACK_APP}/device/{VALVE_EUI}/event/join",
        f"application/{CHIRPSTACK_APP}/device/{VALVE_EUI}/event/status")
    assert sensor.topics == ("v3/app1@tenant1/devices/dev1/up",
                             "v3/app1@tenant1/devices/dev1/join")
    assert (valve.downlinks_per_day, valve.codec) == (10, "server")
    binding = site.point("salle.grande.luminosite").binding
    assert isinstance(binding, LorawanBinding)
    assert (binding.endpoint, binding.scale, binding.writable) == (
        ("lorawan", "capteur-1", 0), 100.0, False)


@pytest.mark.parametrize(("edit", "line", "path", "said"), [
    ({"device": "vanne-9"}, 32, f"{TEMPERATURE}.device",
     "no LoRaWAN device 'vanne-9' in the site's `lorawan:` (known: capteur-1, vanne-1)"),
    ({"field": "object..temperature"}, 32, f"{TEMPERATURE}.field",
     "is not keys separated by dots"),
    ({"field": "'temperature[0]'"}, 32, f"{TEMPERATURE}.field",
     "is not keys separated by dots"),
    ({"devices": DEVICES.replace(f'    dev_eui: "{VALVE_EUI}"\n', "")}, 9, "lorawan[vanne-1]",
     "a ChirpStack device needs its dev_eui"),
    ({"devices": DEVICES.replace(f'"{VALVE_EUI}"', '"01010101"')}, 12,
     "lorawan[vanne-1].dev_eui", "is not 16 hexadecimal digits"),
    ({"devices": DEVICES.replace("application: app1", "application: app/1")}, 16,
     "lorawan[capteur-1].application", "cannot be one level of an MQTT topic"),
    ({"devices": DEVICES.replace("interval_s: 900", "interval_s: 0")}, 19,
     "lorawan[capteur-1].interval_s", "greater than 0"),
])
def test_a_bad_device_or_binding_is_refused_where_it_is_written(
        edit: dict[str, str], line: int, path: str, said: str) -> None:
    [(at, where, message)] = errors_of(site_text(**edit))
    assert (at, where) == (line, path) and said in message


def test_lorawan_devices_without_a_broker_are_refused_at_each_device() -> None:
    found = errors_of(site_text(broker=""))
    assert [(line, path) for line, path, _ in found] == [
        (7, "lorawan[vanne-1].id"), (12, "lorawan[capteur-1].id")]
    assert all("`mqtt:`" in message for _, _, message in found)


def test_the_same_device_twice_is_refused() -> None:
    twice = DEVICES + DEVICES.split("\n", 1)[1].replace("id: vanne-1", "id: vanne-2", 1)
    found = errors_of(site_text(devices=twice))
    assert [(path, message.split(":")[0]) for _, path, message in found] == [
        ("lorawan[vanne-2].id", "the same device as vanne-1"),
        ("lorawan[capteur-1].id", "duplicate LoRaWAN device id 'capteur-1' (first at lorawan[1])"),
        ("lorawan[capteur-1].id", "the same device as capteur-1")]


def test_gtb_check_counts_the_lorawan_devices(tmp_path: Path) -> None:
    good = tmp_path / "salle.yaml"
    good.write_text(site_text(), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(good)])
    assert result.exit_code == 0, result.output
    assert ("4 points on 0 Modbus and 0 BACnet devices and 2 LoRaWAN devices through "
            "127.0.0.1:1883") in " ".join(result.output.split())
    bad = tmp_path / "inconnu.yaml"
    bad.write_text(site_text(device="vanne-9"), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:32: {TEMPERATURE}.device: no LoRaWAN device 'vanne-9'" in " ".join(
        result.output.split())
