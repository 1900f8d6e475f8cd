"""The MQTT driver against Debian's Mosquitto on loopback (``mosquitto`` fixture): a
password file, an access list, TLS with a CA made for the test, a restart and an outage.

A device is played by an aiomqtt client with its own user. The arrival times come from a
clock the test sets, so that staleness is shown without waiting; what the broker does
(connections, deliveries) is waited for as conditions, with generous deadlines.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import click
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from gtb.cli.wiring import mqtt_driver
from gtb.clock import SimulatedClock
from gtb.config import parse_site
from gtb.engine import Engine
from gtb.engine.reading import PointReader
from gtb.model.mqtt import PASSWORD_ENV, MqttBroker
from gtb.model.points import Quality
from gtb.store import Store
from protocols.base import Reading
from protocols.mqtt import Backoff, MqttDriver
from tests.mosquitto_rig import (
    DENIED_TOPIC,
    DEVICE_PASSWORD,
    DEVICE_USER,
    ENGINE_PASSWORD,
    ENGINE_USER,
    Mosquitto,
    make_ca,
)
from tests.test_mqtt_points import site_text

DEADLINE_S = 30.0
"""How long a condition may take to come true: generous, for a loaded 2-core machine."""

VALVE = "site/vanne-1"
SITE = site_text(broker="mqtt:\n  host: 127.0.0.1\n")
POINTS = list(parse_site(SITE, "essai.yaml").points())
REF = {ref.key.rsplit(".", 1)[1]: ref for ref in POINTS}
_ids = itertools.count()


class SetClock:
    """The engine's clock, set by the test: arrival times and ages are the test's."""

    def __init__(self) -> None:
        self.at = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


def driver_for(broker: Mosquitto, clock: SetClock, *, tls: bool = False,
               ca_file: Path | None = None, password: str = ENGINE_PASSWORD) -> MqttDriver:
    settings = MqttBroker(host="127.0.0.1", port=broker.tls_port if tls else broker.port,
                          tls=tls, ca_file=ca_file if ca_file else broker.ca_file if tls
                          else None, username=ENGINE_USER)
    return MqttDriver(settings, POINTS, now=clock.now, client_id=f"gtb-test-{next(_ids)}",
                      password=password, backoff=Backoff(0.05, 0.5), timeout_s=5.0)


@asynccontextmanager
async def running(driver: MqttDriver) -> AsyncIterator[MqttDriver]:
    await driver.start()
    try:
        yield driver
    finally:
        await driver.stop()


@asynccontextmanager
async def connected(broker: Mosquitto, clock: SetClock, **settings: Any
                    ) -> AsyncIterator[MqttDriver]:
    """A driver of ``broker`` (``driver_for``), once it has connected and subscribed."""
    async with running(driver_for(broker, clock, **settings)) as driver:
        await until(lambda: driver.connected, "connected")
        yield driver


@asynccontextmanager
async def device(broker: Mosquitto) -> AsyncIterator[aiomqtt.Client]:
    """A gateway publishing for its devices (a user the access list lets write anywhere)."""
    async with aiomqtt.Client("127.0.0.1", broker.port, username=DEVICE_USER,
                              password=DEVICE_PASSWORD, timeout=10) as client:
        yield client


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {DEADLINE_S} s: {what}")
        await asyncio.sleep(0.02)


def at_once(read: Coroutine[Any, Any, dict[str, Reading]]) -> dict[str, Reading]:
    """What ``read`` returns, proving it never suspended: it waits on no broker."""
    try:
        read.send(None)
    except StopIteration as done:
        return done.value
    read.close()
    raise AssertionError("read() waited for something")


def reading(driver: MqttDriver, name: str) -> Reading:
    return at_once(driver.read([REF[name]]))[REF[name].key]


async def published_until_read(driver: MqttDriver, broker: Mosquitto, payload: str,
                               name: str, value: float) -> None:
    """Publish on the valve's topic until the point reads ``value``: a message sent
    before the subscription took effect is not for us, so it is sent again."""
    async with device(broker) as gateway:
        deadline = asyncio.get_running_loop().time() + DEADLINE_S
        while reading(driver, name).value != value:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{name} never read {value}: {reading(driver, name)}")
            await gateway.publish(VALVE, payload, qos=1)
            await asyncio.sleep(0.05)


def test_a_value_is_read_with_its_arrival_time_and_goes_stale_after_two_missed(
        mosquitto: Mosquitto) -> None:
    clock = SetClock()

    async def scenario() -> None:
        async with connected(mosquitto, clock) as driver:
            assert "aucun message reçu" in (reading(driver, "temperature").error or "")
            arrived = clock.at
            await published_until_read(
                driver, mosquitto, '{"local_temperature": 19.5, "current_heating_setpoint": 20}',
                "temperature", 19.5)
            # two expected messages, the second half an interval late: not missed yet
            clock.at += timedelta(seconds=149)
            assert reading(driver, "temperature") == Reading(19.5, at=arrived)
            assert reading(driver, "consigne") == Reading(20.0, at=arrived)
            clock.at += timedelta(seconds=1)
            assert reading(driver, "temperature").error == (
                f"{VALVE} : aucun message depuis 150 s, un attendu toutes les 60 s")
            assert reading(driver, "consigne").ok  # no interval: no staleness said

    asyncio.run(scenario())


def test_the_engine_samples_a_message_at_its_arrival() -> None:
    """The engine's judge keeps the driver's arrival time on the sample."""
    ref = REF["temperature"]
    unstarted = MqttDriver(MqttBroker(host="127.0.0.1"), POINTS, now=SetClock().now,
                           client_id="gtb-essai")
    judge = PointReader({ref.key: ref}, {"mqtt": unstarted}, stale_after_s=180)
    now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    arrived = now - timedelta(seconds=40)
    [sample], snapshot = judge.judge(now, {ref.key: Reading(19.5, at=arrived)})
    assert (sample.ts, sample.value, snapshot.quality[ref.key]) == (arrived, 19.5, Quality.OK)


def test_a_bad_payload_is_a_failed_reading_and_the_next_good_one_reads(
        mosquitto: Mosquitto) -> None:
    clock = SetClock()

    async def scenario() -> None:
        async with connected(mosquitto, clock) as driver:
            await published_until_read(driver, mosquitto, '{"local_temperature": 18}',
                                       "temperature", 18.0)
            async with device(mosquitto) as gateway:
                await gateway.publish(VALVE, "<html>502</html>", qos=1)
                await gateway.publish(VALVE, '{"local_temperature": NaN}', qos=1)
            await until(lambda: "NaN" in (reading(driver, "temperature").error or ""),
                        "the NaN message read")
            assert reading(driver, "temperature").error == (
                f"{VALVE} : local_temperature vaut NaN, pas un nombre")
            assert "pas de current_heating_setpoint" in (reading(driver, "consigne").error or "")
            await published_until_read(driver, mosquitto, '{"local_temperature": 18.5}',
                                       "temperature", 18.5)

    asyncio.run(scenario())


def test_a_command_is_published_with_the_template(mosquitto: Mosquitto) -> None:
    clock = SetClock()

    async def scenario() -> None:
        async with device(mosquitto) as gateway, connected(mosquitto, clock) as driver:
            await gateway.subscribe(f"{VALVE}/set", qos=1)
            await driver.write(REF["consigne"], 21.5)
            message = await asyncio.wait_for(anext(aiter(gateway.messages)), DEADLINE_S)
            assert (message.topic.value, message.payload, message.retain) == (
                f"{VALVE}/set", b'{"current_heating_setpoint": 21.5}', False)

    asyncio.run(scenario())


def test_a_wrong_password_is_refused_with_a_clear_error(mosquitto: Mosquitto) -> None:
    clock = SetClock()

    async def scenario() -> None:
        async with running(driver_for(mosquitto, clock, password="faux")) as driver:
            await until(lambda: "mot de passe" in (reading(driver, "temperature").error or ""),
                        "the refusal said")
            assert reading(driver, "temperature").error == (
                f"courtier MQTT 127.0.0.1:{mosquitto.port} injoignable : le courtier refuse "
                f"l'identifiant ou le mot de passe (utilisateur {ENGINE_USER}, mot de passe "
                "lu dans GTB_MQTT_PASSWORD)")
            assert not driver.connected

    asyncio.run(scenario())


def test_a_topic_the_access_list_denies_never_reads_and_the_others_do(
        mosquitto: Mosquitto) -> None:
    """Mosquitto 2.0 accepts the subscription and delivers nothing of a denied topic."""
    clock = SetClock()

    async def scenario() -> None:
        async with connected(mosquitto, clock) as driver:
            async with device(mosquitto) as gateway:
                await gateway.publish(DENIED_TOPIC, "1234", qos=1)
            # Published once the broker acknowledged the denied one: it would come first.
            await published_until_read(driver, mosquitto, '{"local_temperature": 17}',
                                       "temperature", 17.0)
            assert reading(driver, "compteur").error == (
                f"{DENIED_TOPIC} : aucun message reçu depuis la connexion au courtier (rien "
                "de publié, ou la liste d'accès du courtier ne le permet pas)")

    asyncio.run(scenario())


def test_tls_with_the_brokers_ca_reads_and_an_unknown_ca_is_refused(
        mosquitto: Mosquitto, tmp_path: Path) -> None:
    clock = SetClock()
    stranger, _ = make_ca(tmp_path, "autre-ca")

    async def scenario() -> None:
        async with connected(mosquitto, clock, tls=True) as driver:
            await published_until_read(driver, mosquitto, '{"local_temperature": 16}',
                                       "temperature", 16.0)
        async with running(driver_for(mosquitto, clock, tls=True, ca_file=stranger)) as driver:
            await until(lambda: "autorité" in (reading(driver, "temperature").error or ""),
                        "the unknown CA said")
            error = reading(driver, "temperature").error or ""
            assert "n'est pas signé par l'autorité attendue (ca_file)" in error
            assert "CERTIFICATE_VERIFY_FAILED" in error and not driver.connected

    asyncio.run(scenario())


def test_after_a_broker_restart_the_driver_is_back_and_subscribed(
        mosquitto: Mosquitto) -> None:
    """The broker keeps no sessions (``persistence false``): only subscribing again at
    the new connection brings the messages published after it came back."""
    clock = SetClock()

    async def scenario() -> None:
        async with connected(mosquitto, clock) as driver:
            await published_until_read(driver, mosquitto, '{"local_temperature": 19}',
                                       "temperature", 19.0)
            await asyncio.to_thread(mosquitto.restart)
            await until(lambda: driver.connections == 2, "connected again")
            async with device(mosquitto) as gateway:
                await gateway.publish(VALVE, '{"local_temperature": 20.5}', qos=1)
            await until(lambda: reading(driver, "temperature").value == 20.5,
                        "the message published after the restart read")

    asyncio.run(scenario())


def test_with_the_broker_down_read_answers_at_once_and_says_why(
        mosquitto: Mosquitto) -> None:
    clock = SetClock()

    async def scenario() -> None:
        async with connected(mosquitto, clock) as driver:
            await published_until_read(driver, mosquitto, '{"local_temperature": 19}',
                                       "temperature", 19.0)
            await asyncio.to_thread(mosquitto.stop)
            await until(lambda: not driver.connected, "the outage seen")
            readings = at_once(driver.read(POINTS))
            for ref in POINTS:
                assert (readings[ref.key].error or "").startswith(
                    f"courtier MQTT 127.0.0.1:{mosquitto.port} injoignable : "), ref.key
            # The engine serves the last value while the engine's stale rule allows.
            judge = PointReader({ref.key: ref for ref in POINTS}, {"mqtt": driver},
                                stale_after_s=180)
            judge.judge(clock.at, {REF["temperature"].key: Reading(19.0, at=clock.at)})
            _, snapshot = judge.judge(clock.at + timedelta(seconds=60), readings)
            assert snapshot.quality[REF["temperature"].key] is Quality.STALE
            assert snapshot.values[REF["temperature"].key] == 19.0

    asyncio.run(scenario())


def test_the_engine_of_an_mqtt_site_reads_and_commands_through_the_broker(
        mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``gtb run``'s wiring: the site's broker, the password from the environment; a tick
    samples the temperature at its arrival and publishes the programme's setpoint."""
    site = parse_site(SITE.replace("  host: 127.0.0.1\n", f"  host: 127.0.0.1\n  port: "
                                   f"{mosquitto.port}\n  username: {ENGINE_USER}\n"),
                      "essai.yaml")
    monkeypatch.setenv(PASSWORD_ENV, ENGINE_PASSWORD)
    clock = SimulatedClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    driver = mqtt_driver(site, clock)
    assert driver is not None and driver.broker == f"127.0.0.1:{mosquitto.port}"
    store = Store(tmp_path / "gtb.db")

    async def scenario() -> None:
        engine = Engine(site, store, {"mqtt": driver}, clock)
        async with device(mosquitto) as gateway:
            await gateway.subscribe(f"{VALVE}/set", qos=1)
            await engine.start()
            try:
                await until(lambda: driver.connected, "connected")
                arrived = clock.now()
                await published_until_read(
                    driver, mosquitto,
                    '{"local_temperature": 18.5, "current_heating_setpoint": 16}',
                    "temperature", 18.5)
                clock.advance(30)
                await engine.tick()
                command = await asyncio.wait_for(anext(aiter(gateway.messages)), DEADLINE_S)
            finally:
                await engine.stop()
        sample = store.samples.latest(REF["temperature"].key)
        assert sample is not None and (sample.ts, sample.value) == (arrived, 18.5)
        assert json.loads(bytes(command.payload))["current_heating_setpoint"] >= 7

    try:
        asyncio.run(scenario())
    finally:
        store.close()


