"""LoRaWAN through a network server's MQTT integration: its messages, read and written.

A LoRaWAN device never talks to the engine: a network server (ChirpStack v4 or The Things
Stack v3) receives its uplinks through one or more gateways, decodes them with the
device's codec, and publishes them as JSON on MQTT; commands go back as downlinks
published on a topic of the same server, delivered at the device's next uplink (class A).
This module turns a topic and its JSON into an ``Uplink`` or a ``DeviceEvent`` and builds
the downlinks' topics and JSON, as both servers document them. It does no I/O: the MQTT
transport (``protocols/mqtt.py``) hands it what arrived, with the moment it arrived.

Anything that arrives may be wrong or hostile: a message that cannot be what its topic says
raises ``UplinkError`` saying what and where, and nothing else escapes.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

NetworkServer = Literal["chirpstack", "tts"]

MAX_MESSAGE = 256 * 1024
"""Largest message read: an uplink with its metadata from dozens of gateways is a few
kilobytes; anything far larger is not a network server's."""

MAX_APPLICATION_PAYLOAD = 242
"""Largest application payload of a LoRaWAN frame (EU868 at its fastest data rates,
LoRaWAN Regional Parameters); most data rates allow far less."""

FIRST_APPLICATION_PORT, LAST_APPLICATION_PORT = 1, 223
"""FPort 0 carries MAC commands only; 224 and above are reserved by LoRaWAN."""

_EUI = re.compile(r"[0-9a-fA-F]{16}")
_CHIRPSTACK = re.compile(r"application/([^/]+)/device/([^/]+)/event/([^/]+)")
_TTS = re.compile(r"v3/([^/@]+)(?:@([^/]+))?/devices/([^/]+)/(.+)")


class UplinkError(ValueError):
    """A network server's message that cannot be read; the message says what and where."""


@dataclass(frozen=True)
class Gateway:
    """One gateway that heard the uplink, and how well: RSSI in dBm, SNR in dB."""

    id: str
    rssi: float
    snr: float


@dataclass(frozen=True)
class Uplink:
    """One uplink of one device, as its network server published it.

    ``device`` is how the network server's topics name the device, the same in its other
    events (``DeviceEvent``): ChirpStack's is the DevEUI, The Things Stack's its device
    id; ``dev_eui`` is lower-case hexadecimal. ``sent_at`` is
    the network server's time of the uplink (``None`` when the message has none);
    ``received_at`` is when it reached the engine. ``fields`` is the decoded object of the
    server's codec (empty without one); ``payload`` the frame's bytes when present.
    ``battery`` is the level (%) the device last reported to the network server in its
    status (The Things Stack passes it with each uplink; ChirpStack in a ``status``
    event instead), ``None`` when the message has none.
    """

    network_server: NetworkServer
    application: str
    device: str
    dev_eui: str | None
    f_cnt: int
    f_port: int
    sent_at: datetime | None
    received_at: datetime
    fields: Mapping[str, Any] = field(default_factory=dict)
    payload: bytes | None = None
    gateways: tuple[Gateway, ...] = ()
    battery: float | None = None

    @property
    def rssi(self) -> float | None:
        """The best RSSI (dBm) over the gateways that heard it."""
        return max((g.rssi for g in self.gateways), default=None)

    @property
    def snr(self) -> float | None:
        """The best SNR (dB) over the gateways that heard it."""
        return max((g.snr for g in self.gateways), default=None)

    def signal(self) -> dict[str, float]:
        """The link's quality as values a point can bind to: ``rssi`` (dBm), ``snr`` (dB)
        and ``gateways`` (how many heard the uplink); the first two only when known."""
        values = {"gateways": float(len(self.gateways))}
        if self.gateways:
            values["rssi"] = float(max(g.rssi for g in self.gateways))
            values["snr"] = float(max(g.snr for g in self.gateways))
        return values

    def value(self, path: str) -> float:
        """The decoded field at a dotted ``path`` (``"temperature"``,
        ``"temperatureSensor.1"``) as a number (a boolean as 0 or 1); ``KeyError`` when the
        uplink does not carry it, ``UplinkError`` when it is not a finite number."""
        node: Any = self.fields
        for key in path.split("."):
            if not isinstance(node, Mapping) or key not in node:
                raise KeyError(f"{self.device}: the uplink has no field {path!r}")
            node = node[key]
        if isinstance(node, bool):
            return float(node)
        if isinstance(node, int | float) and math.isfinite(node):
            return float(node)
        raise UplinkError(f"{self.device}: field {path!r} is not a number: {node!r:.60}")


