"""The virtual commune's LoRaWAN devices end to end: a small site served by ``VirtualSite``
through the simulated network servers on Debian's Mosquitto, started by gtb's own broker
starter (``gtb.sim.broker``), and read and commanded by the engine's own MQTT driver (as
``gtb.cli.wiring`` makes it); the WT101 valve's bytes, the ambient sensor's decoded
fields, a setpoint delivered at the next uplink into the commune; the river's seeded
floods; the broker stopped at the end, whatever ends it.

Time is a stepped ``SimulatedClock``: the devices transmit when the test moves it; what
the broker carries is waited for as conditions (``until``), never timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from gtb.cli import main
from gtb.cli.wiring import mqtt_driver
from gtb.clock import SimulatedClock
from gtb.config import parse_site
from gtb.model import Site
from gtb.model.points import Watch
from gtb.sim import broker as sim_broker
from gtb.sim.broker import BrokerError, local_broker, site_broker, with_mqtt_port
from gtb.sim.devices import free_loopback_port
from gtb.sim.river import RiverLevel
from gtb.sim.runner import VirtualSite
from gtb.sim.world import VirtualCommune
from protocols.lorawan_devices import wt101_decode, wt101_encode
from tests.conftest import ROOT
from tests.test_mqtt_driver import at_once, until
from tests.test_mqtt_points import site_text as generic_mqtt_site

START = datetime(2026, 12, 8, 7, 0, tzinfo=UTC)  # a Tuesday in winter

SITE = """\
id: radio
name: Radio
timezone: Europe/Paris
latitude: 50.4
longitude: 3.28
school_zone: B
mqtt: {{host: 127.0.0.1, port: {port}}}
lorawan:
  - {{id: vanne, network_server: chirpstack, application: batiments,
     dev_eui: "24e124714c100001", interval_s: 600, codec: milesight-wt101}}
  - {{id: ambiance, network_server: tts, application: capteurs, tenant: syndicat,
     device_id: ambiance-salle, interval_s: 600}}
  - {{id: jauge, network_server: chirpstack, application: capteurs,
     dev_eui: "24e124713d300001", interval_s: 900}}
buildings:
  - id: salle
    name: Salle des fêtes
    use: salle_des_fetes
    floor_area_m2: 300
    points:
      - {{id: niveau, role: measurement, unit: m, range: [0, 6],
         watch: {{high: 3.5, high_high: 4.2, hysteresis: 0.1}},
         binding: {{protocol: lorawan, device: jauge, field: level}}}}
    zones:
      - id: grande
        name: Grande salle
        area_m2: 250
        points:
          - {{id: temperature, role: zone_temperature,
             binding: {{protocol: lorawan, device: ambiance, field: temperature}}}}
          - {{id: co2, role: co2, binding: {{protocol: lorawan, device: ambiance, field: co2}}}}
          - {{id: presence, role: occupancy,
             binding: {{protocol: lorawan, device: ambiance, field: occupancy}}}}
          - {{id: consigne, role: heating_setpoint,
             binding: {{protocol: lorawan, device: vanne, field: target_temperature,
                       command_field: target_temperature}}}}
          - {{id: vanne, role: valve,
             binding: {{protocol: lorawan, device: vanne, field: valve_opening}}}}
          - {{id: pile-vanne, role: measurement, unit: "%",
             binding: {{protocol: lorawan, device: vanne, field: battery}}}}
          - {{id: signal-ambiance, role: measurement, unit: dBm,
             binding: {{protocol: lorawan, device: ambiance, field: rssi}}}}