def test_a_tls_file_that_cannot_be_read_stops_the_start_with_its_field(tmp_path: Path) -> None:
    site = parse_site(SITE.replace("  host: 127.0.0.1\n", "  host: 127.0.0.1\n  tls: true\n"
                                   f"  ca_file: {tmp_path / 'absent.crt'}\n"), "essai.yaml")
    with pytest.raises(click.ClickException, match=r"mqtt.ca_file .*absent.crt"):
        mqtt_driver(site, SimulatedClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC)))


class RefusingBroker:
    """A fake, because Mosquitto 2.0 never refuses a subscription in its answer (EMQX or
    HiveMQ answer 0x80 for a topic their access list denies): only ``subscribe``."""

    async def subscribe(self, topics: list[tuple[str, int]], timeout: float
                        ) -> list[ReasonCode]:
        return [ReasonCode(PacketTypes.SUBACK, identifier=0x80 if topic == DENIED_TOPIC
                           else 1) for topic, _ in topics]


def test_a_subscription_refused_in_the_brokers_answer_is_said() -> None:
    driver = driver_for(Mosquitto(Path("/nonexistent"), 1, 2, Path("ca.crt")), SetClock())
    asyncio.run(driver._subscribe(RefusingBroker()))  # type: ignore[arg-type]
    assert reading(driver, "compteur").error == (
        f"le courtier refuse l'abonnement à {DENIED_TOPIC} (liste d'accès)")
    assert "courtier MQTT" in (reading(driver, "temperature").error or "")  # not connected
