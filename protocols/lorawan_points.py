"""LoRaWAN points: what the MQTT driver hands over of a network server's messages, turned
into the latest value of each point bound to a device's field.

The MQTT driver (``protocols/mqtt.py``) subscribes to each device's topics and passes every
message of them here with the moment it arrived. Each message is read by
``protocols.lorawan.parse``; each uplink is judged by its device's ``UplinkTracker``
before its values are used: a duplicate (a second gateway, a redelivery) is dropped, a
late one never overwrites newer values, a reset (a rejoin) starts a new sequence. A
device is stale when it misses two expected uplinks, by its own interval, not by the
polling rule of BACnet. A message that cannot be read never raises: its reason is kept for
the device's points until the next good uplink.

A command becomes a downlink in the network server's format, which the server holds until
the device's next uplink (class A); the device's downlinks are counted per local day
(``DownlinkCounts``: the store's, so that a restart does not spend the day's budget
again) and refused beyond its budget. The point reads what the device reports: its former
value until an uplink reports the one commanded (a waiting command is not a failed
reading, which would raise the point's read alarm at every command), with the wait
(``Reading.pending``) for the engine to show; the same value again, while it waits or
once reported, sends nothing.

When the wait is over: the downlink goes in the receive windows of the first uplink after
it was published (after those queued before it, on ChirpStack, which queues them all),
and the device reports what it applied in the uplink after that. A report there that
disagrees (the downlink was lost on the air, or someone turned the valve's knob by hand)
ends the wait: the next command of the same value sends it again, counted in the budget,
until ``MAX_TRIES`` sends have disagreed; then it is refused, saying why.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Protocol

from gtb.model import PointRef
from gtb.model.lorawan import LorawanBinding, LorawanDevice
from gtb.texts import Reason
from protocols.base import DeviceRejected, Pending, Reading
from protocols.lorawan import (
    DeviceEvent,
    Downlink,
    Uplink,
    UplinkError,
    chirpstack_downlink,
    parse,
    tts_downlink,
)
from protocols.lorawan_devices import wt101_decode, wt101_set_target
from protocols.lorawan_tracking import UplinkTracker

_QUOTED = 60
"""Characters of a bad value quoted in its reason."""


@dataclass(frozen=True)
class _Latest:
    """What the latest message of its device said of one point, and when it came."""

    at: datetime
    value: float | None
    error: Reason | None


MAX_TRIES = 3
"""Sends of one command whose reports disagreed, after which it is no longer sent."""

_REPORTED_IN = 2
"""The uplink after publication that reports a downlink: class A delivers it in the
receive windows of the first, and the device reports what it applied in the second."""


@dataclass(frozen=True)
class _Pending:
    """A command published, waiting for an uplink that reports it: ``value`` as
    commanded, ``expected`` as the device will report it (the WT101 takes whole
    degrees)."""

    value: float
    expected: float
    sent_at: datetime
    tries: int
    """Sends of this value in a row, this one included (a send again after a report
    that disagreed)."""
    reported_in: int
    """The device's uplink after publication that reports it: ``_REPORTED_IN``, later
    behind downlinks queued before it (ChirpStack delivers its queue one an uplink)."""
    uplinks: int = 0
    """The device's uplinks since publication (duplicates and late ones not counted)."""
    delivered_at: datetime | None = None
    """When the uplink in whose receive windows it went arrived."""
    disagreed: float | None = None
    """What the device reported instead, in the uplink that should have reported it: the
    wait is over, and the same command sends it again."""

    @property
    def waiting(self) -> bool:
        return self.disagreed is None


class DownlinkCounts(Protocol):
    """Each device's downlinks per local day, kept where a restart finds them again (the
    store's ``downlinks``)."""

    def sent(self, device: str, day: date) -> int:
        """The device's downlinks published on ``day``."""
        ...

    def add(self, device: str, day: date) -> int:
        """Count one more on ``day``; returns the day's count."""
        ...


class CountedInMemory:
    """``DownlinkCounts`` for as long as the process runs: for what does not restart (the
    tests of the codecs, a benchmark's month)."""

    def __init__(self) -> None:
        self._sent: dict[tuple[str, date], int] = {}

    def sent(self, device: str, day: date) -> int:
        return self._sent.get((device, day), 0)

    def add(self, device: str, day: date) -> int:
        self._sent[device, day] = self.sent(device, day) + 1
        return self._sent[device, day]


@dataclass(frozen=True)
class PlannedDownlink:
    """What to publish for a command: the network server's topic and JSON."""

    topic: str
    payload: bytes
    expected: float


