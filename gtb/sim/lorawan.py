"""A simulated LoRaWAN network server: the uplinks of simulated devices published on a
real MQTT broker, and their class A downlinks taken from it.

It plays ChirpStack v4 or The Things Stack v3 (chosen per instance), publishing on the
topics and in the JSON their MQTT integrations document (the shapes of
``tests/data/lorawan/``, which ``protocols.lorawan.parse`` reads). Each device sends on
its own interval with jitter and its own frame counter; about 5 % of uplinks are lost on
the air, some reach the server through a second gateway and are published twice (another
RSSI), the battery runs down with every transmission. A downlink published on the
server's downlink topics waits in the device's queue and is delivered only after the
device's next uplink the server hears (class A); the device applies it, and its following
uplink reports the new value.

Time is the simulation's ``Clock``, so it runs accelerated or stepped by hand; the random
draws come from one seeded generator. What arrives is counted where it arrives
(``RadioCounts``): uplinks sent, lost and duplicated, downlinks received and delivered per
device and local day.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiomqtt

from gtb.clock import Clock
from protocols.lorawan import Downlink, NetworkServer
from protocols.lorawan_devices import WT101_PORT, wt101_read_command

Readings = Callable[[datetime], Mapping[str, float]]
"""What a device measures at a moment: its decoded fields (temperature, co2, presence, a
river level...), given by the caller so that the virtual commune's zones can feed it."""

PayloadEncoder = Callable[[Mapping[str, float]], bytes]
"""A device's own payload: its fields (and ``battery``, %) as the bytes it transmits."""

DownlinkEffect = Callable[[Downlink], Mapping[str, float]]
"""What a downlink changes in a device: the fields it sets, reported from the next uplink
on. Raises ``ValueError`` for a downlink the device does not understand."""


def codec_fields(downlink: Downlink) -> dict[str, float]:
    """A downlink the network server's codec encoded from ``fields``: the device takes
    its numeric fields as they are. Raw bytes are refused: no codec says what they mean."""
    if downlink.fields is None:
        raise ValueError("bytes without a device codec to read them")
    values = {name: float(value) for name, value in downlink.fields.items()
              if isinstance(value, int | float) and not isinstance(value, bool)}
    if not values:
        raise ValueError("no numeric field to apply")
    return values


def wt101_effect(downlink: Downlink) -> dict[str, float]:
    """What a Milesight WT101 does with a downlink: its maker's set-target command."""
    if downlink.payload is None or downlink.f_port != WT101_PORT:
        raise ValueError(f"a WT101 takes bytes on FPort {WT101_PORT}")
    return wt101_read_command(downlink.payload)


@dataclass
class SimulatedDevice:
    """One class A device behind the simulated network server.

    ``device`` names it in the counts, in ChirpStack's ``deviceInfo.deviceName`` and in
    The Things Stack's topics (its device id); ChirpStack's topics name it by ``dev_eui``.
    ``jitter`` is the largest fraction of ``interval`` an uplink comes early or late.
    ``battery`` (%) falls by ``drain`` per transmission, lost ones included. ``rssi``
    (dBm) and ``snr`` (dB) are the link's mean at the first gateway. ``settings`` holds
    what downlinks set (a target temperature), reported with the readings. ``encode``:
    the device's own payload, for a device whose network server has no codec of it (the
    engine decodes the bytes): its uplinks carry those bytes (ChirpStack's ``data``, The
    Things Stack's ``frm_payload``), its fields and battery in them, and no decoded object.
    """

    device: str
    dev_eui: str
    interval: timedelta
    readings: Readings
    on_downlink: DownlinkEffect = codec_fields
    f_port: int = 1
    jitter: float = 0.1
    battery: float = 100.0
    drain: float = 0.01
    rssi: float = -95.0
    snr: float = 5.0
    settings: dict[str, float] = field(default_factory=dict)
    encode: PayloadEncoder | None = None
    f_cnt: int = 0
    next_uplink: datetime | None = None

    def __post_init__(self) -> None:
        if self.interval <= timedelta(0):
            raise ValueError(f"{self.device}: the uplink interval must be positive")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"{self.device}: jitter {self.jitter} is not within 0..1")
        if len(self.dev_eui) != 16 or not all(c in "0123456789abcdefABCDEF"
                                              for c in self.dev_eui):
            raise ValueError(f"{self.device}: {self.dev_eui!r} is not a DevEUI")
        self.dev_eui = self.dev_eui.lower()


