"""A LoRaWAN command waiting for its valve's report, as people see it: the building's page
and the zone's page, in French and English, the API, and a phone's browser (Debian's
Chromium at 390×844, driven by Playwright; its screenshots in
``test-artifacts/browser/390x844-lorawan-wait-*.png``).

The engine does not run here: its status is written as its tick writes it
(``tests.web_rig``), with the wait the valve's points say (``protocols.lorawan_points``,
fed with the valve's uplinks as the MQTT driver hands them over)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from gtb.model import Site
from gtb.texts import Reason
from protocols.lorawan_points import LorawanPoints
from web import PanelServer
from web.auth import hash_token

from .conftest import free_port
from .test_browser import CHROMIUM, CHROMIUM_ARGS, PHONE, WAIT_MS, shot
from .web_rig import NOW, PASSWORD, PanelRig, panel_rig

BUILDING = "/building/salle-des-fetes"
ZONE = "/zone/salle-des-fetes/grande-salle"
SENT = datetime(2026, 1, 12, 5, 12, tzinfo=UTC)  # 06:12 in Paris
WT101_UPLINK = Path(__file__).resolve().parent / "data" / "lorawan" / "chirpstack-up-wt101.json"


@pytest.fixture
def rig(demo_site_on_air: Site, tmp_path: Path) -> Iterator[PanelRig]:
    yield from panel_rig(demo_site_on_air, tmp_path / "gtb.sqlite")


def valve_wait(site: Site) -> Reason:
    """What the grande salle's valve says of a setpoint of 21 °C sent at 06:12, taken at
    its uplink of 06:20 and waiting for the one that reports it: the maker's sample
    uplink, on the demo's valve, before and after the send."""
    lorawan = LorawanPoints(site.lorawan, [ref for ref in site.points()
                                           if ref.binding.protocol == "lorawan"], site.tz)
    consigne = site.point("salle-des-fetes.grande-salle.consigne")
    device = next(d for d in site.lorawan if d.id == "vanne-grande-salle")
    sample = json.loads(WT101_UPLINK.read_text(encoding="utf-8"))
    for f_cnt, at in ((1, SENT - timedelta(minutes=2)), (2, SENT + timedelta(minutes=8))):
        sample.update(fCnt=f_cnt, time=at.isoformat(),
                      deviceInfo={**sample["deviceInfo"], "devEui": device.dev_eui,
                                  "applicationId": device.application})
        if f_cnt == 2:
            planned = lorawan.downlink(consigne, 21.0, SENT)
            assert planned is not None
            lorawan.published(consigne, 21.0, planned, SENT)
        assert lorawan.receive(device.topics[0], json.dumps(sample).encode(), at)
    pending = lorawan.reading(consigne, SENT + timedelta(minutes=9)).pending
    assert pending is not None
    return pending.why


def test_the_wait_reads_on_the_building_and_zone_pages_in_both_languages(
        rig: PanelRig) -> None:
    client = rig.client("mairie-viewer")
    rig.show_zone("salle-des-fetes.grande-salle", SENT, setpoint=21.0)
    assert 'id="waiting"' not in client.get(ZONE).get_data(as_text=True)
    rig.show_zone("salle-des-fetes.grande-salle", SENT + timedelta(minutes=9), setpoint=21.0,
                  waiting=valve_wait(rig.site))
    said = ("consigne 21 °C : envoi à 06:12, remis à vanne-grande-salle à 06:20, "
            "confirmation attendue à sa remontée suivante, vers 06:30")
    page = client.get(ZONE).get_data(as_text=True)
    assert "<dt>Envoi en attente</dt>" in page and said in page
    page = client.get(BUILDING).get_data(as_text=True)
    assert "en attente de l&#39;appareil" in page and said in page
    client.get("/lang/en")
    page = client.get(ZONE).get_data(as_text=True)
    assert "<dt>Command waiting</dt>" in page and (
        "consigne 21 °C: sent at 06:12, delivered to vanne-grande-salle at 06:20, "
        "confirmation expected in its next uplink, about 06:30") in page
    assert "waiting for the device" in client.get(BUILDING).get_data(as_text=True)


def test_the_api_carries_the_wait(rig: PanelRig) -> None:
    rig.show_zone("salle-des-fetes.grande-salle", SENT, setpoint=21.0,
                  waiting=valve_wait(rig.site))
    token = "gtb_token-of-the-viewer"
    rig.store.accounts.add_token("mairie-viewer", hash_token(token), "tests", at=NOW,
                                 expires_at=NOW + timedelta(days=1))

    def status() -> Any:
        answer = rig.app.test_client().get("/api/zones/salle-des-fetes/grande-salle",
                                           headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.data
        return answer.json["status"]  # type: ignore[index]

    assert status()["waiting"]["fr"].startswith("consigne 21 °C : envoi à 06:12")
    assert status()["waiting"]["en"].startswith("consigne 21 °C: sent at 06:12")
    rig.show_zone("salle-des-fetes.grande-salle", SENT + timedelta(minutes=20), setpoint=21.0)
    assert status()["waiting"] is None


def test_on_a_phone_the_wait_is_one_tap_away_and_fits_the_screen(rig: PanelRig) -> None:
    rig.show_zone("salle-des-fetes.grande-salle", SENT, setpoint=21.0,
                  waiting=valve_wait(rig.site))
    port = free_port()
    server = PanelServer(rig.app, "127.0.0.1", port)
    server.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                 headless=True)
            try:
                context = browser.new_context(**PHONE)  # type: ignore[arg-type]
                context.set_default_timeout(WAIT_MS)
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{port}/login")
                page.locator("#name").fill("mairie-viewer")
                page.locator("#password").fill(PASSWORD)
                page.get_by_role("button", name="Se connecter").tap()
                expect(page.get_by_role("button", name=re.compile("Se déconnecter"))
                       ).to_be_visible()
                page.goto(f"http://127.0.0.1:{port}{BUILDING}")
                waiting = page.locator("#waiting-salle-des-fetes\\.grande-salle")
                sentence = waiting.get_by_text(re.compile("confirmation attendue"))
                expect(sentence).to_be_hidden()
                waiting.get_by_text("en attente de l'appareil").tap()
                expect(sentence).to_be_visible()
                assert page.evaluate("document.documentElement.scrollWidth") <= 390
                shot(page, "lorawan-wait-building")
                page.goto(f"http://127.0.0.1:{port}{ZONE}")
                expect(page.locator("#waiting")).to_contain_text(
                    "remis à vanne-grande-salle à 06:20")
                assert page.evaluate("document.documentElement.scrollWidth") <= 390
                shot(page, "lorawan-wait-zone")
            finally:
                browser.close()
    finally:
        server.stop()
