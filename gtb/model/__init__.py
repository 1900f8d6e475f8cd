"""The vocabulary every part of the engine speaks: a site, its buildings, zones and points.

A site file (YAML, see ``gtb.config``) is validated into these pydantic models. They are
immutable once loaded; everything else in the engine refers to points by their dotted
``key`` (``building.zone.point``, ``building.point`` or ``cabinet.point``), which is also
the ``point`` tag in InfluxDB.

The vocabulary is split by theme: ``points`` (roles, quality, levels, bindings, watches),
``calendar`` (programmes, agenda entries, night windows), ``learning`` (the learners'
settings); this module holds the site itself: buildings, zones, lighting cabinets,
equipment, comfort levels and safety bounds, and every point with where it stands."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator

from gtb.model.base import Identifier, Model
from gtb.model.calendar import (
    AgendaEntry,
    NightWindow,
    NightWindowText,
    Period,
    PeriodText,
    Programme,
    parse_night_window,
    parse_period,
)
from gtb.model.learning import DEFAULT_LEARNING, LearningSettings, LearningTuning
from gtb.model.lorawan import LorawanBinding, LorawanDevice
from gtb.model.mqtt import MqttBinding, MqttBroker
from gtb.model.points import BacnetBinding, ModbusBinding, Point, Role

COMFORT_WITHOUT_REASON = 24.0
"""°C: the highest comfort setpoint a site file may give without saying why. The Code de
l'énergie caps heating at 19 °C on average over a building (R241-26), except where care
is given or elderly people or young children are housed (R241-29): a crèche, a nursing
home, which may need up to ``COMFORT_MAX``."""
COMFORT_MAX = 26.0
"""°C: the highest comfort setpoint, with a reason."""
FROST_RANGE = (3.0, 12.0)
"""°C: frost protection and its floor. The rule is 8 °C after 48 h away (R241-27); below
3 °C the air at the sensor leaves no margin for a pipe in a cold corner, above 12 °C it
is no longer frost protection but heating an empty building."""
CEILING_MAX = 28.0
"""°C: the highest setpoint ceiling: no heated room of a commune is meant to be warmer,
and a typo (99) is never written to a device."""


class ComfortLevels(Model):
    """Setpoints by absence length (Code de l'énergie R241-26 and R241-27)."""

    reason: str | None = Field(
        default=None, min_length=3, max_length=200,
        description=f"why comfort is above {COMFORT_WITHOUT_REASON:g} °C (a crèche, a "
        "nursing home: Code de l'énergie R241-29)")
    comfort: float = Field(default=19.0, le=COMFORT_MAX, description="occupied")
    reduced: float = Field(default=16.0, description="unoccupied for 24 to 48 h, and nights")
    frost_protection: float = Field(
        default=8.0, ge=FROST_RANGE[0], le=FROST_RANGE[1],
        description="unoccupied for more than 48 h")

    @field_validator("comfort")
    @classmethod
    def _reason_above_24(cls, value: float, info: ValidationInfo) -> float:
        """A comfort above 24 °C needs its reason, written before it in the model (and
        anywhere in the file's section) so that it is known here."""
        if value > COMFORT_WITHOUT_REASON and not info.data.get("reason"):
            raise ValueError(
                f"comfort {value:g} °C is above {COMFORT_WITHOUT_REASON:g} °C: lower it, or "
                "say why in `reason:` (a crèche, a nursing home; the Code de l'énergie "
                "caps heating at 19 °C on average elsewhere)")
        return value


class SafetyBounds(Model):
    """Limits nobody, person or algorithm, can write past."""

    frost_floor: float = Field(default=6.0, ge=FROST_RANGE[0], le=FROST_RANGE[1],
                               description="lowest setpoint ever written")
    setpoint_ceiling: float = Field(default=21.0, le=CEILING_MAX,
                                    description="highest setpoint ever written")


class ZoneSimulation(Model):
    """How the virtual commune (``gtb sim``) simulates this zone. Ignored by the engine."""

    profile: Literal[
        "office", "reception", "council_room", "classroom", "canteen", "sports_hall",
        "changing_room", "reading_room", "events_hall", "nursery",
    ]
    occupants: int = Field(ge=0, le=1000, description="typical headcount when in use")
    lighting_w: float = Field(default=0.0, ge=0, description="power of the lighting circuit")
    emitter: Literal["radiator", "fan_coil"] = Field(
        default="radiator", description="a fan coil's output follows its fan, within minutes")


class BuildingSimulation(Model):
    """How the virtual commune simulates this building. Ignored by the engine."""

    envelope: Literal["pre_1975", "from_1975", "from_2000", "from_2012", "renovated"] = "from_1975"
    inertia: Literal["light", "medium", "heavy"] = "medium"
    plant: Literal["boiler", "heat_pump"] = "boiler"
    plant_kw: float | None = Field(
        default=None, gt=0, description="heat output limit; sized from the envelope if absent"
    )
    heat_recovery: float = Field(
        default=0.0, ge=0, lt=1,
        description="share of the occupants' fresh air's heat a double-flow unit recovers")


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
    plant_schedule: Programme | None = Field(
        default=None,
        description="when the plant or the emission circuit can deliver heat, by its own "
        "clock (an emission pump's programme) that the engine does not command; none: "
        "always, or whenever a plant_available point says so")
    points: tuple[Point, ...] = ()
    zones: tuple[Zone, ...] = Field(min_length=1)
    simulation: BuildingSimulation | None = None


LightingCategory = Literal["road", "heritage", "park", "facade", "activity", "car_park"]


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


class ForecastService(Model):
    """Where the engine fetches the outdoor temperature to come (docs/heating.md): a
    service answering as Open-Meteo's ``/v1/forecast`` does, hourly ``temperature_2m``."""

    url: str = Field(description="the whole request, e.g. https://api.open-meteo.com/v1/"
                     "forecast?latitude=50.40&longitude=3.28&hourly=temperature_2m"
                     "&timezone=UTC")
    refresh_minutes: float = Field(default=60, ge=5, le=1440,
                                   description="how often it is fetched again")
    timeout_s: float = Field(default=10, gt=0, le=120,
                             description="a request that takes longer has failed")
    stale_after_hours: float = Field(
        default=6, ge=1, le=48,
        description="a forecast fetched longer ago than this is not used: persistence")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL with a host")
        return value


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
    forecast: ForecastService | None = Field(
        default=None, description="the outdoor temperature forecast; none: persistence "
        "(the outdoor temperature now, held)")
    mqtt: MqttBroker | None = Field(
        default=None, description="the MQTT broker of the site's `protocol: mqtt` points")
    lorawan: tuple[LorawanDevice, ...] = Field(
        default=(), description="the LoRaWAN devices its network server publishes for on "
        "the broker, for the `protocol: lorawan` points")

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

    def wired(self) -> Site:
        """The site without its LoRaWAN devices, their points and its broker: the zones
        and buildings left without a point go too. What a harness that serves only BACnet
        and Modbus devices runs (``gtb bench faults``; the tests' engine rig)."""

        def kept(points: tuple[Point, ...]) -> tuple[Point, ...]:
            return tuple(p for p in points if not isinstance(p.binding, LorawanBinding))

        buildings = []
        for building in self.buildings:
            zones = tuple(zone.model_copy(update={"points": kept(zone.points)})
                          for zone in building.zones if kept(zone.points))
            if zones or kept(building.points):
                buildings.append(building.model_copy(
                    update={"zones": zones, "points": kept(building.points)}))
        return self.model_copy(update={"buildings": tuple(buildings), "lorawan": (),
                                       "mqtt": None})

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
    def binding(self) -> BacnetBinding | ModbusBinding | MqttBinding | LorawanBinding:
        return self.point.binding
