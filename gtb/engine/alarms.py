"""Alarms that follow what was read: devices and points that fail, watched thresholds.

An alarm is raised once, stays active while its condition lasts, survives a restart of
the engine (it is in the store), and is cleared, with an event, when its condition ends.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime

from controllers.monitoring import WatchChange, WatchState, evaluate
from gtb.engine.journal import Journal, where_of
from gtb.engine.reading import Snapshot
from gtb.model import PointRef, Quality, Reason, Role, Severity
from gtb.store import Store
from gtb.store.audit import Alarm

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
                    Reason(f"{key} illisible : {self._cause(key)}"
                           + (" — zone en mode dégradé" if critical else ""),
                           f"{key} unreadable: {self._cause(key)}"
                           + (" — zone in degraded mode" if critical else "")),
                    ref,
                )
        for alarm_key, (severity, message, about) in wanted.items():
            alarm, new = self._store.alarms.raise_(
                alarm_key, at=now, severity=severity, message=message.fr,
                message_en=message.en, **where_of(about)
            )
            if new:
                self._journal.event(
                    "alarm", Reason(f"Alarme : {message.fr}", f"Alarm: {message.en}"),
                    Reason("défaut de lecture", "read failure"), ref=about,
                    data={"state": "raised", "alarm": alarm.id, "key": alarm_key})
        for alarm_key in active:
            if alarm_key.startswith(("device:", "point:")) and alarm_key not in wanted:
                cleared = self._store.alarms.clear(alarm_key, at=now)
                if cleared is not None:
                    about = self._refs.get(cleared.point) if cleared.point else None
                    self._journal.event("alarm", Reason(
                        f"Fin d'alarme : {cleared.message}",
                        f"Alarm over: {cleared.message_en or cleared.message}"),
                        Reason("lecture rétablie", "reading again"), ref=about,
                        data={"state": "cleared", "alarm": cleared.id, "key": alarm_key})

    def _dead_device(self, endpoint: Endpoint, keys: list[str]) -> Reason:
        protocol, address, unit = endpoint
        what_fr, what_en = (
            (f"Modbus TCP {address} (unité {unit})", f"Modbus TCP {address} (unit {unit})")
            if protocol == "modbus"
            else (f"BACnet/IP {address} (appareil {unit})", f"BACnet/IP {address} (device {unit})"))
        cause, consequences = self._cause(keys[0]), self._consequences(keys)
        return Reason(f"{what_fr} ne répond plus : {cause} — {consequences.fr}",
                      f"{what_en} does not answer: {cause} — {consequences.en}")

    def _consequences(self, keys: list[str]) -> Reason:
        """What a dead device means for people: the zones it measures go to their
        degraded mode; what it switches (lights, equipment) keeps its last state until it
        answers, when the engine applies the state of the moment again."""
        refs = [self._refs[key] for key in keys]
        said: list[Reason] = []
        if any(ref.role is Role.ZONE_TEMPERATURE for ref in refs):
            said.append(Reason("zones en mode dégradé", "zones in degraded mode"))
        held = ", ".join(sorted({owner.name for ref in refs
                                 if (owner := ref.cabinet or ref.equipment) is not None}))
        if held:
            said.append(Reason(
                f"{held} : dernier état maintenu par l'appareil, rétabli dès qu'il répond",
                f"{held}: last state held by the device, restored as soon as it answers"))
        if not said:
            return Reason("points en défaut", "points failed")
        return Reason(" ; ".join(r.fr for r in said), "; ".join(r.en for r in said))


def _device_key(endpoint: Endpoint) -> str:
    protocol, address, unit = endpoint
    return f"device:{protocol}:{address}:{unit}"


THRESHOLD = Reason("seuil", "threshold")


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
                        "alarm", Reason(f"Fin d'alarme : {verdict.reason.fr}",
                                        f"Alarm over: {verdict.reason.en}"),
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
                    "alarm", Reason(f"Alarme : {verdict.reason.fr}", f"Alarm: {verdict.reason.en}"),
                    THRESHOLD, ref=ref,
                    data={"state": "raised", "alarm": alarm.id, "key": alarm_key})
