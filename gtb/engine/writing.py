"""Writing what arbitration kept: only what changed, what needs refreshing, and never to a
dead device; every change of a command, and every release, recorded with its reason.

A command is written again when it moved by more than the deadband, when it has not been
written for ``refresh_s``, and when the device reports something else two ticks after the
write (a device that restarted and lost it). Every command of a device is written again
at once when the device answers after a tick without an answer (it may have restarted in
the silence), and when a command point of it reads back a value no point may hold (a
restart left a mode 0 in a register): nothing waits for a good reading or the refresh.
A point nobody commands any more is released: BACnet writes null at its priority, so that
the device's own logic takes over again;
Modbus has no priorities, so the point is left at its last value, and the log says that.

Where commands take a priority slot (BACnet), a read-back that differs is looked into
before anything is written again (``inspect``): a command at a higher priority than the
engine's is a person's or a safety function's, and the engine stands back (no writes, an
event, the zone's status says who holds it) until it is relinquished; the engine's own
slot in force with another value is the device's rounding or clamping of what was
written, which is then what the engine expects to read back (no write loop). A point
written again and again for what it reads back, with no change of intent, raises a
warning alarm. A command point the engine was told it could not release (``refuse``) is
never written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from gtb.engine.alarms import Endpoint
from gtb.engine.arbitration import Command, Switch
from gtb.engine.journal import Journal, where_of
from gtb.engine.reading import Snapshot
from gtb.model import PointRef
from gtb.model.points import ROLES, Quality, Severity
from gtb.store import Store
from gtb.texts import Reason, reads_alike, said
from protocols.base import DeviceError, Driver

REWRITES_PER_HOUR = 4
"""Writes of the same command for what the device read back, in an hour, that raise the
alarm of a device that does not keep what it is sent (refreshes are not counted)."""


@dataclass
class _Written:
    value: float
    at: datetime
    held_as: float | None = None
    """What the device shows for ``value`` with the engine's slot in force: its rounding
    or clamping of it, learned from the device (BACnet) or said by its driver
    (``Driver.reads_back``: a LoRaWAN valve's whole degrees); None: ``value`` is expected."""

    def expected(self) -> float:
        return self.value if self.held_as is None else self.held_as


class Writer:
    """Writes commands through the drivers and remembers what each point was sent."""

    def __init__(self, refs: Mapping[str, PointRef], drivers: Mapping[str, Driver],
                 store: Store, journal: Journal, *, tick_s: float, refresh_s: float,
                 deadband: float) -> None:
        self._refs = refs
        self._drivers = drivers
        self._store = store
        self._journal = journal
        self._settle = timedelta(seconds=2 * tick_s)
        self._refresh = timedelta(seconds=refresh_s)
        self._deadband = deadband
        self._written: dict[str, _Written] = {}
        self._recorded: dict[str, Command] = {}
        self._rewrites: dict[str, list[datetime]] = {}
        self._endpoints = {ref.binding.endpoint for ref in refs.values()}
        self._silent: set[Endpoint] = set()
        """Devices that answered for none of their points at the last tick."""
        self._invalid: set[Endpoint] = set()
        """Devices a command point of which read back out of range at the last tick."""
        self.switches: dict[str, Switch] = {}
        """When each relay last changed state: arbitration keeps its minimum times."""
        self.held: dict[str, int] = {}
        """Points a command at a higher priority than the engine's holds, and that priority."""
        self.refused: set[str] = set()
        """Command points the engine must not write (their device could not release them)."""

    def refuse(self, keys: Collection[str]) -> None:
        """Never write these points: the check of bindings found that a command there
        could not be taken back (its alarm says why)."""
        self.refused = set(keys)

    def record(self, final: Mapping[str, Command]) -> None:
        """A command is an event when its value or what its reason says changes (a
        refused point's are not: they are never written, and its alarm says why)."""
        for key, command in final.items():
            if key in self.refused:
                continue
            before = self._recorded.get(key)
            if (before is None or before.value != command.value
                    or not reads_alike(before.reason, command.reason)):
                self._journal.event("command", Reason.of("command.value", key=key,
                                                         value=command.value), command.reason,
                                    ref=self._refs[key], actor=command.actor,
                                    data={"value": command.value, "source": command.source})
        self._recorded = dict(final)

    def intended(self) -> dict[str, float]:
        """What the last tick decided each command point should hold, after arbitration."""
        return {key: command.value for key, command in self._recorded.items()}

    async def write(self, now: datetime, final: Mapping[str, Command], snapshot: Snapshot,
                    dead: Collection[Endpoint]) -> tuple[int, int]:
        """Write what is due, except to a dead device: its alarm says enough, and what it
        misses goes out when it answers again (nothing counts as written until then).
        Returns the writes that succeeded and those that failed."""
        restore = self._restorations(final, snapshot)
        due: list[tuple[Command, bool]] = []
        for command in final.values():
            endpoint = self._refs[command.key].binding.endpoint
            if command.key in self.refused or command.key in self.held or endpoint in dead:
                continue
            if endpoint in restore and command.key in self._written:
                self._journal.event("command", Reason.of("command.restoring", key=command.key,
                                                         value=command.value),
                                    restore[endpoint], ref=self._refs[command.key],
                                    data={"value": command.value})
                due.append((command, False))
            elif self._needs_write(now, command):
                due.append((command, False))
            elif self._diverged(now, command, snapshot):
                due.append((command, True))
        results = await asyncio.gather(*(self._write_one(now, c, again) for c, again in due))
        self._follow_rewrites(now, final)
        return sum(results), len(results) - sum(results)

    def _restorations(self, final: Mapping[str, Command], snapshot: Snapshot
                      ) -> dict[Endpoint, Reason]:
        """The devices whose every command is written again now, and why: back after a
        tick of silence, or a command point newly read back out of range (while it stays
        so, the read-back rule below writes it again every two ticks)."""
        answering = {ref.binding.endpoint for key, ref in self._refs.items()
                     if snapshot.answered(key)}
        invalid = {self._refs[key].binding.endpoint: value
                   for key, value in snapshot.implausible.items() if key in final}
        restore = {endpoint: Reason.of("command.device_back")
                   for endpoint in self._silent & answering}
        for endpoint, value in invalid.items():
            if endpoint not in self._invalid:
                restore.setdefault(endpoint, Reason.of("command.read_back_invalid",
                                                       value=value))
        self._silent = self._endpoints - answering
        self._invalid = set(invalid)
        return restore

    async def inspect(self, now: datetime, final: Mapping[str, Command], snapshot: Snapshot,
                      dead: Collection[Endpoint]) -> None:
        """Before the status is kept and anything written: who commands the points that a
        higher priority held, and those that read back otherwise than written, on devices
        whose commands take a priority slot. One request a point, for those points only."""
        suspects = [
            command for command in final.values()
            if command.key not in self.refused
            and self._drivers[self._refs[command.key].binding.protocol].prioritised
            and self._refs[command.key].binding.endpoint not in dead
            and (command.key in self.held or (
                not self._needs_write(now, command)
                and self._diverged(now, command, snapshot)))
        ]
        await asyncio.gather(*(self._inspect_one(now, c, snapshot) for c in suspects))
        for key in [k for k in self.held if k not in final]:
            del self.held[key]

    async def _inspect_one(self, now: datetime, command: Command, snapshot: Snapshot) -> None:
        ref = self._refs[command.key]
        ours = getattr(ref.binding, "priority", None)
        try:
            active = await self._drivers[ref.binding.protocol].command_priority(ref)
        except DeviceError:
            return  # what is known stays; the write or its failure says the rest
        if active is not None and ours is not None and active < ours:
            if self.held.get(command.key) != active:
                self._journal.event(
                    "command", Reason.of("command.held", key=command.key, priority=active),
                    Reason.of("command.held_why", priority=active, ours=ours), ref=ref,
                    data={"held_by_priority": active, "value": snapshot.values.get(command.key)})
            self.held[command.key] = active
            return
        if self.held.pop(command.key, None) is not None:
            # What was read this tick may predate the release: learn nothing from it.
            self._journal.event("command", Reason.of("command.resumed", key=command.key),
                                Reason.of("command.relinquished"), ref=ref,
                                data={"held_by_priority": None})
            return
        written = self._written.get(command.key)
        seen = snapshot.good(command.key)
        if active == ours and written is not None and seen is not None:
            # The engine's own slot is in force: what it shows is the device's rendering
            # of what was written (a resolution, a clamp), not a loss of it.
            written.held_as = seen

    async def release_unused(self, final: Mapping[str, Command]) -> None:
        """Hand back the points no command holds any more."""
        for key in [k for k in self._written if k not in final]:
            await self._release(key, Reason.of("command.unused"), Reason.of("command.unused_kept"))

    async def release_all(self) -> None:
        """The engine stops: every point it wrote goes back to the devices' own logic, or
        stays at its last value where the protocol has no priorities (Modbus)."""
        for key in list(self._written):
            await self._release(key, Reason.of("command.engine_stopped"),
                                Reason.of("command.engine_stopped_kept"))

    def _needs_write(self, now: datetime, command: Command) -> bool:
        """Never written, moved past the deadband, or due for its refresh."""
        written = self._written.get(command.key)
        return (
            written is None
            or abs(command.value - written.value) > self._deadband
            or now - written.at >= self._refresh
        )

    def _diverged(self, now: datetime, command: Command, snapshot: Snapshot) -> bool:
        """The device reads back something else than it held for the command, two ticks
        after the write: it restarted and lost it, or someone else commands it. Not while
        the device has yet to report it (``Snapshot.pending``)."""
        written = self._written.get(command.key)
        if command.key in snapshot.pending:
            return False
        if written is not None and command.key in snapshot.implausible:
            # Out of range: no point may hold it (a restart's mode 0); again every 2 ticks.
            return now - written.at >= self._settle
        seen = snapshot.values.get(command.key)
        return (
            written is not None
            and now - written.at >= self._settle
            and seen is not None
            and snapshot.quality.get(command.key) is Quality.OK
            and abs(seen - written.expected()) > self._deadband
        )

    def _follow_rewrites(self, now: datetime, final: Mapping[str, Command]) -> None:
        """The alarm of a point written again and again for what it read back: raised at
        ``REWRITES_PER_HOUR`` in the last hour, cleared when an hour passes without one
        or the command is gone."""
        hour_ago = now - timedelta(hours=1)
        for key in list(self._rewrites):
            times = [t for t in self._rewrites[key] if t > hour_ago and key in final]
            alarm_key = f"rewrite:{key}"
            if len(times) >= REWRITES_PER_HOUR:
                ref = self._refs[key]
                looping = Reason.of("command.rewritten", key=key, count=len(times))
                alarm, new = self._store.alarms.raise_(
                    alarm_key, at=now, severity=Severity.WARNING, message=looping.fr,
                    message_en=looping.en, **where_of(ref))
                if new:
                    self._journal.event("alarm", Reason.of("alarm.raised", alarm=looping),
                                        Reason.of("command.not_kept"), ref=ref,
                                        data={"state": "raised", "alarm": alarm.id,
                                              "key": alarm_key, "rewrites": len(times)})
            if times:
                self._rewrites[key] = times
                continue
            del self._rewrites[key]
            cleared = self._store.alarms.clear(alarm_key, at=now)
            if cleared is not None:
                self._journal.event(
                    "alarm", Reason.of("alarm.cleared", alarm=said(
                        cleared.message, cleared.message_en or cleared.message)),
                    Reason.of("command.device_keeps"), ref=self._refs[key],
                    data={"state": "cleared", "alarm": cleared.id, "key": alarm_key})

    async def _write_one(self, now: datetime, command: Command, again: bool) -> bool:
        """Write one command; ``again`` when it is for what the device read back."""
        ref = self._refs[command.key]
        alarm_key = f"command:{command.key}"
        try:
            await self._drivers[ref.binding.protocol].write(ref, command.value)
        except DeviceError as exc:
            failed = Reason.of("command.failed", key=command.key, error=str(exc))
            alarm, new = self._store.alarms.raise_(
                alarm_key, at=now, severity=Severity.WARNING, message=failed.fr,
                message_en=failed.en, **where_of(ref),
            )
            if new:
                self._journal.event("fault", Reason.of("command.write_failed", key=command.key),
                                    said(str(exc)), ref=ref,
                                    data={"alarm": alarm.id, "value": command.value})
            return False
        before = self._written.get(command.key)
        kept = before.held_as if before is not None and before.value == command.value else None
        shown = self._drivers[ref.binding.protocol].reads_back(ref, command.value)
        self._written[command.key] = _Written(command.value, now, kept if kept is not None
                                              or shown == command.value else shown)
        if again:
            self._rewrites.setdefault(command.key, []).append(now)
        if ROLES[ref.role].kind == "binary" and (before is None or before.value != command.value):
            self.switches[command.key] = Switch(command.value, now)
        if self._store.alarms.clear(alarm_key, at=now) is not None:
            self._journal.event(
                "alarm", Reason.of("command.restored", key=command.key),
                Reason.of("command.written"), ref=ref,
                data={"state": "cleared", "key": alarm_key})
        return True

    async def _release(self, key: str, handed_back: Reason, kept: Reason) -> None:
        """Release a point; ``handed_back`` says why where the protocol gives it back to the
        device (BACnet), ``kept`` where it can only leave it at its last value (Modbus)."""
        ref = self._refs[key]
        driver = self._drivers[ref.binding.protocol]
        try:
            await driver.release(ref)
        except DeviceError as exc:
            self._journal.event("fault", Reason.of("command.release_failed", key=key),
                                said(str(exc)), ref=ref)
            return
        del self._written[key]
        if driver.prioritised:
            self._journal.event("command", Reason.of("command.released", key=key), handed_back,
                                ref=ref)
        else:
            self._journal.event("command", Reason.of("command.kept", key=key), kept, ref=ref)
