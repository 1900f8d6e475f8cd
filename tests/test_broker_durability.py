"""The broker's restarts and outages lose no uplink: the simulated network server
(``gtb.sim.lorawan``) publishes on Debian's Mosquitto, kept ``persistent`` as a site's
broker must be (docs/lorawan.md, « The broker »), and the engine's driver reads every
uplink it published after the broker came back, by frame counter: none lost, none twice.
And the engine's tick for its other buildings never waits on the broker.

The driver asks the broker to keep its session (a fixed client id, ``clean_session``
false, QoS 1 subscriptions); the broker then queues what is published for the driver
while it is away, and delivers it when it comes back. The network server's time is a
stepped ``SimulatedClock``; what the broker carries is waited for as conditions, with
generous deadlines (``until``), never timed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gtb.clock import SimulatedClock
from gtb.engine import Engine
from gtb.model import Site
from gtb.model.mqtt import MqttBroker
from gtb.sim.lorawan import SimulatedDevice, SimulatedNetworkServer
from gtb.sim.season import restrict
from gtb.store import Store
from protocols.base import Driver
from protocols.lorawan import Uplink
from protocols.lorawan_points import LorawanPoints
from protocols.lorawan_tracking import UplinkTracker, Verdict
from protocols.modbus import ModbusDriver
from protocols.mqtt import Backoff, MqttDriver
from tests.conftest import DEVICE_TIMEOUT_S
from tests.mosquitto_rig import ENGINE_PASSWORD, ENGINE_USER, Mosquitto
from tests.test_lorawan_points import BROKER_SITE, CHIRPSTACK_APP, VALVE_EUI
from tests.test_modbus_driver import demo_values, modbus_servers, serving
from tests.test_mqtt_driver import DEADLINE_S, SetClock, device, running, until

START = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


@pytest.fixture
def persistent_mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """The ``mosquitto`` fixture's broker, keeping its sessions on disk."""
    broker = Mosquitto.make(tmp_path / "mosquitto", persistent=True)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


class Relay:
    """The way from the engine to the broker, which the test cuts and restores: a TCP
    relay on loopback (real bytes, both ways). Cut, it stops listening, and the driver's
    attempts are refused: the driver is then provably away from the broker, waiting for
    its next attempt, while the network server reaches the broker directly (as on a
    syndicate's network, where the server sits beside its broker)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = 0
        self._links: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def open(self) -> None:
        """Listen (on the same port as before, once it has one)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Stop listening, and close every connection relayed."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._links):
            writer.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                      ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self._links |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._links.discard(writer)
            writer.close()


def the_valve() -> SimulatedDevice:
    """The site's ChirpStack valve (``vanne-1``), sending every 10 minutes."""
    return SimulatedDevice("vanne-1", VALVE_EUI, timedelta(minutes=10),
                           lambda at: {"temperature": 19.5})


class Taken:
    """The frame counters of the valve's uplinks as the engine's tracker judged them:
    ``new`` those whose values it took, in order; ``again`` those it dropped as already
    taken (a QoS 1 message the broker delivered twice: at least once is its promise)."""

    def __init__(self, tracker: UplinkTracker) -> None:
        self.new: list[int] = []
        self.again: list[int] = []
        observe = tracker.observe

        def judged(uplink: Uplink) -> Verdict:
            verdict = observe(uplink)
            (self.new if verdict.current else self.again).append(uplink.f_cnt)
            return verdict

        setattr(tracker, "observe", judged)  # noqa: B010 (watched, not replaced)

    def through(self, last: int) -> bool:
        return bool(self.new) and self.new[-1] == last


def driver_of(port: int, backoff: Backoff) -> tuple[MqttDriver, Taken]:
    """The engine's driver of the site's LoRaWAN points on ``port``, with the fixed
    client id that lets the broker keep its session, and what it takes of the valve."""
    refs = list(BROKER_SITE.points())
    lorawan = LorawanPoints(BROKER_SITE.lorawan, refs, BROKER_SITE.tz)
    settings = MqttBroker(host="127.0.0.1", port=port, username=ENGINE_USER)
    driver = MqttDriver(settings, refs, now=SetClock().now, client_id="gtb-durable",
                        password=ENGINE_PASSWORD, lorawan=lorawan, backoff=backoff,
                        timeout_s=5.0)
    return driver, Taken(lorawan.trackers["vanne-1"])


