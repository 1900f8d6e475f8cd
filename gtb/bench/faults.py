"""``gtb bench faults``: every fault a real site throws, injected for real, and what the
engine did about it.

Two parts, both on the virtual commune's devices (real Modbus TCP servers and BACnet/IP
devices on loopback) and the real engine:

- **The scripted morning.** The engine ticks every simulated minute through a winter
  morning while a schedule of faults is injected at the devices, the sensors and the
  InfluxDB server (Debian's ``influxd``, stopped and started): a device silent, one
  refusing connections, one answering exceptions, NaN and out-of-range readings, devices
  restarting with their commands lost, a person's command at a higher BACnet priority, a
  presence detector and the outdoor sensor failing, the archive down. The same morning
  is run first without any fault (the *reference*: same weather, occupants and seed), so
  that what a fault changed is seen against what the engine does when nothing fails.
- **The process.** ``gtb run`` in a process of its own, killed with SIGKILL and started
  again, then stopped with SIGTERM; the devices are served by the benchmark in real time.

What is measured, per fault: when an alarm (or, where the engine only records it, an
event) first said so, against the delay the engine documents; whether the alarm was
cleared and when; the levels of the zones it touched; the writes the target device
received during the fault, counted at the device; how many ticks after the device
answered again its commands held what the engine wants. Over the whole morning: unsafe
states, samples and events lost, and writes beyond one per point per 15 minutes without
a change of intent. Every write is counted by the device it reached
(``gtb.sim.traffic``), not by the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pymodbus.constants import ExcCodes
from rich.progress import Progress

from gtb.bench.servers import LocalInfluxDB1
from gtb.clock import RealClock, SimulatedClock, monotonic
from gtb.config import parse_site
from gtb.engine import Engine, EngineSettings
from gtb.influx import ALARM_AFTER, BACKOFF_MAX_S, InfluxSettings, Shipper
from gtb.model import PointRef, Site
from gtb.model.points import ROLES, Quality, Role
from gtb.sim.devices import (
    BacnetDeviceServer,
    DeviceServer,
    ModbusDeviceServer,
    free_loopback_port,
    relocate_ports,
)
from gtb.sim.runner import VirtualSite
from gtb.store import Store

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 1, 13, 6, 0, tzinfo=PARIS)
"""A winter Tuesday, 06:00: the schools, the town hall and the gym are heated for
arrivals between 07:30 and 09:00, the library's office from 09:00."""
MORNING_MIN = 300
"""The scripted morning lasts five hours, a tick a minute."""
SETTINGS = EngineSettings(tick_s=60.0)
"""The engine's own defaults: 180 s before a point fails, commands refreshed every 15
minutes."""
RESTORED_WITHIN_TICKS = 2
STORM_WINDOW = timedelta(minutes=15)
COMFORT_SLACK_K = 0.5
"""A setpoint this far below the reference's is a fault's doing, not rounding."""
DEMO_SITE = Path(__file__).resolve().parents[2] / "sites" / "demo-commune.yaml"


# -- the faults ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One scripted fault: what it breaks, from which minute of the morning to which."""

    name: str
    what: str
    start_min: int
    end_min: int
    points: tuple[str, ...] = ()
    """The point keys it affects (for a device, every point of the device)."""
    device: str = ""
    """The owner id of the device it breaks (a building, a cabinet), if any."""
    detected_by: tuple[str, ...] = ()
    """Alarm keys, or ``event:KIND:FIELD`` (an audit-log line of that kind about one of
    its points, whose data has ``FIELD`` set), that count as detecting it."""
    detection_limit_s: float = 0.0
    """The longest the engine documents it may take to say so."""
    clears: bool = True
    """Whether its alarm must clear once it ends (a restart raises none)."""


def _device_alarm(server: DeviceServer) -> str:
    if isinstance(server, ModbusDeviceServer):
        return f"device:modbus:{server.host}:{server.port}:{server.units[0]}"
    assert isinstance(server, BacnetDeviceServer)
    return f"device:bacnet:{server.host}:{server.port}:{server.device_instance}"


def _point_failure_limit(settings: EngineSettings) -> float:
    """A point read badly fails after ``stale_after_s``; the tick that sees it raises the
    alarm (docs/engine.md, step 3)."""
    return settings.stale_after_s + settings.tick_s


