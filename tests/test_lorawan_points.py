"""LoRaWAN points: the site file's devices and bindings (``gtb check``), and uplinks read
through the MQTT driver against Debian's Mosquitto (``mosquitto`` fixture).

A fake network server stands in for ChirpStack and The Things Stack: an aiomqtt client
publishing messages shaped like their documentation's examples (``tests/data/lorawan/``)
on the topics their MQTT integrations use. The arrival times come from a clock the test
sets, so that staleness is shown without waiting.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from gtb.cli import main
from gtb.cli.wiring import mqtt_driver
from gtb.clock import SimulatedClock
from gtb.config import parse_site
from gtb.engine import Engine
from gtb.engine.arbitration import Command
from gtb.engine.journal import Journal
from gtb.engine.reading import Snapshot
from gtb.engine.writing import Writer
from gtb.model import PointRef, Site
from gtb.model.lorawan import LorawanBinding, LorawanDevice
from gtb.model.mqtt import PASSWORD_ENV, MqttBroker
from gtb.model.points import Point, Quality
from gtb.site_yaml import SiteFileError
from gtb.store import Store
from gtb.store.samples import Sample
from gtb.texts import Reason
from protocols.base import DeviceRejected, Reading
from protocols.lorawan_points import LorawanPoints
from protocols.mqtt import Backoff, MqttDriver
from tests.conftest import free_port
from tests.mosquitto_rig import ENGINE_PASSWORD, ENGINE_USER, Mosquitto
from tests.test_mqtt_driver import SetClock, at_once, device, running, until

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
{commands}"""

HEAD = """\
  - id: tete-1
    network_server: tts
    application: app1
    device_id: tete-1
    interval_s: 600
    codec: milesight-wt101
"""

VALVE_COMMAND = """\
          - id: consigne
            role: heating_setpoint
            binding: {protocol: lorawan, device: vanne-1, field: setpoint,
                      command_field: setpoint, command_port: 10}
"""

COMMANDS = VALVE_COMMAND + """\
          - id: consigne-tete
            role: heating_setpoint
            binding: {protocol: lorawan, device: tete-1, field: target_temperature,
                      command_field: target_temperature}
"""


def site_text(*, broker: str = "mqtt:\n  host: 127.0.0.1\n", devices: str = DEVICES,
              device: str = "vanne-1", field: str = "temperature", commands: str = "") -> str:
    return SITE.format(broker=broker, devices=devices, device=device, field=field,
                       commands=commands)


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


# --- uplinks through the broker ------------------------------------------------------------

DATA = Path(__file__).resolve().parent / "data" / "lorawan"
BROKER_SITE = parse_site(site_text(), "essai.yaml")
REFS = {ref.point.id: ref for ref in BROKER_SITE.points()}
VALVE_TOPICS = BROKER_SITE.lorawan[0].topics
SENSOR_TOPICS = BROKER_SITE.lorawan[1].topics


def chirpstack_up(f_cnt: int, sent: datetime, temperature: float,
                  gateway: tuple[str, float] = ("0016c001f153a14c", -80.0)) -> bytes:
    """ChirpStack's documented ``up`` event, with a counter, a time, a decoded object and
    the gateway that heard it."""
    message = json.loads((DATA / "chirpstack-up.json").read_text(encoding="utf-8"))
    message.update(fCnt=f_cnt, time=sent.isoformat(), object={"temperature": temperature})
    message["rxInfo"][0].update(gatewayId=gateway[0], rssi=gateway[1])
    return json.dumps(message).encode()


def tts_up(f_cnt: int, luminosity: float) -> bytes:
    """The Things Stack's documented ``up`` message, with a counter and a decoded payload."""
    message = json.loads((DATA / "tts-up.json").read_text(encoding="utf-8"))
    message["uplink_message"].update(f_cnt=f_cnt, decoded_payload={"luminosity": luminosity})
    return json.dumps(message).encode()


def lorawan_driver(broker: Mosquitto, clock: SetClock, site: Site = BROKER_SITE
                   ) -> tuple[MqttDriver, LorawanPoints]:
    """The driver of the site's LoRaWAN points, and those points as it feeds them."""
    refs = list(site.points())
    lorawan = LorawanPoints(site.lorawan, refs, site.tz)
    settings = MqttBroker(host="127.0.0.1", port=broker.port, username=ENGINE_USER)
    driver = MqttDriver(settings, refs, now=clock.now, client_id="gtb-lorawan",
                        password=ENGINE_PASSWORD, lorawan=lorawan, backoff=Backoff(0.05, 0.5),
                        timeout_s=5.0)
    return driver, lorawan


