"""Alarms that follow what was read: devices and points that fail, watched thresholds,
LoRaWAN devices' batteries and radio links; and commands arbitration had to replace
because they were not numbers.

An alarm is raised once, stays active while its condition lasts, survives a restart of
the engine (it is in the store), and is cleared, with an event, when its condition ends.
"""

from __future__ import annotations

import statistics
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from controllers.monitoring import WatchChange, WatchState, evaluate
from gtb.engine.arbitration import FALLBACK, Command
from gtb.engine.journal import Journal, where_of
from gtb.engine.reading import Snapshot
from gtb.model import PointRef
from gtb.model.lorawan import LorawanBinding, LorawanDevice
from gtb.model.points import Quality, Role, Severity
from gtb.store import Store
from gtb.store.audit import Alarm
from gtb.store.samples import Sample
from gtb.texts import Reason, said

Endpoint = tuple[str, str, int]
"""A device: protocol, address and unit (Modbus) or device instance (BACnet)."""


class FaultAlarms:
    """One alarm per dead device (every point of it failed), else one per failed point;
    cleared when it reads again. ``dead`` tells the writer which devices to spare."""

    def __init__(self, refs: Mapping[str, PointRef], store: Store, journal: Journal,
                 cause: Callable[[str], str]) -> None:
        self._refs = refs
        self._store = store
        self._journal = journal
        self._cause = cause
        self._device_size: dict[Endpoint, int] = defaultdict(int)
        for ref in refs.values():
            self._device_size[ref.binding.endpoint] += 1
        self.dead: set[Endpoint] = set()

    def follow(self, now: datetime, snapshot: Snapshot, active: Mapping[str, Alarm]) -> None:
        failed = [k for k, q in snapshot.quality.items() if q is Quality.FAILED]
        by_device: dict[Endpoint, list[str]] = defaultdict(list)
        for key in failed:
            by_device[self._refs[key].binding.endpoint].append(key)
        wanted: dict[str, tuple[Severity, Reason, PointRef | None]] = {}
        self.dead = set()
        for endpoint, keys in by_device.items():
            if len(keys) == self._device_size[endpoint]:
                self.dead.add(endpoint)
                wanted[_device_key(endpoint)] = (Severity.CRITICAL,
                                                 self._dead_device(endpoint, keys), None)
                continue
            for key in keys:
                ref = self._refs[key]
                critical = ref.role is Role.ZONE_TEMPERATURE
                wanted[f"point:{key}"] = (
                    Severity.CRITICAL if critical else Severity.WARNING,
                    Reason.of("point.unreadable_degraded" if critical else "point.unreadable",
                              key=key, cause=self._cause(key)),
                    ref,
                )
        for alarm_key, (severity, message, about) in wanted.items():
            _raise(self._store, self._journal, now, alarm_key, severity, message,
                   Reason.of("alarm.read_failure"), about)
        for alarm_key in active:
            if alarm_key.startswith(("device:", "point:")) and alarm_key not in wanted:
                _clear(self._store, self._journal, self._refs, now, alarm_key,
                       Reason.of("alarm.reading_again"))

    def _dead_device(self, endpoint: Endpoint, keys: list[str]) -> Reason:
        protocol, address, unit = endpoint
        device = Reason.of(f"device.{protocol}", address=address, unit=unit)
        return Reason.of("device.silent", device=device, cause=self._cause(keys[0]),
                         consequences=self._consequences(keys))

    def _consequences(self, keys: list[str]) -> list[Reason]:
        """What a dead device means for people: the zones it measures go to their
        degraded mode; what it switches (lights, equipment) keeps its last state until it
        answers, when the engine applies the state of the moment again."""
        refs = [self._refs[key] for key in keys]
        found: list[Reason] = []
        if any(ref.role is Role.ZONE_TEMPERATURE for ref in refs):
            found.append(Reason.of("consequence.degraded"))
        held = ", ".join(sorted({owner.name for ref in refs
                                 if (owner := ref.cabinet or ref.equipment) is not None}))
        if held:
            found.append(Reason.of("consequence.held", names=held))
        return found or [Reason.of("consequence.failed")]


class _CommandAlarms:
    """A critical alarm on each point whose command's reason calls for one, raised while
    it does and cleared once it no longer does: ``PREFIX`` names the alarms, ``_alarm``
    says which commands call for one (its message and why), ``CLEARED`` why it ends."""

    PREFIX: str
    CLEARED: str

    def __init__(self, refs: Mapping[str, PointRef], store: Store, journal: Journal) -> None:
        self._refs = refs
        self._store = store
        self._journal = journal

    def _alarm(self, command: Command) -> tuple[Reason, Reason] | None:
        raise NotImplementedError

    def follow(self, now: datetime, commands: Mapping[str, Command],
               active: Mapping[str, Alarm]) -> None:
        wanted = {f"{self.PREFIX}:{key}": (command, said) for key, command in commands.items()
                  if (said := self._alarm(command)) is not None}
        for alarm_key, (command, (message, why)) in wanted.items():
            _raise(self._store, self._journal, now, alarm_key, Severity.CRITICAL, message, why,
                   self._refs[command.key])
        for alarm_key in active:
            if alarm_key.startswith(f"{self.PREFIX}:") and alarm_key not in wanted:
                _clear(self._store, self._journal, self._refs, now, alarm_key,
                       Reason.of(self.CLEARED))


