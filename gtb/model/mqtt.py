"""MQTT in a site file: the broker the engine connects to (``mqtt:`` at the site's root),
and a point bound to a topic (``protocol: mqtt``), read through a small JSON path and
commanded through a payload template.

A JSON path is keys separated by dots, each followed by list indexes in brackets:
``temperature``, ``state.setpoint``, ``sensors[0].value``, ``[2]``. Keys are letters,
digits, ``_`` and ``-``; nothing is evaluated, so a path cannot do anything but pick a
value. A template is the payload a command publishes with ``{value}`` standing once for
the number: ``{"current_heating_setpoint": {value}}`` (Zigbee2MQTT), ``{value}`` (a
Shelly's bare value).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gtb.model.base import Model

VALUE_FIELD = "{value}"
"""What a command's payload template holds exactly once: the value written."""

PASSWORD_ENV = "GTB_MQTT_PASSWORD"
"""The environment variable holding the broker's password: never in the site file."""

MAX_CLIENT_ID = 23
"""Characters of a client id every MQTT 3.1.1 broker accepts (3.1.3.1)."""

_KEY = r"[A-Za-z0-9_-]+"
_INDEX = r"\[\d{1,6}\]"
_JSON_PATH = re.compile(rf"^(?:{_KEY}|{_INDEX})(?:\.{_KEY}|{_INDEX})*$")
_STEP = re.compile(rf"({_KEY})|\[(\d+)\]")
_MAX_TOPIC_BYTES = 65535


def json_path_steps(path: str) -> tuple[str | int, ...]:
    """``a.b[0].c`` -> ``("a", "b", 0, "c")``; a ValueError saying the syntax otherwise."""
    if not _JSON_PATH.match(path):
        raise ValueError(f"json_path {path!r} is not keys and [indexes] separated by dots "
                         "(e.g. temperature, state.setpoint, sensors[0].value)")
    return tuple(key if key else int(index) for key, index in _STEP.findall(path))


def topic_name(value: str, field: str) -> str:
    """``value`` if it can be a topic a point publishes on: not empty, no wildcard (``+``,
    ``#``: a point is one topic), no NUL, at most 65535 bytes (MQTT 3.1.1, 4.7)."""
    if not value:
        raise ValueError(f"{field} is empty")
    if "+" in value or "#" in value:
        raise ValueError(f"{field} {value!r} has a wildcard (+ or #): a point's topic is "
                         "one topic, e.g. zigbee2mqtt/salle-vanne-1")
    if "\0" in value or len(value.encode("utf-8")) > _MAX_TOPIC_BYTES:
        raise ValueError(f"{field} {value[:60]!r} has a NUL character or is over "
                         f"{_MAX_TOPIC_BYTES} bytes")
    return value


class MqttBroker(Model):
    """The MQTT broker of the site: where it is, how the engine proves who it is."""

    host: str = Field(description="IP address or host name of the broker")
    port: int | None = Field(default=None, gt=0, lt=65536,
                             description="default 8883 with TLS, 1883 without")
    tls: bool = False
    ca_file: Path | None = Field(default=None, description="the CA that signed the broker's "
                                 "certificate (PEM); default: the system's CAs")
    cert_file: Path | None = Field(default=None, description="the engine's client "
                                   "certificate (PEM), with key_file")
    key_file: Path | None = None
    username: str | None = Field(default=None, min_length=1, max_length=200,
                                 description=f"the password is read from {PASSWORD_ENV}")
    client_id: str | None = Field(default=None, min_length=1, max_length=MAX_CLIENT_ID,
                                  pattern=r"^[A-Za-z0-9_-]+$",
                                  description="default gtb-<site id>; kept across "
                                  "restarts so that the broker keeps the session")
    keepalive_s: int = Field(default=60, ge=5, le=3600)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        from gtb.model.points import device_address  # points imports this module

        return device_address(value, names=True)

    @model_validator(mode="after")
    def _tls_files(self) -> MqttBroker:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")
        if not self.tls and any((self.ca_file, self.cert_file)):
            raise ValueError("ca_file, cert_file and key_file need tls: true")
        return self

    @property
    def address(self) -> str:
        port = self.port or (8883 if self.tls else 1883)
        return f"{self.host}:{port}"


class MqttBinding(Model):
    """A point read from the messages of a topic, and commanded by publishing on one.

    ``value = raw * scale + offset``, and the reverse when commanding, as for Modbus.
    """

    protocol: Literal["mqtt"]
    topic: str = Field(description="where the device publishes, e.g. zigbee2mqtt/vanne-1")
    json_path: str | None = Field(default=None, description="the value within the JSON "
                                  "payload, e.g. local_temperature; none: the payload is "
                                  "the bare value")
    scale: float = 1.0
    offset: float = 0.0
    interval: float | None = Field(default=None, gt=0, le=7 * 86400,
                                   description="seconds expected between messages: two "
                                   "missed and the point is stale")
    command_topic: str | None = Field(default=None,
                                      description="where a command is published")
    payload: str = Field(default=VALUE_FIELD, max_length=2000,
                         description="the command's payload, {value} standing for the value")
    retain: bool = Field(default=False, description="commands kept by the broker for a "
                         "device that connects later")
    qos: Literal[0, 1, 2] = 1

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        return topic_name(value, "topic")

    @field_validator("command_topic")
    @classmethod
    def _command_topic(cls, value: str | None) -> str | None:
        return None if value is None else topic_name(value, "command_topic")

    @field_validator("json_path")
    @classmethod
    def _json_path(cls, value: str | None) -> str | None:
        if value is not None:
            json_path_steps(value)
        return value

    @field_validator("payload")
    @classmethod
    def _payload(cls, value: str) -> str:
        if value.count(VALUE_FIELD) != 1:
            raise ValueError(f"payload {value!r} must hold {VALUE_FIELD} exactly once, e.g. "
                             '{"current_heating_setpoint": {value}}')
        return value

    @model_validator(mode="after")
    def _scale(self) -> MqttBinding:
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        return self

    @property
    def steps(self) -> tuple[str | int, ...]:
        return () if self.json_path is None else json_path_steps(self.json_path)

    @property
    def endpoint(self) -> tuple[str, str, int]:
        """One device: the points of one topic come in the same messages."""
        return ("mqtt", self.topic, 0)

    @property
    def writable(self) -> bool:
        return self.command_topic is not None
