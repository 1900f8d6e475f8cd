"""What the panel's data guide (``/export/guide``; docs/export.md) tells an auditor: each
column of the exports' files, each measurement, tag and field the shipper writes to
InfluxDB, and the example queries.

The archive is described once, in ``gtb.archive``: the measurements' and tags' meanings
(``archive.meaning``) and the queries (``archive.QUERIES``, with their titles and
explanations) are the ones docs/history.md gives and the tests run on InfluxDB. What only
the guide says is the catalogue's ``guide.column.*`` (the files' columns, but those that
are tags of the archive, whose meaning is the archive's) and ``guide.field.*`` (the fields
of the lines), in French and English.

The names come from the code that writes them, not from a list kept beside it: the
columns are ``gtb.export``'s, and the measurements, tags and fields are read from lines
that ``gtb.influx.Schema`` formats for every point of the site and for an event and a
command. A name without a meaning shows as its code, and a test fails on it, as on a
meaning of a name the guide no longer shows: a change of the schema cannot leave the
guide behind unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from gtb.archive import (
    EVENT_MEASUREMENTS,
    QUERIES,
    SAMPLE_MEASUREMENTS,
    TAGS,
    UNKNOWN_MEASUREMENT,
    meaning_code,
)
from gtb.export import EXCEL_COLUMNS
from gtb.influx import Schema, series_of
from gtb.model import Site
from gtb.store.audit import Event
from gtb.texts import Lang, Reason

KNOWN_MEASUREMENTS = (*SAMPLE_MEASUREMENTS, UNKNOWN_MEASUREMENT, *EVENT_MEASUREMENTS)
"""Every measurement ``gtb.archive`` names, in the order the guide shows them."""


@dataclass(frozen=True)
class ArchiveNames:
    """The measurements, tags and fields of what the shipper writes for a site."""

    measurements: tuple[str, ...]
    tags: tuple[str, ...]
    fields: tuple[str, ...]


def archive_names(site: Site) -> ArchiveNames:
    """Read from lines the shipper formats: a sample of every point (not good, so that it
    has its ``quality`` and ``error``), one of a point the site file no longer names, and
    an event and a command with every field and tag they may have. The measurements are
    those, and every one ``gtb.archive`` names (a site may have no point of one yet); the
    measurements and the tags in ``gtb.archive``'s order, any other after them."""
    schema = Schema(site)
    lines = [schema.sample_line(key, 0, 1.0, "stale", "error") for key in series_of(site)]
    lines.append(schema.sample_line("forgotten", 0, 1.0, "stale", "error"))
    lines += [schema.event_line(_event(site, kind)) for kind in ("override", "command")]
    measurements = dict.fromkeys(KNOWN_MEASUREMENTS)
    tags: dict[str, None] = {}
    fields: dict[str, None] = {}
    for line in lines:
        head, field_set, _ = _UNESCAPED_SPACE.split(line)
        measurement, *tag_set = _UNESCAPED_COMMA.split(head)
        measurements[measurement] = None
        tags.update(dict.fromkeys(pair.partition("=")[0] for pair in tag_set))
        fields.update(dict.fromkeys(pair.partition("=")[0]
                                    for pair in _UNESCAPED_COMMA.split(field_set)))
    return ArchiveNames(_in_order(measurements, KNOWN_MEASUREMENTS), _in_order(tags, TAGS),
                        tuple(fields))


def _in_order(names: Iterable[str], known: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(names, key=lambda n: known.index(n) if n in known else len(known)))


_UNESCAPED_SPACE = re.compile(r"(?<!\\) ")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


def _event(site: Site, kind: str) -> Event:
    """An audit-log line with every part an event may have (the words have no space nor
    comma, so that the line splits simply)."""
    return Event(1, datetime(2026, 1, 1, tzinfo=UTC), kind, "actor", "message", "reason",
                 site.id, "building", "zone", "point",
                 {"value": 1.0, "reason_code": "heating.preheat"}, "message", "reason")


@dataclass(frozen=True)
class Described:
    name: str
    meaning: str


@dataclass(frozen=True)
class ShownQuery:
    """An example query as the guide shows it: its title, what it does, and its text in
    each language (``ExampleQuery.versions``)."""

    title: str
    explanation: str
    versions: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Guide:
    """The data guide in one language."""

    columns: Sequence[Described]
    measurements: Sequence[Described]
    tags: Sequence[Described]
    fields: Sequence[Described]
    queries: Sequence[ShownQuery]


def guide(site: Site, lang: Lang) -> Guide:
    columns, measurements, tags, fields = _sections(site)

    def described(section: list[tuple[str, str]]) -> list[Described]:
        return [Described(name, Reason.of(code).text(lang)) for name, code in section]

    return Guide(described(columns), described(measurements), described(tags),
                 described(fields),
                 [ShownQuery(query.title(lang), query.explanation(lang), query.versions())
                  for query in QUERIES])


def codes(site: Site) -> list[str]:
    """Every catalogue code of a meaning the guide shows for ``site``."""
    return [code for section in _sections(site) for _, code in section]


def _sections(site: Site) -> tuple[list[tuple[str, str]], ...]:
    """The columns, measurements, tags and fields, each name with its meaning's code."""
    names = archive_names(site)
    return ([(column, meaning_code(column) if column in TAGS else f"guide.column.{column}")
             for column in EXCEL_COLUMNS],
            [(measurement, meaning_code(measurement)) for measurement in names.measurements],
            [(tag, meaning_code(tag)) for tag in names.tags],
            [(field, f"guide.field.{field}") for field in names.fields])
