"""What people see of the engine: each zone and output as arbitration left it, written to
the store after every tick for the panel (which reads the store only), and each cabinet's
night and the holidays ahead (``gtb.engine.outlook``) when they move on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from controllers.schedule import FrenchCalendar
from gtb.engine import outlook
from gtb.engine.arbitration import Command
from gtb.engine.reading import Snapshot
from gtb.model import MODE_OF_LEVEL, HeatingLevel, Quality, Reason, Role, Site, zone_mode_key
from gtb.store import Store
from gtb.store.samples import Sample

if TYPE_CHECKING:
    from gtb.engine.decisions import Decider


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


class StatusKeeper:
    """The status of every zone and output as of the last tick, and its copy in the store."""

    def __init__(self, site: Site, store: Store, calendar: FrenchCalendar,
                 decider: Decider) -> None:
        self._site = site
        self._store = store
        self._calendar = calendar
        self._decider = decider
        self.zones: dict[str, ZoneStatus] = {}
        self.outputs: dict[str, OutputStatus] = {}
        self._outlook_of: tuple[date, date] | None = None

    def follow(self, zones: Mapping[str, ZoneStatus], outputs: Mapping[str, OutputStatus],
               final: Mapping[str, Command]) -> None:
        """What holds after arbitration: a zone's final setpoint and reason (an override's,
        when one holds), a person's order on a relay (the mayor's immediate on or off), so
        that what is shown is what is written."""
        self.zones = dict(zones)
        for z in self._decider.zones:
            command = final.get(z.keys.get(Role.HEATING_SETPOINT, ""))
            if command is not None:
                self.zones[z.key] = replace(
                    self.zones[z.key], setpoint=command.value, reason=command.reason,
                    source=command.source, actor=command.actor)
        self.outputs = dict(outputs)
        for key, output in outputs.items():
            command = final.get(self._decider.output_relays.get(key, ""))
            if command is not None and command.source != "controller":
                self.outputs[key] = replace(output, on=command.value >= 0.5,
                                            reason=command.reason, source=command.source)

    def save(self, now: datetime, snapshot: Snapshot) -> None:
        """What the panel shows of each zone and output, as of this tick, with each zone's
        decided level as a sample, in one commit."""
        records: dict[str, tuple[str, dict[str, Any]]] = {}
        for z in self._decider.zones:
            status = self.zones[z.key]
            learner = self._decider.learners[z.key]
            forecast = learner.next_arrival(now)
            occupancy = z.keys.get(Role.OCCUPANCY)
            records[z.key] = ("zone", {
                "name": z.zone.name, "building": z.building.id, "zone": z.zone.id,
                "temperature": status.temperature, "quality": status.quality.value,
                "level": status.level.value, "setpoint": status.setpoint,
                "reason": {"fr": status.reason.fr, "en": status.reason.en},
                "source": status.source, "actor": status.actor, "degraded": status.degraded,
                "occupied": None if occupancy is None else snapshot.values.get(occupancy),
                "learning": learner.learning,
                "next_arrival": _iso(forecast.start),
                "next_arrival_end": _iso(forecast.end),
                "next_arrival_reason": {"fr": forecast.reason.fr, "en": forecast.reason.en},
                "period_end": _iso(status.period_end),
            })
        for key, output in self.outputs.items():
            records[key] = ("output", {
                "name": output.name, "kind": output.kind, "on": output.on,
                "level": output.level, "source": output.source,
                "reason": {"fr": output.reason.fr, "en": output.reason.en}})
        modes = [Sample(zone_mode_key(zone.key), now, MODE_OF_LEVEL[zone.level])
                 for zone in self.zones.values()]
        self._store.status.save(now, records, samples=modes)

    def publish_outlook(self, now: datetime) -> None:
        """Each cabinet's night and the holidays ahead, for the panel: when the night
        people want to see moves on at sunrise, and once a day."""
        due = outlook.due(self._site, now.astimezone(self._site.tz))
        if due != self._outlook_of:
            self._store.status.save(now, outlook.records(self._site, self._calendar, *due),
                                    replace=outlook.KINDS)
            self._outlook_of = due


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
