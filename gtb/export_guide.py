"""What an auditor reads the exports and the InfluxDB archive with: each column of the
files, each measurement, tag and field that the shipper writes, and the example queries
(the panel's data guide, ``/export/guide``; docs/export.md).

The names come from the code that writes them, not from a list kept beside it: the
columns are ``gtb.export``'s, and the measurements, tags and fields are read from lines
that ``gtb.influx.Schema`` formats for every point of the site and for an event and a
command. What each one means is the catalogue's (``guide.column.*``, ``guide.measurement.*``,
``guide.tag.*``, ``guide.field.*``), in French and English: a name the catalogue does not
describe shows as its code, and a test fails on it, so a change of the schema cannot
leave the guide behind unnoticed.

The example queries live here once: the guide shows them, and a test checks that
docs/export.md gives the same text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from gtb.export import EXCEL_COLUMNS
from gtb.influx import MEASUREMENTS, Schema, series_of
from gtb.model import Site
from gtb.store.audit import Event
from gtb.texts import Lang, Reason


@dataclass(frozen=True)
class ExampleQuery:
    """A query of docs/export.md: its name (``guide.query.NAME`` is its title), language
    and text."""

    name: str
    language: str
    text: str


QUERIES: tuple[ExampleQuery, ...] = (
    ExampleQuery("monthly_consumption", "InfluxQL", """\
SELECT sum("kWh") AS "kWh" FROM (
  SELECT difference(last("value")) AS "kWh" FROM "energy"
  WHERE "site" = 'marchiennes-le-vert'
    AND time >= '2026-03-01T00:00:00+01:00' AND time < '2026-04-01T00:00:00+02:00'
  GROUP BY time(1d), "building", "point" tz('Europe/Paris')
) GROUP BY "building", "point"
"""),
    ExampleQuery("daily_consumption", "InfluxQL", """\
SELECT difference(last("value")) AS "kWh" FROM "energy"
WHERE "site" = 'marchiennes-le-vert'
  AND time >= '2026-01-01T00:00:00+01:00' AND time < '2027-01-01T00:00:00+01:00'
GROUP BY time(1d), "building", "point" tz('Europe/Paris')
"""),
    ExampleQuery("monthly_spread", "InfluxQL", """\
SELECT spread("value") AS "kWh" FROM "energy"
WHERE "site" = 'marchiennes-le-vert'
  AND time >= '2026-03-01T00:00:00+01:00' AND time < '2026-04-01T00:00:00+02:00'
GROUP BY "building", "point"
"""),
    ExampleQuery("monthly_consumption_flux", "Flux", """\
import "timezone"

paris = timezone.location(name: "Europe/Paris")

from(bucket: "gtb")
  |> range(start: 2025-12-01T00:00:00+01:00, stop: 2027-01-01T00:00:00+01:00)
  |> filter(fn: (r) => r._measurement == "energy" and r._field == "value"
                       and r.site == "marchiennes-le-vert")
  |> aggregateWindow(every: 1mo, fn: last, timeSrc: "_start", createEmpty: false,
                     location: paris)
  |> difference()
  |> keep(columns: ["_time", "_value", "building", "point"])
"""),
    ExampleQuery("temperature_setpoint", "InfluxQL", """\
SELECT mean("value") FROM "temperature", "setpoint"
WHERE "site" = 'marchiennes-le-vert' AND "zone" =~ /./
  AND time >= '2026-03-29T00:00:00+01:00' AND time < '2026-03-30T00:00:00+02:00'
GROUP BY time(1h), "building", "zone" fill(none) tz('Europe/Paris')
"""),
    ExampleQuery("temperature_setpoint_gap", "Flux", """\
from(bucket: "gtb")
  |> range(start: 2026-03-29T00:00:00+01:00, stop: 2026-03-30T00:00:00+02:00)
  |> filter(fn: (r) => (r._measurement == "temperature" or r._measurement == "setpoint")
                       and r._field == "value" and exists r.zone)
  |> aggregateWindow(every: 1h, fn: mean, createEmpty: false)
  |> group(columns: ["building", "zone"])
  |> pivot(rowKey: ["_time"], columnKey: ["_measurement"], valueColumn: "_value")
  |> map(fn: (r) => ({r with gap: r.setpoint - r.temperature}))
"""),
    ExampleQuery("hours_in_mode", "InfluxQL", """\
SELECT count("value") / 60 AS "hours" FROM "mode"
WHERE "site" = 'marchiennes-le-vert' AND "point" =~ /:mode$/ AND "value" = 2
  AND time >= '2026-03-01T00:00:00+01:00' AND time < '2026-04-01T00:00:00+02:00'