def script(site: Site, virtual: VirtualSite, settings: EngineSettings) -> list[Fault]:
    """The morning's faults on the demo commune: they name its devices and points (a
    site of other buildings needs a script of its own)."""
    def server(owner: str) -> DeviceServer:
        return next(s for s in virtual.servers if s.keys[0].split(".")[0] == owner)

    gym, town_hall, school, library = (server(o) for o in
                                       ("gymnase", "mairie", "ecole", "mediatheque"))
    point_limit = _point_failure_limit(settings)
    outdoor = next(r.key for r in site.points() if r.role is Role.OUTDOOR_TEMPERATURE
                   and r.key.startswith("mairie."))
    return [
        Fault("device_silent", "the gym's BACnet controller stops answering for 5 minutes",
              15, 20, gym.keys, "gymnase", (_device_alarm(gym),), point_limit),
        Fault("connection_refused", "the town hall's Modbus server refuses connections "
              "for 5 minutes", 30, 35, town_hall.keys, "mairie", (_device_alarm(town_hall),),
              point_limit),
        Fault("exception_answers", "the school's Modbus server answers every request with "
              "SERVER_DEVICE_FAILURE for 5 minutes", 45, 50, school.keys, "ecole",
              (_device_alarm(school),), point_limit),
        Fault("not_a_number", "the gym hall's temperature reads NaN for 10 minutes",
              60, 70, ("gymnase.salle.temperature",), "",
              ("point:gymnase.salle.temperature",), point_limit),
        Fault("out_of_range", "the reception's temperature reads 95 °C for 10 minutes",
              75, 85, ("mairie.accueil.temperature",), "",
              ("point:mairie.accueil.temperature",), point_limit),
        Fault("device_restart_bacnet", "the library's BACnet controller restarts: empty "
              "priority arrays, its own defaults", 95, 95, library.keys, "mediatheque",
              clears=False),
        Fault("device_restart_modbus", "the school's Modbus server restarts with its "
              "command registers empty (0: a setpoint of 0 °C, every relay off)", 100, 100,
              school.keys, "ecole", clears=False),
        Fault("local_command", "someone commands the gym hall's setpoint to 24 °C at "
              "BACnet priority 8 for 20 minutes, then relinquishes it", 110, 130,
              ("gymnase.salle.consigne",), "", ("event:command:held_by_priority",),
              2 * settings.tick_s, clears=False),
        Fault("presence_failed", "the gym hall's presence detector is gone (unknown-object) "
              "for 2 hours", 140, 260, ("gymnase.salle.presence",), "",
              ("point:gymnase.salle.presence",), point_limit),
        Fault("outdoor_sensor_failed", "the town hall's outdoor sensor reads -3276.8 °C "
              "(open circuit) for 1 hour", 150, 210, (outdoor,), "", (f"point:{outdoor}",),
              point_limit),
        Fault("influxdb_down", "the InfluxDB archive is stopped for 10 minutes", 220, 230,
              (), "", ("influx:unreachable",),
              ALARM_AFTER.total_seconds() + settings.tick_s),
        Fault(SMALL_DEVICE, "the library's BACnet controller takes APDUs of 128 octets "
              "only, cannot segment, and its I-Am claims 480: all morning", 0, MORNING_MIN,
              library.keys, "mediatheque", clears=False),
    ]


SMALL_DEVICE = "small_apdu"
SMALL_DEVICE_OPTIONS = {"max_apdu": 128, "segment": False, "announced_max_apdu": 480}
"""A controller behind an MS/TP router typically takes 128 or 480 octets; this one says
more than it takes, so that the engine must learn it from its aborts."""


def _device_options(faults: Sequence[Fault], site: Site) -> dict[str, dict[str, Any]]:
    """The BACnet devices that are unlike the others all morning (``bacnet_options``)."""
    options: dict[str, dict[str, Any]] = {}
    for fault in faults:
        if fault.name == SMALL_DEVICE:
            binding = site.point(fault.points[0]).binding
            assert binding.protocol == "bacnet"
            options[binding.address] = SMALL_DEVICE_OPTIONS
    return options


