"""LoRaWAN codecs: network servers' MQTT messages, frame counters, the WT101 valve's payloads.

Pure functions, so pure tests: every message is shaped as the network servers' and the
maker's documentation shows it (tests/data/lorawan/, each file's source in its README).
"""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.lorawan import (
    MAX_MESSAGE,
    DeviceEvent,
    Downlink,
    Uplink,
    UplinkError,
    chirpstack_downlink,
    parse,
    tts_downlink,
)
from protocols.lorawan_devices import (
    WT101_PORT,
    wt101_decode,
    wt101_read_command,
    wt101_set_target,
)
from protocols.lorawan_tracking import UplinkTracker, Verdict

DATA = Path(__file__).parent / "data" / "lorawan"
ARRIVAL = datetime(2026, 1, 12, 8, 0, tzinfo=UTC)
CS_APP = "17c82e96-be03-4f38-aef3-f83d48582d97"
CS_UP = f"application/{CS_APP}/device/0101010101010101/event/up"
VALVE_UP = f"application/{CS_APP}/device/24e124714c123456/event/up"
TTS_UP = "v3/app1@tenant1/devices/dev1/up"


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DATA / name).read_text())
    return document


def message(document: Any) -> bytes:
    return json.dumps(document).encode()


def uplink(topic: str, document: Any) -> Uplink:
    result = parse(topic, message(document), ARRIVAL)
    assert isinstance(result, Uplink)
    return result


# --- uplinks as documented -----------------------------------------------------------------


def test_chirpstack_documented_uplink() -> None:
    up = uplink(CS_UP, example("chirpstack-up.json"))
    assert up.network_server == "chirpstack"
    assert up.application == CS_APP
    assert up.device == up.dev_eui == "0101010101010101"
    assert up.f_cnt == 0  # left out of the JSON at its default
    assert up.f_port == 1
    assert up.sent_at == datetime(2022, 7, 18, 9, 34, 15, 775023, tzinfo=UTC)
    assert up.received_at == ARRIVAL
    assert up.payload == b"\xaa"
    assert up.fields == {}
    assert up.signal() == {"gateways": 1.0, "rssi": -36.0, "snr": 10.5}


def test_chirpstack_uplink_with_the_codecs_object_and_two_gateways() -> None:
    up = uplink(VALVE_UP, example("chirpstack-up-wt101.json"))
    assert up.device == "24e124714c123456"
    assert (up.f_cnt, up.f_port) == (1234, 85)
    assert up.value("temperature") == 26.6
    assert up.value("target_temperature") == 30
    assert up.value("battery") == 97
    # best of each over the gateways: the near one's RSSI and SNR, not the far one's
    assert (up.rssi, up.snr) == (-36, 10.5)
    assert up.signal()["gateways"] == 2
    # the bytes decode, by the engine's own codec, to what the server's codec said
    assert up.payload is not None
    assert wt101_decode(up.payload) == pytest.approx(up.fields)


def test_tts_documented_uplinks() -> None:
    up = uplink(TTS_UP, example("tts-up.json"))
    assert (up.network_server, up.application, up.device) == ("tts", "app1", "dev1")
    assert up.dev_eui == "0004a30b001c0530"
    assert up.f_cnt == 1
    assert up.f_port == 0  # the documentation's example leaves it out
    assert up.sent_at == datetime(2020, 2, 12, 15, 15, 45, 789585, tzinfo=UTC)
    assert up.payload == base64.b64decode("gkHe")
    assert up.value("luminosity") == 0.64
    assert (up.rssi, up.snr, len(up.gateways)) == (-35, 5, 1)
    assert up.gateways[0].id == "gtw1"

    assert up.battery is None

    bare = uplink("v3/app1/devices/dev1/up", example("tts-up-mqtt.json"))  # open source
    assert (bare.f_port, bare.f_cnt, bare.sent_at) == (15, 0, None)
    assert bare.payload == b"Temperature = 0.0"
    with pytest.raises(KeyError, match="temperature"):
        bare.value("temperature")