@asynccontextmanager
async def network_server(broker: Mosquitto, valve: SimulatedDevice, clock: SimulatedClock
                         ) -> AsyncIterator[SimulatedNetworkServer]:
    """The network server on its own connection to the broker; made again after a
    restart with the same device, whose frame counter goes on."""
    async with device(broker) as client:
        yield SimulatedNetworkServer(client, "chirpstack", CHIRPSTACK_APP, [valve], clock,
                                     seed=21, timezone=ZoneInfo("Europe/Paris"), loss=0,
                                     duplicates=0)


async def publish_uplinks(server: SimulatedNetworkServer, valve: SimulatedDevice,
                          clock: SimulatedClock, count: int) -> int:
    """``count`` uplinks of the valve, one interval apart; returns the last frame counter."""
    for _ in range(count):
        assert valve.next_uplink is not None
        clock.advance(max(0.0, (valve.next_uplink - clock.now()).total_seconds()))
        await server.publish_due()
    return valve.f_cnt - 1


@asynccontextmanager
async def relayed(relay: Relay, backoff: Backoff, broker: Mosquitto, valve: SimulatedDevice,
                  clock: SimulatedClock, *, uplinks: int
                  ) -> AsyncIterator[tuple[MqttDriver, Taken]]:
    """The driver reaching ``broker`` through ``relay``, once it has taken the valve's
    first ``uplinks``; the relay cut at the end."""
    await relay.open()
    driver, taken = driver_of(relay.port, backoff)
    try:
        async with running(driver):
            await until(lambda: driver.connected, "connected")
            async with network_server(broker, valve, clock) as server:
                first = await publish_uplinks(server, valve, clock, uplinks)
            await until(lambda: taken.through(first), "the first uplinks")
            yield driver, taken
    finally:
        await relay.cut()


def test_after_a_broker_restart_no_uplink_published_since_is_lost_or_read_twice(
        persistent_mosquitto: Mosquitto) -> None:
    """The broker restarts; the network server publishes again at once, whether the
    driver is back yet or not: the broker kept the driver's session, so every uplink
    published after the restart reaches it, in order, once."""
    broker, clock, valve = persistent_mosquitto, SimulatedClock(START), the_valve()
    driver, taken = driver_of(broker.port, Backoff(0.05, 0.5))

    async def scenario() -> None:
        async with running(driver):
            await until(lambda: driver.connected, "connected")
            async with network_server(broker, valve, clock) as server:
                last = await publish_uplinks(server, valve, clock, 3)
                await until(lambda: taken.through(last), "the first uplinks")
            await asyncio.to_thread(broker.restart)
            async with network_server(broker, valve, clock) as server:
                last = await publish_uplinks(server, valve, clock, 5)
            await until(lambda: taken.through(last), "every uplink since")
            await until(lambda: driver.connections == 2, "connected again")

    asyncio.run(scenario())
    assert taken.new == list(range(8))
    assert set(taken.again) <= {0, 1, 2}  # only those in flight when the broker stopped


def test_a_broker_down_for_minutes_loses_nothing_published_once_it_is_back(
        persistent_mosquitto: Mosquitto) -> None:
    """The broker is down long enough for the driver's waits between attempts to grow to
    their cap (here 60 s compressed to 0.4 s: the schedule is the same, doubling from
    the first wait; the broker's side of « minutes » is only that it was down). It comes
    back, the network server publishes at once, and the driver, still waiting for its
    next attempt (the relay keeps it away until then), finds every uplink queued for it
    when it connects. The broker's outage is seconds, not minutes: a broker keeps what
    it queued for as long as the session lasts, and only the driver's schedule of
    attempts depends on how long it was away."""
    broker, clock, valve = persistent_mosquitto, SimulatedClock(START), the_valve()
    relay = Relay(broker.port)
    backoff = Backoff(0.05, 0.4)
    assert [backoff.first * 2 ** n for n in range(5)][-1] > backoff.longest  # capped

    async def scenario() -> Taken:
        async with relayed(relay, backoff, broker, valve, clock, uplinks=2) as (driver, taken):
            await relay.cut()
            await asyncio.to_thread(broker.stop)
            await until(lambda: not driver.connected, "the outage seen")
            await until(lambda: driver.failures >= 6, "attempts until the waits are capped")
            await asyncio.to_thread(broker.start)
            async with network_server(broker, valve, clock) as server:
                last = await publish_uplinks(server, valve, clock, 6)
            assert driver.connections == 1 and taken.new == [0, 1]  # still away
            await relay.open()
            await until(lambda: driver.connections == 2, "connected again")
            await until(lambda: taken.through(last), "the queued uplinks")
        return taken

    taken = asyncio.run(scenario())
    assert taken.new == list(range(8)) and set(taken.again) <= {0, 1}


