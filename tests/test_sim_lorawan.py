"""The simulated LoRaWAN network server against Debian's Mosquitto (``mosquitto`` fixture):
its uplinks read by ``protocols.lorawan.parse`` in both servers' formats, its losses and
duplicates as the engine's ``UplinkTracker`` sees them, class A downlinks delivered at
the next uplink, and batteries that run down.

Time is a stepped ``SimulatedClock``: the server's uplinks come when the test moves it;
what the broker carries is waited for as conditions (``until``), never timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiomqtt
import pytest

from gtb.clock import SimulatedClock
from gtb.model import PointRef
from gtb.sim.lorawan import (
    SimulatedDevice,
    SimulatedNetworkServer,
    codec_fields,
    wt101_effect,
)
from protocols.base import Reading
from protocols.lorawan import (
    DeviceEvent,
    Downlink,
    NetworkServer,
    Uplink,
    chirpstack_downlink,
    parse,
    tts_downlink,
)
from protocols.lorawan_devices import WT101_PORT, wt101_decode, wt101_encode, wt101_set_target
from protocols.lorawan_tracking import UplinkTracker
from tests.mosquitto_rig import ENGINE_PASSWORD, ENGINE_USER, Mosquitto
from tests.test_lorawan_points import (
    CHIRPSTACK_APP,
    COMMAND_REFS,
    COMMAND_SITE,
    VALVE_EUI,
    lorawan_driver,
)
from tests.test_mqtt_driver import SetClock, at_once, device, until
from tests.test_mqtt_driver import running as driver_running

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
APPLICATION = "salle-des-fetes"
INTERVAL = timedelta(minutes=10)


def thermometer(name: str, eui: str, **settings: float) -> SimulatedDevice:
    """A device whose temperature follows the hour: a value the test can predict."""
    return SimulatedDevice(name, eui, INTERVAL,
                           lambda at: {"temperature": 15 + at.hour / 2, "co2": 450},
                           settings=dict(settings))


def valve(kind: NetworkServer) -> SimulatedDevice:
    """A Milesight WT101 radiator valve set to 17 °C, taking its maker's downlinks."""
    return SimulatedDevice("tete-scene", "0101010101010101", INTERVAL,
                           lambda at: {"temperature": 16.5}, on_downlink=wt101_effect,
                           f_port=WT101_PORT, settings={"target_temperature": 17.0})


