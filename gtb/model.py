"""The vocabulary every part of the engine speaks: a site, its buildings, zones and points.

A site file (YAML, see ``gtb.config``) is validated into these pydantic models. They are
immutable once loaded; everything else in the engine refers to points by their dotted
``key`` (``building.zone.point``, ``building.point`` or ``cabinet.point``), which is also
the ``point`` tag in InfluxDB.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from gtb.texts import Reason


class Model(BaseModel):
    """Base of every site-file model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


Identifier = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        max_length=40,
        description="lower-case letters, digits, '-' and '_'; used in point keys and tags",
    ),
]


class Role(StrEnum):
    """What a point means to the engine: this decides where it may stand and who writes it."""

    ZONE_TEMPERATURE = "zone_temperature"
    HEATING_SETPOINT = "heating_setpoint"
    HEATING_MODE = "heating_mode"
    VALVE = "valve"
    OCCUPANCY = "occupancy"
    CO2 = "co2"
    LIGHTING_RELAY = "lighting_relay"
    PLANT_ENABLE = "plant_enable"
    OUTDOOR_TEMPERATURE = "outdoor_temperature"
    ENERGY_METER = "energy_meter"
    POWER = "power"
    CABINET_RELAY = "cabinet_relay"
    DIMMING_LEVEL = "dimming_level"
    EQUIPMENT_RELAY = "equipment_relay"
    MEASUREMENT = "measurement"


@dataclass(frozen=True)
class RoleInfo:
    """Defaults and constraints of a role: its unit, physical range and kind of value."""

    unit: str
    low: float
    high: float
    kind: Literal["analog", "binary", "multistate"]
    writable: bool


ROLES: dict[Role, RoleInfo] = {
    Role.ZONE_TEMPERATURE: RoleInfo("°C", -30.0, 60.0, "analog", False),
    Role.HEATING_SETPOINT: RoleInfo("°C", 0.0, 35.0, "analog", True),
    Role.HEATING_MODE: RoleInfo("", 1.0, 4.0, "multistate", True),
    Role.VALVE: RoleInfo("%", 0.0, 100.0, "analog", False),
    Role.OCCUPANCY: RoleInfo("", 0.0, 1.0, "binary", False),
    Role.CO2: RoleInfo("ppm", 300.0, 10000.0, "analog", False),
    Role.LIGHTING_RELAY: RoleInfo("", 0.0, 1.0, "binary", True),
    Role.PLANT_ENABLE: RoleInfo("", 0.0, 1.0, "binary", True),
    Role.OUTDOOR_TEMPERATURE: RoleInfo("°C", -40.0, 50.0, "analog", False),
    Role.ENERGY_METER: RoleInfo("kWh", 0.0, 1e9, "analog", False),
    Role.POWER: RoleInfo("kW", 0.0, 1e5, "analog", False),
    Role.CABINET_RELAY: RoleInfo("", 0.0, 1.0, "binary", True),
    Role.DIMMING_LEVEL: RoleInfo("%", 0.0, 100.0, "analog", True),
    Role.EQUIPMENT_RELAY: RoleInfo("", 0.0, 1.0, "binary", True),
    Role.MEASUREMENT: RoleInfo("", -1e6, 1e6, "analog", False),
}

class Quality(StrEnum):
    """How far a reading can be trusted; only ``ok`` samples feed rollups and decisions."""

    OK = "ok"
    STALE = "stale"
    FAILED = "failed"


Source = Literal["controller", "override", "safety"]
"""Who decided a command: a controller, a person's override (or order), or the safety
bounds that clamped what either asked."""


class Severity(StrEnum):
    """How urgent an alarm is: critical when comfort or equipment is at risk."""

    WARNING = "warning"
    CRITICAL = "critical"


class HeatingLevel(StrEnum):
    """The four modes of décret 2023-444: comfort, reduced, frost protection and off."""

    COMFORT = "comfort"
    REDUCED = "reduced"
    FROST_PROTECTION = "frost_protection"
    OFF = "off"

    @property
    def label(self) -> Reason:
        return Reason.of(f"level.{self.value}")

HEATING_MODES = dict(enumerate(HeatingLevel, start=1))
"""States of a ``heating_mode`` multi-state point (BACnet multi-state values count from 1)."""
MODE_OF_LEVEL = {level: float(state) for state, level in HEATING_MODES.items()}
"""The state a ``heating_mode`` point takes for each level."""


def zone_mode_key(zone_key: str) -> str:
    """The store key of the level the engine decided for a zone (``mairie.accueil:mode``),
    recorded each tick as ``MODE_OF_LEVEL``: the hours in each mode come from it. The colon
    keeps it apart from the site's own points, whose ids cannot contain one."""
    return f"{zone_key}:mode"

