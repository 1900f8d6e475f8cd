"""The auditors' download: the data of a period, a building, a zone or a quantity, at a
resolution, as CSV, JSON Lines or line protocol, exactly as ``gtb export`` writes it
(gtb/export.py, docs/export.md).

``GET /export/download?from=YYYY-MM-DD&to=YYYY-MM-DD&building=&zone=&quantity=&resolution=
&format=`` is checked as ``gtb export`` checks its options (a refusal is a 400 with the
reason, and nothing is sent), written in the audit log, then streamed a piece at a time
while the store is read point by point: a year of raw samples never sits in memory.
Everyone signed in may export: elected officials and auditors read.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from gtb import export
from gtb.export import ExportPoint, Format, Period, Resolution
from gtb.model import Site
from gtb.store import Store
from gtb.store.accounts import UserRole
from web.auth import role_required
from web.panel import ActionError, panel
from web.periods import local_period

bp = Blueprint("export", __name__, url_prefix="/export")

CHUNK = 64 * 1024
"""Characters sent at a time."""

RESOLUTIONS = {
    Resolution.RAW: "brutes : chaque mesure (gardées 90 jours)",
    Resolution.HOUR: "heure : moyenne, minimum, maximum",
    Resolution.DAY: "jour (jours du calendrier local)",
    Resolution.MONTH: "mois",
}

FORMATS = {
    Format.CSV: ("CSV (tableur)", "text/csv; charset=utf-8", "csv"),
    Format.JSON: ("JSON Lines", "application/x-ndjson; charset=utf-8", "jsonl"),
    Format.LP: ("line protocol InfluxDB", "text/plain; charset=utf-8", "lp"),
}
"""Each format's label, media type and file extension."""

QUANTITIES = {
    "temperature": "température",
    "setpoint": "consigne",
    "mode": "mode de chauffage",
    "valve": "vanne",
    "occupancy": "présence",
    "co2": "CO2",
    "lighting": "éclairage",
    "relay": "relais",
    "energy": "énergie (index des compteurs)",
    "power": "puissance",
    "measurement": "autres mesures",
}

EN: dict[str, str] = {
    "Export des données": "Data export",
    "Les données du stock de GTB, comme les écrit « gtb export » : voir la documentation "
    "docs/export.md pour le sens de chaque colonne.":
        "The data of GTB's store, as 'gtb export' writes them: see docs/export.md for the "
        "meaning of each column.",
    "Période": "Period",
    "Grandeur": "Quantity",
    "Résolution": "Resolution",
    "Format": "Format",
    "Télécharger": "Download",
    "brutes : chaque mesure (gardées 90 jours)": "raw: every sample (kept 90 days)",
    "heure : moyenne, minimum, maximum": "hour: mean, minimum, maximum",
    "jour (jours du calendrier local)": "day (local calendar days)",
    "mois": "month",
    "CSV (tableur)": "CSV (spreadsheet)",
    "JSON Lines": "JSON Lines",
    "line protocol InfluxDB": "InfluxDB line protocol",
    "température": "temperature",
    "consigne": "setpoint",
    "mode de chauffage": "heating mode",
    "vanne": "valve",
    "présence": "occupancy",
    "CO2": "CO2",
    "éclairage": "lighting",
    "relais": "relay",
    "énergie (index des compteurs)": "energy (meter indexes)",
    "puissance": "power",
    "autres mesures": "other measurements",
    "Chaque téléchargement est inscrit au journal des actions.":
        "Every download is written in the audit log.",
}


@bp.route("")
@role_required(UserRole.VIEWER)
def index() -> Any:
    p = panel()
    first = p.local(p.now()).date().replace(day=1)
    last_month = (first - timedelta(days=1)).replace(day=1), first - timedelta(days=1)
    return render_template("export.html", site=p.site, default=last_month,
                           quantities=QUANTITIES, resolutions=RESOLUTIONS, formats=FORMATS)


@dataclass(frozen=True)
class Download:
    """What a person asked for, checked: the period as asked (not yet widened)."""

    period: Period
    resolution: Resolution
    fmt: Format
    points: Sequence[ExportPoint]
    building: str | None
    zone: str | None
    quantities: tuple[str, ...]

    def filename(self, site: Site) -> str:
        return (f"gtb-{site.id}-{self.period.first_day}-{self.period.last_day}."
                f"{FORMATS[self.fmt][2]}")

    def filters(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in (
            ("building", self.building), ("zone", self.zone),
            ("quantity", "+".join(self.quantities))) if value)