def read(driver: MqttDriver, name: str) -> Reading:
    return at_once(driver.read([REFS[name]]))[REFS[name].key]


def test_uplinks_are_read_at_their_arrival_without_duplicates_or_late_ones(
        mosquitto: Mosquitto) -> None:
    """The fake network server publishes as ChirpStack: an uplink, the same one through a
    second gateway, a newer one, then one that was sent before it; then nothing."""
    clock = SetClock()
    sent = datetime(2026, 12, 7, 7, 59, 58, tzinfo=UTC)
    driver, lorawan = lorawan_driver(mosquitto, clock)
    tracker = lorawan.trackers["vanne-1"]

    async def scenario() -> None:
        async with running(driver), device(mosquitto) as server:
            await until(lambda: driver.connected, "connected")
            assert read(driver, "temperature").error == (
                "vanne-1 : aucune remontée reçue depuis le démarrage")
            first = clock.at
            await server.publish(VALVE_TOPICS[0], chirpstack_up(10, sent, 19.5), qos=1)
            await until(lambda: tracker.last_f_cnt == 10, "the first uplink taken")
            assert read(driver, "temperature") == Reading(19.5, at=first)
            assert read(driver, "rssi") == Reading(-80.0, at=first)

            clock.at += timedelta(seconds=2)
            await server.publish(VALVE_TOPICS[0], chirpstack_up(
                10, sent, 19.5, ("00800000a00016b6", -60.0)), qos=1)
            await until(lambda: tracker.duplicates == 1, "the duplicate seen")
            assert read(driver, "rssi") == Reading(-80.0, at=first)

            clock.at = first + timedelta(seconds=600)
            await server.publish(VALVE_TOPICS[0], chirpstack_up(
                12, sent + timedelta(seconds=600), 20.0), qos=1)
            await until(lambda: tracker.last_f_cnt == 12, "the newer uplink taken")
            clock.at += timedelta(seconds=10)
            await server.publish(VALVE_TOPICS[0], chirpstack_up(
                11, sent + timedelta(seconds=300), 18.0), qos=1)
            await until(lambda: tracker.late == 1, "the late uplink seen")
            newer = first + timedelta(seconds=600)
            assert read(driver, "temperature") == Reading(20.0, at=newer)
            assert tracker.lost == 0  # 11 was missing, and came

            clock.at = newer + timedelta(seconds=1499)  # one expected uplink missed: usual
            assert read(driver, "temperature") == Reading(20.0, at=newer)
            clock.at = newer + timedelta(seconds=1500)  # two, each half an interval late
            assert read(driver, "temperature").error == (
                "vanne-1 : aucune remontée depuis 09:10 (attendue toutes les 10 min)")
            assert read(driver, "luminosite").error == (
                "capteur-1 : aucune remontée reçue depuis le démarrage")

    asyncio.run(scenario())


def test_battery_a_bad_message_and_a_rejoin(mosquitto: Mosquitto) -> None:
    """The fake network server publishes as both: ChirpStack's status (the battery), The
    Things Stack's uplinks, a message that is not JSON, a join and a counter from 0."""
    clock = SetClock()
    driver, lorawan = lorawan_driver(mosquitto, clock)
    tracker = lorawan.trackers["capteur-1"]
    status = (DATA / "chirpstack-status.json").read_bytes()

    async def scenario() -> None:
        async with running(driver), device(mosquitto) as server:
            await until(lambda: driver.connected, "connected")
            await server.publish(VALVE_TOPICS[2], status, qos=1)
            await until(lambda: read(driver, "batterie").ok, "the status read")
            assert read(driver, "batterie") == Reading(88.3, at=clock.at)

            await server.publish(SENSOR_TOPICS[0], tts_up(41, 0.64), qos=1)
            await until(lambda: tracker.last_f_cnt == 41, "the uplink taken")
            assert read(driver, "luminosite") == Reading(64.0, at=clock.at)

            await server.publish(SENSOR_TOPICS[0], b"<html>502 Bad Gateway</html>", qos=1)
            await until(lambda: not read(driver, "luminosite").ok, "the bad message read")
            assert (read(driver, "luminosite").error or "").startswith(
                "capteur-1 : message illisible du serveur de réseau (v3/app1@tenant1/devices/"
                "dev1/up: not a JSON document")

            await server.publish(SENSOR_TOPICS[1], b'{"end_device_ids": {}}', qos=1)
            clock.at += timedelta(seconds=900)
            await server.publish(SENSOR_TOPICS[0], tts_up(0, 0.5), qos=1)
            await until(lambda: tracker.resets == 1, "the new sequence taken")
            assert read(driver, "luminosite") == Reading(50.0, at=clock.at)

    asyncio.run(scenario())


