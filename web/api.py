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
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, g, jsonify, request
from flask.blueprints import BlueprintSetupState
from pydantic import TypeAdapter
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from gtb.model import Zone
from gtb.model.calendar import LIGHTING_KINDS, WEEKDAYS, AgendaEntry
from gtb.model.points import Role
from gtb.store.accounts import User, UserRole
from gtb.store.agenda import StoredAgendaEntry
from gtb.store.audit import Alarm
from gtb.store.control import Override
from gtb.texts import Reason
from web.api_models import (
    NOT_AN_OBJECT,
    AgendaItem,
    AlarmsOut,
    AlarmsQuery,
    Bounds,
    BuildingOut,
    CabinetLightingOut,
    CabinetOut,
    CancelIn,
    Curve,
    EquipmentOut,
    EventsOut,
    EventsQuery,
    ExceptionIn,
    LearningIn,
    LightingEntryIn,
    LightingOut,
    NightOut,
    OrderIn,
    OutputOut,
    OutputsOut,
    OutputStatusOut,
    OverrideIn,
    PointOut,
    ProgrammeIn,
    ProgrammeOut,
    SamplePoint,
    SeriesOut,
    SeriesQuery,
    SiteOut,
    UntilOrMinutes,
    ZoneInfo,
    ZoneOut,
    ZonesOut,
    ZoneStatusOut,
    validated,
)
from web.auth import hash_token
from web.i18n import LANGS
from web.lighting import cabinet_views
from web.openapi import Operation, document
from web.pages import CURVES, RANGES
from web.panel import (
    EXCEPTION_KINDS,
    ActionError,
    ZoneView,
    applied,
    may,
    panel,
)

bp = Blueprint("api", __name__, url_prefix="/api")

EN: dict[str, str] = {}
"""The API's texts carry their own English (``ActionError``): nothing for the catalog."""

OPERATIONS: list[Operation] = []
"""Every endpoint, in the order declared: the views and the OpenAPI description."""

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
    p = panel()
    user = p.store.accounts.token_user(hash_token(token.strip()), at=p.now())
    if user is None:
        raise ActionError("Jeton d'API inconnu, révoqué ou expiré, ou son compte est "
                          "désactivé.",
                          "Unknown, revoked or expired API token, or its account is disabled.",
                          401)
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
        status=None if status is None else ZoneStatusOut.model_validate(status),
        override=view.override, applied=view.applied)


def _one_zone(building: str, zone: str) -> ZoneOut:
    p = panel()
    return _zone(p.zone(building, zone), p.store.learning.switches())


def _until(body: UntilOrMinutes) -> datetime:
    return body.until or panel().now() + timedelta(minutes=body.minutes or 0)


def _agenda_item(entry: AgendaEntry, stored: StoredAgendaEntry | None) -> AgendaItem:
    return AgendaItem.of(entry, None if stored is None else stored.id,
                         None if stored is None else stored.created_by)


def _stored_item(entry_id: int) -> AgendaItem:
    stored = panel().store.agenda.get(entry_id)
    return _agenda_item(stored.entry, stored)


def _programme(building: str, zone: str) -> ProgrammeOut:
    p = panel()
    view = p.zone(building, zone)
    programme, version = p.programmes()[view.key]
    return ProgrammeOut(
        zone=view.key, week={day: list(getattr(programme, day)) for day in WEEKDAYS},
        version=None if version is None else version.version,
        saved_by=None if version is None else version.saved_by,
        saved_at=None if version is None else version.saved_at,
        exceptions=[_agenda_item(e, s) for e, s in p.zone_agenda(view.building, view.zone)])


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
    switches = p.store.learning.switches()
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
            for s in p.store.samples.read(key, start, end)])
    return SeriesOut(zone=view.key, range=query.range, start=start, end=end, curves=curves)


