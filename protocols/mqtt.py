"""MQTT: points whose devices publish when they want (wireless bridges, LoRaWAN network
servers), read from the latest message of their topic and commanded by publishing.

The driver lives in the engine's event loop (aiomqtt, on paho-mqtt). One background task
holds the connection to the site's broker: it subscribes to every bound topic each time it
connects (and asks the broker to keep the session, so that QoS 1 messages published while
the engine was away are delivered when it comes back), keeps the latest value of each
point with the moment it arrived, and after a failure tries again after a delay that
doubles up to a cap, with jitter, so that a syndicate's engines do not all knock at once
when their broker comes back. ``read`` never waits on the broker: it answers from what the
messages said, and says why when they say nothing believable.

A point with an expected ``interval`` is stale once two expected messages are missing.
LoRaWAN points (ChirpStack, The Things Stack) are read elsewhere
(``protocols.lorawan_points``): this module subscribes to their devices' topics and hands
their messages over, with the moment each arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import ssl
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.reasoncodes import ReasonCode

from gtb.model import PointRef
from gtb.model.lorawan import LorawanBinding
from gtb.model.mqtt import VALUE_FIELD, MqttBinding, MqttBroker
from gtb.texts import Reason
from protocols.base import BindingProblem, DeviceRejected, DeviceTimeout, Driver, Reading
from protocols.lorawan_points import LorawanPoints
from protocols.lorawan_tracking import LATE_ALLOWANCE

STALE_AFTER_INTERVALS = 2 + LATE_ALLOWANCE
"""Intervals without a message before a point's last value is no longer believed: two
expected messages missed, each half an interval late (a device's jitter is no loss), as
for a LoRaWAN device (``protocols.lorawan_tracking``)."""

_QUOTED = 60
"""Characters of a bad payload quoted in its reason: enough to recognise it."""

_WORDS = {"on": 1.0, "true": 1.0, "off": 0.0, "false": 0.0}
"""Texts that devices publish for a binary state (Zigbee2MQTT ``"ON"``, Shelly ``on``)."""

_REFUSED_LOGIN = frozenset({4, 5, 134, 135})
"""CONNACK codes of a client the broker will not let in: a bad user name or password, or
not authorised (MQTT 3.1.1 and 5; Mosquitto answers a wrong password with 5)."""


class PayloadError(ValueError):
    """A message that holds no believable value for a point; the reason says why."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.fr)
        self.reason = reason


def extract(binding: MqttBinding, payload: bytes) -> float:
    """The point's SI value in a message: the number at ``json_path`` (or the bare
    payload), ``true``/``false``/``on``/``off`` as 1 and 0, scaled; ``PayloadError``
    for anything else, NaN and infinities included."""
    text = payload.decode("utf-8", errors="replace")
    quoted = text if len(text) <= _QUOTED else text[:_QUOTED] + "…"
    path = binding.json_path or Reason.of("mqtt.bare_value").fr
    try:
        found: Any = json.loads(text)
    except ValueError:
        if binding.json_path is not None:
            raise PayloadError(Reason.of("mqtt.not_json", topic=binding.topic,
                                         payload=quoted)) from None
        found = text.strip()  # a bare value need not be JSON: on, off
    for step in binding.steps:
        fits = (isinstance(found, list) and isinstance(step, int) and step < len(found)) or (
            isinstance(found, dict) and isinstance(step, str) and step in found)
        if not fits:
            raise PayloadError(Reason.of("mqtt.no_path", topic=binding.topic, path=path,
                                         payload=quoted))
        found = found[step]
    raw = _number(found)
    if raw is None or not math.isfinite(raw):
        shown = json.dumps(found, ensure_ascii=False)
        raise PayloadError(Reason.of("mqtt.not_number", topic=binding.topic, path=path,
                                     found=shown if len(shown) <= _QUOTED
                                     else shown[:_QUOTED] + "…"))
    return raw * binding.scale + binding.offset


def _number(found: Any) -> float | None:
    if isinstance(found, bool):
        return float(found)
    if isinstance(found, int | float):
        return float(found)
    if isinstance(found, str):
        if found.lower() in _WORDS:
            return _WORDS[found.lower()]
        with contextlib.suppress(ValueError):
            return float(found)
    return None


def command_payload(binding: MqttBinding, value: float) -> str:
    """The payload that commands ``value``: the template with the raw value in place of
    ``{value}``, written as JSON writes a number (``21.5``, ``1``)."""
    raw = (value - binding.offset) / binding.scale
    if not math.isfinite(raw):
        raise ValueError(f"{value} cannot be published as a number")
    text = str(int(raw)) if raw.is_integer() and abs(raw) < 2**53 else repr(raw)
    return binding.payload.replace(VALUE_FIELD, text)


def tls_context(broker: MqttBroker) -> ssl.SSLContext | None:
    """The TLS settings of the broker (its CA, the engine's certificate); None without
    TLS. A file that is missing or is not PEM is a ValueError naming the field."""
    if not broker.tls:
        return None
    try:
        context = ssl.create_default_context(
            cafile=None if broker.ca_file is None else str(broker.ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"mqtt.ca_file {broker.ca_file}: {exc}") from None
    if broker.cert_file is not None:
        try:
            context.load_cert_chain(str(broker.cert_file), None if broker.key_file is None
                                    else str(broker.key_file))
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"mqtt.cert_file {broker.cert_file}, key_file "
                             f"{broker.key_file}: {exc}") from None
    return context


@dataclass(frozen=True)
class Backoff:
    """Seconds between attempts to reach the broker: ``first``, doubled after each
    failure up to ``longest``; each wait drawn between half and all of it (jitter)."""

    first: float = 1.0
    longest: float = 60.0

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.longest:
            raise ValueError(f"backoff needs 0 < first <= longest, not {self.first}, "
                             f"{self.longest}")

    def wait(self, failures: int) -> float:
        ceiling = min(self.longest, self.first * 2 ** min(failures, 30))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class _Arrival:
    """What the latest message of a topic said of one point, and when it came."""

    at: datetime
    value: float | None
    error: str | None


class MqttDriver(Driver):
    """The site's broker: subscribed to every bound topic and LoRaWAN device, read from
    the latest messages."""

    def __init__(self, broker: MqttBroker, points: Sequence[PointRef], *,
                 now: Callable[[], datetime], client_id: str, password: str | None = None,
                 lorawan: LorawanPoints | None = None, backoff: Backoff = Backoff(),
                 timeout_s: float = 10.0, write_timeout_s: float = 2.0) -> None:
        """``points``: every MQTT point of the site, whose topics are subscribed to, and
        its LoRaWAN points;
        ``now``: the engine's clock (arrival times, staleness); ``password``: from the
        environment (``GTB_MQTT_PASSWORD``), never the site file; ``lorawan``: the
        site's LoRaWAN devices and points, whose messages it is handed; ``timeout_s``: for
        connecting and subscribing, in the background; ``write_timeout_s``: for the
        broker's acknowledgement of a command, which the tick waits for."""
        self._broker = broker
        self._tls = tls_context(broker)
        self._now = now
        self._client_id = client_id
        self._password = password
        self._backoff = backoff
        self._timeout_s = timeout_s
        self._write_timeout_s = write_timeout_s
        self._by_topic: dict[str, list[PointRef]] = defaultdict(list)
        for ref in points:
            if not isinstance(ref.binding, LorawanBinding):
                self._by_topic[_binding(ref).topic].append(ref)
        self._lorawan = lorawan
        self._latest: dict[str, _Arrival] = {}
        self._refused: set[str] = set()
        self._client: aiomqtt.Client | None = None
        self._cause = "pas encore de connexion"
        self._task: asyncio.Task[None] | None = None
        self.connections = 0
        """How many times the broker was reached and every topic subscribed to."""
        self.failures = 0
        """How many attempts in a row have failed to reach the broker (0 once connected):
        the next wait is the backoff's for that many."""

    @property
    def broker(self) -> str:
        """Where the broker is, and whether over TLS, as the engine's start says it."""
        return f"{self._broker.address}{' (TLS)' if self._broker.tls else ''}"

    @property
    def connected(self) -> bool:
        return self._client is not None

    def last_uplink(self, device: str) -> datetime | None:
        """When the LoRaWAN device was last heard (its latest current uplink's arrival);
        None before its first, or without LoRaWAN devices."""
        return None if self._lorawan is None else self._lorawan.last_uplink(device)

    def downlinks_today(self, device: str, now: datetime) -> int:
        """The LoRaWAN device's downlinks published on the local day of ``now``."""
        return 0 if self._lorawan is None else self._lorawan.downlinks_today(device, now)

    async def start(self) -> None:
        """Start connecting in the background: the engine's first tick does not wait for
        the broker, whose points read as unreachable until it answers."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._hold_connection())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._client = None

    async def read(self, points: Sequence[PointRef]) -> dict[str, Reading]:
        now = self._now()
        return {ref.key: self._reading(ref, now) for ref in points}

    async def write(self, point: PointRef, value: float) -> None:
        if isinstance(point.binding, LorawanBinding):
            await self._command_lorawan(point, value)
            return
        binding = _binding(point)
        if binding.command_topic is None:
            raise DeviceRejected(f"{point.key}: no command_topic to publish on")
        try:
            payload = command_payload(binding, value)
        except ValueError as exc:
            raise DeviceRejected(f"{point.key}: {exc}") from None
        await self._publish(point, binding.command_topic, payload, qos=binding.qos,
                            retain=binding.retain)

    async def _command_lorawan(self, point: PointRef, value: float) -> None:
        """Publish the downlink at once: the network server holds it until the device's
        next uplink (class A). Counted against the device's budget once the broker took
        it; nothing is published for a value already waiting or reported."""
        if self._lorawan is None:
            raise TypeError(f"{point.key}: the driver has no LoRaWAN devices")
        now = self._now()
        planned = self._lorawan.downlink(point, value, now)
        if planned is None:
            return
        await self._publish(point, planned.topic, planned.payload, qos=1, retain=False)
        self._lorawan.published(point, value, planned, now)

    async def _publish(self, point: PointRef, topic: str, payload: str | bytes, *, qos: int,
                       retain: bool) -> None:
        client = self._client
        if client is None:
            raise DeviceTimeout(self._unreachable().fr)
        try:
            await client.publish(topic, payload, qos=qos, retain=retain,
                                 timeout=self._write_timeout_s)
        except aiomqtt.MqttError as exc:
            raise DeviceTimeout(f"{point.key}: publishing on {topic} failed: {exc}") from None

    def reads_back(self, point: PointRef, value: float) -> float:
        """A LoRaWAN device reports what its codec could send (the WT101's whole degrees);
        an MQTT device, what it was sent."""
        if isinstance(point.binding, LorawanBinding) and self._lorawan is not None:
            return self._lorawan.reads_back(point, value)
        return value

    async def release(self, point: PointRef) -> None:
        """Nothing to do: MQTT and LoRaWAN have no command priorities, so the device
        keeps the last value published. Publishes nothing."""
        _ours(point)

    async def verify(self, point: PointRef) -> list[BindingProblem]:
        """Nothing to ask: a device publishes when it wants, and the site file already
        said everything its binding can be checked for. A subscription the broker refuses
        reads as such."""
        _ours(point)
        return []

    # -- what a point reads -----------------------------------------------------------------

    def _reading(self, ref: PointRef, now: datetime) -> Reading:
        lorawan = self._lorawan if isinstance(ref.binding, LorawanBinding) else None
        topic = _binding(ref).topic if lorawan is None else lorawan.uplink_topic(ref)
        if topic in self._refused:
            return Reading.failed(Reason.of("mqtt.subscription_refused", topic=topic).fr)
        if lorawan is not None:
            # A device's last uplink stays as true with the broker away as with the device
            # silent: believed until two expected uplinks are missed, then failed, saying
            # the broker is the likelier cause.
            reading = lorawan.reading(ref, now)
            if self._client is None and reading.error is not None:
                return Reading.failed(self._unreachable().fr)
            return reading
        if self._client is None:
            return Reading.failed(self._unreachable().fr)
        binding = _binding(ref)
        arrival = self._latest.get(ref.key)
        if arrival is None:
            return Reading.failed(Reason.of("mqtt.nothing_yet", topic=binding.topic).fr)
        if arrival.error is not None:
            return Reading.failed(arrival.error)
        age = (now - arrival.at).total_seconds()
        if binding.interval is not None and age >= STALE_AFTER_INTERVALS * binding.interval:
            return Reading.failed(Reason.of("mqtt.silent", topic=binding.topic, age=age,
                                            interval=binding.interval).fr)
        return Reading(arrival.value, at=arrival.at)

    def _unreachable(self) -> Reason:
        return Reason.of("mqtt.unreachable", broker=self._broker.address, cause=self._cause)

    def receive(self, topic: str, payload: bytes) -> None:
        """Keep what a message says of each point of its topic, with its arrival time."""
        at = self._now()
        if self._lorawan is not None and self._lorawan.receive(topic, payload, at):
            return
        for ref in self._by_topic.get(topic, ()):
            try:
                value = extract(_binding(ref), payload)
            except PayloadError as exc:
                self._latest[ref.key] = _Arrival(at, None, str(exc))
            else:
                self._latest[ref.key] = _Arrival(at, value, None)

    # -- the connection ---------------------------------------------------------------------

    async def _hold_connection(self) -> None:
        while True:
            try:
                async with self._new_client() as client:
                    await self._subscribe(client)
                    self._client = client
                    self.connections += 1
                    self.failures = 0
                    async for message in client.messages:
                        self.receive(message.topic.value, _bytes(message.payload))
            except aiomqtt.MqttError as exc:
                self._cause = self._why(exc)
            except Exception as exc:  # a message this code did not foresee: try again
                self._cause = f"{type(exc).__name__}: {exc}"
            finally:
                self._client = None
            await asyncio.sleep(self._backoff.wait(self.failures))
            self.failures += 1

    def _new_client(self) -> aiomqtt.Client:
        host, port = self._broker.address.rsplit(":", 1)
        return aiomqtt.Client(
            host, int(port), identifier=self._client_id, username=self._broker.username,
            password=self._password, tls_context=self._tls, clean_session=False,
            keepalive=self._broker.keepalive_s, timeout=self._timeout_s)

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        """Every topic, at each connection: a broker that restarted without keeping its
        sessions has forgotten them. Topics the broker refuses in its answer are
        remembered, and their points say so; Mosquitto 2.0 accepts every subscription and
        leaves out what its access list denies, so such points read as never published."""
        topics = sorted({*self._by_topic, *(self._lorawan.topics if self._lorawan else ())})
        if not topics:
            return
        granted: list[int | ReasonCode] = list(await client.subscribe(
            [(topic, 1) for topic in topics], timeout=self._timeout_s))
        self._refused = {topic for topic, code in zip(topics, granted, strict=True)
                         if _refused(code)}

    def _why(self, exc: aiomqtt.MqttError) -> str:
        user = self._broker.username or "anonyme"
        code = getattr(exc, "rc", None)
        number = code.value if isinstance(code, ReasonCode) else code
        if isinstance(exc, MqttConnectError) and number in _REFUSED_LOGIN:
            return Reason.of("mqtt.bad_login", user=user).fr
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return Reason.of("mqtt.untrusted", cause=text).fr
        return text


def _refused(code: int | ReasonCode) -> bool:
    return code.is_failure if isinstance(code, ReasonCode) else code >= 0x80


def _bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode("utf-8")


def _ours(point: PointRef) -> None:
    if not isinstance(point.binding, MqttBinding | LorawanBinding):
        raise TypeError(f"{point.key} is not an MQTT or LoRaWAN point")


def _binding(point: PointRef) -> MqttBinding:
    binding = point.binding
    if not isinstance(binding, MqttBinding):
        raise TypeError(f"{point.key} is not an MQTT point")
    return binding