def test_the_engines_own_codec_reads_the_frames_bytes() -> None:
    """A WT101 whose network server has no codec: the engine decodes its bytes (the maker's
    sample); no broker needed, the messages are handed over as the driver would."""
    site = parse_site(site_text(devices=DEVICES.replace(
        "    interval_s: 600\n", "    interval_s: 600\n    codec: milesight-wt101\n")
        .replace(VALVE_EUI, "24e124714c123456")), "essai.yaml")
    refs = [ref for ref in site.points() if ref.point.id in ("temperature", "batterie")]
    lorawan = LorawanPoints(site.lorawan, refs, site.tz)
    at = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    uplink = (DATA / "chirpstack-up-wt101.json").read_bytes()
    assert lorawan.receive(site.lorawan[0].topics[0], uplink, at)
    assert [lorawan.reading(ref, at) for ref in refs] == [Reading(26.6, at=at),
                                                           Reading(97.0, at=at)]
    assert not lorawan.receive("application/x/device/0101010101010101/event/up", b"", at)


def test_the_engine_samples_an_uplink_at_its_arrival(
        mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``gtb run``'s wiring: one driver for the broker's MQTT and LoRaWAN points; a tick
    stores the valve's temperature at the uplink's arrival, not the tick's, and sends the
    programme's setpoint as a downlink."""
    site = parse_site(site_text(broker=f"mqtt:\n  host: 127.0.0.1\n  port: {mosquitto.port}\n"
                                f"  username: {ENGINE_USER}\n", commands=VALVE_COMMAND),
                      "essai.yaml")
    monkeypatch.setenv(PASSWORD_ENV, ENGINE_PASSWORD)
    clock = SimulatedClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    driver = mqtt_driver(site, clock)
    assert driver is not None
    store = Store(tmp_path / "gtb.db")
    key = site.point("salle.grande.temperature").key

    async def scenario() -> None:
        engine = Engine(site, store, {"mqtt": driver, "lorawan": driver}, clock)
        async with device(mosquitto) as server:
            await server.subscribe("application/+/device/+/command/down", qos=1)
            await engine.start()
            try:
                await until(lambda: driver.connected, "connected")
                arrived = clock.now()
                await server.publish(VALVE_TOPICS[0], chirpstack_up(3, arrived, 18.5), qos=1)
                await until(lambda: at_once(driver.read([site.point(key)]))[key].ok,
                            "the uplink read")
                clock.advance(30)
                await engine.tick()
                topic, downlink = await next_message(server)
            finally:
                await engine.stop()
        sample = store.samples.latest(key)
        assert sample is not None and (sample.ts, sample.value) == (arrived, 18.5)
        assert topic.endswith(f"/device/{VALVE_EUI}/command/down")
        assert downlink["object"]["setpoint"] >= 7

    try:
        asyncio.run(scenario())
    finally:
        store.close()


def docs_example(start: str) -> Any:
    """The YAML example of docs/lorawan.md that begins with ``start``, as data."""
    docs = (Path(__file__).resolve().parent.parent / "docs" / "lorawan.md").read_text(
        encoding="utf-8")
    [block] = [block for block in re.findall(r"```yaml\n(.*?)```", docs, re.DOTALL)
               if block.startswith(start)]
    return YAML(typ="safe").load(block)


def test_the_devices_and_points_docs_lorawan_shows_are_valid() -> None:
    example = docs_example("lorawan:")
    devices = [LorawanDevice.model_validate(entry) for entry in example["lorawan"]]
    points = [Point.model_validate(entry) for entry in example["points"]]
    bindings = [point.binding for point in points]
    assert {binding.device for binding in bindings if isinstance(binding, LorawanBinding)
            } == {device.id for device in devices} and len(bindings) == 5
    assert devices[1].topics[0] == "v3/ecole-capteurs@syndicat-35/devices/co2-classe-1/up"


# --- commands --------------------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "path", "said"), [
    ("command_field: target_temperature}", "command_field: valve_opening}",
     "points[consigne-tete].binding.command_field", "encodes target_temperature only"),
    ("command_field: target_temperature}", "command_field: target_temperature, "
     "command_port: 85}", "points[consigne-tete].binding.command_port", "its own port (85)"),
    ("command_field: setpoint, command_port: 10}", "command_field: setpoint}",
     "points[consigne].binding.command_field", "needs its command_port"),
    ("field: setpoint,\n                      command_field: setpoint, command_port: 10",
     "field: setpoint", "points[consigne]", "device vanne-1 without command_field cannot be"),
])
def test_a_command_its_devices_codec_cannot_encode_is_refused(old: str, new: str, path: str,
                                                              said: str) -> None:
    text = site_text(devices=DEVICES + HEAD, commands=COMMANDS.replace(old, new))
    [(_, where, message)] = errors_of(text)
    assert where == f"buildings[salle].zones[grande].{path}" and said in message


