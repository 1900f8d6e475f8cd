"""The auditors' download through Flask's test client on a real store file: the rows and the
header of a zone over a period, streamed; refusals before anything is sent; the audit line;
the form and its English; the files' names, the CSV for a French spreadsheet and the data
guide."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from gtb import export, export_guide
from gtb.model import Site
from gtb.store.samples import Sample
from web import export as web_export

from .web_rig import PARIS, ROLES, PanelRig, panel_rig


@pytest.fixture
def rig(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    yield from panel_rig(demo_site, tmp_path / "gtb.sqlite")


ACCUEIL = "mairie.accueil.temperature"
ACCUEIL_MODE = "mairie.accueil:mode"
MATERNELLE = "ecole.maternelle.temperature"
FIRST = datetime(2026, 1, 4, 22, 0, tzinfo=PARIS)  # the evening before the period
LAST = datetime(2026, 1, 7, 2, 0, tzinfo=PARIS)  # the night after it
STEP = timedelta(minutes=10)
PERIOD = "from=2026-01-05&to=2026-01-06"  # local days, the 6th included
IN_PERIOD = 2 * 24 * 6  # samples every 10 min over two local days


@pytest.fixture
def samples(rig: PanelRig) -> PanelRig:
    """Samples every 10 min of the reception's temperature and mode, and of a classroom."""
    written, t, i = [], FIRST.astimezone(UTC), 0
    while t < LAST:
        written += [Sample(ACCUEIL, t, 19.0 + (i % 5) * 0.1), Sample(ACCUEIL_MODE, t, 1.0),
                    Sample(MATERNELLE, t, 21.0)]
        t, i = t + STEP, i + 1
    rig.store.samples.write(written)
    rig.store.rollups.compute(FIRST, LAST)
    return rig


def download(client: FlaskClient, query: str) -> tuple[int, dict[str, str], str]:
    response = client.get("/export/download?" + query)
    return response.status_code, dict(response.headers), response.get_data(as_text=True)


def parsed(body: str) -> tuple[list[str], list[dict[str, str]]]:
    """The comment lines and the rows of an exported CSV."""
    comments = [line[2:] for line in body.splitlines() if line.startswith("# ")]
    rows = list(csv.DictReader(line for line in io.StringIO(body) if not line.startswith("#")))
    return comments, rows


def test_a_viewer_downloads_a_zone_over_local_days_as_csv(samples: PanelRig) -> None:
    client = samples.client("mairie-viewer")
    response = client.get(f"/export/download?{PERIOD}&building=&zone=mairie.accueil"
                          "&quantity=&resolution=raw&format=csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="marchiennes-le-vert_mairie-accueil_toutes-grandeurs_brutes_'
        '2026-01-05_2026-01-06.csv"')
    comments, rows = parsed(response.get_data(as_text=True))
    assert "period: 2026-01-05T00:00:00+01:00 (included) to 2026-01-07T00:00:00+01:00 " \
           "(excluded)" in comments
    assert "points: 6; filters: zone=mairie.accueil" in comments
    assert any(line.endswith("by the GTB web panel, for mairie-viewer") for line in comments)
    assert list(rows[0]) == list(export.COLUMNS)
    assert {row["point"] for row in rows} == {ACCUEIL, ACCUEIL_MODE}  # no classroom
    temperatures = [row for row in rows if row["point"] == ACCUEIL]
    assert len(temperatures) == IN_PERIOD
    assert temperatures[0]["time_local"] == "2026-01-05T00:00:00+01:00"
    assert temperatures[0]["time_utc"] == "2026-01-04T23:00:00+00:00"
    assert temperatures[-1]["time_local"] == "2026-01-06T23:50:00+01:00"
    assert temperatures[0]["value"] == "19.2"  # i = 12 from 22:00 the evening before
    assert {row["quality"] for row in temperatures} == {"ok"}
    assert {(row["building"], row["zone"], row["unit"]) for row in temperatures} == {
        ("mairie", "accueil", "°C")}