def test_tts_uplink_with_the_devices_last_battery_level() -> None:
    up = uplink("v3/starter-kit/devices/eui-70b3d52dd600035a/up", example("tts-up-battery.json"))
    assert up.battery == pytest.approx(90.118576)
    assert (up.f_cnt, up.f_port, up.value("sensorTemperature")) == (14, 2, 21.5)


def test_nested_and_boolean_fields_and_what_is_not_a_number() -> None:
    document = example("chirpstack-up.json")
    document["object"] = {"temperatureSensor": {"1": 25}, "open": True, "state": "closed"}
    up = uplink(CS_UP, document)
    assert up.value("temperatureSensor.1") == 25
    assert up.value("open") == 1
    with pytest.raises(UplinkError, match="'state' is not a number"):
        up.value("state")
    with pytest.raises(KeyError):
        up.value("temperatureSensor.2")


# --- other events and other topics ---------------------------------------------------------


def test_chirpstack_events_that_are_not_uplinks() -> None:
    base = f"application/{CS_APP}/device/0101010101010101/event/"
    status = parse(base + "status", message(example("chirpstack-status.json")), ARRIVAL)
    assert isinstance(status, DeviceEvent)
    assert (status.kind, status.device, status.battery) == ("status", "0101010101010101", 88.3)
    joined = parse(base + "join", message(example("chirpstack-join.json")), ARRIVAL)
    assert isinstance(joined, DeviceEvent) and joined.kind == "join"
    # the same device by the same name in its uplinks and its other events, on both servers
    assert joined.device == uplink(CS_UP, example("chirpstack-up.json")).device
    tts_join = parse("v3/app1@tenant1/devices/dev1/join", b"{}", ARRIVAL)
    assert isinstance(tts_join, DeviceEvent)
    assert tts_join.device == uplink(TTS_UP, example("tts-up.json")).device
    with pytest.raises(UplinkError, match=r"batteryLevel is not a number within 0..100"):
        parse(base + "status", message(dict(example("chirpstack-status.json"),
                                            batteryLevel=-3)), ARRIVAL)
    mains = dict(example("chirpstack-status.json"), externalPowerSource=True)
    mains_status = parse(base + "status", message(mains), ARRIVAL)
    assert isinstance(mains_status, DeviceEvent) and mains_status.battery is None
    for kind in ("ack", "txack", "log"):
        event = parse(base + kind, b"{}", ARRIVAL)
        assert isinstance(event, DeviceEvent) and event.kind == kind


def test_tts_events_and_foreign_topics() -> None:
    for suffix, kind in [("join", "join"), ("down/ack", "ack"), ("down/nack", "nack"),
                         ("down/sent", "sent"), ("down/failed", "failed"),
                         ("down/queued", "queued"), ("service/data", "service")]:
        event = parse(f"v3/app1@tenant1/devices/dev1/{suffix}", b"{}", ARRIVAL)
        assert isinstance(event, DeviceEvent)
        assert (event.network_server, event.kind, event.device) == ("tts", kind, "dev1")
    # the engine's own downlinks, another server's topics, a broker's: none is an uplink
    with pytest.raises(ValueError, match="aware"):
        parse(CS_UP, b"{}", datetime(2026, 1, 12, 8, 0))
    for topic in ["v3/app1@tenant1/devices/dev1/down/push",
                  f"application/{CS_APP}/device/0101010101010101/command/down",
                  "zigbee2mqtt/salle/thermometre", "$SYS/broker/uptime"]:
        assert parse(topic, b"not even JSON", ARRIVAL) is None


# --- hostile and malformed messages --------------------------------------------------------