@dataclass
class RadioCounts:
    """What happened on one device's radio link, counted at the network server."""

    sent: int = 0
    """Uplinks the device transmitted, lost ones included."""
    lost: int = 0
    duplicated: int = 0
    """Uplinks published a second time, through a second gateway."""
    unpublished: int = 0
    """Uplinks heard that could not be published: the broker was not reachable."""
    downlinks_received: Counter[date] = field(default_factory=Counter)
    """Downlinks that arrived on the broker for the device, by local day."""
    downlinks_delivered: Counter[date] = field(default_factory=Counter)
    """Downlinks sent to the device after one of its uplinks, by local day."""
    downlinks_replaced: int = 0
    """Queued downlinks a ``down/replace`` dropped before they were delivered."""
    downlinks_ignored: int = 0
    """Downlinks delivered that the device could not apply (not its command)."""


class SimulatedNetworkServer:
    """ChirpStack v4 (``kind="chirpstack"``) or The Things Stack v3 (``"tts"``) for the
    ``devices`` of one ``application``, publishing through ``client`` (connected by the
    caller). ``loss`` and ``duplicates`` are the chances that an uplink is lost, and that
    one heard is heard twice; downlinks are counted by day in ``timezone`` (the site's).
    Call ``subscribe`` then run ``listen`` (downlinks) and ``run`` (uplinks) as tasks, or
    step with ``publish_due`` after moving the clock."""

    def __init__(self, client: aiomqtt.Client, kind: NetworkServer, application: str,
                 devices: Sequence[SimulatedDevice], clock: Clock, *, seed: int,
                 timezone: ZoneInfo, tenant: str | None = None, loss: float = 0.05,
                 duplicates: float = 0.03) -> None:
        if not 0 <= loss < 1 or not 0 <= duplicates <= 1:
            raise ValueError(f"loss {loss} and duplicates {duplicates} are chances in 0..1")
        if not devices:
            raise ValueError("a network server needs at least one device")
        if len({d.device for d in devices}) != len(devices):
            raise ValueError("two simulated devices have the same name")
        if len({d.dev_eui for d in devices}) != len(devices):
            raise ValueError("two simulated devices have the same DevEUI")
        self.client, self.kind, self.application = client, kind, application
        self.tenant, self.clock, self.timezone = tenant, clock, timezone
        self.loss, self.duplicates = loss, duplicates
        self.random = random.Random(seed)
        self.devices = {d.device: d for d in devices}
        self.counts = {d.device: RadioCounts() for d in devices}
        self.queues: dict[str, deque[Downlink]] = {d.device: deque() for d in devices}
        self.refused: list[str] = []
        """Downlink messages that could not be taken, each saying what and where."""
        start = clock.now()
        for device in devices:  # the first uplinks spread over one interval
            if device.next_uplink is None:
                device.next_uplink = start + device.interval * self.random.random()

    # --- downlinks -------------------------------------------------------------------

    def downlink_topics(self) -> list[str]:
        if self.kind == "chirpstack":
            return [f"application/{self.application}/device/+/command/down"]
        owner = self.application + ("" if self.tenant is None else f"@{self.tenant}")
        return [f"v3/{owner}/devices/+/down/push", f"v3/{owner}/devices/+/down/replace"]

    async def subscribe(self) -> None:
        for topic in self.downlink_topics():
            await self.client.subscribe(topic, qos=1)

    async def listen(self) -> None:
        """Take the downlinks that arrive, until cancelled."""
        async for message in self.client.messages:
            payload = message.payload
            self.receive(message.topic.value,
                         payload if isinstance(payload, bytes) else str(payload).encode())

    def receive(self, topic: str, message: bytes) -> None:
        """Queue the downlinks of one message on a downlink topic; a message that cannot
        be read changes nothing and is kept in ``refused``, saying what and where."""
        try:
            device, downlinks, replace = self._read_downlinks(topic, message)
        except (ValueError, KeyError) as error:
            self.refused.append(f"{topic}: {error}"[:300])
            return
        queue, counts = self.queues[device], self.counts[device]
        if replace:
            counts.downlinks_replaced += len(queue)
            queue.clear()
        queue.extend(downlinks)
        counts.downlinks_received[self._day()] += len(downlinks)

    def _read_downlinks(self, topic: str, message: bytes
                        ) -> tuple[str, list[Downlink], bool]:
        named = topic.split("/")[3]  # ChirpStack's DevEUI, The Things Stack's device id
        document = json.loads(message)
        if not isinstance(document, dict):
            raise ValueError("the message is not a JSON object")
        if self.kind == "chirpstack":
            if str(document.get("devEui", named)).lower() != named.lower():
                raise ValueError("devEui is not the topic's device")
            device = next((d.device for d in self.devices.values()
                           if d.dev_eui == named.lower()), "")
            items: Any = [document]
            replace = False
            ports, payloads, objects = "fPort", "data", "object"
        else:
            device = named if named in self.devices else ""
            replace = topic.endswith("/replace")
            items = document.get("downlinks")
            if not isinstance(items, list) or not items:
                raise ValueError("downlinks is not a list of downlinks")
            ports, payloads, objects = "f_port", "frm_payload", "decoded_payload"
        if not device:
            raise KeyError(f"no simulated device {named!r}")
        downlinks = []
        for item in items:
            if not isinstance(item, dict):
                raise ValueError(f"a downlink is not an object: {item!r:.40}")
            raw, fields = item.get(payloads), item.get(objects)
            if fields is not None and not isinstance(fields, dict):
                raise ValueError(f"{objects} is not an object")
            port = item.get(ports)
            if isinstance(port, bool) or not isinstance(port, int):
                raise ValueError(f"{ports} is not a whole number: {port!r:.40}")
            try:
                payload = None if raw is None else base64.b64decode(raw, validate=True)
            except (binascii.Error, TypeError):
                raise ValueError(f"{payloads} is not base64: {raw!r:.40}") from None
            downlinks.append(Downlink(port, payload=payload, fields=fields,
                                      confirmed=bool(item.get("confirmed", False))))
        return device, downlinks, replace

    # --- uplinks -----------------------------------------------------------------------

    async def run(self, until: datetime | None = None) -> None:
        """Publish every device's uplinks as the clock reaches them, until ``until`` (for
        ever without one). On a stepped clock, sleeping moves time to the next uplink."""
        while True:
            due = min(d.next_uplink for d in self.devices.values() if d.next_uplink)
            if until is not None and due > until:
                return
            await self.clock.sleep(max(0.0, (due - self.clock.now()).total_seconds()))
            await self.publish_due()

    async def publish_due(self, by: datetime | None = None) -> int:
        """Transmit the uplinks due by ``by``, the clock's now by default (a device late
        by several intervals transmits once per interval missed); returns how many uplink
        messages were published (a duplicate counts twice, a lost uplink not at all)."""
        now, published = by or self.clock.now(), 0
        for device in self.devices.values():
            while device.next_uplink is not None and device.next_uplink <= now:
                published += await self._transmit(device, device.next_uplink)
                swing = device.jitter * (2 * self.random.random() - 1)
                device.next_uplink += device.interval * (1 + swing)
        return published

    async def _transmit(self, device: SimulatedDevice, at: datetime) -> int:
        counts = self.counts[device.device]
        f_cnt = device.f_cnt
        device.f_cnt += 1
        device.battery = max(0.0, device.battery - device.drain)
        counts.sent += 1
        if self.random.random() < self.loss:
            counts.lost += 1
            return 0
        fields = {**device.readings(at), **device.settings}
        payload = None if device.encode is None else device.encode(
            {**fields, "battery": device.battery})
        gateways = [("passerelle-mairie", device.rssi + self.random.gauss(0, 2),
                     device.snr + self.random.gauss(0, 1))]
        twice = self.random.random() < self.duplicates
        if twice:
            gateways.append(("passerelle-eglise", device.rssi - 10 + self.random.gauss(0, 3),
                             device.snr - 4 + self.random.gauss(0, 1)))
        published = [await self._publish_uplink(device, at, f_cnt, fields, payload, gateway)
                     for gateway in gateways]
        if not any(published):
            counts.unpublished += 1
        if twice:
            counts.duplicated += 1
        if self.kind == "chirpstack":
            await self._publish_status(device, at)
        self._deliver(device, at)
        return sum(published)

    def _deliver(self, device: SimulatedDevice, at: datetime) -> None:
        """Class A: one queued downlink goes in the receive windows after an uplink."""
        queue = self.queues[device.device]
        if not queue:
            return
        downlink = queue.popleft()
        self.counts[device.device].downlinks_delivered[self._day(at)] += 1
        try:
            device.settings.update(device.on_downlink(downlink))
        except ValueError:
            self.counts[device.device].downlinks_ignored += 1

    async def _publish_uplink(self, device: SimulatedDevice, at: datetime, f_cnt: int,
                              fields: Mapping[str, float], payload: bytes | None,
                              gateway: tuple[str, float, float]) -> bool:
        name, rssi, snr = gateway[0], round(gateway[1]), round(gateway[2], 1)
        moment = at.isoformat()
        frame = None if payload is None else base64.b64encode(payload).decode("ascii")
        document: dict[str, Any]
        if self.kind == "chirpstack":
            topic = f"application/{self.application}/device/{device.dev_eui}/event/up"
            document = {
                "time": moment,
                "deviceInfo": {"applicationId": self.application,
                               "deviceName": device.device, "devEui": device.dev_eui},
                "fCnt": f_cnt, "fPort": device.f_port,
                **({"object": dict(fields)} if frame is None else {"data": frame}),
                "rxInfo": [{"gatewayId": name, "rssi": rssi, "snr": snr}],
            }
        else:
            owner = self.application + ("" if self.tenant is None else f"@{self.tenant}")
            topic = f"v3/{owner}/devices/{device.device}/up"
            document = {
                "end_device_ids": {"device_id": device.device,
                                   "application_ids": {"application_id": self.application},
                                   "dev_eui": device.dev_eui.upper()},
                "received_at": moment,
                "uplink_message": {
                    "f_port": device.f_port, "f_cnt": f_cnt,
                    **({"decoded_payload": dict(fields)} if frame is None
                       else {"frm_payload": frame}),
                    "rx_metadata": [{"gateway_ids": {"gateway_id": name}, "rssi": rssi,
                                     "snr": snr}],
                    "received_at": moment,
                    "last_battery_percentage": {"f_cnt": f_cnt, "value": device.battery,
                                                "received_at": moment},
                },
            }
        return await self._publish(topic, document)

    async def _publish_status(self, device: SimulatedDevice, at: datetime) -> None:
        """ChirpStack reports the battery in a ``status`` event of its own."""
        topic = f"application/{self.application}/device/{device.dev_eui}/event/status"
        document = {"time": at.isoformat(),
                    "deviceInfo": {"applicationId": self.application, "devEui": device.dev_eui},
                    "margin": round(device.snr), "batteryLevel": round(device.battery, 2)}
        await self._publish(topic, document)

    async def _publish(self, topic: str, document: Mapping[str, Any]) -> bool:
        """Publish at QoS 1; False when the broker cannot be reached: the message is lost,
        as an integration's that fails to publish, and the server goes on."""
        try:
            await self.client.publish(topic, json.dumps(document), qos=1)
        except aiomqtt.MqttError:
            return False
        return True

    def _day(self, at: datetime | None = None) -> date:
        return (at or self.clock.now()).astimezone(self.timezone).date()
