"""The JSON API under ``/api/``: the panel's data and actions for scripts.

Only an API token authenticates (``Authorization: Bearer …``, made by ``gtb users token``):
a browser's session cookie is not accepted here, which is why the API needs no CSRF token.
Roles and validation are the panel's, since the API calls the same ``Panel`` actions.
Each endpoint is declared once (``@operation``): that declaration registers the view,
authenticates, parses the query string and the body with pydantic, and describes the
endpoint in ``/api/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, g, jsonify, request
from flask.blueprints import BlueprintSetupState
from pydantic import TypeAdapter
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from gtb.model import Role, Zone
from gtb.store import Alarm, Override, User, UserRole
from web.api_models import (
    NOT_AN_OBJECT,
    AlarmsOut,
    AlarmsQuery,
    Bounds,
    BuildingOut,
    CabinetOut,
    CancelIn,
    Curve,
    EquipmentOut,
    EventsOut,
    EventsQuery,
    LearningIn,
    OutputOut,
    OutputsOut,
    OutputStatusOut,
    OverrideIn,
    PointOut,
    SamplePoint,
    SeriesOut,
    SeriesQuery,
    SiteOut,
    ZoneInfo,
    ZoneOut,
    ZonesOut,
    ZoneStatusOut,
    validated,
)
from web.auth import hash_token
from web.i18n import LANGS
from web.openapi import Operation, document
from web.pages import RANGES
from web.panel import ActionError, NotFound, ZoneView, may, panel

bp = Blueprint("api", __name__, url_prefix="/api")

EN: dict[str, str] = {}
"""The API's texts carry their own English (``ActionError``): nothing for the catalog."""

OPERATIONS: list[Operation] = []
"""Every endpoint, in the order declared: the views and the OpenAPI description."""

SQLITE_MAX_ID = 2**63 - 1
CURVES = {"temperature": Role.ZONE_TEMPERATURE, "setpoint": Role.HEATING_SETPOINT,
          "occupancy": Role.OCCUPANCY, "heating": Role.VALVE}

_V = TypeVar("_V", bound=Callable[..., Any])


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    app = state.app
    app.extensions["csrf"].exempt(bp)
    # Flask runs the app's before-request functions (CSRF protection among them) before it
    # raises a routing error: a POST to a wrong API path would be refused as a stale form.
    app.before_request_funcs.setdefault(None, []).insert(0, _routing_errors_first)


def _routing_errors_first() -> None:
    if request.path.startswith("/api/") and request.routing_exception is not None:
        raise request.routing_exception


def operation(method: str, path: str, summary: str, **declared: Any) -> Callable[[_V], _V]:
    """Declare an endpoint (see ``Operation`` for ``declared``) and register its view.

    The view gets the path's parameters, and ``query`` and ``body`` when declared, already
    validated; it returns the answer, of the declared type (or a plain JSON object)."""
    def decorate(view: _V) -> _V:
        op = Operation(method, path, view.__name__, summary, **declared)
        OPERATIONS.append(op)
        answers: TypeAdapter[Any] | None = (TypeAdapter(op.answer) if op.answer is not None
                                            else None)

        @wraps(view)
        def handle(**params: Any) -> Any:
            if op.role is not None:
                g.api_user = _authenticate(op.role)
            if op.query is not None:
                params["query"] = validated(op.query, request.args.to_dict())
            if op.body is not None:
                params["body"] = validated(op.body, _body(op.body_required))
            answer = view(**params)
            if answers is not None:
                answer = answers.dump_python(answer, mode="json")
            return jsonify(answer), op.ok

        bp.add_url_rule(op.rule, op.name, handle, methods=[method])
        return view
    return decorate


# -- authentication and errors -------------------------------------------------------------


def _authenticate(needed: UserRole) -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ActionError("Jeton d'API manquant : envoyez « Authorization: Bearer JETON » "
                          "(gtb users token NOM).",
                          "Missing API token: send 'Authorization: Bearer TOKEN' "
                          "(gtb users token NAME).", 401)
    user = panel().store.token_user(hash_token(token.strip()))
    if user is None:
        raise ActionError("Jeton d'API inconnu, révoqué, ou son compte est désactivé.",
                          "Unknown or revoked API token, or its account is disabled.", 401)
    if not may(user.role, needed):
        raise ActionError(f"Le rôle {user.role.value} ne permet pas cette action "
                          f"(il faut {needed.value}).",
                          f"Role {user.role.value} may not do this ({needed.value} needed).",
                          403)
    return user


