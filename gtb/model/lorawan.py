"""LoRaWAN in a site file: the devices a network server publishes for (``lorawan:`` at the
site's root, beside the broker of ``mqtt:``), and a point bound to a field of a device's
uplinks (``protocol: lorawan``).

A device is named by its DevEUI on ChirpStack, whose topics carry it, and by its device id
on The Things Stack, whose topics carry that. A point reads a field of the decoded object
by a dotted path (``temperature``, ``temperatureSensor.1``), or one of the fields every
uplink has: ``battery`` (%), ``rssi`` (dBm), ``snr`` (dB). A command point names the field
of the downlink (``command_field``): the network server's codec encodes it on
``command_port``, or the engine's codec of the device does (the WT101's target).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gtb.model.base import Identifier, Model

WT101_COMMAND = "target_temperature"
"""The one command the engine's WT101 codec encodes: its target temperature."""

_KEY = r"[A-Za-z0-9_-]+"
_KEY_ONLY = re.compile(_KEY)
_FIELD_PATH = re.compile(rf"{_KEY}(?:\.{_KEY})*")
_EUI = re.compile(r"[0-9a-fA-F]{16}")
_TOPIC_LEVEL = re.compile(r"[^/+#@\x00]{1,200}")


def field_path(value: str, field: str) -> str:
    """``value`` if it is keys separated by dots (``temperature``, ``sensors.1``)."""
    if not _FIELD_PATH.fullmatch(value):
        raise ValueError(f"{field} {value!r} is not keys separated by dots (letters, digits, "
                         "_ and -), e.g. temperature, temperatureSensor.1")
    return value


class LorawanAlarmSettings(Model):
    """When a device's battery or radio link raises its alarm, and when the alarm ends.

    The battery's alarm ends above a higher level (``battery_ok``), after a battery
    change, not at a reading that wavers around the threshold. The link is judged on the
    median of the last ``uplinks`` uplinks, so that one uplink heard badly raises nothing,
    and recovers once both medians are ``link_margin_db`` above their thresholds."""

    battery_low: float = Field(default=20, ge=0, le=100,
                               description="% of battery below which the alarm is raised")
    battery_ok: float = Field(default=25, ge=0, le=100,
                              description="% of battery from which the alarm ends")
    rssi_weak: float = Field(default=-120, ge=-150, le=0,
                             description="dBm: a median RSSI below this is a weak link")
    snr_weak: float = Field(default=-15, ge=-30, le=20,
                            description="dB: a median SNR below this is a weak link")
    link_margin_db: float = Field(default=3, ge=0, le=30,
                                  description="dB above both thresholds for the link's "
                                  "alarm to end")
    uplinks: int = Field(default=5, ge=1, le=50,
                         description="the uplinks whose median judges the link")

    @model_validator(mode="after")
    def _hysteresis(self) -> LorawanAlarmSettings:
        if self.battery_ok <= self.battery_low:
            raise ValueError(f"battery_ok ({self.battery_ok:g}) must be above battery_low "
                             f"({self.battery_low:g}): the alarm ends above where it began")
        return self


