"""Writing what arbitration kept: only what changed, what needs refreshing, and never to a
dead device; every change of a command, and every release, recorded with its reason.

A command is written again when it moved by more than the deadband, when it has not been
written for ``refresh_s``, and when the device reports something else two ticks after the
write (a device that restarted and lost it). A point nobody commands any more is released:
BACnet writes null at its priority, so that the device's own logic takes over again.
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


@dataclass
class _Written:
    value: float
    at: datetime


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
        self.switches: dict[str, Switch] = {}
        """When each relay last changed state: arbitration keeps its minimum times."""

    def record(self, final: Mapping[str, Command]) -> None:
        """A command is an event when its value or what its reason says changes."""
        for key, command in final.items():
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
        due = [
            c for c in final.values()
            if self._refs[c.key].binding.endpoint not in dead
            and self._needs_write(now, c, snapshot)
        ]
        results = await asyncio.gather(*(self._write_one(now, c) for c in due))
        return sum(results), len(results) - sum(results)

    async def release_unused(self, final: Mapping[str, Command]) -> None:
        """Hand back the points no command holds any more."""
        for key in [k for k in self._written if k not in final]:
            await self._release(key, Reason.of("command.unused"))

    async def release_all(self) -> None:
        """The engine stops: every point it wrote goes back to the devices' own logic."""
        for key in list(self._written):
            await self._release(key, Reason.of("command.engine_stopped"))

    def _needs_write(self, now: datetime, command: Command, snapshot: Snapshot) -> bool:
        written = self._written.get(command.key)
        if written is None:
            return True
        if abs(command.value - written.value) > self._deadband:
            return True
        if now - written.at >= self._refresh:
            return True
        # A device that restarted holds its default again: read back, and write again.
        seen = snapshot.values.get(command.key)
        return (
            now - written.at >= self._settle
            and seen is not None
            and snapshot.quality.get(command.key) is Quality.OK
            and abs(seen - command.value) > self._deadband
        )

    async def _write_one(self, now: datetime, command: Command) -> bool:
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
        self._written[command.key] = _Written(command.value, now)
        if ROLES[ref.role].kind == "binary" and (before is None or before.value != command.value):
            self.switches[command.key] = Switch(command.value, now)
        if self._store.alarms.clear(alarm_key, at=now) is not None:
            self._journal.event(
                "alarm", Reason.of("command.restored", key=command.key),
                Reason.of("command.written"), ref=ref,
                data={"state": "cleared", "key": alarm_key})
        return True

    async def _release(self, key: str, why: Reason) -> None:
        ref = self._refs[key]
        try:
            await self._drivers[ref.binding.protocol].release(ref)
        except DeviceError as exc:
            self._journal.event("fault", Reason.of("command.release_failed", key=key),
                                said(str(exc)), ref=ref)
            return
        del self._written[key]
        self._journal.event("command", Reason.of("command.released", key=key), why, ref=ref)
