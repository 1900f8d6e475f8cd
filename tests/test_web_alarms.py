"""The alarms page through Flask's test client on a real store file: who may acknowledge,
CSRF, the audit line, the history newest first and paged, and the page in English."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gtb.model import Site
from gtb.store.audit import Alarm

from .web_rig import NOW, PanelRig, csrf, panel_rig


@pytest.fixture
def rig(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    yield from panel_rig(demo_site, tmp_path / "gtb.sqlite")


@pytest.fixture
def alarm(rig: PanelRig) -> Alarm:
    """An active alarm raised an hour ago on the mairie's reception."""
    raised, new = rig.store.alarms.raise_(
        "device:mairie", at=NOW - timedelta(hours=1), severity="critical",
        message="Automate de la mairie muet", building="mairie", zone="accueil")
    assert new
    return raised


def ack(rig: PanelRig, client_name: str, alarm_id: int, *, token: bool = True) -> int:
    client = rig.client(client_name)
    data = {"csrf_token": csrf(client, "/login")} if token else {}
    return client.post(f"/alarms/{alarm_id}/ack", data=data).status_code


def text(client: object, path: str) -> str:
    response = client.get(path)  # type: ignore[attr-defined]
    assert response.status_code == 200, response.data
    return html.unescape(response.get_data(as_text=True))


def test_the_page_needs_a_sign_in(rig: PanelRig) -> None:
    response = rig.client().get("/alarms")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_viewer_sees_the_active_alarm_but_cannot_acknowledge_it(
    rig: PanelRig, alarm: Alarm
) -> None:
    page = text(rig.client("mairie-viewer"), "/alarms")
    live = page[page.index('<div id="live"'):page.index('id="history"')]
    assert "Automate de la mairie muet" in live
    assert "Mairie — Accueil et état civil" in live
    assert "12/01/2026 09:00" in live and "critique" in live and "non acquittée" in live
    assert "Acquitter" not in page
    assert ack(rig, "mairie-viewer", alarm.id) == 403
    assert rig.store.alarms.active()["device:mairie"].acknowledged_at is None
    assert rig.store.audit.events(kind="alarm_acknowledged") == []


def test_an_operator_acknowledges_and_the_audit_log_says_so(rig: PanelRig, alarm: Alarm) -> None:
    client = rig.client("marie")
    assert f'action="/alarms/{alarm.id}/ack"' in text(client, "/alarms")
    rig.clock.advance(300)
    response = client.post(f"/alarms/{alarm.id}/ack",
                           data={"csrf_token": csrf(client, "/alarms")})
    assert response.status_code == 302 and response.headers["Location"].endswith("/alarms")
    stored = rig.store.alarms.active()["device:mairie"]
    assert (stored.acknowledged_by, stored.acknowledged_at) == ("marie", NOW + timedelta(minutes=5))
    assert stored.cleared_at is None  # seen, not solved: it stays until the engine clears it
    [event] = rig.store.audit.events(kind="alarm_acknowledged")
    assert event.actor == "marie" and event.data["alarm"] == alarm.id
    assert (event.building, event.zone) == ("mairie", "accueil")
    page = text(client, "/alarms")
    assert "Alarme acquittée." in page
    assert "par marie le 12/01/2026 10:05" in page
    assert f'action="/alarms/{alarm.id}/ack"' not in page


def test_acknowledging_needs_the_csrf_token(rig: PanelRig, alarm: Alarm) -> None:
    assert ack(rig, "marie", alarm.id, token=False) == 400
    assert rig.store.alarms.active()["device:mairie"].acknowledged_at is None