def broken(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """The document with ``path`` (dotted, ``-`` to remove) set to ``value``."""
    copy = json.loads(json.dumps(document))
    node = copy
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    index: Any = int(last) if isinstance(node, list) else last
    if value == "-":
        del node[index]
    else:
        node[index] = value
    return copy


@pytest.mark.parametrize(("path", "value", "says"), [
    ("fCnt", 2**32, "fCnt is not a whole number"),
    ("fCnt", -1, "fCnt is not a whole number"),
    ("fCnt", 10**400, "fCnt is not a whole number"),
    ("fCnt", "12", "fCnt is not a whole number"),
    ("fCnt", 1.5, "fCnt is not a whole number"),
    ("fCnt", True, "fCnt is not a whole number"),
    ("fPort", 256, "fPort is not a whole number"),
    ("deviceInfo", "-", "deviceInfo is missing"),
    ("deviceInfo", [], "deviceInfo is not an object"),
    ("deviceInfo.devEui", "-", "deviceInfo.devEui is missing"),
    ("deviceInfo.devEui", "0101", "is not a DevEUI"),
    ("deviceInfo.devEui", "0202020202020202", "is not the topic's"),
    ("deviceInfo.applicationId", "other", "is not the topic's application"),
    ("time", "yesterday", "time is not an ISO 8601 moment"),
    ("time", "2022-07-18T09:34:15", "time has no time zone"),
    ("time", 1658136855, "time is not a date and time"),
    ("data", "***", "data is not base64"),
    ("data", base64.b64encode(bytes(300)).decode(), "more than a LoRaWAN frame"),
    ("object", [1, 2], "object is not an object"),
    ("rxInfo", {}, "rxInfo is not a list"),
    ("rxInfo.0", 7, r"rxInfo\[0\] is not an object"),
    ("rxInfo.0.rssi", 1e308, r"rxInfo\[0\].rssi is not a number"),
    ("rxInfo.0.snr", "good", r"rxInfo\[0\].snr is not a number"),
    ("rxInfo.0.gatewayId", "-", r"rxInfo\[0\].gatewayId is missing"),
])
def test_malformed_chirpstack_uplinks_say_what_and_where(path: str, value: Any,
                                                         says: str) -> None:
    document = broken(example("chirpstack-up.json"), path, value)
    with pytest.raises(UplinkError, match=says) as caught:
        parse(CS_UP, message(document), ARRIVAL)
    assert CS_UP in str(caught.value)


@pytest.mark.parametrize(("path", "value", "says"), [
    ("end_device_ids.device_id", "dev2", "is not the topic's device"),
    ("end_device_ids.dev_eui", "zz", "is not a DevEUI"),
    ("uplink_message", "-", "uplink_message is missing"),
    ("uplink_message.f_cnt", -5, "f_cnt is not a whole number"),
    ("uplink_message.decoded_payload", "hot", "decoded_payload is not an object"),
    ("uplink_message.rx_metadata.0.gateway_ids", "-", "gateway_ids is missing"),
    ("uplink_message.received_at", "2020-13-45T00:00:00Z", "is not an ISO 8601 moment"),
    ("uplink_message.last_battery_percentage", {"value": 101},
     r"last_battery_percentage.value is not a number within 0..100"),
])
def test_malformed_tts_uplinks_say_what_and_where(path: str, value: Any, says: str) -> None:
    with pytest.raises(UplinkError, match=says):
        parse(TTS_UP, message(broken(example("tts-up.json"), path, value)), ARRIVAL)


@pytest.mark.parametrize(("raw", "says"), [
    (b"", "not a JSON document"),
    (b"\xff\xfe", "not a JSON document"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"fCnt": NaN}', "not a JSON document"),
    (b'{"fCnt": Infinity}', "not a JSON document"),
    (b"[" * 100_000 + b"]" * 100_000, "not a JSON document"),
    (b'{"fCnt": ' + b"9" * 5000 + b"}", "not a JSON document"),
    (b" " * (MAX_MESSAGE + 1), "larger than"),
])
def test_hostile_bytes_are_refused_clearly(raw: bytes, says: str) -> None:
    with pytest.raises(UplinkError, match=says):
        parse(CS_UP, raw, ARRIVAL)
    with pytest.raises(UplinkError, match=says):
        parse(TTS_UP, raw, ARRIVAL)


@given(st.binary(max_size=200))
def test_any_bytes_give_an_uplink_or_an_uplink_error(raw: bytes) -> None:
    for topic in (CS_UP, TTS_UP):
        with contextlib.suppress(UplinkError):
            assert isinstance(parse(topic, raw, ARRIVAL), Uplink)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                    lambda children: st.lists(children, max_size=3)
                    | st.dictionaries(st.text(max_size=8), children, max_size=3),
                    max_leaves=20),
       st.sampled_from(["deviceInfo", "fCnt", "fPort", "time", "data", "object", "rxInfo"]))