def _who() -> str:
    user: User = g.api_user
    return user.name


def _lang() -> str:
    return request.accept_languages.best_match(LANGS, default="fr")


def _error(fr: str, en: str, status: int) -> Any:
    body = {"error": fr, "error_en": en} if _lang() == "fr" else {"error": en}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="gtb"'
    return response


@bp.errorhandler(ActionError)
def refused(error: ActionError) -> Any:
    return _error(error.fr, error.en, error.status)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Any:
    text = error.description or error.name
    return _error(text, text, error.code or 500)


@bp.app_errorhandler(MethodNotAllowed)
def method_not_allowed(error: MethodNotAllowed) -> Any:
    """JSON under /api/; elsewhere, the page Flask would show."""
    if not request.path.startswith("/api/"):
        return error
    response = _error("Méthode non permise à cette adresse.",
                      "Method not allowed at this address.", 405)
    response.headers["Allow"] = ", ".join(error.valid_methods or ())
    return response


# -- requests ----------------------------------------------------------------------------


def _body(required: bool) -> str | bytes:
    raw = request.get_data(cache=False)
    if not raw.strip():
        if required:
            raise ActionError(*NOT_AN_OBJECT)
        return b"{}"
    return raw


# -- answers -------------------------------------------------------------------------------


def _bounds(zone: Zone) -> Bounds:
    bounds = panel().site.bounds_of(zone)
    return Bounds(frost_floor=bounds.frost_floor, setpoint_ceiling=bounds.setpoint_ceiling)


def _zone(view: ZoneView, switches: Mapping[str, bool]) -> ZoneOut:
    status = view.status
    return ZoneOut(
        key=view.key, building=view.building.id, zone=view.zone.id, name=view.zone.name,
        building_name=view.building.name, bounds=_bounds(view.zone),
        learning=switches.get(view.key, True),
        status=None if status is None else ZoneStatusOut.model_validate(
            {**status.data, "at": status.at}),
        override=view.override, applied=view.applied)


def _one_zone(building: str, zone: str) -> ZoneOut:
    p = panel()
    return _zone(p.zone(building, zone), p.store.learning_switches())


# -- endpoints -----------------------------------------------------------------------------


@operation("GET", "/api/openapi.json", "This description of the API (OpenAPI 3.1)",
           answer=None, role=None)
def openapi() -> dict[str, Any]:
    return document(OPERATIONS, panel().site)


@operation("GET", "/api/site", "The site: its buildings and zones, cabinets and equipment",
           answer=SiteOut)
def site() -> SiteOut:
    s = panel().site
    return SiteOut(
        id=s.id, name=s.name, timezone=s.timezone,
        buildings=[BuildingOut(id=b.id, name=b.name, use=b.use, zones=[
            ZoneInfo(id=z.id, key=f"{b.id}.{z.id}", name=z.name, bounds=_bounds(z),
                     points=[PointOut(key=f"{b.id}.{z.id}.{pt.id}", role=pt.role.value,
                                      unit=pt.si_unit) for pt in z.points])
            for z in b.zones]) for b in s.buildings],
        cabinets=[CabinetOut(id=c.id, name=c.name, category=c.category, power_kw=c.power_kw)
                  for c in s.cabinets],
        equipment=[EquipmentOut(id=e.id, name=e.name, building=e.building)
                   for e in s.equipment])


@operation("GET", "/api/zones", "Every zone with the engine's last status and its override",
           answer=ZonesOut)
def zones() -> ZonesOut:
    p = panel()
    switches = p.store.learning_switches()
    return ZonesOut(zones=[_zone(view, switches) for view in p.zones()])


@operation("GET", "/api/zones/{building}/{zone}",
           "One zone: the engine's last status, the override in force and whether it is "
           "applied", answer=ZoneOut)
def zone(building: str, zone: str) -> ZoneOut:
    return _one_zone(building, zone)


@operation("GET", "/api/zones/{building}/{zone}/series",
           "The zone's temperature, setpoint, occupancy and valve over 48 h or 7 days",
           answer=SeriesOut, query=SeriesQuery)
