"""The panel through Flask's test client on a real store file: sign-in and its audit, roles,
CSRF, validation, and the language."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gtb.model import Site
from gtb.texts import said

from .web_rig import NOW, PanelRig, csrf, panel_rig


@pytest.fixture
def rig(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    yield from panel_rig(demo_site, tmp_path / "gtb.sqlite")


ZONE = "/zone/mairie/accueil"


def test_pages_need_a_sign_in(rig: PanelRig) -> None:
    client = rig.client()
    for path in ("/", "/building/mairie", ZONE, ZONE + "/series"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_sign_in_failures_and_successes_are_audited(rig: PanelRig) -> None:
    client = rig.client()
    token = csrf(client, "/login")
    response = client.post("/login", data={"name": "marie", "password": "wrong password",
                                           "csrf_token": token})
    assert response.status_code == 401
    assert "Nom ou mot de passe incorrect." in response.get_data(as_text=True)
    [failed] = rig.store.audit.events(kind="login_failed")
    assert failed.actor == "marie"
    rig.client("marie")
    [ok] = rig.store.audit.events(kind="login")
    assert ok.actor == "marie" and ok.reason == "rôle opérateur" and ok.reason_en == "role operator"


def test_a_form_without_its_csrf_token_is_refused(rig: PanelRig) -> None:
    client = rig.client("marie")
    response = client.post(ZONE + "/override", data={"value": "20", "duration": "1h",
                                                     "why": "réunion"})
    assert response.status_code == 400
    assert rig.store.overrides.active(NOW) == {}


def test_an_operator_overrides_a_zone_and_the_audit_log_says_so(rig: PanelRig) -> None:
    client = rig.client("marie")
    token = csrf(client, ZONE)
    response = client.post(ZONE + "/override", data={
        "value": "20,5", "duration": "2h", "why": "permanence", "csrf_token": token})
    assert response.status_code == 302
    [override] = rig.store.overrides.active(NOW).values()
    assert (override.value, override.who, override.why) == (20.5, "marie", "permanence")
    assert override.until - override.start == timedelta(hours=2)
    [event] = rig.store.audit.events(kind="override")
    assert event.actor == "marie" and event.reason == "permanence"
    page = client.get(ZONE).get_data(as_text=True)
    assert "en attente du prochain passage du moteur" in page
    # The engine applies it at its tick, and says so in the store.
    rig.show_zone("mairie.accueil", NOW + timedelta(minutes=1), setpoint=20.5,
                  source="override", reason=said("Dérogation de marie", "Override by marie"))
    page = client.get(ZONE).get_data(as_text=True)
    assert "appliquée par le moteur" in page and "Dérogation de marie" in page
    response = client.post(ZONE + "/cancel", data={"why": "fini", "csrf_token": token})
    assert response.status_code == 302
    assert rig.store.overrides.active(NOW) == {}
    assert [e.reason for e in rig.store.audit.events(kind="override_cancelled")] == ["fini"]


def test_a_new_override_replaces_the_one_in_force_and_cancelling_it_brings_none_back(
    rig: PanelRig,
) -> None:
    client = rig.client("marie")
    token = csrf(client, ZONE)
    for value, why in (("20", "permanence"), ("18", "salle vide")):
        response = client.post(ZONE + "/override", data={
            "value": value, "duration": "2h", "why": why, "csrf_token": token})
        assert response.status_code == 302
    first, second = sorted(rig.store.overrides.history(), key=lambda o: o.id)
    assert list(rig.store.overrides.active(NOW).values()) == [second]
    assert (first.cancelled_at, first.cancelled_by, first.cancel_reason) == (
        NOW, "marie", f"remplacée par la dérogation n° {second.id}")
    newest = rig.store.audit.events(kind="override")[0]
    assert newest.message.endswith(
        f"— remplace la dérogation n° {first.id} de marie (20 °C)")
    assert newest.message_en is not None and newest.message_en.endswith(
        f"— replaces override {first.id} by marie (20 °C)")
    assert newest.data["replaced"] == first.id
    response = client.post(ZONE + "/cancel", data={"why": "fini", "csrf_token": token})
    assert response.status_code == 302
    assert rig.store.overrides.active(NOW) == {}  # the first one does not come back


@pytest.mark.parametrize(("form", "message"), [
    ({"value": "35", "duration": "1h", "why": "froid"}, "hors des limites de la zone"),
    ({"value": "abc", "duration": "1h", "why": "froid"}, "n'est pas une température"),
    ({"value": "nan", "duration": "1h", "why": "froid"}, "n'est pas une température"),
    ({"value": "-inf", "duration": "1h", "why": "froid"}, "n'est pas une température"),
    ({"value": "20", "duration": "until", "until": "2026-01-12T09:00", "why": "froid"},
     "doit être après maintenant"),
    ({"value": "20", "duration": "1h", "why": "  "}, "Dites pourquoi"),
    ({"value": "20", "duration": "3 jours", "why": "froid"}, "Durée inconnue"),
])
def test_bad_overrides_are_refused_with_a_reason_and_change_nothing(
    rig: PanelRig, form: dict[str, str], message: str
) -> None:
    client = rig.client("marie")
    response = client.post(ZONE + "/override", data={**form, "csrf_token": csrf(client, ZONE)})
    assert response.status_code == 400
    assert message in html.unescape(response.get_data(as_text=True))
    assert rig.store.overrides.active(NOW) == {}
    assert rig.store.audit.events(kind="override") == []


def test_a_viewer_sees_but_cannot_act(rig: PanelRig) -> None:
    client = rig.client("mairie-viewer")
    page = client.get(ZONE)
    assert page.status_code == 200
    assert "Nouvelle dérogation" not in page.get_data(as_text=True)
    token = csrf(client, "/login")
    for action in ("/override", "/cancel", "/learning"):
        response = client.post(ZONE + action, data={"value": "20", "duration": "1h",
                                                    "why": "x", "csrf_token": token})
        assert response.status_code == 403
    assert rig.store.overrides.active(NOW) == {}


def test_an_unknown_zone_is_a_404_in_the_persons_language(rig: PanelRig) -> None:
    client = rig.client("marie")
    response = client.get("/zone/mairie/grenier")
    assert response.status_code == 404
    assert "Zone inconnue : mairie.grenier" in response.get_data(as_text=True)
    client.get("/lang/en")
    response = client.get("/zone/mairie/grenier")
    assert "Unknown zone: mairie.grenier" in response.get_data(as_text=True)
    assert 'lang="en"' in client.get("/").get_data(as_text=True)


def test_an_occupied_period_under_way_shows_until_when_not_its_start(rig: PanelRig) -> None:
    """NOW is Monday 12 January 10:00: the engine's forecast of 08:00-12:00 is under way;
    an hour after it ends, the forecast is the afternoon's."""
    client = rig.client("mairie-viewer")

    def status(at_hour: int, start: str, end: str) -> str:
        rig.show_zone("mairie.accueil", NOW.replace(hour=at_hour),
                      next_arrival=datetime.fromisoformat(start),
                      next_arrival_end=datetime.fromisoformat(end),
                      next_arrival_reason=said("appris sur 5 jours", "learned on 5 days"))
        return html.unescape(client.get(ZONE).get_data(as_text=True))

    # The engine's forecast may start at the very moment of its tick, to the microsecond.
    page = status(10, "2026-01-12T10:00:00.683061+01:00", "2026-01-12T12:00:00+01:00")
    assert "<dt>Occupation prévue</dt><dd>en cours, jusqu'au 12/01/2026 12:00" in page
    page = status(10, "2026-01-12T08:00:00+01:00", "2026-01-12T12:00:00+01:00")
    assert "<dt>Occupation prévue</dt><dd>en cours, jusqu'au 12/01/2026 12:00" in page
    assert "Prochaine arrivée" not in page
    building = html.unescape(client.get("/building/mairie").get_data(as_text=True))
    assert "en cours, jusqu'au 12/01/2026 12:00" in building
    page = status(13, "2026-01-12T13:30:00+01:00", "2026-01-12T17:30:00+01:00")
    assert "<dt>Prochaine arrivée</dt><dd>12/01/2026 13:30" in page
    assert "en cours" not in page


def test_the_zone_chart_is_drawn_in_the_sites_time_zone(rig: PanelRig) -> None:
    page = rig.client("mairie-viewer").get(ZONE).get_data(as_text=True)
    assert f'data-timezone="{rig.site.timezone}"' in page


def test_a_zone_held_by_a_local_command_says_so_in_both_languages(rig: PanelRig) -> None:
    client = rig.client("mairie-viewer")
    rig.show_zone("mairie.accueil", NOW, setpoint=19.0)
    assert 'id="held"' not in client.get(ZONE).get_data(as_text=True)
    rig.show_zone("mairie.accueil", NOW + timedelta(minutes=1), setpoint=19.0,
                  held_by_priority=8)
    page = client.get(ZONE).get_data(as_text=True)
    assert "commande locale prioritaire" in page and "priorité 8" in page
    client.get("/lang/en")
    page = client.get(ZONE).get_data(as_text=True)
    assert "local command in force" in page and "priority 8" in page
