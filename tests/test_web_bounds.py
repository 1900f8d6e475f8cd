"""What the panel and its API bound, through Flask's test client on a real store file: ids
SQLite cannot hold (a 404 on every route that takes one), the length of every free text
and the years of every date a person types (the same in a form and in the API, refused by
name, nothing changed), and the auditors' download: its period, the rows it may read, its
time limit and how many may stream at once (no timing: the first download is held open
by the test)."""

from __future__ import annotations

import contextvars
import html
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from gtb.model import Site
from gtb.store.samples import Sample
from web import export as web_export
from web import limits
from web.auth import hash_token

from .web_rig import NOW, PanelRig, csrf, panel_rig


@pytest.fixture
def rig(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    yield from panel_rig(demo_site, tmp_path / "gtb.sqlite")


def snapshot(rig: PanelRig) -> tuple[object, ...]:
    """Everything a form may change (signing in aside)."""
    store = rig.store
    return ([e for e in store.audit.events(limit=1000) if e.kind != "login"],
            store.overrides.history(limit=1000),
            store.learning.switches(), store.alarms.history(limit=1000),
            store.agenda.entries(), store.programmes.latest())


def post(rig: PanelRig, path: str, form: dict[str, str], who: str = "marie") -> TestResponse:
    client = rig.client(who)
    return client.post(path, data={**form, "csrf_token": csrf(client, "/login")})


def text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


# -- ids ---------------------------------------------------------------------------------------

ID_TOO_BIG = (2**63, 2**70, 1180591620717411303424)


def id_routes(rig: PanelRig) -> list[tuple[str, str]]:
    """Every route that takes an id (``<int:…>``), as a method and a path with ``{id}``."""
    found = []
    for rule in rig.app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        path = re.sub(r"<int:\w+>", "{id}", rule.rule)
        path = path.replace("<building_id>", "mairie").replace("<zone_id>", "accueil")
        found += [(method, path) for method in sorted(rule.methods or ())
                  if method not in ("HEAD", "OPTIONS")]
    return found


def test_every_id_of_every_route_is_bounded_to_what_sqlite_holds(rig: PanelRig) -> None:
    routes = id_routes(rig)
    # The alarm, the lighting entry and the exception, in the forms and in the API, and
    # the administration's API token.
    assert len(routes) == 7, routes
    client = rig.client("admin")
    token = csrf(client, "/login")
    before = snapshot(rig)
    for method, path in routes:
        for too_big in ID_TOO_BIG:
            response = client.open(path.format(id=too_big), method=method,
                                   data={"csrf_token": token})
            assert response.status_code == 404, (path, too_big, response.status_code)
        # The largest id SQLite holds is a well-formed id of nothing.
        largest = client.open(path.format(id=limits.SQLITE_MAX_ID), method=method,
                              data={"csrf_token": token})
        assert largest.status_code in (401, 404), (path, largest.status_code)
    assert snapshot(rig) == before


def test_a_huge_alarm_id_in_the_form_is_the_french_404_page(rig: PanelRig) -> None:
    response = post(rig, "/alarms/1180591620717411303424/ack", {})
    assert response.status_code == 404
    assert "Page introuvable" in text(response)


# -- free texts ------------------------------------------------------------------------------

LONG_REASON = "x" * 900_000


@pytest.mark.parametrize(("path", "form", "message"), [
    ("/zone/mairie/accueil/override", {"value": "20", "duration": "1h", "why": LONG_REASON},
     "La raison : 900000 caractères, 500 au plus."),
    ("/zone/mairie/accueil/override", {"value": "20", "duration": "1h", "why": "x" * 501},
     "La raison : 501 caractères, 500 au plus."),
    ("/lighting/order", {"cabinet": "ep-centre", "state": "on", "duration": "1h",
                         "why": LONG_REASON}, "La raison : 900000 caractères"),
    ("/programmes/mairie/accueil", {"mon": "08:00-12:00", "why": LONG_REASON},
     "La raison : 900000 caractères"),
    ("/programmes/mairie/accueil", {"mon": "08:00-12:00, " * 100},
     "Lundi : 1300 caractères, 200 au plus."),
    ("/programmes/mairie/accueil/exceptions", {
        "kind": "day", "label": "Pont", "first": "2026-01-16", "periods": "9" * 201},
     "Les périodes : 201 caractères, 200 au plus."),
    ("/lighting/entries", {"cabinet": "ep-centre", "kind": "lights_on", "label": "x" * 121,
                           "start": "2026-01-16T17:00", "end": "2026-01-16T22:00"},
     "Le nom : 121 caractères, 120 au plus."),
])
def test_a_text_too_long_in_a_form_is_refused_by_name(
    rig: PanelRig, path: str, form: dict[str, str], message: str
) -> None:
    before = snapshot(rig)
    response = post(rig, path, form)
    assert response.status_code == 400
    body = text(response)
    assert message in body
    assert len(body) < 50_000  # the refusal does not carry the text back
    assert snapshot(rig) == before


def test_a_cancellation_with_a_reason_too_long_keeps_the_override(rig: PanelRig) -> None:
    assert post(rig, "/zone/mairie/accueil/override",
                {"value": "20", "duration": "1h", "why": "réunion"}).status_code == 302
    before = snapshot(rig)
    response = post(rig, "/zone/mairie/accueil/cancel", {"why": "x" * 501})
    assert response.status_code == 400 and "La raison : 501 caractères" in text(response)
    assert snapshot(rig) == before


def test_a_reason_of_the_limit_is_kept_whole(rig: PanelRig) -> None:
    why = "é" * limits.REASON
    assert post(rig, "/zone/mairie/accueil/override",
                {"value": "20", "duration": "1h", "why": why}).status_code == 302
    [event] = rig.store.audit.events(kind="override")
    assert event.reason == why


def test_the_forms_say_the_limits_to_the_browser(rig: PanelRig) -> None:
    page = rig.client("marie").get("/zone/mairie/accueil").get_data(as_text=True)
    assert 'name="why" maxlength="500" required' in page
    page = rig.client("marie").get("/programmes/mairie/accueil").get_data(as_text=True)
    assert 'name="label" maxlength="120"' in page and 'maxlength="200"' in page


def test_a_refused_period_is_said_back_cut(rig: PanelRig) -> None:
    response = post(rig, "/programmes/mairie/accueil/exceptions", {
        "kind": "day", "label": "Pont", "first": "2026-01-16", "periods": "9" * 150})
    assert response.status_code == 400
    assert f"« {'9' * 40}… » n'est pas une période" in text(response)


def test_too_many_periods_are_one_refusal(rig: PanelRig) -> None:
    response = post(rig, "/programmes/mairie/accueil", {"mon": "x " * 90})
    assert response.status_code == 400
    body = text(response)
    assert "Lundi : 90 périodes, 12 au plus." in body
    assert "n'est pas une période" not in body


def test_an_audit_filter_too_long_is_refused(rig: PanelRig) -> None:
    response = rig.client("mairie-viewer").get("/audit?actor=" + "a" * 101)
    assert response.status_code == 400
    assert "La personne : 101 caractères, 100 au plus." in text(response)


# -- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("form", "message"), [
    ({"kind": "day", "first": "9999-12-31"},
     "Le premier jour (31/12/9999) n'est pas entre 2000 et 2100."),
    ({"kind": "day", "first": "2026-01-16", "last": "9999-12-31"},
     "Le dernier jour (31/12/9999) n'est pas entre 2000 et 2100."),
    ({"kind": "event", "start": "9999-12-31T10:00", "end": "9999-12-31T23:00"},
     "Le début (31/12/9999) n'est pas entre 2000 et 2100."),
    ({"kind": "closure", "start": "2026-01-16T10:00", "end": "2101-01-01T00:00"},
     "La fin (01/01/2101) n'est pas entre 2000 et 2100."),
])
def test_a_date_beyond_the_years_is_refused_by_name(
    rig: PanelRig, form: dict[str, str], message: str
) -> None:
    before = snapshot(rig)
    response = post(rig, "/programmes/mairie/accueil/exceptions", {"label": "Loin", **form})
    assert response.status_code == 400
    assert message in text(response)
    assert snapshot(rig) == before