DeviceEventKind = Literal[
    "join", "status", "ack", "nack", "txack", "log", "location", "integration",
    "queued", "sent", "failed", "service",
]

_CHIRPSTACK_EVENTS: dict[str, DeviceEventKind] = {
    "join": "join", "status": "status", "ack": "ack", "txack": "txack", "log": "log",
    "location": "location", "integration": "integration",
}
"""ChirpStack's events besides ``up`` (its event types' documentation)."""

_TTS_EVENTS: dict[str, DeviceEventKind] = {
    "join": "join", "down/queued": "queued", "down/sent": "sent", "down/ack": "ack",
    "down/nack": "nack", "down/failed": "failed", "service/data": "service",
    "location/solved": "location",
}
"""What The Things Stack publishes besides ``up`` (its MQTT server's documentation)."""


@dataclass(frozen=True)
class DeviceEvent:
    """Something a network server said of a device that is not an uplink: a join (its
    frame counter starts again), a downlink queued, sent, acknowledged or failed, the
    device's status. ``battery`` is the level in % a ChirpStack ``status`` event reports
    (``None`` when the device has none to report)."""

    network_server: NetworkServer
    application: str
    device: str
    kind: DeviceEventKind
    received_at: datetime
    battery: float | None = None


def parse(topic: str, message: bytes, received_at: datetime) -> Uplink | DeviceEvent | None:
    """What a network server published on ``topic``: an ``Uplink``, a ``DeviceEvent``, or
    ``None`` for a topic of neither server (a downlink the engine itself published, another
    integration's traffic). Raises ``UplinkError`` for a message that cannot be read."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be an aware datetime")
    if match := _CHIRPSTACK.fullmatch(topic):
        application, dev_eui, event = match.groups()
        if event == "up":
            return _chirpstack_uplink(topic, application, dev_eui, message, received_at)
        if kind := _CHIRPSTACK_EVENTS.get(event):
            battery = _chirpstack_battery(topic, message) if kind == "status" else None
            return DeviceEvent("chirpstack", application, dev_eui.lower(), kind, received_at,
                               battery)
        return None
    if match := _TTS.fullmatch(topic):
        application, _tenant, device, event = match.groups()
        if event == "up":
            return _tts_uplink(topic, application, device, message, received_at)
        if kind := _TTS_EVENTS.get(event):
            return DeviceEvent("tts", application, device, kind, received_at)
        return None
    return None


# --- reading what arrived ------------------------------------------------------------------


class _Reader:
    """Typed access to a decoded JSON document: every wrong type or missing key becomes an
    ``UplinkError`` that names the topic and the key's path."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def fail(self, path: str, problem: str) -> UplinkError:
        return UplinkError(f"{self.topic}: {path} {problem}")

    def document(self, message: bytes) -> dict[str, Any]:
        if len(message) > MAX_MESSAGE:
            raise UplinkError(f"{self.topic}: message of {len(message)} bytes is larger "
                              f"than {MAX_MESSAGE}")
        try:
            document = json.loads(message, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as error:  # bad UTF-8, JSON, digits or depth
            raise UplinkError(f"{self.topic}: not a JSON document ({error})"[:300]) from None
        if not isinstance(document, dict):
            raise UplinkError(f"{self.topic}: the message is not a JSON object")
        return document

    def mapping(self, node: Mapping[str, Any], key: str, path: str,
                required: bool = True) -> dict[str, Any]:
        value = node.get(key)
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"{path}{key}", "is missing" if value is None else "is not an object")
        return value

    def text(self, node: Mapping[str, Any], key: str, path: str) -> str:
        value = node.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{path}{key}", "is missing" if value is None else "is not a text")
        return value

    def integer(self, node: Mapping[str, Any], key: str, path: str, high: int) -> int:
        """An absent number is 0: both servers leave out fields at their default value."""
        value = node.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            raise self.fail(f"{path}{key}", f"is not a whole number within 0..{high}: "
                                            f"{value!r:.40}")
        return value

    def number(self, node: Mapping[str, Any], key: str, path: str,
               low: float = -1000, high: float = 1000) -> float:
        value = node.get(key, 0)
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not low <= value <= high):
            raise self.fail(f"{path}{key}", f"is not a number within {low:g}..{high:g}: "
                                            f"{value!r:.40}")
        return float(value)

    def moment(self, node: Mapping[str, Any], key: str, path: str) -> datetime | None:
        value = node.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > 64:
            raise self.fail(f"{path}{key}", "is not a date and time")
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(f"{path}{key}", f"is not an ISO 8601 moment: {value!r}") from None
        if moment.tzinfo is None:
            raise self.fail(f"{path}{key}", f"has no time zone: {value!r}")
        return moment.astimezone(UTC)

    def payload(self, node: Mapping[str, Any], key: str, path: str) -> bytes | None:
        value = node.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{path}{key}", "is not a base64 text")
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise self.fail(f"{path}{key}", f"is not base64: {value!r:.40}") from None
        if len(raw) > MAX_APPLICATION_PAYLOAD:
            raise self.fail(f"{path}{key}", f"holds {len(raw)} bytes, more than a LoRaWAN "
                                            f"frame's {MAX_APPLICATION_PAYLOAD}")
        return raw

    def gateways(self, entries: Any, path: str, id_of: Any) -> tuple[Gateway, ...]:
        if entries is None:
            return ()
        if not isinstance(entries, list):
            raise self.fail(path, "is not a list")
        gateways = []
        for index, entry in enumerate(entries):
            where = f"{path}[{index}]."
            if not isinstance(entry, dict):
                raise self.fail(f"{path}[{index}]", "is not an object")
            gateways.append(Gateway(id_of(entry, where), self.number(entry, "rssi", where),
                                    self.number(entry, "snr", where)))
        return tuple(gateways)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _dev_eui(reader: _Reader, value: str, path: str) -> str:
    if not _EUI.fullmatch(value):
        raise reader.fail(path, f"is not a DevEUI (16 hexadecimal digits): {value!r:.40}")
    return value.lower()