COMMAND_SITE = parse_site(site_text(devices=DEVICES + HEAD, commands=COMMANDS), "essai.yaml")
COMMAND_REFS = {ref.point.id: ref for ref in COMMAND_SITE.points()}


async def next_message(server: aiomqtt.Client) -> tuple[str, Any]:
    message = await asyncio.wait_for(anext(aiter(server.messages)), 30)
    return message.topic.value, json.loads(bytes(message.payload))  # type: ignore[arg-type]


def test_a_command_is_a_downlink_in_each_servers_format_and_waits_for_its_report(
        mosquitto: Mosquitto) -> None:
    """The fake network server takes the downlinks (ChirpStack's ``command/down``, The
    Things Stack's ``down/replace``) and publishes the uplink that reports the value."""
    clock = SetClock()
    driver, lorawan = lorawan_driver(mosquitto, clock, COMMAND_SITE)
    consigne, tete = COMMAND_REFS["consigne"], COMMAND_REFS["consigne-tete"]

    def reads(ref: PointRef) -> Reading:
        return at_once(driver.read([ref]))[ref.key]

    async def scenario() -> None:
        async with device(mosquitto) as server, running(driver):
            await server.subscribe("application/+/device/+/command/down", qos=1)
            await server.subscribe("v3/+/devices/+/down/+", qos=1)
            await until(lambda: driver.connected, "connected")
            await driver.write(consigne, 21.5)
            assert await next_message(server) == (
                f"application/{CHIRPSTACK_APP}/device/{VALVE_EUI}/command/down",
                {"devEui": VALVE_EUI, "confirmed": False, "fPort": 10,
                 "object": {"setpoint": 21.5}})
            # Until an uplink reports the new value, the point reads what the device
            # reported (nothing yet, here), not a failure of its own.
            assert reads(consigne).error == "vanne-1 : aucune remontée reçue depuis le démarrage"
            await driver.write(consigne, 21.5)  # already waiting: nothing sent
            await driver.write(tete, 21.4)  # the WT101 takes whole degrees
            assert await next_message(server) == (
                "v3/app1/devices/tete-1/down/replace",
                {"downlinks": [{"f_port": 85, "priority": "NORMAL", "confirmed": False,
                                "frm_payload": base64.b64encode(
                                    bytes.fromhex("FFB1150A00")).decode()}]})

            clock.at += timedelta(minutes=10)  # the uplink that takes the downlink
            report = json.loads(chirpstack_up(5, clock.at, 19.0))
            report["object"]["setpoint"] = 19.0  # the former value, still in force
            await server.publish(VALVE_TOPICS[0], json.dumps(report), qos=1)
            await until(lambda: reads(COMMAND_REFS["temperature"]).ok, "the uplink read")
            waiting = reads(consigne)
            assert (waiting.value, waiting.at) == (19.0, clock.at)
            assert waiting.pending is not None and waiting.pending.value == 21.5
            await driver.write(consigne, 21.5)  # still waiting for its report: nothing sent
            clock.at += timedelta(minutes=10)  # the next one reports it applied
            message = json.loads(chirpstack_up(6, clock.at, 19.2))
            message["object"]["setpoint"] = 21.5
            await server.publish(VALVE_TOPICS[0], json.dumps(message), qos=1)
            await until(lambda: reads(consigne).value == 21.5, "the report read")
            assert reads(consigne) == Reading(21.5, at=clock.at)
            assert lorawan.downlinks_today("vanne-1", clock.at) == 1

    asyncio.run(scenario())