def test_the_api_refuses_the_same_dates_and_texts(rig: PanelRig) -> None:
    token = "gtb_bounds"
    rig.store.accounts.add_token("marie", hash_token(token), "bounds", at=NOW,
                                 expires_at=NOW + timedelta(days=1))
    client = rig.app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    before = snapshot(rig)

    def call(method: str, path: str, body: Any) -> TestResponse:
        return client.open(path, method=method, headers=headers, data=json.dumps(body),
                           content_type="application/json")

    day = call("POST", "/api/programmes/mairie/accueil/exceptions",
               {"kind": "day", "label": "Loin", "first": "9999-12-31"})
    assert day.status_code == 400
    assert day.json["error"] == "Le premier jour (31/12/9999) n'est pas entre 2000 et 2100."
    why = call("POST", "/api/zones/mairie/accueil/override",
               {"value": 20, "minutes": 60, "why": "x" * 501})
    assert why.status_code == 400 and why.json["error"] == "why : au plus 500 caractères"
    week = call("PUT", "/api/programmes/mairie/accueil", {"week": {"mon": ["08:00-09:00"] * 13}})
    assert week.status_code == 400 and week.json["error"] == "week : au plus 12 éléments"
    events = client.get("/api/events?since=0001-01-01T00:00:00%2B14:00", headers=headers)
    assert events.status_code == 400
    assert events.json["error"] == "since : il faut une date entre 2000 et 2100"
    assert snapshot(rig) == before


# -- the download -----------------------------------------------------------------------------

PERIOD = "from=2026-01-05&to=2026-01-06"


def download(client: FlaskClient, query: str) -> TestResponse:
    return client.get("/export/download?" + query)