class Heard:
    """Everything a subscriber to the network server's topics receives, parsed."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock
        self.messages: list[Uplink | DeviceEvent] = []

    @property
    def uplinks(self) -> list[Uplink]:
        return [m for m in self.messages if isinstance(m, Uplink)]

    async def listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            parsed = parse(message.topic.value, bytes(message.payload), self.clock.now())
            if parsed is not None:
                self.messages.append(parsed)


@asynccontextmanager
async def running(broker: Mosquitto, kind: NetworkServer, devices: list[SimulatedDevice],
                  clock: SimulatedClock, application: str = APPLICATION, **chances: float
                  ) -> AsyncIterator[tuple[SimulatedNetworkServer, Heard]]:
    """The server on its own connection, listening for downlinks, and what a subscriber
    to its topics hears."""
    heard = Heard(clock)
    async with device(broker) as server_client, device(broker) as listener:
        await listener.subscribe("application/#" if kind == "chirpstack" else "v3/#", qos=1)
        server = SimulatedNetworkServer(
            server_client, kind, application, devices, clock, seed=21, timezone=PARIS,
            tenant=None if kind == "chirpstack" else "syndicat", **chances)
        await server.subscribe()
        tasks = [asyncio.create_task(server.listen()), asyncio.create_task(heard.listen(listener))]
        try:
            yield server, heard
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


@pytest.mark.parametrize("kind", ["chirpstack", "tts"])
def test_uplinks_are_what_parse_reads_with_counters_signal_and_a_falling_battery(
        mosquitto: Mosquitto, kind: NetworkServer) -> None:
    clock = SimulatedClock(START)
    devices = [thermometer("0000000000000a01", "0000000000000a01"),
               thermometer("0000000000000a02", "0000000000000a02")]

    async def scenario() -> None:
        async with running(mosquitto, kind, devices, clock, loss=0, duplicates=0) as (
                server, heard):
            await server.run(until=START + 6 * INTERVAL)
            sent = sum(c.sent for c in server.counts.values())
            expected = sent * (2 if kind == "chirpstack" else 1)  # ChirpStack's status too
            await until(lambda: len(heard.messages) == expected, "every message heard")
            for simulated in devices:
                mine = [u for u in heard.uplinks if u.dev_eui == simulated.dev_eui]
                assert [u.f_cnt for u in mine] == list(range(simulated.f_cnt))
                assert 5 <= len(mine) <= 7  # 6 intervals, the first within one, jitter 10 %
                gaps = [(b.sent_at - a.sent_at) / INTERVAL  # type: ignore[operator]
                        for a, b in itertools.pairwise(mine)]
                assert all(0.9 <= gap <= 1.1 for gap in gaps) and len(set(gaps)) > 1
                for uplink in mine:
                    assert uplink.network_server == kind
                    assert uplink.application == APPLICATION
                    assert uplink.sent_at is not None and uplink.f_port == 1
                    assert uplink.fields == {"temperature": 15 + uplink.sent_at.hour / 2,
                                             "co2": 450}
                    assert len(uplink.gateways) == 1 and uplink.rssi is not None
                    assert -110 < uplink.rssi < -80
                batteries = ([u.battery for u in mine] if kind == "tts" else
                             [e.battery for e in heard.messages if isinstance(e, DeviceEvent)
                              and e.device == simulated.dev_eui])
                assert len(batteries) == len(mine)
                assert batteries == sorted(batteries, reverse=True)  # type: ignore[type-var]
                assert batteries[0] == pytest.approx(100 - 0.01, abs=0.005)
                assert batteries[-1] == pytest.approx(100 - 0.01 * len(mine), abs=0.005)

    asyncio.run(scenario())


@pytest.mark.parametrize("kind", ["chirpstack", "tts"])
def test_a_device_with_its_own_payload_publishes_its_makers_bytes(
        mosquitto: Mosquitto, kind: NetworkServer) -> None:
    """A WT101 whose network server has no codec of it: ChirpStack's ``data``, The Things
    Stack's ``frm_payload``, no decoded object; the engine's codec reads them back, the
    battery among them."""
    clock = SimulatedClock(START)
    head = SimulatedDevice("tete-bar", "0202020202020202", INTERVAL,
                           lambda at: {"temperature": 18.4, "valve_opening": 35},
                           settings={"target_temperature": 19.0}, f_port=WT101_PORT,
                           encode=wt101_encode)

    async def scenario() -> None:
        async with running(mosquitto, kind, [head], clock, loss=0, duplicates=0) as (
                server, heard):
            await server.run(until=START + 3 * INTERVAL)
            await until(lambda: len(heard.uplinks) == head.f_cnt, "every uplink heard")
        for uplink in heard.uplinks:
            assert uplink.fields == {} and uplink.payload is not None
            decoded = wt101_decode(uplink.payload)
            assert decoded == {"temperature": 18.4, "valve_opening": 35.0,
                               "target_temperature": 19.0, "battery": 100.0}

    asyncio.run(scenario())


def test_about_five_percent_lost_and_duplicates_dropped_by_the_tracker(
        mosquitto: Mosquitto) -> None:
    """1000 uplinks with a 5 % loss: the count lost is within four standard deviations of
    50, and the engine's tracker finds every loss in the counters' gaps, and every
    duplicate through the second gateway."""
    clock = SimulatedClock(START)
    sensor = thermometer("capteur-co2", "0000000000000c02")
    transmissions = 1000

    async def scenario() -> None:
        async with running(mosquitto, "tts", [sensor], clock, duplicates=0.1) as (
                server, heard):
            while sensor.f_cnt < transmissions:
                assert sensor.next_uplink is not None
                clock.advance(max(0.0, (sensor.next_uplink - clock.now()).total_seconds()))
                await server.publish_due()
            counts = server.counts["capteur-co2"]
            await until(lambda: len(heard.uplinks) == (counts.sent - counts.lost
                                                       + counts.duplicated), "all heard")
        tracker = UplinkTracker(INTERVAL)
        for uplink in heard.uplinks:
            tracker.observe(uplink)
        assert counts.sent == transmissions
        spread = 4 * math.sqrt(transmissions * 0.05 * 0.95)
        assert abs(counts.lost - transmissions * 0.05) <= spread
        assert tracker.last_f_cnt is not None
        lost_at_the_end = transmissions - 1 - tracker.last_f_cnt
        assert tracker.lost + lost_at_the_end == counts.lost
        assert tracker.duplicates == counts.duplicated > 0
        doubles = [u for u in heard.uplinks
                   if sum(v.f_cnt == u.f_cnt for v in heard.uplinks) == 2]
        assert {u.gateways[0].id for u in doubles} == {"passerelle-mairie",
                                                        "passerelle-eglise"}

    asyncio.run(scenario())


@pytest.mark.parametrize("kind", ["chirpstack", "tts"])
def test_a_downlink_is_delivered_at_the_next_uplink_and_reported_in_the_one_after(
        mosquitto: Mosquitto, kind: NetworkServer) -> None:
    clock = SimulatedClock(START)
    head = valve(kind)

    def downlink(target: float, replace: bool = False) -> tuple[str, bytes]:
        """What the engine publishes, built by its own code."""
        if kind == "chirpstack":
            return chirpstack_downlink(APPLICATION, head.dev_eui, wt101_set_target(target))
        return tts_downlink(APPLICATION, head.device, wt101_set_target(target),
                            tenant="syndicat", replace=replace)

    def next_uplink() -> float:
        assert head.next_uplink is not None
        return (head.next_uplink - clock.now()).total_seconds()

    async def scenario() -> None:
        async with (running(mosquitto, kind, [head], clock, loss=0, duplicates=0) as (
                server, heard),
                aiomqtt.Client("127.0.0.1", mosquitto.port, username=ENGINE_USER,
                               password=ENGINE_PASSWORD, timeout=10) as engine):
            counts = server.counts[head.device]
            clock.advance(next_uplink())
            await server.publish_due()
            if kind == "tts":  # a newer setpoint replaces the one still waiting
                await engine.publish(*downlink(18), qos=1)
                await until(lambda: len(server.queues[head.device]) == 1, "pushed")
            await engine.publish(*downlink(20, replace=True), qos=1)
            await until(lambda: sum(counts.downlinks_received.values()) ==
                        (2 if kind == "tts" else 1), "the downlink received")
            assert counts.downlinks_replaced == (1 if kind == "tts" else 0)
            clock.advance(next_uplink() - 1)
            assert await server.publish_due() == 0  # nothing goes before the uplink
            assert head.settings["target_temperature"] == 17
            assert not counts.downlinks_delivered
            clock.advance(1)
            await server.publish_due()
            assert head.settings["target_temperature"] == 20
            assert counts.downlinks_delivered == {START.date(): 1}
            clock.advance(next_uplink())
            await server.publish_due()
            await until(lambda: len(heard.uplinks) == 3, "three uplinks")
            assert [u.fields["target_temperature"] for u in heard.uplinks] == [17, 17, 20]
            assert not server.queues[head.device]
            # bytes that are not the valve's command: delivered, ignored, nothing changes
            stray = Downlink(WT101_PORT, payload=b"\xff\x10\x01")
            await engine.publish(*(chirpstack_downlink(APPLICATION, head.dev_eui, stray)
                                   if kind == "chirpstack" else
                                   tts_downlink(APPLICATION, head.device, stray,
                                                tenant="syndicat")), qos=1)
            await until(lambda: len(server.queues[head.device]) == 1, "the stray queued")
            clock.advance(next_uplink())
            await server.publish_due()
            assert (counts.downlinks_ignored, head.settings["target_temperature"]) == (1, 20)

    asyncio.run(scenario())


def unconnected(kind: NetworkServer, devices: list[SimulatedDevice], loss: float = 0.05
                ) -> SimulatedNetworkServer:
    """A server whose client never connects (aiomqtt makes its client in a loop)."""
    async def make() -> SimulatedNetworkServer:
        return SimulatedNetworkServer(aiomqtt.Client("127.0.0.1"), kind, APPLICATION, devices,
                                      SimulatedClock(START), seed=1, timezone=PARIS,
                                      loss=loss)
    return asyncio.run(make())


@pytest.mark.parametrize(("kind", "topic", "message", "says"), [
    ("chirpstack", f"application/{APPLICATION}/device/0101010101010101/command/down",
     b"{not json", "Expecting property name"),
    ("chirpstack", f"application/{APPLICATION}/device/0101010101010101/command/down",
     b'{"devEui": "0202020202020202", "fPort": 85, "data": "/7EUCgA="}',
     "devEui is not the topic's device"),
    ("chirpstack", f"application/{APPLICATION}/device/0909090909090909/command/down",
     b'{"fPort": 85, "data": "/7EUCgA="}', "no simulated device '0909090909090909'"),
    ("chirpstack", f"application/{APPLICATION}/device/0101010101010101/command/down",
     b'{"fPort": 0, "data": "/7EUCgA="}', "FPort 0 is not an application port"),
    ("tts", "v3/salle-des-fetes/devices/tete-scene/down/push", b'{"downlinks": []}',
     "downlinks is not a list of downlinks"),
    ("tts", "v3/salle-des-fetes/devices/tete-scene/down/replace",
     b'{"downlinks": [{"f_port": 85, "frm_payload": "not base64!"}]}',
     "frm_payload is not base64: 'not base64!'"),
    ("tts", "v3/salle-des-fetes/devices/tete-scene/down/push",
     b'{"downlinks": [{"frm_payload": "/7EUCgA="}]}', "f_port is not a whole number: None"),
    ("tts", "v3/salle-des-fetes/devices/tete-scene/down/push",
     b'{"downlinks": [{"f_port": 85, "decoded_payload": [1]}]}',
     "decoded_payload is not an object"),
    ("tts", "v3/salle-des-fetes/devices/tete-scene/down/push", b'{"downlinks": [7]}',
     "a downlink is not an object: 7"),
    ("tts", "v3/salle-des-fetes/devices/tete-scene/down/push", b'{"downlink": {}}',
     "downlinks is not a list"),
])
def test_a_downlink_that_cannot_be_read_changes_nothing_and_says_what(
        kind: NetworkServer, topic: str, message: bytes, says: str) -> None:
    """``receive`` alone, on a client never connected: no broker is needed to refuse."""
    head = valve(kind)
    server = unconnected(kind, [head])
    server.receive(topic, message)
    [problem] = server.refused
    assert problem.startswith(topic) and says in problem
    assert not server.queues[head.device]
    assert not server.counts[head.device].downlinks_received


def test_what_a_device_takes_from_a_downlink() -> None:
    assert wt101_effect(wt101_set_target(21, 0.5)) == {"target_temperature": 21.0,
                                                        "temperature_tolerance": 0.5}
    with pytest.raises(ValueError, match="FPort 85"):
        wt101_effect(Downlink(10, payload=b"\xff\xb1\x15\x05\x00"))
    assert codec_fields(Downlink(10, fields={"setpoint": 19, "mode": "eco"})) == {
        "setpoint": 19.0}
    with pytest.raises(ValueError, match="bytes without a device codec"):
        codec_fields(Downlink(10, payload=b"\x01"))


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match=r"jitter 1\.5 is not within"):
        SimulatedDevice("a", "0101010101010101", INTERVAL, lambda at: {}, jitter=1.5)
    with pytest.raises(ValueError, match="'0101' is not a DevEUI"):
        SimulatedDevice("a", "0101", INTERVAL, lambda at: {})
    with pytest.raises(ValueError, match="same name"):
        unconnected("tts", [valve("tts"), valve("tts")])
    with pytest.raises(ValueError, match="same DevEUI"):
        unconnected("chirpstack", [valve("chirpstack"), thermometer("b", "0101010101010101")])
    with pytest.raises(ValueError, match="at least one device"):
        unconnected("tts", [])
    with pytest.raises(ValueError, match=r"loss 1 and duplicates 0\.03 are chances in 0\.\.1"):
        unconnected("tts", [valve("tts")], loss=1)


def test_the_engines_driver_reads_the_simulated_valve_and_its_command_waits_for_the_uplink(
        mosquitto: Mosquitto) -> None:
    """End to end: the engine's LoRaWAN points (``tests.test_lorawan_points``' site, its
    ChirpStack valve commanded through the server's codec) against the simulated server."""
    clock = SimulatedClock(START)
    engine_clock = SetClock()  # the engine's arrival times: the simulation's, set by hand
    vanne = SimulatedDevice("vanne-1", VALVE_EUI, INTERVAL, lambda at: {"temperature": 19.5},
                            f_port=10, settings={"setpoint": 19.0})
    driver, lorawan = lorawan_driver(mosquitto, engine_clock, COMMAND_SITE)
    consigne, temperature = COMMAND_REFS["consigne"], COMMAND_REFS["temperature"]

    def reads(ref: PointRef) -> Reading:
        return at_once(driver.read([ref]))[ref.key]

    async def uplink(server: SimulatedNetworkServer) -> None:
        assert vanne.next_uplink is not None
        clock.advance((vanne.next_uplink - clock.now()).total_seconds())
        engine_clock.at = clock.now()
        await server.publish_due()
        await until(lambda: lorawan.trackers["vanne-1"].last_arrival == clock.now(),
                    "the uplink read")

    async def scenario() -> None:
        async with running(mosquitto, "chirpstack", [vanne], clock, CHIRPSTACK_APP, loss=0,
                           duplicates=0) as (server, _), driver_running(driver):
            await until(lambda: driver.connected, "connected")
            await uplink(server)
            assert reads(temperature) == Reading(19.5, at=clock.now())
            await driver.write(consigne, 21.5)
            counts = server.counts["vanne-1"]
            await until(lambda: sum(counts.downlinks_received.values()) == 1, "received")
            await uplink(server)  # it takes the downlink, reporting the former setpoint
            waiting = reads(consigne)  # and says that 21.5 waits for the next one
            assert (waiting.value, waiting.at) == (19.0, clock.now())
            assert waiting.pending is not None and waiting.pending.value == 21.5
            assert counts.downlinks_delivered == {START.date(): 1}
            await uplink(server)  # the next one reports it applied
            assert reads(consigne) == Reading(21.5, at=clock.now())
            assert lorawan.downlinks_today("vanne-1", clock.now()) == 1

    asyncio.run(scenario())
