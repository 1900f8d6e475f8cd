"""Exports for auditors: what the store holds about a site, as CSV, JSON Lines or InfluxDB
line protocol (docs/export.md).

An export is streamed: samples are read from the store in chunks, point by point, and
each row is written as soon as it is read, so a year of raw samples never sits in
memory. Rows come point by point (in the site file's order), oldest first.

Resolutions: ``raw`` is every sample as recorded, with its quality; ``hour`` the hourly
rollups (UTC hours, good samples only); ``day`` and ``month`` the local calendar days and
months of the site, from the hourly rollups (23 h and 25 h on daylight-saving days).

``csv-fr`` is the CSV for a French spreadsheet (Excel, LibreOffice in French): semicolons,
decimal commas, UTF-8 with a BOM, dates as ``dd/mm/yyyy hh:mm`` in the site's local time
with the UTC offset of each row beside them, so that the repeated hour of the autumn clock
change stays two hours.

File names (``file_name``) say the site, the building, zone or cabinet, the quantities,
the resolution and the local days covered, in ASCII: two different exports never share one.

The line protocol of raw samples is the shipper's own (``gtb.influx.Schema``), so that an
export loaded into a new InfluxDB is the archive the shipper would have built. Rollups go
to the quantity's measurement suffixed ``_1h``, ``_1d`` or ``_1mo``, with the same tags
and the fields ``mean``, ``min``, ``max``, ``count`` (and ``hours`` for days and months).
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Literal, Protocol, TextIO

from gtb.archive import DECIDED_MODE, MEASUREMENTS, SAMPLE_MEASUREMENTS
from gtb.influx import Schema
from gtb.model import Site
from gtb.model.points import HEATING_MODES, Role, zone_mode_key
from gtb.store import Store
from gtb.texts import Reason

QUANTITIES: tuple[str, ...] = SAMPLE_MEASUREMENTS
"""What ``--quantity`` accepts: the InfluxDB measurements of the samples."""

ZONE_MODE_NAME = "Niveau décidé par GTB"


class Resolution(StrEnum):
    RAW = "raw"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


class Format(StrEnum):
    CSV = "csv"
    CSV_FR = "csv-fr"
    JSON = "json"
    LP = "lp"


LP_SUFFIX = {Resolution.HOUR: "_1h", Resolution.DAY: "_1d", Resolution.MONTH: "_1mo"}
"""Measurement suffix of the rollups in line protocol (raw samples keep the shipper's)."""

COLUMNS = ("time_local", "time_utc", "site", "building", "zone", "point", "name", "quantity",
           "meter", "unit", "value", "min", "max", "count", "hours", "quality", "error")


class SelectionError(ValueError):
    """A filter names something the site does not have; ``option`` is the culprit. The
    message is English (the command line's); ``fr`` says the same in French (the panel's)."""

    def __init__(self, option: str, message: str, *, fr: str) -> None:
        super().__init__(message)
        self.option = option
        self.fr = fr


@dataclass(frozen=True)
class ExportPoint:
    """A series of the store as an auditor sees it: where it stands, what and in what unit."""

    key: str
    quantity: str
    unit: str | None
    name: str | None
    meter: str | None
    building: str | None
    zone: str | None
    cabinet: str | None = None


def site_points(site: Site) -> list[ExportPoint]:
    """Every point of the site in file order, then each zone's decided mode (recorded by
    the engine every tick, 1 to 4 as in ``HEATING_MODES``)."""
    found = [
        ExportPoint(ref.key, MEASUREMENTS[ref.role], ref.point.si_unit or None, ref.point.name,
                    ref.point.meter, ref.building.id if ref.building else None,
                    ref.zone.id if ref.zone else None, ref.cabinet.id if ref.cabinet else None)
        for ref in site.points()
    ]
    found += [
        ExportPoint(zone_mode_key(f"{building.id}.{zone.id}"), DECIDED_MODE,
                    None, ZONE_MODE_NAME, None, building.id, zone.id)
        for building in site.buildings for zone in building.zones
    ]
    return found


_FR = {"building": "le bâtiment", "zone": "la zone", "cabinet": "l'armoire"}


def select_points(
    site: Site, *, building: str | None = None, zone: str | None = None,
    cabinet: str | None = None, quantities: Sequence[str] = (),
) -> list[ExportPoint]:
    """The points the filters keep; SelectionError names an unknown building, zone,
    cabinet or quantity with what exists, or a combination that keeps nothing."""
    _known(site, "--building", building, [b.id for b in site.buildings],
           ("building", "buildings"), ("aucun bâtiment", "bâtiments", "aucun"))
    _known(site, "--cabinet", cabinet, [c.id for c in site.cabinets],
           ("lighting cabinet", "cabinets"), ("aucune armoire d'éclairage", "armoires", "aucune"))
    if cabinet is not None and (building is not None or zone is not None):
        raise SelectionError("--cabinet", "a lighting cabinet stands in no building nor zone: "
                             "ask for the cabinet alone",
                             fr="une armoire d'éclairage n'est dans aucun bâtiment ni aucune "
                                "zone : demandez l'armoire seule")
    unknown = [q for q in quantities if q not in QUANTITIES]
    if unknown:
        raise SelectionError("--quantity", f"unknown quantity {unknown[0]!r}; "
                             f"known: {', '.join(QUANTITIES)}",
                             fr=f"grandeur inconnue « {unknown[0]} » ; connues : "
                                f"{', '.join(QUANTITIES)}")
    points = site_points(site)
    if building is not None:
        points = [p for p in points if p.building == building]
    if zone is not None:
        where = _zone(site, zone, building)
        points = [p for p in points if (p.building, p.zone) == where]
    if cabinet is not None:
        points = [p for p in points if p.cabinet == cabinet]
    if quantities:
        held = sorted({p.quantity for p in points})
        points = [p for p in points if p.quantity in quantities]
        if not points:
            named = [(k, v) for k, v in (("building", building), ("zone", zone),
                                         ("cabinet", cabinet)) if v is not None]
            scope = " and ".join(f"{k} {v}" for k, v in named) or f"site {site.id}"
            scope_fr = " et ".join(f"{_FR[k]} {v}" for k, v in named) or f"le site {site.id}"
            raise SelectionError("--quantity", f"{scope} has no {' or '.join(quantities)} "
                                 f"point; it has: {', '.join(held)}",
                                 fr=f"{scope_fr} : aucun point {' ou '.join(quantities)} ; "
                                    f"il y a : {', '.join(held)}")
    return points


def _known(site: Site, option: str, wanted: str | None, known: Sequence[str],
           en: tuple[str, str], fr: tuple[str, str, str]) -> None:
    """Refuse ``wanted`` when the site has no such building or cabinet, naming those it has
    (``en``: « building », « buildings »; ``fr`` the same and the word for none)."""
    if wanted is not None and wanted not in known:
        raise SelectionError(option, f"no {en[0]} {wanted!r} in site {site.id}; its {en[1]}: "
                                     f"{', '.join(known) or 'none'}",
                             fr=f"{fr[0]} « {wanted} » sur le site {site.id} ; ses {fr[1]} : "
                                f"{', '.join(known) or fr[2]}")


def filters_text(*, building: str | None, zone: str | None, cabinet: str | None,
                 quantities: Sequence[str]) -> str:
    """The filters as the CSV's header says them: ``zone=mairie.accueil, quantity=a+b``."""
    return ", ".join(f"{name}={value}" for name, value in (
        ("building", building), ("zone", zone), ("cabinet", cabinet),
        ("quantity", "+".join(quantities))) if value)


def _zone(site: Site, text: str, building: str | None) -> tuple[str, str]:
    """``BUILDING.ZONE``, or a zone id alone when one building (of ``building``) has it."""
    zones = [(b.id, z.id) for b in site.buildings if building in (None, b.id) for z in b.zones]
    wanted_building, dot, wanted = text.rpartition(".")
    matches = [(b, z) for b, z in zones if z == wanted and (not dot or b == wanted_building)]
    if len(matches) == 1:
        return matches[0]
    listed = ", ".join(f"{b}.{z}" for b, z in zones)
    if matches:
        choices = ", ".join(f"{b}.{z}" for b, z in matches)
        raise SelectionError("--zone", f"zone {text!r} is in several buildings; write one of "
                             f"{choices}", fr=f"la zone « {text} » est dans plusieurs "
                                              f"bâtiments ; écrivez l'une de : {choices}")
    within = f"building {building}" if building is not None else f"site {site.id}"
    within_fr = f"le bâtiment {building}" if building is not None else f"le site {site.id}"
    raise SelectionError("--zone", f"no zone {text!r} in {within}; its zones: {listed}",
                         fr=f"aucune zone « {text} » dans {within_fr} ; ses zones : {listed}")


# -- the period ---------------------------------------------------------------------------


def parse_moment(text: str, tz: tzinfo, *, end: bool) -> datetime:
    """A month (2026-03), a date (2026-03-31) or an ISO 8601 time; without an offset, the
    site's local time. A month or a date is its start, or as an ``end``, its end (the
    next month's or day's midnight). Refused: a moment too near the ends of Python's
    calendar to widen to whole UTC hours and local months (COUNTABLE)."""
    moment = _moment(text.strip(), tz, end=end)
    if not COUNTABLE[0] <= moment <= COUNTABLE[1]:
        raise ValueError(f"{text.strip()!r} is beyond the dates this tool can count "
                         f"({COUNTABLE[0].date().isoformat()} to "
                         f"{COUNTABLE[1].date().isoformat()} UTC)")
    return moment


COUNTABLE = (datetime(1, 2, 1, tzinfo=UTC), datetime(9999, 11, 1, tzinfo=UTC))
"""The moments an export may start or end at: a month away from the first and last days
Python can count, since a period is widened to whole local months, and the site's offset
moves a moment's day."""


def _moment(text: str, tz: tzinfo, *, end: bool) -> datetime:
    if _MONTH.fullmatch(text):
        first = date.fromisoformat(f"{text}-01")
        try:
            return _midnight(_next_month(first) if end else first, tz)
        except ValueError:  # the month after 9999-12
            raise ValueError(f"{text!r} is beyond the last date this tool can count") from None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is neither a month (2026-03), a date (2026-03-31) nor "
                             "an ISO 8601 time (2026-03-31T18:00, 2026-03-31T18:00+02:00)"
                             ) from None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)
    try:
        return _midnight(day + timedelta(days=1) if end else day, tz)
    except OverflowError:
        raise ValueError(f"{text!r} is beyond the last date this tool can count") from None


