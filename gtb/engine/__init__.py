"""One tick: read -> record -> decide -> arbitrate -> write -> record.

The engine reads every point through the drivers, records the samples (with their quality)
before anything else happens to them, judges what it read, asks the controllers, lets
arbitration have the last word, writes only what changed (or needs refreshing), and
records commands, reasons, faults and alarms as events. It never raises out of a tick for
a field fault: a point it cannot read is stale, then failed; its zone goes to a degraded
mode that needs no sensor, and an alarm says so until the point comes back.

Each step has its room: ``reading`` (read and judge), ``alarms`` (failed points, dead
devices, watched thresholds, LoRaWAN batteries and links), ``decisions`` (the controllers,
zone by zone and output by output), ``arbitration`` (people's overrides, safety bounds,
minimum times), ``writing`` (what is due, and releases), ``status`` (what the panel
shows), ``journal`` (the audit lines). ``Engine`` holds them together and runs them in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from controllers.learning import ZoneLearner
from controllers.schedule import FrenchCalendar
from gtb.clock import Clock, monotonic
from gtb.engine.alarms import (
    Endpoint,
    FallbackAlarms,
    FaultAlarms,
    LorawanAlarms,
    NoHeatAlarms,
    Watches,
)
from gtb.engine.arbitration import Arbiter
from gtb.engine.bindings import Finding, check_bindings
from gtb.engine.decisions import Decider, RadioLink
from gtb.engine.forecast import Forecasts
from gtb.engine.journal import Journal, where_of
from gtb.engine.reading import PointReader
from gtb.engine.status import StatusKeeper
from gtb.engine.writing import Writer
from gtb.model import Site
from gtb.model.points import Quality, Severity
from gtb.store import Store
from gtb.store.status import OutputStatus, ZoneStatus
from gtb.texts import Reason, said
from protocols.base import Driver


@dataclass(frozen=True)
class EngineSettings:
    tick_s: float = 60.0
    stale_after_s: float = 180.0
    """A point unread for longer than this is failed; until then its last value serves."""
    refresh_s: float = 900.0
    """Every command is written again this often, for a device that lost it."""
    deadband: float = 0.05
    """An analog command closer than this to what was written is not written again."""
    check_bindings: bool = True
    """Ask the devices at start whether each binding is what the site file says
    (``gtb.engine.bindings``); a command point that could not be released is refused."""


@dataclass(frozen=True)
class TickReport:
    at: datetime
    duration_s: float
    ok: int
    stale: int
    failed: int
    writes: int
    write_failures: int


class Engine:
    """The control loop of one site."""

    def __init__(
        self,
        site: Site,
        store: Store,
        drivers: Mapping[str, Driver],
        clock: Clock,
        settings: EngineSettings | None = None,
    ) -> None:
        self.site = site
        self.store = store
        self.drivers = drivers
        self.clock = clock
        self.settings = settings or EngineSettings()
        self.refs = {ref.key: ref for ref in site.points()}
        calendar = FrenchCalendar(site.school_zone, site.alsace_moselle)
        self._journal = Journal(store, clock, site.id)
        self._reader = PointReader(self.refs, drivers, self.settings.stale_after_s)
        self._faults = FaultAlarms(self.refs, store, self._journal, self._reader.cause)
        self._watches = Watches(self.refs, store, self._journal)
        self._lorawan = LorawanAlarms(site.lorawan, self.refs, store, self._journal)
        self._fallbacks = FallbackAlarms(self.refs, store, self._journal)
        self._no_heat = NoHeatAlarms(self.refs, store, self._journal)
        self.forecasts = Forecasts(site.forecast, clock, self._journal)
        """The outdoor temperature to come (``gtb.engine.forecast``), fetched by a job."""
        radio = next((d for d in drivers.values() if isinstance(d, RadioLink)), None)
        self._decider = Decider(site, store, self._journal, calendar, self.forecasts.current,
                                radio)
        self._arbiter = Arbiter(site)
        self._writer = Writer(self.refs, drivers, store, self._journal,
                              tick_s=self.settings.tick_s, refresh_s=self.settings.refresh_s,
                              deadband=self.settings.deadband)
        self._status = StatusKeeper(site, store, calendar, self._decider, self.forecasts)
        self._ticking = asyncio.Lock()

    # -- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        self._decider.restore(self.clock.now())
        for driver in self.drivers.values():
            await driver.start()
        self._journal.event("engine", Reason.of("engine.started"),
                            Reason.of("engine.points", points=len(self.refs), site=self.site.id))
        if self.settings.check_bindings:
            await self._check_bindings()

    async def _check_bindings(self) -> None:
        """An alarm for each point whose binding the devices contradict (its problems in
        one message), cleared for those they no longer do; the command points they could
        not release are never written. A device that cannot be asked keeps the alarms it
        had: nothing is known of it."""
        findings = await check_bindings(self.refs.values(), self.drivers)
        now = self.clock.now()
        checked = Reason.of("binding.checked")
        problems: dict[str, list[Finding]] = {}
        unchecked: set[Endpoint] = set()
        for finding in findings:
            ref = self.refs[finding.key]
            if finding.unchecked:
                unchecked.add(ref.binding.endpoint)
                self._journal.event("fault", Reason.of("binding.unchecked", error=finding.message),
                                    checked, ref=ref)
            else:
                problems.setdefault(finding.key, []).append(finding)
        refused = {key for key, found in problems.items() if any(f.uncommandable for f in found)}
        for key, found in problems.items():
            ref = self.refs[key]
            problem = Reason.of("binding.refused" if key in refused else "binding.problem",
                                key=key, problem=said("; ".join(f.message for f in found)))
            alarm_key = f"binding:{key}"
            alarm, new = self.store.alarms.raise_(
                alarm_key, at=now,
                severity=Severity.CRITICAL if key in refused else Severity.WARNING,
                message=problem.fr, message_en=problem.en, **where_of(ref))
            if new:
                self._journal.event("alarm", Reason.of("alarm.raised", alarm=problem), checked,
                                    ref=ref, data={"state": "raised", "alarm": alarm.id,
                                                   "key": alarm_key})
        self._writer.refuse(refused)
        for alarm_key, alarm in self.store.alarms.active().items():
            key = alarm_key.removeprefix("binding:")
            if (alarm_key.startswith("binding:") and key not in problems
                    and (key not in self.refs or self.refs[key].binding.endpoint not in unchecked)):
                self.store.alarms.clear(alarm_key, at=now)
                self._journal.event(
                    "alarm", Reason.of("alarm.cleared", alarm=said(
                        alarm.message, alarm.message_en or alarm.message)),
                    checked, ref=self.refs.get(key),
                    data={"state": "cleared", "alarm": alarm.id, "key": alarm_key})

    async def stop(self) -> None:
        """Let a tick under way finish, release or hold the commanded points as the site
        file says, then disconnect."""
        released = self.site.on_shutdown == "release"
        self.forecasts.stop()
        async with self._ticking:
            if released:
                await self._writer.release_all()
        self._journal.event("engine", Reason.of("engine.stopped"),
                            Reason.of("engine.points_released" if released
                                      else "engine.points_held"))
        for driver in self.drivers.values():
            await driver.stop()

    # -- one tick ----------------------------------------------------------------------

    async def tick(self) -> TickReport:
        """One tick. Once begun, a tick is not cut short by a cancellation (SIGTERM's
        stop cancels whatever awaits it): it runs to its end, so that what it wrote is
        known and the stop releases or holds it; then the cancellation goes on."""
        work = asyncio.ensure_future(self._locked_tick())
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # the tick's own failure is not the stop's
                await asyncio.shield(work)
            raise

    async def _locked_tick(self) -> TickReport:
        async with self._ticking:
            return await self._tick()

    async def _tick(self) -> TickReport:
        began = monotonic()
        now = self.clock.now()
        samples, snapshot = self._reader.judge(now, await self._reader.read())
        self.store.samples.write(samples)
        active = self.store.alarms.active()
        self._faults.follow(now, snapshot, active)
        self._watches.follow(now, snapshot, active)
        self._lorawan.follow(now, samples, active)
        overrides = self.store.overrides.active(now)
        decided = self._decider.decide(now, snapshot, overrides)
        final = self._arbiter.arbitrate(decided.desired, overrides, self._writer.switches, now)
        self._fallbacks.follow(now, final, active)
        self._no_heat.follow(now, decided.desired, active)
        await self._writer.inspect(now, final, snapshot, self._faults.dead)
        self._status.follow(now, snapshot, decided.zones, decided.outputs, final,
                            self._writer.held)
        self._writer.record(final)
        self._status.save(now)
        self._status.publish_outlook(now)
        writes, failures = await self._writer.write(now, final, snapshot, self._faults.dead)
        await self._writer.release_unused(final)
        counts = snapshot.counts()
        return TickReport(now, monotonic() - began, counts[Quality.OK], counts[Quality.STALE],
                          counts[Quality.FAILED], writes, failures)

    async def learn(self) -> bool:
        """Once a night (the first call after local midnight): refit every zone from what
        it observed and keep the models in the store. Runs between ticks."""
        async with self._ticking:
            return self._decider.learn(self.clock.now())

    def learner(self, zone_key: str) -> ZoneLearner:
        """What the zone ``building.zone`` has learned, and whether it may learn."""
        return self._decider.learners[zone_key]

    def zones(self) -> list[ZoneStatus]:
        """Each zone as of the last tick, in site-file order."""
        return list(self._status.zones.values())

    def outputs(self) -> list[OutputStatus]:
        """Lighting circuits, cabinets and equipment as of the last tick."""
        return list(self._status.outputs.values())

    def intended(self) -> dict[str, float]:
        """What the last tick decided each command point should hold, after arbitration."""
        return self._writer.intended()