ZONE_ROLES = frozenset(
    {
        Role.ZONE_TEMPERATURE,
        Role.HEATING_SETPOINT,
        Role.HEATING_MODE,
        Role.VALVE,
        Role.OCCUPANCY,
        Role.CO2,
        Role.LIGHTING_RELAY,
        Role.ENERGY_METER,
        Role.POWER,
        Role.MEASUREMENT,
    }
)
BUILDING_ROLES = frozenset(
    {Role.PLANT_ENABLE, Role.OUTDOOR_TEMPERATURE, Role.ENERGY_METER, Role.POWER,
     Role.MEASUREMENT}
)
CABINET_ROLES = frozenset({Role.CABINET_RELAY, Role.DIMMING_LEVEL, Role.ENERGY_METER, Role.POWER,
                           Role.MEASUREMENT})
EQUIPMENT_ROLES = frozenset({Role.EQUIPMENT_RELAY, Role.MEASUREMENT})


# --- protocol bindings -------------------------------------------------------------------

BacnetObjectType = Literal[
    "analogInput",
    "analogOutput",
    "analogValue",
    "binaryInput",
    "binaryOutput",
    "binaryValue",
    "multiStateInput",
    "multiStateOutput",
    "multiStateValue",
]
COMMANDABLE_BACNET_TYPES = frozenset(
    {"analogOutput", "analogValue", "binaryOutput", "binaryValue", "multiStateOutput",
     "multiStateValue"}
)

_HOST_PORT = re.compile(r"^(?P<host>[^:\s]+):(?P<port>\d{1,5})$")


class BacnetBinding(Model):
    """Where a point lives on a BACnet/IP device."""

    protocol: Literal["bacnet"]
    address: str = Field(description="IP:port of the device, e.g. 127.0.0.1:47809")
    device_instance: int = Field(ge=0, le=4194302)
    object_type: BacnetObjectType
    object_instance: int = Field(ge=0, le=4194302)
    object_property: Literal["presentValue"] = Field(default="presentValue", alias="property")
    priority: int = Field(
        default=10,
        ge=1,
        le=16,
        description="write priority; 10 leaves 1-9 to life safety, equipment and operators",
    )

    @field_validator("address")
    @classmethod
    def _address_has_port(cls, value: str) -> str:
        match = _HOST_PORT.match(value)
        if not match or not 0 < int(match["port"]) < 65536:
            raise ValueError(f"address must be IP:port (e.g. 127.0.0.1:47809), not {value!r}")
        return value

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    @property
    def endpoint(self) -> tuple[str, str, int]:
        """One BACnet device: points with the same endpoint are served and read together."""
        return ("bacnet", self.address, self.device_instance)

    @property
    def commandable(self) -> bool:
        return self.object_type in COMMANDABLE_BACNET_TYPES


ModbusTable = Literal["coil", "discrete_input", "input_register", "holding_register"]
ModbusDataType = Literal["bool", "int16", "uint16", "int32", "uint32", "float32"]
REGISTER_WIDTH: dict[str, int] = {
    "bool": 1, "int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2,
}


class ModbusBinding(Model):
    """Where a point lives on a Modbus TCP server, and how its raw value becomes SI units.

    ``value = raw * scale + offset``, and the reverse when writing.
    """

    protocol: Literal["modbus"]
    host: str
    port: int = Field(default=502, gt=0, lt=65536)
    unit: int = Field(default=1, ge=0, le=247, description="Modbus unit (device) id")
    table: ModbusTable
    address: int = Field(ge=0, le=65535, description="0-based register or coil address")
    data_type: ModbusDataType = "uint16"
    word_order: Literal["big", "little"] = Field(
        default="big", description="for 32-bit types: which register holds the high word"
    )
    scale: float = 1.0
    offset: float = 0.0

    @model_validator(mode="after")
    def _type_fits_table(self) -> ModbusBinding:
        bit_table = self.table in ("coil", "discrete_input")
        if bit_table != (self.data_type == "bool"):
            raise ValueError(
                f"data_type {self.data_type} does not fit table {self.table}: coils and "
                "discrete inputs hold bool, registers hold numbers"
            )
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        if self.address + REGISTER_WIDTH[self.data_type] - 1 > 65535:
            raise ValueError(f"{self.data_type} at {self.address} runs past register 65535")
        return self

    @property
    def endpoint(self) -> tuple[str, str, int]:
        """One Modbus server: points with the same endpoint are served and read together."""
        return ("modbus", f"{self.host}:{self.port}", self.unit)

    @property
    def width(self) -> int:
        return REGISTER_WIDTH[self.data_type]

    @property
    def writable(self) -> bool:
        return self.table in ("coil", "holding_register")


