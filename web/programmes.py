"""The programme pages: each zone's weekly programme as a week a phone can read, its
editing, its exceptions (events, closures, special days) and the holidays ahead.

A zone's programme is the latest version saved here, else the site file's; the engine
applies a saved version at its next tick (``Engine._load_programmes``). Everyone signed in
sees; operators change. A week with a bad period is refused whole, each day and period at
fault named, and the form comes back as it was typed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from gtb.model import Building
from gtb.model.calendar import WEEKDAYS, Period, Programme
from gtb.store.accounts import UserRole
from gtb.store.control import ProgrammeVersion
from gtb.store.status import Holiday
from web import form_input, i18n
from web.auth import role_required
from web.panel import EXCEPTION_KINDS, ActionError, ZoneView, panel
from web.timetables import (
    Problem,
    day_names,
    school_holidays_apply,
    split_periods,
    week_problems,
)

bp = Blueprint("programmes", __name__)

EN: dict[str, str] = {
    "Programmes hebdomadaires": "Weekly programmes",
    "Programme hebdomadaire": "Weekly programme",
    "Jour": "Day",
    "Périodes d'occupation": "Occupied periods",
    "inoccupé": "unoccupied",
    "programme du fichier du site": "the site file's programme",
    "version": "version",
    "enregistrée par": "saved by",
    "Modifier": "Edit",
    "Jours fériés et vacances : en attente du premier passage du moteur.":
        "Holidays: waiting for the engine's first tick.",
    "Voir": "View",
    "Modifier le programme": "Edit the programme",
    "Une ligne par jour : des périodes HH:MM-HH:MM séparées par des virgules ; vide : "
    "inoccupé ce jour-là.": "One line a day: periods HH:MM-HH:MM separated by commas; "
    "empty: unoccupied that day.",
    "Enregistrer le programme": "Save the programme",
    "Raison (facultative)": "Reason (optional)",
    "Versions précédentes": "Earlier versions",
    "Exceptions": "Exceptions",
    "Aucune exception à venir.": "No exception ahead.",
    "Nouvelle exception": "New exception",
    "Type": "Type",
    "Événement": "Event",
    "événement : occupé": "event: occupied",
    "Fermeture": "Closure",
    "fermeture : inoccupé": "closure: unoccupied",
    "Jour particulier": "Special day",
    "jour particulier": "special day",
    "Pour": "For",
    "cette zone": "this zone",
    "tout le bâtiment": "the whole building",
    "tout le site": "the whole site",
    "Premier jour": "First day",
    "Dernier jour": "Last day",
    "Périodes (jour particulier)": "Periods (special day)",
    "Événement et fermeture : début et fin. Jour particulier : premier et dernier jour, et "
    "ses périodes (aucune : fermé).": "Event and closure: start and end. Special day: first "
    "and last day, and its periods (none: closed).",
    "fermé": "closed",
    "Jours fériés et vacances scolaires (12 mois)": "Public holidays and school holidays "
    "(12 months)",
    "Jours fériés": "Public holidays",
    "Vacances scolaires, zone": "School holidays, zone",
    "estimées": "estimated",
    "Les jours fériés ferment tous les bâtiments ; les vacances scolaires ferment les écoles "
    "et les gymnases.": "Public holidays close every building; school holidays close the "
    "schools and gyms.",
    "Les vacances scolaires ferment ce bâtiment.": "School holidays close this building.",
    "Les vacances scolaires ne changent pas le programme de ce bâtiment.":
        "School holidays do not change this building's programme.",
    "du": "from",
    "au": "to",
    "appliqué par le moteur": "applied by the engine",
    "Programme inchangé : rien n'a été enregistré.": "Programme unchanged: nothing was saved.",
    "Programme enregistré : version {version}.": "Programme saved: version {version}.",
    "Exception ajoutée.": "Exception added.",
    "Exception retirée.": "Exception removed.",
}
"""English of this blueprint's own texts (the shared ones are in web.i18n)."""


@bp.route("/programmes")
@role_required(UserRole.VIEWER)
def index() -> Any:
    p = panel()
    return render_template("programmes.html", programmes=p.programmes(),
                           holidays=_holidays(), **_common())


@bp.route("/programmes/<building_id>/<zone_id>")
@role_required(UserRole.VIEWER)
def zone(building_id: str, zone_id: str) -> Any:
    view = panel().zone(building_id, zone_id)
    return _zone_page(view)