_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tz)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    """What an export covers: [start, end) as aware times, in the site's time zone ``tz``."""

    start: datetime
    end: datetime
    tz: tzinfo

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty period: {self.start.isoformat()} is not before "
                             f"{self.end.isoformat()}")

    @property
    def first_day(self) -> date:
        return self.start.astimezone(self.tz).date()

    @property
    def last_day(self) -> date:
        """The local day of the last second of the period."""
        return (self.end - timedelta(seconds=1)).astimezone(self.tz).date()

    def widened(self, resolution: Resolution) -> Period:
        """Whole UTC hours, local days or local months that the period touches."""
        if resolution is Resolution.RAW:
            return self
        if resolution is Resolution.HOUR:
            start = self.start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            end = self.end.astimezone(UTC)
            rounded = end.replace(minute=0, second=0, microsecond=0)
            return Period(start, rounded if rounded == end else rounded + timedelta(hours=1),
                          self.tz)
        first, last = self.first_day, self.last_day
        if resolution is Resolution.DAY:
            return Period(_midnight(first, self.tz), _midnight(last + timedelta(days=1), self.tz),
                          self.tz)
        return Period(_midnight(first.replace(day=1), self.tz),
                      _midnight(_next_month(last), self.tz), self.tz)

    def describe(self, resolution: Resolution) -> str:
        if resolution is Resolution.DAY:
            return f"local days {self.first_day} to {self.last_day}, both included"
        if resolution is Resolution.MONTH:
            return f"local months {self.first_day:%Y-%m} to {self.last_day:%Y-%m}, both included"
        local = (self.start.astimezone(self.tz), self.end.astimezone(self.tz))
        return f"{local[0].isoformat()} (included) to {local[1].isoformat()} (excluded)"