_BACNET_KIND_PREFIX = {"analog": "analog", "binary": "binary", "multistate": "multiState"}
_MODBUS_TYPES_UNFIT_FOR: dict[str, frozenset[str]] = {
    "analog": frozenset({"bool"}),
    "binary": frozenset(),  # a coil, or a register holding 0 or 1
    "multistate": frozenset({"bool", "float32"}),
}

Binding = Annotated[BacnetBinding | ModbusBinding, Field(discriminator="protocol")]


# --- points, zones, buildings --------------------------------------------------------------

MeterKind = Literal["heating", "lighting", "electricity", "gas", "water"]


class Watch(Model):
    """Alarm thresholds on an analog point (CO2 in a classroom, a river's level, a plant
    room close to freezing).

    ``high`` and ``low`` raise a warning, ``high_high`` and ``low_low`` a critical alarm,
    once the value has stayed past them for ``delay_s``; the alarm ends when the value is
    back inside by ``hysteresis`` (a CO2 alarm at 800 ppm with 50 of hysteresis ends at
    750 ppm or below).
    """

    high: float | None = Field(default=None, allow_inf_nan=False)
    high_high: float | None = Field(default=None, allow_inf_nan=False)
    low: float | None = Field(default=None, allow_inf_nan=False)
    low_low: float | None = Field(default=None, allow_inf_nan=False)
    hysteresis: float = Field(default=0.0, ge=0, description="in the point's unit")
    delay_s: float = Field(default=0.0, ge=0, le=86400, description="how long past a threshold")
    label: str | None = Field(default=None, max_length=120,
                              description="what the alarm says is wrong, e.g. « Air à renouveler »")

    @model_validator(mode="after")
    def _ordered(self) -> Watch:
        given = self.thresholds()
        if not given:
            raise ValueError("a watch needs at least one of low_low, low, high, high_high")
        for (lo_name, lo), (hi_name, hi) in itertools.pairwise(given):
            if lo >= hi:
                raise ValueError(f"{lo_name} ({lo}) must be below {hi_name} ({hi})")
            if self.hysteresis >= hi - lo:
                raise ValueError(f"hysteresis {self.hysteresis} must be smaller than the gap "
                                 f"between {lo_name} and {hi_name} ({hi - lo:g})")
        return self

    def thresholds(self) -> list[tuple[str, float]]:
        return [(name, value) for name in ("low_low", "low", "high", "high_high")
                if (value := getattr(self, name)) is not None]


class Point(Model):
    """One value the engine reads, and writes when its role is a command."""

    id: Identifier
    role: Role
    name: str | None = None
    unit: str | None = Field(default=None, description="defaults to the role's SI unit")
    range: tuple[float, float] | None = Field(
        default=None, description="physical range [low, high]; a value outside is a fault"
    )
    meter: MeterKind | None = Field(default=None, description="what an energy meter counts")
    watch: Watch | None = Field(default=None, description="alarm thresholds (analog points)")
    binding: Binding

    @model_validator(mode="after")
    def _consistent(self) -> Point:
        info = ROLES[self.role]
        if (self.role in (Role.ENERGY_METER, Role.POWER)) != (self.meter is not None):
            raise ValueError(
                "energy_meter and power points need `meter` (what they measure); others must "
                "not have it"
            )
        if self.watch is not None and info.kind != "analog":
            raise ValueError(f"role {self.role} is {info.kind}: only analog points can be watched")
        if self.watch is not None:
            low, high = self.range or (info.low, info.high)
            for name, value in self.watch.thresholds():
                if not low < value < high:
                    raise ValueError(f"watch.{name} {value:g} is outside the point's physical "
                                     f"range {low:g}..{high:g}: it could never be reached")
        if self.role is Role.MEASUREMENT and not self.unit:
            raise ValueError("a measurement point needs its `unit` (e.g. m, ppm, °C)")
        if self.range is not None and self.range[0] >= self.range[1]:
            raise ValueError(f"range low {self.range[0]} must be below high {self.range[1]}")
        binding = self.binding
        if isinstance(binding, BacnetBinding):
            if not binding.object_type.startswith(_BACNET_KIND_PREFIX[info.kind]):
                raise ValueError(
                    f"role {self.role} is {info.kind}; {binding.object_type} is not a "
                    f"{_BACNET_KIND_PREFIX[info.kind]}… object"
                )
        elif binding.data_type in _MODBUS_TYPES_UNFIT_FOR[info.kind]:
            raise ValueError(f"role {self.role} is {info.kind}; it cannot be a {binding.data_type}")
        if info.writable:
            writable = (
                binding.commandable if isinstance(binding, BacnetBinding) else binding.writable
            )
            if not writable:
                where = (
                    binding.object_type if isinstance(binding, BacnetBinding) else binding.table
                )
                raise ValueError(f"role {self.role} is a command but {where} cannot be written")
        return self

    @property
    def writable(self) -> bool:
        return ROLES[self.role].writable

    @property
    def physical_range(self) -> tuple[float, float]:
        if self.range is not None:
            return self.range
        info = ROLES[self.role]
        return (info.low, info.high)

    @property
    def si_unit(self) -> str:
        return self.unit if self.unit is not None else ROLES[self.role].unit


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PERIOD = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-(([01]\d|2[0-3]):([0-5]\d)|24:00)$")