def test_the_daily_budget_refuses_the_eleventh_downlink_until_the_next_local_day(
        mosquitto: Mosquitto) -> None:
    clock = SetClock()
    clock.at = datetime(2026, 12, 7, 22, 50, tzinfo=UTC)  # 23:50 in Paris
    driver, lorawan = lorawan_driver(mosquitto, clock, COMMAND_SITE)
    consigne = COMMAND_REFS["consigne"]

    async def scenario() -> None:
        async with device(mosquitto) as server, running(driver):
            await server.subscribe("application/+/device/+/command/down", qos=1)
            await until(lambda: driver.connected, "connected")
            for value in [19.0, 20.0] * 5:
                await driver.write(consigne, value)
                assert (await next_message(server))[1]["object"] == {"setpoint": value}
            with pytest.raises(DeviceRejected) as refused:
                await driver.write(consigne, 21.0)
            assert str(refused.value) == (
                "vanne-1 : les 10 envois radio du 07/12/2026 sont faits, 21 n'est pas envoyé")
            clock.at += timedelta(minutes=11)  # 00:01 in Paris: a new day
            await driver.write(consigne, 21.0)
            assert (await next_message(server))[1]["object"] == {"setpoint": 21.0}
            assert lorawan.downlinks_today("vanne-1", clock.at) == 1

    asyncio.run(scenario())


# --- a command waiting for its report, sent again when the report disagrees -----------------
# The messages are handed to LorawanPoints as the driver hands them over (no broker needed:
# what is tested is what the uplinks say of the command, not their transport).

CONSIGNE = COMMAND_REFS["consigne"]
SETPOINT_TOPIC = COMMAND_SITE.lorawan[0].topics[0]


def valve_reports(lorawan: LorawanPoints, f_cnt: int, at: datetime, setpoint: float) -> None:
    """The ChirpStack valve's uplink reporting ``setpoint``, arriving at ``at``."""
    message = json.loads(chirpstack_up(f_cnt, at, 19.0))
    message["object"]["setpoint"] = setpoint
    assert lorawan.receive(SETPOINT_TOPIC, json.dumps(message).encode(), at)


def send(lorawan: LorawanPoints, value: float, at: datetime) -> bool:
    """Command ``value`` as the driver does; whether a downlink was published."""
    planned = lorawan.downlink(CONSIGNE, value, at)
    if planned is not None:
        lorawan.published(CONSIGNE, value, planned, at)
    return planned is not None


def test_a_waiting_command_says_what_was_sent_when_and_when_its_report_is_due() -> None:
    lorawan = LorawanPoints(COMMAND_SITE.lorawan, list(COMMAND_SITE.points()), COMMAND_SITE.tz)
    t0 = datetime(2026, 12, 7, 5, 2, tzinfo=UTC)  # 06:02 in Paris
    valve_reports(lorawan, 1, t0, 19.0)
    sent = t0 + timedelta(minutes=10)
    assert send(lorawan, 21.0, sent)
    reading = lorawan.reading(CONSIGNE, sent)
    assert reading.value == 19.0 and reading.pending is not None
    # Sent at 06:12: the uplink due at 06:12 takes it, the one of 06:22 reports it.
    assert reading.pending.due == sent + timedelta(minutes=10)
    assert reading.pending.why.fr == (
        "consigne 21 °C : envoi à 06:12, remis à vanne-1 à sa prochaine remontée et "
        "confirmé à la suivante, vers 06:22")
    delivery = sent + timedelta(minutes=8)
    valve_reports(lorawan, 2, delivery, 19.0)  # takes the downlink, reports the former value
    reading = lorawan.reading(CONSIGNE, delivery)
    assert reading.value == 19.0 and reading.pending is not None
    assert reading.pending.due == delivery + timedelta(minutes=10)
    assert reading.pending.why.fr == (
        "consigne 21 °C : envoi à 06:12, remis à vanne-1 à 06:20, confirmation attendue à "
        "sa remontée suivante, vers 06:30")
    assert reading.pending.why.en == (
        "consigne 21 °C: sent at 06:12, delivered to vanne-1 at 06:20, confirmation "
        "expected in its next uplink, about 06:30")
    report = delivery + timedelta(minutes=10)
    valve_reports(lorawan, 3, report, 21.0)
    assert lorawan.reading(CONSIGNE, report) == Reading(21.0, at=report)
    assert not send(lorawan, 21.0, report)  # reported: nothing to send
    assert lorawan.downlinks_today("vanne-1", report) == 1