# -- what an export is called ----------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Where the points of an export stand: a zone (with its building), a building, a
    lighting cabinet, or the whole site (all None)."""

    building: str | None = None
    zone: str | None = None
    cabinet: str | None = None

    @classmethod
    def of(cls, points: Sequence[ExportPoint], *, building: str | None, zone: str | None,
           cabinet: str | None) -> Scope:
        """The scope of points selected with these filters: a zone may be asked for by its
        id alone, and its points say which building it is in."""
        if zone is not None and points:
            return cls(points[0].building, points[0].zone)
        return cls(building, None, cabinet)


def label(code: str, lang: Literal["fr", "en"] = "fr") -> str:
    """A quantity's or a resolution's name (``export.quantity.temperature``) in ``lang``."""
    return Reason.of(code).text(lang)


def quantity_label(quantity: str, lang: Literal["fr", "en"] = "fr") -> str:
    return label(f"export.quantity.{quantity}", lang)


def resolution_label(resolution: Resolution, lang: Literal["fr", "en"] = "fr") -> str:
    return label(f"export.resolution.{resolution.value}", lang)


def slug(text: str) -> str:
    """ASCII lower case, digits and hyphens: ``Mairie — Accueil`` reads ``mairie-accueil``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


FILE_EXTENSIONS = {Format.CSV: "csv", Format.CSV_FR: "csv", Format.JSON: "jsonl",
                   Format.LP: "lp"}