@pytest.mark.parametrize(("query", "message"), [
    ("from=0001-01-01&to=9999-12-30", "Le début de la période : « 0001-01-01 » n'est pas une "
                                      "date (AAAA-MM-JJ) entre 2000 et 2100."),
    ("from=2026-01-01&to=9999-12-31", "La fin de la période : « 9999-12-31 » n'est pas une "
                                      "date (AAAA-MM-JJ) entre 2000 et 2100."),
    ("from=2026-01-01&to=9999-12-30&resolution=hour", "La fin de la période"),
    ("from=2025-01-01&to=2026-01-02", "Période trop longue pour la résolution raw : 367 jours, "
                                      "366 au plus"),
    ("from=2020-01-01&to=2023-01-05&resolution=hour",
     "Période trop longue pour la résolution hour"),
    ("from=2000-01-01&to=2026-01-01&resolution=day", "Période trop longue pour la résolution "
                                                     "day"),
])
def test_a_download_too_long_is_refused_before_its_audit_line(
    rig: PanelRig, query: str, message: str
) -> None:
    response = download(rig.client("mairie-viewer"), query)
    assert response.status_code == 400
    assert "Content-Disposition" not in response.headers
    assert message in text(response)
    assert rig.store.audit.events(kind="export") == []


def test_a_century_of_months_and_a_year_of_samples_are_allowed(rig: PanelRig) -> None:
    client = rig.client("mairie-viewer")
    # 366 local days, one of them of 25 hours (29 October 2023).
    for query in ("from=2000-01-01&to=2100-12-31&resolution=month",
                  "from=2023-03-01&to=2024-02-29&resolution=raw"):
        response = download(client, query)
        assert response.status_code == 200, text(response)
        response.close()
    assert len(rig.store.audit.events(kind="export")) == 2


@pytest.fixture
def samples(rig: PanelRig) -> PanelRig:
    """Ten samples of the reception's temperature on 5 January."""
    start = NOW.replace(day=5)
    rig.store.samples.write([Sample("mairie.accueil.temperature", start.replace(minute=m), 19.0)
                             for m in range(10)])
    return rig


def test_a_download_that_would_read_too_many_rows_is_refused(
    samples: PanelRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_export, "MAX_ROWS", 9)
    response = download(samples.client("mairie-viewer"), PERIOD)
    assert response.status_code == 400
    assert "Export trop gros : plus de 9 lignes du stock à lire" in text(response)
    assert samples.store.audit.events(kind="export") == []
    monkeypatch.setattr(web_export, "MAX_ROWS", 10)
    assert download(samples.client("mairie-viewer"), PERIOD).status_code == 200


@pytest.mark.parametrize(("fmt", "last"), [
    ("csv", "# export cut after 0 s, the panel's limit"),
    ("lp", "# export cut after 0 s, the panel's limit"),
    ("json", '{"cut": "export cut after 0 s, the panel\'s limit'),
])
def test_a_download_past_its_time_limit_ends_with_a_line_that_says_so(
    samples: PanelRig, monkeypatch: pytest.MonkeyPatch, fmt: str, last: str
) -> None:
    monkeypatch.setattr(web_export, "TIME_LIMIT", 0.0)
    response = download(samples.client("mairie-viewer"), f"{PERIOD}&format={fmt}")
    assert response.status_code == 200
    lines = response.get_data(as_text=True).splitlines()
    assert lines[-1].startswith(last)
    if fmt == "json":
        assert json.loads(lines[-1])["cut"]
    # Cut after the first point's rows: not every point was written.
    assert len(samples.store.audit.events(kind="export")) == 1


def test_one_download_at_a_time_per_person_and_two_in_all(samples: PanelRig) -> None:
    viewer, marie, admin = (samples.client(name) for name in ("mairie-viewer", "marie", "admin"))
    # Streaming, held open by this test. A streamed answer keeps its request pushed until
    # it ends (stream_with_context): here in a context of its own, as in a server's thread.
    held = contextvars.Context()
    first = held.run(viewer.get, f"/export/download?{PERIOD}", buffered=False)
    assert first.status_code == 200
    assert held.run(next, iter(first.response))
    second = download(viewer, PERIOD)
    assert second.status_code == 429
    assert "Un de vos exports est déjà en cours" in text(second)
    also_held = contextvars.Context()
    other = also_held.run(marie.get, f"/export/download?{PERIOD}", buffered=False)
    assert other.status_code == 200  # someone else may
    third = download(admin, PERIOD)
    assert third.status_code == 429 and "2 exports sont en cours" in text(third)
    assert len(samples.store.audit.events(kind="export")) == 2  # the refused wrote none
    held.run(first.close)
    also_held.run(other.close)
    again = download(viewer, PERIOD)
    assert again.status_code == 200
    assert again.get_data(as_text=True).count("mairie.accueil.temperature") == 10
    # Read to the end without being closed, a download is over too.
    last = download(viewer, PERIOD)
    assert last.status_code == 200
    last.close()
