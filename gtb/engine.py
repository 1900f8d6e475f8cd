"""One tick: read -> record -> decide -> arbitrate -> write -> record.

The engine reads every point through the drivers, records the samples (with their quality)
before anything else happens to them, judges what it read, asks the controllers, lets
arbitration have the last word, writes only what changed (or needs refreshing), and
records commands, reasons, faults and alarms as events. It never raises out of a tick for
a field fault: a point it cannot read is stale, then failed; its zone goes to a degraded
mode that needs no sensor, and an alarm says so until the point comes back.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from controllers.heating import HeatingDecision, programme_decision
from controllers.learning import ZoneLearner
from controllers.lighting import (
    cabinet_decision,
    circuit_decision,
    equipment_decision,
    lighting_entries,
)
from controllers.monitoring import WatchChange, WatchState, evaluate
from controllers.schedule import (
    HORIZON_DAYS,
    LOOK_BACK_DAYS,
    FrenchCalendar,
    Occupation,
    agenda_for,
    occupation,
)
from gtb import outlook
from gtb.arbitration import Arbiter, Command, Switch
from gtb.clock import Clock, monotonic
from gtb.model import (
    MODE_OF_LEVEL,
    ROLES,
    AgendaEntry,
    Building,
    HeatingLevel,
    PointRef,
    Programme,
    Quality,
    Reason,
    Role,
    Severity,
    Site,
    Zone,
    zone_mode_key,
)
from gtb.store import Store
from gtb.store.audit import Alarm
from gtb.store.samples import Sample
from protocols.base import DeviceError, Driver, Reading


@dataclass(frozen=True)
class EngineSettings:
    tick_s: float = 60.0
    stale_after_s: float = 180.0
    """A point unread for longer than this is failed; until then its last value serves."""
    refresh_s: float = 900.0
    """Every command is written again this often, for a device that lost it."""
    deadband: float = 0.05
    """An analog command closer than this to what was written is not written again."""


@dataclass(frozen=True)
class ZoneStatus:
    """What a person wants to see of a zone: where it is, what it does, and why."""

    key: str
    name: str
    temperature: float | None
    quality: Quality
    level: HeatingLevel
    setpoint: float | None
    reason: Reason
    degraded: bool
    period_end: datetime | None = None
    """When the programme's current period ends, or the next begins."""
    source: str = "controller"
    """Who decided the setpoint: the controller, or a person's override."""
    actor: str = "engine"


@dataclass(frozen=True)
class OutputStatus:
    """A lighting cabinet, a zone's lighting circuit or a piece of equipment: on or off,
    at what level, and why."""

    key: str
    """The cabinet's or equipment's id, or the zone's ``building.zone`` for a circuit."""
    name: str
    kind: str
    """``cabinet``, ``circuit`` or ``equipment``."""
    on: bool
    level: float | None
    reason: Reason
    source: str = "controller"
    """Who decided: the controller, or a person's order on the relay."""


@dataclass(frozen=True)
class TickReport:
    at: datetime
    duration_s: float
    ok: int
    stale: int
    failed: int
    writes: int
    write_failures: int


@dataclass
class _Written:
    value: float
    at: datetime


@dataclass
class _PointMemory:
    """The last good value of a point, which serves while the point is stale."""

    value: float | None = None
    at: datetime | None = None