@bp.route("/download")
@role_required(UserRole.VIEWER)
def download() -> Any:
    p = panel()
    asked = checked(p.site, request.args)
    _audit(asked, request.args)
    notes = export.comments(p.site, asked.period.widened(asked.resolution), asked.resolution,
                            asked.points, asked.filters(), p.now(),
                            by=f"the GTB web panel, for {current_user.name}")
    chunks = _chunks(p.store, p.site, asked, notes)
    return Response(stream_with_context(chunks), content_type=FORMATS[asked.fmt][1], headers={
        "Content-Disposition": f'attachment; filename="{asked.filename(p.site)}"',
        "Cache-Control": "no-store",
    })


def checked(site: Site, args: MultiDict[str, str]) -> Download:
    """The download's parameters checked as ``gtb export`` checks its options; an
    ActionError (400) says what is wrong, in both languages."""
    start, end = local_period(args.get("from", ""), args.get("to", ""), site.tz, required=True)
    assert start is not None and end is not None  # required=True
    resolution = _choice(Resolution, args.get("resolution") or "raw",
                         "Résolution inconnue", "Unknown resolution")
    fmt = _choice(Format, args.get("format") or "csv", "Format inconnu", "Unknown format")
    building = args.get("building") or None
    zone = args.get("zone") or None
    quantities = tuple(q for q in args.getlist("quantity") if q)
    try:
        points = export.select_points(site, building=building, zone=zone,
                                      quantities=quantities)
    except export.SelectionError as exc:
        raise ActionError(_sentence(exc.fr), _sentence(str(exc))) from None
    return Download(Period(start, end, site.tz), resolution, fmt, points, building, zone,
                    quantities)


_E = TypeVar("_E", Resolution, Format)


def _choice(kind: type[_E], text: str, fr: str, en: str) -> _E:
    try:
        return kind(text)
    except ValueError:
        known = ", ".join(kind)
        raise ActionError(f"{fr} : « {text} » ; possibles : {known}.",
                          f"{en}: '{text}'; possible: {known}.") from None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _audit(asked: Download, args: MultiDict[str, str]) -> None:
    """The download's line in the audit log: who asked for what."""
    p = panel()
    # A zone may be asked for by its id alone: its points say which building it is in.
    in_zone = asked.points[0] if asked.zone else None
    building = in_zone.building if in_zone is not None else asked.building
    zone = in_zone.zone if in_zone is not None else None
    scope, scope_en = ((f"zone {p.place(building, zone)}",) * 2 if zone is not None
                       else (f"bâtiment {p.place(building, None)}",
                             f"building {p.place(building, None)}") if building is not None
                       else ("tout le site", "the whole site"))
    if asked.quantities:
        scope += f", {' + '.join(asked.quantities)}"
        scope_en += f", {' + '.join(asked.quantities)}"
    first, last = asked.period.first_day, asked.period.last_day
    p.store.audit.record(
        p.now(), "export", current_user.name,
        f"Export {asked.fmt.value.upper()} ({asked.resolution.value}) du {_day(first)} au "
        f"{_day(last)} : {scope}", site=p.site.id, building=building, zone=zone,
        data={"from": args.get("from"), "to": args.get("to"), "building": asked.building,
              "zone": asked.zone, "quantity": list(asked.quantities),
              "resolution": asked.resolution.value, "format": asked.fmt.value,
              "points": len(asked.points)},
        message_en=f"Export {asked.fmt.value.upper()} ({asked.resolution.value}) from "
                   f"{_day(first)} to {_day(last)}: {scope_en}")


def _day(day: date) -> str:
    return f"{day:%d/%m/%Y}"


def _chunks(store: Store, site: Site, asked: Download, notes: Sequence[str]) -> Iterator[str]:
    """The export, a piece of about CHUNK characters at a time."""
    buffer = io.StringIO()
    writer = export.writer_for(asked.fmt, buffer, site, asked.resolution, notes)
    period = asked.period.widened(asked.resolution)
    for point in asked.points:
        if asked.resolution is Resolution.RAW and isinstance(writer, export.CsvWriter):
            # A year of a zone is a million rows: the fast path, in its own pieces.
            if buffer.tell():
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
            samples = store.samples.rows(point.key, period.start, period.end)
            # A raw CSV line is up to about 160 characters.
            pieces = writer.raw_chunks(point, samples, rows_per_chunk=max(1, CHUNK // 160))
            yield from (text for text, _ in pieces)
            continue
        for row in export.rows(store, point, period, asked.resolution):
            writer.write(row)
            if buffer.tell() >= CHUNK:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()