class FallbackAlarms(_CommandAlarms):
    """A command arbitration had to replace because its value was not a number (a
    controller's fault: ``arbitration.FALLBACK``) raises an alarm on its point, critical
    since its zone or its lights run on their safe fallback; cleared once the decisions of
    that point are numbers again. ``follow`` takes the final commands."""

    PREFIX, CLEARED = "decision", "alarm.deciding_again"

    def _alarm(self, command: Command) -> tuple[Reason, Reason] | None:
        if not _fell_back(command.reason):
            return None
        return (Reason.of("decision.not_a_number", key=command.key, value=command.value),
                Reason.of("alarm.safe_fallback"))


class NoHeatAlarms(_CommandAlarms):
    """A plant that frost protection needs while its own schedule (or its
    ``plant_available`` point) says no heat comes (``plant.frost_unavailable``) raises a
    critical alarm on the plant: a zone is nearing its frost floor and nothing will warm
    it. Cleared once heat can come or the zone is warm enough. ``follow`` takes the
    decided commands."""

    PREFIX, CLEARED = "no_heat", "alarm.heat_again"

    def _alarm(self, command: Command) -> tuple[Reason, Reason] | None:
        if command.reason.code != "plant.frost_unavailable":
            return None
        return command.reason, Reason.of("alarm.no_heat")


def _fell_back(reason: Reason) -> bool:
    """Whether a command's reason, or one it wraps (a minimum time kept after the
    fallback), is arbitration's fallback."""
    if reason.code == FALLBACK:
        return True
    decision = reason.params.get("decision")
    return isinstance(decision, Reason) and _fell_back(decision)


def _raise(store: Store, journal: Journal, now: datetime, alarm_key: str, severity: Severity,
           message: Reason, why: Reason, about: PointRef | None) -> None:
    """Raise an alarm unless it is active, and journal it when new."""
    alarm, new = store.alarms.raise_(alarm_key, at=now, severity=severity, message=message.fr,
                                     message_en=message.en, **where_of(about))
    if new:
        journal.event("alarm", Reason.of("alarm.raised", alarm=message), why, ref=about,
                      data={"state": "raised", "alarm": alarm.id, "key": alarm_key})


def _clear(store: Store, journal: Journal, refs: Mapping[str, PointRef], now: datetime,
           alarm_key: str, why: Reason) -> None:
    """Clear an active alarm, and journal it if it was."""
    cleared = store.alarms.clear(alarm_key, at=now)
    if cleared is not None:
        about = refs.get(cleared.point) if cleared.point else None
        journal.event("alarm", Reason.of("alarm.cleared", alarm=said(
            cleared.message, cleared.message_en or cleared.message)), why, ref=about,
            data={"state": "cleared", "alarm": cleared.id, "key": alarm_key})


def _device_key(endpoint: Endpoint) -> str:
    protocol, address, unit = endpoint
    return f"device:{protocol}:{address}:{unit}"


THRESHOLD = Reason.of("alarm.threshold")


class Watches:
    """Thresholds of watched points: raised after their delay, ended with hysteresis
    (``controllers.monitoring``). A change of severity ends the alarm and raises one with
    the new message. A point that cannot be read keeps its alarm as it was: its failure is
    an alarm of its own."""

    def __init__(self, refs: Mapping[str, PointRef], store: Store, journal: Journal) -> None:
        self._watched = [ref for ref in refs.values() if ref.point.watch is not None]
        self._store = store
        self._journal = journal
        self._states: dict[str, WatchState] = {}

    def follow(self, now: datetime, snapshot: Snapshot, active: Mapping[str, Alarm]) -> None:
        for ref in self._watched:
            assert ref.point.watch is not None
            alarm_key = f"watch:{ref.key}"
            value = snapshot.good(ref.key)
            verdict = evaluate(ref.point.watch, value, now,
                               self._states.get(ref.key, WatchState()),
                               name=ref.point.name or ref.key, unit=ref.point.si_unit)
            self._states[ref.key] = verdict.state
            current = active.get(alarm_key)
            if verdict.level is None:
                # Also an alarm left by an earlier run, once the value is back inside.
                if current is not None and value is not None:
                    self._store.alarms.clear(alarm_key, at=now)
                    self._journal.event(
                        "alarm", Reason.of("alarm.cleared", alarm=verdict.reason),
                        THRESHOLD, ref=ref,
                        data={"state": "cleared", "alarm": current.id, "key": alarm_key})
                continue
            if current is not None:
                if verdict.change not in (WatchChange.ESCALATED, WatchChange.EASED):
                    continue
                self._store.alarms.clear(alarm_key, at=now)
            severity = verdict.severity
            assert severity is not None
            alarm, new = self._store.alarms.raise_(
                alarm_key, at=now, severity=severity, message=verdict.reason.fr,
                message_en=verdict.reason.en, **where_of(ref))
            if new:
                self._journal.event(
                    "alarm", Reason.of("alarm.raised", alarm=verdict.reason),
                    THRESHOLD, ref=ref,
                    data={"state": "raised", "alarm": alarm.id, "key": alarm_key})


