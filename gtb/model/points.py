"""What a point is: its role, the quality of its readings, the levels and commands written to
it, and where it lives on a device (its BACnet or Modbus binding), with its alarm
thresholds."""

from __future__ import annotations

import ipaddress
import itertools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from gtb.model.base import (
    Identifier,
    Model,
)
from gtb.model.lorawan import LorawanBinding
from gtb.model.mqtt import MqttBinding
from gtb.texts import Reason


class Role(StrEnum):
    """What a point means to the engine: this decides where it may stand and who writes it."""

    ZONE_TEMPERATURE = "zone_temperature"
    HEATING_SETPOINT = "heating_setpoint"
    HEATING_MODE = "heating_mode"
    VALVE = "valve"
    EMITTER_POWER = "emitter_power"
    FAN_SPEED = "fan_speed"
    OCCUPANCY = "occupancy"
    CO2 = "co2"
    LIGHTING_RELAY = "lighting_relay"
    PLANT_ENABLE = "plant_enable"
    PLANT_AVAILABLE = "plant_available"
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
    Role.EMITTER_POWER: RoleInfo("%", 0.0, 100.0, "analog", False),
    Role.FAN_SPEED: RoleInfo("%", 0.0, 100.0, "analog", False),
    Role.OCCUPANCY: RoleInfo("", 0.0, 1.0, "binary", False),
    Role.CO2: RoleInfo("ppm", 300.0, 10000.0, "analog", False),
    Role.LIGHTING_RELAY: RoleInfo("", 0.0, 1.0, "binary", True),
    Role.PLANT_ENABLE: RoleInfo("", 0.0, 1.0, "binary", True),
    Role.PLANT_AVAILABLE: RoleInfo("", 0.0, 1.0, "binary", False),
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
        Role.EMITTER_POWER,
        Role.FAN_SPEED,
        Role.OCCUPANCY,
        Role.CO2,
        Role.LIGHTING_RELAY,
        Role.ENERGY_METER,
        Role.POWER,
        Role.MEASUREMENT,
    }
)
BUILDING_ROLES = frozenset(
    {Role.PLANT_ENABLE, Role.PLANT_AVAILABLE, Role.OUTDOOR_TEMPERATURE, Role.ENERGY_METER,
     Role.POWER, Role.MEASUREMENT}
)
HEATING_SIGNALS = (Role.VALVE, Role.EMITTER_POWER, Role.FAN_SPEED)
"""A zone's heating signals, the first it has being the one that counts: each is the share
(%) of its emitter's output in use."""
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

BACNET_UNITS = {
    "°C": "degreesCelsius",
    "K": "degreesKelvin",
    "%": "percent",
    "ppm": "partsPerMillion",
    "Wh": "wattHours",
    "kWh": "kilowattHours",
    "MWh": "megawattHours",
    "W": "watts",
    "kW": "kilowatts",
    "MW": "megawatts",
    "m³": "cubicMeters",
    "m3": "cubicMeters",
    "l": "liters",
}
"""SI unit of a point -> the BACnet engineering unit of an object that holds it; the
simulated devices declare them, the live check of bindings compares them."""

_HOST_PORT = re.compile(r"^(?P<host>[^:\s]+):(?P<port>\d{1,5})$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)


def device_address(text: str, names: bool) -> str:
    """``text`` if it is a device's IP address (IPv4, or IPv6 with ``names``), or with
    ``names`` a host name by RFC 1123 (letters, digits and '-' in dot-separated labels, a
    last label not all digits): no scheme, no path, no port. Else a ValueError saying why.
    An unspecified (0.0.0.0), multicast or broadcast address is no device."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = None
    if address is not None:
        if not names and address.version != 4:
            raise ValueError(f"{text!r} is IPv6: BACnet/IP devices have IPv4 addresses")
        if address.is_unspecified or address.is_multicast or str(address) == "255.255.255.255":
            raise ValueError(f"{text} is not a device's address (unspecified, multicast "
                             "or broadcast)")
        return text
    if not names:
        raise ValueError(f"{text!r} is not an IPv4 address (e.g. 192.0.2.20): a BACnet/IP "
                         "device is reached by its address, not a name")
    labels = text.removesuffix(".").split(".")
    if len(text) > 253 or not all(_HOST_LABEL.match(label) for label in labels) or (
        labels[-1].isdigit()
    ):
        raise ValueError(f"{text!r} is neither an IP address nor a host name (letters, "
                         "digits, '-' and '.'; no scheme, path or port), e.g. 192.0.2.10 "
                         "or passerelle.mairie.local")
    return text


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
    network: int | None = Field(
        default=None, ge=1, le=65534,
        description="BACnet network number of a device behind a router (an MS/TP "
        "controller), with `mac`; `address` is then the router's IP:port")
    mac: int | None = Field(default=None, ge=0, le=254,
                            description="the device's MAC address on `network` (MS/TP station)")

    @model_validator(mode="after")
    def _routed_needs_both(self) -> BacnetBinding:
        if (self.network is None) != (self.mac is None):
            raise ValueError("a device behind a router needs both `network` and `mac`")
        return self

    @property
    def station(self) -> str:
        """Where requests go: the device's IP:port, or ``network:mac`` behind a router."""
        return self.address if self.network is None else f"{self.network}:{self.mac}"

    @field_validator("address")
    @classmethod
    def _address_has_port(cls, value: str) -> str:
        match = _HOST_PORT.match(value)
        if not match or not 0 < int(match["port"]) < 65536:
            raise ValueError(f"address must be IP:port with a port from 1 to 65535 (e.g. "
                             f"127.0.0.1:47809), not {value!r}")
        device_address(match["host"], names=False)
        return value

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    @property
    def endpoint(self) -> tuple[str, str, int]:
        """One BACnet device: points with the same endpoint are served and read together
        (devices behind one router share its address, and differ by their instance)."""
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
    host: str = Field(description="IP address or host name of the server or gateway")
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

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        return device_address(value, names=True)

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

Binding = Annotated[BacnetBinding | ModbusBinding | MqttBinding | LorawanBinding,
                    Field(discriminator="protocol")]


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

    high: float | None = None
    high_high: float | None = None
    low: float | None = None
    low_low: float | None = None
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
        elif (isinstance(binding, ModbusBinding)
              and binding.data_type in _MODBUS_TYPES_UNFIT_FOR[info.kind]):
            raise ValueError(f"role {self.role} is {info.kind}; it cannot be a {binding.data_type}")
        if info.writable:
            where: str
            if isinstance(binding, BacnetBinding):
                writable, where = binding.commandable, binding.object_type
            elif isinstance(binding, ModbusBinding):
                writable, where = binding.writable, binding.table
            elif isinstance(binding, MqttBinding):
                writable, where = binding.writable, f"topic {binding.topic} without command_topic"
            else:
                writable, where = binding.writable, f"device {binding.device} without command_field"
            if not writable:
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