def test_a_report_that_disagrees_sends_again_then_says_why_it_stops() -> None:
    """The valve reports 19 °C where 21 °C was sent, in the uplink that should report it
    (someone turned its knob): sent again, twice, then refused with the reason."""
    lorawan = LorawanPoints(COMMAND_SITE.lorawan, list(COMMAND_SITE.points()), COMMAND_SITE.tz)
    at = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    f_cnt = 1
    valve_reports(lorawan, f_cnt, at, 19.0)
    for tries in (1, 2, 3):
        assert send(lorawan, 21.0, at)
        assert not send(lorawan, 21.0, at)  # waiting: the engine's refreshes send nothing
        for _ in range(2):  # the uplink that takes it, and the one that reports it
            at += timedelta(minutes=10)
            f_cnt += 1
            pending = lorawan.reading(CONSIGNE, at).pending
            assert pending is not None
            if tries > 1:
                assert f"({tries}e envoi sur 3)" in pending.why.fr
            valve_reports(lorawan, f_cnt, at, 19.0)
        # The wait is over: the point reads what the device reports, nothing waits.
        assert lorawan.reading(CONSIGNE, at) == Reading(19.0, at=at)
    assert lorawan.downlinks_today("vanne-1", at) == 3
    with pytest.raises(DeviceRejected) as refused:
        send(lorawan, 21.0, at)
    assert str(refused.value) == (
        "vanne-1 : 3 envois de consigne 21 °C sans effet, l'appareil rapporte 19 °C — son "
        "réglage a sans doute été changé sur place (la molette d'une vanne tournée à la "
        "main) ; le moteur ne renvoie plus cette valeur")
    assert not send(lorawan, 19.0, at)  # what the device holds: nothing to send
    assert send(lorawan, 21.0, at)  # a command again after another: its tries anew
    pending = lorawan.reading(CONSIGNE, at).pending
    assert pending is not None and "envoi sur" not in pending.why.fr


def test_an_uplink_lost_on_the_air_delays_the_report_without_a_disagreement() -> None:
    """An uplink the network server never heard took no downlink: the engine counts the
    uplinks that arrived, so the report is the second of those."""
    lorawan = LorawanPoints(COMMAND_SITE.lorawan, list(COMMAND_SITE.points()), COMMAND_SITE.tz)
    at = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    valve_reports(lorawan, 1, at, 19.0)
    assert send(lorawan, 21.0, at)
    valve_reports(lorawan, 3, at + timedelta(minutes=20), 19.0)  # 2 was lost: takes it now
    assert lorawan.reading(CONSIGNE, at + timedelta(minutes=20)).pending is not None
    valve_reports(lorawan, 4, at + timedelta(minutes=30), 21.0)
    assert lorawan.reading(CONSIGNE, at + timedelta(minutes=30)).pending is None
    assert lorawan.downlinks_today("vanne-1", at) == 1


def test_chirpstack_delivers_its_queue_one_downlink_an_uplink() -> None:
    """ChirpStack queues both of two commands sent before the valve's next uplink: the
    second is reported one uplink later, and the first's report is no disagreement."""
    lorawan = LorawanPoints(COMMAND_SITE.lorawan, list(COMMAND_SITE.points()), COMMAND_SITE.tz)
    at = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    valve_reports(lorawan, 1, at, 19.0)
    assert send(lorawan, 21.0, at) and send(lorawan, 20.0, at + timedelta(minutes=1))
    for f_cnt, reported in ((2, 19.0), (3, 21.0)):  # takes 21, then 20 while reporting 21
        valve_reports(lorawan, f_cnt, at + timedelta(minutes=10 * (f_cnt - 1)), reported)
        assert lorawan.reading(CONSIGNE, at).pending is not None
    valve_reports(lorawan, 4, at + timedelta(minutes=30), 20.0)
    assert lorawan.reading(CONSIGNE, at).pending is None
    assert lorawan.downlinks_today("vanne-1", at) == 2