def test_any_value_in_any_chirpstack_field_is_read_or_refused(value: Any, key: str) -> None:
    document = example("chirpstack-up.json")
    document[key] = value
    try:
        raw = json.dumps(document).encode()
    except ValueError:
        return
    with contextlib.suppress(UplinkError):
        assert parse(CS_UP, raw, ARRIVAL).f_cnt >= 0  # type: ignore[union-attr]


# --- frame counters ------------------------------------------------------------------------

INTERVAL = timedelta(minutes=10)
START = datetime(2026, 1, 12, 6, 0, tzinfo=UTC)


def frame(f_cnt: int, sent: datetime | None, arrived: datetime | None = None,
          temperature: float = 19.0) -> Uplink:
    return Uplink("chirpstack", CS_APP, "valve", "24e124714c123456", f_cnt, WT101_PORT,
                  sent, arrived or sent or START, {"temperature": temperature})


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def test_a_duplicate_through_two_gateways_is_dropped() -> None:
    tracker = UplinkTracker(INTERVAL)
    assert tracker.observe(frame(10, at(0))) is Verdict.NEW
    assert tracker.observe(frame(10, at(0.01), at(0.5))) is Verdict.DUPLICATE
    assert tracker.observe(frame(11, at(10))) is Verdict.NEW
    assert (tracker.duplicates, tracker.lost, tracker.last_f_cnt) == (1, 0, 11)
    assert tracker.last_arrival == at(10)  # the duplicate did not move the clock


def test_gaps_count_lost_uplinks_and_a_late_arrival_neither_overwrites_nor_stays_lost() -> None:
    tracker = UplinkTracker(INTERVAL)
    tracker.observe(frame(1, at(0)))
    assert tracker.observe(frame(4, at(30))) is Verdict.NEW
    assert tracker.lost == 2
    late = tracker.observe(frame(3, at(20), arrived=at(31)))
    assert late is Verdict.LATE and not late.current
    assert (tracker.lost, tracker.late, tracker.last_f_cnt) == (1, 1, 4)
    assert tracker.last_arrival == at(30)
    # the same late one again is a duplicate, not a third verdict
    assert tracker.observe(frame(3, at(20), arrived=at(32))) is Verdict.DUPLICATE


def test_a_frame_counter_reset_after_a_rejoin_starts_a_new_sequence() -> None:
    tracker = UplinkTracker(INTERVAL)
    for n in range(5):
        tracker.observe(frame(500 + n, at(10 * n)))
    # the device rebooted and rejoined: its counter starts again
    assert tracker.observe(frame(0, at(60))) is Verdict.RESET
    assert tracker.observe(frame(1, at(70))) is Verdict.NEW
    assert (tracker.resets, tracker.lost, tracker.last_f_cnt) == (1, 0, 1)
    # uplinks from before the reset arriving now are late, not 502 lost uplinks
    assert tracker.observe(frame(504, at(40), arrived=at(71))) is Verdict.LATE
    assert tracker.observe(frame(503, at(30), arrived=at(71))) is Verdict.LATE
    assert (tracker.lost, tracker.last_f_cnt) == (0, 1)


def test_a_reset_to_a_counter_already_seen_is_new_by_the_servers_time() -> None:
    tracker = UplinkTracker(INTERVAL)
    for n in range(4):
        tracker.observe(frame(n, at(10 * n)))
    assert tracker.observe(frame(1, at(50))) is Verdict.RESET
    assert tracker.resets == 1


def test_a_join_announced_makes_the_next_uplink_a_new_sequence() -> None:
    tracker = UplinkTracker(INTERVAL)
    tracker.observe(frame(7, None, at(0)))
    tracker.joined()
    assert tracker.observe(frame(6, None, at(10))) is Verdict.RESET


def test_without_the_servers_time_a_small_step_back_is_late_a_big_one_a_reset() -> None:
    tracker = UplinkTracker(INTERVAL)
    tracker.observe(frame(100, None, at(0)))
    assert tracker.observe(frame(95, None, at(1))) is Verdict.LATE
    assert tracker.observe(frame(100, None, at(2))) is Verdict.DUPLICATE
    assert tracker.observe(frame(2, None, at(10))) is Verdict.RESET