@dataclass
class _TickState:
    values: dict[str, float | None] = field(default_factory=dict)
    quality: dict[str, Quality] = field(default_factory=dict)


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
        self.calendar = FrenchCalendar(site.school_zone, site.alsace_moselle)
        self.refs = {ref.key: ref for ref in site.points()}
        self._by_protocol: dict[str, list[PointRef]] = defaultdict(list)
        for ref in self.refs.values():
            self._by_protocol[ref.binding.protocol].append(ref)
        missing = set(self._by_protocol) - set(drivers)
        if missing:
            raise ValueError(f"no driver for {', '.join(sorted(missing))} points")
        self._memory = {key: _PointMemory() for key in self.refs}
        self._error_of: dict[str, str] = {}
        self._device_size: dict[tuple[str, str, int], int] = defaultdict(int)
        for ref in self.refs.values():
            self._device_size[ref.binding.endpoint] += 1
        self._written: dict[str, _Written] = {}
        self._switches: dict[str, Switch] = {}
        self._commands: dict[str, Command] = {}
        self._status: dict[str, ZoneStatus] = {}
        self._state = _TickState()
        self._ticking = asyncio.Lock()
        self._dead: set[tuple[str, str, int]] = set()
        self._arbiter = Arbiter(site)
        self._zones = [
            (building, zone, {p.role: f"{building.id}.{zone.id}.{p.id}" for p in zone.points})
            for building in site.buildings
            for zone in building.zones
        ]
        self._learners = {
            f"{building.id}.{zone.id}": ZoneLearner(
                site.programme_of(building, zone), building.use, self.calendar,
                site.comfort_of(zone), site.tz)
            for building, zone, _ in self._zones
        }
        self._programmes = {f"{building.id}.{zone.id}": site.programme_of(building, zone)
                            for building, zone, _ in self._zones}
        self._schedules_loaded: int | None = None
        self._outdoor = self._outdoor_points()
        self._learned_on: date | None = None
        self._agenda_of: dict[str, tuple[AgendaEntry, ...]] = {}
        self._agenda_loaded: tuple[int, date] | None = None
        self._outlook_of: tuple[date, date] | None = None
        self._last_presence: dict[str, datetime] = {}
        self._watched = [ref for ref in self.refs.values() if ref.point.watch is not None]
        self._watch_states: dict[str, WatchState] = {}
        self._outputs: dict[str, OutputStatus] = {}
        self._cabinet_keys = [(cabinet, {p.role: f"{cabinet.id}.{p.id}" for p in cabinet.points})
                              for cabinet in site.cabinets]
        self._equipment_relays = [
            (item, next(f"{item.id}.{p.id}" for p in item.points
                        if p.role is Role.EQUIPMENT_RELAY))
            for item in site.equipment]
        # The relay point behind each output of ``outputs()``: what a person's order names.
        self._output_relays = {
            **{f"cabinet:{cabinet.id}": keys[Role.CABINET_RELAY]
               for cabinet, keys in self._cabinet_keys},
            **{f"equipment:{item.id}": relay for item, relay in self._equipment_relays},
            **{f"circuit:{building.id}.{zone.id}": keys[Role.LIGHTING_RELAY]
               for building, zone, keys in self._zones if Role.LIGHTING_RELAY in keys},
        }

    # -- life cycle --------------------------------------------------------------------

    async def start(self) -> None:
        for key, learner in self._learners.items():
            stored = self.store.learning.of(key)
            if stored is not None:
                learner.restore(stored.model)
        self._learned_on = self.clock.now().astimezone(self.site.tz).date()
        for driver in self.drivers.values():
            await driver.start()
        said = f"{len(self.refs)} points, site {self.site.id}"
        self._event("engine", Reason("Moteur démarré", "Engine started"), Reason(said, said))

    async def stop(self) -> None:
        """Let a tick under way finish, release or hold the commanded points as the site
        file says, then disconnect."""
        async with self._ticking:
            if self.site.on_shutdown == "release":
                for key in list(self._written):
                    await self._release(key, Reason(
                        "arrêt du moteur : point rendu à l'automate",
                        "engine stopped: point handed back to the controller"))
        released = self.site.on_shutdown == "release"
        self._event("engine", Reason("Moteur arrêté", "Engine stopped"),
                    Reason("points rendus", "points released") if released
                    else Reason("points maintenus", "points held"))
        for driver in self.drivers.values():
            await driver.stop()

    # -- one tick ----------------------------------------------------------------------

    async def tick(self) -> TickReport:
        async with self._ticking:
            return await self._tick()

    async def _tick(self) -> TickReport:
        began = monotonic()
        now = self.clock.now()
        readings = await self._read()
        samples = self._judge(now, readings)
        self.store.samples.write(samples)
        active = self.store.alarms.active()
        self._alarms(now, active)
        self._watches(now, active)
        desired = self._decide(now)
        final = self._arbiter.arbitrate(desired, self.store.overrides.active(now),
                                        self._switches, now)
        self._follow(final)
        self._record_commands(final)
        self._save_status(now)
        self._publish_outlook(now)
        writes, failures = await self._write(now, final)
        for key in [k for k in self._written if k not in final]:
            await self._release(key, Reason(
                "plus aucune commande : point rendu à l'automate",
                "no command any more: point handed back to the controller"))
        counts = defaultdict(int, {q: 0 for q in Quality})
        for quality in self._state.quality.values():
            counts[quality] += 1
        return TickReport(now, monotonic() - began, counts[Quality.OK], counts[Quality.STALE],
                          counts[Quality.FAILED], writes, failures)

    def zones(self) -> list[ZoneStatus]:
        """Each zone as of the last tick, in site-file order."""
        return list(self._status.values())

    def outputs(self) -> list[OutputStatus]:
        """Lighting circuits, cabinets and equipment as of the last tick."""
        return list(self._outputs.values())

    async def _read(self) -> dict[str, Reading]:
        results = await asyncio.gather(*(
            self.drivers[protocol].read(refs) for protocol, refs in self._by_protocol.items()
        ))
        readings: dict[str, Reading] = {}
        for result in results:
            readings.update(result)
        return readings

    def _judge(self, now: datetime, readings: Mapping[str, Reading]) -> list[Sample]:
        """Quality of every point: ok, stale (last value still serves) or failed, and why."""
        state = _TickState()
        samples = []
        for key, ref in self.refs.items():
            reading = readings.get(key) or Reading.failed(f"{key}: no reading")
            error = reading.error
            if reading.value is not None:
                error = implausible(ref, reading.value)
            memory = self._memory[key]
            if error is None:
                assert reading.value is not None
                memory.value, memory.at = reading.value, now
                state.values[key], state.quality[key] = reading.value, Quality.OK
                samples.append(Sample(key, now, reading.value))
                continue
            fresh = memory.at is not None and now - memory.at <= timedelta(
                seconds=self.settings.stale_after_s)
            if fresh:
                state.values[key], state.quality[key] = memory.value, Quality.STALE
                samples.append(Sample(key, now, memory.value, Quality.STALE, error))
            else:
                state.values[key], state.quality[key] = None, Quality.FAILED
                samples.append(Sample(key, now, None, Quality.FAILED, error))
            self._error_of[key] = error
        self._state = state
        return samples

    # -- faults and alarms ---------------------------------------------------------------

    def _alarms(self, now: datetime, active: Mapping[str, Alarm]) -> None:
        """One alarm per dead device, else one per failed point; cleared on recovery."""
        failed = [k for k, q in self._state.quality.items() if q is Quality.FAILED]
        by_device: dict[tuple[str, str, int], list[str]] = defaultdict(list)
        for key in failed:
            by_device[self.refs[key].binding.endpoint].append(key)
        wanted: dict[str, tuple[Severity, Reason, PointRef | None]] = {}
        self._dead = set()
        for endpoint, keys in by_device.items():
            if len(keys) == self._device_size[endpoint]:
                self._dead.add(endpoint)
                protocol, address, unit = endpoint
                what_fr, what_en = (
                    (f"Modbus TCP {address} (unité {unit})", f"Modbus TCP {address} (unit {unit})")
                    if protocol == "modbus"
                    else (f"BACnet/IP {address} (appareil {unit})",
                          f"BACnet/IP {address} (device {unit})"))
                cause, consequences = self._cause(keys[0]), self._consequences(keys)
                wanted[f"device:{protocol}:{address}:{unit}"] = (
                    Severity.CRITICAL,
                    Reason(f"{what_fr} ne répond plus : {cause} — {consequences.fr}",
                           f"{what_en} does not answer: {cause} — {consequences.en}"),
                    None,
                )
                continue
            for key in keys:
                ref = self.refs[key]
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
            alarm, new = self.store.alarms.raise_(
                alarm_key, at=now, severity=severity, message=message.fr,
                message_en=message.en, **_where(about)
            )
            if new:
                self._event("alarm", Reason(f"Alarme : {message.fr}", f"Alarm: {message.en}"),
                            Reason("défaut de lecture", "read failure"), ref=about,
                            data={"state": "raised", "alarm": alarm.id, "key": alarm_key})
        for alarm_key in active:
            if alarm_key.startswith(("device:", "point:")) and alarm_key not in wanted:
                cleared = self.store.alarms.clear(alarm_key, at=now)
                if cleared is not None:
                    about = self.refs.get(cleared.point) if cleared.point else None
                    self._event("alarm", Reason(
                        f"Fin d'alarme : {cleared.message}",
                        f"Alarm over: {cleared.message_en or cleared.message}"),
                        Reason("lecture rétablie", "reading again"), ref=about,
                        data={"state": "cleared", "alarm": cleared.id, "key": alarm_key})

    def _watches(self, now: datetime, active: Mapping[str, Alarm]) -> None:
        """Thresholds of watched points: raised after their delay, ended with hysteresis
        (``controllers.monitoring``). A change of severity ends the alarm and raises one
        with the new message. A point that cannot be read keeps its alarm as it was: its
        failure is an alarm of its own."""
        for ref in self._watched:
            assert ref.point.watch is not None
            alarm_key = f"watch:{ref.key}"
            quality = self._state.quality.get(ref.key)
            value = self._state.values.get(ref.key) if quality is Quality.OK else None
            verdict = evaluate(ref.point.watch, value, now,
                               self._watch_states.get(ref.key, WatchState()),
                               name=ref.point.name or ref.key, unit=ref.point.si_unit)
            self._watch_states[ref.key] = verdict.state
            current = active.get(alarm_key)
            if verdict.level is None:
                # Also an alarm left by an earlier run, once the value is back inside.
                if current is not None and value is not None:
                    self.store.alarms.clear(alarm_key, at=now)
                    self._event("alarm", Reason(f"Fin d'alarme : {verdict.reason.fr}",
                                                f"Alarm over: {verdict.reason.en}"),
                                THRESHOLD, ref=ref, data={"state": "cleared",
                                                          "alarm": current.id, "key": alarm_key})
                continue
            if current is not None:
                if verdict.change not in (WatchChange.ESCALATED, WatchChange.EASED):
                    continue
                self.store.alarms.clear(alarm_key, at=now)
            severity = verdict.severity
            assert severity is not None
            alarm, new = self.store.alarms.raise_(alarm_key, at=now, severity=severity,
                                                message=verdict.reason.fr,
                                                message_en=verdict.reason.en, **_where(ref))
            if new:
                self._event("alarm", Reason(f"Alarme : {verdict.reason.fr}",
                                            f"Alarm: {verdict.reason.en}"), THRESHOLD, ref=ref,
                            data={"state": "raised", "alarm": alarm.id, "key": alarm_key})

    def _consequences(self, keys: list[str]) -> Reason:
        """What a dead device means for people: the zones it measures go to their
        degraded mode; what it switches (lights, equipment) keeps its last state until it
        answers, when the engine applies the state of the moment again."""
        refs = [self.refs[key] for key in keys]
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

    def _cause(self, key: str) -> str:
        """Why a point failed, for an alarm that lasts: without the driver's "next attempt
        in N s", true only at the tick it was said."""
        return self._error_of.get(key, "?").split("; next attempt in")[0]

    # -- decisions -----------------------------------------------------------------------

    def _decide(self, now: datetime) -> dict[str, Command]:
        local_now = now.astimezone(self.site.tz)
        desired: dict[str, Command] = {}
        status: dict[str, ZoneStatus] = {}
        outputs: dict[str, OutputStatus] = {}
        switches = self.store.learning.switches()
        agendas = self._agendas(local_now.date())
        self._load_programmes()
        # Zones that follow their programme and share it, with a use, comfort levels and
        # agenda, share a decision.
        decisions: dict[tuple[object, ...], HeatingDecision] = {}
        for building, zone, keys in self._zones:
            zone_key = f"{building.id}.{zone.id}"
            temperature_key = keys[Role.ZONE_TEMPERATURE]
            degraded = self._state.quality[temperature_key] is Quality.FAILED
            learner = self._learners[zone_key]
            learner.learning = switches.get(zone_key, True)
            indoor, outdoor, present = self._observe(now, building, keys, learner)
            programme = self._programmes[zone_key]
            agenda = agendas[zone_key]
            where = occupation(programme, self.calendar, building.use, local_now, agenda)
            # The learner knows the programme, not the agenda: while an entry changes where
            # the zone stands, the programme's decision (with the agenda) applies.
            agenda_matters = bool(agenda) and replace(where, because=None) != occupation(
                programme, self.calendar, building.use, local_now)
            if (learner.learning and learner.thermal is not None and not degraded
                    and not agenda_matters):
                decision = learner.decide(now, indoor=indoor, outdoor=outdoor, present=present)
            else:
                comfort = self.site.comfort_of(zone)
                same = (programme, building.use, comfort, agenda)
                decision = decisions.get(same) or programme_decision(where, local_now, comfort)
                decisions[same] = decision
            reason = _degraded(decision.reason) if degraded else decision.reason
            if Role.HEATING_SETPOINT in keys:
                key = keys[Role.HEATING_SETPOINT]
                desired[key] = Command(key, decision.setpoint, reason)
            if Role.HEATING_MODE in keys:
                key = keys[Role.HEATING_MODE]
                desired[key] = Command(key, MODE_OF_LEVEL[decision.level], reason)
            status[f"{building.id}.{zone.id}"] = self._zone_status(
                building, zone, decision, reason, temperature_key, degraded,
                where.current_end if where.occupied else where.next_start)
            if Role.LIGHTING_RELAY in keys:
                self._circuit(now, local_now, f"{building.id}.{zone.id}", zone.name, keys, where,
                              present, desired, outputs)
        self._status = status
        self._cabinets(local_now, agendas, desired, outputs)
        self._equipment(local_now, agendas, desired, outputs)
        self._outputs = outputs
        return desired

    def _circuit(self, now: datetime, local_now: datetime, zone_key: str, name: str,
                 keys: Mapping[Role, str], where: Occupation, present: bool,
                 desired: dict[str, Command], outputs: dict[str, OutputStatus]) -> None:
        """A zone's lighting circuit, from its presence detector (the programme when it has
        none, or it failed)."""
        detector = Role.OCCUPANCY in keys
        known = detector and self._state.quality[keys[Role.OCCUPANCY]] is not Quality.FAILED
        if known and present:
            self._last_presence[zone_key] = now
        decision = circuit_decision(where, local_now, detector=detector,
                                    presence=present if known else None,
                                    last_seen=self._last_presence.get(zone_key))
        _switch(keys[Role.LIGHTING_RELAY], decision.on, decision.reason, desired)
        outputs[f"circuit:{zone_key}"] = OutputStatus(zone_key, name, "circuit", decision.on,
                                                      None, decision.reason)

    def _cabinets(self, local_now: datetime, agendas: Mapping[str, tuple[AgendaEntry, ...]],
                  desired: dict[str, Command], outputs: dict[str, OutputStatus]) -> None:
        for cabinet, keys in self._cabinet_keys:
            decision = cabinet_decision(cabinet, self.site.latitude, self.site.longitude,
                                        local_now, agendas.get(cabinet.id, ()))
            _switch(keys[Role.CABINET_RELAY], decision.on, decision.reason, desired)
            if Role.DIMMING_LEVEL in keys:
                # Off, the level goes back to full: the next switch-on is not left dim.
                dimming = keys[Role.DIMMING_LEVEL]
                desired[dimming] = Command(dimming, decision.level if decision.on else 100.0,
                                           decision.reason)
            outputs[f"cabinet:{cabinet.id}"] = OutputStatus(
                cabinet.id, cabinet.name, "cabinet", decision.on,
                decision.level if Role.DIMMING_LEVEL in keys else None, decision.reason)

    def _equipment(self, local_now: datetime, agendas: Mapping[str, tuple[AgendaEntry, ...]],
                   desired: dict[str, Command], outputs: dict[str, OutputStatus]) -> None:
        for item, relay in self._equipment_relays:
            where = occupation(item.programme, self.calendar, "autre", local_now,
                               agendas.get(item.id, ()))
            decision = equipment_decision(where, local_now)
            _switch(relay, decision.on, decision.reason, desired)
            outputs[f"equipment:{item.id}"] = OutputStatus(item.id, item.name, "equipment",
                                                           decision.on, None, decision.reason)

    def _agendas(self, today: date) -> Mapping[str, tuple[AgendaEntry, ...]]:
        """Each zone's, cabinet's and equipment's agenda entries near ``today``: the site
        file's, then the store's in the order they were made (the later wins a tie).
        Loaded again only when the day or the store's agenda changes: otherwise one small
        query per tick."""
        loaded = (self.store.agenda.revision(), today)
        if loaded != self._agenda_loaded:
            stored = self.store.agenda.entries(start=today - timedelta(days=LOOK_BACK_DAYS),
                                       end=today + timedelta(days=HORIZON_DAYS + 1))
            entries = (*self.site.agenda, *(r.entry for r in sorted(stored, key=lambda r: r.id)))
            self._agenda_of = {
                f"{building.id}.{zone.id}": agenda_for(entries, building.id, zone.id, today)
                for building, zone, _ in self._zones
            }
            near = [e for e in entries
                    if e.first_day <= today + timedelta(days=HORIZON_DAYS)
                    and e.last_day >= today - timedelta(days=LOOK_BACK_DAYS)]
            for cabinet in self.site.cabinets:
                self._agenda_of[cabinet.id] = lighting_entries(near, cabinet.id)
            for item in self.site.equipment:
                self._agenda_of[item.id] = tuple(
                    e for e in near if e.applies_to_equipment(item.id))
            self._agenda_loaded = loaded
        return self._agenda_of

    def _load_programmes(self) -> None:
        """Each zone's weekly programme: the latest saved in the panel, else the site
        file's; the zone's learner follows it too. Loaded again only when a programme is
        saved: otherwise one small query per tick."""
        revision = self.store.programmes.revision()
        if revision == self._schedules_loaded:
            return
        saved = self.store.programmes.latest()
        for building, zone, _ in self._zones:
            zone_key = f"{building.id}.{zone.id}"
            programme = self.site.programme_of(building, zone)
            version = saved.get(zone_key)
            if version is not None:
                try:
                    programme = Programme.model_validate(version.programme)
                except ValidationError as exc:
                    errors = exc.error_count()
                    self._event(
                        "fault", Reason(f"Programme enregistré de {zone_key} illisible",
                                        f"Saved programme of {zone_key} unreadable"),
                        Reason(f"version {version.version} ({errors} erreur(s)) : programme "
                               "du fichier du site appliqué",
                               f"version {version.version} ({errors} error(s)): the site "
                               "file's programme applies"),
                        zone=(building, zone), data={"version": version.version})
                    version = None
            if programme == self._programmes[zone_key]:
                continue
            self._programmes[zone_key] = programme
            self._learners[zone_key].follow(programme)
            source = (Reason(f"version {version.version} de {version.saved_by}",
                             f"version {version.version} by {version.saved_by}")
                      if version is not None
                      else Reason("programme du fichier du site", "the site file's programme"))
            self._event("programme", Reason(f"Programme de {zone_key} appliqué",
                                            f"Programme of {zone_key} applied"), source,
                        zone=(building, zone),
                        data={"version": None if version is None else version.version})
        self._schedules_loaded = revision

    def _observe(self, now: datetime, building: Building, keys: Mapping[Role, str],
                 learner: ZoneLearner) -> tuple[float | None, float | None, bool]:
        """What the zone's sensors say now (None when unknown); fed to its learner when
        temperatures and the valve are all known."""
        values = self._state.values
        indoor = values.get(keys[Role.ZONE_TEMPERATURE])
        outdoor_key = self._outdoor.get(building.id)
        outdoor = values.get(outdoor_key) if outdoor_key else None
        valve = values.get(keys[Role.VALVE]) if Role.VALVE in keys else None
        present = bool(values.get(keys[Role.OCCUPANCY])) if Role.OCCUPANCY in keys else False
        if indoor is not None and outdoor is not None and valve is not None:
            learner.observe(now, indoor=indoor, outdoor=outdoor, heating=valve / 100,
                            present=present)
        return indoor, outdoor, present

    def _outdoor_points(self) -> dict[str, str]:
        """Each building's outdoor temperature: its own sensor, else the site's first one."""
        own = {ref.building.id: ref.key for ref in self.refs.values()
               if ref.role is Role.OUTDOOR_TEMPERATURE and ref.building is not None}
        first = next(iter(own.values()), None)
        if first is None:
            return {}
        return {b.id: own.get(b.id, first) for b in self.site.buildings}

    async def learn(self) -> bool:
        """Once a night (the first call after local midnight): refit every zone from what
        it observed and keep the models in the store. Runs between ticks."""
        async with self._ticking:
            now = self.clock.now()
            today = now.astimezone(self.site.tz).date()
            if self._learned_on == today:
                return False
            for key, learner in self._learners.items():
                learner.refit(now)
                self.store.learning.save(key, learner.learned(), at=now)
            self._learned_on = today
            fitted = sum(1 for learner in self._learners.values() if learner.thermal)
            self._event("learning", Reason("Apprentissage de la nuit", "Nightly learning"),
                        Reason(f"{fitted} zone(s) sur {len(self._learners)} ont un modèle "
                               "thermique", f"{fitted} zone(s) of {len(self._learners)} have "
                               "a thermal model"))
            return True

    def _zone_status(self, building: Building, zone: Zone, decision: HeatingDecision,
                     reason: Reason, temperature_key: str, degraded: bool,
                     period_end: datetime | None) -> ZoneStatus:
        return ZoneStatus(
            key=f"{building.id}.{zone.id}",
            name=f"{building.name} / {zone.name}",
            temperature=self._state.values[temperature_key],
            quality=self._state.quality[temperature_key],
            level=decision.level,
            setpoint=decision.setpoint,
            reason=reason,
            degraded=degraded,
            period_end=period_end,
        )

    def _follow(self, final: Mapping[str, Command]) -> None:
        """What holds after arbitration in each zone's and output's status: a zone's final
        setpoint and reason (an override's, when one holds), a person's order on a relay
        (the mayor's immediate on or off), so that what is shown is what is written."""
        for building, zone, keys in self._zones:
            zone_key = f"{building.id}.{zone.id}"
            command = final.get(keys.get(Role.HEATING_SETPOINT, ""))
            if command is not None:
                self._status[zone_key] = replace(
                    self._status[zone_key], setpoint=command.value, reason=command.reason,
                    source=command.source, actor=command.actor)
        for key, output in self._outputs.items():
            command = final.get(self._output_relays.get(key, ""))
            if command is not None and command.source != "controller":
                self._outputs[key] = replace(output, on=command.value >= 0.5,
                                             reason=command.reason, source=command.source)

    def _save_status(self, now: datetime) -> None:
        """What the panel shows of each zone and output, as of this tick (the panel reads
        the store only), with each zone's decided level as a sample, in one commit."""
        records: dict[str, tuple[str, dict[str, Any]]] = {}
        for building, zone, keys in self._zones:
            zone_key = f"{building.id}.{zone.id}"
            status = self._status[zone_key]
            forecast = self._learners[zone_key].next_arrival(now)
            occupancy = keys.get(Role.OCCUPANCY)
            records[zone_key] = ("zone", {
                "name": zone.name, "building": building.id, "zone": zone.id,
                "temperature": status.temperature, "quality": status.quality.value,
                "level": status.level.value, "setpoint": status.setpoint,
                "reason": {"fr": status.reason.fr, "en": status.reason.en},
                "source": status.source, "actor": status.actor, "degraded": status.degraded,
                "occupied": None if occupancy is None else self._state.values.get(occupancy),
                "learning": self._learners[zone_key].learning,
                "next_arrival": _iso(forecast.start),
                "next_arrival_end": _iso(forecast.end),
                "next_arrival_reason": {"fr": forecast.reason.fr, "en": forecast.reason.en},
                "period_end": _iso(status.period_end),
            })
        for key, output in self._outputs.items():
            records[key] = ("output", {
                "name": output.name, "kind": output.kind, "on": output.on,
                "level": output.level, "source": output.source,
                "reason": {"fr": output.reason.fr, "en": output.reason.en}})
        modes = [Sample(zone_mode_key(zone.key), now, MODE_OF_LEVEL[zone.level])
                 for zone in self._status.values()]
        self.store.status.save(now, records, samples=modes)

    def _publish_outlook(self, now: datetime) -> None:
        """Each cabinet's night and the holidays ahead, for the panel (gtb.outlook): when
        the night people want to see moves on at sunrise, and once a day."""
        due = outlook.due(self.site, now.astimezone(self.site.tz))
        if due != self._outlook_of:
            self.store.status.save(now, outlook.records(self.site, self.calendar, *due),
                                   replace=outlook.KINDS)
            self._outlook_of = due

    def _record_commands(self, final: Mapping[str, Command]) -> None:
        """A command is an event when its value or its reason changes."""
        for key, command in final.items():
            before = self._commands.get(key)
            if before is None or before.value != command.value or before.reason != command.reason:
                said = f"{key} ← {command.value:g}"
                self._event("command", Reason(said, said), command.reason,
                            ref=self.refs[key], actor=command.actor,
                            data={"value": command.value, "source": command.source})
        self._commands = dict(final)

    # -- writing -------------------------------------------------------------------------

    async def _write(self, now: datetime, final: Mapping[str, Command]) -> tuple[int, int]:
        """Write what is due, except to a dead device: its alarm says enough, and what it
        misses goes out when it answers again (nothing counts as written until then)."""
        due = [
            c for c in final.values()
            if self.refs[c.key].binding.endpoint not in self._dead and self._needs_write(now, c)
        ]
        results = await asyncio.gather(*(self._write_one(now, c) for c in due))
        return sum(results), len(results) - sum(results)

    def _needs_write(self, now: datetime, command: Command) -> bool:
        written = self._written.get(command.key)
        if written is None:
            return True
        if abs(command.value - written.value) > self.settings.deadband:
            return True
        if now - written.at >= timedelta(seconds=self.settings.refresh_s):
            return True
        # A device that restarted holds its default again: read back, and write again.
        seen = self._state.values.get(command.key)
        settled = now - written.at >= timedelta(seconds=2 * self.settings.tick_s)
        return (
            settled
            and seen is not None
            and self._state.quality.get(command.key) is Quality.OK
            and abs(seen - command.value) > self.settings.deadband
        )

    async def _write_one(self, now: datetime, command: Command) -> bool:
        ref = self.refs[command.key]
        alarm_key = f"command:{command.key}"
        try:
            await self.drivers[ref.binding.protocol].write(ref, command.value)
        except DeviceError as exc:
            alarm, new = self.store.alarms.raise_(
                alarm_key, at=now, severity=Severity.WARNING,
                message=f"Commande de {command.key} impossible : {exc}",
                message_en=f"Command of {command.key} failed: {exc}", **_where(ref),
            )
            if new:
                self._event("fault", Reason(f"Écriture de {command.key} impossible",
                                            f"Writing {command.key} failed"),
                            Reason(str(exc), str(exc)), ref=ref,
                            data={"alarm": alarm.id, "value": command.value})
            return False
        before = self._written.get(command.key)
        self._written[command.key] = _Written(command.value, now)
        if ROLES[ref.role].kind == "binary" and (before is None or before.value != command.value):
            self._switches[command.key] = Switch(command.value, now)
        if self.store.alarms.clear(alarm_key, at=now) is not None:
            self._event("alarm", Reason(f"Fin d'alarme : commande de {command.key} rétablie",
                                        f"Alarm over: command of {command.key} restored"),
                        Reason("écriture réussie", "written"), ref=ref,
                        data={"state": "cleared", "key": alarm_key})
        return True

    async def _release(self, key: str, why: Reason) -> None:
        ref = self.refs[key]
        try:
            await self.drivers[ref.binding.protocol].release(ref)
        except DeviceError as exc:
            self._event("fault", Reason(f"Libération de {key} impossible",
                                        f"Releasing {key} failed"),
                        Reason(str(exc), str(exc)), ref=ref)
            return
        del self._written[key]
        self._event("command", Reason(f"{key} libéré", f"{key} released"), why, ref=ref)

    # -- audit -----------------------------------------------------------------------------

    def _event(self, kind: str, message: Reason, reason: Reason, *,
               ref: PointRef | None = None, zone: tuple[Building, Zone] | None = None,
               actor: str = "engine", data: Mapping[str, object] | None = None) -> None:
        """An audit line, in French and English, about a point (``ref``) or a zone."""
        where = (_where(ref) if zone is None
                 else {"building": zone[0].id, "zone": zone[1].id, "point": None})
        self.store.audit.record(
            self.clock.now(), kind, actor, message.fr, reason=reason.fr, site=self.site.id,
            data=data, message_en=message.en, reason_en=reason.en, **where,
        )