class LorawanPoints:
    """The site's LoRaWAN devices and their points, fed with the messages that arrive."""

    def __init__(self, devices: Sequence[LorawanDevice], points: Sequence[PointRef],
                 tz: tzinfo, counts: DownlinkCounts | None = None) -> None:
        """``devices``: the site's ``lorawan:``; ``points``: its ``protocol: lorawan``
        points, each naming one of them; ``tz``: where moments are said (the site's);
        ``counts``: the downlinks of each day, in memory without it."""
        self._devices = {device.id: device for device in devices}
        self._tz = tz
        self._by_topic = {topic: device for device in devices for topic in device.topics}
        self._points: dict[str, list[PointRef]] = defaultdict(list)
        self._refs = {ref.key: ref for ref in points}
        for ref in points:
            binding = lorawan_binding(ref)
            if binding.device not in self._devices:
                raise ValueError(f"{ref.key}: no LoRaWAN device {binding.device!r}")
            self._points[binding.device].append(ref)
        self.trackers = {device.id: UplinkTracker(timedelta(seconds=device.interval_s))
                         for device in devices}
        """Each device's frame counters: duplicates, late and lost uplinks, resets."""
        self._latest: dict[str, _Latest] = {}
        self._pending: dict[str, _Pending] = {}
        self._counts = counts if counts is not None else CountedInMemory()

    def resume(self, heard: Mapping[str, tuple[float, datetime]]) -> None:
        """Carry on from before a restart: each point's last value read from an uplink, and
        when it arrived (the store's newest good sample), so that a point reads it until
        its device is stale, as if the engine had not stopped, instead of failing (and
        alarming) until each device's next uplink. A point that has heard an uplink since
        keeps it."""
        for key, (value, arrival) in heard.items():
            ref = self._refs.get(key)
            if ref is None or key in self._latest:
                continue
            self._latest[key] = _Latest(arrival, value, None)
            self.trackers[lorawan_binding(ref).device].resume(arrival)

    @property
    def topics(self) -> list[str]:
        """Every topic to subscribe to: each device's uplinks, joins and status."""
        return sorted(self._by_topic)

    def uplink_topic(self, ref: PointRef) -> str:
        return self._devices[lorawan_binding(ref).device].topics[0]

    def receive(self, topic: str, payload: bytes, at: datetime) -> bool:
        """Take a message that arrived at ``at``; whether its topic is a device's."""
        device = self._by_topic.get(topic)
        if device is None:
            return False
        try:
            event = parse(topic, payload, at)
            if isinstance(event, Uplink):
                self._uplink(device, event)
            elif isinstance(event, DeviceEvent):
                self._event(device, event)
        except UplinkError as exc:
            self._say(device, at, Reason.of("lorawan.bad_message", device=device.id,
                                            error=str(exc)))
        return True

    def reading(self, ref: PointRef, now: datetime) -> Reading:
        """The point's latest value as the device reported it, with its arrival time, or
        why there is none: its device silent, no uplink yet, a bad message."""
        device = self._devices[lorawan_binding(ref).device]
        tracker = self.trackers[device.id]
        if tracker.stale(now) and tracker.last_arrival is not None:
            return Reading.failed(Reason.of(
                "lorawan.silent", device=device.id, at=now.astimezone(self._tz),
                since=tracker.last_arrival.astimezone(self._tz),
                interval=device.interval_s / 60).fr)
        # A command waiting for its report does not change what the point reads: the
        # device holds its former value until its next uplink, and saying so as a failed
        # reading would raise the point's read alarm at every command. The wait is said
        # beside it.
        pending = self._waiting(ref, device, now)
        latest = self._latest.get(ref.key)
        if latest is None:
            return Reading(None, Reason.of("lorawan.nothing_yet", device=device.id).fr,
                           pending=pending)
        if latest.error is not None:
            return Reading(None, latest.error.fr, pending=pending)
        assert latest.value is not None
        return Reading(latest.value, at=latest.at, pending=pending)

    def _waiting(self, ref: PointRef, device: LorawanDevice, now: datetime) -> Pending | None:
        """The point's command waiting for its report, with when the report is expected:
        the device's next uplink after the send (its last + whole intervals), then one an
        interval for each still to come."""
        pending = self._pending.get(ref.key)
        if pending is None or not pending.waiting:
            return None
        last = self.trackers[device.id].last_arrival
        interval = timedelta(seconds=device.interval_s)
        due = None
        if last is not None:
            since = 1 if pending.uplinks else max(1, math.ceil((pending.sent_at - last)
                                                               / interval))
            due = last + (since + pending.reported_in - pending.uplinks - 1) * interval
        unit = ref.point.si_unit
        said = {"point": ref.point.id, "value": pending.expected,  # as the device took it
                "unit": f" {unit}" if unit else "", "device": device.id,
                "sent": pending.sent_at.astimezone(self._tz),
                "due": None if due is None else due.astimezone(self._tz),
                "at": now.astimezone(self._tz),
                "attempt": Reason.of("empty") if pending.tries == 1 else Reason.of(
                    "lorawan.attempt", tries=pending.tries, most=MAX_TRIES)}
        if due is None:
            why = Reason.of("lorawan.waiting_unheard", **said)
        elif pending.delivered_at is None:
            why = Reason.of("lorawan.waiting", **said)
        else:
            why = Reason.of("lorawan.delivered",
                            delivered=pending.delivered_at.astimezone(self._tz), **said)
        return Pending(pending.value, pending.sent_at, due, why)

    def last_uplink(self, device_id: str) -> datetime | None:
        """When the device's latest current uplink arrived; None before its first."""
        return self.trackers[device_id].last_arrival

    def downlinks_today(self, device_id: str, now: datetime) -> int:
        """The device's downlinks published on the local day of ``now``."""
        return self._counts.sent(device_id, now.astimezone(self._tz).date())

    def downlink(self, ref: PointRef, value: float, now: datetime) -> PlannedDownlink | None:
        """The downlink that commands ``value``; ``None`` when it is the value already
        waiting, or the one the device reports with none waiting (a command whose report
        disagreed is then forgotten: the device holds what is wanted). ``DeviceRejected``
        when the device's downlinks of the day are spent, its codec cannot encode it, or
        ``MAX_TRIES`` sends of it were reported otherwise."""
        binding = lorawan_binding(ref)
        device = self._devices[binding.device]
        planned = _encoded(device, binding, value)
        pending, latest = self._pending.get(ref.key), self._latest.get(ref.key)
        same = pending is not None and _alike(pending.expected, planned.expected)
        if pending is not None and pending.waiting and same:
            return None
        if pending is not None and not pending.waiting and same:
            if pending.tries >= MAX_TRIES:
                raise DeviceRejected(self._not_applied(ref, device, pending))
        elif (pending is None or not pending.waiting) and latest is not None and (
                latest.value is not None and _alike(latest.value, planned.expected)):
            self._pending.pop(ref.key, None)
            return None
        if self.downlinks_today(device.id, now) >= device.downlinks_per_day:
            raise DeviceRejected(Reason.of(
                "lorawan.budget", device=device.id, budget=device.downlinks_per_day,
                day=now.astimezone(self._tz).date(), value=value).fr)
        return planned

    def reads_back(self, ref: PointRef, value: float) -> float:
        """What the device will report for ``value`` once it applied it (the WT101 takes
        whole degrees); ``value`` for a command its codec cannot send."""
        binding = lorawan_binding(ref)
        try:
            return _encoded(self._devices[binding.device], binding, value).expected
        except DeviceRejected:
            return value

    def _not_applied(self, ref: PointRef, device: LorawanDevice, pending: _Pending) -> str:
        unit = ref.point.si_unit
        return Reason.of("lorawan.not_applied", device=device.id, point=ref.point.id,
                         value=pending.expected, unit=f" {unit}" if unit else "",
                         tries=pending.tries, reported=pending.disagreed).fr

    def published(self, ref: PointRef, value: float, planned: PlannedDownlink,
                  now: datetime) -> None:
        """Count a downlink the broker took, and wait for an uplink that reports it: a
        send again of a command whose report disagreed is one more try of it."""
        device = self._devices[lorawan_binding(ref).device]
        self._counts.add(device.id, now.astimezone(self._tz).date())
        before = self._pending.get(ref.key)
        again = (before is not None and not before.waiting
                 and _alike(before.expected, planned.expected))
        self._pending[ref.key] = _Pending(
            value, planned.expected, now, tries=before.tries + 1 if again and before else 1,
            reported_in=_REPORTED_IN + self._queued(device))

    def _queued(self, device: LorawanDevice) -> int:
        """Uplinks until the device's downlinks published before are all delivered:
        ChirpStack queues every downlink and delivers one an uplink; The Things Stack's
        ``replace`` leaves only the newest."""
        if device.network_server != "chirpstack":
            return 0
        return max([0, *(pending.reported_in - 1 - pending.uplinks
                         for ref in self._points[device.id]
                         if (pending := self._pending.get(ref.key)) is not None
                         and pending.waiting)])

    def _uplink(self, device: LorawanDevice, uplink: Uplink) -> None:
        if not self.trackers[device.id].observe(uplink).current:
            return  # a duplicate, or late: the newer values stand
        uplink = replace(uplink, fields=_decoded(device, uplink))
        for ref in self._points[device.id]:
            pending = self._pending.get(ref.key)
            if pending is not None and pending.waiting:
                uplinks = pending.uplinks + 1
                self._pending[ref.key] = replace(
                    pending, uplinks=uplinks, delivered_at=uplink.received_at
                    if uplinks == pending.reported_in - 1 else pending.delivered_at)
        for ref in self._points[device.id]:
            binding = lorawan_binding(ref)
            try:
                raw = _field(binding.field, uplink)
            except UplinkError as exc:
                self._latest[ref.key] = _Latest(uplink.received_at, None, Reason.of(
                    "lorawan.not_number", device=device.id, field=binding.field,
                    found=str(exc)[:_QUOTED]))
                continue
            if raw is not None:
                value = raw * binding.scale + binding.offset
                self._latest[ref.key] = _Latest(uplink.received_at, value, None)
                self._judge_report(ref.key, value)
            elif ref.key not in self._latest or self._latest[ref.key].error is not None:
                self._latest[ref.key] = _Latest(uplink.received_at, None, Reason.of(
                    "lorawan.no_field", device=device.id, field=binding.field))

    def _judge_report(self, key: str, value: float) -> None:
        """An uplink's report of a command point: the command waited for applied, or,
        from the uplink that should report it, another value (the wait is over)."""
        pending = self._pending.get(key)
        if pending is None:
            return
        if _alike(value, pending.expected):
            del self._pending[key]
        elif pending.waiting and pending.uplinks >= pending.reported_in:
            self._pending[key] = replace(pending, disagreed=value)

    def _event(self, device: LorawanDevice, event: DeviceEvent) -> None:
        if event.kind == "join":
            self.trackers[device.id].joined()
        if event.battery is None:
            return
        for ref in self._points[device.id]:
            binding = lorawan_binding(ref)
            if binding.field == "battery":
                self._latest[ref.key] = _Latest(
                    event.received_at, event.battery * binding.scale + binding.offset, None)

    def _say(self, device: LorawanDevice, at: datetime, reason: Reason) -> None:
        for ref in self._points[device.id]:
            self._latest[ref.key] = _Latest(at, None, reason)


