"""`gtb export` on a real store: three days of the demo commune around the spring clock change,
exported as an auditor would, in CSV, JSON Lines and line protocol; the CSV for a French
spreadsheet through the autumn clock change; the files' names; the data guide's names and
queries."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from gtb import export_guide
from gtb.cli import main
from gtb.export import (
    EXCEL_COLUMNS,
    CsvWriter,
    ExcelFrCsvWriter,
    ExportPoint,
    Format,
    Period,
    Resolution,
    Row,
    Scope,
    file_name,
    rows,
    site_points,
)
from gtb.influx import Schema
from gtb.model import Site
from gtb.model.points import Quality
from gtb.store import Store
from gtb.store.samples import Sample, Samples

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 3, 28, tzinfo=PARIS)  # Sunday 29 March 2026 has 23 hours
END = datetime(2026, 3, 31, tzinfo=PARIS)
STEP = timedelta(minutes=15)

MAIRIE_TEMP = "mairie.accueil.temperature"
MAIRIE_MODE = "mairie.accueil:mode"
MAIRIE_METER = "mairie.compteur-chauffage"
ECOLE_TEMP = "ecole.maternelle.temperature"
FAILED_AT = datetime(2026, 3, 29, 10, 0, tzinfo=PARIS)
STALE_AT = datetime(2026, 3, 29, 10, 15, tzinfo=PARIS)
ERROR = 'BACnet timeout, device 1001 "mairie"'

COLUMNS = ["time_local", "time_utc", "site", "building", "zone", "point", "name", "quantity",
           "meter", "unit", "value", "min", "max", "count", "hours", "quality", "error"]


def temperature(i: int) -> float:
    return 18.0 + (i % 8) * 0.25


@dataclass
class History:
    site_file: Path
    db: Path
    tmp: Path

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(
            main, ["export", str(self.site_file), "--db", str(self.db), *args])


@pytest.fixture
def history(tmp_path: Path, demo_site_text: str) -> History:
    """Three local days of samples every 15 min, rolled up, in a real store."""
    site_file = tmp_path / "site.yaml"
    site_file.write_text(demo_site_text, encoding="utf-8")
    db = tmp_path / "gtb.sqlite"
    samples = []
    t, i = START.astimezone(UTC), 0
    while t < END:
        samples += [Sample(MAIRIE_TEMP, t, temperature(i)),
                    Sample(MAIRIE_MODE, t, 1.0 if i % 4 else 2.0),
                    Sample(MAIRIE_METER, t, 5000.0 + 2.5 * i)]
        if t == FAILED_AT:
            samples.append(Sample(ECOLE_TEMP, t, None, Quality.FAILED, ERROR))
        elif t == STALE_AT:
            samples.append(Sample(ECOLE_TEMP, t, 20.5, Quality.STALE, "not read"))
        else:
            samples.append(Sample(ECOLE_TEMP, t, 20.0 + (i % 3)))
        t, i = t + STEP, i + 1
    with Store(db) as store:
        store.samples.write(samples)
        store.rollups.compute(START, END)
    return History(site_file, db, tmp_path)


def read_csv(text: str) -> tuple[list[str], list[str], list[dict[str, str]]]:
    """Comment lines (without '# '), column names and rows of an exported CSV."""
    lines = text.splitlines()
    comments = [line.removeprefix("# ") for line in lines if line.startswith("#")]
    assert all(line.startswith("#") for line in lines[:len(comments)]), "comments come first"
    reader = csv.DictReader(lines[len(comments):])
    rows = list(reader)
    return comments, list(reader.fieldnames or []), rows


def test_csv_says_what_it_holds_and_has_every_sample_of_a_23_hour_day(
    history: History,
) -> None:
    out = history.tmp / "mairie.csv"
    result = history.run("--from", "2026-03-29", "--to", "2026-03-29", "--building", "mairie",
                         "--quantity", "temperature", "--format", "csv", "--output", str(out))
    assert result.exit_code == 0, result.output
    comments, columns, rows = read_csv(out.read_text(encoding="utf-8"))
    assert columns == COLUMNS
    assert comments[0] == "GTB export of site Marchiennes-le-Vert (marchiennes-le-vert)"
    assert any(c.startswith("time zone: Europe/Paris") for c in comments)
    assert any(c.startswith("resolution: raw") for c in comments)
    assert ("period: 2026-03-29T00:00:00+01:00 (included) to 2026-03-30T00:00:00+02:00 "
            "(excluded)") in comments
    assert any("decimal point '.'" in c for c in comments)
    assert any(c.startswith("generated: ") for c in comments)

    assert len(rows) == 23 * 4  # the clocks went forward: 02:00 to 03:00 never happened
    assert {r["point"] for r in rows} == {MAIRIE_TEMP}
    first = rows[0]
    assert first["time_local"] == "2026-03-29T00:00:00+01:00"
    assert first["time_utc"] == "2026-03-28T23:00:00+00:00"
    assert (first["site"], first["building"], first["zone"]) == (
        "marchiennes-le-vert", "mairie", "accueil")
    assert (first["quantity"], first["unit"], first["quality"]) == ("temperature", "°C", "ok")
    assert first["min"] == first["max"] == first["count"] == first["hours"] == ""
    i = (datetime(2026, 3, 29, tzinfo=PARIS) - START) // STEP
    assert [float(r["value"]) for r in rows] == [temperature(i + n) for n in range(92)]
    local = [r["time_local"] for r in rows]
    assert local[7:9] == ["2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00"]
    assert "92 rows written (4 points, 1 with data;" in result.stderr  # temp-ext and 3 zones
    assert result.stdout == ""


def test_a_failed_and_a_stale_sample_keep_their_quality_and_error(history: History) -> None:
    result = history.run("--from", "2026-03-29T10:00", "--to", "2026-03-29T10:30",
                         "--zone", "ecole.maternelle", "--format", "csv")
    assert result.exit_code == 0, result.output
    _, _, rows = read_csv(result.stdout)
    assert [(r["time_local"], r["value"], r["quality"], r["error"]) for r in rows] == [
        ("2026-03-29T10:00:00+02:00", "", "failed", ERROR),
        ("2026-03-29T10:15:00+02:00", "20.5", "stale", "not read"),
    ]
    assert "rows written" not in result.stdout  # the summary goes to stderr only
    assert "2 rows written" in result.stderr


@pytest.mark.parametrize(("filters", "points"), [
    (["--building", "ecole"], {ECOLE_TEMP}),
    (["--building", "mairie"], {MAIRIE_TEMP, MAIRIE_MODE, MAIRIE_METER}),
    (["--zone", "accueil"], {MAIRIE_TEMP, MAIRIE_MODE}),
    (["--zone", "mairie.accueil", "--quantity", "mode_decided"], {MAIRIE_MODE}),
    (["--quantity", "temperature", "--quantity", "energy"], {MAIRIE_TEMP, MAIRIE_METER,
                                                             ECOLE_TEMP}),
    (["--building", "mairie", "--zone", "accueil", "--quantity", "temperature"], {MAIRIE_TEMP}),
])
def test_filters_keep_the_points_asked_for(
    history: History, filters: list[str], points: set[str]
) -> None:
    result = history.run("--from", "2026-03-28", "--to", "2026-03-30", "--format", "json",
                         *filters)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["point"] for r in rows} == points


def test_day_resolution_has_the_23_hour_day(history: History) -> None:
    result = history.run("--from", "2026-03-28", "--to", "2026-03-30", "--zone", "accueil",
                         "--quantity", "temperature", "--resolution", "day", "--format", "csv")
    assert result.exit_code == 0, result.output
    comments, _, rows = read_csv(result.stdout)
    assert "period: local days 2026-03-28 to 2026-03-30, both included" in comments
    assert [(r["time_local"], r["time_utc"], r["hours"], r["count"]) for r in rows] == [
        ("2026-03-28T00:00:00+01:00", "2026-03-27T23:00:00+00:00", "24", "96"),
        ("2026-03-29T00:00:00+01:00", "2026-03-28T23:00:00+00:00", "23", "92"),
        ("2026-03-30T00:00:00+02:00", "2026-03-29T22:00:00+00:00", "24", "96"),
    ]
    sunday = [temperature(96 + n) for n in range(92)]
    assert float(rows[1]["value"]) == pytest.approx(sum(sunday) / 92)
    assert (float(rows[1]["min"]), float(rows[1]["max"])) == (18.0, 19.75)
    assert rows[1]["quality"] == rows[1]["error"] == ""


def test_month_resolution_counts_the_hours_of_march(history: History) -> None:
    result = history.run("--from", "2026-03", "--to", "2026-03", "--zone", "accueil",
                         "--quantity", "mode_decided", "--resolution", "month", "--format", "json")
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["time_local"] == "2026-03-01T00:00:00+01:00"
    assert (row["hours"], row["count"], row["min"], row["max"]) == (24 + 23 + 24, 284, 1.0, 2.0)
    assert row["value"] == pytest.approx(1.25)


def test_hourly_json_lines_parse_and_carry_the_rollups(history: History) -> None:
    result = history.run("--from", "2026-03-29", "--to", "2026-03-29", "--zone", "maternelle",
                         "--resolution", "hour", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 23
    assert all(list(r) == COLUMNS for r in rows)
    ten = next(r for r in rows if r["time_local"] == "2026-03-29T10:00:00+02:00")
    # 10:00 failed and 10:15 was stale: the rollup has the two good samples only
    assert ten["count"] == 2 and ten["quality"] is None
    assert ten["time_utc"] == "2026-03-29T08:00:00+00:00"
    assert (ten["unit"], ten["hours"]) == ("°C", None)
    assert all(r["count"] == 4 for r in rows if r is not ten)


def test_raw_line_protocol_is_what_the_shipper_sends(
    history: History, demo_site: Site
) -> None:
    result = history.run("--from", "2026-03-28", "--to", "2026-03-30", "--format", "lp")
    assert result.exit_code == 0, result.output
    schema = Schema(demo_site)
    expected = []
    with Store(history.db) as store:
        for key in (MAIRIE_METER, MAIRIE_TEMP, ECOLE_TEMP, MAIRIE_MODE):  # the export's order
            expected += [
                schema.sample_line(key, int(s.ts.timestamp()), s.value, s.quality.value, s.error)
                for s in store.samples.read(key, START, datetime(2026, 3, 31, tzinfo=PARIS))
            ]
    assert result.stdout.splitlines() == expected
    assert len(expected) == 4 * (96 + 92 + 96)
    assert any('quality="failed"' in line for line in expected)


def test_hourly_line_protocol_goes_to_suffixed_measurements(history: History) -> None:
    result = history.run("--from", "2026-03-29T03:00", "--to", "2026-03-29T04:00",
                         "--zone", "accueil", "--resolution", "hour", "--format", "lp")
    assert result.exit_code == 0, result.output
    three = int(datetime(2026, 3, 29, 1, tzinfo=UTC).timestamp())
    values = [temperature((datetime(2026, 3, 29, 1, tzinfo=UTC) - START) // STEP + n)
              for n in range(4)]
    assert result.stdout.splitlines() == [
        "temperature_1h,building=mairie,point=mairie.accueil.temperature,"
        "site=marchiennes-le-vert,unit=°C,zone=accueil "
        f"mean={sum(values) / 4!r},min={min(values)!r},"
        f"max={max(values)!r},count=4i {three}",
        "mode_decided_1h,building=mairie,point=mairie.accueil:mode,site=marchiennes-le-vert,"
        f"zone=accueil mean=1.25,min=1.0,max=2.0,count=4i {three}",
    ]


def test_daily_line_protocol_has_the_hours(history: History) -> None:
    result = history.run("--from", "2026-03-29", "--to", "2026-03-29", "--quantity", "energy",
                         "--resolution", "day", "--format", "lp")
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    assert line.startswith("energy_1d,building=mairie,meter=heating,"
                           "point=mairie.compteur-chauffage,site=marchiennes-le-vert,unit=kWh ")
    assert ",count=92i,hours=23i " in line
    assert line.endswith(f" {int(datetime(2026, 3, 29, tzinfo=PARIS).timestamp())}")


DAY = ["--from", "2026-03-28", "--to", "2026-03-29"]


@pytest.mark.parametrize(("args", "says"), [
    ([*DAY, "--building", "hotel-de-ville"], ["'hotel-de-ville'", "mairie, ecole, gymnase"]),
    ([*DAY, "--zone", "cuisine"], ["'cuisine'", "mairie.accueil", "ecole.cantine"]),
    ([*DAY, "--building", "ecole", "--zone", "accueil"], ["'accueil'", "ecole.cantine"]),
    ([*DAY, "--quantity", "humidity"], ["'humidity'", "temperature", "energy"]),
    ([*DAY, "--building", "ecole", "--quantity", "power"],
     ["ecole has no power point", "valve"]),
    (["--from", "2026-03-30", "--to", "2026-03-29T12:00"], ["--from", "not before --to"]),
    (["--from", "29/03/2026", "--to", "2026-03-29"], ["'29/03/2026'", "ISO 8601"]),
    (["--from", "2026-03-29", "--to", "9999-12-31"], ["'9999-12-31'", "last date"]),
    (["--from", "0001-01-01", "--to", "2026-03-29"], ["'0001-01-01'", "beyond the dates"]),
    (["--from", "2026-03-29", "--to", "9999-12-30"],
     ["'9999-12-30'", "0001-02-01 to 9999-11-01 UTC"]),
    (["--from", "2026-03-29", "--to", "9999-12"], ["'9999-12'", "last date"]),
])
def test_bad_requests_exit_2_and_write_nothing(
    history: History, args: list[str], says: list[str]
) -> None:
    out = history.tmp / "out.csv"
    result = history.run(*args, "--format", "csv", "--output", str(out))
    assert result.exit_code == 2, result.output
    for text in says:
        assert text in result.stderr
    assert not out.exists()
    assert sorted(p.name for p in history.tmp.iterdir()) == ["gtb.sqlite", "site.yaml"]


def test_an_export_that_fails_half_way_leaves_the_old_file_alone(
    history: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = history.tmp / "out.csv"
    out.write_text("the previous export\n", encoding="utf-8")
    real_rows = Samples.rows

    def rows_then_failure(*args: Any, **kwargs: Any) -> Iterator[Any]:
        yield from islice(real_rows(*args, **kwargs), 10)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Samples, "rows", rows_then_failure)
    result = history.run("--from", "2026-03-28", "--to", "2026-03-29", "--format", "csv",
                         "--output", str(out))
    assert result.exit_code == 1
    assert "export stopped, nothing was written: [Errno 28] No space left" in result.stderr
    assert out.read_text(encoding="utf-8") == "the previous export\n"
    assert sorted(p.name for p in history.tmp.iterdir()) == ["gtb.sqlite", "out.csv",
                                                              "site.yaml"]


def test_a_missing_store_is_an_error_and_is_not_created(history: History) -> None:
    missing = history.tmp / "nowhere.sqlite"
    result = CliRunner().invoke(main, ["export", str(history.site_file), "--db", str(missing),
                                       "--from", "2026-03-28", "--to", "2026-03-29",
                                       "--format", "csv"])
    assert result.exit_code == 2
    assert f"no store at {missing}" in result.stderr
    assert not missing.exists()
    assert result.stdout == ""


def test_the_store_reads_samples_in_chunks_without_losing_any(history: History) -> None:
    start, end = datetime(2026, 3, 29, tzinfo=PARIS), datetime(2026, 3, 30, tzinfo=PARIS)
    with Store(history.db) as store:
        whole = store.samples.read(ECOLE_TEMP, start, end)
        for chunk in (1, 7, 46, 92, 1000):  # 92 samples: chunks that divide it and not
            rows = list(store.samples.rows(ECOLE_TEMP, start, end, chunk=chunk))
            assert rows == [(int(s.ts.timestamp()), s.value, s.quality.value, s.error)
                            for s in whole]
        assert store.samples.count(ECOLE_TEMP, start, end) == 92
        assert store.rollups.count(ECOLE_TEMP, start, end) == 23


def test_the_fast_raw_csv_writes_the_lines_of_the_row_by_row_writer(
    history: History, demo_site: Site
) -> None:
    """write_raw (a million rows a year) must give exactly what write gives, row by row:
    through the daylight-saving night, a failed read with a quoted error, a stale one."""
    period = Period(datetime(2026, 3, 28, tzinfo=PARIS), datetime(2026, 3, 31, tzinfo=PARIS),
                    PARIS)
    [point] = [p for p in site_points(demo_site) if p.key == ECOLE_TEMP]
    with Store(history.db) as store:
        fast, slow = io.StringIO(), io.StringIO()
        written = CsvWriter(fast, demo_site, []).write_raw(
            point, store.samples.rows(point.key, period.start, period.end))
        row_by_row = CsvWriter(slow, demo_site, [])
        for row in rows(store, point, period, Resolution.RAW):
            row_by_row.write(row)
    assert written == 3 * 96 - 4
    assert fast.getvalue() == slow.getvalue()
    assert f'"{ERROR.replace(chr(34), 2 * chr(34))}"' in fast.getvalue()


# -- the files' names -------------------------------------------------------------------------

MARCH = Period(datetime(2026, 3, 1, tzinfo=PARIS), datetime(2026, 4, 1, tzinfo=PARIS), PARIS)
APRIL = Period(datetime(2026, 4, 1, tzinfo=PARIS), datetime(2026, 5, 1, tzinfo=PARIS), PARIS)


def test_a_file_name_says_site_place_quantity_resolution_and_days() -> None:
    name = file_name("marchiennes-le-vert", Scope("mairie", "accueil"), ["temperature"],
                     Resolution.HOUR, MARCH, Format.CSV)
    assert name == "marchiennes-le-vert_mairie-accueil_temperature_heure_2026-03-01_2026-03-31.csv"
    assert file_name("marchiennes-le-vert", Scope(cabinet="ep-centre"), ["lighting", "energy"],
                     Resolution.DAY, MARCH, Format.CSV_FR) == (
        "marchiennes-le-vert_ep-centre_eclairage-energie_jour_2026-03-01_2026-03-31_excel-fr.csv")
    assert file_name("marchiennes-le-vert", Scope(), [], Resolution.RAW, MARCH, Format.LP) == (
        "marchiennes-le-vert_toutes-grandeurs_brutes_2026-03-01_2026-03-31.lp")


def test_file_names_of_different_exports_differ_and_are_safe() -> None:
    scopes = [Scope(), Scope("mairie"), Scope("mairie", "accueil"), Scope("ecole", "accueil"),
              Scope(cabinet="ep-centre"), Scope(cabinet="ep-eglise")]
    names = [file_name("marchiennes-le-vert", scope, quantities, resolution, period, fmt)
             for scope in scopes for quantities in ([], ["temperature"], ["co2", "mode"])
             for resolution in Resolution for period in (MARCH, APRIL) for fmt in Format]
    assert len(set(names)) == len(names) == 6 * 3 * 4 * 2 * 4
    assert all(re.fullmatch(r"[a-z0-9_.-]+", name) for name in names)


def test_gtb_export_writes_into_a_folder_under_the_exports_name(history: History) -> None:
    result = history.run("--from", "2026-03-28", "--to", "2026-03-29", "--zone", "accueil",
                         "--resolution", "hour", "--format", "csv",
                         "--output-dir", str(history.tmp))
    assert result.exit_code == 0, result.output
    written = history.tmp / ("marchiennes-le-vert_mairie-accueil_toutes-grandeurs_heure_"
                             "2026-03-28_2026-03-29.csv")
    assert f"to {written}" in result.stderr
    assert len(read_csv(written.read_text(encoding="utf-8"))[2]) == (24 + 23) * 2


def test_a_cabinets_points_alone(history: History) -> None:
    result = history.run("--from", "2026-03-28", "--to", "2026-03-29", "--cabinet", "ep-centre",
                         "--format", "csv")
    assert result.exit_code == 0, result.output
    comments, _, _ = read_csv(result.stdout)
    assert "points: 3; filters: cabinet=ep-centre" in comments
    for args, says in ((["--cabinet", "ep-nord"], "no lighting cabinet 'ep-nord'"),
                       (["--cabinet", "ep-centre", "--building", "mairie"], "stands in no "
                                                                           "building")):
        refused = history.run("--from", "2026-03-28", "--to", "2026-03-29", *args,
                              "--format", "csv")
        assert refused.exit_code == 2 and says in refused.stderr


# -- the CSV for a French spreadsheet -----------------------------------------------------------

AUTUMN_NIGHT = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)  # 01:00 local, summer time
"""Sunday 25 October 2026: at 03:00 summer time (01:00 UTC) clocks go back to 02:00."""


def read_excel_csv(data: bytes) -> tuple[list[str], list[str], list[dict[str, str]]]:
    """The comment cells, the columns and the rows of a ``csv-fr`` file, read as a French
    spreadsheet would: a BOM, then semicolons."""
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    comments = [r[0] for r in table if r[0].startswith("#")]
    assert all(len(r) == 1 for r in table[:len(comments)]), "a comment is one cell"
    header, *lines = table[len(comments):]
    return comments, header, [dict(zip(header, line, strict=True)) for line in lines]


def test_the_french_csv_keeps_the_repeated_autumn_hour_apart(
    history: History, demo_site: Site
) -> None:
    samples = [Sample(MAIRIE_TEMP, AUTUMN_NIGHT + i * STEP, 19.0 + i / 8) for i in range(16)]
    with Store(history.db) as store:
        store.samples.write(samples)
    result = history.run("--from", "2026-10-25T01:00", "--to", "2026-10-25T04:00",
                         "--zone", "accueil", "--quantity", "temperature", "--format", "csv-fr",
                         "--output-dir", str(history.tmp))
    assert result.exit_code == 0, result.output
    written = history.tmp / ("marchiennes-le-vert_mairie-accueil_temperature_brutes_"
                             "2026-10-25_2026-10-25_excel-fr.csv")
    data = written.read_bytes()
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    comments, header, table = read_excel_csv(data)
    assert header == list(EXCEL_COLUMNS)
    assert any("semicolon-separated, decimal comma" in line for line in comments)
    assert len(table) == 16  # 01:00 to 04:00 local is four hours that night
    for row, sample in zip(table, samples, strict=True):
        utc = datetime.strptime(row["time_utc"], "%d/%m/%Y %H:%M:%S").replace(tzinfo=UTC)
        assert utc == sample.ts
        assert float(row["value"].replace(",", ".")) == sample.value
        local = datetime.strptime(row["time_local"], "%d/%m/%Y %H:%M:%S")
        offset = timedelta(hours=int(row["utc_offset"][4:6]))
        assert row["utc_offset"] in ("UTC+02:00", "UTC+01:00")
        assert local - offset == utc.replace(tzinfo=None)
    at_2_15 = [row for row in table if row["time_local"] == "25/10/2026 02:15:00"]
    assert [row["utc_offset"] for row in at_2_15] == ["UTC+02:00", "UTC+01:00"]
    assert len({row["time_utc"] for row in at_2_15}) == 2
    assert table[1]["value"] == "19,125"


def test_french_csv_rollups_have_decimal_commas_and_minutes(history: History) -> None:
    result = history.run("--from", "2026-03-29", "--to", "2026-03-29", "--zone", "accueil",
                         "--quantity", "temperature", "--resolution", "hour",
                         "--format", "csv-fr")
    assert result.exit_code == 0, result.output
    _, _, table = read_excel_csv(result.stdout_bytes)
    assert len(table) == 23
    assert [table[1][c] for c in ("time_local", "utc_offset", "time_utc")] == [
        "29/03/2026 01:00", "UTC+01:00", "29/03/2026 00:00"]
    assert [table[2][c] for c in ("time_local", "utc_offset")] == ["29/03/2026 03:00",
                                                                   "UTC+02:00"]
    hour = [temperature(96 + 4 + n) for n in range(4)]
    assert float(table[1]["value"].replace(",", ".")) == pytest.approx(sum(hour) / 4)
    assert (table[1]["min"], table[1]["max"], table[1]["count"]) == ("19", "19,75", "4")


def test_french_csv_texts_with_semicolons_quotes_and_formulas_read_back(
    demo_site: Site
) -> None:
    point = ExportPoint("mairie.accueil.temperature", "temperature", "°C",
                        'Salle "haute"; côté mairie', None, "mairie", "accueil")
    out = io.StringIO()
    writer = ExcelFrCsvWriter(out, demo_site, ["a comment; with a semicolon"])
    at = datetime(2026, 1, 5, 8, 0, 7, tzinfo=UTC)
    writer.write(Row(point, at, None, quality="failed", error='=HYPERLINK("x"); timeout'))
    writer.write(Row(point, at + STEP, -1234.5, quality="ok"))
    comments, _, table = read_excel_csv(out.getvalue().encode("utf-8"))
    assert comments == ["# a comment; with a semicolon"]
    assert [row["name"] for row in table] == ['Salle "haute"; côté mairie'] * 2
    assert table[0]["error"] == "'=HYPERLINK(\"x\"); timeout"
    assert (table[0]["value"], table[1]["value"]) == ("", "-1234,5")
    assert table[0]["time_local"] == "05/01/2026 09:00:07"


# -- the data guide ---------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "export.md"


def test_the_guides_queries_are_the_docs_queries() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    blocks = {"InfluxQL": "```sql\n", "Flux": "```js\n"}
    for query in export_guide.QUERIES:
        assert blocks[query.language] + query.text + "```" in docs, query.name


def test_the_guide_describes_every_column_measurement_tag_and_field(demo_site: Site) -> None:
    from gtb.texts.catalogue import CATALOGUE

    codes = export_guide.codes(demo_site)
    assert [code for code in codes if code not in CATALOGUE] == []
    assert [code for code in CATALOGUE if code.startswith("guide.") and code not in codes] == [], \
        "a description of a name the guide no longer shows"
    names = export_guide.archive_names(demo_site)
    assert {"temperature", "mode", "lighting", "energy", "event", "command"} <= set(
        names.measurements)
    assert {"site", "building", "zone", "cabinet", "point", "kind"} <= set(names.tags)
    assert {"value", "quality", "error", "message", "actor"} <= set(names.fields)