EXCEL_SUFFIX = "excel-fr"
"""Ends the name of a ``csv-fr`` file, which would otherwise have the CSV's name."""


def file_name(site_id: str, scope: Scope, quantities: Sequence[str], resolution: Resolution,
              period: Period, fmt: Format) -> str:
    """``SITE_[BUILDING[-ZONE]|CABINET_]QUANTITIES_RESOLUTION_FIRST-DAY_LAST-DAY.EXT``, with
    the quantities and the resolution in French (the same names whatever the reader's
    language) and the local days the file covers (``period`` already widened): e.g.
    ``marchiennes-le-vert_mairie-accueil_temperature_heure_2026-11-01_2026-11-30.csv``.
    Only ASCII letters, digits, ``-``, ``_`` and a dot: a safe name on every system."""
    place = "-".join(part for part in (scope.building, scope.zone) if part) or scope.cabinet
    what = "-".join(slug(quantity_label(q)) for q in quantities) or slug(
        label("export.all_quantities"))
    parts = [slug(site_id), *([slug(place)] if place else []), what,
             slug(resolution_label(resolution)), period.first_day.isoformat(),
             period.last_day.isoformat(), *([EXCEL_SUFFIX] if fmt is Format.CSV_FR else [])]
    return f"{'_'.join(parts)}.{FILE_EXTENSIONS[fmt]}"