@operation("POST", "/api/zones/{building}/{zone}/override",
           "Override the zone's setpoint until a time or for some minutes",
           answer=Override, role=UserRole.OPERATOR, ok=201, body=OverrideIn,
           example={"value": 20.5, "minutes": 120, "why": "réunion du conseil"})
def override(building: str, zone: str, body: OverrideIn) -> Override:
    p = panel()
    view = p.zone(building, zone)
    override_id = p.override_zone(view, body.value, _until(body), who=_who(), why=body.why)
    return p.store.overrides.get(override_id)


@operation("DELETE", "/api/zones/{building}/{zone}/override",
           "Cancel the override in force on the zone", answer=Override,
           role=UserRole.OPERATOR, body=CancelIn, body_required=False, conflicts=True,
           example={"why": "réunion terminée"})
def cancel_override(building: str, zone: str, body: CancelIn) -> Override:
    p = panel()
    view = p.zone(building, zone)
    p.cancel_override(view, who=_who(), why=body.why,
                      default=Reason.of("api.override_cancelled"))
    assert view.override is not None  # cancel_override refuses a zone without one
    return p.store.overrides.get(view.override.id)


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
    p = panel()
    found = (p.active_alarms() if query.state == "active"
             else p.store.alarms.history(limit=query.limit))
    return AlarmsOut(alarms=found)


@operation("POST", "/api/alarms/{alarm_id}/ack", "Acknowledge an alarm (it stays until it "
           "clears)", answer=Alarm, role=UserRole.OPERATOR, conflicts=True)
def acknowledge(alarm_id: int) -> Alarm:
    return panel().acknowledge_alarm(alarm_id, who=_who())


@operation("GET", "/api/events", "The audit log, newest first, filtered", answer=EventsOut,
           query=EventsQuery)
def events(query: EventsQuery) -> EventsOut:
    return EventsOut(events=panel().store.audit.events(**query.model_dump()))


@operation("GET", "/api/outputs", "Lighting cabinets, zone lighting circuits and equipment: "
           "on or off, and why", answer=OutputsOut)
def outputs() -> OutputsOut:
    p = panel()
    statuses = p.store.status.outputs()

    def output(kind: str, key: str, name: str) -> OutputOut:
        status = statuses.get(f"{kind}:{key}")
        return OutputOut(key=key, name=name, status=None if status is None else
                         OutputStatusOut.model_validate(status))

    return OutputsOut(
        cabinets=[output("cabinet", c.id, c.name) for c in p.site.cabinets],
        circuits=[output("circuit", f"{b.id}.{z.id}", z.name)
                  for b in p.site.buildings for z in b.zones
                  if any(pt.role is Role.LIGHTING_RELAY for pt in z.points)],
        equipment=[output("equipment", e.id, e.name) for e in p.site.equipment])


@operation("GET", "/api/lighting", "Public lighting: each cabinet's state and why, its night "
           "as the engine programmes it, the order in force and its agenda entries ahead",
           answer=LightingOut)
def lighting() -> LightingOut:
    return LightingOut(cabinets=[CabinetLightingOut(
        id=view.cabinet.id, name=view.cabinet.name,
        status=None if view.status is None else OutputStatusOut.model_validate(view.status),
        night=None if view.night is None else NightOut.model_validate(view.night),
        order=view.order, applied=applied(view.status, view.order),
        entries=[_agenda_item(e, s) for e, s in view.entries]) for view in cabinet_views()])


@operation("POST", "/api/lighting/{cabinet}/order",
           "The mayor's immediate on or off of a cabinet, until a time or for some minutes "
           "(a week at most); it replaces an order in force", answer=Override,
           role=UserRole.OPERATOR, ok=201, body=OrderIn,
           example={"on": True, "minutes": 120, "why": "accident rue de la gare"})
def order_cabinet(cabinet: str, body: OrderIn) -> Override:
    p = panel()
    order_id = p.order_cabinet(cabinet, body.on, _until(body), who=_who(), why=body.why)
    return p.store.overrides.get(order_id)