class _Injector:
    """Puts each fault in place at its start and takes it away at its end, on the
    devices and servers themselves; a fault on a reading is applied again after every
    synchronisation of the physics, which would otherwise publish the true value."""

    def __init__(self, virtual: VirtualSite, influx: LocalInfluxDB1 | None,
                 local_client: Any) -> None:
        self.virtual = virtual
        self.influx = influx
        self._client = local_client
        self._readings: dict[str, float] = {}
        self._nan: set[str] = set()
        self._commands = {ref.key for ref in virtual.site.points() if ref.point.writable}
        self.writes: Counter[str] = Counter()
        """The writes the faults themselves sent (a person's command and its release), so
        that what the devices count can be told from what the engine sent."""

    def server(self, key: str) -> DeviceServer:
        return next(s for s in self.virtual.servers if key in s.keys)

    async def begin(self, fault: Fault) -> None:
        match fault.name:
            case "device_silent" | "connection_refused":
                await self.server(fault.points[0]).stop()
            case "exception_answers":
                self._modbus(fault.points[0]).fail_with(ExcCodes.DEVICE_FAILURE)
            case "not_a_number":
                self._nan.add(fault.points[0])
            case "out_of_range":
                self._readings[fault.points[0]] = 95.0
            case "outdoor_sensor_failed":
                self._readings[fault.points[0]] = -3276.8
            case "device_restart_bacnet":
                await self.virtual.power_cycle(self.server(fault.points[0]))
            case "device_restart_modbus":
                server = self.server(fault.points[0])
                await self.virtual.power_cycle(server, held={
                    key: 0.0 for key in server.keys if key in self._commands})
            case "local_command":
                await self._client.command(fault.points[0], 24.0)
                self.writes[fault.points[0]] += 1
            case "presence_failed":
                self._bacnet(fault.points[0]).withdraw(fault.points[0])
            case "influxdb_down":
                assert self.influx is not None
                self.influx.stop()
        self.apply()

    async def end(self, fault: Fault) -> None:
        match fault.name:
            case "device_silent" | "connection_refused":
                await self.server(fault.points[0]).start()
            case "exception_answers":
                self._modbus(fault.points[0]).fail_with(None)
            case "not_a_number":
                self._nan.discard(fault.points[0])
            case "out_of_range" | "outdoor_sensor_failed":
                del self._readings[fault.points[0]]
            case "local_command":
                await self._client.relinquish(fault.points[0])
                self.writes[fault.points[0]] += 1
            case "presence_failed":
                self._bacnet(fault.points[0]).withdraw(fault.points[0], gone=False)
            case "influxdb_down":
                assert self.influx is not None
                self.influx.start()

    def apply(self) -> None:
        for key, value in self._readings.items():
            self.server(key).publish(key, value)
        for key in self._nan:
            self._bacnet(key).send_not_a_number(key)

    def _modbus(self, key: str) -> ModbusDeviceServer:
        server = self.server(key)
        assert isinstance(server, ModbusDeviceServer)
        return server

    def _bacnet(self, key: str) -> BacnetDeviceServer:
        server = self.server(key)
        assert isinstance(server, BacnetDeviceServer)
        return server


class LocalFrontEnd:
    """A person's BACnet front-end: a client of its own (its own port) that commands a
    point at priority 8, above the engine's 10, and relinquishes it."""

    PRIORITY = 8

    def __init__(self, site: Site, now: Callable[[], float]) -> None:
        from protocols.bacnet import BacnetDriver

        self._refs = {ref.key: ref for ref in site.points()}
        self._driver = BacnetDriver(now=now, port=free_loopback_port(udp=True), timeout_s=1.0)

    def _at_priority(self, key: str) -> PointRef:
        ref = self._refs[key]
        binding = ref.binding.model_copy(update={"priority": self.PRIORITY})
        return replace(ref, point=ref.point.model_copy(update={"binding": binding}))

    async def start(self) -> None:
        await self._driver.start()

    async def stop(self) -> None:
        await self._driver.stop()

    async def command(self, key: str, value: float) -> None:
        await self._driver.write(self._at_priority(key), value)

    async def relinquish(self, key: str) -> None:
        await self._driver.release(self._at_priority(key))


# -- one morning ---------------------------------------------------------------------------


@dataclass
class _Tick:
    """What one tick of a morning left behind: seen at the devices and in the store."""

    minute: int
    held: dict[str, float]
    """Every command point's value as its device holds it."""
    intended: dict[str, float]
    """What the engine wanted each command point to hold."""
    levels: dict[str, str]
    occupied: dict[str, bool | None]
    temperatures: dict[str, float]
    """Each zone's true temperature, from the physics."""


@dataclass
class _Morning:
    ticks: list[_Tick]
    writes: list[Counter[str]]
    """Writes each point received at its device from the engine, per tick (cumulated):
    counted by the devices, less what the faults sent themselves."""
    alarms: list[Any]
    events: list[Any]
    samples_stored: int
    samples_expected: int
    archive: dict[str, int]
    failed: dict[str, set[int]]
    """The minutes at which each point's sample was failed (nothing good to decide on)."""


async def _morning(site: Site, folder: Path, faults: bool,
                   progress: Progress | None) -> _Morning:
    """One scripted morning (``faults`` false: the reference, where nothing fails)."""
    with LocalInfluxDB1() if faults else contextlib.nullcontext() as influx:
        label = "matinée de pannes" if faults else "matinée de référence"
        task = progress.add_task(label, total=MORNING_MIN + 1) if progress else None
        try:
            return await _run_morning(site, folder, influx, progress, task)
        finally:
            if progress is not None and task is not None:
                progress.remove_task(task)


