"""The archive as an auditor reads it (``gtb.archive``): the example queries run on Debian's
InfluxDB 1.x over the same history kept at one sample a minute and at one sample an hour,
and give the same figures, the expected ones; docs/history.md shows them word for word and
its step that creates the database works as written; every measurement, tag and query has
its words in French and English.

The Flux and SQL versions are not run: no InfluxDB 2.x or 3.x server can run here (Debian's
InfluxDB 1.6 has no Flux); docs/history.md says so."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import urllib3

from gtb.archive import (
    EVENT_MEASUREMENTS,
    MODES,
    QUERIES,
    SAMPLE_MEASUREMENTS,
    TAGS,
    UNKNOWN_MEASUREMENT,
    ExampleQuery,
    meaning,
)
from gtb.bench.servers import LocalInfluxDB1
from gtb.config import load_site
from gtb.influx import Schema
from gtb.model import Site
from gtb.store.audit import Event

ROOT = Path(__file__).resolve().parent.parent
HISTORY_DOC = ROOT / "docs" / "history.md"
DEMO_SITE = ROOT / "sites" / "demo-commune.yaml"
PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 2, 27, tzinfo=PARIS).astimezone(UTC)
END = datetime(2026, 4, 2, tzinfo=PARIS).astimezone(UTC)
"""The history: around March 2026, the month the queries ask about (and its clock change)."""

LIT_HOURS = {5, 6, 18, 19, 20, 21, 22}
"""Local hours when the centre's public lighting is on: 7 hours a night."""
RESOLUTIONS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}


def history(site: Site) -> dict[str, list[str]]:
    """The same month as the shipper would have written it, a sample a minute and a sample
    an hour (the minute history's samples at each full hour). The zone is in comfort (1) from
    08:00 to 18:00 local time and reduced (2) otherwise, at 19 °C or 16 °C; meters count
    2 kWh an hour (heating), 0.5 (electricity) and 4 while the lighting is on."""
    schema = Schema(site)
    lines: dict[str, list[str]] = {name: [] for name in RESOLUTIONS}
    heating = electricity = lighting = 0.0
    at = START
    while at < END:
        local = at.astimezone(PARIS)
        comfort = 8 <= local.hour < 18
        lit = local.hour in LIT_HOURS
        values = {
            "mairie.accueil:mode": 1.0 if comfort else 2.0,
            "mairie.accueil.temperature": 19.0 if comfort else 16.0,
            "mairie.accueil.consigne": 19.0 if comfort else 16.0,
            "mairie.compteur-chauffage": 1000.0 + heating,
            "mairie.compteur-electricite": 500.0 + electricity,
            "ep-centre.relais": 1.0 if lit else 0.0,
            "ep-centre.compteur": 200.0 + lighting,
        }
        ts = int(at.timestamp())
        minute = [schema.sample_line(point, ts, value, "ok", None)
                  for point, value in values.items()]
        lines["minute"] += minute
        if at.minute == 0:
            lines["hour"] += minute
        heating += 2 / 60
        electricity += 0.5 / 60
        lighting += 4 / 60 if lit else 0.0
        at += timedelta(minutes=1)
    return lines


OVERRIDE = Event(7, datetime(2026, 3, 10, 9, 30, tzinfo=UTC), "override", "marie",
                 "Consigne 22 °C jusqu'à 12:00", "réunion du conseil", "marchiennes-le-vert",
                 "mairie", "accueil", "mairie.accueil.consigne", {"value": 22.0},
                 "Setpoint 22 °C until 12:00", "council meeting")


@pytest.fixture(scope="module")
def influxdb1() -> Iterator[LocalInfluxDB1]:
    with LocalInfluxDB1() as server:
        yield server


