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
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NaiveDatetime,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import ErrorDetails, PydanticCustomError

from gtb.model.calendar import AgendaEntry
from gtb.store.audit import Alarm, Event
from gtb.store.control import Override
from gtb.texts import Reason
from web import limits
from web.panel import ActionError
from web.timetables import MAX_PERIODS, OVERRIDE_DAYS

MAX_OVERRIDE_MINUTES = OVERRIDE_DAYS * 24 * 60
"""The panel refuses an override longer than this."""
MAX_LIMIT = 1000


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


Utc = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A moment, answered in UTC (``2026-01-12T09:00:00Z``)."""


def _within_years(moment: datetime) -> datetime:
    if not limits.within_years(moment):
        raise PydanticCustomError("years", "a date between {first} and {last}",
                                  {"first": limits.FIRST_YEAR, "last": limits.LAST_YEAR})
    return moment


Moment = Annotated[AwareDatetime, AfterValidator(_within_years)]
"""A moment a person asks for: the panel's forms take the same years (``web.limits``)."""

Why = Annotated[str, Field(max_length=limits.REASON, description="kept in the audit log")]

# -- requests ------------------------------------------------------------------------------


class Body(BaseModel):
    """A request body: unknown fields and wrong types are refused, never guessed."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """A query string: values are text, so numbers and times are parsed from it; unknown
    parameters are refused."""

    model_config = ConfigDict(extra="forbid")


class UntilOrMinutes(Body):
    """A request for something that lasts: until a moment, or for some minutes."""

    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": ["until"]}, {"required": ["minutes"]}]})

    until: AwareDatetime | SkipJsonSchema[None] = Field(
        default=None, description="end, ISO 8601 with an offset; or give minutes")
    # The bounds go on the int alone: on the union, pydantic would test them on None.
    minutes: Annotated[int, Field(ge=1, le=MAX_OVERRIDE_MINUTES)] | SkipJsonSchema[None] = (
        Field(default=None, description="duration from now"))

    @model_validator(mode="after")
    def _one_end(self) -> UntilOrMinutes:
        if (self.until is None) == (self.minutes is None):
            raise PydanticCustomError("until_or_minutes", "give either until or minutes")
        return self


class OverrideIn(UntilOrMinutes):
    value: float = Field(allow_inf_nan=False,
                         description="setpoint in °C, within the zone's bounds")
    why: Why


class OrderIn(UntilOrMinutes):
    """The mayor's immediate on or off of a cabinet (a week at most)."""

    on: bool = Field(description="true: lit; false: dark")
    why: Why


WALL_CLOCK_SCHEMA = {
    "type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$",
    "description": "the site's local time, without offset, as the agenda writes it "
                   "(2026-12-12T16:00:00)"}
WallClock = Annotated[NaiveDatetime, WithJsonSchema(WALL_CLOCK_SCHEMA)]
"""A wall-clock time: JSON Schema's date-time needs an offset, which the agenda has not."""
Label = Annotated[str, Field(min_length=1, max_length=limits.LABEL,
                             description="shown to people")]
PeriodText = Annotated[str, Field(max_length=limits.PERIOD, description="HH:MM-HH:MM")]
Periods = Annotated[list[PeriodText], Field(max_length=MAX_PERIODS)]
"""A day's occupied periods, as many as a day may have."""


class LightingEntryIn(Body):
    """Lights forced on or off on a cabinet for a while (31 days at most)."""

    kind: Literal["lights_on", "lights_off"]
    label: Label
    start: WallClock
    end: WallClock


class ExceptionIn(Body):
    """An event (occupied) or a closure (unoccupied) from start to end, or special days
    (their periods instead of the programme's; none: closed) from first to last."""

    kind: Literal["event", "closure", "day"]
    label: Label
    whole_building: bool = Field(default=False, description="false: this zone only")
    start: WallClock | SkipJsonSchema[None] = Field(default=None, description="event, closure")
    end: WallClock | SkipJsonSchema[None] = Field(default=None, description="event, closure")
    first: date | SkipJsonSchema[None] = Field(default=None, description="day")
    last: date | SkipJsonSchema[None] = Field(default=None, description="day; default first")
    periods: Periods = Field(default=[], description="day: HH:MM-HH:MM each")


