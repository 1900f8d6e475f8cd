"""The auditors' download: the data of a period, a building, a zone or a quantity, at a
resolution, as CSV, JSON Lines or line protocol, exactly as ``gtb export`` writes it
(gtb/export.py, docs/export.md).

``GET /export/download?from=YYYY-MM-DD&to=YYYY-MM-DD&building=&zone=&quantity=&resolution=
&format=`` is checked as ``gtb export`` checks its options (a refusal is a 400 with the
reason, and nothing is sent), written in the audit log, then streamed a piece at a time
while the store is read point by point: a year of raw samples never sits in memory.
Everyone signed in may export: elected officials and auditors read.

The panel serves everyone from a few threads, and an export holds one while it streams:
so, unlike ``gtb export``, a download is bounded before it starts (its period by
resolution, MAX_DAYS; the rows of the store it would read, MAX_ROWS, counted first), one
person has one download at a time and the panel AT_ONCE in all (else a 429), and a
download that streams longer than TIME_LIMIT ends with a last line saying it was cut.
Everything is checked before the audit line: a refused download leaves none.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Response,
    current_app,
    render_template,
    request,
    stream_with_context,
)
from flask.blueprints import BlueprintSetupState
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from gtb import export
from gtb.export import ExportPoint, Format, Period, Resolution
from gtb.i18n import number_fr
from gtb.model import Site
from gtb.store import Store
from gtb.store.accounts import UserRole
from gtb.texts import Reason
from web.auth import role_required
from web.panel import ActionError, panel
from web.periods import local_period

bp = Blueprint("export", __name__, url_prefix="/export")

CHUNK = 64 * 1024
"""Characters sent at a time."""

MAX_DAYS = {Resolution.RAW: 366, Resolution.HOUR: 3 * 366, Resolution.DAY: 10 * 366}
"""The longest period of a download, in days, by resolution: a year of raw samples (the
store keeps 90 days by default), three years of hourly rollups (26 000 rows a point),
ten years of days. Months are bounded by the years a date may have (``web.limits``)."""
MAX_ROWS = 2_000_000
"""Rows of the store a download may read (samples, or hourly rollups for the hour, day
and month): a year of one-minute samples of four points, about 300 MB of CSV."""
TIME_LIMIT = 600.0
"""Seconds a download may stream; then its file ends with a line that says it was cut."""
AT_ONCE = 2
"""Downloads streaming at once in the panel, all people together: the other threads stay
for the pages (``web.PANEL_THREADS``)."""

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
    _check_size(p.store, asked)
    who = current_user.name
    running: Running = current_app.extensions["gtb_exports"]
    running.start(who)
    try:
        _audit(asked, request.args)
        notes = export.comments(p.site, asked.period.widened(asked.resolution),
                                asked.resolution, asked.points, asked.filters(), p.now(),
                                by=f"the GTB web panel, for {who}")
    except BaseException:
        running.end(who)
        raise
    chunks = running.streamed(who, _chunks(p.store, p.site, asked, notes))
    response = Response(stream_with_context(chunks), content_type=FORMATS[asked.fmt][1],
                        headers={
        "Content-Disposition": f'attachment; filename="{asked.filename(p.site)}"',
        "Cache-Control": "no-store",
    })
    # A download closed before its first piece never runs its generator's end.
    response.call_on_close(lambda: running.end(who))
    return response


class Running:
    """The downloads streaming now, by person: one each, ``at_once`` in all."""

    def __init__(self, at_once: int) -> None:
        self._at_once = at_once
        self._people: set[str] = set()
        self._lock = threading.Lock()

    def start(self, who: str) -> None:
        """Count ``who``'s download in, or refuse it (429) when ``who`` has one streaming
        or the panel has ``at_once``."""
        with self._lock:
            if who in self._people:
                raise ActionError(
                    "Un de vos exports est déjà en cours : attendez qu'il se termine (ou "
                    "annulez-le) avant d'en demander un autre.",
                    "One of your exports is still running: wait for it to end (or cancel it) "
                    "before asking for another.", 429)
            if len(self._people) >= self._at_once:
                raise ActionError(
                    f"{len(self._people)} exports sont en cours : réessayez dans quelques "
                    "minutes.", f"{len(self._people)} exports are running: try again in a "
                    "few minutes.", 429)
            self._people.add(who)

    def end(self, who: str) -> None:
        """``who``'s download is over (said again when both its end and its close say it)."""
        with self._lock:
            self._people.discard(who)

    def streamed(self, who: str, chunks: Iterator[str]) -> Iterator[str]:
        """``chunks``, counting the download out when they end, fail or are closed."""
        try:
            yield from chunks
        finally:
            self.end(who)


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    state.app.extensions["gtb_exports"] = Running(AT_ONCE)


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
        named = [QUANTITIES.get(q, q) for q in asked.quantities]
        scope += f", {' + '.join(named)}"
        scope_en += f", {' + '.join(EN.get(n, n) for n in named)}"
    first, last = asked.period.first_day, asked.period.last_day
    resolution = Reason.of(f"resolution.{asked.resolution.value}")
    p.store.audit.record(
        p.now(), "export", current_user.name,
        f"Export {asked.fmt.value.upper()} ({resolution.fr}) du {_day(first)} au "
        f"{_day(last)} : {scope}", site=p.site.id, building=building, zone=zone,
        data={"from": args.get("from"), "to": args.get("to"), "building": asked.building,
              "zone": asked.zone, "quantity": list(asked.quantities),
              "resolution": asked.resolution.value, "format": asked.fmt.value,
              "points": len(asked.points)},
        message_en=f"Export {asked.fmt.value.upper()} ({resolution.en}) from "
                   f"{_day(first)} to {_day(last)}: {scope_en}")