def test_the_csv_is_sent_a_piece_at_a_time(samples: PanelRig,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_export, "CHUNK", 4096)
    client = samples.client("mairie-viewer")
    response = client.get(f"/export/download?{PERIOD}&zone=mairie.accueil", buffered=False)
    pieces = list(response.response)
    assert len(pieces) > 10
    assert all(len(piece) < 4096 + 500 for piece in pieces)
    whole = b"".join(p if isinstance(p, bytes) else p.encode() for p in pieces)
    assert len(parsed(whole.decode())[1]) == 2 * IN_PERIOD
    response.close()


def test_hourly_json_lines_of_one_quantity(samples: PanelRig) -> None:
    status, headers, body = download(samples.client("mairie-viewer"),
                                     f"{PERIOD}&building=mairie&quantity=temperature"
                                     "&resolution=hour&format=json")
    assert status == 200
    assert headers["Content-Disposition"] == ('attachment; filename="marchiennes-le-vert_mairie_'
                                              'temperature_heure_2026-01-05_2026-01-06.jsonl"')
    records = [json.loads(line) for line in body.splitlines()]
    # The mairie has two temperatures: the reception's and the outdoor sensor (no samples).
    assert {r["point"] for r in records} == {ACCUEIL}
    assert len(records) == 48 and all(r["count"] == 6 for r in records)
    assert records[0]["time_local"] == "2026-01-05T00:00:00+01:00"


def test_the_download_is_in_the_audit_log(samples: PanelRig) -> None:
    status, _, _ = download(samples.client("mairie-viewer"),
                            f"{PERIOD}&zone=mairie.accueil&quantity=temperature&format=lp")
    assert status == 200
    [event] = samples.store.audit.events(kind="export")
    assert event.actor == "mairie-viewer"
    assert (event.building, event.zone) == ("mairie", "accueil")
    assert event.message == ("Export LP (brutes) du 05/01/2026 au 06/01/2026 : zone Mairie — "
                             "Accueil et état civil, température")
    assert event.message_en == ("Export LP (raw) from 05/01/2026 to 06/01/2026: zone Mairie — "
                                "Accueil et état civil, temperature")
    assert event.data == {"from": "2026-01-05", "to": "2026-01-06", "building": None,
                          "zone": "mairie.accueil", "cabinet": None, "quantity": ["temperature"],
                          "resolution": "raw", "format": "lp", "points": 1}


@pytest.mark.parametrize(("query", "message"), [
    (f"{PERIOD}&zone=mairie.grenier",
     "Aucune zone « mairie.grenier » dans le site marchiennes-le-vert ; ses zones : "
     "mairie.accueil"),
    (f"{PERIOD}&building=chateau", "Aucun bâtiment « chateau » sur le site"),
    (f"{PERIOD}&cabinet=ep-nord", "Aucune armoire d'éclairage « ep-nord » sur le site "
                                  "marchiennes-le-vert ; ses armoires : ep-centre, ep-eglise, "
                                  "ep-stade."),
    (f"{PERIOD}&cabinet=ep-centre&zone=mairie.accueil", "Une armoire d'éclairage n'est dans "
                                                         "aucun bâtiment ni aucune zone"),
    (f"{PERIOD}&building=ecole&zone=mairie.accueil", "Aucune zone « mairie.accueil » dans le "
                                                     "bâtiment ecole"),
    (f"{PERIOD}&quantity=humidity", "Grandeur inconnue « humidity »"),
    (f"{PERIOD}&zone=mairie.accueil&quantity=power",
     "La zone mairie.accueil : aucun point power ; il y a : lighting_relay, mode_decided, "
     "occupancy"),
    ("from=2026-01-07&to=2026-01-06", "Le début de la période (2026-01-07) est après sa fin"),
    ("from=2026-01-32&to=2026-02-01", "Le début de la période : « 2026-01-32 » n'est pas une "
                                     "date (AAAA-MM-JJ) entre 2000 et 2100."),
    ("to=2026-01-06", "Indiquez le début et la fin de la période."),
    (f"{PERIOD}&resolution=week", "Résolution inconnue : « week » ; possibles : raw, hour"),
    (f"{PERIOD}&format=xlsx", "Format inconnu : « xlsx » ; possibles : csv, csv-fr, json, lp."),
])
def test_bad_parameters_are_refused_and_nothing_is_sent(
    samples: PanelRig, query: str, message: str
) -> None:
    status, headers, body = download(samples.client("mairie-viewer"), query)
    assert status == 400
    assert "Content-Disposition" not in headers
    assert headers["Content-Type"].startswith("text/html")
    assert "time_local" not in body and ACCUEIL not in body.replace("zones : ", "")
    assert message in html.unescape(body)
    assert samples.store.audit.events(kind="export") == []


