"""What the JSON API accepts and answers, as pydantic models (and the store's own
dataclasses for overrides, alarms and audit events): the views validate requests with them
and build answers through them, and ``web.openapi`` publishes their JSON schemas, so the
description cannot drift from what the API does. ``validated`` says what is wrong with a
request, field by field, in French and English.

Requests are strict (``extra="forbid"``, no type coercion in bodies); times are ISO 8601
with an offset, answered in UTC; temperatures in °C.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import ErrorDetails, PydanticCustomError

from gtb.store import Alarm, Event, Override
from web.panel import ActionError

MAX_OVERRIDE_MINUTES = 31 * 24 * 60
"""The panel refuses an override longer than 31 days."""
MAX_LIMIT = 1000


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


Utc = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A moment, answered in UTC (``2026-01-12T09:00:00Z``)."""

Why = Annotated[str, Field(max_length=500, description="kept in the audit log")]

# -- requests ------------------------------------------------------------------------------


class Body(BaseModel):
    """A request body: unknown fields and wrong types are refused, never guessed."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """A query string: values are text, so numbers and times are parsed from it; unknown
    parameters are refused."""

    model_config = ConfigDict(extra="forbid")


class OverrideIn(Body):
    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": ["until"]}, {"required": ["minutes"]}]})

    value: float = Field(allow_inf_nan=False,
                         description="setpoint in °C, within the zone's bounds")
    until: AwareDatetime | SkipJsonSchema[None] = Field(
        default=None, description="end, ISO 8601 with an offset; or give minutes")
    # The bounds go on the int alone: on the union, pydantic would test them on None.
    minutes: Annotated[int, Field(ge=1, le=MAX_OVERRIDE_MINUTES)] | SkipJsonSchema[None] = (
        Field(default=None, description="duration from now"))
    why: Why

    @model_validator(mode="after")
    def _one_end(self) -> OverrideIn:
        if (self.until is None) == (self.minutes is None):
            raise PydanticCustomError("until_or_minutes", "give either until or minutes")
        return self


class CancelIn(Body):
    why: Why = ""


class LearningIn(Body):
    enabled: bool


class SeriesQuery(Query):
    range: Literal["48h", "7d"] = "48h"


class AlarmsQuery(Query):
    state: Literal["active", "all"] = Field(
        default="active", description="active: not cleared yet; all: the history too")
    limit: int = Field(default=100, ge=1, le=MAX_LIMIT, description="with state=all")


class EventsQuery(Query):
    since: AwareDatetime | SkipJsonSchema[None] = Field(default=None, description="ts >= since")
    until: AwareDatetime | SkipJsonSchema[None] = Field(default=None, description="ts < until")
    kind: str | SkipJsonSchema[None] = Field(default=None, max_length=100)
    actor: str | SkipJsonSchema[None] = Field(default=None, max_length=100)
    building: str | SkipJsonSchema[None] = Field(default=None, max_length=100)
    zone: str | SkipJsonSchema[None] = Field(default=None, max_length=100)
    limit: int = Field(default=100, ge=1, le=MAX_LIMIT)


# -- refusals ------------------------------------------------------------------------------

NOT_AN_OBJECT = ("Le corps de la requête doit être un objet JSON.",
                 "The request body must be a JSON object.")

_M = TypeVar("_M", bound=BaseModel)

_MOMENT = ("une date et heure ISO 8601 avec décalage (2026-01-12T09:00:00+01:00)",
           "an ISO 8601 date and time with an offset (2026-01-12T09:00:00+01:00)")
EXPECTED = {
    "float": ("un nombre", "a number"),
    "finite": ("un nombre fini", "a finite number"),
    "int": ("un entier", "an integer"),
    "bool": ("true ou false", "true or false"),
    "string": ("un texte", "a text"),
    "datetime": _MOMENT,
    "timezone": _MOMENT,
}
"""What a field of each type expects, by the first word of pydantic's error type."""