# -- rows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One sample or one rollup of one point; ``time`` is UTC, the start of a rollup's
    hour, day or month."""

    point: ExportPoint
    time: datetime
    value: float | None
    min: float | None = None
    max: float | None = None
    count: int | None = None
    hours: int | None = None
    quality: str | None = None
    error: str | None = None


_WINDOW = timedelta(days=31)
"""Hourly rollups are read a month at a time."""


def rows(store: Store, point: ExportPoint, period: Period, resolution: Resolution
         ) -> Iterator[Row]:
    """The rows of one point over a period already ``widened`` to the resolution."""
    key = point.key
    if resolution is Resolution.RAW:
        for ts, value, quality, error in store.samples.rows(key, period.start, period.end):
            yield Row(point, datetime.fromtimestamp(ts, UTC), value, quality=quality,
                      error=error)
    elif resolution is Resolution.HOUR:
        window = period.start
        while window < period.end:
            stop = min(window + _WINDOW, period.end)
            for hour in store.rollups.hourly(key, window, stop):
                yield Row(point, hour.hour, hour.mean, hour.min, hour.max, hour.count)
            window = stop
    elif resolution is Resolution.DAY:
        for day in store.rollups.daily(key, period.first_day, period.last_day, period.tz):
            yield Row(point, _midnight(day.day, period.tz).astimezone(UTC), day.mean, day.min,
                      day.max, day.count, day.hours)
    else:
        for month in store.rollups.monthly(key, period.first_day, period.last_day, period.tz):
            yield Row(point, _midnight(month.month, period.tz).astimezone(UTC), month.mean,
                      month.min, month.max, month.count, month.hours)


def work(store: Store, point: ExportPoint, period: Period, resolution: Resolution) -> int:
    """What reading a point will take, in rows of the store (samples, or hourly rollups)."""
    if resolution is Resolution.RAW:
        return store.samples.count(point.key, period.start, period.end)
    return store.rollups.count(point.key, period.start, period.end)


def record(row: Row, site_id: str, tz: tzinfo) -> dict[str, str | float | int | None]:
    """A row as the named COLUMNS; None where a column does not apply."""
    p = row.point
    values = (row.time.astimezone(tz).isoformat(), row.time.astimezone(UTC).isoformat(),
              site_id, p.building, p.zone, p.key, p.name, p.quantity, p.meter, p.unit,
              row.value, row.min, row.max, row.count, row.hours, row.quality, row.error)
    return dict(zip(COLUMNS, values, strict=True))


# -- formats ----------------------------------------------------------------------------------


class RowWriter(Protocol):
    def write(self, row: Row) -> None: ...


class CsvWriter:
    """Comment lines (``#``) saying what the file holds, the column names, then a line per
    row: comma-separated, decimal point, UTF-8, empty where a column does not apply."""

    def __init__(self, out: TextIO, site: Site, comments: Iterable[str]) -> None:
        for line in comments:
            out.write(f"# {line}\n")
        self._out = out
        self._csv = csv.writer(out, lineterminator="\n")
        self._csv.writerow(COLUMNS)
        self._site_id, self._tz = site.id, site.tz
        self._clock = _HourClock(site.tz)
        self._shown: dict[float, str] = {}

    def write(self, row: Row) -> None:
        self._csv.writerow([_cell(v) for v in record(row, self._site_id, self._tz).values()])

    def write_raw(self, point: ExportPoint,
                  samples: Iterable[tuple[int, float | None, str, str | None]]) -> int:
        """Raw samples of one point, the same lines as ``write`` gives, written the fast way
        (``raw_chunks``). Returns the rows written."""
        count = 0
        for text, rows_in_text in self.raw_chunks(point, samples):
            self._out.write(text)
            count += rows_in_text
        return count

    def raw_chunks(self, point: ExportPoint,
                   samples: Iterable[tuple[int, float | None, str, str | None]],
                   rows_per_chunk: int = 4096) -> Iterator[tuple[str, int]]:
        """The lines of ``write`` for raw samples of one point, as pieces of text with the
        number of rows in each: a year of a zone is a million rows. The point's columns
        are formatted once, the times from the hour's (the same within an hour wherever
        the offset is whole hours) and the values from a cache (a sensor repeats its
        values)."""
        middle = _csv_line([self._site_id, point.building, point.zone, point.key, point.name,
                            point.quantity, point.meter, point.unit])
        lines: list[str] = []
        current = None
        local_prefix = utc_prefix = offset = ""
        shown_of = self._shown
        for ts, value, quality, error in samples:
            hour, rest = divmod(ts, 3600)
            if hour != current:
                current = hour
                local_prefix, offset, utc_prefix = self._clock.hour(hour)
            if value is None:
                shown = ""
            else:
                shown = shown_of.get(value) or shown_of.setdefault(value, f"{value:.12g}")
            tail = f",,,,,{quality},\n" if error is None else \
                f",,,,,{quality},{_csv_line([error])}\n"
            if local_prefix:
                ms = _MINUTES_SECONDS[rest]
                lines.append(f"{local_prefix}{ms}{offset},{utc_prefix}{ms}+00:00,{middle},"
                             f"{shown}{tail}")
            else:
                moment = datetime.fromtimestamp(ts, UTC)
                lines.append(f"{moment.astimezone(self._tz).isoformat()},{moment.isoformat()},"
                             f"{middle},{shown}{tail}")
            if len(lines) == rows_per_chunk:
                yield "".join(lines), len(lines)
                lines.clear()
        if lines:
            yield "".join(lines), len(lines)


_MINUTES_SECONDS = [f"{m:02d}:{s:02d}" for m in range(60) for s in range(60)]
"""``MM:SS`` of each second of an hour."""


def _csv_line(cells: Sequence[str | None]) -> str:
    """Cells as the csv module writes them (quoted when they must be), without the end."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(["" if c is None else c for c in cells])
    return buffer.getvalue()


class _HourClock:
    """The start of each UTC hour as ISO 8601 text, cached: the local ``YYYY-MM-DDTHH:``,
    its offset, and the UTC ``YYYY-MM-DDTHH:``; an empty local part where the offset is not
    whole hours (the minutes differ: such times are formatted in full)."""

    def __init__(self, tz: tzinfo) -> None:
        self._tz = tz
        self._hours: dict[int, tuple[str, str, str]] = {}

    def hour(self, hour: int) -> tuple[str, str, str]:
        cached = self._hours.get(hour)
        if cached is None:
            start = datetime.fromtimestamp(hour * 3600, UTC)
            local = start.astimezone(self._tz)
            whole = local.minute == 0 and local.second == 0
            cached = (local.strftime("%Y-%m-%dT%H:") if whole else "", local.isoformat()[19:],
                      start.strftime("%Y-%m-%dT%H:"))
            self._hours[hour] = cached
        return cached


