"""The lighting page through Flask's test client on a real store file: what it shows of each
cabinet (the night the engine published, checked against the controllers' own decisions),
its agenda entries and the mayor's immediate orders, with their permissions, CSRF, refusals
and audit lines."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug.test import TestResponse

from controllers.lighting import cabinet_decision, sun_times
from gtb.model import Site
from gtb.texts import said

from .web_rig import NOW, PARIS, PanelRig, csrf, panel_rig


@pytest.fixture
def rig(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    yield from panel_rig(demo_site, tmp_path / "gtb.sqlite", published=True)


PAGE = "/lighting"
RELAY = "ep-centre.relais"


def _text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def _post(rig: PanelRig, path: str, form: dict[str, str], who: str = "marie") -> TestResponse:
    client = rig.client(who)
    return client.post(path, data={**form, "csrf_token": csrf(client, PAGE)})


def _engine_status(rig: PanelRig, at: datetime, on: bool, fr: str, en: str,
                   source: str = "controller") -> None:
    """The status the engine writes after a tick, for the centre's cabinet (``source``
    override: a person's order holds, and ``on`` and the reason are the order's)."""
    rig.show_output("cabinet", "ep-centre", at, on=on, level=100.0 if on else 0.0,
                    source=source, reason=said(fr, en))


def test_the_page_shows_each_cabinet_its_state_and_the_engines_night(rig: PanelRig) -> None:
    _engine_status(rig, NOW, False, "jour : éteint", "daylight: off")
    page = _text(rig.client("mairie-viewer").get(PAGE))
    for cabinet in rig.site.cabinets:
        assert cabinet.name in page
    assert "jour : éteint" in page
    # Monday 10:00, after sunrise: tonight's night, from the engine's astronomical clock.
    sunset = sun_times(rig.site.latitude, rig.site.longitude, PARIS, date(2026, 1, 12)).sunset
    assert "Nuit du 12/01/2026" in page
    assert f"<dt>Coucher du soleil</dt><dd>{sunset:%H:%M}</dd>" in page
    assert "<dt>Coupure de nuit</dt><dd>23:00 – 05:00</dd>" in page
    assert "<dt>Coupure de nuit</dt><dd>23:00 – lever du soleil</dd>" in page  # the church
    assert "22:00 – 23:00 : 50\xa0%" in page
    # Each step shown is what the engine decides in its middle.
    centre = rig.site.cabinets[0]
    night = rig.store.status.nights()["ep-centre"]
    assert night.night == date(2026, 1, 12)
    assert night.on_at is not None and night.on_at.strftime("%H:%M") == f"{sunset:%H:%M}"
    for step in night.steps:
        middle = step.start + (step.end - step.start) / 2
        decision = cabinet_decision(centre, rig.site.latitude, rig.site.longitude,
                                    middle.astimezone(PARIS))
        assert (decision.level, decision.reason) == (step.level, step.reason)
        assert step.reason.fr in page
    # The site file's entries for the centre, none for the church.
    assert "Marché de Noël" in page and "Feu d'artifice du 14 juillet" in page
    # A viewer sees no form to act with.
    assert "Ordre immédiat" not in page and "Nouvelle entrée d'agenda" not in page


def test_before_sunrise_the_page_shows_the_night_under_way(rig: PanelRig) -> None:
    rig.clock.advance(17 * 3600)  # Tuesday 03:00
    rig.publish_outlook()  # the engine's first tick of the day
    page = _text(rig.client("marie").get(PAGE))
    assert "Nuit du 12/01/2026" in page
    assert 'class="now" aria-current="time"' in page  # 03:00: the night cut is under way


def test_until_the_engine_publishes_the_night_the_page_waits_for_it(
    demo_site: Site, tmp_path: Path
) -> None:
    for rig in panel_rig(demo_site, tmp_path / "gtb.sqlite"):
        page = _text(rig.client("marie").get(PAGE))
        assert page.count("Horaire de la nuit : en attente du premier passage du moteur.") == 3
        assert "Nuit du" not in page and 'value="sunrise"' not in page
        response = _post(rig, "/lighting/order", {"cabinet": "ep-centre", "state": "on",
                                                  "duration": "sunrise", "why": "accident"})
        assert response.status_code == 400
        assert "n'a pas encore publié le prochain lever du soleil" in _text(response)
        assert rig.store.overrides.active(NOW) == {}
        rig.publish_outlook()
        page = _text(rig.client("marie").get(PAGE))
        assert "en attente du premier passage" not in page and 'value="sunrise"' in page


def test_a_viewer_sees_but_cannot_act_and_anonymous_people_sign_in(rig: PanelRig) -> None:
    entry = rig.store.agenda.add(
        {"kind": "lights_on", "label": "Vœux du maire", "scope": ["ep-centre"],
         "start": "2026-01-16 17:00", "end": "2026-01-16 22:00"}, at=NOW, who="marie")
    now = NOW.astimezone(PARIS)
    rig.store.overrides.add(RELAY, 1.0, start=now, until=now + timedelta(hours=1), who="maire",
                           why="accident", at=now)
    assert rig.client().get(PAGE).status_code == 302
    for path, form in [
        ("/lighting/entries", {"cabinet": "ep-centre", "kind": "lights_on", "label": "x",
                               "start": "2026-01-13T18:00", "end": "2026-01-13T20:00"}),
        (f"/lighting/entries/{entry}/remove", {}),
        ("/lighting/order", {"cabinet": "ep-centre", "state": "off", "duration": "1h",
                             "why": "x"}),
        ("/lighting/ep-centre/cancel", {}),
    ]:
        assert _post(rig, path, form, who="mairie-viewer").status_code == 403
    assert [e.id for e in rig.store.agenda.entries()] == [entry]
    assert rig.store.overrides.active(NOW)[RELAY].who == "maire"
    assert rig.store.audit.events(kind="lighting_order") == []


def test_a_form_without_its_csrf_token_is_refused(rig: PanelRig) -> None:
    client = rig.client("marie")
    response = client.post("/lighting/order", data={"cabinet": "ep-centre", "state": "on",
                                                    "duration": "1h", "why": "accident"})
    assert response.status_code == 400
    assert rig.store.overrides.active(NOW) == {}


def test_an_operator_adds_an_entry_and_removes_it_with_one_audit_line_each(
    rig: PanelRig,
) -> None:
    response = _post(rig, "/lighting/entries", {
        "cabinet": "ep-eglise", "kind": "lights_off", "label": "Concert sous les étoiles",
        "start": "2026-01-20T20:00", "end": "2026-01-20T23:30"})
    assert response.status_code == 302
    [stored] = rig.store.agenda.entries()
    assert stored.created_by == "marie"
    entry = stored.entry
    assert (entry.kind, entry.label, entry.scope) == (
        "lights_off", "Concert sous les étoiles", ("ep-eglise",))
    assert (entry.start, entry.end) == (datetime(2026, 1, 20, 20, 0),
                                        datetime(2026, 1, 20, 23, 30))
    [added] = rig.store.audit.events(kind="agenda")  # the store's line, not two
    assert added.actor == "marie" and "ajout" in added.message
    # The engine's decision on that evening follows it.
    church = rig.site.cabinets[1]
    at_nine = datetime(2026, 1, 20, 21, 0, tzinfo=PARIS)
    assert cabinet_decision(church, rig.site.latitude, rig.site.longitude, at_nine,
                            (entry,)).on is False
    page = _text(rig.client("marie").get(PAGE))
    assert "Concert sous les étoiles" in page and "20/01/2026 20:00 → 20/01/2026 23:30" in page
    assert "ajoutée par marie" in page
    response = _post(rig, f"/lighting/entries/{stored.id}/remove", {})
    assert response.status_code == 302
    assert rig.store.agenda.entries() == []
    removed = rig.store.audit.events(kind="agenda")
    assert len(removed) == 2 and "suppression" in removed[0].message
    assert removed[0].actor == "marie"
    # Gone already: a second removal is refused.
    assert _post(rig, f"/lighting/entries/{stored.id}/remove", {}).status_code == 404


def test_the_lighting_page_does_not_remove_a_zone_exception(rig: PanelRig) -> None:
    entry = rig.store.agenda.add(
        {"kind": "closure", "label": "Travaux", "scope": ["mairie"],
         "start": "2026-01-20 08:00", "end": "2026-01-21 18:00"}, at=NOW, who="marie")
    response = _post(rig, f"/lighting/entries/{entry}/remove", {})
    assert response.status_code == 404
    assert [e.id for e in rig.store.agenda.entries()] == [entry]


GOOD_ENTRY = {"cabinet": "ep-centre", "kind": "lights_on", "label": "Vœux du maire",
              "start": "2026-01-16T17:00", "end": "2026-01-16T22:00"}


@pytest.mark.parametrize(("change", "status", "message"), [
    ({"end": "2026-01-16T16:00"}, 400, "doit être après le début"),
    ({"end": "2026-01-16T17:00"}, 400, "doit être après le début"),
    ({"cabinet": "ep-lune"}, 404, "Armoire d'éclairage inconnue : ep-lune"),
    ({"start": "2026-01-10T17:00"}, 400, "est passé depuis plus d'un jour"),
    ({"end": "2026-02-17T22:00"}, 400, "au plus 31 jours"),
    ({"kind": "event"}, 400, "Type d'entrée inconnu"),
    ({"label": "   "}, 400, "Donnez un nom"),
    ({"start": "demain soir"}, 400, "Le début : « demain soir » n'est pas une date"),
    ({"end": ""}, 400, "Indiquez la fin"),
])
def test_bad_entries_are_refused_with_a_reason_and_change_nothing(
    rig: PanelRig, change: dict[str, str], status: int, message: str
) -> None:
    response = _post(rig, "/lighting/entries", {**GOOD_ENTRY, **change})
    assert response.status_code == status
    assert message in _text(response)
    assert rig.store.agenda.entries() == []
    assert rig.store.audit.events(kind="agenda") == []


def test_the_mayor_lights_a_cabinet_until_sunrise_then_changes_and_cancels(
    rig: PanelRig,
) -> None:
    response = _post(rig, "/lighting/order", {"cabinet": "ep-centre", "state": "on",
                                              "duration": "sunrise", "why": "accident rue"})
    assert response.status_code == 302
    [order] = rig.store.overrides.active(NOW).values()
    # Monday 10:00: the sun rose at 08:42; the order lasts until Tuesday's sunrise.
    sunrise = sun_times(rig.site.latitude, rig.site.longitude, PARIS, date(2026, 1, 13)).sunrise
    assert (order.point, order.value, order.who, order.why) == (RELAY, 1.0, "marie",
                                                                "accident rue")
    assert order.until == sunrise.replace(microsecond=0)
    [event] = rig.store.audit.events(kind="lighting_order")
    assert (event.actor, event.reason, event.point) == ("marie", "accident rue", RELAY)
    assert event.data["on"] is True
    client = rig.client("marie")
    page = _text(client.get(PAGE))
    assert "Ordre en cours" in page and "en attente du prochain passage du moteur" in page
    # The engine's next tick applies it: the page says it, and the state is the order's.
    _engine_status(rig, NOW + timedelta(minutes=1), True,
                   "Dérogation de marie jusqu'à demain 08:41 : accident rue",
                   "Override by marie until tomorrow 08:41: accident rue", source="override")
    page = _text(client.get(PAGE))
    assert "appliquée par le moteur" in page
    state = page.split('class="state"')[1].split("</p>")[0]
    assert '<span class="lamp on">allumé</span>' in state
    assert "%" not in state  # an order lights at full power
    assert "Ordre par marie : « accident rue »" in page
    # A new order replaces it: one order in force, the first one cancelled.
    response = _post(rig, "/lighting/order", {"cabinet": "ep-centre", "state": "off",
                                              "duration": "2h", "why": "feu d'artifice"})
    assert response.status_code == 302
    [second] = rig.store.overrides.active(NOW).values()
    assert (second.value, second.until - second.start) == (0.0, timedelta(hours=2))
    replaced = rig.store.overrides.get(order.id)
    assert (replaced.cancelled_by, replaced.cancel_reason) == (
        "marie", f"remplacée par la dérogation n° {second.id}")
    assert rig.store.audit.events(kind="lighting_order")[0].message.endswith(
        f"— remplace l'ordre n° {order.id} de marie")
    response = _post(rig, "/lighting/ep-centre/cancel", {})
    assert response.status_code == 302
    assert rig.store.overrides.active(NOW) == {}
    [cancelled] = rig.store.audit.events(kind="lighting_order_cancelled")
    assert cancelled.actor == "marie" and cancelled.data["override"] == second.id
    # Nothing to cancel any more.
    response = _post(rig, "/lighting/ep-centre/cancel", {})
    assert response.status_code == 409 and "Aucun ordre en cours" in _text(response)


def test_an_order_until_a_chosen_time_is_read_in_the_sites_zone(rig: PanelRig) -> None:
    response = _post(rig, "/lighting/order", {"cabinet": "ep-stade", "state": "on",
                                              "duration": "until", "until": "2026-01-12T23:30",
                                              "why": "match en nocturne"})
    assert response.status_code == 302
    [order] = rig.store.overrides.active(NOW).values()
    assert order.until == datetime(2026, 1, 12, 23, 30, tzinfo=PARIS)
    assert order.point == "ep-stade.relais"


@pytest.mark.parametrize(("change", "status", "message"), [
    ({"why": " "}, 400, "Dites pourquoi"),
    ({"duration": "3 jours"}, 400, "Durée inconnue"),
    ({"duration": "until", "until": "2026-01-12T09:00"}, 400, "doit être après maintenant"),
    ({"duration": "until", "until": "2026-01-22T09:00"}, 400, "au plus 7 jours"),
    ({"state": "clignotant"}, 400, "Choisissez d'allumer ou d'éteindre"),
    ({"cabinet": "ep-lune"}, 404, "Armoire d'éclairage inconnue"),
])
def test_bad_orders_are_refused_with_a_reason_and_change_nothing(
    rig: PanelRig, change: dict[str, str], status: int, message: str
) -> None:
    form = {"cabinet": "ep-centre", "state": "on", "duration": "1h", "why": "accident",
            **change}
    response = _post(rig, "/lighting/order", form)
    assert response.status_code == status
    assert message in _text(response)
    assert rig.store.overrides.active(NOW) == {}
    assert rig.store.audit.events(kind="lighting_order") == []


def test_the_page_in_english(rig: PanelRig) -> None:
    _engine_status(rig, NOW, False, "jour : éteint", "daylight: off")
    client = rig.client("marie")
    client.get("/lang/en")
    page = _text(client.get(PAGE))
    assert "Public lighting" in page and "Night of 12/01/2026" in page
    assert "<dt>Sunset</dt>" in page and "23:00 – sunrise" in page
    assert "daylight: off" in page and "night cut from 23:00 until 05:00: off" in page
    assert "Immediate order" in page and "until sunrise" in page
    for french in ("Coucher du soleil", "Coupure de nuit", "jour : éteint", "Ordre immédiat",
                   "Nouvelle entrée d'agenda", "fichier du site"):
        assert french not in page
    response = client.post("/lighting/order", data={
        "cabinet": "ep-centre", "state": "on", "duration": "1h", "why": "",
        "csrf_token": csrf(client, PAGE)})
    assert response.status_code == 400 and "Say why" in _text(response)