def test_anonymous_people_get_no_data(samples: PanelRig) -> None:
    status, headers, body = download(samples.client(), f"{PERIOD}&zone=mairie.accueil")
    assert status == 302 and "/login" in headers["Location"]
    assert "time_local" not in body


def test_the_form_has_a_label_for_every_field_and_last_month_by_default(rig: PanelRig) -> None:
    page = rig.client("mairie-viewer").get("/export").get_data(as_text=True)
    form = page[page.index("<form method=\"get\""):]
    fields = re.findall(r'<(?:input|select) id="([^"]+)" name="([^"]+)"', form)
    assert {name for _, name in fields} == {"from", "to", "building", "zone", "cabinet",
                                            "quantity", "resolution", "format"}
    for field_id, _ in fields:
        assert f'<label for="{field_id}">' in form
    assert 'name="from" type="date" required value="2025-12-01"' in form
    assert 'name="to" type="date" required value="2025-12-31"' in form
    assert '<option value="mairie.accueil">Accueil et état civil</option>' in form
    assert 'action="/export/download"' in form


def test_the_page_and_a_refusal_in_english(samples: PanelRig) -> None:
    client = samples.client("mairie-viewer")
    client.get("/lang/en")
    page = client.get("/export").get_data(as_text=True)
    for english in ("Data export", "To (included)", "Quantity", "Resolution", "Download",
                    "raw: every sample (kept 90 days)", "heating mode", "InfluxDB line protocol"):
        assert english in page
    assert "Télécharger" not in page and "Grandeur" not in page
    status, _, body = download(client, f"{PERIOD}&zone=mairie.grenier")
    assert status == 400
    assert "No zone 'mairie.grenier' in site marchiennes-le-vert" in html.unescape(body)


TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"


@pytest.mark.parametrize("template", ["alarms.html", "audit.html", "export.html",
                                      "export_guide.html"])
def test_every_text_of_the_page_has_its_english(rig: PanelRig, template: str) -> None:
    texts = re.findall(r'_\("([^"]+)"\)', (TEMPLATES / template).read_text(encoding="utf-8"))
    assert texts
    catalog = rig.app.extensions["gtb_i18n"]
    assert [text for text in texts if text not in catalog] == []
    # And the names the views hand to _(): kinds of line, formats (the quantities and the
    # resolutions are the catalogue's).
    from web import audit
    named = [*audit.KINDS.values(), *(f[0] for f in web_export.FORMATS.values())]
    assert [text for text in named if text not in catalog] == []
    # No other page's catalog gives one of these texts another English.
    from web import alarms
    mine = {**alarms.EN, **audit.EN, **web_export.EN}
    assert {text: catalog[text] for text in mine if catalog[text] != mine[text]} == {}


