"""What every zone, circuit, cabinet and piece of equipment should do now, and why.

The controllers (``controllers/``) decide; this room gives them what they need: each
zone's weekly programme (the latest saved in the panel, else the site file's), the agenda
near today (the site file's and the panel's), the French calendar, what the zone's
sensors say, and its learner. A zone whose temperature has failed is in degraded mode:
its programme without any optimisation, which needs no sensor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Protocol, runtime_checkable

from controllers.forecast import OutdoorForecast
from controllers.heating import HeatingDecision, after, programme_decision
from controllers.learning import ZoneLearner
from controllers.lighting import (
    cabinet_decision,
    circuit_decision,
    equipment_decision,
    lighting_entries,
)
from controllers.plant import PlantClock, PlantSwitch, ZoneNeed, frost_floor
from controllers.radio import RadioCommands, increases_ahead, look_ahead
from controllers.schedule import (
    HORIZON_DAYS,
    LOOK_BACK_DAYS,
    FrenchCalendar,
    Occupation,
    agenda_for,
    occupation,
)
from gtb.engine.arbitration import Command
from gtb.engine.journal import Journal
from gtb.engine.reading import Snapshot
from gtb.model import Building, ComfortLevels, Site, Zone
from gtb.model.calendar import AgendaEntry, Programme
from gtb.model.learning import LearningSettings
from gtb.model.lorawan import LorawanBinding
from gtb.model.points import HEATING_SIGNALS, MODE_OF_LEVEL, HeatingLevel, Quality, Role
from gtb.store import Store
from gtb.store.control import Override
from gtb.store.status import OutputStatus, ZoneStatus
from gtb.texts import Reason


@dataclass(frozen=True)
class ZonePoints:
    """A zone, its building, and its points by role."""

    building: Building
    zone: Zone
    keys: Mapping[Role, str]

    @property
    def key(self) -> str:
        return f"{self.building.id}.{self.zone.id}"


@dataclass(frozen=True)
class Decisions:
    """What the controllers want written, and what people should see of it."""

    desired: dict[str, Command]
    zones: dict[str, ZoneStatus]
    outputs: dict[str, OutputStatus]


@runtime_checkable
class RadioLink(Protocol):
    """What the engine asks of the driver of its LoRaWAN devices to plan their commands
    (``protocols.mqtt.MqttDriver``): when each device was last heard, and how many of
    its downlinks the local day has spent."""

    def last_uplink(self, device: str) -> datetime | None: ...

    def downlinks_today(self, device: str, now: datetime) -> int: ...


Forecasts = Callable[[datetime, float | None], OutdoorForecast | None]
"""The outdoor temperature to come, from now and a building's outdoor reading (for
persistence when there is no forecast): ``gtb.engine.forecast.Forecasts.current``."""


class Decider:
    """Asks the controllers, zone by zone and output by output, every tick;
    ``forecasts`` gives each building's outdoor forecast (None: persistence); ``radio``
    what the driver of the site's LoRaWAN devices says of them (None: nothing heard)."""

    def __init__(self, site: Site, store: Store, journal: Journal,
                 calendar: FrenchCalendar, forecasts: Forecasts | None = None,
                 radio: RadioLink | None = None) -> None:
        self._site = site
        self._radio = radio
        self._forecasts = forecasts
        self._store = store
        self._journal = journal
        self._calendar = calendar
        self.zones = [
            ZonePoints(building, zone, {p.role: f"{building.id}.{zone.id}.{p.id}"
                                        for p in zone.points})
            for building in site.buildings
            for zone in building.zones
        ]
        self.learners = {
            z.key: ZoneLearner(site.programme_of(z.building, z.zone), z.building.use, calendar,
                               site.comfort_of(z.zone), site.tz,
                               settings=site.learning_of(z.zone))
            for z in self.zones
        }
        self._programmes = {z.key: site.programme_of(z.building, z.zone) for z in self.zones}
        self._radio_zones = _radio_zones(site, self.zones)
        """The zones whose setpoint goes to a class A device, by zone key."""
        self._schedules_loaded: int | None = None
        self._outdoor = self._outdoor_points()
        self._learned_on: date | None = None
        self._agenda_of: dict[str, tuple[AgendaEntry, ...]] = {}
        self._agenda_loaded: tuple[int, date] | None = None
        self._last_presence: dict[str, datetime] = {}
        self._cabinets = [(cabinet, {p.role: f"{cabinet.id}.{p.id}" for p in cabinet.points})
                          for cabinet in site.cabinets]
        self._equipment = [
            (item, next(f"{item.id}.{p.id}" for p in item.points
                        if p.role is Role.EQUIPMENT_RELAY))
            for item in site.equipment]
        self.output_relays = {
            **{f"cabinet:{cabinet.id}": keys[Role.CABINET_RELAY]
               for cabinet, keys in self._cabinets},
            **{f"equipment:{item.id}": relay for item, relay in self._equipment},
            **{f"circuit:{z.key}": z.keys[Role.LIGHTING_RELAY]
               for z in self.zones if Role.LIGHTING_RELAY in z.keys},
        }
        self._plants = [(building, f"{building.id}.{p.id}",
                         f"{building.name} — {p.name}" if p.name else building.name)
                        for building in site.buildings
                        for p in building.points if p.role is Role.PLANT_ENABLE]
        self._plant_on: dict[str, bool] = {}
        """The state each plant was last decided, when its read-back is not known."""
        self._plant_switch = {plant: PlantSwitch() for _, plant, _ in self._plants}
        """Each plant's last switch, for its minimum on and off times."""
        self._plant_available = {
            building.id: next((f"{building.id}.{p.id}" for p in building.points
                               if p.role is Role.PLANT_AVAILABLE), None)
            for building in site.buildings}
        """Each building's ``plant_available`` point, when it has one."""
        self.output_relays.update({f"plant:{building.id}": plant
                                   for building, plant, _ in self._plants})
        """The relay point behind each output: what a person's order on it names."""

    def restore(self, now: datetime) -> None:
        """Take back what each zone learned before a restart; the night's refit is due
        tomorrow."""
        for key, learner in self.learners.items():
            stored = self._store.learning.of(key)
            if stored is not None:
                learner.restore(stored.model)
        self._learned_on = now.astimezone(self._site.tz).date()

    def decide(self, now: datetime, snapshot: Snapshot,
               overrides: Mapping[str, Override] | None = None) -> Decisions:
        """What every zone and output should do now; ``overrides``, people's overrides in
        force, count in the plants' decisions (arbitration applies them)."""
        overrides = overrides or {}
        local_now = now.astimezone(self._site.tz)
        desired: dict[str, Command] = {}
        zones: dict[str, ZoneStatus] = {}
        outputs: dict[str, OutputStatus] = {}
        switches = self._store.learning.switches()
        agendas = self._agendas(local_now.date())
        self._load_programmes()
        # Zones that follow their programme and share it, with a use, comfort levels, fixed
        # early start, agenda and plant, share a decision.
        shared: dict[tuple[object, ...], HeatingDecision] = {}
        clocks = {b.id: self._plant_clock(b, snapshot) for b in self._site.buildings}
        forecasts: dict[str, OutdoorForecast | None] = {}
        planned: dict[str, datetime | None] = {}
        for z in self.zones:
            building, zone, keys = z.building, z.zone, z.keys
            temperature_key = keys[Role.ZONE_TEMPERATURE]
            degraded = snapshot.quality[temperature_key] is Quality.FAILED
            learner = self.learners[z.key]
            learner.learning = switches.get(z.key, True)
            where: Occupation | None = None
            try:
                indoor, outdoor, present = self._observe(now, z, snapshot, learner)
                programme = self._programmes[z.key]
                agenda = agendas[z.key]
                where = occupation(programme, self._calendar, building.use, local_now, agenda)
                clock = clocks[building.id]
                radio = self._radio_zones.get(z.key)
                lead = timedelta(0) if radio is None else radio.lead(
                    self._last_uplink(radio), now)
                if learner.learning and learner.thermal is not None and not degraded:
                    # The agenda is followed as controllers.agenda says, as in the bench.
                    if building.id not in forecasts:
                        forecasts[building.id] = (None if self._forecasts is None
                                                  else self._forecasts(now, outdoor))
                    decision = learner.decide(now, indoor=indoor, outdoor=outdoor,
                                              present=present, forecast=forecasts[building.id],
                                              plant=clock, agenda=agenda, lead=lead,
                                              because=None if radio is None else radio.because)
                else:
                    comfort = self._site.comfort_of(zone)
                    settings = learner.settings
                    refused = (learner.thermal_refused
                               if learner.learning and learner.thermal is None else None)
                    same = (programme, building.use, comfort, settings, agenda, clock, refused)
                    decision = shared.get(same) or programme_decision(
                        where, local_now, comfort, settings, plant=clock, refused=refused)
                    shared[same] = decision
                    if radio is not None:
                        decision = look_ahead(decision, partial(
                            _programme_at, programme, self._calendar, building.use, agenda,
                            comfort, settings, clock, refused), local_now, lead, radio.because)
                if radio is not None:
                    decision = self._within_budget(now, z, radio, decision, lead, indoor,
                                                   agenda)
                planned[z.key] = decision.planned
            except Exception as exc:  # one zone's fault is not the site's
                # No decision: no number, which arbitration turns into the zone's safe
                # fallback (its frost protection level) with an alarm; the other zones and
                # outputs are decided as ever.
                decision = HeatingDecision(HeatingLevel.FROST_PROTECTION, math.nan,
                                           Reason.of("decision.failed", zone=zone.name,
                                                     error=f"{type(exc).__name__}: {exc}"))
            reason = _degraded(decision.reason) if degraded else decision.reason
            if Role.HEATING_SETPOINT in keys:
                key = keys[Role.HEATING_SETPOINT]
                desired[key] = Command(key, decision.setpoint, reason)
            if Role.HEATING_MODE in keys:
                key = keys[Role.HEATING_MODE]
                desired[key] = Command(key, MODE_OF_LEVEL[decision.level], reason)
            zones[z.key] = ZoneStatus(
                building=building.id,
                zone=zone.id,
                name=zone.name,
                at=now,
                temperature=snapshot.values[temperature_key],
                quality=snapshot.quality[temperature_key],
                level=decision.level,
                setpoint=decision.setpoint if math.isfinite(decision.setpoint) else None,
                reason=reason,
                degraded=degraded,
                period_end=None if where is None
                else where.current_end if where.occupied else where.next_start,
            )
            if Role.LIGHTING_RELAY in keys and where is not None:
                self._circuit(now, local_now, z, where, present, desired, outputs)
        self._cabinet_decisions(local_now, agendas, desired, outputs)
        self._equipment_decisions(local_now, agendas, desired, outputs)
        self._plant_decisions(now, snapshot, zones, planned, clocks, overrides, desired,
                              outputs)
        return Decisions(desired, zones, outputs)

    def _last_uplink(self, radio: RadioCommands) -> datetime | None:
        return None if self._radio is None else self._radio.last_uplink(radio.device)

    def _within_budget(self, now: datetime, z: ZonePoints, radio: RadioCommands,
                       decision: HeatingDecision, lead: timedelta, indoor: float | None,
                       agenda: tuple[AgendaEntry, ...]) -> HeatingDecision:
        """The decision, or the one last let through when its change is not worth one of
        the device's downlinks left today (``controllers.radio.spend``): the increases
        the day's programme and agenda still plan after the lead are what is kept for.
        A zone at or below its frost floor is always sent what it is decided."""
        local_now = now.astimezone(self._site.tz)
        return radio.within_budget(
            decision, at=local_now,
            spent=0 if self._radio is None else self._radio.downlinks_today(radio.device, now),
            increases=increases_ahead(self._programmes[z.key], self._calendar,
                                      z.building.use, after(local_now, lead), agenda),
            frost=indoor is not None and indoor <= frost_floor(self._site, z.zone))

    def _plant_clock(self, building: Building, snapshot: Snapshot) -> PlantClock:
        """When the building's plant can deliver heat: its schedule, and its
        ``plant_available`` point's good reading now."""
        key = self._plant_available[building.id]
        reading = None if key is None else snapshot.good(key)
        return PlantClock(building.plant_schedule, None if reading is None else reading >= 0.5)

    def _plant_decisions(self, now: datetime, snapshot: Snapshot,
                         zones: Mapping[str, ZoneStatus], planned: Mapping[str, datetime | None],
                         clocks: Mapping[str, PlantClock], overrides: Mapping[str, Override],
                         desired: dict[str, Command], outputs: dict[str, OutputStatus]) -> None:
        """Each building's plant, on while a zone needs heat or frost protection
        (``controllers.plant``), with its minimum times, off outside its own schedule: a
        zone's setpoint overridden by a person counts at comfort, as arbitration will write
        it. Frost protection is a safety command."""
        local_now = now.astimezone(self._site.tz)
        for building, plant, name in self._plants:
            needs = []
            for z in self.zones:
                if z.building is not building:
                    continue
                status = zones[z.key]
                level, setpoint = status.level, status.setpoint
                override = overrides.get(z.keys.get(Role.HEATING_SETPOINT, ""))
                if override is not None:
                    level, setpoint = HeatingLevel.COMFORT, override.value
                needs.append(ZoneNeed(z.zone.name, level, setpoint, status.temperature,
                                      frost_floor(self._site, z.zone), planned.get(z.key)))
            seen = snapshot.good(plant)
            was_on = self._plant_on.get(plant, True) if seen is None else seen >= 0.5
            clock = clocks[building.id]
            available = clock.first_available(local_now, local_now) == local_now
            decision = self._plant_switch[plant].decide(needs, was_on, now, available=available,
                                                        settings=self._site.learning)
            self._plant_on[plant] = decision.on
            desired[plant] = Command(plant, 1.0 if decision.on else 0.0, decision.reason,
                                     source="safety" if decision.frost else "controller")
            outputs[f"plant:{building.id}"] = OutputStatus(
                kind="plant", id=building.id, name=name, at=now, on=decision.on,
                reason=decision.reason, source=desired[plant].source)

    def learn(self, now: datetime) -> bool:
        """Once a night (the first call after local midnight): refit every zone from what
        it observed and keep the models in the store."""
        today = now.astimezone(self._site.tz).date()
        if self._learned_on == today:
            return False
        for key, learner in self.learners.items():
            learner.refit(now)
            self._store.learning.save(key, learner.learned(), at=now)
        self._learned_on = today
        fitted = sum(1 for learner in self.learners.values() if learner.thermal)
        self._journal.event("learning", Reason.of("learning.nightly"),
                            Reason.of("learning.fitted", fitted=fitted, zones=len(self.learners)))
        return True

    def _observe(self, now: datetime, z: ZonePoints, snapshot: Snapshot,
                 learner: ZoneLearner) -> tuple[float | None, float | None, bool | None]:
        """What the zone's sensors say now (None when unknown), fed to its learner: each
        sensor for what it is, so a failed outdoor sensor costs the thermal observation,
        not the presence. Presence is unknown (None) without a detector, or when its
        reading is not good (stale or failed): never taken for absence."""
        values, keys = snapshot.values, z.keys
        indoor = values.get(keys[Role.ZONE_TEMPERATURE])
        outdoor_key = self._outdoor.get(z.building.id)
        outdoor = values.get(outdoor_key) if outdoor_key else None
        # The share of its emitter's output the zone uses, from whichever signal it has;
        # with none, the learner infers it from the setpoint the zone holds.
        signal = next((keys[role] for role in HEATING_SIGNALS if role in keys), None)
        share = values.get(signal) if signal else None
        setpoint = (values.get(keys[Role.HEATING_SETPOINT]) if Role.HEATING_SETPOINT in keys
                    else None)
        reading = snapshot.good(keys[Role.OCCUPANCY]) if Role.OCCUPANCY in keys else None
        present = None if reading is None else reading > 0.5
        learner.observe(now, indoor=indoor, outdoor=outdoor,
                        heating=None if share is None else share / 100, present=present,
                        setpoint=setpoint)
        return indoor, outdoor, present

    def _outdoor_points(self) -> dict[str, str]:
        """Each building's outdoor temperature: its own sensor, else the site's first one."""
        own = {ref.building.id: ref.key for ref in self._site.points()
               if ref.role is Role.OUTDOOR_TEMPERATURE and ref.building is not None}
        first = next(iter(own.values()), None)
        if first is None:
            return {}
        return {b.id: own.get(b.id, first) for b in self._site.buildings}

    def _circuit(self, now: datetime, local_now: datetime, z: ZonePoints, where: Occupation,
                 present: bool | None, desired: dict[str, Command],
                 outputs: dict[str, OutputStatus]) -> None:
        """A zone's lighting circuit, from its presence detector (the programme when it has
        none, or its reading is not good)."""
        keys = z.keys
        if present:
            self._last_presence[z.key] = now
        decision = circuit_decision(where, local_now, detector=Role.OCCUPANCY in keys,
                                    presence=present,
                                    last_seen=self._last_presence.get(z.key))
        _switch(keys[Role.LIGHTING_RELAY], decision.on, decision.reason, desired)
        outputs[f"circuit:{z.key}"] = OutputStatus(
            kind="circuit", id=z.key, name=z.zone.name, at=now, on=decision.on,
            reason=decision.reason)

    def _cabinet_decisions(self, local_now: datetime,
                           agendas: Mapping[str, tuple[AgendaEntry, ...]],
                           desired: dict[str, Command],
                           outputs: dict[str, OutputStatus]) -> None:
        for cabinet, keys in self._cabinets:
            decision = cabinet_decision(cabinet, self._site.latitude, self._site.longitude,
                                        local_now, agendas.get(cabinet.id, ()))
            _switch(keys[Role.CABINET_RELAY], decision.on, decision.reason, desired)
            if Role.DIMMING_LEVEL in keys:
                # Off, the level goes back to full: the next switch-on is not left dim.
                dimming = keys[Role.DIMMING_LEVEL]
                desired[dimming] = Command(dimming, decision.level if decision.on else 100.0,
                                           decision.reason)
            outputs[f"cabinet:{cabinet.id}"] = OutputStatus(
                kind="cabinet", id=cabinet.id, name=cabinet.name, at=local_now,
                on=decision.on, level=decision.level if Role.DIMMING_LEVEL in keys else None,
                reason=decision.reason)

    def _equipment_decisions(self, local_now: datetime,
                             agendas: Mapping[str, tuple[AgendaEntry, ...]],
                             desired: dict[str, Command],
                             outputs: dict[str, OutputStatus]) -> None:
        for item, relay in self._equipment:
            where = occupation(item.programme, self._calendar, "autre", local_now,
                               agendas.get(item.id, ()))
            decision = equipment_decision(where, local_now)
            _switch(relay, decision.on, decision.reason, desired)
            outputs[f"equipment:{item.id}"] = OutputStatus(
                kind="equipment", id=item.id, name=item.name, at=local_now, on=decision.on,
                reason=decision.reason)

    def _agendas(self, today: date) -> Mapping[str, tuple[AgendaEntry, ...]]:
        """Each zone's, cabinet's and equipment's agenda entries near ``today``: the site
        file's, then the store's in the order they were made (the later wins a tie).
        Loaded again only when the day or the store's agenda changes: otherwise one small
        query per tick."""
        loaded = (self._store.agenda.revision(), today)
        if loaded != self._agenda_loaded:
            stored = self._store.agenda.entries(start=today - timedelta(days=LOOK_BACK_DAYS),
                                                end=today + timedelta(days=HORIZON_DAYS + 1))
            entries = (*self._site.agenda,
                       *(r.entry for r in sorted(stored, key=lambda r: r.id)))
            self._agenda_of = {z.key: agenda_for(entries, z.building.id, z.zone.id, today)
                               for z in self.zones}
            near = [e for e in entries
                    if e.first_day <= today + timedelta(days=HORIZON_DAYS)
                    and e.last_day >= today - timedelta(days=LOOK_BACK_DAYS)]
            for cabinet in self._site.cabinets:
                self._agenda_of[cabinet.id] = lighting_entries(near, cabinet.id)
            for item in self._site.equipment:
                self._agenda_of[item.id] = tuple(
                    e for e in near if e.applies_to_equipment(item.id))
            self._agenda_loaded = loaded
        return self._agenda_of

    def _load_programmes(self) -> None:
        """Each zone's weekly programme: the latest saved in the panel, else the site
        file's; the zone's learner follows it too. Loaded again only when a programme is
        saved: otherwise one small query per tick."""
        revision = self._store.programmes.revision()
        if revision == self._schedules_loaded:
            return
        saved = self._store.programmes.latest()
        for z in self.zones:
            building, zone = z.building, z.zone
            programme = self._site.programme_of(building, zone)
            version = saved.get(z.key)
            if version is not None and version.programme is not None:
                programme = version.programme
            elif version is not None:
                self._journal.event(
                    "fault", Reason.of("programme.unreadable", zone=z.key),
                    Reason.of("programme.site_file_applies", version=version.version,
                              errors=version.errors),
                    zone=(building, zone), data={"version": version.version})
                version = None
            if programme == self._programmes[z.key]:
                continue
            self._programmes[z.key] = programme
            self.learners[z.key].follow(programme)
            source = (Reason.of("programme.version", version=version.version,
                                who=version.saved_by)
                      if version is not None else Reason.of("programme.site_file"))
            self._journal.event("programme", Reason.of("programme.applied", zone=z.key), source,
                                zone=(building, zone),
                                data={"version": None if version is None else version.version})
        self._schedules_loaded = revision


