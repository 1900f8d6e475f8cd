"""The audit log page through Flask's test client on a real store file: its filters (person,
building, kind, local dates with the end included), its pages, and its refusals."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from gtb.model import Site

from .web_rig import NOW, PARIS, PanelRig, panel_rig


@pytest.fixture
def rig(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    yield from panel_rig(demo_site, tmp_path / "gtb.sqlite")


LATE_ON_THE_10TH = datetime(2026, 1, 10, 23, 30, tzinfo=PARIS)  # 22:30 UTC
EARLY_ON_THE_11TH = datetime(2026, 1, 11, 0, 30, tzinfo=PARIS)  # 23:30 UTC, still the 10th


@pytest.fixture
def log(rig: PanelRig) -> PanelRig:
    """A few lines of several people, buildings and kinds around local midnight."""
    store = rig.store
    store.audit.record(LATE_ON_THE_10TH, "override", "marie", "Ligne A: dérogation mairie",
                       reason="réunion du soir", building="mairie", zone="accueil")
    store.audit.record(EARLY_ON_THE_11TH, "override", "paul", "Ligne B: dérogation école",
                       reason="classe de neige", building="ecole", zone="maternelle")
    store.audit.record(EARLY_ON_THE_11TH + timedelta(hours=8), "command", "engine",
                       "Ligne C: consigne mairie", reason="programme", building="mairie")
    store.audit.record(NOW - timedelta(hours=1), "learning", "marie",
                       "Ligne D: apprentissage école", building="ecole")
    return rig


def lines(client: FlaskClient, query: str = "") -> list[str]:
    """The letters of the lines shown, in their order (signing in adds lines without one)."""
    response = client.get("/audit" + query)
    assert response.status_code == 200, response.data
    return re.findall(r"Ligne ([A-Z]):", response.get_data(as_text=True))


def refusal(client: FlaskClient, query: str) -> str:
    response = client.get("/audit" + query)
    assert response.status_code == 400
    return html.unescape(response.get_data(as_text=True))


def test_viewers_read_the_log_newest_first_with_who_what_and_why(log: PanelRig) -> None:
    client = log.client("mairie-viewer")
    assert lines(client) == ["D", "C", "B", "A"]
    page = html.unescape(client.get("/audit").get_data(as_text=True))
    row = re.search(r"<tr>\s*<td[^>]*>10/01/2026 23:30</td>\s*<td>marie</td>\s*"
                    r"<td>Dérogation</td>\s*<td>Ligne A: dérogation mairie<br>"
                    r"<small>Mairie — Accueil et état civil</small></td>\s*"
                    r"<td>réunion du soir</td>", page)
    assert row is not None, page
    assert "Connexion de mairie-viewer" in page  # signing in is a line of the log too


def test_anonymous_people_do_not(log: PanelRig) -> None:
    response = log.client().get("/audit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_filters_by_person_building_and_kind(log: PanelRig) -> None:
    client = log.client("mairie-viewer")
    assert lines(client, "?actor=marie") == ["D", "A"]
    assert lines(client, "?building=ecole") == ["D", "B"]
    assert lines(client, "?kind=override") == ["B", "A"]
    assert lines(client, "?actor=marie&building=mairie") == ["A"]
    assert lines(client, "?actor=nobody") == []
    page = client.get("/audit?actor=nobody").get_data(as_text=True)
    assert "Aucune ligne ne répond à ces filtres." in page


def test_filters_by_local_dates_with_the_end_included(log: PanelRig) -> None:
    client = log.client("mairie-viewer")
    # 23:30 on the 10th is the 10th in Paris; 00:30 on the 11th is the 11th, though it is
    # still the 10th in UTC.
    assert lines(client, "?from=2026-01-10&to=2026-01-10") == ["A"]
    assert lines(client, "?from=2026-01-11&to=2026-01-11") == ["C", "B"]
    assert lines(client, "?from=2026-01-11") == ["D", "C", "B"]
    assert lines(client, "?to=2026-01-11&kind=override") == ["B", "A"]


def test_the_filter_form_offers_what_the_log_holds_and_keeps_what_was_asked(
    log: PanelRig
) -> None:
    page = log.client("mairie-viewer").get(
        "/audit?building=ecole&kind=override&actor=paul&from=2026-01-11").get_data(as_text=True)
    assert '<option value="ecole" selected>' in page
    assert '<option value="override" selected>Dérogation</option>' in page
    assert '<option value="command" >Commande</option>' in page
    assert '<option value="paul"></option>' in page
    assert 'name="actor" list="f-actors" value="paul"' in page
    assert 'name="from" type="date" value="2026-01-11"' in page
    for field in ("f-building", "f-actor", "f-kind", "f-from", "f-to"):
        assert f'<label for="{field}">' in page and f'id="{field}"' in page


def test_pages_of_fifty_walk_the_whole_log_once_even_within_one_second(rig: PanelRig) -> None:
    # A tick records many lines in the same second: 120 here, then 10 more a minute later.
    tick = NOW - timedelta(hours=2)
    for n in range(120):
        rig.store.audit.record(tick, "command", "engine", f"Commande n°{n:03d}:")
    for n in range(120, 130):
        rig.store.audit.record(tick + timedelta(minutes=1), "command", "engine",
                               f"Commande n°{n:03d}:")
    client = rig.client("mairie-viewer")
    path, seen, pages = "/audit?kind=command", [], 0
    while True:
        page = html.unescape(client.get(path).get_data(as_text=True))
        seen += [int(n) for n in re.findall(r"Commande n°(\d+):", page)]
        pages += 1
        older = re.search(r'href="([^"]+)" rel="next">Lignes plus anciennes', page)
        if older is None:
            break
        assert "kind=command" in older[1]  # the filters follow the pages
        path = older[1]
    assert seen == list(range(129, -1, -1))
    assert pages == 3
    assert "Retour aux plus récentes" in page


@pytest.mark.parametrize(("query", "message"), [
    ("?building=grenier", "Bâtiment inconnu : grenier"),
    ("?kind=pique-nique", "Type de ligne inconnu : pique-nique"),
    ("?from=2026-13-01", "Le début de la période : « 2026-13-01 » n'est pas une date "
                         "(AAAA-MM-JJ) entre 2000 et 2100."),
    ("?to=hier", "« hier » n'est pas une date"),
    ("?from=2026-01-12&to=2026-01-11", "Le début de la période (2026-01-12) est après sa fin"),
    ("?before=12-x", "Lien de page invalide"),
])
def test_bad_filters_are_refused_with_a_message(log: PanelRig, query: str, message: str) -> None:
    assert message in refusal(log.client("mairie-viewer"), query)


def test_the_page_and_its_refusals_in_english(log: PanelRig) -> None:
    client = log.client("mairie-viewer")
    client.get("/lang/en")
    page = client.get("/audit?kind=override").get_data(as_text=True)
    for english in ("Audit log", "Person", "Category", "To (included)", "When", "Who", "What",
                    "Why", "Override", "Filter"):
        assert english in page
    assert "Journal des actions" not in page and "Personne" not in page
    assert "Unknown building: grenier" in refusal(client, "?building=grenier")
    assert "The end of the period: 'hier' is not a date (YYYY-MM-DD) between 2000 and " \
           "2100." in refusal(client, "?to=hier")


def test_lines_said_in_english_show_in_english_and_the_others_in_french(log: PanelRig
                                                                        ) -> None:
    log.store.audit.record(NOW, "override", "marie", "Ligne E: dérogation accueil",
                           reason="depuis le panneau", message_en="Line E: override reception",
                           reason_en="from the panel")
    client = log.client("mairie-viewer")
    french = html.unescape(client.get("/audit?kind=override").get_data(as_text=True))
    assert "Ligne E: dérogation accueil" in french and "depuis le panneau" in french
    assert "Line E" not in french
    client.get("/lang/en")
    english = html.unescape(client.get("/audit?kind=override").get_data(as_text=True))
    assert "Line E: override reception" in english and "from the panel" in english
    assert "Ligne E" not in english and "depuis le panneau" not in english
    assert "Ligne A: dérogation mairie" in english  # a line said in French only