@bp.route("/programmes/<building_id>/<zone_id>", methods=["POST"])
@role_required(UserRole.OPERATOR)
def save(building_id: str, zone_id: str) -> Any:
    p = panel()
    view = p.zone(building_id, zone_id)
    typed: dict[str, str] = {day: request.form.get(day, "") for day in WEEKDAYS}
    try:
        version = p.save_programme(building_id, zone_id, typed, who=current_user.name,
                                   why=request.form.get("why", ""))
    except ActionError as refused:
        problems = week_problems({day: split_periods(text) for day, text in typed.items()})
        return _zone_page(view, typed=typed, problems=problems,
                          refused=refused.text(i18n.lang())), refused.status
    if version is None:
        flash(i18n.gettext("Programme inchangé : rien n'a été enregistré."), "ok")
    else:
        flash(i18n.gettext("Programme enregistré : version {version}.").format(
            version=version), "ok")
    return redirect(url_for("programmes.zone", building_id=building_id, zone_id=zone_id))


@bp.route("/programmes/<building_id>/<zone_id>/exceptions", methods=["POST"])
@role_required(UserRole.OPERATOR)
def add_exception(building_id: str, zone_id: str) -> Any:
    p = panel()
    p.zone(building_id, zone_id)
    form = request.form
    kind = form.get("kind", "")
    dates: dict[str, Any] = {}
    if kind in ("event", "closure"):
        dates = {"start": form_input.wall_clock(form.get("start", ""), ("le début", "the start")),
                 "end": form_input.wall_clock(form.get("end", ""), ("la fin", "the end"))}
    elif kind == "day":
        dates = {"first": form_input.day(form.get("first", ""),
                                         ("le premier jour", "the first day")),
                 "last": form_input.day(form.get("last", ""), ("le dernier jour", "the last day"),
                                        required=False),
                 "periods": form.get("periods", "")}
    p.add_exception(building_id, zone_id, kind, form.get("label", ""),
                    whole_building=form.get("scope") == "building", who=current_user.name,
                    **dates)
    flash(i18n.gettext("Exception ajoutée."), "ok")
    return redirect(url_for("programmes.zone", building_id=building_id, zone_id=zone_id))


@bp.route("/programmes/<building_id>/<zone_id>/exceptions/<int:entry_id>/remove",
          methods=["POST"])
@role_required(UserRole.OPERATOR)
def remove_exception(building_id: str, zone_id: str, entry_id: int) -> Any:
    p = panel()
    p.zone(building_id, zone_id)
    p.remove_agenda_entry(entry_id, who=current_user.name, kinds=EXCEPTION_KINDS)
    flash(i18n.gettext("Exception retirée."), "ok")
    return redirect(url_for("programmes.zone", building_id=building_id, zone_id=zone_id))


# -- helpers ---------------------------------------------------------------------------------


def _zone_page(view: ZoneView, *, typed: dict[str, str] | None = None,
               problems: dict[str, list[Problem]] | None = None,
               refused: str | None = None) -> str:
    p = panel()
    programme, version = p.programmes()[view.key]
    shown = typed if typed is not None else {
        day: ", ".join(getattr(programme, day)) for day in WEEKDAYS}
    return render_template(
        "programme.html", view=view, programme=programme, version=version,
        history=p.store.programmes.history(view.key, limit=10),
        agenda=p.zone_agenda(view.building, view.zone), typed=shown,
        problems=problems or {}, refused=refused, holidays=_holidays(),
        school=school_holidays_apply(view.building.use),
        applied=_applied(view, version), now_local=p.local(p.now()), **_common())


def _common() -> dict[str, Any]:
    """What both pages' week grids need."""
    site = panel().site
    return {"days": [(day, *day_names(day)) for day in WEEKDAYS], "segments": _segments,
            "place": _place, "site": site, "school_zone": site.school_zone}


def _segments(programme: Programme, day: str) -> list[tuple[str, float, float]]:
    """A day's periods for the week grid: text, left and width in % of the day."""
    return [(str(period), _minutes(period, start=True) / 14.4,
             (_minutes(period, start=False) - _minutes(period, start=True)) / 14.4)
            for period in programme.periods(WEEKDAYS.index(day))]


def _minutes(period: Period, *, start: bool) -> int:
    moment = period.start if start else period.end
    return 24 * 60 if moment is None else moment.hour * 60 + moment.minute


def _place(scope: tuple[str, ...], building: Building) -> str:
    """Whom an exception concerns, seen from a zone."""
    if not scope:
        return i18n.gettext("tout le site")
    if building.id in scope:
        return i18n.gettext("tout le bâtiment")
    return i18n.gettext("cette zone")


def _applied(view: ZoneView, version: ProgrammeVersion | None) -> bool | None:
    """Whether the engine has had a tick since the version was saved (None: no version)."""
    if version is None:
        return None
    return view.status is not None and view.status.at >= version.saved_at


def _holidays() -> list[Holiday] | None:
    """The holidays ahead as the engine last published them (None: not yet)."""
    published = panel().store.status.holidays()
    return None if published is None else list(published.holidays)
