"""The auditors' download: the data of a period, a building, a zone or a quantity, at a
resolution, as CSV, JSON Lines or line protocol, exactly as ``gtb export`` writes it
(gtb/export.py, docs/export.md).

``GET /export/download?from=YYYY-MM-DD&to=YYYY-MM-DD&building=&zone=&cabinet=&quantity=
&resolution=&format=`` is checked as ``gtb export`` checks its options (a refusal is a 400 with the
reason, and nothing is sent), written in the audit log, then streamed a piece at a time
while the store is read point by point: a year of raw samples never sits in memory.
Everyone signed in may export: elected officials and auditors read. The file's name says
what it holds (``gtb.export.file_name``), and ``/export/guide`` tells an auditor what each
column, measurement, tag and field means, with the example queries (``gtb.export_guide``).

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

from gtb import export, export_guide
from gtb.export import ExportPoint, Format, Period, Resolution, Scope
from gtb.i18n import number_fr
from gtb.model import Site
from gtb.store import Store
from gtb.store.accounts import UserRole
from gtb.texts import Lang, Reason
from web.auth import role_required
from web.i18n import lang
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

FORMATS = {
    Format.CSV: ("CSV (standard)", "text/csv; charset=utf-8"),
    Format.CSV_FR: ("CSV (Excel, français)", "text/csv; charset=utf-8"),
    Format.JSON: ("JSON Lines", "application/x-ndjson; charset=utf-8"),
    Format.LP: ("line protocol InfluxDB", "text/plain; charset=utf-8"),
}
"""Each format's label and media type."""