def test_without_persistence_the_uplinks_published_while_away_are_lost(
        mosquitto: Mosquitto) -> None:
    """Why the broker must be persistent: the same outage against a broker that forgets
    its sessions when it stops loses what was published before the driver came back."""
    clock, valve = SimulatedClock(START), the_valve()
    relay = Relay(mosquitto.port)

    async def scenario() -> Taken:
        async with relayed(relay, Backoff(0.05, 0.4), mosquitto, valve, clock,
                           uplinks=1) as (driver, taken):
            await relay.cut()
            await asyncio.to_thread(mosquitto.restart)
            async with network_server(mosquitto, valve, clock) as server:
                await publish_uplinks(server, valve, clock, 3)
            await relay.open()
            await until(lambda: driver.connections == 2, "connected again")
            async with network_server(mosquitto, valve, clock) as server:
                last = await publish_uplinks(server, valve, clock, 1)
            await until(lambda: taken.through(last), "the uplink after")
        return taken

    assert asyncio.run(scenario()).new == [0, 4]  # 1, 2 and 3 never reached the driver


def test_the_engine_controls_its_other_buildings_while_the_broker_does_not_answer(
        demo_site_on_air: Site, tmp_path: Path) -> None:
    """The demo commune's school (Modbus) and salle des fêtes (LoRaWAN) in one engine,
    whose broker accepts the connection and never answers (a black hole: worse than
    down, which refuses at once). The driver would wait an hour for it; the tick reads
    and commands the school and ends, its LoRaWAN points failed, saying why. Were the
    tick waiting on the broker, it would not end within the test's bound."""
    site = restrict(demo_site_on_air, ["ecole", "salle-des-fetes"]).model_copy(
        update={"cabinets": (), "equipment": ()})
    school = restrict(site, ["ecole"])
    clock = SimulatedClock(datetime(2026, 12, 7, 7, 30, tzinfo=UTC))  # a Monday, 08:30
    setpoint = "ecole.maternelle.consigne"

    async def scenario() -> None:
        held: list[asyncio.StreamWriter] = []

        async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            held.append(writer)

        black_hole = await asyncio.start_server(hold, "127.0.0.1", 0)
        port = black_hole.sockets[0].getsockname()[1]
        wireless = [ref for ref in site.points() if ref.binding.protocol == "lorawan"]
        mqtt = MqttDriver(MqttBroker(host="127.0.0.1", port=port), wireless, now=clock.now,
                          client_id="gtb-ecole", timeout_s=3600,
                          lorawan=LorawanPoints(site.lorawan, wireless, site.tz))
        drivers: dict[str, Driver] = {
            "modbus": ModbusDriver(now=lambda: clock.now().timestamp(),
                                   timeout_s=DEVICE_TIMEOUT_S),
            "mqtt": mqtt, "lorawan": mqtt}
        servers = modbus_servers(school, {  # demo_values adds the town hall's outdoor sensor
            key: value for key, value in demo_values(school).items()
            if key.startswith("ecole.")})
        with Store(tmp_path / "gtb.db") as store:
            engine = Engine(site, store, drivers, clock)
            async with serving(*servers):
                await engine.start()
                try:
                    await until(lambda: bool(held), "the broker's connection held")
                    report = await asyncio.wait_for(engine.tick(), DEADLINE_S)
                    assert not mqtt.connected and mqtt.failures == 0  # still connecting
                finally:
                    await engine.stop()
                    black_hole.close()
            intended = engine.intended()[setpoint]
            commanded = next(s for s in servers if setpoint in s.keys).commanded(setpoint)
            assert report.writes > 0 and commanded == pytest.approx(intended, abs=0.05)
            valve = store.samples.latest("salle-des-fetes.grande-salle.consigne")
            assert valve is not None and valve.value is None
            assert f"courtier MQTT 127.0.0.1:{port} injoignable" in (valve.error or "")

    asyncio.run(scenario())
