"""Generic MQTT points in a site file: the binding's checks, where an error is said, and how
a message becomes a value and a command becomes a payload (no broker needed)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from gtb.cli import main
from gtb.config import parse_site
from gtb.model.mqtt import MqttBinding, MqttBroker, json_path_steps
from gtb.model.points import Point
from gtb.sim.devices import device_servers
from gtb.site_yaml import SiteFileError
from protocols.mqtt import Backoff, PayloadError, command_payload, extract

BROKER = """\
mqtt:
  host: 127.0.0.1
  username: gtb
"""

SITE = """\
id: essai
name: Essai
latitude: 48.1
longitude: -1.6
school_zone: B
{broker}buildings:
  - id: salle
    name: Salle des fêtes
    floor_area_m2: 400
    use: salle_des_fetes
    points:
      - id: compteur
        role: measurement
        unit: kWh
        binding: {{protocol: mqtt, topic: secret/compteur}}
    zones:
      - id: grande
        name: Grande salle
        area_m2: 300
        points:
          - id: temperature
            role: zone_temperature
            binding:
              protocol: mqtt
              topic: {topic}
              json_path: {json_path}
              interval: 60
          - id: consigne
            role: heating_setpoint
            binding:
              protocol: mqtt
              topic: site/vanne-1
              json_path: current_heating_setpoint
              command_topic: site/vanne-1/set
              payload: '{payload}'