def _radio_zones(site: Site, zones: list[ZonePoints]) -> dict[str, RadioCommands]:
    """The zones whose heating setpoint is a LoRaWAN device's, with their device's
    commands (the WT101's codec takes whole degrees)."""
    devices = {device.id: device for device in site.lorawan}
    radio = {}
    for z in zones:
        point = next((p for p in z.zone.points if p.role is Role.HEATING_SETPOINT), None)
        if point is None or not isinstance(point.binding, LorawanBinding):
            continue
        radio[z.key] = RadioCommands.of(devices[point.binding.device], point.binding)
    return radio


def _programme_at(programme: Programme, calendar: FrenchCalendar, use: str,
                  agenda: tuple[AgendaEntry, ...], comfort: ComfortLevels,
                  settings: LearningSettings, plant: PlantClock, refused: Reason | None,
                  moment: datetime) -> HeatingDecision:
    """The programme's decision at ``moment``, for a look ahead (``controllers.radio``)."""
    return programme_decision(occupation(programme, calendar, use, moment, agenda), moment,
                              comfort, settings, plant=plant, refused=refused)


def _switch(key: str, on: bool, reason: Reason, desired: dict[str, Command]) -> None:
    """A relay's command: 1 for on, 0 for off."""
    desired[key] = Command(key, 1.0 if on else 0.0, reason)


def _degraded(reason: Reason) -> Reason:
    return Reason.of("zone.degraded", decision=reason)