async def _run_morning(site: Site, folder: Path, influx: LocalInfluxDB1 | None,
                       progress: Progress | None, task: Any) -> _Morning:
    from protocols.bacnet import BacnetDriver
    from protocols.modbus import ModbusDriver

    clock = SimulatedClock(START)
    schedule = _schedule(site) if influx is not None else []
    virtual = VirtualSite(site, clock, seed=7, bacnet_options=_device_options(schedule, site))
    store = Store(folder / ("faults.sqlite" if influx else "reference.sqlite"))

    def now() -> float:
        return clock.now().timestamp()

    drivers = {"modbus": ModbusDriver(now=now, timeout_s=1.0),
               "bacnet": BacnetDriver(now=now, port=free_loopback_port(udp=True),
                                      timeout_s=1.0)}
    engine = Engine(site, store, drivers, clock, SETTINGS)
    front_end = LocalFrontEnd(site, now)
    shipper = None
    if influx is not None:
        influx.create_database("gtb")
        shipper = Shipper(store, site, InfluxSettings(url=influx.url, api="v1", database="gtb"),
                          clock, now=now)
    ticks: list[_Tick] = []
    writes: list[Counter[str]] = []
    tally = _WriteTally()
    refs = list(site.points())
    commands = {r.key for r in refs if r.point.writable}
    try:
        async with virtual.serving(sync_s=3600):  # synchronised by hand, at known times
            injector = _Injector(virtual, influx, front_end)
            await front_end.start()
            await engine.start()
            try:
                for minute in range(MORNING_MIN + 1):
                    for fault in schedule:
                        if fault.start_min == minute:
                            await injector.begin(fault)
                        if fault.end_min == minute and fault.end_min > fault.start_min:
                            await injector.end(fault)
                    virtual.sync()
                    injector.apply()
                    await engine.tick()
                    virtual.sync()
                    injector.apply()
                    if shipper is not None:
                        await asyncio.to_thread(shipper.ship)
                    ticks.append(_observe(minute, site, virtual, engine, commands))
                    writes.append(tally.total(virtual.servers) - injector.writes)
                    clock.advance(SETTINGS.tick_s)
                    if progress is not None and task is not None:
                        progress.advance(task)
            finally:
                await engine.stop()
                await front_end.stop()
        archive = {}
        if shipper is not None and influx is not None:
            archive = _drain_and_count(shipper, clock, influx, store)
            shipper.close()
        end = _at(MORNING_MIN + 1)
        stored = sum(store.samples.count(r.key, START, end) for r in refs)
        failed = {r.key: {_minute(sample.ts) for sample in store.samples.read(r.key, START, end)
                          if sample.quality is Quality.FAILED} for r in refs}
        return _Morning(ticks, writes, store.alarms.history(limit=1000),
                        store.audit.events(limit=100_000), stored,
                        (MORNING_MIN + 1) * len(refs), archive, failed)
    finally:
        store.close()