@operation("DELETE", "/api/lighting/{cabinet}/order",
           "End the order in force on a cabinet: its timetable applies again",
           answer=Override, role=UserRole.OPERATOR, body=CancelIn, body_required=False,
           conflicts=True, example={"why": "rue dégagée"})
def cancel_cabinet_order(cabinet: str, body: CancelIn) -> Override:
    p = panel()
    order = p.cabinet_order(p.cabinet(cabinet))
    p.cancel_cabinet_order(cabinet, who=_who(), why=body.why,
                           default=Reason.of("api.order_cancelled"))
    assert order is not None  # cancel_cabinet_order refuses a cabinet without one
    return p.store.overrides.get(order.id)


@operation("POST", "/api/lighting/{cabinet}/entries",
           "Force a cabinet's lights on or off for a while (a market, fireworks; 31 days "
           "at most)", answer=AgendaItem, role=UserRole.OPERATOR, ok=201,
           body=LightingEntryIn,
           example={"kind": "lights_on", "label": "Marché de Noël",
                    "start": "2026-12-12T16:00:00", "end": "2026-12-13T01:00:00"})
def add_lighting_entry(cabinet: str, body: LightingEntryIn) -> AgendaItem:
    entry_id = panel().add_lighting_entry(cabinet, body.kind, body.label, body.start,
                                          body.end, who=_who())
    return _stored_item(entry_id)


@operation("DELETE", "/api/lighting/entries/{entry_id}",
           "Remove a lighting entry added by the panel or the API", answer=AgendaItem,
           role=UserRole.OPERATOR)
def remove_lighting_entry(entry_id: int) -> AgendaItem:
    removed = panel().remove_agenda_entry(entry_id, who=_who(), kinds=LIGHTING_KINDS)
    return _agenda_item(removed.entry, removed)


@operation("GET", "/api/programmes/{building}/{zone}",
           "A zone's weekly programme as the engine applies it, and its exceptions ahead",
           answer=ProgrammeOut)
def programme(building: str, zone: str) -> ProgrammeOut:
    return _programme(building, zone)


@operation("PUT", "/api/programmes/{building}/{zone}",
           "Save a new version of a zone's weekly programme (refused whole when a period is "
           "wrong); the engine applies it at its next tick", answer=ProgrammeOut,
           role=UserRole.OPERATOR, body=ProgrammeIn,
           example={"week": {"mon": ["08:30-12:00", "13:30-17:30"], "tue": ["08:30-12:00"]},
                    "why": "horaires d'hiver"})
def save_programme(building: str, zone: str, body: ProgrammeIn) -> ProgrammeOut:
    week = {str(day): periods for day, periods in body.week.items()}
    panel().save_programme(building, zone, week, who=_who(), why=body.why)
    return _programme(building, zone)


@operation("POST", "/api/programmes/{building}/{zone}/exceptions",
           "Add an event, a closure or special days to a zone or its whole building",
           answer=AgendaItem, role=UserRole.OPERATOR, ok=201, body=ExceptionIn,
           example={"kind": "event", "label": "Conseil municipal",
                    "start": "2026-12-15T19:00:00", "end": "2026-12-15T22:00:00"})
def add_exception(building: str, zone: str, body: ExceptionIn) -> AgendaItem:
    entry_id = panel().add_exception(
        building, zone, body.kind, body.label, whole_building=body.whole_building,
        who=_who(), start=body.start, end=body.end, first=body.first, last=body.last,
        periods=body.periods)
    return _stored_item(entry_id)


@operation("DELETE", "/api/exceptions/{entry_id}",
           "Remove an exception added by the panel or the API", answer=AgendaItem,
           role=UserRole.OPERATOR)
def remove_exception(entry_id: int) -> AgendaItem:
    removed = panel().remove_agenda_entry(entry_id, who=_who(),
                                          kinds=EXCEPTION_KINDS)
    return _agenda_item(removed.entry, removed)
