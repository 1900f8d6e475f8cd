"""A LoRaWAN device's low battery and weak link alarms (``gtb.engine.alarms.LorawanAlarms``):
fed with samples as the engine's tick hands them over, with a real store; then through an
engine reading a fake network server's uplinks on Debian's Mosquitto (``mosquitto``
fixture)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gtb.cli.wiring import mqtt_driver
from gtb.clock import SimulatedClock
from gtb.config import parse_site
from gtb.engine import Engine
from gtb.engine.alarms import LorawanAlarms
from gtb.engine.journal import Journal
from gtb.model import Site
from gtb.model.lorawan import LorawanAlarmSettings, LorawanDevice
from gtb.model.mqtt import PASSWORD_ENV
from gtb.model.points import Quality
from gtb.site_yaml import SiteFileError
from gtb.store import Store
from gtb.store.samples import Sample
from tests.mosquitto_rig import ENGINE_PASSWORD, ENGINE_USER, Mosquitto
from tests.test_lorawan_points import (
    DATA,
    DEVICES,
    VALVE_TOPICS,
    chirpstack_up,
    docs_example,
    errors_of,
    site_text,
)
from tests.test_mqtt_driver import at_once, device, until

SNR = """\
          - id: snr
            role: measurement
            unit: dB
            binding: {protocol: lorawan, device: vanne-1, field: snr}
"""

SITE = parse_site(site_text(commands=SNR), "essai.yaml")
BATTERY, RSSI, SNR_KEY = "salle.grande.batterie", "salle.grande.rssi", "salle.grande.snr"
START = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


class Rig:
    """The alarms of ``SITE``'s devices, a real store, and a clock the test moves."""

    def __init__(self, db: Path, site: Site = SITE) -> None:
        self.store = Store(db)
        self.clock = SimulatedClock(START)
        self.alarms = LorawanAlarms(site.lorawan, {ref.key: ref for ref in site.points()},
                                    self.store, Journal(self.store, self.clock, site.id))

    def tick(self, *samples: Sample) -> dict[str, str]:
        """One tick a minute later, with these samples: the active alarms' French."""
        self.clock.advance(60)
        self.alarms.follow(self.clock.now(), samples, self.store.alarms.active())
        return {key: alarm.message for key, alarm in self.store.alarms.active().items()}

    def uplink(self, rssi: float, snr: float = 5.0) -> dict[str, str]:
        """An uplink heard with this signal, arrived ten minutes after the last."""
        self.clock.advance(540)
        arrived = self.clock.now()
        return self.tick(Sample(RSSI, arrived, rssi), Sample(SNR_KEY, arrived, snr))

    def events(self) -> list[str]:
        return [event.message for event in reversed(self.store.audit.events(kind="alarm"))]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path / "gtb.db")
    yield rig
    rig.store.close()


def battery(rig: Rig, level: float) -> dict[str, str]:
    return rig.tick(Sample(BATTERY, rig.clock.now(), level))


LOW = ("vanne-1 : pile à 18 % (seuil 20 %) — changer la pile, ou l'appareil si sa pile ne "
       "se change pas")


def test_a_low_battery_is_raised_once_and_cleared_above_its_hysteresis(rig: Rig) -> None:
    assert battery(rig, 20) == {}
    assert battery(rig, 18) == {"lorawan_battery:vanne-1": LOW}
    assert battery(rig, 16) == {"lorawan_battery:vanne-1": LOW}  # raised once, as it was
    assert battery(rig, 24) == {"lorawan_battery:vanne-1": LOW}  # not yet a new battery
    assert battery(rig, 100) == {}
    assert rig.events() == [f"Alarme : {LOW}", f"Fin d'alarme : {LOW}"]
    [alarm] = rig.store.alarms.history()
    assert (alarm.severity, alarm.point) == ("warning", BATTERY)
    assert alarm.message_en == ("vanne-1: battery at 18% (threshold 20%) — replace the "
                                "battery, or the device if it cannot be replaced")


def test_an_unknown_battery_or_signal_raises_nothing_and_ends_nothing(rig: Rig) -> None:
    assert rig.tick(Sample(BATTERY, START, None, Quality.FAILED, "vanne-1 : aucune remontée"),
                    Sample(RSSI, START, -80.0, Quality.STALE)) == {}
    assert battery(rig, 10) != {}
    assert rig.tick() == battery(rig, 22)  # nothing read: the alarm stays as it was
    assert rig.store.alarms.active()


WEAK = ("vanne-1 : liaison radio faible sur les 5 dernières remontées (RSSI médian -124 dBm, "
        "seuil -120 dBm) — vérifier l'emplacement et l'antenne de l'appareil, ou demander "
        "une passerelle plus proche à l'opérateur du réseau")


