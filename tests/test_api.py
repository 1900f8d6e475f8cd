"""The JSON API through Flask's test client on a real store file: tokens and roles on every
route, validation that refuses and changes nothing, the audit log, and schemathesis checking
the API against its own OpenAPI description."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import TestResponse

from gtb.model import Site
from gtb.model.points import Quality
from gtb.store.accounts import UserRole
from gtb.store.samples import Sample
from gtb.texts import said
from web.api import OPERATIONS
from web.auth import hash_token
from web.panel import may

from .web_rig import NOW, PanelRig, panel_rig

ZONE = "/api/zones/mairie/accueil"
SETPOINT = "mairie.accueil.consigne"
CABINET = "/api/lighting/ep-centre"
RELAY = "ep-centre.relais"
PROGRAMME = "/api/programmes/mairie/accueil"


@dataclass
class ApiRig:
    rig: PanelRig
    tokens: dict[str, str]
    """A live token of each account, by account name."""

    def call(self, method: str, path: str, *, who: str | None = "marie", body: Any = None,
             raw: str | None = None, lang: str | None = None) -> TestResponse:
        headers = {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}
        if lang is not None:
            headers["Accept-Language"] = lang
        data = raw if raw is not None else None if body is None else json.dumps(body)
        client: FlaskClient = self.rig.app.test_client()
        return client.open(path, method=method, headers=headers, data=data,
                           content_type="application/json")

    def snapshot(self) -> tuple[object, ...]:
        """Everything an API call may change."""
        store = self.rig.store
        return (store.audit.events(limit=1000), store.overrides.history(limit=1000),
                store.learning.switches(), store.alarms.history(limit=1000), store.agenda.entries(),
                store.programmes.latest())


@pytest.fixture
def api(demo_site: Site, tmp_path: Path) -> Iterator[ApiRig]:
    for rig in panel_rig(demo_site, tmp_path / "gtb.sqlite"):
        store = rig.store
        tokens, ids = {}, {}
        for name in ("mairie-viewer", "marie", "admin", "revoked", "disabled", "expired"):
            if store.accounts.user(name) is None:  # never signs in: no password to hash
                store.accounts.add_user(name, "!", UserRole.OPERATOR, at=NOW)
            tokens[name] = f"gtb_token-of-{name}"
            # The expired token's last moment was just before now.
            made = NOW - timedelta(days=365) if name == "expired" else NOW
            ids[name] = store.accounts.add_token(name, hash_token(tokens[name]), "tests",
                                                 at=made, expires_at=made + timedelta(days=365))
        store.accounts.revoke_token(ids["revoked"], at=NOW)
        store.accounts.set_disabled("disabled", True, at=NOW)
        tokens["bad"] = "gtb_not-a-token"
        yield ApiRig(rig, tokens)


# -- who may call what -------------------------------------------------------------------------

ROUTES: dict[str, tuple[str, str, Any]] = {
    "openapi": ("GET", "/api/openapi.json", None),
    "site": ("GET", "/api/site", None),
    "zones": ("GET", "/api/zones", None),
    "zone": ("GET", ZONE, None),
    "series": ("GET", ZONE + "/series?range=7d", None),
    "override": ("POST", ZONE + "/override", {"value": 20, "minutes": 60, "why": "réunion"}),
    "cancel_override": ("DELETE", ZONE + "/override", {"why": "réunion finie"}),
    "learning": ("POST", ZONE + "/learning", {"enabled": False}),
    "alarms": ("GET", "/api/alarms?state=all", None),
    "acknowledge": ("POST", "/api/alarms/{alarm}/ack", None),
    "events": ("GET", "/api/events?kind=override&limit=10", None),
    "outputs": ("GET", "/api/outputs", None),
    "lighting": ("GET", "/api/lighting", None),
    "order_cabinet": ("POST", CABINET + "/order", {"on": True, "minutes": 60, "why": "accident"}),
    "cancel_cabinet_order": ("DELETE", CABINET + "/order", {"why": "rue dégagée"}),
    "add_lighting_entry": ("POST", CABINET + "/entries", {
        "kind": "lights_on", "label": "Vœux du maire", "start": "2026-01-16T17:00:00",
        "end": "2026-01-16T22:00:00"}),
    "remove_lighting_entry": ("DELETE", "/api/lighting/entries/{lighting_entry}", None),
    "programme": ("GET", PROGRAMME, None),
    "save_programme": ("PUT", PROGRAMME, {"week": {"mon": ["08:00-12:00"]}, "why": "hiver"}),
    "add_exception": ("POST", PROGRAMME + "/exceptions", {
        "kind": "closure", "label": "Inventaire", "start": "2026-01-20T08:00:00",
        "end": "2026-01-20T18:00:00"}),
    "remove_exception": ("DELETE", "/api/exceptions/{exception}", None),
}
ROLES = {"mairie-viewer": UserRole.VIEWER, "marie": UserRole.OPERATOR, "admin": UserRole.ADMIN}
REFUSED = (None, "bad", "revoked", "disabled", "expired")
"""No token, an unknown one, a revoked one, the token of a disabled account, an expired one."""


def test_the_matrix_covers_every_route() -> None:
    assert set(ROUTES) == {op.name for op in OPERATIONS}


@pytest.mark.parametrize("name", list(ROUTES))
def test_every_role_on_every_route(api: ApiRig, name: str) -> None:
    method, path, body = ROUTES[name]
    [op] = [op for op in OPERATIONS if op.name == name]
    store = api.rig.store
    for who in (*ROLES, *REFUSED):
        # What the call needs: an override and an order to cancel, an alarm not yet
        # acknowledged, a lighting entry and an exception to remove.
        for point in (SETPOINT, RELAY):
            store.overrides.add(point, 19 if point == SETPOINT else 1, start=NOW,
                               until=NOW + timedelta(hours=1), who="marie", why="essai",
                               at=NOW)
        alarm, _ = store.alarms.raise_(f"device:{who}", at=NOW, severity="warning",
                                     message="appareil muet")
        lighting_entry = store.agenda.add(
            {"kind": "lights_off", "label": "Feu d'artifice", "scope": ["ep-centre"],
             "start": "2026-01-17 21:00", "end": "2026-01-17 23:00"}, at=NOW, who="marie")
        exception = store.agenda.add(
            {"kind": "event", "label": "Réunion", "scope": ["mairie.accueil"],
             "start": "2026-01-17 09:00", "end": "2026-01-17 12:00"}, at=NOW, who="marie")
        before = api.snapshot()
        response = api.call(method, path.format(alarm=alarm.id, lighting_entry=lighting_entry,
                                                exception=exception), who=who, body=body)
        if op.role is None:
            expected = 200
        elif who not in ROLES:
            expected = 401
        else:
            expected = op.ok if may(ROLES[who], op.role) else 403
        assert response.status_code == expected, (who, response.json)
        assert response.is_json
        if expected in (401, 403):
            assert api.snapshot() == before
            assert set(response.json or {}) == {"error", "error_en"}
        if expected == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_works_until_it_expires_by_the_panels_clock(api: ApiRig) -> None:
    store = api.rig.store
    [token] = [t for t in store.accounts.tokens() if t.user == "marie"]
    assert token.expires_at == NOW + timedelta(days=365) and token.last_used_at is None
    api.rig.clock.advance(365 * 86400 - 1)
    assert api.call("GET", "/api/zones").status_code == 200
    used = store.accounts.token(token.id)
    assert used is not None and used.last_used_at == token.expires_at - timedelta(seconds=1)
    api.rig.clock.advance(1)
    response = api.call("GET", "/api/zones", lang="en")
    assert response.status_code == 401
    assert response.json == {"error": "Unknown, revoked or expired API token, or its account "
                                      "is disabled."}


def test_a_session_cookie_is_not_accepted_and_needs_no_csrf(api: ApiRig) -> None:
    browser = api.rig.client("marie")  # signed in with a password: a session cookie
    assert browser.get("/api/zones").status_code == 401
    response = browser.post(ZONE + "/override",
                            json={"value": 20, "minutes": 60, "why": "réunion"})
    assert response.status_code == 401  # refused for the token, not for CSRF
    assert api.rig.store.overrides.active(NOW) == {}
    # A token needs no CSRF token: the call carries no cookie a browser would add.
    assert api.call("POST", ZONE + "/override",
                    body={"value": 20, "minutes": 60, "why": "réunion"}).status_code == 201


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "status", "fr", "en"), [
    ({"value": 35, "minutes": 60, "why": "froid"}, 400,
     "La consigne 35 °C est hors des limites de la zone (6 à 21 °C).",
     "Setpoint 35 °C is outside the zone's bounds (6 to 21 °C)."),
    ({"value": 20, "until": "2026-01-12T09:30:00+01:00", "why": "froid"}, 400,
     "La fin de la dérogation doit être après maintenant.", "The override must end after now."),
    ({"value": 20, "minutes": 60, "why": "  "}, 400,
     "Dites pourquoi", "Say why"),
    ({"value": 20, "minutes": 60, "why": "froid", "colour": "red"}, 400,
     "colour : champ inconnu", "colour: unknown field"),
    ({"value": "20", "minutes": 60, "why": "froid"}, 400,
     "value : il faut un nombre", "value: expected a number"),
    ({"value": math.nan, "minutes": 60, "why": "froid"}, 400,
     "value : il faut un nombre fini", "value: expected a finite number"),
    ({"value": -math.inf, "minutes": 60, "why": "froid"}, 400,
     "value : il faut un nombre fini", "value: expected a finite number"),
    ({"value": 20, "minutes": 60}, 400, "why : champ manquant", "why: missing field"),
    ({"value": 20, "why": "froid"}, 400, "Donnez soit until", "Give either until"),
    ({"value": 20, "minutes": 60, "until": "2026-01-12T12:00:00+01:00", "why": "froid"}, 400,
     "Donnez soit until", "Give either until"),
    ({"value": 20, "until": "2026-01-12T12:00:00", "why": "froid"}, 400,
     "until : il faut une date et heure ISO 8601 avec décalage",
     "until: expected an ISO 8601 date and time with an offset"),
    ({"value": 20, "minutes": 0, "why": "froid"}, 400, "minutes : au moins 1",
     "minutes: at least 1"),
    ({"value": 20, "minutes": 32 * 24 * 60, "why": "froid"}, 400, "minutes : au plus 44640",
     "minutes: at most 44640"),
    ([20], 400, "Le corps de la requête doit être un objet JSON.",
     "The request body must be a JSON object."),
])
def test_a_bad_override_is_refused_with_its_reason_and_changes_nothing(
    api: ApiRig, body: Any, status: int, fr: str, en: str
) -> None:
    before = api.snapshot()
    response = api.call("POST", ZONE + "/override", body=body)
    assert response.status_code == status
    assert fr in response.json["error"] and en in response.json["error_en"]
    english = api.call("POST", ZONE + "/override", body=body, lang="en-GB,en;q=0.8")
    assert english.status_code == status
    assert en in english.json["error"] and "error_en" not in english.json
    assert api.snapshot() == before


@pytest.mark.parametrize("raw", ['{"value": 20,', "", "not json", "null"])
def test_a_malformed_body_is_a_400(api: ApiRig, raw: str) -> None:
    before = api.snapshot()
    response = api.call("POST", ZONE + "/override", raw=raw)
    assert response.status_code == 400
    assert "JSON" in response.json["error"]
    assert api.snapshot() == before


def test_unknown_zones_and_alarms_are_404s(api: ApiRig) -> None:
    before = api.snapshot()
    response = api.call("POST", "/api/zones/mairie/grenier/override",
                        body={"value": 20, "minutes": 60, "why": "froid"})
    assert response.status_code == 404
    assert response.json == {"error": "Zone inconnue : mairie.grenier",
                             "error_en": "Unknown zone: mairie.grenier"}
    assert api.call("GET", "/api/zones/grenier/accueil", lang="en").json == {
        "error": "Unknown building: grenier"}
    for alarm in (999, 2**64):
        assert api.call("POST", f"/api/alarms/{alarm}/ack").status_code == 404
    assert api.snapshot() == before


@pytest.mark.parametrize("query", [
    "/api/events?limit=0", "/api/events?limit=many", "/api/events?since=2026-01-12T09:00:00",
    "/api/events?colour=red", "/api/alarms?state=some", ZONE + "/series?range=1y",
])
def test_bad_query_strings_are_400s(api: ApiRig, query: str) -> None:
    response = api.call("GET", query, who="mairie-viewer")
    assert response.status_code == 400, response.json
    assert response.json["error"] and response.json["error_en"]


def test_a_wrong_method_is_a_405_in_json(api: ApiRig) -> None:
    response = api.call("POST", "/api/zones")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"] and "error_en" in response.json


# -- actions, the store and the audit log ----------------------------------------------------


def test_an_override_by_token_is_stored_audited_and_shown(api: ApiRig) -> None:
    store = api.rig.store
    response = api.call("POST", ZONE + "/override", who="marie", body={
        "value": 20.5, "until": "2026-01-12T12:00:00+01:00", "why": "permanence"})
    assert response.status_code == 201
    answer = response.json
    assert (answer["value"], answer["who"], answer["why"]) == (20.5, "marie", "permanence")
    assert (answer["start"], answer["until"]) == ("2026-01-12T09:00:00Z", "2026-01-12T11:00:00Z")
    [override] = store.overrides.active(NOW).values()
    assert (override.id, override.point, override.who) == (answer["id"], SETPOINT, "marie")
    [event] = store.audit.events(kind="override")
    assert (event.actor, event.reason, event.zone) == ("marie", "permanence", "accueil")
    # Shown, waiting for the engine; then applied at its tick.
    zone = api.call("GET", ZONE, who="mairie-viewer").json
    assert zone["override"]["id"] == override.id and zone["applied"] is False
    api.rig.show_zone("mairie.accueil", NOW + timedelta(minutes=1), temperature=19.2,
                      setpoint=20.5, source="override",
                      reason=said("Dérogation de marie", "Override by marie"))
    zone = api.call("GET", ZONE, who="mairie-viewer").json
    assert zone["applied"] is True
    assert zone["status"]["reason"] == {"fr": "Dérogation de marie", "en": "Override by marie"}
    assert zone["status"]["at"] == "2026-01-12T09:01:00Z"
    # The audit log through the API, filtered by actor and time.
    events = api.call("GET", "/api/events?actor=marie&since=2026-01-12T09:00:00Z"
                             "&until=2026-01-12T09:00:01Z").json["events"]
    assert [e["kind"] for e in events] == ["override"]
    assert api.call("GET", "/api/events?actor=admin").json["events"] == []


def test_an_override_by_token_replaces_the_one_in_force_for_good(api: ApiRig) -> None:
    store = api.rig.store
    first = api.call("POST", ZONE + "/override", who="marie",
                     body={"value": 20, "minutes": 120, "why": "réunion"}).json
    second = api.call("POST", ZONE + "/override", who="admin",
                      body={"value": 17, "minutes": 30, "why": "salle vide"}).json
    replaced = api.call("GET", "/api/events?kind=override", who="admin").json["events"][0]
    assert replaced["data"]["replaced"] == first["id"]
    assert replaced["message"].endswith(f"— remplace la dérogation n° {first['id']} de marie "
                                        "(20 °C)")
    assert store.overrides.get(first["id"]).cancel_reason == (
        f"remplacée par la dérogation n° {second['id']}")
    assert api.call("GET", ZONE).json["override"]["id"] == second["id"]
    cancelled = api.call("DELETE", ZONE + "/override", body={"why": "fini"})
    assert cancelled.status_code == 200 and cancelled.json["id"] == second["id"]
    # The first one does not come back in force.
    assert api.call("GET", ZONE).json["override"] is None
    assert store.overrides.active(NOW) == {}
    assert api.call("DELETE", ZONE + "/override").status_code == 409


def test_cancelling_an_override_and_switching_learning(api: ApiRig) -> None:
    store = api.rig.store
    created = api.call("POST", ZONE + "/override",
                       body={"value": 20, "minutes": 30, "why": "réunion"}).json
    response = api.call("DELETE", ZONE + "/override", who="admin", body={"why": "annulée"})
    assert response.status_code == 200
    assert response.json["id"] == created["id"] and response.json["cancelled_by"] == "admin"
    assert store.overrides.active(NOW) == {}
    again = api.call("DELETE", ZONE + "/override", lang="en")
    assert again.status_code == 409 and again.json == {"error": "No override holds on this zone."}
    # As curl -d sends it: the body is read as JSON whatever its declared type.
    response = api.rig.app.test_client().post(
        ZONE + "/learning", data='{"enabled": false}',
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": f"Bearer {api.tokens['marie']}"})
    assert response.status_code == 200 and response.json["learning"] is False
    assert store.learning.switches() == {"mairie.accueil": False}
    [event] = store.audit.events(kind="learning")
    assert event.actor == "marie"
    assert api.call("POST", ZONE + "/learning", body={"enabled": "no"}).status_code == 400


def test_the_mayors_orders_and_lighting_entries_by_token(api: ApiRig) -> None:
    store = api.rig.store
    [centre, *_] = api.call("GET", "/api/lighting", who="mairie-viewer").json["cabinets"]
    assert (centre["id"], centre["night"], centre["order"]) == ("ep-centre", None, None)
    assert [i["id"] for i in centre["entries"]] == [None, None]  # the site file's
    api.rig.publish_outlook()
    [centre, *_] = api.call("GET", "/api/lighting").json["cabinets"]
    assert centre["night"]["night"] == "2026-01-12" and centre["night"]["steps"]
    assert centre["night"]["steps"][0]["reason"]["fr"].startswith("allumé au coucher du soleil")
    # An order until a time; it shows, waiting for the engine; it is cancelled once.
    response = api.call("POST", CABINET + "/order", body={
        "on": False, "until": "2026-01-12T12:00:00+01:00", "why": "fuite de gaz"})
    assert response.status_code == 201
    order = response.json
    assert (order["point"], order["value"], order["who"]) == (RELAY, 0.0, "marie")
    [event] = store.audit.events(kind="lighting_order")
    assert event.reason == "fuite de gaz" and event.data["on"] is False
    [centre, *_] = api.call("GET", "/api/lighting").json["cabinets"]
    assert centre["order"]["id"] == order["id"] and centre["applied"] is False
    too_long = api.call("POST", CABINET + "/order", body={"on": True, "minutes": 8 * 24 * 60,
                                                          "why": "fête"})
    assert too_long.status_code == 400 and "7 jours" in too_long.json["error"]
    cancelled = api.call("DELETE", CABINET + "/order", who="admin")
    assert cancelled.status_code == 200 and cancelled.json["cancelled_by"] == "admin"
    [line] = store.audit.events(kind="lighting_order_cancelled")
    assert (line.reason, line.reason_en) == ("annulé par l'API", "cancelled through the API")
    assert store.overrides.active(NOW) == {}
    assert api.call("DELETE", CABINET + "/order").status_code == 409
    # A lighting entry, listed with its id, then removed once.
    response = api.call("POST", CABINET + "/entries", body={
        "kind": "lights_on", "label": "Marché de Noël", "start": "2026-01-16T16:00:00",
        "end": "2026-01-17T01:00:00"})
    assert response.status_code == 201
    item = response.json
    assert item["added_by"] == "marie" and item["entry"]["scope"] == ["ep-centre"]
    assert item["entry"]["start"] == "2026-01-16T16:00:00"  # the site's wall clock
    [centre, *_] = api.call("GET", "/api/lighting").json["cabinets"]
    assert item["id"] in [i["id"] for i in centre["entries"]]
    removed = api.call("DELETE", f"/api/lighting/entries/{item['id']}")
    assert removed.status_code == 200 and removed.json["entry"]["label"] == "Marché de Noël"
    assert api.call("DELETE", f"/api/lighting/entries/{item['id']}").status_code == 404
    assert store.agenda.entries() == []


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    (CABINET + "/entries", {"kind": "lights_on", "label": "x", "start": "2026-01-16T20:00:00",
                            "end": "2026-01-16T18:00:00"}, 400, "doit être après le début"),
    (CABINET + "/entries", {"kind": "lights_on", "label": "x", "start": "2026-01-16T20:00:00",
                            "end": "2026-03-16T18:00:00"}, 400, "31 jours"),
    (CABINET + "/entries", {"kind": "dimmed", "label": "x", "start": "2026-01-16T20:00:00",
                            "end": "2026-01-16T22:00:00"}, 400, "kind"),
    ("/api/lighting/ep-nulle-part/entries", {
        "kind": "lights_on", "label": "x", "start": "2026-01-16T20:00:00",
        "end": "2026-01-16T22:00:00"}, 404, "ep-nulle-part"),
    (CABINET + "/order", {"on": True, "minutes": 60, "why": " "}, 400, "Dites pourquoi"),
    (PROGRAMME + "/exceptions", {"kind": "day", "label": "Pont", "first": "2026-01-16",
                                 "periods": ["9h-12h"]}, 400, "« 9h-12h »"),
    (PROGRAMME + "/exceptions", {"kind": "event", "label": "Vœux"}, 400, "début et la fin"),
])
def test_bad_lighting_and_exception_requests_change_nothing(
        api: ApiRig, path: str, body: dict[str, Any], status: int, message: str) -> None:
    before = api.snapshot()
    response = api.call("POST", path, body=body)
    assert response.status_code == status, response.json
    assert message in response.json["error"]
    assert api.snapshot() == before


def test_programmes_and_their_exceptions_by_token(api: ApiRig) -> None:
    store = api.rig.store
    shown = api.call("GET", PROGRAMME, who="mairie-viewer").json
    assert (shown["zone"], shown["version"], shown["saved_by"]) == ("mairie.accueil", None, None)
    assert shown["week"]["mon"] == ["08:30-12:00", "13:30-17:30"] and shown["week"]["sun"] == []
    # A week with a wrong period is refused whole, naming the day; nothing changes.
    before = api.snapshot()
    bad = api.call("PUT", PROGRAMME, body={"week": {"mon": ["08:00-12:00", "11:00-14:00"]}})
    assert bad.status_code == 400 and "Lundi" in bad.json["error"]
    unknown = api.call("PUT", PROGRAMME, body={"week": {"lundi": ["08:00-12:00"]}})
    assert unknown.status_code == 400 and "week" in unknown.json["error"]
    assert api.snapshot() == before
    saved = api.call("PUT", PROGRAMME, body={"week": {"mon": ["07:30-12:00"],
                                                      "tue": ["07:30-12:00"]},
                                             "why": "horaires d'hiver"}).json
    assert (saved["version"], saved["saved_by"]) == (1, "marie")
    assert saved["week"]["mon"] == ["07:30-12:00"] and saved["week"]["wed"] == []
    [event] = store.audit.events(kind="programme_saved")
    assert event.reason == "horaires d'hiver" and event.actor == "marie"
    # Special days for the whole building, listed, then removed.
    response = api.call("POST", PROGRAMME + "/exceptions", body={
        "kind": "day", "label": "Pont", "whole_building": True, "first": "2026-01-16",
        "last": "2026-01-17", "periods": ["09:00-12:00"]})
    assert response.status_code == 201
    item = response.json
    assert item["entry"]["scope"] == ["mairie"] and item["entry"]["periods"] == ["09:00-12:00"]
    assert item["id"] in [e["id"] for e in api.call("GET", PROGRAMME).json["exceptions"]]
    assert api.call("DELETE", f"/api/lighting/entries/{item['id']}").status_code == 404
    removed = api.call("DELETE", f"/api/exceptions/{item['id']}")
    assert removed.status_code == 200 and removed.json["id"] == item["id"]
    assert store.agenda.entries() == []


def test_alarms_are_listed_and_acknowledged_once(api: ApiRig) -> None:
    store = api.rig.store
    alarm, _ = store.alarms.raise_("device:mairie", at=NOW, severity="critical",
                                 message="Automate de la mairie muet", building="mairie")
    cleared, _ = store.alarms.raise_("device:ecole", at=NOW - timedelta(hours=2),
                                   severity="warning", message="Automate de l'école muet")
    store.alarms.clear("device:ecole", at=NOW - timedelta(hours=1))
    active = api.call("GET", "/api/alarms", who="mairie-viewer").json["alarms"]
    assert [a["id"] for a in active] == [alarm.id]
    every = api.call("GET", "/api/alarms?state=all", who="mairie-viewer").json["alarms"]
    assert {a["id"] for a in every} == {alarm.id, cleared.id}
    response = api.call("POST", f"/api/alarms/{alarm.id}/ack")
    assert response.status_code == 200
    assert (response.json["acknowledged_by"], response.json["severity"]) == ("marie", "critical")
    [event] = store.audit.events(kind="alarm_acknowledged")
    assert event.actor == "marie"
    assert api.call("POST", f"/api/alarms/{alarm.id}/ack").status_code == 409


def test_site_series_and_outputs(api: ApiRig) -> None:
    store = api.rig.store
    site = api.call("GET", "/api/site", who="mairie-viewer").json
    assert (site["name"], site["timezone"]) == ("Marchiennes-le-Vert", "Europe/Paris")
    mairie = next(b for b in site["buildings"] if b["id"] == "mairie")
    accueil = next(z for z in mairie["zones"] if z["id"] == "accueil")
    assert accueil["bounds"] == {"frost_floor": 6.0, "setpoint_ceiling": 21.0}
    assert {c["id"] for c in site["cabinets"]} == {c.id for c in api.rig.site.cabinets}
    store.samples.write([
        Sample("mairie.accueil.temperature", NOW - timedelta(days=3), 18.5),
        Sample("mairie.accueil.temperature", NOW - timedelta(hours=1), 19.0),
        Sample("mairie.accueil.temperature", NOW - timedelta(minutes=1), None, Quality.FAILED,
               "timeout"),
    ])
    series = api.call("GET", ZONE + "/series", who="mairie-viewer").json
    temperature = series["curves"]["temperature"]
    assert temperature["unit"] == "°C"
    assert [(s["t"], s["value"], s["quality"]) for s in temperature["samples"]] == [
        ("2026-01-12T08:00:00Z", 19.0, "ok"), ("2026-01-12T08:59:00Z", None, "failed")]
    week = api.call("GET", ZONE + "/series?range=7d", who="mairie-viewer").json
    assert len(week["curves"]["temperature"]["samples"]) == 3
    cabinet = api.rig.site.cabinets[0]
    api.rig.show_output("cabinet", cabinet.id, NOW, on=True, level=50.0,
                        reason=said("Nuit : abaissement", "Night: dimmed"))
    outputs = api.call("GET", "/api/outputs", who="mairie-viewer").json
    shown = next(c for c in outputs["cabinets"] if c["key"] == cabinet.id)
    assert shown["status"]["on"] is True and shown["status"]["level"] == 50.0
    assert all(c["status"] is None for c in outputs["circuits"])


# -- the description -------------------------------------------------------------------------


def test_the_description_lists_every_route(api: ApiRig) -> None:
    response = api.call("GET", "/api/openapi.json", who=None)
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.1")
    described = {(method.upper(), path) for path, item in document["paths"].items()
                 for method in item}
    served = {(method, rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}"))
              for rule in api.rig.app.url_map.iter_rules() if rule.endpoint.startswith("api.")
              for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    assert described == served
    override = document["paths"]["/api/zones/{building}/{zone}/override"]["post"]
    assert set(override["responses"]) == {"201", "400", "401", "403", "404"}
    assert override["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OverrideIn"}
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance,
          content_type_conformance]


def test_the_api_keeps_to_its_description(api: ApiRig) -> None:
    """schemathesis, on every operation with an operator's token: the explicit examples,
    then valid and invalid requests made from the description. Derandomized: the same
    requests every run."""
    store = api.rig.store
    store.alarms.raise_("device:gymnase", at=NOW, severity="critical", message="muet")
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", api.rig.app)
    headers = {"Authorization": f"Bearer {api.tokens['marie']}"}
    tested: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = st.one_of(*schema.get_strategies_from_examples(operation),
                             *(operation.as_strategy(mode) for mode in GenerationMode))

        @given(case=strategy)
        @settings(max_examples=40, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def conforms(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)
            tested[case.operation.label] += 1

        tested[operation.label] = 0
        conforms()
    assert len(tested) == len(OPERATIONS) - 1  # all but the description itself
    assert all(tested.values()), tested


def test_a_zone_held_by_a_local_command_says_its_priority(api: ApiRig) -> None:
    api.rig.show_zone("mairie.accueil", NOW, setpoint=19.0)
    assert api.call("GET", ZONE).json["status"]["held_by_priority"] is None
    api.rig.show_zone("mairie.accueil", NOW + timedelta(minutes=1), setpoint=19.0,
                      held_by_priority=8)
    assert api.call("GET", ZONE).json["status"]["held_by_priority"] == 8