def _chirpstack_uplink(topic: str, application: str, topic_eui: str, message: bytes,
                       received_at: datetime) -> Uplink:
    """ChirpStack v4's ``up`` event (its ``UplinkEvent`` in the JSON mapping)."""
    reader = _Reader(topic)
    document = reader.document(message)
    info = reader.mapping(document, "deviceInfo", "")
    dev_eui = _dev_eui(reader, reader.text(info, "devEui", "deviceInfo."), "deviceInfo.devEui")
    if dev_eui != topic_eui.lower():
        raise reader.fail("deviceInfo.devEui", f"{dev_eui} is not the topic's {topic_eui}")
    if info.get("applicationId", application) != application:
        raise reader.fail("deviceInfo.applicationId", "is not the topic's application")
    return Uplink(
        network_server="chirpstack",
        application=application,
        device=dev_eui,
        dev_eui=dev_eui,
        f_cnt=reader.integer(document, "fCnt", "", 2**32 - 1),
        f_port=reader.integer(document, "fPort", "", 255),
        sent_at=reader.moment(document, "time", ""),
        received_at=received_at,
        fields=reader.mapping(document, "object", "", required=False),
        payload=reader.payload(document, "data", ""),
        gateways=reader.gateways(document.get("rxInfo"), "rxInfo",
                                 lambda entry, where: reader.text(entry, "gatewayId", where)),
    )


def _chirpstack_battery(topic: str, message: bytes) -> float | None:
    """The battery level (%) of a ChirpStack ``status`` event; ``None`` when the device is
    on mains power or cannot measure it."""
    reader = _Reader(topic)
    document = reader.document(message)
    if document.get("externalPowerSource") or document.get("batteryLevelUnavailable"):
        return None
    return reader.number(document, "batteryLevel", "", 0, 100)