def test_twice_or_an_unknown_alarm_is_refused_with_a_reason(rig: PanelRig, alarm: Alarm) -> None:
    client = rig.client("marie")
    token = csrf(client, "/alarms")
    assert client.post(f"/alarms/{alarm.id}/ack", data={"csrf_token": token}).status_code == 302
    again = client.post(f"/alarms/{alarm.id}/ack", data={"csrf_token": token})
    assert again.status_code == 409
    assert "Alarme déjà acquittée" in html.unescape(again.get_data(as_text=True))
    unknown = client.post("/alarms/999/ack", data={"csrf_token": token})
    assert unknown.status_code == 404 and "Alarme inconnue : 999" in unknown.get_data(as_text=True)
    assert len(rig.store.audit.events(kind="alarm_acknowledged")) == 1


def test_a_cleared_alarm_leaves_the_active_list_and_stays_in_the_history(
    rig: PanelRig, alarm: Alarm
) -> None:
    rig.store.alarms.clear("device:mairie", at=NOW - timedelta(minutes=10))
    page = text(rig.client("marie"), "/alarms")
    live = page[page.index('<div id="live"'):page.index('id="history"')]
    assert "Aucune alarme en cours." in live and "Automate de la mairie muet" not in live
    history = page[page.index('id="history"'):]
    assert "Automate de la mairie muet" in history and "12/01/2026 09:50" in history
    assert "Acquitter" not in page


def test_the_history_is_newest_first_fifty_a_page(rig: PanelRig) -> None:
    for n in range(60):
        at = NOW - timedelta(days=60 - n)
        rig.store.alarms.raise_(f"point:{n}", at=at, severity="warning",
                              message=f"Capteur n°{n:02d} muet")
        rig.store.alarms.clear(f"point:{n}", at=at + timedelta(hours=1))
    client = rig.client("mairie-viewer")
    first = text(client, "/alarms")
    shown = [int(n) for n in re.findall(r"Capteur n°(\d+) muet", first)]
    assert shown == list(range(59, 9, -1))
    older = re.search(r'href="([^"]+)" rel="next">Alarmes plus anciennes', first)
    assert older is not None and 'rel="prev"' not in first
    second = text(client, html.unescape(older[1]))
    assert [int(n) for n in re.findall(r"Capteur n°(\d+) muet", second)] == list(range(9, -1, -1))
    assert "Alarmes plus récentes" in second and "Alarmes plus anciennes" not in second
    for bad in ("0", "abc", "-1"):
        response = client.get(f"/alarms?page={bad}")
        assert response.status_code == 400
        assert "Page invalide" in html.unescape(response.get_data(as_text=True))


def test_the_active_list_refreshes_itself(rig: PanelRig, alarm: Alarm) -> None:
    page = text(rig.client("mairie-viewer"), "/alarms")
    assert re.search(r'<div id="live" hx-get="/alarms" hx-trigger="every 10s" '
                     r'hx-select="#live" hx-swap="outerHTML">', page)
    rig.store.alarms.raise_("point:x", at=NOW, severity="warning", message="Sonde CO2 muette")
    assert "Sonde CO2 muette" in text(rig.client("mairie-viewer"), "/alarms")


def test_the_page_in_english(rig: PanelRig, alarm: Alarm) -> None:
    client = rig.client("marie")
    client.get("/lang/en")
    page = text(client, "/alarms")
    for english in ("Active alarms", "Alarm history", "Severity", "Since", "Where",
                    "critical", "not acknowledged", "Acknowledge", "still active"):
        assert english in page
    for french in ("Acquitter", "Historique des alarmes", "non acquittée", "Gravité"):
        assert french not in page
    response = client.post(f"/alarms/{alarm.id}/ack", data={"csrf_token": csrf(client, "/alarms")})
    assert response.status_code == 302
    assert "Alarm acknowledged." in text(client, "/alarms")
    # An alarm said in English too shows in English; one said in French only, in French.
    assert "Automate de la mairie muet" in page
    rig.store.alarms.raise_("device:ecole", at=NOW, severity="warning",
                          message="Automate de l'école muet",
                          message_en="The school's controller is silent", building="ecole")
    page = text(client, "/alarms")
    assert "The school's controller is silent" in page and "de l'école muet" not in page
    assert "The school's controller is silent" in text(client, "/")
