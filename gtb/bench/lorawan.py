"""LoRaWAN benchmark: ``gtb bench lorawan``, the salle des fêtes through class A valves.

The demo commune's salle des fêtes (its radiator valves and ambient sensor are LoRaWAN
devices) over one winter month, after the season harness's week of warm-up, on the same
weather and occupants, with the project's controller (``learned``) each time:

- ``instant``: its setpoints reach the valves at once and it reads the world's sensors
  each step, as over BACnet (the season harness as ``gtb bench heating`` runs it);
- ``class_a``: the same controller through the radio, planning as the engine does: it
  reads what the LoRaWAN points last heard (``protocols.lorawan_points.LorawanPoints``,
  the engine's own code: frame counters, staleness, the WT101's codec, the daily budget),
  looks ahead by the radio's lead and keeps downlinks for the pre-heats
  (``controllers.radio``), and its setpoints go as downlinks through the virtual
  commune's radio (``gtb.sim.radio.SiteRadio``, simulated network servers: uplinks on
  their interval with jitter, about 5 % lost, duplicates, each downlink delivered after
  the valve's next uplink);
- ``class_a_unplanned``: the same without planning: decided now, sent now.

Figures: the building's heat, each zone's discomfort and MissTime (``gtb.bench.heating``'s
definitions), and, for the radio runs, what the network server counted: uplinks sent,
lost and duplicated, downlinks per device and day against its budget, the commands and
how late they reached the valve, the periods of missed uplinks and whether the engine's
points declared their device stale in time. docs/lorawan.md gives the method.

Two stand-ins, said so in the report: the broker (``DirectLink`` hands each message over
in process: the broker is the tests' business, a month of messages through it is not the
bench's), and time (the world moves in 5-minute steps: an uplink arrives at its own
moment but reads the world at the end of the step it falls in, and a downlink delivered
in a step acts from its end).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, cast

import aiomqtt
import numpy as np
from rich.progress import Progress

from controllers.forecast import OutdoorForecast
from controllers.heating import HeatingDecision, after
from controllers.learning import ZoneLearner
from controllers.plant import PlantClock, frost_floor
from controllers.radio import RadioCommands, increases_ahead
from gtb.bench.heating import zone_comfort
from gtb.clock import SimulatedClock
from gtb.config import load_site
from gtb.i18n import number_fr
from gtb.model import PointRef, Site
from gtb.model.calendar import AgendaEntry
from gtb.model.lorawan import LorawanBinding, LorawanDevice
from gtb.model.points import Role
from gtb.sim.lorawan import DownlinkEffect, RadioCounts, SimulatedNetworkServer
from gtb.sim.radio import SiteRadio
from gtb.sim.season import (
    PHYSICS_STEP_S,
    STEPS_PER_CONTROL,
    WARM_UP,
    Harness,
    Learned,
    Observations,
    Run,
    Sensors,
    Strategy,
    StrategyFactory,
    ZoneCommand,
    restrict,
    simulate,
    zone_levels,
)
from gtb.sim.world import VirtualCommune
from protocols.base import DeviceRejected
from protocols.lorawan import Downlink, Uplink, parse
from protocols.lorawan_points import LorawanPoints, PlannedDownlink, lorawan_binding

BUILDING = "salle-des-fetes"
MONTH = "2026-01"
SEED = 1
COMFORT_RATIO = 1.10
"""Target: the radio's discomfort at most 10 % above the instant run's."""
DISCOMFORT_FLOOR_KH = 1.0
"""...or at most this much above it (K·h over the month, the building's zones summed),
whichever is larger: with an instant discomfort near 0, 10 % of it is no margin at all;
1 K·h is an hour 1 K below comfort's tolerance in one zone over a month."""
DETECTION_INTERVALS = 2
"""Target: a device that stops being heard is declared stale within this many expected
intervals after the period of missed uplinks began (when the first of them was due: its
last uplink heard plus one interval)."""
BROKER_STAND_IN = ("DirectLink: the messages of the simulated network server handed to the "
                   "engine's LorawanPoints, and its downlinks to the server, in process "
                   "instead of through Mosquitto (the tests cover the broker)")
TIME_STEP = ("the world moves in 5-minute steps: an uplink arrives at its own moment but "
             "reads the world at the end of the step it falls in; a downlink delivered in "
             "a step acts on the world from its end")


def bench_site(site_file: Path) -> Site:
    """The site with only the salle des fêtes, and the commune's outdoor sensor (the
    mairie's, which the engine reads for every building) as one of its points."""
    site = load_site(site_file)
    if BUILDING not in {building.id for building in site.buildings}:
        raise ValueError(f"{site_file}: no building {BUILDING!r}, the bench's salle des fêtes")
    outdoor = next((ref.point for ref in site.points()
                    if ref.role is Role.OUTDOOR_TEMPERATURE), None)
    site = restrict(site, [BUILDING])
    if outdoor is None:
        return site
    hall = site.buildings[0]
    hall = hall.model_copy(update={"points": (*hall.points, outdoor)})
    return site.model_copy(update={"buildings": (hall,)})


def month_period(month: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """``YYYY-MM`` -> its first midnight in ``tz`` and the next month's; ``ValueError``
    saying what is wrong otherwise."""
    try:
        first = datetime.strptime(month, "%Y-%m").replace(tzinfo=tz)
    except ValueError:
        raise ValueError(f"month {month!r} is not YYYY-MM (e.g. 2026-01)") from None
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following


# -- the radio between the engine and the valves ------------------------------------


class DirectLink:
    """A stand-in for the broker, and said so in the report: what the simulated network
    server publishes goes at once to the engine's ``LorawanPoints`` (the MQTT driver's
    part), stamped with the clock's now as its arrival; what the engine publishes goes
    at once to the server. It also keeps the frames it handed over (each device's
    counter and arrival): a counter missing from them is an uplink the server lost."""

    def __init__(self, points: LorawanPoints, devices: Sequence[LorawanDevice],
                 clock: SimulatedClock, radio: SiteRadio) -> None:
        self.points, self.clock, self.radio = points, clock, radio
        self._uplink_topic = {device.topics[0]: device.id for device in devices}
        self.heard: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
        """Each device's uplinks as published (a duplicate twice): counter, arrival."""

    async def publish(self, topic: str, payload: str, qos: int = 0) -> None:
        """The network server's side: an uplink or an event reaches the engine."""
        message, at = payload.encode(), self.clock.now()
        self.points.receive(topic, message, at)
        device = self._uplink_topic.get(topic)
        if device is not None:
            uplink = parse(topic, message, at)
            assert isinstance(uplink, Uplink), "the server's uplink topic carries uplinks"
            self.heard[device].append((uplink.f_cnt, at))

    def downlink(self, planned: PlannedDownlink) -> None:
        """The engine's side: a downlink reaches its network server's queue."""
        for server in self.radio.servers:
            topic = aiomqtt.Topic(planned.topic)
            if any(topic.matches(pattern) for pattern in server.downlink_topics()):
                server.receive(planned.topic, planned.payload)
                return
        raise ValueError(f"no simulated network server takes {planned.topic}")


@dataclass
class Command:
    """A setpoint the engine sent as a downlink, and when the valve took it."""

    zone: str
    device: str
    value: float
    previous: float | None
    """The valve's target by the time it arrives: the zone's command sent before it, or
    what the valve reported (None: nothing heard yet)."""
    decided_at: datetime
    wanted_at: datetime
    """When the controller wanted it at the valve: when it decided it, or for a rise
    decided ahead of its need (``PlannedLearned``), the moment the zone first wants it.
    Without planning, every command that waits is late."""
    applied_at: datetime | None = None

    @property
    def rise(self) -> bool:
        """A comfort or pre-heat start: the target goes up."""
        return self.previous is not None and self.value > self.previous


class RadioObservations(Observations):
    """What the engine sees through the radio: each LoRaWAN point's latest uplink, as
    ``LorawanPoints`` serves it (None while it fails: silent, nothing heard yet); the
    presence detector as the engine recorded it at each physics step; other points (the
    outdoor sensor) as the world serves them."""

    def __init__(self, world: VirtualCommune, sensors: Sensors, now: datetime,
                 harness: RadioHarness) -> None:
        super().__init__(world, sensors, now)
        self._harness = harness

    def _point(self, key: str | None) -> float | None:
        ref = None if key is None else self._harness.lorawan_refs.get(key)
        if ref is None:
            return super()._point(key)
        reading = self._harness.points.reading(ref, self.now)
        return reading.value if reading.ok else None

    def presence_since_last(self, zone_key: str) -> list[tuple[datetime, bool | None]]:
        times = [self.now - timedelta(seconds=lag * PHYSICS_STEP_S)
                 for lag in range(STEPS_PER_CONTROL - 1, -1, -1)]
        recorded = dict(self._harness.presence.get(zone_key, ()))
        return [(moment, recorded.get(moment)) for moment in times]


class PlannedLearned(Learned):
    """``learned`` planning its class A valves' setpoints as the engine does
    (``gtb.engine.decisions`` with ``controllers.radio.RadioCommands``): each decision
    looks ahead by the radio's lead from the valve's last uplink heard (through
    ``ZoneLearner.decide``), and a setback that would leave too few of the day's downlinks
    for the pre-heats still ahead waits, the valve keeping the warmer setpoint. What it
    knows of the radio is the engine's: ``points`` (``LorawanPoints``), handed over by the
    harness. ``wanted``: when each zone wants the setpoint it last decided (a rise decided
    ahead: the moment it first wants it, which its reason says)."""

    def __init__(self, site: Site) -> None:
        super().__init__(site)
        self.points: LorawanPoints | None = None
        self.wanted: dict[str, datetime] = {}
        self.leads: list[tuple[datetime, timedelta]] = []
        """Each radio zone's lead at each decision, with its moment."""
        devices = {device.id: device for device in site.lorawan}
        self._radio: dict[str, tuple[RadioCommands, float]] = {}
        """Each radio zone's commands, and its frost floor."""
        for ref in site.points():
            if (ref.role is Role.HEATING_SETPOINT and ref.building is not None
                    and ref.zone is not None and isinstance(ref.binding, LorawanBinding)):
                self._radio[f"{ref.building.id}.{ref.zone.id}"] = (RadioCommands.of(
                    devices[ref.binding.device], ref.binding), frost_floor(site, ref.zone))

    def decide(self, key: str, learner: ZoneLearner, now: datetime, *, indoor: float | None,
               outdoor: float | None, present: bool | None, plant: PlantClock,
               forecast: OutdoorForecast | None, agenda: tuple[AgendaEntry, ...]
               ) -> HeatingDecision:
        if key not in self._radio or self.points is None:
            return super().decide(key, learner, now, indoor=indoor, outdoor=outdoor,
                                  present=present, plant=plant, forecast=forecast,
                                  agenda=agenda)
        radio, frost = self._radio[key]
        lead = radio.lead(self.points.last_uplink(radio.device), now)
        self.leads.append((now, lead))
        decision = learner.decide(now, indoor=indoor, outdoor=outdoor, present=present,
                                  plant=plant, forecast=forecast, agenda=agenda, lead=lead,
                                  because=radio.because)
        wanted = (decision.reason.params.get("wanted")
                  if decision.reason.code == "heating.ahead" else None)
        self.wanted[key] = datetime.fromisoformat(wanted) if isinstance(wanted, str) else now
        return radio.within_budget(
            decision, at=now.astimezone(learner.tz),
            spent=self.points.downlinks_today(radio.device, now),
            increases=increases_ahead(learner.programme, learner.calendar, learner.use,
                                      after(now.astimezone(learner.tz), lead), agenda),
            frost=indoor is not None and indoor <= frost)


class RadioHarness(Harness):
    """The season harness with the salle des fêtes' LoRaWAN devices between the
    controller and the world: readings through ``LorawanPoints`` fed by the virtual
    commune's radio (``gtb.sim.radio.SiteRadio``: its simulated network servers, here on a
    ``DirectLink``), setpoints as downlinks the valves take after their next uplink. A
    ``PlannedLearned`` strategy is handed the points, to plan as the engine does."""

    def __init__(self, site: Site, world: VirtualCommune, strategy: Strategy, *, seed: int,
                 counted_from: datetime) -> None:
        super().__init__(site, world, strategy)
        self.counted_from = counted_from
        refs = [ref for ref in site.points() if ref.binding.protocol == "lorawan"]
        self.clock = SimulatedClock(world.now)
        self.radio = SiteRadio(site, world, self.clock, seed)
        self.devices = [device for device in site.lorawan if device.id in self.radio.devices]
        self.points = LorawanPoints(self.devices, refs, site.tz)
        self._replacing = {d.id for d in self.devices if d.network_server == "tts"}
        if isinstance(strategy, PlannedLearned):
            strategy.points = self.points
        self.lorawan_refs = {ref.key: ref for ref in refs}
        self.link = DirectLink(self.points, self.devices, self.clock, self.radio)
        self.setpoint_refs = {f"{ref.building.id}.{ref.zone.id}": ref for ref in refs
                              if ref.role is Role.HEATING_SETPOINT
                              and ref.building is not None and ref.zone is not None}
        self._presence_refs = {f"{ref.building.id}.{ref.zone.id}": ref for ref in refs
                               if ref.role is Role.OCCUPANCY
                               and ref.building is not None and ref.zone is not None}
        self.presence: dict[str, deque[tuple[datetime, bool | None]]] = {
            zone: deque(maxlen=STEPS_PER_CONTROL) for zone in self._presence_refs}
        self.commands_sent: list[Command] = []
        self.refused: list[tuple[str, datetime]] = []
        """Commands ``LorawanPoints`` refused (the day's budget spent, or sent again and
        again without the device reporting them): the zone and when."""
        self.stale_declared: dict[str, dict[datetime, datetime]] = defaultdict(dict)
        """Each device's stale declarations: last uplink heard -> when declared stale."""
        self._waiting: dict[str, deque[Command]] = defaultdict(deque)
        self._wanted_at: dict[str, datetime] = {}
        """When each zone wants its command at the valve (``Command.wanted_at``)."""
        self._counted: dict[str, RadioCounts] = {}
        self._counted_trackers: dict[str, tuple[int, int]] = {}
        for name, device in self.radio.devices.items():
            device.on_downlink = self._taken(name, device.on_downlink)
        for number, ((kind, application, tenant), members) in enumerate(
                self.radio.groups.items()):
            self.radio.servers.append(SimulatedNetworkServer(
                cast(aiomqtt.Client, self.link),  # only ``publish`` is used: DirectLink's
                kind, application, members, self.clock, seed=seed + number,
                timezone=site.tz, tenant=tenant))
        self._loop = asyncio.new_event_loop()

    def close(self) -> None:
        self._loop.close()

    @property
    def counts(self) -> dict[str, RadioCounts]:
        """Each device's radio counts at the network server, all run long."""
        return {name: count for server in self.radio.servers
                for name, count in server.counts.items()}

    def counted(self, device: str) -> tuple[RadioCounts, tuple[int, int]]:
        """A device's radio counts, and its frame counters' lost and duplicates, when the
        counted period began (none before)."""
        return (self._counted.get(device, RadioCounts()),
                self._counted_trackers.get(device, (0, 0)))

    def _taken(self, device: str, effect: DownlinkEffect) -> DownlinkEffect:
        """The device's own effect of a downlink (a valve's target into the world), and
        the moment it took it: the oldest command waiting for the device, as its network
        server's queue delivers them (one the device cannot apply is never taken)."""
        def take(downlink: Downlink) -> Mapping[str, float]:
            command = self._waiting[device].popleft()
            fields = effect(downlink)
            command.applied_at = self.clock.now()
            return fields
        return take

    # -- the harness's seams --

    def observe(self, now: datetime) -> Observations:
        return RadioObservations(self.world, self._sensors, now, self)

    def write(self, zone_key: str, command: ZoneCommand, now: datetime) -> None:
        self._wanted_at[zone_key] = (self.strategy.wanted[zone_key]
                                     if isinstance(self.strategy, PlannedLearned) else now)
        self._send(zone_key, command.setpoint, now)

    def control(self, now: datetime) -> None:
        """Decide, then offer every zone's setpoint again, as the engine's tick does: the
        same value waiting or reported costs no downlink; one refused by the budget, or
        reported otherwise, goes again."""
        super().control(now)
        for zone_key, command in self.commands.items():
            self._send(zone_key, command.setpoint, now)

    def _send(self, zone_key: str, value: float, now: datetime) -> None:
        ref = self.setpoint_refs[zone_key]
        try:
            planned = self.points.downlink(ref, value, now)
        except DeviceRejected:
            self.refused.append((zone_key, now))
            return
        if planned is None:
            return
        device = lorawan_binding(ref).device
        if device in self._replacing:  # LorawanPoints sends to The Things Stack's
            self._waiting[device].clear()  # down/replace: its queue drops what it held
        self.link.downlink(planned)
        self.points.published(ref, value, planned, now)
        command = Command(zone_key, device, planned.expected, self._target(zone_key, ref, now),
                          now, self._wanted_at.get(zone_key, now))
        self.commands_sent.append(command)
        self._waiting[device].append(command)

    def _target(self, zone_key: str, ref: PointRef, now: datetime) -> float | None:
        """The valve's target once what was sent before arrives: the last command sent,
        else what the valve reports (None: nothing heard yet)."""
        earlier = next((c.value for c in reversed(self.commands_sent) if c.zone == zone_key),
                       None)
        if earlier is not None:
            return earlier
        reported = self.points.reading(ref, now)
        return reported.value if reported.ok else None

    def advance_to(self, until: datetime) -> None:
        """Step by step: the world, then each uplink due within the step at its own
        moment (with the downlinks it lets through), each device's staleness at the moment
        the tracker's rule declares it, then what the engine records at the step's end."""
        while self.world.now < until:
            step = self.world.now + timedelta(seconds=PHYSICS_STEP_S)
            self.world.advance_to(step)
            if step == self.counted_from:
                self._counted = {name: replace(count) for name, count in self.counts.items()}
                self._counted_trackers = {name: (tracker.lost, tracker.duplicates)
                                          for name, tracker in self.points.trackers.items()}
            while (due := self._next_uplink()) is not None and due <= step:
                self._declare_stale(due)
                self.clock.advance(max(0.0, (due - self.clock.now()).total_seconds()))
                for server in self.radio.servers:
                    self._loop.run_until_complete(server.publish_due(due))
            self.clock.advance(max(0.0, (step - self.clock.now()).total_seconds()))
            self._declare_stale(step)
            self._record(step)

    def _next_uplink(self) -> datetime | None:
        return min((device.next_uplink for server in self.radio.servers
                    for device in server.devices.values() if device.next_uplink is not None),
                   default=None)

    def _declare_stale(self, by: datetime) -> None:
        """Each device stale by ``by``, declared at the moment its tracker's rule says,
        once per silence (keyed by its last uplink heard)."""
        for device, tracker in self.points.trackers.items():
            stale_from = tracker.stale_from()
            if tracker.last_arrival is not None and stale_from is not None and stale_from <= by:
                self.stale_declared[device].setdefault(tracker.last_arrival, stale_from)

    def _record(self, now: datetime) -> None:
        for zone, ref in self._presence_refs.items():
            reading = self.points.reading(ref, now)
            self.presence[zone].append(
                (now, None if reading.value is None else reading.value > 0.5))


# -- figures --------------------------------------------------------------------------


def _zone_figures(site: Site, run: Run) -> dict[str, dict[str, float]]:
    comfort = np.array([levels.comfort for _, levels in zone_levels(site)])
    discomfort, miss, occupied = zone_comfort(run, comfort)
    return {key: {"discomfort_kh": round(float(discomfort[i]), 2),
                  "misstime_min": round(float(miss[i]), 1),
                  "occupied_h": round(float(occupied[i]), 1)}
            for i, (key, _) in enumerate(zone_levels(site))}


def run_figures(site: Site, run: Run) -> dict[str, Any]:
    """Heat, and each zone's comfort and their sum, over the counted month."""
    zones = _zone_figures(site, run)
    return {"heat_kwh": round(run.heat_kwh[BUILDING], 1),
            "discomfort_kh": round(sum(z["discomfort_kh"] for z in zones.values()), 2),
            "misstime_min": round(sum(z["misstime_min"] for z in zones.values()), 1),
            "zones": zones}


def missed_runs(heard: list[tuple[int, datetime]], sent: int) -> list[tuple[int, int]]:
    """Runs of at least two consecutive uplinks that never arrived, each as the counters
    of the uplinks heard before and after it (``sent``, one past the last counter, when
    none was heard after), from the counters published (a duplicate once) and how many
    the device sent."""
    counters = sorted({f_cnt for f_cnt, _ in heard})
    return [(before, after) for before, after in zip(counters, [*counters[1:], sent],
                                                     strict=True)
            if after - before - 1 >= 2]


def stale_figures(harness: RadioHarness, since: datetime) -> dict[str, Any]:
    """Each period of two or more missed uplinks that began in the counted period: was
    its device declared stale before it was heard again, and how soon after the first
    missed uplink was due (in expected intervals); and stale declarations without such a period
    (jitter can delay one uplink after another lost)."""
    periods = detected = within = 0
    slowest: float | None = None
    spurious = 0
    for device in harness.devices:
        interval = timedelta(seconds=device.interval_s)
        heard = harness.link.heard[device.id]
        arrival = {f_cnt: at for f_cnt, at in reversed(heard)}  # the first arrival
        declared = harness.stale_declared.get(device.id, {})
        explained = set()
        for before, next_heard in missed_runs(heard, harness.counts[device.id].sent):
            last, heard_again = arrival[before], arrival.get(next_heard)
            if last < since:
                continue
            periods += 1
            explained.add(last)
            when = declared.get(last)
            if when is None or (heard_again is not None and when > heard_again):
                continue
            detected += 1
            intervals = (when - last) / interval - 1  # from when the first missed was due
            slowest = intervals if slowest is None else max(slowest, intervals)
            within += intervals <= DETECTION_INTERVALS
        spurious += sum(1 for last in declared if last >= since and last not in explained)
    return {"missed_periods": periods, "detected": detected,
            "detected_within_target": within,
            "slowest_detection_intervals": None if slowest is None else round(slowest, 2),
            "stale_without_missed_period": spurious}


def downlink_figures(harness: RadioHarness, days: Sequence[date]) -> dict[str, Any]:
    """Each device's downlinks per local day as the network server received them, against
    its budget."""
    devices = {}
    for device in harness.devices:
        counts = harness.counts[device.id]
        per_day = [counts.downlinks_received[day] for day in days]
        devices[device.id] = {
            "budget": device.downlinks_per_day,
            "total": sum(per_day),
            "per_day_max": max(per_day),
            "per_day_mean": round(sum(per_day) / len(per_day), 2),
            "days_over_budget": sum(1 for n in per_day if n > device.downlinks_per_day),
            "delivered": sum(counts.downlinks_delivered[day] for day in days),
        }
    return devices


def command_figures(harness: RadioHarness, since: datetime) -> dict[str, Any]:
    """The setpoints sent in the counted period: how long each waited for the valve,
    and which were late (taken at the valve after the moment the controller wanted it
    there, ``Command.wanted_at``); rises (comfort and pre-heat starts)
    apart."""
    sent = [c for c in harness.commands_sent if c.decided_at >= since]
    applied = [c for c in sent if c.applied_at is not None]
    waits = [(c.applied_at - c.decided_at).total_seconds() / 60 for c in applied
             if c.applied_at is not None]
    late = [c for c in applied if c.applied_at is not None and c.applied_at > c.wanted_at]
    late_by = [(c.applied_at - c.wanted_at).total_seconds() / 60 for c in late
               if c.applied_at is not None]
    return {"sent": len(sent), "applied": len(applied),
            "refused": sum(1 for _, when in harness.refused if when >= since),
            "wait_min_mean": round(float(np.mean(waits)), 1) if waits else None,
            "wait_min_max": round(max(waits), 1) if waits else None,
            "late": len(late), "late_rises": sum(1 for c in late if c.rise),
            "rises": sum(1 for c in applied if c.rise),
            "late_by_min_max": round(max(late_by), 1) if late_by else None}


def uplink_figures(harness: RadioHarness) -> dict[str, dict[str, int]]:
    """Each device's uplinks over the counted period, counted at the network server,
    and what the engine's frame counters made of them."""
    figures = {}
    for device in harness.devices:
        now, (before, (lost, duplicates)) = harness.counts[device.id], harness.counted(device.id)
        tracker = harness.points.trackers[device.id]
        figures[device.id] = {"sent": now.sent - before.sent, "lost": now.lost - before.lost,
                              "duplicated": now.duplicated - before.duplicated,
                              "duplicates_dropped_by_engine": tracker.duplicates - duplicates,
                              "lost_seen_by_engine": tracker.lost - lost}
    return figures


def radio_figures(harness: RadioHarness, start: datetime, end: datetime,
                  tz: tzinfo) -> dict[str, Any]:
    """A radio run's figures over [start, end): whether it planned and its mean lead,
    uplinks, downlinks, commands and stale periods."""
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    days = [first + timedelta(days=n) for n in range((last - first).days)]
    leads = ([lead for when, lead in harness.strategy.leads if when >= start]
             if isinstance(harness.strategy, PlannedLearned) else [])
    return {"planned": isinstance(harness.strategy, PlannedLearned),
            "lead_min_mean": round(sum(lead.total_seconds() for lead in leads)
                                   / len(leads) / 60, 1) if leads else 0.0,
            "uplinks": uplink_figures(harness),
            "downlinks": downlink_figures(harness, days),
            "commands": command_figures(harness, start),
            "stale": stale_figures(harness, start)}


def targets(instant: Mapping[str, Any], radio: Mapping[str, Any]) -> dict[str, Any]:
    """The three targets, each with its value, its limit and whether it is met."""
    limit = max(COMFORT_RATIO * instant["discomfort_kh"],
                instant["discomfort_kh"] + DISCOMFORT_FLOOR_KH)
    over = sum(d["days_over_budget"] for d in radio["radio"]["downlinks"].values())
    stale = radio["radio"]["stale"]
    return {
        "comfort": {"discomfort_kh": radio["discomfort_kh"], "limit_kh": round(limit, 2),
                    "met": radio["discomfort_kh"] <= limit},
        "budget": {"days_over_budget": over, "limit": 0, "met": over == 0},
        "stale_detection": {"missed_periods": stale["missed_periods"],
                            "detected_within_target": stale["detected_within_target"],
                            "met": stale["detected_within_target"] == stale["missed_periods"]},
    }


# -- the whole bench ------------------------------------------------------------------


RUNS: dict[str, StrategyFactory | None] = {
    "instant": None, "class_a": PlannedLearned, "class_a_unplanned": Learned}
"""Each run and its controller through the radio (None: no radio, ``learned`` at once)."""
MAIN_RUN = "class_a"
"""The radio run the targets are checked on."""


def bench_lorawan(site_file: Path, month: str = MONTH, seed: int = SEED,
                  days: int | None = None, progress: Progress | None = None
                  ) -> dict[str, Any]:
    """Every run over ``month`` (or its first ``days``) after the warm-up, on weather and
    occupants ``seed``: the report."""
    site = bench_site(site_file)
    start, end = month_period(month, site.tz)
    if days is not None:
        end = min(end, start + timedelta(days=days))
    track = progress.add_task("salle des fêtes", total=len(RUNS)) if progress else None
    runs: dict[str, Any] = {}
    for name, planning in RUNS.items():
        harnesses: list[RadioHarness] = []

        def radio(site_: Site, world: VirtualCommune, strategy: Strategy,
                  kept: list[RadioHarness] = harnesses) -> Harness:
            kept.append(RadioHarness(site_, world, strategy, seed=seed,
                                     counted_from=start.astimezone(UTC)))
            return kept[-1]

        try:
            run = simulate(site, "learned", seed, start, end, factory=planning,
                           harness=Harness if planning is None else radio)
        finally:
            for harness in harnesses:
                harness.close()
        runs[name] = run_figures(site, run)
        if harnesses:
            runs[name]["radio"] = radio_figures(harnesses[0], start, end, site.tz)
        if progress is not None and track is not None:
            progress.advance(track)
    return {
        "building": BUILDING, "month": month, "seed": seed,
        "start": start.date().isoformat(), "end": (end - timedelta(days=1)).date().isoformat(),
        "warm_up_days": WARM_UP.days, "controller": "learned",
        "stand_ins": {"broker": BROKER_STAND_IN, "time": TIME_STEP},
        "runs": runs,
        "targets": targets(runs["instant"], runs[MAIN_RUN]),
    }


RUN_NAMES = {"instant": "instantané", "class_a": "classe A, planifiée",
             "class_a_unplanned": "classe A, sans planification"}
"""How the table names each run (the JSON keeps its keys)."""


def summary_rows(result: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """What a person reads: one row per run."""
    rows: list[tuple[str, ...]] = []
    for name, figures in result["runs"].items():
        common = (RUN_NAMES.get(name, name), number_fr(figures["heat_kwh"], 0),
                  number_fr(figures["discomfort_kh"]), number_fr(figures["misstime_min"], 0))
        radio = figures.get("radio")
        if radio is None:
            rows.append((*common, "0", "—", "—", "—"))
            continue
        per_day = max(d["per_day_max"] for d in radio["downlinks"].values())
        over = sum(d["days_over_budget"] for d in radio["downlinks"].values())
        commands, stale = radio["commands"], radio["stale"]
        rows.append((*common, f"{per_day} ({over} j)",
                     f"{commands['late']}/{commands['applied']} ({commands['late_rises']})",
                     _minutes(commands["wait_min_mean"]),
                     f"{stale['detected_within_target']}/{stale['missed_periods']}"))
    return rows


def target_lines(targets: Mapping[str, Any]) -> list[str]:
    """Each target, met or not, as a person reads it."""
    comfort, budget, stale = targets["comfort"], targets["budget"], targets["stale_detection"]
    return [
        f"{'✓' if comfort['met'] else '✗'} confort : {number_fr(comfort['discomfort_kh'])} "
        f"K·h d'inconfort en classe A, au plus {number_fr(comfort['limit_kh'])} (10 % de plus "
        "que l'instantané)",
        f"{'✓' if budget['met'] else '✗'} budget : {budget['days_over_budget']} jour(s) "
        "au-delà du budget d'envois radio",
        f"{'✓' if stale['met'] else '✗'} silences : {stale['detected_within_target']} sur "
        f"{stale['missed_periods']} vus en moins de deux intervalles attendus",
    ]


def _minutes(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} min"