@dataclass(frozen=True)
class Period:
    """An occupied period within one day, ``start`` included, ``end`` excluded."""

    start: time
    end: time | None  # None is midnight at the end of the day ("24:00")

    def __str__(self) -> str:
        end = "24:00" if self.end is None else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


@functools.cache
def parse_period(text: str) -> Period:
    """Parse ``"08:00-12:30"``; the end may be ``24:00``; the end must follow the start."""
    match = _PERIOD.match(text.strip())
    if not match:
        raise ValueError(f"period {text!r} is not HH:MM-HH:MM (e.g. 08:00-12:30)")
    start = time(int(match[1]), int(match[2]))
    end = None if match[3] == "24:00" else time(int(match[4]), int(match[5]))
    if end is not None and end <= start:
        raise ValueError(f"period {text!r} ends before it starts")
    return Period(start, end)


PeriodText = Annotated[str, AfterValidator(lambda text: str(parse_period(text)))]


def _sorted_periods(value: tuple[str, ...]) -> tuple[str, ...]:
    """One day's periods in order; two that overlap are an error."""
    periods = sorted((parse_period(text) for text in value), key=lambda p: p.start)
    for before, after in itertools.pairwise(periods):
        if before.end is None or after.start < before.end:
            raise ValueError(f"periods {before} and {after} overlap")
    return tuple(str(p) for p in periods)


