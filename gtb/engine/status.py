"""What people see of the engine: each zone and output as arbitration left it, written to
the store after every tick for the panel (which reads the store only), and each cabinet's
night and the holidays ahead (``gtb.engine.outlook``) when they move on. The records are
the store's (``gtb.store.status``): the panel, the API and the benchmarks read the same."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING

from controllers.schedule import FrenchCalendar
from gtb.engine import outlook
from gtb.engine.arbitration import Command
from gtb.engine.forecast import Forecasts
from gtb.engine.reading import Snapshot
from gtb.model import Site
from gtb.model.points import MODE_OF_LEVEL, Role, zone_mode_key
from gtb.store import Store
from gtb.store.samples import Sample
from gtb.store.status import OutputStatus, ZoneStatus

if TYPE_CHECKING:
    from gtb.engine.decisions import Decider


_HELD_ROLES = (Role.HEATING_SETPOINT, Role.HEATING_MODE)
"""The commands of a zone's heating, which a local command may hold."""


class StatusKeeper:
    """The status of every zone and output as of the last tick, and its copy in the store."""

    def __init__(self, site: Site, store: Store, calendar: FrenchCalendar,
                 decider: Decider, forecasts: Forecasts) -> None:
        self._site = site
        self._forecasts = forecasts
        self._outdoor = any(ref.role is Role.OUTDOOR_TEMPERATURE for ref in site.points())
        self._store = store
        self._calendar = calendar
        self._decider = decider
        self.zones: dict[str, ZoneStatus] = {}
        self.outputs: dict[str, OutputStatus] = {}
        self._outlook_of: tuple[date, date] | None = None

    def follow(self, now: datetime, snapshot: Snapshot, zones: Mapping[str, ZoneStatus],
               outputs: Mapping[str, OutputStatus], final: Mapping[str, Command],
               held: Mapping[str, int]) -> None:
        """What holds after arbitration: a zone's final setpoint and reason (an override's,
        when one holds), a person's order on a relay (the mayor's immediate on or off), so
        that what is shown is what is written; with each zone's presence, learning switch,
        the arrival its learner expects, and the priority of a local command that holds
        its setpoint or mode (``held``: point key -> priority), its setpoint sent and not
        yet reported applied (a LoRaWAN valve's), and where the outdoor temperature to
        come comes from (none without a forecast nor an outdoor sensor)."""
        self.zones = {}
        source = self._forecasts.source(now)
        outlook = source if source == "forecast" or self._outdoor else None
        for z in self._decider.zones:
            learner = self._decider.learners[z.key]
            forecast = learner.next_arrival(now)
            occupancy = z.keys.get(Role.OCCUPANCY)
            # As the learner sees it: unknown (None) unless the detector read well now.
            present = None if occupancy is None else snapshot.good(occupancy)
            update: dict[str, object] = {
                "occupied": None if present is None else bool(present),
                "learning": learner.learning,
                "next_arrival": forecast.start, "next_arrival_end": forecast.end,
                "next_arrival_reason": forecast.reason,
                "held_by_priority": min((held[k] for role, k in z.keys.items()
                                         if role in _HELD_ROLES and k in held), default=None),
                "forecast": outlook,
            }
            setpoint_key = z.keys.get(Role.HEATING_SETPOINT, "")
            pending = snapshot.pending.get(setpoint_key)
            update["waiting"] = None if pending is None else pending.why
            command = final.get(setpoint_key)
            if command is not None:
                update.update(setpoint=command.value, reason=command.reason,
                              source=command.source, actor=command.actor)
            self.zones[z.key] = zones[z.key].model_copy(update=update)
        self.outputs = dict(outputs)
        for key, output in outputs.items():
            command = final.get(self._decider.output_relays.get(key, ""))
            if command is not None and command.source != "controller":
                self.outputs[key] = output.model_copy(update={
                    "on": command.value >= 0.5, "reason": command.reason,
                    "source": command.source})

    def save(self, now: datetime) -> None:
        """What the panel shows of each zone and output, as of this tick, with each zone's
        decided level as a sample, in one commit."""
        modes = [Sample(zone_mode_key(zone.key), now, MODE_OF_LEVEL[zone.level])
                 for zone in self.zones.values()]
        self._store.status.save(now, self.zones.values(), self.outputs.values(), samples=modes)

    def publish_outlook(self, now: datetime) -> None:
        """Each cabinet's night and the holidays ahead, for the panel: when the night
        people want to see moves on at sunrise, and once a day."""
        due = outlook.due(self._site, now.astimezone(self._site.tz))
        if due != self._outlook_of:
            nights, holidays = outlook.records(self._site, self._calendar, *due, at=now)
            self._store.status.save_outlook(now, nights, holidays)
            self._outlook_of = due