def series(building: str, zone: str, query: SeriesQuery) -> SeriesOut:
    p = panel()
    view = p.zone(building, zone)
    end = p.now()
    start = end - RANGES[query.range]
    curves = {}
    for point in view.zone.points:
        name = next((n for n, role in CURVES.items() if role is point.role), None)
        if name is None:
            continue
        key = f"{view.key}.{point.id}"
        curves[name] = Curve(point=key, unit=point.si_unit, samples=[
            SamplePoint(t=s.ts, value=s.value, quality=s.quality.value)
            for s in p.store.samples(key, start, end)])
    return SeriesOut(zone=view.key, range=query.range, start=start, end=end, curves=curves)


@operation("POST", "/api/zones/{building}/{zone}/override",
           "Override the zone's setpoint until a time or for some minutes",
           answer=Override, role=UserRole.OPERATOR, ok=201, body=OverrideIn,
           example={"value": 20.5, "minutes": 120, "why": "réunion du conseil"})
def override(building: str, zone: str, body: OverrideIn) -> Override:
    p = panel()
    view = p.zone(building, zone)
    until = body.until or p.now() + timedelta(minutes=body.minutes or 0)
    override_id = p.override_zone(view, body.value, until, who=_who(), why=body.why)
    return p.store.override(override_id)


@operation("DELETE", "/api/zones/{building}/{zone}/override",
           "Cancel the override in force on the zone", answer=Override,
           role=UserRole.OPERATOR, body=CancelIn, body_required=False, conflicts=True,
           example={"why": "réunion terminée"})
def cancel_override(building: str, zone: str, body: CancelIn) -> Override:
    p = panel()
    view = p.zone(building, zone)
    p.cancel_override(view, who=_who(), why=body.why.strip() or "annulée par l'API")
    assert view.override is not None  # cancel_override refuses a zone without one
    return p.store.override(view.override.id)


@operation("POST", "/api/zones/{building}/{zone}/learning",
           "Switch the zone's learning on or off (off: it follows its programme)",
           answer=ZoneOut, role=UserRole.OPERATOR, body=LearningIn,
           example={"enabled": False})
def learning(building: str, zone: str, body: LearningIn) -> ZoneOut:
    p = panel()
    p.set_learning(p.zone(building, zone), body.enabled, who=_who())
    return _one_zone(building, zone)


@operation("GET", "/api/alarms", "Active alarms, or the history of alarms, newest first",
           answer=AlarmsOut, query=AlarmsQuery)
def alarms(query: AlarmsQuery) -> AlarmsOut:
    store = panel().store
    found = (sorted(store.active_alarms().values(), key=lambda a: (a.raised_at, a.id),
                    reverse=True) if query.state == "active" else store.alarms(limit=query.limit))
    return AlarmsOut(alarms=found)


@operation("POST", "/api/alarms/{alarm_id}/ack", "Acknowledge an alarm (it stays until it "
           "clears)", answer=Alarm, role=UserRole.OPERATOR, conflicts=True)
def acknowledge(alarm_id: int) -> Alarm:
    if alarm_id > SQLITE_MAX_ID:
        raise NotFound(f"Alarme inconnue : {alarm_id}", f"Unknown alarm: {alarm_id}")
    return panel().acknowledge_alarm(alarm_id, who=_who())


@operation("GET", "/api/events", "The audit log, newest first, filtered", answer=EventsOut,
           query=EventsQuery)
def events(query: EventsQuery) -> EventsOut:
    return EventsOut(events=panel().store.events(**query.model_dump()))


@operation("GET", "/api/outputs", "Lighting cabinets, zone lighting circuits and equipment: "
           "on or off, and why", answer=OutputsOut)
def outputs() -> OutputsOut:
    p = panel()
    statuses = p.store.status("output")

    def output(kind: str, key: str, name: str) -> OutputOut:
        status = statuses.get(f"{kind}:{key}")
        return OutputOut(key=key, name=name, status=None if status is None else
                         OutputStatusOut.model_validate({**status.data, "at": status.at}))

    return OutputsOut(
        cabinets=[output("cabinet", c.id, c.name) for c in p.site.cabinets],
        circuits=[output("circuit", f"{b.id}.{z.id}", z.name)
                  for b in p.site.buildings for z in b.zones
                  if any(pt.role is Role.LIGHTING_RELAY for pt in z.points)],
        equipment=[output("equipment", e.id, e.name) for e in p.site.equipment])