def _day(day: date) -> str:
    return f"{day:%d/%m/%Y}"


def _check_size(store: Store, asked: Download) -> None:
    """Refuse, before anything is written or sent, a download longer than MAX_DAYS for its
    resolution or that would read more than MAX_ROWS rows of the store."""
    longest = MAX_DAYS.get(asked.resolution)
    # Local days touched: a day of 25 hours is one day.
    days = (asked.period.last_day - asked.period.first_day).days + 1
    if longest is not None and days > longest:
        raise ActionError(
            f"Période trop longue pour la résolution {asked.resolution.value} : "
            f"{days} jours, {longest} au plus ; raccourcissez-la ou choisissez "
            "une résolution plus grossière (heure, jour, mois).",
            f"Period too long for the {asked.resolution.value} resolution: "
            f"{days} days, {longest} at most; shorten it or choose a coarser "
            "resolution (hour, day, month).")
    period, total = asked.period.widened(asked.resolution), 0
    for point in asked.points:
        total += export.work(store, point, period, asked.resolution)
        if total > MAX_ROWS:
            raise ActionError(
                f"Export trop gros : plus de {number_fr(MAX_ROWS, 0)} lignes du stock à "
                "lire ; raccourcissez la période, choisissez un bâtiment, une zone ou une "
                "grandeur, ou une résolution plus grossière.",
                f"Export too large: more than {MAX_ROWS:,} rows of the store to read; "
                "shorten the period, choose a building, a zone or a quantity, or a coarser "
                "resolution.")


def _chunks(store: Store, site: Site, asked: Download, notes: Sequence[str]) -> Iterator[str]:
    """The export, a piece of about CHUNK characters at a time; cut, with a last line
    that says so, once it has streamed for TIME_LIMIT seconds."""
    buffer = io.StringIO()
    writer = export.writer_for(asked.fmt, buffer, site, asked.resolution, notes)
    period = asked.period.widened(asked.resolution)
    deadline = time.monotonic() + TIME_LIMIT

    def pieces() -> Iterator[str]:
        for point in asked.points:
            if asked.resolution is Resolution.RAW and isinstance(writer, export.CsvWriter):
                # A year of a zone is a million rows: the fast path, in its own pieces.
                if buffer.tell():
                    yield _taken(buffer)
                samples = store.samples.rows(point.key, period.start, period.end)
                # A raw CSV line is up to about 160 characters.
                chunks = writer.raw_chunks(point, samples, rows_per_chunk=max(1, CHUNK // 160))
                yield from (text for text, _ in chunks)
                continue
            for row in export.rows(store, point, period, asked.resolution):
                writer.write(row)
                if buffer.tell() >= CHUNK:
                    yield _taken(buffer)
            yield ""  # a point ends: time to look at the clock
        yield _taken(buffer)

    for piece in pieces():
        if piece:
            yield piece
        if time.monotonic() > deadline:
            yield _taken(buffer) + _cut_line(asked.fmt)
            return


def _taken(buffer: io.StringIO) -> str:
    """What the buffer holds, which it then forgets."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _cut_line(fmt: Format) -> str:
    """The last line of a download cut at TIME_LIMIT: a comment in CSV and line protocol,
    an object of its own in JSON Lines (its rows have a ``time_utc``; this one has not)."""
    text = (f"export cut after {TIME_LIMIT:g} s, the panel's limit: the rows above are "
            "complete but the period is not; ask for a shorter period or use gtb export")
    if fmt is Format.JSON:
        return json.dumps({"cut": text}) + "\n"
    return f"# {text}\n"
