"""French everywhere: every page of the panel, signed in as the admin on a store holding two
years of history and what people and the engine did (zones, an override, alarms, savings,
lighting, the audit log, programmes, an export, error pages), and the terminal's views, hold
no English word.

The English words are the catalogues' own: the words of every English text (the reasons'
templates of ``gtb.texts.catalogue``, the panel's ``EN`` catalogues) that no French text
uses, less the names the site file and the accounts give (proper names, shown as written)
and a short list allowed with its reason. The pages are every GET route of the Flask
application: a new page is rendered here without being listed, and a route with a
parameter the rig cannot fill fails until it can."""

from __future__ import annotations

import html
import html.parser
import json
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from gtb import i18n
from gtb.cli import main, tables
from gtb.cli.engine import _demo_accounts
from gtb.clock import SimulatedClock
from gtb.config import parse_site
from gtb.model import Site
from gtb.model.points import HeatingLevel, Quality
from gtb.savings.headline import span_headlines
from gtb.savings.site import site_savings
from gtb.store.audit import Severity
from gtb.store.status import OutputStatus
from gtb.texts import Reason, of_name
from gtb.texts.catalogue import CATALOGUE
from web import account_changes

from .conftest import DEMO_SITE
from .test_web_savings import ENGINE, FIRST, YESTERDAY, write_history
from .web_rig import NOW, PASSWORD, PanelRig, csrf, panel_rig, zone_status

ALLOWED = {
    "ok": "a reading's quality « ok » (``quality.ok``) is said so in French too",
    "on": "the French pronoun « on »",
    "mix": "« mix moyen de consommation », ADEME Base Carbone's French name of a factor",
    "total": "French too (« Total : 1 200 kWh évités »)",
}
"""English words a French page may hold, and why."""

ROUTES_NOT_PAGES = {
    "static": "the panel's scripts, styles and the vendored libraries",
    "pages.series": "the chart's data (JSON): numbers, its words are the page's",
    "export.download": "a data file for auditors, its columns named as docs/export.md says",
    "pages.language": "sets the cookie and redirects",
    "auth.logout": "POST only in use; signs out",
}
"""GET routes that are not pages a person reads, and why."""

QUERIES = {"savings.report": "?month=2026-01"}
"""What a page needs in its query to show its content."""


DECIMAL_POINT = re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])")
"""A number with a decimal point (not an address: 127.0.0.1)."""
CITED = re.compile(r"CalTRACK \d+\.\d+|sections? [\d.]+(?: à [\d.]+)?")
"""What keeps its points in French too: a standard's version and the sections cited."""


IDENTIFIER = re.compile(r"\w+(?:[._]\w+)+")
"""A name to type rather than a word to read: a point's key (mairie.accueil.temperature),
a column (time_local), a reason code (lighting.cut)."""

SCHEMA_CODES = ("guide.", "archive.")
"""The data guide's texts: French sentences about the archive's English names (its
measurements, tags, the meters' kinds, the actor « engine »), which they name bare. Their
words are no evidence that a word is French, and the guide's page alone may show them."""

GUIDE = "/export/guide"

RAW_CODE = re.compile(r"(?<![\w.])[a-z]+(?:\.[a-z0-9_]+)+\b")
"""A reason code, as a text the catalogue does not know reads (``gtb.texts.render``)."""


def words(text: str) -> set[str]:
    """The words of a text, lower case, without the fields of a template nor names to
    type (IDENTIFIER)."""
    text = IDENTIFIER.sub(" ", re.sub(r"\{[^}]*\}", " ", text))
    return {w.lower() for w in re.findall(r"[^\W\d_]+", text)}


def english_words(catalog: dict[str, str], proper: set[str]) -> set[str]:
    """The words of the catalogues' English (and of ``gtb.i18n``'s: days, months,
    « tomorrow ») that no French text uses (the data guide's aside), less the proper
    names and ALLOWED."""
    tomorrow = NOW + timedelta(days=1)
    english = [en for _, en in CATALOGUE.values()] + list(catalog.values()) + [
        *i18n.DAYS_EN, *i18n.DAYS_EN_SHORT, *i18n.MONTHS_EN, *i18n.MONTHS_EN_SHORT,
        i18n.moment(tomorrow, NOW, "en")]
    french = [fr for code, (fr, _) in CATALOGUE.items() if not code.startswith(SCHEMA_CODES)]
    french += [*catalog, *i18n.DAYS_FR, *i18n.DAYS_FR_SHORT, *i18n.MONTHS_FR,
               *i18n.MONTHS_FR_SHORT, i18n.moment(tomorrow, NOW, "fr")]
    found = set().union(*map(words, english)) - set().union(*map(words, french))
    return found - proper - set(ALLOWED)