"""


def radio_site(port: int) -> Site:
    return parse_site(SITE.format(port=port), "radio.yaml")


def test_the_engine_reads_the_commune_through_the_air_and_its_setpoint_reaches_the_room(
        tmp_path: Path) -> None:
    port = free_loopback_port()
    site = radio_site(port)
    clock = SimulatedClock(START)
    virtual = VirtualSite(site, clock, seed=3)
    refs = {ref.key: ref for ref in site.points()}
    driver = mqtt_driver(site, clock)
    assert driver is not None and virtual.radio is not None
    radio = virtual.radio
    valve = radio.devices["vanne"]

    def read(key: str) -> float | None:
        return at_once(driver.read([refs[key]]))[key].value

    async def uplinks(device: str, more: int) -> None:
        """Move the clock from uplink to uplink until ``more`` of the device's are heard
        (some are lost on the air)."""
        simulated = radio.devices[device]
        [counts] = [s.counts[simulated.device] for s in radio.servers
                    if simulated.device in s.counts]
        heard = counts.sent - counts.lost + more
        while counts.sent - counts.lost < heard:
            due = simulated.next_uplink
            assert due is not None
            clock.advance(max(0.0, (due - clock.now()).total_seconds()) + 1)
            await until(lambda due=due: simulated.next_uplink != due,
                        f"{device} transmitted")

    async def scenario() -> None:
        await driver.start()
        try:
            async with virtual.serving(sync_s=0.01):
                await until(lambda: driver.connected, "the engine's driver connected")
                assert radio.connected == set(radio.servers)
                world = virtual.world
                # The valve's bytes (ChirpStack's data), decoded by the engine's codec,
                # are the commune as it stands at the uplink (the clock waits for the
                # engine's driver to receive it).
                def reads_as_commune(*keys: str, rounded: bool = False) -> bool:
                    return all(read(key) == (round(world.read(key)) if rounded else
                                             pytest.approx(world.read(key), abs=0.05))
                               for key in keys)

                await uplinks("vanne", 1)
                await until(lambda: reads_as_commune("salle.grande.consigne") and
                            reads_as_commune("salle.grande.vanne", rounded=True),
                            "the valve's report read as the commune stands")
                battery = read("salle.grande.pile-vanne")
                assert battery is not None and 15 <= battery <= 100
                # The WT101's payload has it in whole %, ChirpStack's status event in
                # hundredths: the engine reads whichever came last.
                assert battery == pytest.approx(valve.battery, abs=0.5)
                # The ambient sensor's decoded object (The Things Stack), the radio's RSSI.
                await uplinks("ambiance", 1)
                await until(lambda: reads_as_commune(
                    "salle.grande.temperature", "salle.grande.co2", "salle.grande.presence"),
                    "the ambient sensor's report read as the commune stands")
                rssi = read("salle.grande.signal-ambiance")
                assert rssi is not None and -125 <= rssi <= -70
                await uplinks("jauge", 1)
                await until(lambda: reads_as_commune("salle.niveau"), "the gauge's level read")

                # A setpoint waits for the valve's next uplink, then heats the room.
                target = 22.0 if world.read("salle.grande.consigne") != 22 else 21.0
                await driver.write(refs["salle.grande.consigne"], target)
                [server] = [s for s in radio.servers if valve.device in s.queues]
                await until(lambda: len(server.queues[valve.device]) == 1,
                            "the downlink queued at the network server")
                assert world.read("salle.grande.consigne") != target  # not before an uplink
                delivered = server.counts[valve.device].downlinks_delivered
                while not sum(delivered.values()):
                    await uplinks("vanne", 1)
                assert world.read("salle.grande.consigne") == target
                await uplinks("vanne", 1)  # the uplink after reports it
                await until(lambda: read("salle.grande.consigne") == target,
                            "the new target reported")
        finally:
            await driver.stop()

    with site_broker(site) as broker:
        assert broker is not None and broker.running
        asyncio.run(scenario())
    assert broker.process is None
    with socket.socket() as probe:  # nothing listens there any more
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_the_wt101s_bytes_are_its_makers_table_read_back_by_the_decoder() -> None:
    fields = {"battery": 87.0, "temperature": -2.5, "target_temperature": 19.0,
              "valve_opening": 42.0}
    payload = wt101_encode(fields)
    # The maker's sample report (tests/data/lorawan/wt101-uplinks.json), its motor
    # channels left out: what the simulated valve reports.
    assert wt101_encode({"battery": 97, "temperature": 26.6, "target_temperature": 30,
                         "valve_opening": 100}) == bytes.fromhex("01756104672C0103670A01059264")
    assert wt101_decode(payload) == fields
    with pytest.raises(ValueError, match="reports no humidity"):
        wt101_encode({"humidity": 50.0})
    with pytest.raises(ValueError, match=r"valve_opening 120 % is not within 0\.\.100"):
        wt101_encode({"valve_opening": 120.0})


def test_a_broker_is_stopped_when_its_block_fails_and_its_port_is_said_when_taken(
        tmp_path: Path) -> None:
    port = free_loopback_port()
    with pytest.raises(RuntimeError, match="engine failed"), local_broker(
            port, tmp_path / "broker") as broker:
        assert broker.running
        raise RuntimeError("engine failed")
    assert not broker.running
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(BrokerError) as taken, local_broker(port):
            pass
        assert "127.0.0.1:" + str(port) in taken.value.reason.fr
        assert "déjà pris" in taken.value.reason.fr


def test_a_missing_mosquitto_says_which_package_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sim_broker, "MOSQUITTO", tmp_path / "mosquitto")
    with pytest.raises(BrokerError) as missing, local_broker(free_loopback_port()):
        pass
    assert "installez le paquet mosquitto" in missing.value.reason.fr


def test_only_a_plain_loopback_broker_is_the_simulations_own_and_its_port_can_move() -> None:
    site = radio_site(18830)
    moved = with_mqtt_port(site, 18999)
    assert moved.mqtt is not None and moved.mqtt.port == 18999
    assert with_mqtt_port(site, None) is site
    elsewhere = site.model_copy(update={"mqtt": site.mqtt.model_copy(
        update={"host": "10.0.0.5"})})
    with site_broker(elsewhere) as broker:
        assert broker is None
    with pytest.raises(ValueError, match=r"plain broker on loopback, not on 10\.0\.0\.5:18830"):
        VirtualSite(elsewhere, SimulatedClock(START))


DEMO_WATCH = Watch(high=3.5, high_high=4.2, hysteresis=0.1, delay_s=600)


def winter_levels(river: RiverLevel, winter: int) -> list[float]:
    start = datetime(winter, 10, 1, tzinfo=UTC)
    return [river.level((start + timedelta(hours=h)).timestamp()) for h in range(0, 24 * 240)]


def test_the_river_floods_past_its_warning_every_winter_and_rarely_past_its_alarm() -> None:
    past_alarm = 0
    for seed in range(20):
        river = RiverLevel(DEMO_WATCH, (0.0, 6.0), f"{seed}:mairie.niveau-scarpe")
        levels = winter_levels(river, 2026)
        assert max(levels) > DEMO_WATCH.high
        assert min(levels) < 0.8 * DEMO_WATCH.high
        assert all(0 <= level <= 6 for level in levels)
        assert max(abs(b - a) for a, b in itertools.pairwise(levels)) < 0.3  # m an hour
        past_alarm += max(levels) > DEMO_WATCH.high_high
        summer = datetime(2027, 7, 15, tzinfo=UTC).timestamp()
        assert river.level(summer) < 0.5 * DEMO_WATCH.high
    assert 1 <= past_alarm <= 8  # about one winter in five
    again = RiverLevel(DEMO_WATCH, (0.0, 6.0), "0:mairie.niveau-scarpe")
    assert winter_levels(again, 2026) == winter_levels(
        RiverLevel(DEMO_WATCH, (0.0, 6.0), "0:mairie.niveau-scarpe"), 2026)


def test_the_commune_plays_the_river_until_a_scenario_holds_it() -> None:
    site = radio_site(18830)
    world = VirtualCommune(site, datetime(2026, 10, 1, tzinfo=UTC), seed=0)
    river = world.rivers[0]
    [(peak, _)] = [(f.peak_at, f) for f in river.floods(2026) if f.peak > 3.5][:1]
    world.advance_to(datetime.fromtimestamp(peak, UTC))
    assert world.read("salle.niveau") > 3.5
    world.set_measurement("salle.niveau", 1.0)
    assert world.read("salle.niveau") == 1.0
    # The other measurements hold the middle of their range, as before.
    assert world.read("salle.grande.pile-vanne") == sum(
        site.point("salle.grande.pile-vanne").point.physical_range) / 2


def test_without_its_broker_the_commune_goes_on_and_its_network_servers_come_back(
        tmp_path: Path) -> None:
    """The Modbus and BACnet devices never wait on the broker: the uplinks heard while it
    is away are lost (counted ``unpublished``), and once it listens the servers connect
    and publish again."""
    port = free_loopback_port()
    site = radio_site(port)
    clock = SimulatedClock(START)
    virtual = VirtualSite(site, clock, seed=3)
    assert virtual.radio is not None
    radio = virtual.radio

    def unpublished() -> int:
        return sum(c.unpublished for s in radio.servers for c in s.counts.values())

    def published() -> int:
        return sum(c.sent - c.lost - c.unpublished for s in radio.servers
                   for c in s.counts.values())

    async def scenario(broker: contextlib.ExitStack) -> None:
        async with virtual.serving(sync_s=0.01):
            assert not radio.connected
            clock.advance(3600)
            await until(lambda: unpublished() >= 10, "uplinks lost while the broker is away")
            assert published() == 0
            assert virtual.world.now == clock.now().replace(second=0, microsecond=0)
            broker.enter_context(local_broker(port, tmp_path / "broker"))
            await until(lambda: radio.connected == set(radio.servers), "reconnected")
            clock.advance(3600)
            await until(lambda: published() >= 10, "uplinks published again")

    with contextlib.ExitStack() as broker:  # stopped after the servers disconnected
        asyncio.run(scenario(broker))


def test_the_demo_communes_wireless_devices_are_read_by_its_engine(
        demo_site_on_air: Site) -> None:
    """The salle des fêtes' valves and ambient sensor and the Scarpe's gauge, each with
    its own link and battery, read through the demo's broker by the engine's driver."""
    site = demo_site_on_air
    clock = SimulatedClock(START)
    virtual = VirtualSite(site, clock, seed=0)
    assert virtual.radio is not None
    radio = virtual.radio
    assert set(radio.devices) == {"vanne-grande-salle", "vanne-petite-salle",
                                  "ambiance-grande-salle", "jauge-scarpe"}
    assert len(radio.groups) == 2  # the buildings' application and the sensors'
    links = {(d.rssi, d.snr) for d in radio.devices.values()}
    assert len(links) == 4
    for device in radio.devices.values():  # a battery lasts years at its interval
        years = device.battery / device.drain * device.interval / timedelta(days=365.25)
        assert 0.4 <= years <= 3.0
    keys = [ref.key for ref in site.points() if ref.binding.protocol == "lorawan"]
    driver = mqtt_driver(site, clock)
    assert driver is not None

    async def scenario() -> None:
        await driver.start()
        try:
            async with virtual.serving(sync_s=0.01):
                await until(lambda: driver.connected, "the engine's driver connected")
                refs = [site.point(key) for key in keys]
                for _ in range(12):  # two hours: every device heard, lost uplinks or not
                    clock.advance(600)
                    await until(lambda: all(d.next_uplink > clock.now()
                                            for d in radio.devices.values()), "transmitted")
                await until(lambda: all(r.ok for r in at_once(driver.read(refs)).values()),
                            "every LoRaWAN point of the demo read")
                readings = at_once(driver.read(refs))
                level = readings["mairie.niveau-scarpe"].value
                assert level is not None and 0.5 < level < 3.5  # a December day, no flood
        finally:
            await driver.stop()

    with site_broker(site):
        asyncio.run(scenario())


def test_gtb_sim_says_when_the_brokers_port_is_taken(demo_site_text: str,
                                                     tmp_path: Path) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(demo_site_text, encoding="utf-8")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = CliRunner().invoke(main, ["sim", str(site_file), "--mqtt-port", str(port)])
    assert result.exit_code == 1, result.output
    assert f"le port 127.0.0.1:{port} du courtier MQTT est déjà pris" in result.output


def test_gtb_sim_stops_its_broker_when_it_is_told_to_stop(tmp_path: Path) -> None:
    """SIGTERM (systemd, docker stop, kill) stops gtb sim as Ctrl-C does: the broker it
    started is stopped with it, never left running."""
    port = free_loopback_port()
    site_file = tmp_path / "radio.yaml"
    site_file.write_text(SITE.format(port=port), encoding="utf-8")
    said = tmp_path / "stdout.txt"
    with said.open("w", encoding="utf-8") as stdout:
        sim = subprocess.Popen([sys.executable, "-m", "gtb.cli", "sim", str(site_file),
                                "--speed", "60"], cwd=tmp_path, stdout=stdout,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while "Ctrl-C to stop" not in said.read_text(encoding="utf-8"):  # serving
            assert sim.poll() is None and time.monotonic() < deadline, sim.communicate()
            time.sleep(0.05)
        assert listening(port)
        sim.send_signal(signal.SIGTERM)
        _, err = sim.communicate(timeout=60)
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.communicate()
    out = said.read_text(encoding="utf-8")
    assert sim.returncode == 0, err
    assert f"courtier MQTT Mosquitto démarré sur 127.0.0.1:{port}" in out
    assert "stopped" in out
    assert not listening(port)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_gtb_sim_refuses_generic_mqtt_points_saying_which(tmp_path: Path) -> None:
    site_file = tmp_path / "essai.yaml"
    site_file.write_text(generic_mqtt_site(), encoding="utf-8")
    result = CliRunner().invoke(main, ["sim", str(site_file)])
    assert result.exit_code == 1, result.output
    assert ("the virtual commune does not simulate generic MQTT devices (protocol: mqtt) "
            "yet: salle.compteur") in result.output


def test_a_broker_outlives_no_process_that_started_it_even_killed(tmp_path: Path) -> None:
    """SIGKILL leaves no ``finally`` to run: the kernel stops the broker (setpriv's
    parent-death signal)."""
    port = free_loopback_port()
    starter = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom pathlib import Path\n"
         "from gtb.sim.broker import local_broker\n"
         f"with local_broker({port}, Path({str(tmp_path / 'broker')!r})):\n"
         "    print('up', flush=True)\n    time.sleep(600)\n"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert starter.stdout is not None and starter.stdout.readline() == "up\n"
        assert listening(port)
        starter.kill()
        starter.wait()
        deadline = time.monotonic() + 30
        while listening(port):
            assert time.monotonic() < deadline, "the broker outlived its starter"
            time.sleep(0.05)
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait()