"""


def site_text(*, broker: str = BROKER, topic: str = "site/vanne-1",
              json_path: str = "local_temperature",
              payload: str = '{"current_heating_setpoint": {value}}') -> str:
    return SITE.format(broker=broker, topic=topic, json_path=json_path, payload=payload)


def errors_of(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(SiteFileError) as raised:
        parse_site(text, "essai.yaml")
    return [(error.line, error.path, error.message) for error in raised.value.errors]


def test_a_site_with_mqtt_points_and_its_broker_is_valid() -> None:
    site = parse_site(site_text(), "essai.yaml")
    assert site.mqtt is not None and site.mqtt.address == "127.0.0.1:1883"
    setpoint = site.point("salle.grande.consigne").binding
    assert isinstance(setpoint, MqttBinding)
    assert setpoint.writable and setpoint.endpoint == ("mqtt", "site/vanne-1", 0)


def test_mqtt_points_without_a_broker_are_refused_at_each_binding() -> None:
    found = errors_of(site_text(broker=""))
    assert [(line, path) for line, path, _ in found] == [
        (15, "buildings[salle].points[compteur].binding.protocol"),
        (24, "buildings[salle].zones[grande].points[temperature].binding.protocol"),
        (31, "buildings[salle].zones[grande].points[consigne].binding.protocol")]
    assert all("`mqtt:`" in message for _, _, message in found)


@pytest.mark.parametrize(("edit", "path", "said"), [
    ({"topic": "zigbee2mqtt/+"}, "points[temperature].binding.topic", "wildcard"),
    ({"topic": "zigbee2mqtt/#"}, "points[temperature].binding.topic", "wildcard"),
    ({"json_path": "a..b"}, "points[temperature].binding.json_path", "keys and [indexes]"),
    ({"json_path": "a[x]"}, "points[temperature].binding.json_path", "keys and [indexes]"),
    ({"json_path": "__import__('os')"}, "points[temperature].binding.json_path",
     "keys and [indexes]"),
    ({"payload": "21"}, "points[consigne].binding.payload", "exactly once"),
    ({"payload": "{value} {value}"}, "points[consigne].binding.payload", "exactly once"),
])
def test_a_bad_binding_is_refused_where_it_is_written(edit: dict[str, str], path: str,
                                                      said: str) -> None:
    found = errors_of(site_text(**edit))
    assert len(found) == 1
    _, where, message = found[0]
    assert where == f"buildings[salle].zones[grande].{path}" and said in message


def test_a_command_point_needs_a_command_topic() -> None:
    text = site_text().replace("              command_topic: site/vanne-1/set\n", "")
    [(_, where, message)] = errors_of(text)
    assert where == "buildings[salle].zones[grande].points[consigne]"
    assert "without command_topic cannot be written" in message


def test_tls_files_need_tls() -> None:
    [(_, where, message)] = errors_of(site_text(broker=BROKER + "  ca_file: ca.crt\n"))
    assert where == "mqtt" and "tls: true" in message


def test_json_paths_are_keys_and_indexes() -> None:
    assert json_path_steps("a.b[0].c") == ("a", "b", 0, "c")
    assert json_path_steps("[2][0]") == (2, 0)
    assert json_path_steps("battery-level") == ("battery-level",)


def binding(**fields: object) -> MqttBinding:
    return MqttBinding.model_validate({"protocol": "mqtt", "topic": "t", **fields})


@pytest.mark.parametrize(("fields", "payload", "value"), [
    ({"json_path": "local_temperature"}, b'{"local_temperature": 19.5, "battery": 80}', 19.5),
    ({"json_path": "sensors[1].value"}, b'{"sensors": [{"value": 1}, {"value": 2.5}]}', 2.5),
    ({"json_path": "state"}, b'{"state": "ON"}', 1.0),
    ({"json_path": "occupancy"}, b'{"occupancy": false}', 0.0),
    ({}, b"21.25", 21.25),
    ({}, b"off", 0.0),
    ({"json_path": "t", "scale": 0.1, "offset": -1}, b'{"t": 215}', 20.5),
])
def test_a_message_gives_the_value_at_its_path(fields: dict[str, object], payload: bytes,
                                               value: float) -> None:
    assert extract(binding(**fields), payload) == pytest.approx(value)


@pytest.mark.parametrize(("fields", "payload", "said"), [
    ({"json_path": "t"}, b"<html>erreur</html>", "n'est pas du JSON (<html>erreur</html>)"),
    ({"json_path": "t"}, b'{"u": 1}', 'pas de t dans le message ({"u": 1})'),
    ({"json_path": "t[3]"}, b'{"t": [1]}', "pas de t[3] dans le message"),
    ({"json_path": "t"}, b'{"t": "chaud"}', 't vaut "chaud", pas un nombre'),
    ({"json_path": "t"}, b'{"t": NaN}', "t vaut NaN, pas un nombre"),
    ({"json_path": "t"}, b'{"t": {"v": 1}}', 't vaut {"v": 1}, pas un nombre'),
    ({}, b"", "la valeur vaut \"\", pas un nombre"),
])
def test_a_bad_message_says_why_in_french(fields: dict[str, object], payload: bytes,
                                         said: str) -> None:
    with pytest.raises(PayloadError) as raised:
        extract(binding(**fields), payload)
    assert str(raised.value).startswith("t : ") and said in str(raised.value)


def test_a_command_fills_the_template_with_the_raw_value() -> None:
    zigbee = binding(command_topic="z/set", payload='{"current_heating_setpoint": {value}}')
    assert command_payload(zigbee, 21.5) == '{"current_heating_setpoint": 21.5}'
    assert command_payload(zigbee, 19.0) == '{"current_heating_setpoint": 19}'
    assert command_payload(binding(command_topic="s", scale=0.5), 20.0) == "40"
    with pytest.raises(ValueError, match="cannot be published"):
        command_payload(zigbee, math.nan)


def test_gtb_check_counts_the_topics_and_locates_a_missing_broker(tmp_path: Path) -> None:
    runner = CliRunner()
    good = tmp_path / "salle.yaml"
    good.write_text(site_text(), encoding="utf-8")
    result = runner.invoke(main, ["check", str(good)])
    assert result.exit_code == 0, result.output
    assert ("3 points on 0 Modbus and 0 BACnet devices and 2 MQTT topics at 127.0.0.1:1883"
            in " ".join(result.output.split()))
    bad = tmp_path / "sans-courtier.yaml"
    bad.write_text(site_text(broker=""), encoding="utf-8")
    result = runner.invoke(main, ["check", str(bad)])
    assert result.exit_code == 2
    assert (f"{bad}:24: buildings[salle].zones[grande].points[temperature].binding.protocol: "
            "an MQTT point needs the site's broker") in " ".join(result.output.split())


DOCS = Path(__file__).resolve().parent.parent / "docs" / "lorawan.md"


def test_the_points_docs_lorawan_shows_are_valid() -> None:
    """The Zigbee2MQTT valve and the Shelly TRV of docs/lorawan.md, as a site file takes
    them, and the broker's settings."""
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    points = [point for block in blocks if block.startswith("- id:")
              for point in YAML(typ="safe").load(block)]
    assert len(points) == 4
    for point in points:
        assert Point.model_validate(point).binding.protocol == "mqtt"
    [broker] = [block for block in blocks if block.startswith("mqtt:")]
    assert MqttBroker.model_validate(YAML(typ="safe").load(broker)["mqtt"]).tls


def test_the_waits_before_reconnecting_double_up_to_their_cap_with_jitter() -> None:
    backoff = Backoff(first=1.0, longest=60.0)
    for failures, ceiling in [(0, 1.0), (1, 2.0), (3, 8.0), (6, 60.0), (1000, 60.0)]:
        waits = [backoff.wait(failures) for _ in range(50)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(set(waits)) > 1  # jitter: engines that failed together part ways
    with pytest.raises(ValueError, match="0 < first <= longest"):
        Backoff(first=5.0, longest=1.0)


def test_the_virtual_commune_says_it_does_not_simulate_generic_mqtt_devices_yet() -> None:
    """LoRaWAN devices are on the air (tests/test_sim_radio.py); generic MQTT points are
    not simulated."""
    site = parse_site(site_text(), "essai.yaml")
    initial = {ref.key: 19.0 for ref in site.points()}
    with pytest.raises(ValueError, match=r"does not simulate generic MQTT devices "
                                         r"\(protocol: mqtt\) yet: salle\.compteur"):
        device_servers(site, initial)