def validated(model: type[_M], data: Mapping[str, Any] | str | bytes) -> _M:
    """``data`` (a JSON text, or a query string's values) as ``model``; else an
    ``ActionError`` (400) that names each wrong field, in French and English."""
    try:
        if isinstance(data, str | bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        said: dict[str, tuple[str, str]] = {}
        # One error per field; null is never a documented value (an absent field is).
        for error in exc.errors(include_url=False):
            field = str(error["loc"][0]) if error["loc"] else ""
            if error["type"] != "none_required" and field not in said:
                said[field] = _explain(error)
        raise ActionError(" ; ".join(f for f, _ in said.values()),
                          "; ".join(e for _, e in said.values())) from None


def _explain(error: ErrorDetails) -> tuple[str, str]:
    """One pydantic error in French and English, naming the field."""
    kind, ctx = error["type"], error.get("ctx", {})
    field = str(error["loc"][0]) if error["loc"] else ""
    if kind == "json_invalid":
        return (f"JSON mal formé : {ctx.get('error')}", f"Malformed JSON: {ctx.get('error')}")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return NOT_AN_OBJECT
    if kind == "until_or_minutes":
        return ("Donnez soit until (la fin), soit minutes (la durée).",
                "Give either until (the end) or minutes (the duration).")
    if kind == "extra_forbidden":
        fr, en = "champ inconnu", "unknown field"
    elif kind == "missing":
        fr, en = "champ manquant", "missing field"
    elif kind in ("greater_than_equal", "less_than_equal"):
        low = kind == "greater_than_equal"
        bound = ctx.get("ge" if low else "le")
        fr, en = (f"au moins {bound}", f"at least {bound}") if low else \
                 (f"au plus {bound}", f"at most {bound}")
    elif kind == "string_too_long":
        fr = f"au plus {ctx.get('max_length')} caractères"
        en = f"at most {ctx.get('max_length')} characters"
    elif kind == "literal_error":
        fr, en = f"attendu : {ctx.get('expected')}", f"expected {ctx.get('expected')}"
    elif kind.split("_")[0] in EXPECTED:
        fr, en = EXPECTED[kind.split("_")[0]]
        fr, en = f"il faut {fr}", f"expected {en}"
    else:
        fr, en = f"valeur refusée ({error['msg']})", error["msg"]
    return f"{field} : {fr}", f"{field}: {en}"


# -- answers -------------------------------------------------------------------------------


class Text(BaseModel):
    """A reason for people, in French and English."""

    fr: str
    en: str


class ErrorOut(BaseModel):
    error: str = Field(description="in the language of Accept-Language (French by default)")
    error_en: str | SkipJsonSchema[None] = Field(
        default=None, description="the English, when error is in French")


class Bounds(BaseModel):
    frost_floor: float = Field(description="°C, the lowest setpoint ever written")
    setpoint_ceiling: float = Field(description="°C, the highest setpoint ever written")


class PointOut(BaseModel):
    key: str
    role: str
    unit: str


class ZoneInfo(BaseModel):
    id: str
    key: str = Field(description="building.zone")
    name: str
    bounds: Bounds
    points: list[PointOut]


class BuildingOut(BaseModel):
    id: str
    name: str
    use: str
    zones: list[ZoneInfo]


class CabinetOut(BaseModel):
    id: str
    name: str
    category: str
    power_kw: float


class EquipmentOut(BaseModel):
    id: str
    name: str
    building: str | None


class SiteOut(BaseModel):
    id: str
    name: str
    timezone: str
    buildings: list[BuildingOut]
    cabinets: list[CabinetOut]
    equipment: list[EquipmentOut]



class ZoneStatusOut(BaseModel):
    """What the engine said of the zone at its last tick."""

    at: Utc
    temperature: float | None = Field(default=None, description="°C")
    quality: str | None = None
    level: str | None = None
    setpoint: float | None = Field(default=None, description="°C, the one written")
    reason: Text | None = None
    source: str | None = None
    actor: str | None = None
    degraded: bool | None = None
    occupied: float | None = None
    learning: bool | None = None
    next_arrival: Utc | None = Field(
        default=None, description="start of the next occupied period the engine expects, "
        "or of the one under way (then before ``at``)")
    next_arrival_end: Utc | None = Field(default=None,
                                         description="when that period is expected to end")
    next_arrival_reason: Text | None = None
    period_end: Utc | None = None


class ZoneOut(BaseModel):
    key: str
    building: str
    zone: str
    name: str
    building_name: str
    bounds: Bounds
    learning: bool = Field(description="whether the zone may learn (switch in the store)")
    status: ZoneStatusOut | None = Field(description="null until the engine has ticked")
    override: Override | None = Field(description="the override in force")
    applied: bool | None = Field(
        description="whether the engine applies the override; null without one")


class ZonesOut(BaseModel):
    zones: list[ZoneOut]


class SamplePoint(BaseModel):
    t: Utc
    value: float | None
    quality: str


class Curve(BaseModel):
    point: str
    unit: str
    samples: list[SamplePoint]


class SeriesOut(BaseModel):
    zone: str
    range: str
    start: Utc
    end: Utc
    curves: dict[str, Curve] = Field(
        description="temperature, setpoint, occupancy, heating (valve): those the zone has")


class AlarmsOut(BaseModel):
    alarms: list[Alarm]


class EventsOut(BaseModel):
    events: list[Event]


class OutputStatusOut(BaseModel):
    at: Utc
    on: bool
    level: float | None = Field(description="% of full power, for a dimmed cabinet")
    reason: Text


class OutputOut(BaseModel):
    key: str = Field(description="cabinet or equipment id; building.zone for a circuit")
    name: str
    status: OutputStatusOut | None = Field(description="null until the engine has ticked")


class OutputsOut(BaseModel):
    cabinets: list[OutputOut]
    circuits: list[OutputOut]
    equipment: list[OutputOut]