THRESHOLD = Reason("seuil", "threshold")

def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _switch(key: str, on: bool, reason: Reason, desired: dict[str, Command]) -> None:
    """A relay's command: 1 for on, 0 for off."""
    desired[key] = Command(key, 1.0 if on else 0.0, reason)


def _where(ref: PointRef | None) -> dict[str, str | None]:
    """The building, zone and point an event or an alarm is about."""
    return {
        "building": ref.building.id if ref and ref.building else None,
        "zone": ref.zone.id if ref and ref.zone else None,
        "point": ref.key if ref else None,
    }


def implausible(ref: PointRef, value: float) -> str | None:
    """Why a value read from a device cannot be believed, or None if it can.

    A NaN, an infinity or a value outside the point's physical range is a fault of the
    sensor or the device, not a measurement: nothing is decided on it.
    """
    if not math.isfinite(value):
        return f"{ref.key}: the device sent {value}, not a number"
    low, high = ref.point.physical_range
    if not low <= value <= high:
        unit = ref.point.si_unit
        return (f"{ref.key}: {value:g} {unit} is outside the physical range "
                f"{low:g}..{high:g} {unit}")
    return None


def _degraded(reason: Reason) -> Reason:
    return Reason(
        f"Mode dégradé, température inconnue : programme sans optimisation. {reason.fr}",
        f"Degraded mode, temperature unknown: programme without optimisation. {reason.en}",
    )