def schema_words() -> set[str]:
    """The words the data guide's French sentences use (SCHEMA_CODES)."""
    return set().union(*(words(fr) for code, (fr, _) in CATALOGUE.items()
                         if code.startswith(SCHEMA_CODES)))


def raw_codes(text: str) -> set[str]:
    """Codes of the catalogue's themes shown as they are: a text it does not have."""
    themes = {code.split(".")[0] for code in CATALOGUE}
    return {code for code in RAW_CODE.findall(text)
            if code.split(".")[0] in themes and code not in CATALOGUE}


def proper_names(site: Site, accounts: list[str]) -> set[str]:
    """The words of the names the site file and the accounts give: shown as written."""
    names = [site.name, site.id, *accounts]
    for building in site.buildings:
        names += [building.id, building.name]
        names += [text for zone in building.zones for text in (zone.id, zone.name)]
    names += [text for cabinet in site.cabinets for text in (cabinet.id, cabinet.name)]
    return set().union(*map(words, names))


class _Text(html.parser.HTMLParser):
    """What a person reads of a page: its text, and the attributes read aloud or shown
    (title, labels, placeholders, the chart's legends), without scripts and styles, nor
    code to type (the data guide's names and queries)."""

    READ = frozenset({"title", "aria-label", "alt", "placeholder", "data-label"})
    HIDDEN = frozenset({"script", "style", "code", "pre"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self._hidden += 1
        for name, value in attrs:
            if value and name in self.READ:
                self.parts.append(value)
            elif value and name in ("data-labels", "data-calendar"):
                self.parts.append(" ".join(map(str, json.loads(value).values())))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def page_text(page: str) -> str:
    reader = _Text()
    reader.feed(page)
    return " ".join(reader.parts)


PASSWORD_CELL = re.compile(r"((?:lecteur|opérateur|administrateur)\s*[│|]\s*)[\w-]+")
"""A password in the demo's accounts table, after the role's cell."""


def english_in(text: str, english: set[str]) -> set[str]:
    return words(text) & english


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two years of daily history (the savings pages' test's), written once."""
    db = tmp_path_factory.mktemp("history") / "gtb.sqlite"
    site = parse_site(DEMO_SITE.read_text(encoding="utf-8"), "demo-commune.yaml")
    write_history(site, db, FIRST, YESTERDAY, ENGINE)
    return db


@pytest.fixture
def rig(demo_site: Site, history: Path, tmp_path: Path) -> Iterator[PanelRig]:
    db = tmp_path / "gtb.sqlite"
    db.write_bytes(history.read_bytes())
    for rig in panel_rig(demo_site, db, published=True):
        _what_the_engine_said(rig)
        yield rig


def _what_the_engine_said(rig: PanelRig) -> None:
    """The engine's status of every zone and output, its lines in the audit log, alarms."""
    site, at = rig.site, NOW
    tomorrow = (NOW + timedelta(days=1)).replace(hour=6, minute=51)
    learned = Reason.of(
        "heating.learned_setback", at=at,
        forecast=Reason.of("forecast.learned", start=tomorrow.replace(hour=8), end=tomorrow.replace(
            hour=17), similar=12, weeks=6, covered=10, kept=12, prior=0.2, confidence=0.8),
        setback=Reason.of("setback.reduced", setpoint=16.0),
        then=Reason.of("heating.preheat_about", at=at, start=tomorrow))
    zones = []
    for n, (building, zone) in enumerate((b, z) for b in site.buildings for z in b.zones):
        fields: dict[str, object] = {"reason": learned}
        if n == 0:
            fields = {"reason": Reason.of("override", at=at, who="admin", until=tomorrow,
                                          why="réunion"), "source": "override",
                      "actor": "admin", "setpoint": 20.0, "level": HeatingLevel.COMFORT}
        elif n == 1:
            fields = {"quality": Quality.STALE, "degraded": True, "reason": Reason.of(
                "zone.degraded", decision=Reason.of("heating.fixed_preheat", at=at,
                                                    minutes=120.0, start=tomorrow))}
        zones.append(zone_status(site, f"{building.id}.{zone.id}", at, **fields))
    outputs = [OutputStatus(kind="cabinet", id=c.id, name=c.name, at=at, on=False,
                            reason=Reason.of("lighting.daylight")) for c in site.cabinets]
    outputs += [OutputStatus(kind="plant", id=b.id, name=b.name, at=at, on=False,
                             reason=Reason.of("plant.idle")) for b in site.buildings]
    rig.store.status.save(at, zones, outputs)
    rig.store.audit.log(at, "engine", "engine", Reason.of("engine.started"),
                        Reason.of("engine.points", points=42, site=site.id), site=site.id)
    silent = Reason.of("device.silent", device=Reason.of("device.modbus", address="127.0.0.1",
                                                         unit=1),
                       cause="délai dépassé", consequences=[Reason.of("consequence.degraded")])
    rig.store.alarms.raise_("device:1", at=at, severity=Severity.CRITICAL, message=silent.fr,
                            message_en=silent.en, building=site.buildings[0].id)


def _what_people_did(rig: PanelRig) -> list[str]:
    """The admin overrides a zone, acknowledges an alarm, adds a lighting event and a
    programme's exception, saves a week, turns learning off, orders a cabinet on, disables
    an account, downloads an export; an account is made on the server: the pages each
    lands on, with its message."""
    client = rig.client("admin")
    building = rig.site.buildings[0]
    zone_path = f"/zone/{building.id}/{building.zones[0].id}"
    landed = []
    token = csrf(client, zone_path)
    for path, form in (
        (zone_path + "/override", {"value": "20,5", "duration": "2h", "why": "permanence"}),
        ("/alarms/1/ack", {}),
        ("/lighting/entries", {"cabinet": rig.site.cabinets[0].id, "kind": "lights_on",
                               "label": "Marché de Noël", "start": "2026-01-20T17:00",
                               "end": "2026-01-20T23:00"}),
        (f"/programmes/{building.id}/{building.zones[0].id}/exceptions", {
            "kind": "closure", "scope": "zone", "label": "Travaux", "start": "2026-01-20T08:00",
            "end": "2026-01-20T18:00"}),
        (f"/programmes/{building.id}/{building.zones[0].id}", {
            "mon": "07:30-12:00", "tue": "07:30-12:00", "wed": "", "thu": "", "fri": "",
            "sat": "", "sun": ""}),
        (zone_path + "/learning", {"enabled": "0"}),
        ("/lighting/order", {"cabinet": rig.site.cabinets[0].id, "state": "on",
                             "duration": "1h", "why": "accident rue"}),
        ("/admin/users/marie/disabled", {"disabled": "1"}),
    ):
        response = client.post(path, data={**form, "csrf_token": token}, follow_redirects=True)
        assert response.status_code == 200, (path, response.status_code)
        landed.append(response.get_data(as_text=True))
    account_changes.add_user(rig.store, "yvonne", PASSWORD, "operator",
                             by=account_changes.Actor.command_line(), at=NOW)
    download = client.get(f"/export/download?from=2026-01-05&to=2026-01-06&zone={building.id}"
                          f".{building.zones[0].id}&quantity=temperature&resolution=hour")
    download.close()
    return landed


def _pages(rig: PanelRig) -> dict[str, str]:
    """Every GET page of the panel, by its rule, as the admin sees it (signed in, French),
    and the error pages and the sign-in page."""
    building = rig.site.buildings[0]
    values = {"building_id": building.id, "zone_id": building.zones[0].id,
              "cabinet_id": rig.site.cabinets[0].id}
    client = rig.client("admin")
    pages: dict[str, str] = {}
    for rule in rig.app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint.startswith("api."):
            continue
        if rule.endpoint in ROUTES_NOT_PAGES:
            continue
        missing = set(rule.arguments) - set(values)
        assert not missing, f"{rule.rule}: give the rig a value for {missing}"
        given = {name: values[name] for name in rule.arguments}
        path = rule.build(given)[1] + QUERIES.get(rule.endpoint, "")  # type: ignore[index]
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        pages[path] = response.get_data(as_text=True)
    pages["404"] = client.get("/nowhere").get_data(as_text=True)
    pages["400"] = client.get("/audit?building=nowhere").get_data(as_text=True)
    pages["403"] = rig.client("mairie-viewer").get("/admin").get_data(as_text=True)
    pages["sign-in"] = rig.app.test_client().get("/login").get_data(as_text=True)
    return pages


def _english(rig: PanelRig) -> set[str]:
    accounts = [user.name for user in rig.store.accounts.users()]
    return english_words(rig.app.extensions["gtb_i18n"], proper_names(rig.site, accounts))


def test_the_list_of_english_words_is_the_catalogues(rig: PanelRig) -> None:
    english = _english(rig)
    assert {"engine", "operator", "temperature", "setpoint", "hour", "sun", "time",
            "tomorrow"} <= english
    # Not French words, nor the site's names, nor the accounts'.
    assert not {"zone", "mairie", "admin", "on"} & english
    assert english_in("Connexion de admin (rôle operator), Export CSV (hour)",
                      english) == {"operator", "hour"}


def test_every_page_of_the_panel_is_in_french(rig: PanelRig) -> None:
    english = _english(rig)
    landed = _what_people_did(rig)
    pages = _pages(rig)
    assert len(pages) >= 15, sorted(pages)
    pages.update({f"after action {n}": page for n, page in enumerate(landed)})
    found = {path: sorted(english_in(page_text(page), english)
                          - (schema_words() if path == GUIDE else set()))
             for path, page in pages.items()}
    assert {path: leaks for path, leaks in found.items() if leaks} == {}
    codes = {path: raw_codes(page_text(page)) for path, page in pages.items()}
    assert {path: shown for path, shown in codes.items() if shown} == {}
    points = {path: DECIMAL_POINT.findall(CITED.sub("", page_text(page)))
              for path, page in pages.items()}
    assert {path: numbers for path, numbers in points.items() if numbers} == {}
    # What the pages hold: the engine's words and people's, in French.
    audit = page_text(pages["/audit"])
    assert "Connexion d'admin" in audit and "rôle administrateur" in audit
    assert "moteur" in audit and "Export CSV (heure)" in audit and "température" in audit
    assert "Compte yvonne créé (opérateur)" in audit
    overview = page_text(pages["/"])
    assert "préchauffage prévu demain à 06:51" in overview


def test_the_terminal_views_are_in_french(rig: PanelRig, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    english = _english(rig)
    console = Console(record=True, width=240)
    console.print(tables.status_tables(rig.site, NOW, rig.store.status.zones().values(),
                                       rig.store.status.outputs().values(),
                                       len(rig.store.alarms.active())))
    status = console.export_text()
    assert english_in(status, english) == set()
    assert "lun. 12/01/2026 10:00" in status and "16,0" in status and "16.0" not in status
    assert "figée" in status and "dérogation" in status  # the overridden zone's mode
    result = site_savings(rig.store, rig.site, date(2025, 12, 1), date(2025, 12, 31))
    tables.print_savings(result, span_headlines(rig.store, rig.site, result.span,
                                                result.confidence))
    _demo_accounts(tmp_path / "demo.sqlite", SimulatedClock(NOW))
    # The accounts' passwords are random letters, which may spell an English word.
    printed = PASSWORD_CELL.sub(r"\1", capsys.readouterr().out)
    assert english_in(printed, english) == set()
    assert "opérateur" in printed and "administrateur" in printed
    users = CliRunner(env={"COLUMNS": "200"}).invoke(
        main, ["users", "list", "--db", str(tmp_path / "gtb.sqlite")])
    assert users.exit_code == 0 and "lecteur" in users.stdout
    assert english_in(users.stdout, english) == set()


def test_names_after_de_are_elided_before_a_vowel() -> None:
    assert [of_name(name) for name in ("admin", "marie", "École", "Yves", "Hélène", "1er")] == [
        "d'admin", "de marie", "d'École", "d'Yves", "de Hélène", "de 1er"]
    login = Reason.of("login", who="admin", where="127.0.0.1")
    assert (login.fr, login.en) == ("Connexion d'admin depuis 127.0.0.1",
                                    "admin signed in from 127.0.0.1")


def test_moments_after_a_preposition_say_the_day_first() -> None:
    now = datetime(2026, 1, 12, 22, 0, tzinfo=NOW.tzinfo)
    for start, fr, en in (
        (now.replace(hour=23), ", préchauffage prévu à 23:00", ", preheat due at 23:00"),
        (now + timedelta(hours=9), ", préchauffage prévu demain à 07:00",
         ", preheat due tomorrow at 07:00"),
        (now + timedelta(days=3), ", préchauffage prévu jeudi 15/01 à 22:00",
         ", preheat due Thursday 15/01 at 22:00"),
    ):
        reason = Reason.of("heating.preheat_about", at=now, start=start)
        assert (reason.fr, reason.en) == (fr, en)


def test_the_zone_chart_speaks_the_page_language(rig: PanelRig) -> None:
    """uPlot draws the chart in the browser (tests/test_browser.py); here, what the page
    gives it: its legend's words, the names of months and days (weeks begin on Sunday in
    JavaScript), and its time formats on 24 hours, dates day first."""
    client = rig.client("admin")
    building = rig.site.buildings[0]
    page = client.get(f"/zone/{building.id}/{building.zones[0].id}").get_data(as_text=True)
    chart = re.search(r"data-labels='([^']*)'\s+data-calendar='([^']*)'", page)
    assert chart is not None
    labels, calendar = (json.loads(html.unescape(part)) for part in chart.groups())
    assert labels["time"] == "Heure" and labels["setpoint"] == "Consigne"
    assert calendar["WWW"][:2] == ["dim.", "lun."] and calendar["MMM"][4] == "mai"
    client.get("/lang/en")
    page = client.get(f"/zone/{building.id}/{building.zones[0].id}").get_data(as_text=True)
    assert '"Sun"' in page and '"Time"' in page
    script = (Path(__file__).parent.parent / "web" / "static" / "zone-chart.js").read_text(
        encoding="utf-8")
    assert "{aa}" not in script and "{M}/{D}" not in script and "{HH}:{mm}" in script
    assert "{DD}/{MM}/{YYYY}" in script and "labels.time" in script