class Programme(Model):
    """The official weekly programme: when a zone is meant to be occupied.

    Each day lists periods as ``"HH:MM-HH:MM"`` text; a day left out is unoccupied.
    """

    mon: tuple[PeriodText, ...] = ()
    tue: tuple[PeriodText, ...] = ()
    wed: tuple[PeriodText, ...] = ()
    thu: tuple[PeriodText, ...] = ()
    fri: tuple[PeriodText, ...] = ()
    sat: tuple[PeriodText, ...] = ()
    sun: tuple[PeriodText, ...] = ()

    @field_validator("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    @classmethod
    def _no_overlap(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _sorted_periods(value)

    def periods(self, weekday: int) -> tuple[Period, ...]:
        """Periods of a day, Monday being 0 as in ``date.weekday()``."""
        return tuple(parse_period(text) for text in getattr(self, WEEKDAYS[weekday]))


AgendaKind = Literal["event", "closure", "day", "lights_on", "lights_off"]
LIGHTING_KINDS = frozenset({"lights_on", "lights_off"})
_SCOPE = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)?$")


class AgendaEntry(Model):
    """One line of the agenda: an event, a closure or a day exception, for some zones.

    - ``event``: occupied from ``start`` to ``end`` (a council meeting, a Christmas fair);
    - ``closure``: unoccupied from ``start`` to ``end`` (an inventory, works);
    - ``day``: from ``first`` to ``last`` (inclusive, default ``first``) the day's periods
      are ``periods`` instead of the weekly programme's; none means closed those days;
    - ``lights_on``, ``lights_off``: public lighting forced on or off from ``start`` to
      ``end`` (a Christmas market, fireworks) for the cabinets of ``scope``, all when empty.

    ``start`` and ``end`` are wall-clock times of the site's zone, without offset, like
    the programme's periods. ``scope`` lists building ids or ``building.zone`` keys; empty,
    the entry applies to the whole site. Which entry wins where several apply is decided
    in ``controllers.schedule``: closure, then event, then day exception, then holidays,
    then the weekly programme.
    """

    kind: AgendaKind
    label: str = Field(min_length=1, max_length=120, description="shown to people")
    scope: tuple[str, ...] = Field(
        default=(), description="building ids or building.zone keys; empty: the whole site"
    )
    start: datetime | None = Field(default=None, description="event, closure: local time")
    end: datetime | None = Field(default=None, description="event, closure: local time")
    first: date | None = Field(default=None, description="day: first day")
    last: date | None = Field(default=None, description="day: last day, default first")
    periods: tuple[PeriodText, ...] = Field(default=(), description="day: HH:MM-HH:MM")

    @field_validator("label")
    @classmethod
    def _label_has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("label must not be blank")
        return value.strip()

    @field_validator("scope")
    @classmethod
    def _scope_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for key in value:
            if not _SCOPE.match(key):
                raise ValueError(f"scope item {key!r} is not a building id or building.zone")
        return value

    @field_validator("start", "end")
    @classmethod
    def _wall_clock(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError(
                f"{value.isoformat()} has an offset: write the site's local time without one "
                "(e.g. 2026-03-10 18:30)"
            )
        return value

    @field_validator("periods")
    @classmethod
    def _periods_apart(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _sorted_periods(value)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> AgendaEntry:
        if self.kind == "day":
            if self.start is not None or self.end is not None:
                raise ValueError("a day exception has first/last and periods, not start/end")
            if self.first is None:
                raise ValueError("a day exception needs `first` (and `last` for a range)")
            if self.last is not None and self.last < self.first:
                raise ValueError(f"last {self.last} is before first {self.first}")
            return self
        if self.first is not None or self.last is not None or self.periods:
            raise ValueError(f"{self.kind} entries have start and end, not first/last/periods")
        if self.start is None or self.end is None:
            raise ValueError(f"{self.kind} entries need `start` and `end`")
        if self.end <= self.start:
            raise ValueError(f"end {self.end:%Y-%m-%d %H:%M} is not after start "
                             f"{self.start:%Y-%m-%d %H:%M}")
        return self

    @property
    def last_day(self) -> date:
        """The last day the entry touches (for an event or closure, the day of its end)."""
        if self.kind == "day":
            assert self.first is not None
            return self.last or self.first
        assert self.end is not None
        return self.end.date()

    @property
    def first_day(self) -> date:
        if self.kind == "day":
            assert self.first is not None
            return self.first
        assert self.start is not None
        return self.start.date()

    def applies_to(self, building: str, zone: str) -> bool:
        """Whether the entry concerns this zone: listed, its building listed, or no scope.
        Lighting entries concern cabinets only."""
        if self.kind in LIGHTING_KINDS:
            return False
        return not self.scope or building in self.scope or f"{building}.{zone}" in self.scope

    def applies_to_cabinet(self, cabinet: str) -> bool:
        """Whether a lighting entry concerns this cabinet: listed, or no scope."""
        return self.kind in LIGHTING_KINDS and (not self.scope or cabinet in self.scope)

    def applies_to_equipment(self, equipment: str) -> bool:
        """Whether the entry concerns this equipment: it must name it (the whole site's
        events open buildings, they do not ring bells)."""
        return self.kind not in LIGHTING_KINDS and equipment in self.scope


class ComfortLevels(Model):
    """Setpoints by absence length (Code de l'énergie R241-26 and R241-27)."""

    comfort: float = Field(default=19.0, description="occupied")
    reduced: float = Field(default=16.0, description="unoccupied for 24 to 48 h, and nights")
    frost_protection: float = Field(default=8.0, description="unoccupied for more than 48 h")


class SafetyBounds(Model):
    """Limits nobody, person or algorithm, can write past."""

    frost_floor: float = Field(default=6.0, description="lowest setpoint ever written")
    setpoint_ceiling: float = Field(default=21.0, description="highest setpoint ever written")


class LearningTuning(Model):
    """The tuning of the learners (``controllers/``), each key within bounds that keep its
    algorithm sane; the defaults are the values the controllers were tuned with.

    As a zone's ``learning:`` section, only the keys written count: each replaces the
    site's (``LearningSettings.overridden_by``), so a heavy church can lengthen its
    pre-heat caps and keep the site's memory of days. What stays fixed is not here: the
    48 h of R241-27, the quarter-hour slots the stored days are made of, the horizons.
    """

    # How much history counts.
    history_weeks: int = Field(
        default=16, ge=2, le=52,
        description="weeks of presence days remembered (enough for three school-holiday "
        "Mondays)")
    half_life_days: float = Field(
        default=14.0, ge=1, le=365,
        description="days after which a past day weighs half: a change of habits is learned "
        "in two or three half-lives")
    thermal_window_days: int = Field(
        default=28, ge=3, le=120,
        description="days of temperatures a nightly refit uses: recent enough to follow the "
        "seasons")
    # How sure an arrival forecast must be.
    min_similar_days: int = Field(
        default=3, ge=2, le=20,
        description="past days of the same kind (weekday and type of day) needed before "
        "arrivals are learned; with fewer, the programme answers")
    min_confidence: float = Field(
        default=0.4, ge=0.1, le=0.9,
        description="share (0-1) under which a learned forecast is not trusted; a single odd "
        "day among two months of one weekday weighs about 0.3, two recent ones about 0.5")
    arrival_share: float = Field(
        default=0.9, ge=0.5, le=0.99,
        description="share (0-1) of similar days the learned period covers: warm before "
        "that share of their arrivals, and until that share of their departures")
    outlier_floor_minutes: float = Field(
        default=30.0, ge=15, le=240,
        description="arrivals within this many minutes of the median are never set aside "
        "as outliers")
    # The thermal fit.
    min_heated_hours: float = Field(
        default=12.0, ge=2, le=168,
        description="hours of heated steps (valve at 50 % or more) needed before a warm-up "
        "is learned: without them and the unheated ones, losses and gain cannot be told apart")
    min_unheated_hours: float = Field(
        default=12.0, ge=2, le=168,
        description="hours of unheated steps (valve at 10 % or less) needed likewise")
    min_warmup_rise_k: float = Field(
        default=1.0, ge=0.2, le=5,
        description="K: a run at full heat counts as a warm-up if it raised the air this much")
    min_warmups: int = Field(
        default=2, ge=2, le=20,
        description="warm-ups of a kind (normal, after a long absence) needed to learn their "
        "own gain; one morning is an anecdote")
    margin_sigmas: float = Field(
        default=1.2816, ge=0, le=3,
        description="margin on a learned warm-up, in standard deviations of the model's error "
        "on past warm-ups: 1.28 is late about one morning in ten, 1.64 one in twenty")
    # Pre-heat and early stop.
    min_margin_minutes: float = Field(
        default=20.0, ge=0, le=120,
        description="least margin added to a learned warm-up, whatever the model's error")
    max_preheat_hours: float = Field(
        default=3.0, ge=0.5, le=12,
        description="a learned pre-heat never starts earlier than this before an arrival")
    max_preheat_after_long_absence_hours: float = Field(
        default=12.0, ge=0.5, le=24,
        description="the same cap after more than 48 h away, from frost protection: a heavy "
        "building needs the night to come back")
    fixed_preheat_hours: float = Field(
        default=2.0, ge=0, le=12,
        description="the programme's fixed early start, while nothing is learned or learning "
        "is off")
    fixed_preheat_after_long_absence_hours: float = Field(
        default=4.0, ge=0, le=24,
        description="the fixed early start after more than 48 h without a period (Mondays, "
        "the end of holidays)")
    comfort_band_k: float = Field(
        default=0.5, ge=0, le=2,
        description="K below comfort a zone may coast to at the end of an occupied period "
        "(early stop)")
    surprise_tolerance: float = Field(
        default=0.05, ge=0, le=0.5,
        description="a learned absence of more than 48 h goes to frost protection only if "
        "similar days show at most this chance (0-1) of an unexpected visit; above it, reduced")


class LearningSettings(LearningTuning):
    """A complete and consistent tuning: the site's ``learning:`` section, or a zone's
    effective one (``Site.learning_of``), which the controllers take."""

    @model_validator(mode="after")
    def _consistent(self) -> LearningSettings:
        problems = [
            message for wrong, message in (
                (self.fixed_preheat_after_long_absence_hours < self.fixed_preheat_hours,
                 f"fixed_preheat_after_long_absence_hours "
                 f"({self.fixed_preheat_after_long_absence_hours:g}) must not be below "
                 f"fixed_preheat_hours ({self.fixed_preheat_hours:g}): a zone cold from a "
                 "long absence needs at least as long"),
                (self.max_preheat_after_long_absence_hours < self.max_preheat_hours,
                 f"max_preheat_after_long_absence_hours "
                 f"({self.max_preheat_after_long_absence_hours:g}) must not be below "
                 f"max_preheat_hours ({self.max_preheat_hours:g}): a zone cold from a long "
                 "absence needs at least as long"),
                (self.surprise_tolerance >= self.min_confidence,
                 f"surprise_tolerance ({self.surprise_tolerance:g}) must be below "
                 f"min_confidence ({self.min_confidence:g}): only days with a smaller chance "
                 "of a visit are skipped, so a larger tolerance could never be exceeded"),
                (self.history_weeks < self.min_similar_days,
                 f"history_weeks ({self.history_weeks}) must not be below min_similar_days "
                 f"({self.min_similar_days}): the history holds one day of each weekday a "
                 "week"),
                (self.min_heated_hours + self.min_unheated_hours > 24 * self.thermal_window_days,
                 f"min_heated_hours + min_unheated_hours "
                 f"({self.min_heated_hours + self.min_unheated_hours:g} h) must fit in "
                 f"thermal_window_days ({self.thermal_window_days} days), all a refit sees"),
            ) if wrong
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def overridden_by(self, zone: LearningTuning) -> LearningSettings:
        """These settings with each key that a zone's section writes in place of ours;
        checked as a whole, since a zone's cap must still fit the site's other keys."""
        return LearningSettings.model_validate(
            {**self.model_dump(), **zone.model_dump(exclude_unset=True)})

    @property
    def history(self) -> timedelta:
        """How long a day of presence is remembered."""
        return timedelta(weeks=self.history_weeks)

    @property
    def thermal_window(self) -> timedelta:
        """How far back a refit looks."""
        return timedelta(days=self.thermal_window_days)

    def max_preheat(self, long_absence: bool) -> timedelta:
        """The cap on a learned pre-heat, after a long absence or not."""
        hours = self.max_preheat_after_long_absence_hours if long_absence else (
            self.max_preheat_hours)
        return timedelta(hours=hours)

    def fixed_preheat(self, long_absence: bool) -> timedelta:
        """The programme's fixed early start, after a long absence or not."""
        hours = self.fixed_preheat_after_long_absence_hours if long_absence else (
            self.fixed_preheat_hours)
        return timedelta(hours=hours)


DEFAULT_LEARNING = LearningSettings()
"""The tuning of a site without a ``learning:`` section, and of controllers used alone."""


class ZoneSimulation(Model):
    """How the virtual commune (``gtb sim``) simulates this zone. Ignored by the engine."""

    profile: Literal[
        "office", "reception", "council_room", "classroom", "canteen", "sports_hall",
        "changing_room", "reading_room", "events_hall",
    ]
    occupants: int = Field(ge=0, le=1000, description="typical headcount when in use")
    lighting_w: float = Field(default=0.0, ge=0, description="power of the lighting circuit")


class BuildingSimulation(Model):
    """How the virtual commune simulates this building. Ignored by the engine."""

    envelope: Literal["pre_1975", "from_1975", "from_2000", "renovated"] = "from_1975"
    inertia: Literal["light", "medium", "heavy"] = "medium"
    plant: Literal["boiler", "heat_pump"] = "boiler"
    plant_kw: float | None = Field(
        default=None, gt=0, description="heat output limit; sized from the envelope if absent"
    )


class Zone(Model):
    """A functional zone: one temperature, one programme, one set of comfort levels."""

    id: Identifier
    name: str
    area_m2: float = Field(gt=0)
    comfort: ComfortLevels | None = Field(default=None, description="defaults to the site's")
    bounds: SafetyBounds | None = Field(default=None, description="defaults to the site's")
    programme: Programme | None = Field(default=None, description="defaults to the building's")
    learning: LearningTuning | None = Field(
        default=None, description="keys written here replace the site's, one by one")
    points: tuple[Point, ...]
    simulation: ZoneSimulation | None = None


BuildingUse = Literal[
    "mairie", "ecole", "gymnase", "mediatheque", "salle_des_fetes", "creche", "atelier",
    "eglise", "autre",
]

SCHOOL_USES: frozenset[str] = frozenset({"ecole", "gymnase"})
"""Building uses whose weekdays change with the school calendar (pupils by day)."""


class Building(Model):
    id: Identifier
    name: str
    use: BuildingUse
    floor_area_m2: float = Field(gt=0)
    programme: Programme | None = Field(default=None, description="default for its zones")
    points: tuple[Point, ...] = ()
    zones: tuple[Zone, ...] = Field(min_length=1)
    simulation: BuildingSimulation | None = None


LightingCategory = Literal["road", "heritage", "park", "facade", "activity", "car_park"]


_NIGHT_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-(([01]\d|2[0-3]):([0-5]\d)|sunrise)$")


@dataclass(frozen=True)
class NightWindow:
    """A stretch of the night, which may cross midnight: ``23:00-05:00``; ``23:00-sunrise``
    lasts until sunrise (no relighting in the morning)."""

    start: time
    end: time | None  # None: until sunrise

    def __str__(self) -> str:
        end = "sunrise" if self.end is None else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


@functools.cache
def parse_night_window(text: str) -> NightWindow:
    match = _NIGHT_WINDOW.match(text.strip())
    if not match:
        raise ValueError(f"night window {text!r} is not HH:MM-HH:MM or HH:MM-sunrise "
                         "(e.g. 23:00-05:00)")
    start = time(int(match[1]), int(match[2]))
    end = None if match[3] == "sunrise" else time(int(match[4]), int(match[5]))
    if end == start:
        raise ValueError(f"night window {text!r} is empty")
    return NightWindow(start, end)


NightWindowText = Annotated[str, AfterValidator(lambda text: str(parse_night_window(text)))]


class Dimming(Model):
    """A reduced light level for part of the night (where the cabinet has a dimming point)."""

    window: NightWindowText = Field(description="HH:MM-HH:MM, may cross midnight")
    level: float = Field(ge=0, le=100, description="% of full power")


class Cabinet(Model):
    """A public lighting cabinet (armoire d'éclairage public): switched as a whole.

    Lit from sunset + ``on_after_sunset_min`` to sunrise - ``off_before_sunrise_min``,
    except during ``cut_off`` (the night cut, 23:00-05:00 by default; null for none), at
    the ``dimming`` levels where they apply. ``activity`` gives the hours of the activity
    the lighting serves (a shop, a stadium), which the arrêté's rules for activity,
    car-park and park lighting refer to.
    """

    id: Identifier
    name: str
    category: LightingCategory = Field(
        description="category of the arrêté of 27 December 2018 on light nuisance"
    )
    power_kw: float = Field(gt=0, description="installed power at full level")
    on_after_sunset_min: int = Field(default=0, ge=-60, le=120,
                                     description="switch on this long after sunset")
    off_before_sunrise_min: int = Field(default=0, ge=-60, le=120,
                                        description="switch off this long before sunrise")
    cut_off: NightWindowText | None = Field(default="23:00-05:00",
                                            description="night cut; null: lit all night")
    dimming: tuple[Dimming, ...] = ()
    activity: PeriodText | None = Field(default=None,
                                        description="daily hours of the activity it serves")
    points: tuple[Point, ...]

    @property
    def night_cut(self) -> NightWindow | None:
        return None if self.cut_off is None else parse_night_window(self.cut_off)

    @property
    def activity_period(self) -> Period | None:
        return None if self.activity is None else parse_period(self.activity)


class Equipment(Model):
    """A binary output that follows a weekly programme and the agenda entries naming it:
    a ventilation, a fountain pump, church bells. On during the programme's periods, off
    on public holidays (a ``day`` entry gives a holiday its periods), on during an
    ``event`` naming it and off during a ``closure``."""

    id: Identifier
    name: str
    building: Identifier | None = Field(default=None, description="where it stands, if anywhere")
    programme: Programme
    points: tuple[Point, ...]


class Site(Model):
    """A commune, or one member of a syndicate: the root of a site file."""

    id: Identifier
    name: str
    timezone: str = "Europe/Paris"
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    school_zone: Literal["A", "B", "C"]
    alsace_moselle: bool = False
    comfort: ComfortLevels = ComfortLevels()
    bounds: SafetyBounds = SafetyBounds()
    learning: LearningSettings = Field(
        default=DEFAULT_LEARNING, description="the learners' tuning; a zone can replace keys")
    on_shutdown: Literal["release", "hold"] = Field(
        default="release",
        description="when the engine stops: give commanded points back to the devices "
        "(BACnet: relinquish its priority), or leave its last commands in place",
    )
    buildings: tuple[Building, ...] = ()
    cabinets: tuple[Cabinet, ...] = ()
    equipment: tuple[Equipment, ...] = ()
    agenda: tuple[AgendaEntry, ...] = Field(
        default=(), description="events, closures and day exceptions; the panel adds more"
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (expected e.g. Europe/Paris)") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def comfort_of(self, zone: Zone) -> ComfortLevels:
        return zone.comfort or self.comfort

    def bounds_of(self, zone: Zone) -> SafetyBounds:
        return zone.bounds or self.bounds

    def learning_of(self, zone: Zone) -> LearningSettings:
        """The site's learning settings with the keys the zone's ``learning:`` replaces."""
        return self.learning if zone.learning is None else self.learning.overridden_by(
            zone.learning)

    def programme_of(self, building: Building, zone: Zone) -> Programme:
        return zone.programme or building.programme or Programme()

    def points(self) -> Iterator[PointRef]:
        """Every point of the site with where it stands, in file order."""
        for building in self.buildings:
            for point in building.points:
                yield PointRef(f"{building.id}.{point.id}", point, building, None, None)
            for zone in building.zones:
                for point in zone.points:
                    yield PointRef(f"{building.id}.{zone.id}.{point.id}", point, building, zone,
                                   None)
        for cabinet in self.cabinets:
            for point in cabinet.points:
                yield PointRef(f"{cabinet.id}.{point.id}", point, None, None, cabinet)
        for item in self.equipment:
            for point in item.points:
                yield PointRef(f"{item.id}.{point.id}", point, None, None, None, item)

    def point(self, key: str) -> PointRef:
        for ref in self.points():
            if ref.key == key:
                return ref
        raise KeyError(f"no point {key!r} in site {self.id}")


@dataclass(frozen=True)
class PointRef:
    """A point with its site-unique dotted key and the containers it belongs to."""

    key: str
    point: Point
    building: Building | None
    zone: Zone | None
    cabinet: Cabinet | None
    equipment: Equipment | None = None

    @property
    def owner(self) -> str:
        """The id of the building, cabinet or equipment the point belongs to."""
        owner = self.building or self.cabinet or self.equipment
        assert owner is not None
        return owner.id

    @property
    def role(self) -> Role:
        return self.point.role

    @property
    def binding(self) -> BacnetBinding | ModbusBinding:
        return self.point.binding