def test_each_download_is_named_after_what_it_holds(samples: PanelRig) -> None:
    client = samples.client("mairie-viewer")
    asked = [f"from={first}&to={last}&{place}&resolution={resolution}&format={fmt}"
             for first, last in (("2026-01-05", "2026-01-06"), ("2026-01-05", "2026-01-05"))
             for place in ("zone=mairie.accueil", "building=mairie", "cabinet=ep-centre")
             for resolution in ("raw", "hour") for fmt in ("csv", "csv-fr")]
    names = []
    for query in asked:
        status, headers, _ = download(client, query)
        assert status == 200, query
        disposition = headers["Content-Disposition"]
        assert disposition.startswith('attachment; filename="') and disposition.endswith('"')
        names.append(disposition.removeprefix('attachment; filename="').removesuffix('"'))
    assert len(set(names)) == len(asked) == 24
    assert all(re.fullmatch(r"[a-z0-9_.-]+", name) for name in names)
    assert names[asked.index("from=2026-01-05&to=2026-01-05&cabinet=ep-centre&resolution=hour"
                             "&format=csv-fr")] == (
        "marchiennes-le-vert_ep-centre_toutes-grandeurs_heure_2026-01-05_2026-01-05_excel-fr.csv")


def test_the_french_excel_download_reads_back_with_semicolons(samples: PanelRig) -> None:
    response = samples.client("mairie-viewer").get(
        f"/export/download?{PERIOD}&zone=mairie.accueil&quantity=temperature&resolution=hour"
        "&format=csv-fr")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    header_at = next(i for i, row in enumerate(table) if not row[0].startswith("#"))
    rows = [dict(zip(table[header_at], row, strict=True)) for row in table[header_at + 1:]]
    assert len(rows) == 48
    assert (rows[0]["time_local"], rows[0]["utc_offset"], rows[0]["time_utc"]) == (
        "05/01/2026 00:00", "UTC+01:00", "04/01/2026 23:00")
    # i = 12 to 17 from 22:00 the evening before: 19.2, 19.3, 19.4, 19.0, 19.1, 19.2
    assert rows[0]["value"] == "19,2" and rows[0]["max"] == "19,4"


GUIDE_QUERY = export_guide.QUERIES[0]


def test_the_data_guide_in_french_for_an_auditor(rig: PanelRig) -> None:
    client = rig.client("mairie-viewer")
    page = html.unescape(client.get("/export/guide").get_data(as_text=True))
    assert "<h1>Guide des données</h1>" in page
    assert "jj/mm/aaaa hh:mm" in page and "utc_offset" in page
    assert "index cumulé d'un compteur (kWh)" in page  # the measurement energy
    assert "l'armoire d'éclairage public" in page  # the tag cabinet
    assert "<code>time_utc</code></dt><dd>le même instant en temps universel (UTC)" in page
    # The site's first zone, last month (the rig's clock is on 12 January 2026).
    assert ("<code>marchiennes-le-vert_mairie-accueil_temperature_heure_2025-12-01_2025-12-31.csv"
            "</code>") in page
    assert all(query.text in page for query in export_guide.QUERIES)
    assert "guide." not in page, "a name the catalogue does not describe"
    export_page = client.get("/export").get_data(as_text=True)
    assert 'href="/export/guide"' in export_page and "docs/export.md" not in export_page


def test_the_data_guide_in_english(rig: PanelRig) -> None:
    client = rig.client("mairie-viewer")
    client.get("/lang/en")
    page = html.unescape(client.get("/export/guide").get_data(as_text=True))
    assert "<h1>Data guide</h1>" in page
    for english in ("Example queries", "a meter's cumulative index (kWh)",
                    "the same moment in universal time (UTC)",
                    "Each meter's consumption over a month, exact"):
        assert english in page
    assert "Guide des données" not in page and "Étiquettes" not in page
    assert GUIDE_QUERY.text in page


def test_the_guide_is_for_people_signed_in_and_in_their_menu(rig: PanelRig) -> None:
    anonymous = rig.client()
    response = anonymous.get("/export/guide")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert 'href="/export/guide"' not in anonymous.get("/login").get_data(as_text=True)
    for name in ROLES:
        menu = rig.client(name).get("/").get_data(as_text=True)
        assert '<a href="/export/guide">Guide des données</a>' in menu, name