EN: dict[str, str] = {
    "Export des données": "Data export",
    "Les données du stock de GTB, comme les écrit « gtb export ». Le guide des données dit "
    "ce que signifie chaque colonne, et chaque mesure de l'archive InfluxDB.":
        "The data of GTB's store, as 'gtb export' writes them. The data guide says what each "
        "column means, and each measurement of the InfluxDB archive.",
    "Guide des données": "Data guide",
    "Période": "Period",
    "Armoire d'éclairage": "Lighting cabinet",
    "aucune": "none",
    "Grandeur": "Quantity",
    "Résolution": "Resolution",
    "Format": "Format",
    "Télécharger": "Download",
    "CSV (standard)": "CSV (standard)",
    "CSV (Excel, français)": "CSV (Excel, French)",
    "JSON Lines": "JSON Lines",
    "line protocol InfluxDB": "InfluxDB line protocol",
    "Chaque téléchargement est inscrit au journal des actions.":
        "Every download is written in the audit log.",
    # the data guide
    "Ce que signifient les fichiers de l'export et l'archive InfluxDB de GTB, pour un "
    "auditeur énergétique.":
        "What the export's files and GTB's InfluxDB archive mean, for an energy auditor.",
    "Les fichiers": "The files",
    "Virgules, point décimal, UTF-8, heures ISO 8601 avec leur décalage : pour les outils "
    "(pandas, R, bases de données). Les premières lignes, commençant par #, disent ce que le "
    "fichier contient.":
        "Commas, decimal point, UTF-8, ISO 8601 times with their offset: for tools (pandas, "
        "R, databases). The first lines, beginning with #, say what the file holds.",
    "Points-virgules, virgule décimale, UTF-8 avec BOM, dates jj/mm/aaaa hh:mm à l'heure "
    "locale du site : s'ouvre tel quel dans Excel ou LibreOffice en français. La colonne "
    "utc_offset dit le décalage de chaque ligne, qui distingue les deux heures de 02:00 à "
    "03:00 de la nuit du changement d'heure d'octobre ; time_utc donne le même instant en "
    "UTC. Un texte commençant par =, +, - ou @ est précédé d'une apostrophe, pour qu'un "
    "tableur n'en fasse pas une formule.":
        "Semicolons, decimal comma, UTF-8 with BOM, dd/mm/yyyy hh:mm dates in the site's "
        "local time: opens as it is in Excel or LibreOffice set to French. The utc_offset "
        "column gives each row's offset, which tells apart the two hours from 02:00 to 03:00 "
        "of the October clock change night; time_utc gives the same moment in UTC. A text "
        "beginning with =, +, - or @ is preceded by an apostrophe, so that a spreadsheet "
        "does not take it for a formula.",
    "Un objet JSON par ligne, avec les colonnes du CSV pour clés ; null quand une colonne ne "
    "s'applique pas.":
        "One JSON object per line, with the CSV's columns as keys; null where a column does "
        "not apply.",
    "Les mesures brutes telles que GTB les envoie à InfluxDB, pour charger un historique dans "
    "une nouvelle base ; les agrégats vont dans des mesures suffixées _1h, _1d ou _1mo, avec "
    "les champs mean, min, max, count et hours.":
        "The raw samples as GTB sends them to InfluxDB, to load a history into a new "
        "database; aggregates go to measurements suffixed _1h, _1d or _1mo, with the fields "
        "mean, min, max, count and hours.",
    "Le nom du fichier dit le site, le bâtiment, la zone ou l'armoire, les grandeurs, la "
    "résolution et les jours couverts, par exemple :":
        "The file's name gives the site, the building, zone or cabinet, the quantities, the "
        "resolution and the days covered, for example:",
    "Résolutions : brutes, chaque mesure telle qu'enregistrée, avec sa qualité ; heure, les "
    "agrégats des mesures bonnes par heure UTC ; jour et mois, les jours et mois du "
    "calendrier local du site, de 23 ou 25 heures aux changements d'heure. L'heure d'un "
    "agrégat est le début de son heure, de son jour ou de son mois.":
        "Resolutions: raw, every sample as recorded, with its quality; hour, aggregates of "
        "the good samples per UTC hour; day and month, the site's local calendar days and "
        "months, of 23 or 25 hours at the clock changes. An aggregate's time is the start of "
        "its hour, day or month.",
    "Les colonnes": "The columns",
    "L'archive InfluxDB": "The InfluxDB archive",
    "Une mesure par grandeur, en UTC, à la seconde ; le champ value est toujours un nombre à "
    "virgule.":
        "One measurement per quantity, in UTC, to the second; the value field is always a "
        "float.",
    "Mesures": "Measurements",
    "Étiquettes": "Tags",
    "Champs": "Fields",
    "Exemples de requêtes": "Example queries",
    "Pour le site marchiennes-le-vert, la base ou le bucket gtb et mars 2026 ; les heures "
    "portent leur décalage (+01:00 en hiver, +02:00 en été). InfluxQL fonctionne sur InfluxDB "
    "1.x, 2.x (API de compatibilité v1) et 3.x ; Flux sur 2.x.":
        "For the site marchiennes-le-vert, the database or bucket gtb and March 2026; times "
        "carry their offset (+01:00 in winter, +02:00 in summer). InfluxQL works on InfluxDB "
        "1.x, 2.x (v1 compatibility API) and 3.x; Flux on 2.x.",
}


def _labels() -> tuple[dict[str, str], dict[Resolution, str]]:
    """The quantities and the resolutions as the form offers them, in the reader's
    language (the catalogue's)."""
    reader = _reader()
    quantities = {q: export.quantity_label(q, reader) for q in export.QUANTITIES}
    resolutions = {r: Reason.of(f"export.resolution_choice.{r.value}").text(reader)
                   for r in Resolution}
    return quantities, resolutions


@bp.route("")
@role_required(UserRole.VIEWER)
def index() -> Any:
    quantities, resolutions = _labels()
    return render_template("export.html", site=panel().site, default=_last_month(),
                           quantities=quantities, resolutions=resolutions, formats=FORMATS)


