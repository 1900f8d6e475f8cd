"""The programme pages through Flask's test client on a real store file: the week of each
zone, its editing (versions, audit, refusals that name the day and the period), its
exceptions and the holidays ahead, with permissions, CSRF and the English pages."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug.test import TestResponse

from controllers.schedule import FrenchCalendar, occupation
from gtb.model import Site
from gtb.model.points import HeatingLevel
from gtb.texts import said

from .web_rig import NOW, PARIS, PanelRig, csrf, panel_rig


@pytest.fixture
def rig(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    yield from panel_rig(demo_site, tmp_path / "gtb.sqlite", published=True)


INDEX = "/programmes"
ZONE = "/programmes/mairie/accueil"
WEEK = {"mon": "07:30-12:00, 13:30-18:00", "tue": "07:30-12:00", "wed": "", "thu": "",
        "fri": "08:00-12:00 14:00-17:00", "sat": "", "sun": ""}


def _text(response: TestResponse) -> str:
    return html.unescape(response.get_data(as_text=True))


def _post(rig: PanelRig, path: str, form: dict[str, str], who: str = "marie") -> TestResponse:
    client = rig.client(who)
    return client.post(path, data={**form, "csrf_token": csrf(client, INDEX)})


def test_the_index_shows_every_zone_its_week_and_the_holidays(rig: PanelRig) -> None:
    page = _text(rig.client("mairie-viewer").get(INDEX))
    for building in rig.site.buildings:
        for zone in building.zones:
            assert zone.name in page
    # The town hall's programme from the site file, Saturday morning included.
    assert "08:30-12:00, 13:30-17:30" in page and "09:00-12:00" in page
    assert "programme du fichier du site" in page
    assert "Modifier" not in page  # a viewer views
    assert "Lundi de Pâques" in page and "06/04/2026" in page
    assert "du 14/02/2026 au 01/03/2026 : <strong>Vacances d'hiver</strong>" in page
    assert "Vacances scolaires, zone B" in page


def test_an_operator_saves_a_week_and_the_engine_is_told(rig: PanelRig) -> None:
    response = _post(rig, ZONE, {**WEEK, "why": "horaires d'hiver"})
    assert response.status_code == 302
    [version] = rig.store.programmes.history("mairie.accueil")
    assert (version.version, version.saved_by) == (1, "marie")
    saved = version.programme
    assert saved is not None and saved.mon == ("07:30-12:00", "13:30-18:00")
    assert saved.fri == ("08:00-12:00", "14:00-17:00") and saved.wed == () and saved.sat == ()
    assert rig.store.programmes.current("mairie.bureaux") is None  # its neighbours keep theirs
    [event] = rig.store.audit.events(kind="programme_saved")
    assert (event.actor, event.reason, event.building, event.zone) == (
        "marie", "horaires d'hiver", "mairie", "accueil")
    assert event.data["version"] == 1 and event.data["before"]["sat"] == ["09:00-12:00"]
    client = rig.client("marie")
    page = _text(client.get(ZONE))
    assert "version 1, enregistrée par marie" in page
    assert "en attente du prochain passage du moteur" in page
    assert 'value="07:30-12:00, 13:30-18:00"' in page
    # The engine's next tick: applied.
    rig.show_zone("mairie.accueil", NOW + timedelta(minutes=1), level=HeatingLevel.COMFORT,
                  reason=said("Occupé selon le programme jusqu'à 12:00",
                                "Occupied by the programme until 12:00"))
    page = _text(client.get(ZONE))
    assert "appliqué par le moteur" in page and "Occupé selon le programme" in page
    # The same week again saves nothing.
    response = client.post(ZONE, data={**WEEK, "csrf_token": csrf(client, ZONE)})
    assert response.status_code == 302
    assert "Programme inchangé" in _text(client.get(ZONE))
    assert len(rig.store.programmes.history("mairie.accueil")) == 1
    # What the engine decides from it: occupied on Monday at 07:45, not on Wednesday.
    calendar = FrenchCalendar("B")
    monday = datetime(2026, 1, 12, 7, 45, tzinfo=PARIS)
    assert occupation(saved, calendar, "mairie", monday).occupied
    assert not occupation(saved, calendar, "mairie", monday + timedelta(days=2)).occupied


@pytest.mark.parametrize(("day", "typed", "message"), [
    ("mon", "8h-12h", "Lundi : « 8h-12h » n'est pas une période HH:MM-HH:MM"),
    ("tue", "12:00-08:00", "Mardi : la période « 12:00-08:00 » finit avant de commencer."),
    ("wed", "08:00-12:00, 11:30-13:00",
     "Mercredi : les périodes 08:00-12:00 et 11:30-13:00 se chevauchent."),
    ("sun", "25:00-26:00", "Dimanche : « 25:00-26:00 » n'est pas une période"),
    ("sat", "10:00-11:00, 09:00-24:00",
     "Samedi : les périodes 09:00-24:00 et 10:00-11:00 se chevauchent."),
])
def test_a_bad_period_is_refused_naming_the_day_and_nothing_is_saved(
    rig: PanelRig, day: str, typed: str, message: str
) -> None:
    response = _post(rig, ZONE, {**WEEK, day: typed})
    assert response.status_code == 400
    page = _text(response)
    assert message in page
    assert "Programme non enregistré." in page
    # The form comes back as typed, the day marked for screen readers.
    assert f'value="{typed}"' in page
    assert f'id="day-{day}" name="{day}"' in page and 'aria-invalid="true"' in page
    assert rig.store.programmes.history("mairie.accueil") == []
    assert rig.store.audit.events(kind="programme_saved") == []


def test_every_bad_day_is_named_at_once(rig: PanelRig) -> None:
    response = _post(rig, ZONE, {**WEEK, "mon": "8-12", "thu": "14:00-13:00"})
    page = _text(response)
    assert "Lundi : « 8-12 »" in page and "Jeudi : la période « 14:00-13:00 »" in page
    assert page.count('aria-invalid="true"') == 2


def test_unknown_zones_viewers_and_forms_without_csrf_are_refused(rig: PanelRig) -> None:
    client = rig.client("marie")
    response = client.get("/programmes/mairie/grenier")
    assert response.status_code == 404 and "Zone inconnue : mairie.grenier" in _text(response)
    response = _post(rig, "/programmes/mairie/grenier", WEEK)
    assert response.status_code == 404
    response = _post(rig, "/programmes/mairie/grenier/exceptions", {
        "kind": "closure", "label": "x", "start": "2026-01-20T08:00",
        "end": "2026-01-20T18:00"})
    assert response.status_code == 404
    assert rig.client("mairie-viewer").get(ZONE).status_code == 200
    assert _post(rig, ZONE, WEEK, who="mairie-viewer").status_code == 403
    assert _post(rig, ZONE + "/exceptions", {"kind": "closure", "label": "x",
                                             "start": "2026-01-20T08:00",
                                             "end": "2026-01-20T18:00"},
                 who="mairie-viewer").status_code == 403
    assert client.post(ZONE, data=WEEK).status_code == 400  # no CSRF token
    assert rig.store.programmes.latest() == {} and rig.store.agenda.entries() == []


def test_exceptions_are_added_listed_and_removed(rig: PanelRig) -> None:
    response = _post(rig, ZONE + "/exceptions", {
        "kind": "event", "scope": "zone", "label": "Permanence élections",
        "start": "2026-03-15T07:00", "end": "2026-03-15T19:00"})
    assert response.status_code == 302
    response = _post(rig, ZONE + "/exceptions", {
        "kind": "day", "scope": "building", "label": "Pont du 8 mai", "first": "2026-05-07",
        "last": "2026-05-08", "periods": "09:00-12:00"})
    assert response.status_code == 302
    response = _post(rig, ZONE + "/exceptions", {
        "kind": "closure", "scope": "building", "label": "Désinfection",
        "start": "2026-01-24T08:00", "end": "2026-01-25T18:00"})
    assert response.status_code == 302
    entries = {s.entry.label: s for s in rig.store.agenda.entries(zone="mairie.accueil")}
    assert entries["Permanence élections"].entry.scope == ("mairie.accueil",)
    assert entries["Pont du 8 mai"].entry.scope == ("mairie",)
    assert entries["Pont du 8 mai"].entry.periods == ("09:00-12:00",)
    assert entries["Désinfection"].entry.kind == "closure"
    assert len(rig.store.audit.events(kind="agenda")) == 3  # the store's lines, one each
    # The office next door shares the building's, not the zone's.
    assert {s.entry.label for s in rig.store.agenda.entries(zone="mairie.bureaux")} == {
        "Pont du 8 mai", "Désinfection"}
    client = rig.client("marie")
    page = _text(client.get(ZONE))
    assert "Permanence élections" in page and "15/03/2026 07:00 → 15/03/2026 19:00" in page
    assert "07/05/2026 → 08/05/2026 : 09:00-12:00" in page and "tout le bâtiment" in page
    # In date order: the closure of January first.
    assert page.index("Désinfection") < page.index("Permanence élections")
    assert page.index("Permanence élections") < page.index("Pont du 8 mai")
    office = _text(client.get("/programmes/mairie/bureaux"))
    assert "Permanence élections" not in office and "Pont du 8 mai" in office
    # The council's evening from the site file is the council room's, not the reception's.
    assert "Conseil municipal" not in page
    assert "Conseil municipal" in _text(client.get("/programmes/mairie/salle-du-conseil"))
    gone = entries["Permanence élections"].id
    response = _post(rig, f"{ZONE}/exceptions/{gone}/remove", {})
    assert response.status_code == 302
    assert "Permanence élections" not in {s.entry.label for s in rig.store.agenda.entries()}
    assert "suppression" in rig.store.audit.events(kind="agenda")[0].message


def test_the_programme_page_does_not_remove_lighting_entries(rig: PanelRig) -> None:
    entry = rig.store.agenda.add(
        {"kind": "lights_on", "label": "Vœux du maire", "scope": ["ep-centre"],
         "start": "2026-01-16 17:00", "end": "2026-01-16 22:00"}, at=NOW, who="marie")
    assert _post(rig, f"{ZONE}/exceptions/{entry}/remove", {}).status_code == 404
    assert [e.id for e in rig.store.agenda.entries()] == [entry]


GOOD_EXCEPTION = {"kind": "closure", "scope": "zone", "label": "Travaux",
                  "start": "2026-01-20T08:00", "end": "2026-01-21T18:00"}


@pytest.mark.parametrize(("change", "message"), [
    ({"end": "2026-01-20T07:00"}, "doit être après le début"),
    ({"start": "2026-01-05T08:00"}, "est passé depuis plus d'un jour"),
    ({"end": "2027-02-01T08:00"}, "au plus 366 jours"),
    ({"kind": "fête"}, "Type d'exception inconnu"),
    ({"label": ""}, "Donnez un nom"),
    ({"kind": "day", "first": "2026-02-02", "periods": "9h-12h"},
     "Jour particulier : « 9h-12h » n'est pas une période"),
    ({"kind": "day", "first": "2026-02-03", "last": "2026-02-02"},
     "doit être après le début"),
    ({"kind": "day", "first": "le 2 février"}, "Le premier jour : « le 2 février » n'est pas"),
    ({"kind": "day", "first": ""}, "Indiquez le premier jour"),
])
def test_bad_exceptions_are_refused_and_change_nothing(
    rig: PanelRig, change: dict[str, str], message: str
) -> None:
    response = _post(rig, ZONE + "/exceptions", {**GOOD_EXCEPTION, **change})
    assert response.status_code == 400
    assert message in _text(response)
    assert rig.store.agenda.entries() == []
    assert rig.store.audit.events(kind="agenda") == []


def test_school_holidays_show_where_they_apply(rig: PanelRig) -> None:
    client = rig.client("marie")
    school = _text(client.get("/programmes/ecole/maternelle"))
    assert "Les vacances scolaires ferment ce bâtiment." in school
    assert "Vacances d'hiver" in school and "Lundi de Pâques" in school
    town_hall = _text(client.get(ZONE))
    assert "ne changent pas le programme de ce bâtiment" in town_hall
    assert "Vacances d'hiver" not in town_hall and "Lundi de Pâques" in town_hall
    # Twelve months from today: next year's 1 January, not the next Easter Monday.
    assert "01/01/2027" in town_hall and "29/03/2027" not in town_hall
    assert date(2026, 4, 6).strftime("%d/%m/%Y") in town_hall


def test_the_holidays_are_the_ones_the_engine_published(demo_site: Site, tmp_path: Path
                                                        ) -> None:
    for rig in panel_rig(demo_site, tmp_path / "gtb.sqlite"):
        page = _text(rig.client("marie").get(ZONE))
        assert "Jours fériés et vacances : en attente du premier passage du moteur." in page
        assert "Lundi de Pâques" not in page
        # The engine's first tick of 1 April: Easter Monday (6 April) is still ahead, the
        # 1 January 2026 long gone, the 1 January 2027 within the twelve months.
        rig.clock.advance((datetime(2026, 4, 1, 9, 0, tzinfo=PARIS) - NOW).total_seconds())
        rig.publish_outlook()
        page = _text(rig.client("marie").get(ZONE))
        assert "en attente du premier passage" not in page
        assert "06/04/2026" in page and "01/01/2027" in page and "01/01/2026" not in page


def test_the_pages_in_english(rig: PanelRig) -> None:
    client = rig.client("marie")
    client.get("/lang/en")
    page = _text(client.get("/programmes/ecole/maternelle"))
    assert "Weekly programme" in page and "Monday" in page and "Edit the programme" in page
    assert "School holidays close this building." in page
    assert "Easter Monday" in page and "Winter holidays" in page
    for french in ("Programme hebdomadaire", "Lundi de Pâques", "Vacances d'hiver",
                   "Modifier le programme", "Nouvelle exception", "inoccupé"):
        assert french not in page
    response = client.post("/programmes/ecole/maternelle", data={
        **WEEK, "mon": "8h-12h", "csrf_token": csrf(client, INDEX)})
    assert response.status_code == 400
    text = _text(response)
    assert "Programme not saved. Monday: '8h-12h' is not a period HH:MM-HH:MM" in text
    assert "Weekly programmes" in _text(client.get(INDEX))