def _cell(value: object) -> object:
    """A CSV cell: empty for None; a float to 12 significant digits, so that a device's
    18.9 reads 18.9 and not 18.900000000000002 (its binary rounding)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.12g}"
    return value


class ExcelFrCsvWriter:
    """The CSV a French spreadsheet opens as it is (Excel, LibreOffice in French): UTF-8
    with a BOM (else Excel reads it as Windows-1252), semicolons, decimal commas, dates as
    ``dd/mm/yyyy hh:mm`` (``:ss`` for raw samples) that Excel takes for dates, lines ended
    by CRLF. The comment lines come first, each a single cell beginning with ``#``.

    Local times repeat once a year (the autumn clock change has two 02:30): each row says
    its offset (``UTC+01:00``, ``UTC+02:00``, in EXCEL_COLUMNS' ``utc_offset``, a text
    Excel leaves alone) and its UTC time, so the two hours stay apart. A text cell that a
    spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@`` first) starts with
    an apostrophe."""

    def __init__(self, out: TextIO, site: Site, comments: Iterable[str]) -> None:
        out.write("\ufeff")
        self._csv = csv.writer(out, delimiter=";", lineterminator="\r\n")
        for line in comments:
            self._csv.writerow([f"# {line}"])
        self._csv.writerow(EXCEL_COLUMNS)
        self._site_id, self._tz = site.id, site.tz

    def write(self, row: Row) -> None:
        shown = "%d/%m/%Y %H:%M:%S" if row.quality is not None else "%d/%m/%Y %H:%M"
        local = row.time.astimezone(self._tz)
        offset = local.strftime("%z")
        cells = record(row, self._site_id, self._tz)
        cells.update(time_local=local.strftime(shown), utc_offset=f"UTC{offset[:3]}:{offset[3:5]}",
                     time_utc=row.time.astimezone(UTC).strftime(shown))
        self._csv.writerow([_excel_cell(cells[column]) for column in EXCEL_COLUMNS])


EXCEL_COLUMNS = (COLUMNS[0], "utc_offset", *COLUMNS[1:])
"""The columns of ``csv-fr``: the CSV's, with the local time's offset after it."""

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _excel_cell(value: object) -> object:
    """A ``csv-fr`` cell: a number with a decimal comma, a text that cannot be a formula."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.12g}".replace(".", ",")
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return f"'{value}"
    return value


class JsonLinesWriter:
    """JSON Lines: one object per row, with the CSV's columns as keys (null where a column
    does not apply)."""

    def __init__(self, out: TextIO, site: Site) -> None:
        self._out = out
        self._site_id, self._tz = site.id, site.tz

    def write(self, row: Row) -> None:
        self._out.write(json.dumps(record(row, self._site_id, self._tz), ensure_ascii=False,
                                   allow_nan=False))
        self._out.write("\n")


class LineProtocolWriter:
    """InfluxDB line protocol at second precision: raw samples exactly as the shipper
    writes them, rollups to ``MEASUREMENT_1h``/``_1d``/``_1mo`` (see the module docstring)."""

    def __init__(self, out: TextIO, site: Site, resolution: Resolution) -> None:
        self._out = out
        self._schema = Schema(site)
        self._suffix = LP_SUFFIX.get(resolution)

    def write(self, row: Row) -> None:
        self._out.write(self.line(row))
        self._out.write("\n")

    def line(self, row: Row) -> str:
        ts = int(row.time.timestamp())
        if self._suffix is None:
            return self._schema.sample_line(row.point.key, ts, row.value, row.quality or "ok",
                                            row.error)
        mean, low, high, count = row.value, row.min, row.max, row.count
        if mean is None or low is None or high is None or count is None:
            raise ValueError(f"{row.point.key}: a rollup row lacks its figures")
        measurement, _, tags = self._schema.series(row.point.key).partition(",")
        fields = f"mean={float(mean)!r},min={float(low)!r},max={float(high)!r},count={count}i"
        if row.hours is not None:
            fields += f",hours={row.hours}i"
        return f"{measurement}{self._suffix},{tags} {fields} {ts}"


def writer_for(fmt: Format, out: TextIO, site: Site, resolution: Resolution,
               comments: Iterable[str]) -> RowWriter:
    if fmt is Format.CSV:
        return CsvWriter(out, site, comments)
    if fmt is Format.CSV_FR:
        return ExcelFrCsvWriter(out, site, comments)
    if fmt is Format.JSON:
        return JsonLinesWriter(out, site)
    return LineProtocolWriter(out, site, resolution)