@bp.route("/guide")
@role_required(UserRole.VIEWER)
def guide() -> Any:
    """What an auditor reads the exports and the archive with; the name of a file is shown
    on the hourly temperatures of the site's first zone last month."""
    site = panel().site
    first, last = _last_month()
    zones = [(b.id, z.id) for b in site.buildings for z in b.zones]
    example = export.file_name(
        site.id, Scope(*zones[0]) if zones else Scope(), ["temperature"], Resolution.HOUR,
        Period(export.parse_moment(first.isoformat(), site.tz, end=False),
               export.parse_moment(last.isoformat(), site.tz, end=True), site.tz),
        Format.CSV)
    return render_template("export_guide.html", guide=export_guide.guide(site, _reader()),
                           example_file=example)


def _last_month() -> tuple[date, date]:
    """The first and last days of the month before this one, in the site's time."""
    p = panel()
    first = p.local(p.now()).date().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1), first - timedelta(days=1)


def _reader() -> Lang:
    """The reader's language, as the catalogue names it."""
    return "en" if lang() == "en" else "fr"


@dataclass(frozen=True)
class Download:
    """What a person asked for, checked: the period as asked (not yet widened)."""

    period: Period
    resolution: Resolution
    fmt: Format
    points: Sequence[ExportPoint]
    building: str | None
    zone: str | None
    cabinet: str | None
    quantities: tuple[str, ...]

    @property
    def scope(self) -> Scope:
        return Scope.of(self.points, building=self.building, zone=self.zone,
                        cabinet=self.cabinet)

    def filename(self, site: Site) -> str:
        return export.file_name(site.id, self.scope, self.quantities, self.resolution,
                                self.period.widened(self.resolution), self.fmt)

    def filters(self) -> str:
        return export.filters_text(building=self.building, zone=self.zone,
                                   cabinet=self.cabinet, quantities=self.quantities)


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
                                by=f"the GTB web panel, for {who}", fmt=asked.fmt)
    except BaseException:
        running.end(who)
        raise
    chunks = running.streamed(who, _chunks(p.store, p.site, asked, notes))
    # The name is ASCII by construction (export.file_name): no filename*= is needed.
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
    cabinet = args.get("cabinet") or None
    quantities = tuple(q for q in args.getlist("quantity") if q)
    try:
        points = export.select_points(site, building=building, zone=zone, cabinet=cabinet,
                                      quantities=quantities)
    except export.SelectionError as exc:
        raise ActionError(_sentence(exc.fr), _sentence(str(exc))) from None
    return Download(Period(start, end, site.tz), resolution, fmt, points, building, zone,
                    cabinet, quantities)


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
    """The download's line in the audit log: who asked for what, in the catalogue's words."""
    p = panel()
    scope = asked.scope
    where = (Reason.of("export.scope.zone", place=p.place(scope.building, scope.zone))
             if scope.zone is not None
             else Reason.of("export.scope.building", place=p.place(scope.building, None))
             if scope.building is not None
             else Reason.of("export.scope.cabinet", place=_cabinet_name(p.site, scope.cabinet))
             if scope.cabinet is not None else Reason.of("export.scope.site"))
    if asked.quantities:
        where = Reason.of("export.scope.quantities", scope=where, quantities=[
            Reason.of(f"export.quantity.{q}") for q in asked.quantities])
    line = Reason.of("export.downloaded", format=asked.fmt.value.upper(),
                     resolution=Reason.of(f"export.resolution.{asked.resolution.value}"),
                     first=asked.period.first_day, last=asked.period.last_day, scope=where)
    p.store.audit.record(
        p.now(), "export", current_user.name, line.fr, site=p.site.id,
        building=scope.building, zone=scope.zone,
        data={"from": args.get("from"), "to": args.get("to"), "building": asked.building,
              "zone": asked.zone, "cabinet": asked.cabinet, "quantity": list(asked.quantities),
              "resolution": asked.resolution.value, "format": asked.fmt.value,
              "points": len(asked.points)},
        message_en=line.en)


def _cabinet_name(site: Site, cabinet_id: str) -> str:
    return next((c.name for c in site.cabinets if c.id == cabinet_id), cabinet_id)


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
