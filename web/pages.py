"""The panel's pages: overview, building, zone (chart, override, learning).

Pages re-read themselves every 10 s with htmx (``hx-select`` of their ``#live`` part), so
every value shown follows the engine without reloading. Writes go through ``Panel``'s
actions and show the result with a flash message; the page then says whether the engine
has applied it.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from gtb.model.points import Role
from gtb.store.accounts import UserRole
from web import form_input, i18n
from web.attention import attention
from web.auth import role_required, same_site_path
from web.charts import calendar_names
from web.panel import ActionError, ZoneView, panel

bp = Blueprint("pages", __name__)

EN: dict[str, str] = {
    "À voir": "Needs attention",
    "Rien à signaler : aucune alarme, aucune dérogation, toutes les zones près de leur "
    "consigne.": "Nothing to report: no alarm, no override, every zone near its setpoint.",
    "Dérogations en cours": "Overrides in force",
    "Zones loin de leur consigne": "Zones off their setpoint",
    "Chauffe en ce moment": "Heating now",
    "Aucune zone ne chauffe.": "No zone is heating.",
    "Ouvrir": "Open",
    "dérogation": "override",
    "dérogation en attente": "override pending",
    "en attente de l'appareil": "waiting for the device",
}
"""English of this blueprint's own texts (the shared ones are in web.i18n)."""

RANGES = {"48h": timedelta(hours=48), "7d": timedelta(days=7)}
CURVES = {"temperature": Role.ZONE_TEMPERATURE, "setpoint": Role.HEATING_SETPOINT,
          "occupancy": Role.OCCUPANCY, "heating": Role.VALVE}
"""The zone chart's curves (the page's and the API's), by the role of their point."""


@bp.route("/")
@role_required(UserRole.VIEWER)
def overview() -> Any:
    p = panel()
    zones = p.zones()
    outputs = [s for s in p.store.status.outputs().values()
               if s.kind not in ("circuit", "plant")]
    by_building = {b.id: [z for z in zones if z.building.id == b.id] for b in p.site.buildings}
    return render_template("overview.html", site=p.site, by_building=by_building,
                           outputs=outputs, attention=attention(p, zones),
                           updated=_updated(zones))


@bp.route("/building/<building_id>")
@role_required(UserRole.VIEWER)
def building(building_id: str) -> Any:
    p = panel()
    found = p.building(building_id)
    zones = p.zones(found)
    return render_template("building.html", building=found, zones=zones,
                           plant=p.store.status.outputs().get(f"plant:{found.id}"),
                           updated=_updated(zones))


@bp.route("/zone/<building_id>/<zone_id>")
@role_required(UserRole.VIEWER)
def zone(building_id: str, zone_id: str) -> Any:
    p = panel()
    view = p.zone(building_id, zone_id)
    return render_template("zone.html", view=view, data=view.status, applied=view.applied,
                           ranges=list(RANGES), bounds=p.site.bounds_of(view.zone),
                           now_local=p.local(p.now()), site_timezone=p.site.timezone,
                           calendar=calendar_names(i18n.lang()))


@bp.route("/zone/<building_id>/<zone_id>/override", methods=["POST"])
@role_required(UserRole.OPERATOR)
def override(building_id: str, zone_id: str) -> Any:
    p = panel()
    view = p.zone(building_id, zone_id)
    value = _number(request.form.get("value", ""))
    until = _until(view, request.form.get("duration", ""), request.form.get("until", ""))
    p.override_zone(view, value, until, who=current_user.name,
                    why=request.form.get("why", ""))
    flash(i18n.gettext("Dérogation enregistrée."), "ok")
    return redirect(url_for("pages.zone", building_id=building_id, zone_id=zone_id))


@bp.route("/zone/<building_id>/<zone_id>/cancel", methods=["POST"])
@role_required(UserRole.OPERATOR)
def cancel(building_id: str, zone_id: str) -> Any:
    p = panel()
    view = p.zone(building_id, zone_id)
    p.cancel_override(view, who=current_user.name, why=request.form.get("why", ""))
    flash(i18n.gettext("Dérogation annulée."), "ok")
    return redirect(url_for("pages.zone", building_id=building_id, zone_id=zone_id))