_MEANING = {
    Resolution.RAW: "raw: every sample as recorded; value is empty when the read failed; "
                    "quality ok, stale (last good value kept) or failed; error says why",
    Resolution.HOUR: "hour: hourly rollups of the good (ok) samples, by UTC hour; value is "
                     "the mean, min and max, count the number of samples",
    Resolution.DAY: "day: local calendar days, from the hourly rollups of the good samples; "
                    "value is the mean weighted by samples, min and max, count the number of "
                    "samples, hours the hours with data (23 or 25 on daylight-saving days)",
    Resolution.MONTH: "month: local calendar months, from the hourly rollups of the good "
                      "samples; value is the mean weighted by samples, min and max, count "
                      "the number of samples, hours the hours with data",
}


_TIMES = {
    Format.CSV: "time_local and time_utc are ISO 8601 with their offset",
    Format.CSV_FR: "time_local is the site's local time dd/mm/yyyy hh:mm, utc_offset its "
                   "offset (two rows of the autumn's repeated hour differ by it), time_utc "
                   "the same moment in UTC",
}
_LAYOUT = {
    Format.CSV: "comma-separated, decimal point '.', UTF-8",
    Format.CSV_FR: "semicolon-separated, decimal comma ',', UTF-8 with BOM, for a French "
                   "spreadsheet",
}


def comments(site: Site, period: Period, resolution: Resolution, points: Sequence[ExportPoint],
             filters: str, generated: datetime, *, by: str = "gtb export",
             fmt: Format = Format.CSV) -> list[str]:
    """The CSV's header comment: what an auditor needs to read the columns right; ``by``
    says what made the file, ``fmt`` which of the CSVs it heads."""
    lines = [
        f"GTB export of site {site.name} ({site.id})",
        f"time zone: {site.timezone}; {_TIMES.get(fmt, _TIMES[Format.CSV])}; "
        "a rollup's time is the start of its hour, day or month",
        f"resolution: {_MEANING[resolution]}",
        f"period: {period.describe(resolution)}",
        f"points: {len(points)}; filters: {filters or 'none'}",
        "unit: the point's unit (°C, %, kWh index of a meter, kW, ppm; empty for states "
        "0/1 and modes); energy is a meter's cumulative index: consumption is a difference",
        f"format: {_LAYOUT.get(fmt, _LAYOUT[Format.CSV])}, empty cell where a column does "
        "not apply; rows point by point, oldest first",
        f"generated: {generated.astimezone(UTC).isoformat(timespec='seconds')} by {by}",
    ]
    if fmt is Format.CSV_FR:
        lines.append("a text beginning with = + - @ is preceded by an apostrophe, which a "
                     "spreadsheet does not show: it is never taken for a formula")
    if any(p.quantity in (DECIDED_MODE, MEASUREMENTS[Role.HEATING_MODE]) for p in points):
        legend = ", ".join(f"{n} {level.label.en}" for n, level in HEATING_MODES.items())
        lines.append(f"mode: {legend}")
    return lines


# -- the export -------------------------------------------------------------------------------


@dataclass
class ExportReport:
    rows: int = 0
    points_with_data: int = 0


def export(
    store: Store, points: Sequence[ExportPoint], period: Period, resolution: Resolution,
    writer: RowWriter, *, progress: Callable[[int], None] | None = None,
    works: Sequence[int] = (),
) -> ExportReport:
    """Write every row of ``points`` over ``period`` (already widened to the resolution).
    ``progress`` is told, as it goes, how much of each point's ``works`` is done."""
    report = ExportReport()
    for index, point in enumerate(points):
        written = told = 0
        if resolution is Resolution.RAW and isinstance(writer, CsvWriter):
            written = writer.write_raw(point, store.samples.rows(point.key, period.start,
                                                                period.end))
        else:
            for row in rows(store, point, period, resolution):
                writer.write(row)
                written += 1
                # A raw row is a unit of work; a rollup row stands for several hours.
                if progress is not None and resolution is Resolution.RAW and (
                        written % 10_000 == 0):
                    progress(written - told)
                    told = written
        report.rows += written
        report.points_with_data += written > 0
        if progress is not None:
            progress(max(0, (works[index] if index < len(works) else written) - told))
    return report