class ProgrammeIn(Body):
    """A zone's weekly programme: each day's occupied periods, HH:MM-HH:MM; a day left out
    or empty is unoccupied."""

    week: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], Periods]
    why: Why = ""


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
    since: Moment | SkipJsonSchema[None] = Field(default=None, description="ts >= since")
    until: Moment | SkipJsonSchema[None] = Field(default=None, description="ts < until")
    kind: str | SkipJsonSchema[None] = Field(default=None, max_length=limits.FILTER)
    actor: str | SkipJsonSchema[None] = Field(default=None, max_length=limits.FILTER)
    building: str | SkipJsonSchema[None] = Field(default=None, max_length=limits.FILTER)
    zone: str | SkipJsonSchema[None] = Field(default=None, max_length=limits.FILTER)
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
    elif kind == "years":
        fr = f"il faut une date entre {ctx.get('first')} et {ctx.get('last')}"
        en = f"expected a date between {ctx.get('first')} and {ctx.get('last')}"
    elif kind == "too_long":
        fr = f"au plus {ctx.get('max_length')} éléments"
        en = f"at most {ctx.get('max_length')} items"
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
    """A reason for people, in French and English, and what lies behind it."""

    model_config = ConfigDict(from_attributes=True)

    fr: str
    en: str
    details: Text | SkipJsonSchema[None] = Field(
        default=None, exclude_if=lambda value: value is None,
        description="what lies behind the sentence (the model, the days, the estimate, the "
        "outdoor temperature, the margin), shown on demand; absent when nothing does")

    @model_validator(mode="before")
    @classmethod
    def _of_reason(cls, value: Any) -> Any:
        if isinstance(value, Reason):
            detail = value.params.get("detail")
            return {"fr": value.fr, "en": value.en,
                    "details": detail if isinstance(detail, Reason) else None}
        return value


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
    """What the engine said of the zone at its last tick (``gtb.store.status.ZoneStatus``)."""

    model_config = ConfigDict(from_attributes=True)

    at: Utc
    temperature: float | None = Field(default=None, description="°C")
    quality: str | None = None
    level: str | None = Field(default=None, description="the level the engine decided "
                              "(comfort, reduced, frost_protection, off), the programme's "
                              "also while an override holds the setpoint")
    mode: str | None = Field(default=None, description="the mode people read: override "
                             "while a person's override holds the setpoint, else the level")
    setpoint: float | None = Field(default=None, description="°C, the one written")
    reason: Text | None = None
    source: str | None = None
    actor: str | None = None
    degraded: bool | None = None
    occupied: bool | None = Field(default=None, description="what the presence detector "
                                  "says; null: no detector, or no reading")
    learning: bool | None = None
    next_arrival: Utc | None = Field(
        default=None, description="start of the next occupied period the engine expects, "
        "or of the one under way (then before ``at``)")
    next_arrival_end: Utc | None = Field(default=None,
                                         description="when that period is expected to end")
    next_arrival_reason: Text | None = None
    period_end: Utc | None = None
    held_by_priority: int | None = Field(
        default=None, description="a local command at this BACnet priority, above the "
        "engine's, holds the setpoint or mode: the engine stands back until it is "
        "relinquished; null: nobody")
    forecast: Literal["forecast", "persistence"] | None = Field(
        default=None, description="where the outdoor temperature to come is taken from: "
        "the weather service's forecast, or persistence (the outdoor temperature now, "
        "held); null: no outdoor reading")
    waiting: Text | None = Field(
        default=None, description="the setpoint sent and not yet reported applied by the "
        "device (a LoRaWAN valve's, until its uplink after next): what was sent, when, and "
        "when the report is expected; null: nothing waits")


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
    """What the engine said of the output at its last tick (``gtb.store.status.OutputStatus``)."""

    model_config = ConfigDict(from_attributes=True)

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


class AgendaEntryOut(BaseModel):
    """An agenda entry as the site file or the panel wrote it
    (``gtb.model.calendar.AgendaEntry``)."""

    kind: str = Field(description="event, closure, day, lights_on, lights_off")
    label: str
    scope: list[str] = Field(description="building ids, building.zone keys or cabinet ids; "
                                         "empty: the whole site")
    start: WallClock | None = Field(description="event, closure, lighting")
    end: WallClock | None = Field(description="event, closure, lighting")
    first: date | None = Field(description="day")
    last: date | None = Field(description="day")
    periods: list[str] = Field(description="day: HH:MM-HH:MM each; none: closed")


class AgendaItem(BaseModel):
    """An agenda entry not yet ended: the site file's (id null: not removable by the API)
    or one added by the panel or the API."""

    id: int | None
    added_by: str | None
    entry: AgendaEntryOut

    @classmethod
    def of(cls, entry: AgendaEntry, entry_id: int | None, added_by: str | None) -> AgendaItem:
        return cls(id=entry_id, added_by=added_by,
                   entry=AgendaEntryOut.model_validate(entry.model_dump()))


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    start: Utc
    end: Utc
    level: float = Field(description="% of full power; 0: off")
    reason: Text


class NightOut(BaseModel):
    """The cabinet's programmed night as the engine published it (without the agenda and
    orders), from its first switch-on to its last switch-off."""

    model_config = ConfigDict(from_attributes=True)

    night: date
    sunset: Utc
    sunrise: Utc
    steps: list[StepOut]


class CabinetLightingOut(BaseModel):
    id: str
    name: str
    status: OutputStatusOut | None = Field(description="null until the engine has ticked")
    night: NightOut | None = Field(description="null until the engine has published it")
    order: Override | None = Field(description="the immediate order in force")
    applied: bool | None = Field(
        description="whether the engine applies the order; null without one")
    entries: list[AgendaItem] = Field(description="lighting entries ahead for this cabinet")


class LightingOut(BaseModel):
    cabinets: list[CabinetLightingOut]


class ProgrammeOut(BaseModel):
    zone: str = Field(description="building.zone")
    week: dict[str, list[str]] = Field(description="each day's periods, mon … sun")
    version: int | None = Field(description="null: the site file's programme")
    saved_by: str | None
    saved_at: Utc | None
    exceptions: list[AgendaItem] = Field(
        description="events, closures and special days ahead for this zone")