def test_expected_uplinks_and_staleness() -> None:
    tracker = UplinkTracker(INTERVAL)
    assert tracker.next_expected() is None and tracker.missed(at(100)) == 0
    tracker.observe(frame(1, at(0)))
    assert tracker.next_expected() == at(10)
    # an expected uplink is missed half an interval after its moment: jitter is no loss
    assert [tracker.missed(at(m)) for m in (5, 12, 15, 20, 24.9, 25, 45)] == [
        0, 0, 1, 1, 1, 2, 4]
    # one uplink lost on the air is usual, even with the next one late; a second missed in
    # a row makes the device stale
    assert not tracker.stale(at(22))
    assert not tracker.stale(at(24.9))
    assert tracker.stale(at(25)) and tracker.stale_from() == at(25)
    tracker.observe(frame(3, at(22)))
    assert not tracker.stale(at(22)) and tracker.lost == 1
    with pytest.raises(ValueError, match="positive"):
        UplinkTracker(timedelta(0))


@given(st.lists(st.integers(0, 40), min_size=1, max_size=60))
def test_the_current_value_is_always_the_newest_uplinks(order: list[int]) -> None:
    """Whatever order and repetition uplinks of one sequence arrive in, the values kept
    are those of the newest counter seen, and lost + taken covers the range exactly."""
    tracker = UplinkTracker(INTERVAL)
    current: int | None = None
    for index, f_cnt in enumerate(order):
        verdict = tracker.observe(frame(f_cnt, at(f_cnt), arrived=at(100 + index)))
        if verdict.current:
            current = f_cnt
    assert current == max(order) == tracker.last_f_cnt
    never_arrived = set(range(order[0] + 1, max(order))) - set(order)
    assert tracker.lost == len(never_arrived)
    assert tracker.duplicates == len(order) - len(set(order))


# --- downlinks -----------------------------------------------------------------------------


def test_chirpstack_downlinks_as_documented() -> None:
    topic, body = chirpstack_downlink(CS_APP, "0102030405060708",
                                      Downlink(10, payload=b"\xbe\xef", confirmed=True))
    assert topic == f"application/{CS_APP}/device/0102030405060708/command/down"
    assert json.loads(body) == {"devEui": "0102030405060708", "confirmed": True,
                                "fPort": 10, "data": "vu8="}
    _, body = chirpstack_downlink(CS_APP, "0102030405060708",
                                  Downlink(10, fields={"humiditySensor": {"1": 32}}))
    assert json.loads(body) == {"devEui": "0102030405060708", "confirmed": False,
                                "fPort": 10, "object": {"humiditySensor": {"1": 32}}}


def test_tts_downlinks_as_documented() -> None:
    topic, body = tts_downlink("app1", "dev1", Downlink(15, payload=b"\xbe\xef"),
                               tenant="tenant1")
    assert topic == "v3/app1@tenant1/devices/dev1/down/push"
    assert json.loads(body) == {"downlinks": [
        {"f_port": 15, "frm_payload": "vu8=", "priority": "NORMAL", "confirmed": False}]}
    topic, body = tts_downlink("app1", "dev1", Downlink(15, fields={"temperature": 1.0},
                                                        confirmed=True),
                               replace=True, priority="HIGH")
    assert topic == "v3/app1/devices/dev1/down/replace"
    assert json.loads(body)["downlinks"][0] == {
        "f_port": 15, "decoded_payload": {"temperature": 1.0}, "priority": "HIGH",
        "confirmed": True}