_HEALTH = ("battery", "rssi", "snr")
"""The fields of a LoRaWAN device that say how it is, not what it measures."""


class LorawanAlarms:
    """A warning for each LoRaWAN device whose battery runs low or whose radio link is
    weak (``LorawanDevice.alarms``), judged on the points bound to its ``battery``,
    ``rssi`` and ``snr``: a device without them, or whose points have not read, raises
    nothing. The battery's alarm ends above a higher level (a new battery). The link is
    judged on the medians of the RSSI and the SNR of its last uplinks, told apart by their
    arrival (the samples' time): one uplink heard badly raises nothing, one heard well
    ends nothing."""

    def __init__(self, devices: Sequence[LorawanDevice], refs: Mapping[str, PointRef],
                 store: Store, journal: Journal) -> None:
        self._devices = devices
        self._store = store
        self._journal = journal
        self._refs = refs
        self._health: dict[tuple[str, str], PointRef] = {}
        """(device, battery | rssi | snr) -> the first point bound to it."""
        for ref in refs.values():
            binding = ref.binding
            if isinstance(binding, LorawanBinding) and binding.field in _HEALTH:
                self._health.setdefault((binding.device, binding.field), ref)
        self._keys = {ref.key for ref in self._health.values()}
        self._heard: dict[str, deque[tuple[datetime, float]]] = {}
        """A link point's values of the last uplinks, with their arrival."""
        for device in devices:
            for field in ("rssi", "snr"):
                link = self._health.get((device.id, field))
                if link is not None:
                    self._heard[link.key] = deque(maxlen=device.alarms.uplinks)

    def follow(self, now: datetime, samples: Iterable[Sample],
               active: Mapping[str, Alarm]) -> None:
        """Take this tick's samples: those read well, at a new arrival, count."""
        good = {sample.point: sample for sample in samples if sample.point in self._keys
                and sample.quality is Quality.OK and sample.value is not None}
        for key, heard in self._heard.items():
            sample = good.get(key)
            if sample is not None and (not heard or heard[-1][0] != sample.ts):
                assert sample.value is not None
                heard.append((sample.ts, sample.value))
        for device in self._devices:
            battery = self._health.get((device.id, "battery"))
            if battery is not None and battery.key in good:
                level = good[battery.key].value
                assert level is not None
                self._battery(now, device, battery, level, active)
            self._link(now, device, active)

    def _battery(self, now: datetime, device: LorawanDevice, ref: PointRef, level: float,
                 active: Mapping[str, Alarm]) -> None:
        settings, alarm_key = device.alarms, f"lorawan_battery:{device.id}"
        if level < settings.battery_low and alarm_key not in active:
            _raise(self._store, self._journal, now, alarm_key, Severity.WARNING,
                   Reason.of("lorawan.battery_low", device=device.id, level=level,
                             low=settings.battery_low),
                   Reason.of("alarm.battery_low"), ref)
        elif level >= settings.battery_ok and alarm_key in active:
            _clear(self._store, self._journal, self._refs, now, alarm_key,
                   Reason.of("alarm.battery_again", ok=settings.battery_ok))

    def _link(self, now: datetime, device: LorawanDevice, active: Mapping[str, Alarm]) -> None:
        """Weak when a median is below its threshold; recovered when each known median is
        the margin above it. Until a point has heard its ``uplinks``, it says nothing."""
        settings, alarm_key = device.alarms, f"lorawan_link:{device.id}"
        medians: list[tuple[str, float, float, PointRef]] = []
        for field, threshold in (("rssi", settings.rssi_weak), ("snr", settings.snr_weak)):
            ref = self._health.get((device.id, field))
            heard = self._heard.get(ref.key) if ref is not None else None
            if ref is not None and heard is not None and len(heard) == heard.maxlen:
                medians.append((field, statistics.median(v for _, v in heard), threshold, ref))
        weak = [(field, median, threshold, ref) for field, median, threshold, ref in medians
                if median < threshold]
        if weak and alarm_key not in active:
            _raise(self._store, self._journal, now, alarm_key, Severity.WARNING,
                   Reason.of("lorawan.link_weak", device=device.id, uplinks=settings.uplinks,
                             measures=[Reason.of(f"lorawan.median_{field}", median=median,
                                                 threshold=threshold)
                                       for field, median, threshold, _ in weak]),
                   Reason.of("alarm.link_weak"), weak[0][3])
        elif (medians and alarm_key in active
              and all(median >= threshold + settings.link_margin_db
                      for _, median, threshold, _ in medians)):
            _clear(self._store, self._journal, self._refs, now, alarm_key,
                   Reason.of("alarm.link_again"))