def _tts_uplink(topic: str, application: str, device: str, message: bytes,
                received_at: datetime) -> Uplink:
    """The Things Stack v3's ``up`` message (its ``ApplicationUp`` with ``uplink_message``)."""
    reader = _Reader(topic)
    document = reader.document(message)
    ids = reader.mapping(document, "end_device_ids", "")
    if reader.text(ids, "device_id", "end_device_ids.") != device:
        raise reader.fail("end_device_ids.device_id", "is not the topic's device")
    raw_eui = ids.get("dev_eui")
    dev_eui = (None if raw_eui is None else
               _dev_eui(reader, str(raw_eui), "end_device_ids.dev_eui"))
    up = reader.mapping(document, "uplink_message", "")
    where = "uplink_message."
    status = reader.mapping(up, "last_battery_percentage", where, required=False)
    return Uplink(
        network_server="tts",
        application=application,
        device=device,
        dev_eui=dev_eui,
        f_cnt=reader.integer(up, "f_cnt", where, 2**32 - 1),
        f_port=reader.integer(up, "f_port", where, 255),
        sent_at=reader.moment(up, "received_at", where),
        received_at=received_at,
        fields=reader.mapping(up, "decoded_payload", where, required=False),
        payload=reader.payload(up, "frm_payload", where),
        gateways=reader.gateways(
            up.get("rx_metadata"), "uplink_message.rx_metadata",
            lambda entry, at: reader.text(reader.mapping(entry, "gateway_ids", at),
                                          "gateway_id", f"{at}gateway_ids.")),
        battery=(reader.number(status, "value", f"{where}last_battery_percentage.", 0, 100)
                 if status else None),
    )


# --- downlinks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Downlink:
    """What to send a device: ``payload`` bytes on ``f_port``, or ``fields`` for the
    network server's codec of the device to encode; ``confirmed`` asks the device to
    acknowledge it."""

    f_port: int
    payload: bytes | None = None
    fields: Mapping[str, Any] | None = None
    confirmed: bool = False

    def __post_init__(self) -> None:
        if (self.payload is None) == (self.fields is None):
            raise ValueError("a downlink carries either bytes or fields for the codec")
        if not FIRST_APPLICATION_PORT <= self.f_port <= LAST_APPLICATION_PORT:
            raise ValueError(f"FPort {self.f_port} is not an application port "
                             f"({FIRST_APPLICATION_PORT}..{LAST_APPLICATION_PORT})")
        if self.payload is not None and not 0 < len(self.payload) <= MAX_APPLICATION_PAYLOAD:
            raise ValueError(f"a downlink payload holds 1..{MAX_APPLICATION_PAYLOAD} bytes, "
                             f"not {len(self.payload)}")


def chirpstack_downlink(application: str, dev_eui: str, downlink: Downlink) -> tuple[str, bytes]:
    """The topic and JSON that enqueue ``downlink`` on ChirpStack v4 (its MQTT
    integration's ``command/down``)."""
    if not _EUI.fullmatch(dev_eui):
        raise ValueError(f"{dev_eui!r} is not a DevEUI (16 hexadecimal digits)")
    eui = dev_eui.lower()
    command: dict[str, Any] = {"devEui": eui, "confirmed": downlink.confirmed,
                               "fPort": downlink.f_port}
    if downlink.payload is not None:
        command["data"] = base64.b64encode(downlink.payload).decode("ascii")
    else:
        command["object"] = dict(downlink.fields or {})
    topic = f"application/{_topic_level(application)}/device/{eui}/command/down"
    return topic, json.dumps(command, allow_nan=False).encode()


TtsPriority = Literal["LOWEST", "LOW", "BELOW_NORMAL", "NORMAL", "ABOVE_NORMAL", "HIGH",
                      "HIGHEST"]


def tts_downlink(application: str, device: str, downlink: Downlink, *,
                 tenant: str | None = None, replace: bool = False,
                 priority: TtsPriority = "NORMAL") -> tuple[str, bytes]:
    """The topic and JSON that push ``downlink`` to The Things Stack v3's queue for the
    device (``down/push``), or replace the queue with it (``down/replace``: a newer
    setpoint supersedes one still waiting). ``tenant`` is needed on every deployment but
    the open-source one."""
    item: dict[str, Any] = {"f_port": downlink.f_port, "priority": priority,
                            "confirmed": downlink.confirmed}
    if downlink.payload is not None:
        item["frm_payload"] = base64.b64encode(downlink.payload).decode("ascii")
    else:
        item["decoded_payload"] = dict(downlink.fields or {})
    owner = _topic_level(application) + ("" if tenant is None else f"@{_topic_level(tenant)}")
    verb = "replace" if replace else "push"
    topic = f"v3/{owner}/devices/{_topic_level(device)}/down/{verb}"
    return topic, json.dumps({"downlinks": [item]}, allow_nan=False).encode()


def _topic_level(name: str) -> str:
    if not name or any(sign in name for sign in "/+#@\0"):
        raise ValueError(f"{name!r} cannot be one level of an MQTT topic")
    return name