@pytest.mark.parametrize(("build", "says"), [
    (lambda: Downlink(0, payload=b"\x01"), "not an application port"),
    (lambda: Downlink(224, payload=b"\x01"), "not an application port"),
    (lambda: Downlink(1), "either bytes or fields"),
    (lambda: Downlink(1, payload=b"\x01", fields={}), "either bytes or fields"),
    (lambda: Downlink(1, payload=b""), "1..242 bytes"),
    (lambda: Downlink(1, payload=bytes(243)), "1..242 bytes"),
    (lambda: chirpstack_downlink(CS_APP, "01020304", Downlink(1, payload=b"\x01")),
     "not a DevEUI"),
    (lambda: chirpstack_downlink("a/b", "0102030405060708", Downlink(1, payload=b"\x01")),
     "one level of an MQTT topic"),
    (lambda: tts_downlink("app1", "dev+1", Downlink(1, payload=b"\x01")),
     "one level of an MQTT topic"),
    (lambda: tts_downlink("app1", "dev1", Downlink(1, fields={"t": float("nan")})),
     "JSON compliant"),
])
def test_bad_downlinks_are_refused(build: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        build()


# --- the Milesight WT101 radiator valve ----------------------------------------------------


@pytest.mark.parametrize(("hex_bytes", "fields"),
                         sorted(json.loads((DATA / "wt101-uplinks.json").read_text()).items()))
def test_wt101_decodes_the_makers_samples(hex_bytes: str, fields: dict[str, float]) -> None:
    assert wt101_decode(bytes.fromhex(hex_bytes)) == pytest.approx(fields)


def test_wt101_negative_temperatures_and_the_description_it_sends_on_joining() -> None:
    # -3.5 °C is 0xFFDD in int16 little-endian; the attributes are passed over
    payload = bytes.fromhex("ff0101" "ff0f00" "ff166789012345678901" "0367ddff" "017505")
    assert wt101_decode(payload) == {"temperature": -3.5, "battery": 5}


@pytest.mark.parametrize(("hex_bytes", "says"), [
    ("0367", "needs 2 bytes, 0 left"),
    ("017561 03", "ends inside a channel header at byte 3"),
    ("017561 FE1000", "channel FE 10 at byte 3 is not one of the maker's table"),
])
def test_wt101_refuses_what_it_cannot_read(hex_bytes: str, says: str) -> None:
    with pytest.raises(UplinkError, match=says):
        wt101_decode(bytes.fromhex(hex_bytes))


def test_wt101_set_target_as_the_makers_encoder_writes_it() -> None:
    # the encoder's documented examples: { "target_temperature": 28, "temperature_tolerance": 5 }
    # and { "target_temperature": 10, "temperature_tolerance": 0.1 }: FF B1, int8, uint16 LE
    assert wt101_set_target(28, 5).payload == bytes.fromhex("ffb11c3200")
    assert wt101_set_target(10, 0.1).payload == bytes.fromhex("ffb10a0100")
    downlink = wt101_set_target(19.4, confirmed=True)
    assert downlink.payload == bytes.fromhex("ffb1130a00")  # whole degrees, 1 °C tolerance
    assert (downlink.f_port, downlink.confirmed) == (WT101_PORT, True)
    assert wt101_set_target(16, limits=(15, 16)).payload == bytes.fromhex("ffb1100a00")


@pytest.mark.parametrize(("call", "says"), [
    (lambda: wt101_set_target(36), r"36 °C is outside 5\.\.35 °C"),
    (lambda: wt101_set_target(4.4), r"4\.4 °C is outside 5\.\.35 °C"),
    (lambda: wt101_set_target(float("nan")), "outside"),
    (lambda: wt101_set_target(float("inf")), "outside"),
    (lambda: wt101_set_target(22, limits=(8, 21)), r"22 °C is outside 8\.\.21 °C"),
    (lambda: wt101_set_target(20, limits=(4, 21)), "limits 4..21 °C are not within"),
    (lambda: wt101_set_target(20, tolerance=0), r"tolerance 0 °C is outside 0\.1\.\.5"),
    (lambda: wt101_set_target(20, tolerance=6), "tolerance 6 °C"),
])
def test_wt101_refuses_targets_the_device_would_not_take(call: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        call()


def test_wt101_reads_the_set_target_command_it_is_sent() -> None:
    assert wt101_read_command(bytes.fromhex("ffb11c3200")) == {
        "target_temperature": 28.0, "temperature_tolerance": 5.0}
    assert wt101_read_command(wt101_set_target(6, 0.1).payload or b"") == {
        "target_temperature": 6.0, "temperature_tolerance": 0.1}
    for other in ("ffb11c32", "ffb11c320000", "ff011c3200"):
        with pytest.raises(ValueError, match=f"{other} is not a set-target command"):
            wt101_read_command(bytes.fromhex(other))