@pytest.fixture(scope="module")
def archives(influxdb1: LocalInfluxDB1) -> LocalInfluxDB1:
    """Databases ``minute`` and ``hour``, each holding the history at that resolution."""
    demo_site = load_site(DEMO_SITE)
    http = urllib3.PoolManager()
    event = Schema(demo_site).event_line(OVERRIDE)
    for name, lines in history(demo_site).items():
        influxdb1.create_database(name)
        for precision, body in (("s", "\n".join(lines)), ("u", event)):
            response = http.request(
                "POST", f"{influxdb1.url}/write?db={name}&precision={precision}",
                body=body.encode())
            assert response.status == 204, response.data
    return influxdb1


def answers(server: LocalInfluxDB1, query: str) -> dict[str, Any]:
    """What each resolution's database answers: {database: {tags: rows}}, numbers rounded
    to the milli (the meters' indexes add up minutes in floating point)."""
    def rounded(row: list[Any]) -> list[Any]:
        return [round(v, 3) if isinstance(v, float) else v for v in row]

    return {name: {(*sorted(s.get("tags", {}).items()), s["name"]): [rounded(row) for row in
                                                                    s["values"]]
                   for s in server.query(query, name)}
            for name in RESOLUTIONS}


def same_at_both_resolutions(server: LocalInfluxDB1, query: str) -> dict[Any, Any]:
    found = answers(server, query)
    assert found["minute"] == found["hour"], query
    return found["hour"]


def test_the_month_of_each_meter_with_the_buildings_and_the_cabinets(
    archives: LocalInfluxDB1,
) -> None:
    found = same_at_both_resolutions(archives, QUERIES[0].influxql)
    kwh = {dict(key[:-1])["point"]: (dict(key[:-1])["meter"], rows[0][1])
           for key, rows in found.items()}
    march = 743  # hours: 31 days, one of them 23 hours long
    assert kwh == {
        "mairie.compteur-chauffage": ("heating", 2 * march),
        "mairie.compteur-electricite": ("electricity", 0.5 * march),
        "ep-centre.compteur": ("lighting", 4 * 7 * 31),
    }


def test_temperatures_and_setpoints_hour_by_hour(archives: LocalInfluxDB1) -> None:
    found = same_at_both_resolutions(archives, QUERIES[1].influxql)
    assert {key[-1] for key in found} == {"temperature", "setpoint"}
    for rows in found.values():
        assert len(rows) == 23, "29 March 2026 has 23 hours"
        by_hour = {datetime.fromtimestamp(t, PARIS).hour: mean for t, mean in rows}
        assert 2 not in by_hour
        assert (by_hour[7], by_hour[8], by_hour[17], by_hour[18]) == (16.0, 19.0, 19.0, 16.0)


@pytest.mark.parametrize(("mode", "hours"), [(1, 10 * 31), (2, 743 - 10 * 31), (3, None)])
def test_hours_in_each_mode_are_weighted_by_time(
    archives: LocalInfluxDB1, mode: int, hours: int | None
) -> None:
    query = MODES.influxql.replace('"mode" = 2', f'"mode" = {mode}')
    assert query != MODES.influxql or mode == 2
    found = same_at_both_resolutions(archives, query)
    if hours is None:
        assert found == {}
    else:
        [(key, rows)] = found.items()
        assert dict(key[:-1]) == {"building": "mairie", "zone": "accueil"}
        assert rows[0][1] == hours


def test_hours_of_public_lighting_per_cabinet(archives: LocalInfluxDB1) -> None:
    found = same_at_both_resolutions(archives, QUERIES[3].influxql)
    assert {dict(key[:-1])["cabinet"]: rows[0][1] for key, rows in found.items()} == {
        "ep-centre": 7 * 31}


def test_overrides_read_with_their_words(archives: LocalInfluxDB1) -> None:
    found = same_at_both_resolutions(archives, QUERIES[4].influxql)
    [rows] = found.values()
    assert [row[1:] for row in rows] == [["mairie", "accueil", None, "mairie.accueil.consigne",
                                          "marie", "Consigne 22 °C jusqu'à 12:00",
                                          "réunion du conseil", 22.0]]