class _WriteTally:
    """The writes each point has received at its devices since the morning began: a
    device that restarts is a new server with counts of its own, so every server ever
    seen keeps its share."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[DeviceServer, Counter[str]]] = {}

    def total(self, servers: Sequence[DeviceServer]) -> Counter[str]:
        for server in servers:
            self._seen[id(server)] = (server, server.writes_by_point())
        return sum((counts for _, counts in self._seen.values()), Counter())


def _observe(minute: int, site: Site, virtual: VirtualSite, engine: Engine,
             commands: set[str]) -> _Tick:
    held = {}
    for server in virtual.servers:
        for key in server.keys:
            if key in commands:
                held[key] = server.commanded(key)
    zones = engine.zones()
    temperatures = {f"{r.building.id}.{r.zone.id}": virtual.world.read(r.key)
                    for r in site.points()
                    if r.role is Role.ZONE_TEMPERATURE and r.building and r.zone}
    return _Tick(minute, held, dict(engine.intended()),
                 {z.key: z.level.value for z in zones},
                 {z.key: z.occupied for z in zones}, temperatures)


def _drain_and_count(shipper: Shipper, clock: SimulatedClock, influx: LocalInfluxDB1,
                     store: Store) -> dict[str, int]:
    """Ship what is left, letting simulated time pass beyond any backoff, then count what
    the archive holds against what the store holds: every sample and every event, one
    row each."""
    for _ in range(20):
        if not sum(store.shipping.backlog().values()):
            break
        clock.advance(BACKOFF_MAX_S)
        shipper.ship()
    rows: Counter[str] = Counter()
    for series in influx.query("SELECT * FROM /.*/", database="gtb"):
        kind = "events" if series["name"] in ("event", "command") else "samples"
        rows[kind] += len(series.get("values", []))
    return {"samples_in_influxdb": rows["samples"], "events_in_influxdb": rows["events"],
            "samples_in_store": store.samples.total(),
            "events_in_store": len(store.audit.events(limit=1_000_000)),
            "left_to_ship": sum(store.shipping.backlog().values())}


# -- what the faults did -------------------------------------------------------------------


@dataclass(frozen=True)
class FaultOutcome:
    """What one fault did, measured."""

    name: str
    what: str
    start: str
    end: str
    detected_after_s: float | None
    """From the fault's start to the first alarm (or event) that said so; None: never,
    or nothing to detect (a restart is seen by its effect: the commands restored)."""
    detection_limit_s: float
    alarm: str | None
    cleared_after_s: float | None
    """From the fault's end to its alarm's clearing."""
    zone_levels: dict[str, int]
    """Ticks of each level, over the zones the fault touches, while it lasted."""
    writes_during: int
    """Writes its points received while it lasted (for a restart: at the restart and
    the two ticks after), counted at the devices."""
    restored_in_ticks: int | None
    """Ticks from the device answering again (or the local command's end) until every
    command of its points held what the engine wants; None when it has no command."""
    failed_samples: int
    """Samples of its points with nothing good to decide on (failed), from its start to
    two ticks after its end."""

    @property
    def detected_in_time(self) -> bool:
        if self.detection_limit_s == 0:
            return True
        return self.detected_after_s is not None and \
            self.detected_after_s <= self.detection_limit_s


@dataclass(frozen=True)
class Unsafe:
    """A tick at which a zone was worse off than the engine may ever leave it."""

    minute: int
    point: str
    what: str


@dataclass(frozen=True)
class Storm:
    """A point written more than once in 15 minutes beyond its changes of intent."""

    point: str
    window: str
    writes: int
    intent_changes: int


@dataclass(frozen=True)
class ProcessOutcome:
    """``gtb run`` killed with SIGKILL and started again, then stopped with SIGTERM."""

    ticks_before_kill: int
    partial_ticks: int
    """Ticks whose samples reached the store for some points only (0: a tick is whole)."""
    samples_kept: bool
    """Every sample stored before the kill is still there after the restart."""
    restored_in_ticks_after_restart: int | None
    sigterm_exit_code: int | None
    sigterm_stop_s: float | None
    stopped_event: bool
    released_on_sigterm: int
    """BACnet command points whose engine priority slot was empty after SIGTERM."""
    bacnet_commands: int


@dataclass(frozen=True)
class FaultsBench:
    start: str
    minutes: int
    faults: list[FaultOutcome]
    unsafe: list[Unsafe]
    storms: list[Storm]
    samples_expected: int
    samples_lost: int
    archive: dict[str, int]
    process: ProcessOutcome | None
    reference: str = ("the same morning without any fault: same weather, occupants, seed "
                      "and engine settings")
    counted_at: str = "devices"

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["targets"] = self.targets()
        return found

    def targets(self) -> dict[str, bool]:
        archive = self.archive
        return {
            "every_fault_detected_in_time": all(f.detected_in_time for f in self.faults),
            "every_alarm_cleared": all(f.alarm is None or f.cleared_after_s is not None
                                       for f in self.faults),
            "no_unsafe_state": not self.unsafe,
            "nothing_lost": self.samples_lost == 0 and archive.get("left_to_ship", 1) == 0
            and archive.get("samples_in_influxdb") == archive.get("samples_in_store")
            and archive.get("events_in_influxdb") == archive.get("events_in_store"),
            "commands_restored_within_2_ticks": all(
                f.restored_in_ticks is None or f.restored_in_ticks <= RESTORED_WITHIN_TICKS
                for f in self.faults),
            "no_write_storm": not self.storms,
            "small_device_read_whole": all(f.failed_samples == 0 for f in self.faults
                                           if f.name == SMALL_DEVICE),
        } | ({} if self.process is None else self._process_targets(self.process))

    @staticmethod
    def _process_targets(process: ProcessOutcome) -> dict[str, bool]:
        """The targets of the process part, when it ran (``--no-process`` leaves them out,
        unmeasured rather than failed)."""
        restored = process.restored_in_ticks_after_restart
        return {
            "sigterm_orderly": process.sigterm_exit_code == 0 and process.stopped_event
            and process.released_on_sigterm == process.bacnet_commands,
            "sigkill_loses_nothing_stored": process.samples_kept and process.partial_ticks == 0
            and restored is not None and restored <= RESTORED_WITHIN_TICKS,
        }


def _at(minute: int) -> datetime:
    return START + timedelta(minutes=minute)


def _minute(at: datetime) -> int:
    return round((at - START).total_seconds() / 60)


def _matches(held: float, wanted: float | None) -> bool:
    return wanted is not None and math.isfinite(held) and abs(held - wanted) <= 0.05


def _outcome(fault: Fault, morning: _Morning, site: Site) -> FaultOutcome:
    began, ended = _at(fault.start_min), _at(fault.end_min)
    detected, alarm, cleared = None, None, None
    for wanted in fault.detected_by:
        if wanted.startswith("event:"):
            _, kind, field = wanted.split(":")
            seen = [e.ts for e in morning.events if e.kind == kind and e.ts >= began
                    and e.point in fault.points and e.data.get(field) is not None]
        else:
            found = [a for a in morning.alarms if a.key == wanted and a.raised_at >= began]
            seen = [a.raised_at for a in found]
            if found:
                first = min(found, key=lambda a: a.raised_at)
                alarm = first.key
                if first.cleared_at is not None:
                    cleared = (first.cleared_at - ended).total_seconds()
        if seen:
            after = (min(seen) - began).total_seconds()
            detected = after if detected is None else min(detected, after)
    zones = {f"{r.building.id}.{r.zone.id}" for r in site.points()
             if r.key in fault.points and r.building and r.zone}
    during = [t for t in morning.ticks if fault.start_min <= t.minute <= fault.end_min]
    levels = Counter(t.levels[z] for t in during for z in zones if z in t.levels)
    first = max(fault.start_min - 1, 0)
    last = fault.end_min - 1 if fault.end_min > fault.start_min \
        else fault.start_min + RESTORED_WITHIN_TICKS
    writes = sum(morning.writes[last][k] - morning.writes[first][k] for k in fault.points)
    restored = None
    if any(k in morning.ticks[fault.end_min].intended for k in fault.points):
        for n, tick in enumerate(morning.ticks[fault.end_min:], start=1):
            if all(_matches(tick.held[k], goal) for k in fault.points
                   if (goal := tick.intended.get(k)) is not None):
                restored = n
                break
    window = range(fault.start_min, fault.end_min + RESTORED_WITHIN_TICKS + 1)
    failed = sum(1 for key in fault.points for minute in morning.failed.get(key, ())
                 if minute in window)
    return FaultOutcome(fault.name, fault.what, began.isoformat(), ended.isoformat(),
                        detected, fault.detection_limit_s if fault.detected_by else 0.0,
                        alarm, cleared, dict(levels), writes, restored, failed)


def _excused(key: str, minute: int, faults: Sequence[Fault]) -> bool:
    """A device that lost its commands or a person's command at a higher priority holds
    another value than the engine's, not by the engine's doing: until the engine can have
    restored them (two ticks after the device answers) or the person relinquishes."""
    return any(key in f.points and f.start_min <= minute <= f.end_min + RESTORED_WITHIN_TICKS
               for f in faults if f.name != "presence_failed")


def _unsafe(site: Site, reference: _Morning, faulted: _Morning,
            faults: Sequence[Fault]) -> list[Unsafe]:
    """Ticks at which the engine wanted a command not finite or out of its role's range;
    a zone's setpoint at its device was out of the zone's bounds, or (the zone occupied
    in the reference morning) lower than in the reference, or its mode lower, while no
    fault excuses it (``_excused``); or a zone was colder than its frost floor."""
    found: list[Unsafe] = []
    setpoints = {r.key: (f"{r.building.id}.{r.zone.id}", site.bounds_of(r.zone))
                 for r in site.points()
                 if r.role in (Role.HEATING_SETPOINT, Role.HEATING_MODE) and r.building
                 and r.zone}
    roles = {r.key: r.role for r in site.points()}
    floors = {f"{b.id}.{z.id}": site.bounds_of(z).frost_floor
              for b in site.buildings for z in b.zones}
    for ref_tick, tick in zip(reference.ticks, faulted.ticks, strict=True):
        for key, value in tick.intended.items():
            info = ROLES[roles[key]]
            if not math.isfinite(value) or not info.low <= value <= info.high:
                found.append(Unsafe(tick.minute, key, f"the engine wants {value!r}"))
        for key, (zone, bounds) in setpoints.items():
            if _excused(key, tick.minute, faults):
                continue
            held, was = tick.held[key], ref_tick.held[key]
            if roles[key] is Role.HEATING_SETPOINT and not \
                    bounds.frost_floor <= held <= bounds.setpoint_ceiling:
                found.append(Unsafe(tick.minute, key, f"setpoint {held!r} °C out of bounds"))
            if not ref_tick.occupied.get(zone):
                continue
            worse = held < was - COMFORT_SLACK_K if roles[key] is Role.HEATING_SETPOINT \
                else held > was
            if worse:
                found.append(Unsafe(tick.minute, key, f"{held:g} while occupied; {was:g} "
                                                      "without the fault"))
        for zone, temperature in tick.temperatures.items():
            if temperature < floors[zone]:
                found.append(Unsafe(tick.minute, zone, f"{temperature:.1f} °C"))
    return found


def _storms(morning: _Morning, faults: Sequence[Fault]) -> list[Storm]:
    """Per point and 15-minute window: writes at the device beyond one a window (the
    refresh), the changes of what the engine intended, and one restoration for each
    fault of the point that ends in the window (a device back with its commands lost)."""
    found: list[Storm] = []
    window = int(STORM_WINDOW.total_seconds() // SETTINGS.tick_s)
    for first in range(1, len(morning.ticks) - window + 1, window):
        last = first + window - 1
        for key in morning.ticks[0].held:
            writes = morning.writes[last][key] - morning.writes[first - 1][key]
            changes = sum(
                1 for a, b in zip(morning.ticks[first - 1 : last], morning.ticks[first : last + 1],
                                  strict=True)
                if a.intended.get(key) != b.intended.get(key))
            restored = sum(1 for f in faults if key in f.points and first <= f.end_min <= last)
            if writes > changes + restored + 1:
                found.append(Storm(key, f"{_at(first):%H:%M}-{_at(last + 1):%H:%M}", writes,
                                   changes))
    return found


# -- the process: SIGKILL, restart, SIGTERM ------------------------------------------------

PROCESS_TICK_S = 2.0
"""``gtb run --tick 2``: the process part runs in real time, so its ticks are short."""


class _EngineProcess:
    """``gtb run`` on the site, in a process of its own, as a service manager runs it."""

    def __init__(self, site_file: Path, db: Path) -> None:
        self._command = [sys.executable, "-m", "gtb.cli", "run", str(site_file), "--db",
                         str(db), "--tick", f"{PROCESS_TICK_S:g}", "--bacnet-port",
                         str(free_loopback_port(udp=True)), "--no-panel"]
        self.log = db.with_suffix(".log")
        """What the processes printed, one after the other."""
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb"}
        env.pop("GTB_INFLUX_URL", None)  # the process part has no archive
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self._command, stdout=log, stderr=subprocess.STDOUT, env=env)

    def said(self, lines: int = 15) -> str:
        """The last lines the processes printed."""
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def signal(self, number: int, timeout_s: float = 60.0) -> tuple[int | None, float]:
        """Send ``number``; the exit code (None: it did not exit) and how long it took."""
        assert self.process is not None
        began = monotonic()
        self.process.send_signal(number)
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout_s)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            return None, timeout_s
        return code, monotonic() - began


async def _ticks_stored(store: Store, key: str, at_least: int, engine: _EngineProcess,
                        timeout_s: float = 90.0) -> int:
    """Wait until the store holds ``at_least`` samples of ``key`` (the engine's ticks)."""
    began = monotonic()
    while True:
        count = store.samples.count(key, datetime(2000, 1, 1, tzinfo=PARIS),
                                    datetime(2100, 1, 1, tzinfo=PARIS))
        if count >= at_least:
            return count
        if monotonic() - began > timeout_s:
            raise RuntimeError(f"gtb run stored {count} ticks of {key} in {timeout_s:g} s, "
                               f"not {at_least}; it said: {engine.said()}")
        await asyncio.sleep(0.2)


async def _process_faults(site_text: str, folder: Path,
                          progress: Progress | None) -> ProcessOutcome:
    site_file = folder / "process-site.yaml"
    site_file.write_text(site_text, encoding="utf-8")
    site = parse_site(site_text, str(site_file))
    db = folder / "process.sqlite"
    clock = SimulatedClock(RealClock().now(), speed=1.0)
    virtual = VirtualSite(site, clock, seed=7)
    refs = list(site.points())
    probe = refs[0].key
    bacnet = [r for r in refs if r.point.writable and r.binding.protocol == "bacnet"
              and r.binding.commandable]
    task = progress.add_task("gtb run : SIGKILL, redémarrage, SIGTERM", total=4) \
        if progress else None

    def step() -> None:
        if progress is not None and task is not None:
            progress.advance(task)

    async with virtual.serving(sync_s=0.5):
        engine = _EngineProcess(site_file, db)
        await engine.start()
        store = Store(db)
        try:
            before = await _ticks_stored(store, probe, 3, engine)
            await engine.signal(signal.SIGKILL)
            step()
            kept = [store.samples.count(r.key, START - timedelta(days=3650),
                                        START + timedelta(days=3650)) for r in refs]
            partial = len(set(kept)) - 1
            await engine.start()
            restored = await _restored_after_restart(store, virtual, probe, before, engine)
            step()
            after = [store.samples.count(r.key, START - timedelta(days=3650),
                                         START + timedelta(days=3650)) for r in refs]
            code, took = await engine.signal(signal.SIGTERM)
            step()
            stopped = any(e.message.startswith("Moteur arrêté")
                          for e in store.audit.events(kind="engine", limit=1))
            released = await _released(site, bacnet, clock)
            step()
        finally:
            if engine.process is not None and engine.process.returncode is None:
                engine.process.kill()
                await engine.process.wait()
            store.close()
    return ProcessOutcome(before, partial, all(a >= b for a, b in zip(after, kept, strict=True)),
                          restored, code, None if took is None else round(took, 2), stopped,
                          released, len(bacnet))


async def _restored_after_restart(store: Store, virtual: VirtualSite, probe: str,
                                  before: int, engine: _EngineProcess) -> int | None:
    """Ticks of the restarted engine until every zone's setpoint at its device is what
    the engine shows in its status (None: not within 10 ticks)."""
    setpoints = {ref.key: f"{ref.building.id}.{ref.zone.id}" for ref in virtual.site.points()
                 if ref.role is Role.HEATING_SETPOINT and ref.building and ref.zone}
    servers = {key: s for s in virtual.servers for key in s.keys}
    for n in range(1, 11):
        await _ticks_stored(store, probe, before + n, engine)
        zones = store.status.zones()
        if all(z in zones and _matches(servers[k].commanded(k), zones[z].setpoint)
               for k, z in setpoints.items()):
            return n
    return None


async def _released(site: Site, bacnet: Sequence[PointRef], clock: SimulatedClock) -> int:
    """BACnet command points whose slot at the engine's priority is empty, read over the
    wire by a client of the benchmark's own."""
    from protocols.bacnet import BacnetDriver

    driver = BacnetDriver(now=lambda: clock.now().timestamp(),
                          port=free_loopback_port(udp=True), timeout_s=2.0)
    await driver.start()
    try:
        empty = 0
        for ref in bacnet:
            assert ref.binding.protocol == "bacnet"
            slots = await driver.priority_array(ref)
            empty += slots[ref.binding.priority - 1] is None
        return empty
    finally:
        await driver.stop()


# -- the benchmark -------------------------------------------------------------------------


def bench_faults(progress: Progress | None = None, process: bool = True) -> FaultsBench:
    """The scripted morning on the demo commune, its reference, and (unless ``process``
    is false) the process part; every device on free loopback ports."""
    site_text = relocate_ports(DEMO_SITE.read_text(encoding="utf-8"))
    # Its faults are those of wired devices: the salle des fêtes' LoRaWAN devices, and
    # the river's gauge, are left out (``gtb bench lorawan`` and the tests cover theirs).
    site = parse_site(site_text, str(DEMO_SITE)).wired()
    with tempfile.TemporaryDirectory(prefix="gtb-faults-") as name:
        folder = Path(name)
        reference = asyncio.run(_morning(site, folder, faults=False, progress=progress))
        faulted = asyncio.run(_morning(site, folder, faults=True, progress=progress))
        schedule = _schedule(site)
        outcome = None
        if process:
            outcome = asyncio.run(_process_faults(relocate_ports(site_text), folder, progress))
    return FaultsBench(
        start=START.isoformat(), minutes=MORNING_MIN,
        faults=[_outcome(f, faulted, site) for f in schedule],
        unsafe=_unsafe(site, reference, faulted, schedule),
        storms=_storms(faulted, schedule),
        samples_expected=faulted.samples_expected,
        samples_lost=max(0, faulted.samples_expected - faulted.samples_stored),
        archive=faulted.archive, process=outcome)


def _schedule(site: Site) -> list[Fault]:
    """The script, as it names the devices of ``site`` (without serving them)."""
    return script(site, VirtualSite(site, SimulatedClock(START)), SETTINGS)


def summary_rows(result: FaultsBench) -> Iterator[tuple[str, str, str, str, str, str]]:
    """What a person reads: fault, detected after (limit), cleared after, restored in,
    writes during, failed samples."""
    for f in result.faults:
        detected = "—" if f.detection_limit_s == 0 else (
            "jamais" if f.detected_after_s is None else f"{f.detected_after_s:.0f} s")
        limit = "" if f.detection_limit_s == 0 else f" (≤ {f.detection_limit_s:.0f} s)"
        cleared = "—" if f.cleared_after_s is None else f"{f.cleared_after_s:.0f} s"
        restored = "—" if f.restored_in_ticks is None else f"{f.restored_in_ticks} tick(s)"
        yield (f.name, detected + limit, cleared, restored, str(f.writes_during),
               str(f.failed_samples))