class LorawanDevice(Model):
    """One device as its network server names it, and what the engine expects of it."""

    id: Identifier
    network_server: Literal["chirpstack", "tts"]
    application: str = Field(description="the application id in the server's topics")
    tenant: str | None = Field(default=None, description="The Things Stack's tenant id "
                               "(none on the open-source edition)")
    dev_eui: str | None = Field(default=None, description="16 hexadecimal digits; "
                                "ChirpStack names the device by it")
    device_id: str | None = Field(default=None, description="The Things Stack's device id")
    interval_s: float = Field(gt=0, le=7 * 86400, description="seconds between its "
                              "uplinks: two missed and its points are stale")
    codec: Literal["server", "milesight-wt101"] = Field(
        default="server", description="server: the network server's decoded object; "
        "milesight-wt101: the engine decodes the frame's bytes itself")
    downlinks_per_day: int = Field(default=10, ge=0, le=1000,
                                   description="downlinks allowed per local day")
    alarms: LorawanAlarmSettings = Field(
        default_factory=LorawanAlarmSettings, description="its low battery and weak link "
        "alarms, judged on its battery, rssi and snr points")

    @field_validator("application", "tenant", "device_id")
    @classmethod
    def _topic_level(cls, value: str | None) -> str | None:
        if value is not None and not _TOPIC_LEVEL.fullmatch(value):
            raise ValueError(f"{value[:60]!r} cannot be one level of an MQTT topic (no /, "
                             "+, #, @; 1..200 characters)")
        return value

    @field_validator("dev_eui")
    @classmethod
    def _dev_eui(cls, value: str | None) -> str | None:
        if value is not None and not _EUI.fullmatch(value):
            raise ValueError(f"dev_eui {value[:60]!r} is not 16 hexadecimal digits")
        return None if value is None else value.lower()

    @model_validator(mode="after")
    def _named(self) -> LorawanDevice:
        if self.network_server == "chirpstack":
            if self.dev_eui is None:
                raise ValueError("a ChirpStack device needs its dev_eui (its topics name it)")
            if self.tenant is not None or self.device_id is not None:
                raise ValueError("tenant and device_id are The Things Stack's: a ChirpStack "
                                 "device is named by its dev_eui")
        elif self.device_id is None:
            raise ValueError("a device of The Things Stack needs its device_id (its topics "
                             "name it)")
        return self

    @property
    def name(self) -> str:
        """How the network server's topics and ``protocols.lorawan.parse`` name it."""
        name = self.dev_eui if self.network_server == "chirpstack" else self.device_id
        assert name is not None
        return name

    @property
    def topics(self) -> tuple[str, ...]:
        """Its uplinks and the events that matter to them: a join (the frame counter
        starts again) and ChirpStack's status (the battery)."""
        if self.network_server == "chirpstack":
            base = f"application/{self.application}/device/{self.name}/event"
            return (f"{base}/up", f"{base}/join", f"{base}/status")
        owner = self.application + ("" if self.tenant is None else f"@{self.tenant}")
        base = f"v3/{owner}/devices/{self.name}"
        return (f"{base}/up", f"{base}/join")


class LorawanBinding(Model):
    """A point read from a field of a LoRaWAN device's uplinks.

    ``value = raw * scale + offset``, as for Modbus and MQTT.
    """

    protocol: Literal["lorawan"]
    device: Identifier = Field(description="the id of a device of the site's `lorawan:`")
    field: str = Field(description="a dotted path in the decoded object (temperature), or "
                       "battery, rssi, snr")
    scale: float = 1.0
    offset: float = 0.0
    command_field: str | None = Field(default=None, description="commands: the field of the "
                                      "downlink (target_temperature for the WT101's codec)")
    command_port: int | None = Field(default=None, ge=1, le=223, description="the FPort of "
                                     "a downlink the network server's codec encodes")

    @field_validator("field")
    @classmethod
    def _field(cls, value: str) -> str:
        return field_path(value, "field")

    @field_validator("command_field")
    @classmethod
    def _command_field(cls, value: str | None) -> str | None:
        if value is not None and not _KEY_ONLY.fullmatch(value):
            raise ValueError(f"command_field {value[:60]!r} is not one key (letters, digits, "
                             "_ and -), e.g. target_temperature")
        return value

    @model_validator(mode="after")
    def _scale(self) -> LorawanBinding:
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        if self.command_port is not None and self.command_field is None:
            raise ValueError("command_port needs command_field")
        return self

    @property
    def endpoint(self) -> tuple[str, str, int]:
        """One device: its points come in the same uplinks."""
        return ("lorawan", self.device, 0)

    @property
    def writable(self) -> bool:
        return self.command_field is not None