def _encoded(device: LorawanDevice, binding: LorawanBinding, value: float) -> PlannedDownlink:
    """The downlink that commands ``value``, and the value the device will report for it."""
    raw = (value - binding.offset) / binding.scale
    try:
        if device.codec == "milesight-wt101":
            downlink, reported = wt101_set_target(raw), float(round(raw))
        else:
            assert binding.command_field is not None and binding.command_port is not None
            downlink = Downlink(binding.command_port, fields={binding.command_field: raw})
            reported = raw
        if device.network_server == "chirpstack":
            topic, payload = chirpstack_downlink(device.application, device.name, downlink)
        else:  # a newer setpoint replaces one still waiting in the queue
            topic, payload = tts_downlink(device.application, device.name, downlink,
                                          tenant=device.tenant, replace=True)
    except ValueError as exc:
        raise DeviceRejected(f"{device.id}: {exc}") from None
    return PlannedDownlink(topic, payload, reported * binding.scale + binding.offset)


def _decoded(device: LorawanDevice, uplink: Uplink) -> Mapping[str, Any]:
    """The uplink's fields: the network server's decoded object, or the frame's bytes
    decoded by the engine's own codec of the device."""
    if device.codec == "server":
        return uplink.fields
    if uplink.payload is None:
        raise UplinkError(f"{device.id}: the uplink carries no bytes to decode "
                          f"({device.codec})")
    return wt101_decode(uplink.payload)


def _field(name: str, uplink: Uplink) -> float | None:
    """The raw number a field names in an uplink; ``None`` when the uplink does not carry
    it (a report of some channels only, no gateway metadata): the previous value stands.
    ``battery`` is the decoded one, else what the device told the network server;
    ``rssi`` and ``snr`` the best over the gateways."""
    if name in ("rssi", "snr"):
        return uplink.signal().get(name)
    try:
        return uplink.value(name)
    except KeyError:
        return uplink.battery if name == "battery" else None


def _alike(reported: float, expected: float) -> bool:
    return math.isclose(reported, expected, abs_tol=1e-6)


def lorawan_binding(point: PointRef) -> LorawanBinding:
    binding = point.binding
    if not isinstance(binding, LorawanBinding):
        raise TypeError(f"{point.key} is not a LoRaWAN point")
    return binding