@bp.route("/zone/<building_id>/<zone_id>/learning", methods=["POST"])
@role_required(UserRole.OPERATOR)
def learning(building_id: str, zone_id: str) -> Any:
    p = panel()
    view = p.zone(building_id, zone_id)
    enabled = request.form.get("enabled") == "1"
    p.set_learning(view, enabled, who=current_user.name)
    flash(i18n.gettext("Apprentissage modifié."), "ok")
    return redirect(url_for("pages.zone", building_id=building_id, zone_id=zone_id))


@bp.route("/zone/<building_id>/<zone_id>/series")
@role_required(UserRole.VIEWER)
def series(building_id: str, zone_id: str) -> Any:
    """The chart's data: epoch seconds and one list per curve, None where nothing was read."""
    p = panel()
    view = p.zone(building_id, zone_id)
    span = RANGES.get(request.args.get("range", "48h"))
    if span is None:
        raise ActionError("Période inconnue : 48h ou 7d.", "Unknown range: 48h or 7d.")
    end = p.now()
    start = end - span
    keys = {point.role: f"{view.key}.{point.id}" for point in view.zone.points}
    curves = {name: keys.get(role) for name, role in CURVES.items()}
    columns: dict[str, dict[int, float | None]] = {}
    times: set[int] = set()
    for name, key in curves.items():
        samples = p.store.samples.read(key, start, end) if key else []
        columns[name] = {int(s.ts.timestamp()): s.value for s in samples}
        times.update(columns[name])
    stamps = sorted(times)
    return jsonify({"t": stamps, **{name: [column.get(t) for t in stamps]
                                    for name, column in columns.items()}})


@bp.route("/lang/<code>")
def language(code: str) -> Response:
    """Switch language and go back to the page the person came from, if it is a page of
    this site (the ``Referer`` is the browser's word, or anyone's)."""
    back = same_site_path(request.referrer or "", request.host)
    response = make_response(redirect(back or url_for("pages.overview")))
    if code in i18n.LANGS:
        response.set_cookie(i18n.COOKIE, code, max_age=365 * 86400, samesite="Lax",
                            httponly=True, secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


@bp.app_errorhandler(ActionError)
def refused(error: ActionError) -> Any:
    return _error(error.status, error.text(i18n.lang()))


@bp.app_errorhandler(CSRFError)
def csrf_refused(error: CSRFError) -> Any:
    return _error(400, i18n.gettext(
        "La session a expiré ou le formulaire est invalide ; rechargez la page."))


@bp.app_errorhandler(403)
def forbidden(error: Any) -> Any:
    return _error(403, i18n.gettext("Votre rôle ne permet pas cette action."))


@bp.app_errorhandler(404)
def not_found(error: Any) -> Any:
    return _error(404, i18n.gettext("Page introuvable"))


def _error(status: int, message: str) -> Any:
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
        return jsonify({"error": message}), status
    title = {403: "Accès refusé", 404: "Page introuvable"}.get(status, "Requête refusée")
    return render_template("error.html", title=i18n.gettext(title), message=message), status


# -- helpers ---------------------------------------------------------------------------------


def _updated(zones: list[ZoneView]) -> datetime | None:
    times = [z.status.at for z in zones if z.status is not None]
    return max(times) if times else None


def _number(text: str) -> float:
    try:
        value = float(text.replace(",", ".").strip())
    except ValueError:
        raise ActionError(f"« {text} » n'est pas une température.",
                          f"'{text}' is not a temperature.") from None
    if not math.isfinite(value):
        raise ActionError(f"« {text} » n'est pas une température.",
                          f"'{text}' is not a temperature.")
    return value


def _until(view: ZoneView, duration: str, chosen: str) -> datetime:
    p = panel()
    now = p.now()
    if duration == "1h":
        return now + timedelta(hours=1)
    if duration == "2h":
        return now + timedelta(hours=2)
    if duration == "period":
        end = None if view.status is None else view.status.period_end
        if end is None:
            raise ActionError("La période en cours n'a pas de fin connue ; choisissez une heure.",
                              "The current period has no known end; choose a time.")
        return end
    if duration == "until":
        wall = form_input.wall_clock(chosen, ("la fin de la dérogation", "the end of the override"))
        return wall.replace(tzinfo=p.site.tz)
    raise ActionError(f"Durée inconnue : « {duration} ».", f"Unknown duration: '{duration}'.")