def test_a_weak_link_is_judged_on_the_median_of_the_last_uplinks(rig: Rig) -> None:
    for rssi in (-80, -126, -81, -125, -119):  # two uplinks heard badly: median -119
        assert rig.uplink(rssi) == {}
    # The same uplink sampled again at each tick counts once.
    arrived = rig.clock.now() - timedelta(seconds=60)
    for _ in range(3):
        assert rig.tick(Sample(RSSI, arrived, -119.0)) == {}
    assert rig.uplink(-124) == {"lorawan_link:vanne-1": WEAK}  # three bad of the last five
    for rssi in (-118, -90, -91):  # medians -119, -119, -118: not the margin above -120
        assert rig.uplink(rssi) == {"lorawan_link:vanne-1": WEAK}
    assert rig.uplink(-92) == {}  # median -92
    assert rig.events() == [f"Alarme : {WEAK}", f"Fin d'alarme : {WEAK}"]
    [alarm] = rig.store.alarms.history()
    assert (alarm.severity, alarm.point) == ("warning", RSSI)


def test_a_low_snr_is_a_weak_link_too(rig: Rig) -> None:
    for _ in range(4):
        assert rig.uplink(-100, snr=-17.5) == {}  # four uplinks: not yet judged
    assert rig.uplink(-100, snr=-17.5) == {"lorawan_link:vanne-1": (
        "vanne-1 : liaison radio faible sur les 5 dernières remontées (SNR médian -17,5 dB, "
        "seuil -15 dB) — vérifier l'emplacement et l'antenne de l'appareil, ou demander une "
        "passerelle plus proche à l'opérateur du réseau")}


def test_a_site_sets_each_devices_thresholds(tmp_path: Path) -> None:
    site = parse_site(site_text(commands=SNR, devices=DEVICES.replace(
        "    interval_s: 600\n", "    interval_s: 600\n    alarms: {battery_low: 30, "
        "battery_ok: 40, rssi_weak: -110, uplinks: 3}\n")), "essai.yaml")
    rig = Rig(tmp_path / "gtb.db", site)
    try:
        assert list(battery(rig, 29)) == ["lorawan_battery:vanne-1"]
        assert battery(rig, 39) and not battery(rig, 40)
        assert rig.uplink(-111) == rig.uplink(-111) == {}
        assert list(rig.uplink(-111)) == ["lorawan_link:vanne-1"]
    finally:
        rig.store.close()


def test_a_battery_hysteresis_upside_down_is_refused_where_it_is_written() -> None:
    text = site_text(devices=DEVICES.replace(
        "    interval_s: 600\n", "    interval_s: 600\n    alarms: {battery_ok: 15}\n"))
    with pytest.raises(SiteFileError):
        parse_site(text, "essai.yaml")
    [(line, path, message)] = errors_of(text)
    assert (line, path) == (14, "lorawan[vanne-1].alarms")
    assert "battery_ok (15) must be above battery_low (20)" in message


def test_the_engine_raises_them_from_a_network_servers_uplinks(
        mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``gtb run``'s wiring: a fake network server publishes as ChirpStack a status with a
    low battery and five uplinks heard at -125 dBm; the engine's ticks raise both alarms."""
    site = parse_site(site_text(broker=f"mqtt:\n  host: 127.0.0.1\n  port: {mosquitto.port}\n"
                                f"  username: {ENGINE_USER}\n", commands=SNR), "essai.yaml")
    monkeypatch.setenv(PASSWORD_ENV, ENGINE_PASSWORD)
    clock = SimulatedClock(START)
    driver = mqtt_driver(site, clock)
    assert driver is not None
    store = Store(tmp_path / "gtb.db")
    status = json.loads((DATA / "chirpstack-status.json").read_text(encoding="utf-8"))
    status["batteryLevel"] = 12.0
    rssi = site.point(RSSI)

    async def scenario() -> None:
        engine = Engine(site, store, {"mqtt": driver, "lorawan": driver}, clock)
        async with device(mosquitto) as server:
            await engine.start()
            try:
                await until(lambda: driver.connected, "connected")
                await server.publish(VALVE_TOPICS[2], json.dumps(status).encode(), qos=1)
                for f_cnt in range(1, 6):
                    clock.advance(600)
                    await server.publish(VALVE_TOPICS[0], chirpstack_up(
                        f_cnt, clock.now(), 19.0, ("0016c001f153a14c", -125.0)), qos=1)
                    await until(lambda: at_once(driver.read([rssi]))[RSSI].at == clock.now(),
                                "the uplink read")
                    await engine.tick()
            finally:
                await engine.stop()
        active = store.alarms.active()
        assert active["lorawan_battery:vanne-1"].message.startswith("vanne-1 : pile à 12 %")
        assert "RSSI médian -125 dBm" in active["lorawan_link:vanne-1"].message

    try:
        asyncio.run(scenario())
    finally:
        store.close()


def test_the_alarm_settings_docs_lorawan_shows_are_the_defaults() -> None:
    [entry] = docs_example("# a device of `lorawan:`")
    shown = LorawanDevice.model_validate(entry)
    assert shown.alarms == LorawanAlarmSettings() and set(entry["alarms"]) == set(
        LorawanAlarmSettings.model_fields)