def test_the_days_downlinks_survive_a_restart_in_the_store(tmp_path: Path) -> None:
    """An engine restarted at noon finds the morning's downlinks in the store (a real
    SQLite file): the eleventh of the day is refused, as without the restart."""
    at = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # noon in Paris
    with Store(tmp_path / "gtb.db") as store:
        lorawan = LorawanPoints(COMMAND_SITE.lorawan, list(COMMAND_SITE.points()),
                                COMMAND_SITE.tz, store.downlinks)
        for value in [19.0, 20.0] * 5:
            assert send(lorawan, value, at)
    with Store(tmp_path / "gtb.db") as store:
        restarted = LorawanPoints(COMMAND_SITE.lorawan, list(COMMAND_SITE.points()),
                                  COMMAND_SITE.tz, store.downlinks)
        assert restarted.downlinks_today("vanne-1", at) == 10
        assert restarted.downlinks_today("tete-1", at) == 0
        with pytest.raises(DeviceRejected, match="les 10 envois radio du 07/12/2026"):
            send(restarted, 21.0, at)
        tomorrow = at + timedelta(hours=13)  # 00:00 in Paris
        assert send(restarted, 21.0, tomorrow)
        assert store.downlinks.sent("vanne-1", tomorrow.date()) == 1


def test_the_engine_shows_the_wait_and_sends_again_when_the_report_disagrees(
        mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine commands the valve's setpoint: while it waits, the zone's status says so
    and the ticks send nothing more; the valve then reports another value, in the uplink
    that should report it, three times over: the engine sends it again twice, then stops
    and its command alarm says why."""
    site = parse_site(site_text(broker=f"mqtt:\n  host: 127.0.0.1\n  port: {mosquitto.port}\n"
                                f"  username: {ENGINE_USER}\n", commands=VALVE_COMMAND),
                      "essai.yaml")
    monkeypatch.setenv(PASSWORD_ENV, ENGINE_PASSWORD)
    clock = SimulatedClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    store = Store(tmp_path / "gtb.db")
    driver = mqtt_driver(site, clock, store)
    assert driver is not None
    key = site.point("salle.grande.consigne").key
    reads = lambda: at_once(driver.read([site.point(key)]))[key]  # noqa: E731
    f_cnt = itertools.count(1)

    async def uplink(server: aiomqtt.Client, setpoint: float) -> None:
        """The valve's next uplink, ten minutes on, reporting ``setpoint``; read once
        the driver has it."""
        clock.advance(600)
        n = next(f_cnt)
        message = json.loads(chirpstack_up(n, clock.now(), 18.5))
        message["object"]["setpoint"] = setpoint
        await server.publish(VALVE_TOPICS[0], json.dumps(message), qos=1)
        await until(lambda: reads().at == clock.now(), f"uplink {n} read")

    async def scenario() -> list[float]:
        engine = Engine(site, store, {"mqtt": driver, "lorawan": driver}, clock)
        sent: list[float] = []
        async with device(mosquitto) as server:
            await server.subscribe("application/+/device/+/command/down", qos=1)
            await engine.start()
            try:
                await until(lambda: driver.connected, "connected")
                await uplink(server, 12.0)
                await engine.tick()
                sent.append((await next_message(server))[1]["object"]["setpoint"])
                for _ in range(3):  # ticks while it waits send nothing, raise nothing
                    clock.advance(60)
                    await engine.tick()
                # The status is as the tick read the points: from the tick after the send.
                status = store.status.zones()["salle.grande"]
                assert status.waiting is not None and status.waiting.fr.startswith(
                    f"consigne {sent[0]:g} °C".replace(".", ",") + " : envoi à 10:10")
                for tries in (1, 2, 3):
                    await uplink(server, 12.0)  # takes the downlink
                    await engine.tick()
                    assert reads().pending is not None
                    await uplink(server, 12.0)  # reports the former value
                    assert reads().pending is None
                    for _ in range(3):
                        clock.advance(60)
                        await engine.tick()
                    if tries < 3:  # sent again; the third time, refused (counted below)
                        sent.append((await next_message(server))[1]["object"]["setpoint"])
            finally:
                await engine.stop()
        return sent

    try:
        sent = asyncio.run(scenario())
        assert len(sent) == 3 and len(set(sent)) == 1
        assert store.downlinks.sent("vanne-1", date(2026, 12, 7)) == 3
        alarm = store.alarms.active()[f"command:{key}"]
        assert "3 envois de consigne" in alarm.message
        assert "la molette d'une vanne tournée à la main" in alarm.message
        assert f"rewrite:{key}" not in store.alarms.active()
    finally:
        store.close()


def test_a_valve_that_takes_whole_degrees_is_not_written_again_for_its_rounding(
        mosquitto: Mosquitto, tmp_path: Path) -> None:
    """The WT101 takes 21 °C for 21.4 and reports 21 once applied: the engine expects it
    so (``Driver.reads_back``), and neither writes again nor counts a rewrite."""
    clock = SetClock()
    driver, _ = lorawan_driver(mosquitto, clock, COMMAND_SITE)
    tete, consigne = COMMAND_REFS["consigne-tete"], COMMAND_REFS["consigne"]
    assert (driver.reads_back(tete, 21.4), driver.reads_back(consigne, 21.4)) == (21.0, 21.4)
    command = {tete.key: Command(tete.key, 21.4, Reason.of("empty"))}
    before = Snapshot(values={tete.key: 19.0}, quality={tete.key: Quality.OK})
    reported = Snapshot(values={tete.key: 21.0}, quality={tete.key: Quality.OK})

    async def scenario(writer: Writer) -> None:
        async with device(mosquitto) as server, running(driver):
            await server.subscribe("v3/+/devices/+/down/+", qos=1)
            await until(lambda: driver.connected, "connected")
            assert await writer.write(clock.at, command, before, ()) == (1, 0)
            assert (await next_message(server))[0].endswith("/devices/tete-1/down/replace")
            for _ in range(3):  # ticks after the valve reported 21 °C applied
                clock.at += timedelta(minutes=10)
                assert await writer.write(clock.at, command, reported, ()) == (0, 0)

    with Store(tmp_path / "gtb.db") as store:
        asyncio.run(scenario(Writer({tete.key: tete}, {"lorawan": driver}, store,
                                    Journal(store, clock, "essai"), tick_s=60, refresh_s=3600,
                                    deadband=0.05)))


def test_an_uplink_without_the_field_neither_ends_the_wait_nor_shortens_the_next() -> None:
    """The valve's report of the setpoint is late (an uplink of other fields came first):
    still waiting; a new command then waits for its own delivery and report, two uplinks
    on, whatever the one before it waited for."""
    lorawan = LorawanPoints(COMMAND_SITE.lorawan, list(COMMAND_SITE.points()), COMMAND_SITE.tz)
    at = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    valve_reports(lorawan, 1, at, 19.0)
    assert send(lorawan, 21.0, at)
    valve_reports(lorawan, 2, at + timedelta(minutes=10), 19.0)  # takes it
    other = at + timedelta(minutes=20)
    assert lorawan.receive(SETPOINT_TOPIC, chirpstack_up(3, other, 19.5), other)
    assert lorawan.reading(CONSIGNE, other).pending is not None
    assert send(lorawan, 20.0, other)
    valve_reports(lorawan, 4, at + timedelta(minutes=30), 21.0)  # takes 20, reports 21
    assert lorawan.reading(CONSIGNE, at + timedelta(minutes=30)).pending is not None
    valve_reports(lorawan, 5, at + timedelta(minutes=40), 20.0)
    assert lorawan.reading(CONSIGNE, at + timedelta(minutes=40)).pending is None


def test_a_restarted_engine_carries_on_from_the_uplinks_its_store_kept(tmp_path: Path) -> None:
    """An engine restarted between two uplinks reads what its store kept of the last one
    until the device is stale, even before its broker answers, instead of failing (and
    raising an alarm) until each device's next uplink; a failed sample kept after it is
    no value to carry on from. Nothing listens on the broker's port here: the driver is
    never connected, and says so once the values are too old."""
    site = parse_site(site_text(broker=f"mqtt:\n  host: 127.0.0.1\n  port: {free_port()}\n"),
                      "essai.yaml")
    heard = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    temperature, luminosity = (site.point(key).key for key in
                               ("salle.grande.temperature", "salle.grande.luminosite"))
    with Store(tmp_path / "gtb.db") as store:
        store.samples.write([
            Sample(temperature, heard, 18.5),
            Sample(temperature, heard + timedelta(minutes=1), None, Quality.FAILED, "coupé"),
            Sample(luminosity, heard - timedelta(minutes=5), 300.0),
        ])
        clock = SimulatedClock(heard + timedelta(minutes=5))
        driver = mqtt_driver(site, clock, store)
        assert driver is not None
        refs = [site.point(temperature), site.point(luminosity)]
        readings = at_once(driver.read(refs))
        assert readings[temperature] == Reading(18.5, at=heard)
        assert readings[luminosity] == Reading(300.0, at=heard - timedelta(minutes=5))
        clock.advance(20 * 60)  # 25 min: two uplinks of vanne-1 missed
        readings = at_once(driver.read(refs))
        assert readings[temperature].error is not None
        assert "injoignable" in readings[temperature].error
        assert readings[luminosity].value == 300.0  # 30 min: capteur-1 reports every 15