# -- docs/history.md -----------------------------------------------------------------------


def code_blocks(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"```\w*\n(.*?)\n```", text, re.DOTALL)]


def test_the_docs_show_every_query_word_for_word_and_no_other() -> None:
    text = HISTORY_DOC.read_text(encoding="utf-8")
    section = text[text.index("## Queries"):]
    section = section[:section.index("\n## ", 1)]
    blocks = code_blocks(section)
    shown = [q for query in QUERIES for q in (query.influxql, query.flux, query.sql)]
    assert [q for q in shown if q not in blocks] == []
    assert [b for b in blocks if b not in shown] == [], "a query the module does not hold"


def test_the_database_is_created_as_the_docs_say(influxdb1: LocalInfluxDB1) -> None:
    text = HISTORY_DOC.read_text(encoding="utf-8")
    [step] = [b for b in code_blocks(text) if "CREATE DATABASE" in b]
    assert "http://localhost:8086" in step
    subprocess.run(["bash", "-euc", step.replace("http://localhost:8086", influxdb1.url)],
                   check=True, capture_output=True, timeout=60)
    databases = influxdb1.query("SHOW DATABASES")[0]["values"]
    assert ["gtb"] in databases


def test_older_data_moves_to_the_new_measurements_as_the_docs_say(
    influxdb1: LocalInfluxDB1,
) -> None:
    influxdb1.create_database("before")
    at = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp())
    site = "site=marchiennes-le-vert"
    old = [f"mode,building=mairie,point=mairie.accueil:mode,{site},zone=accueil value=1.0 {at}",
           f"mode,building=gymnase,point=gymnase.salle.mode,{site},zone=salle value=2.0 {at}",
           f"lighting,cabinet=ep-centre,point=ep-centre.relais,{site} value=1.0 {at}",
           f"lighting,cabinet=ep-centre,point=ep-centre.gradation,{site} value=50.0 {at}",
           f'lighting,cabinet=ep-centre,point=ep-centre.gradation,{site} quality="failed",'
           f'error="timeout" {at + 60}']
    response = urllib3.request("POST", f"{influxdb1.url}/write?db=before&precision=s",
                               body="\n".join(old).encode())
    assert response.status == 204, response.data
    text = HISTORY_DOC.read_text(encoding="utf-8")
    [statements] = [b for b in code_blocks(text) if 'INTO "mode_decided"' in b]
    for statement in statements.splitlines():
        influxdb1.query(statement, "before")
    measurements = influxdb1.query("SHOW MEASUREMENTS", "before")[0]["values"]
    assert measurements == [["lighting_dimming"], ["lighting_relay"], ["mode_decided"],
                            ["mode_reported"]]
    points = {name: influxdb1.query(
        f'SELECT "point", "value", "quality" FROM "{name}"', "before")[0]["values"]
        for [name] in measurements}
    assert points == {
        "mode_decided": [[at, "mairie.accueil:mode", 1.0, None]],
        "mode_reported": [[at, "gymnase.salle.mode", 2.0, None]],
        "lighting_relay": [[at, "ep-centre.relais", 1.0, None]],
        "lighting_dimming": [[at, "ep-centre.gradation", 50.0, None],
                             [at + 60, "ep-centre.gradation", None, "failed"]],
    }


# -- words -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*SAMPLE_MEASUREMENTS, UNKNOWN_MEASUREMENT,
                                  *EVENT_MEASUREMENTS, *TAGS])
def test_each_measurement_and_tag_says_what_it_holds(name: str) -> None:
    french, english = meaning(name, "fr"), meaning(name, "en")
    assert french and english


@pytest.mark.parametrize("query", QUERIES, ids=[q.id for q in QUERIES])
def test_each_query_has_a_title_and_an_explanation(query: ExampleQuery) -> None:
    for lang in ("fr", "en"):
        assert query.title(lang) and query.explanation(lang)
    assert query.title("fr") != query.title("en")