GROUP BY "building", "zone"
"""),
    ExampleQuery("hours_in_each_mode", "Flux", """\
from(bucket: "gtb")
  |> range(start: 2026-03-01T00:00:00+01:00, stop: 2026-04-01T00:00:00+02:00)
  |> filter(fn: (r) => r._measurement == "mode" and r._field == "value"
                       and r.point =~ /:mode$/)
  |> map(fn: (r) => ({r with mode: string(v: int(v: r._value))}))
  |> group(columns: ["building", "zone", "mode"])
  |> count()
  |> map(fn: (r) => ({r with hours: float(v: r._value) * 60.0 / 3600.0}))
"""),
)
"""The InfluxQL and Flux examples, as docs/export.md gives them (site
``marchiennes-le-vert``, database or bucket ``gtb``, March 2026)."""


@dataclass(frozen=True)
class ArchiveNames:
    """The measurements, tags and fields of what the shipper writes for a site."""

    measurements: tuple[str, ...]
    tags: tuple[str, ...]
    fields: tuple[str, ...]


def archive_names(site: Site) -> ArchiveNames:
    """Read from lines the shipper formats: a sample of every point (not good, so that it
    has its ``quality`` and ``error``), one of a point the site file no longer names, and
    an event and a command with every field they may have. The measurements are those, and
    every one of ``MEASUREMENTS`` (a site may have no point of one yet), in the order of
    ``MEASUREMENTS``; the tags in alphabetical order."""
    schema = Schema(site)
    lines = [schema.sample_line(key, 0, 1.0, "stale", "error") for key in series_of(site)]
    lines.append(schema.sample_line("forgotten", 0, 1.0, "stale", "error"))
    lines += [schema.event_line(_event(site, kind)) for kind in ("override", "command")]
    known = list(dict.fromkeys(MEASUREMENTS.values()))
    measurements = dict.fromkeys(known)
    tags: dict[str, None] = {}
    fields: dict[str, None] = {}
    for line in lines:
        head, field_set, _ = _UNESCAPED_SPACE.split(line)
        measurement, *tag_set = _UNESCAPED_COMMA.split(head)
        measurements[measurement] = None
        tags.update(dict.fromkeys(pair.partition("=")[0] for pair in tag_set))
        fields.update(dict.fromkeys(pair.partition("=")[0]
                                    for pair in _UNESCAPED_COMMA.split(field_set)))
    return ArchiveNames(
        tuple(sorted(measurements, key=lambda m: known.index(m) if m in known else len(known))),
        tuple(sorted(tags)), tuple(fields))


_UNESCAPED_SPACE = re.compile(r"(?<!\\) ")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


def _event(site: Site, kind: str) -> Event:
    """An audit-log line with every part an event may have (the words have no space nor
    comma, so that the line splits simply)."""
    return Event(1, datetime(2026, 1, 1, tzinfo=UTC), kind, "actor", "message", "reason",
                 site.id, "building", "zone", "point", {"value": 1.0}, "message", "reason")


@dataclass(frozen=True)
class Described:
    name: str
    meaning: str


@dataclass(frozen=True)
class Guide:
    """The data guide in one language."""

    columns: Sequence[Described]
    measurements: Sequence[Described]
    tags: Sequence[Described]
    fields: Sequence[Described]
    queries: Sequence[tuple[str, ExampleQuery]]
    """Each query with its title."""


def guide(site: Site, lang: Lang) -> Guide:
    names = archive_names(site)
    return Guide(
        columns=_described("column", EXCEL_COLUMNS, lang),
        measurements=_described("measurement", names.measurements, lang),
        tags=_described("tag", names.tags, lang),
        fields=_described("field", names.fields, lang),
        queries=[(Reason.of(f"guide.query.{query.name}").text(lang), query)
                 for query in QUERIES])


def codes(site: Site) -> list[str]:
    """Every catalogue code the guide reads for ``site``."""
    names = archive_names(site)
    return [*(f"guide.column.{n}" for n in EXCEL_COLUMNS),
            *(f"guide.measurement.{n}" for n in names.measurements),
            *(f"guide.tag.{n}" for n in names.tags),
            *(f"guide.field.{n}" for n in names.fields),
            *(f"guide.query.{query.name}" for query in QUERIES)]


def _described(kind: str, names: Iterable[str], lang: Lang) -> list[Described]:
    return [Described(name, Reason.of(f"guide.{kind}.{name}").text(lang)) for name in names]
