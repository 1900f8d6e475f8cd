"""Commands over a class A radio: how far ahead a setpoint must look, and whether a change
is worth one of the day's downlinks.

A LoRaWAN class A device listens only just after it transmits: a downlink the engine
publishes waits at the network server until the device's next uplink, and a change
decided after that uplink waits for the one after. So a pre-heat reaches the valve on an
uplink, never when it was decided, and the engine must decide it early enough
(``radio_lead``: the highest setpoint the zone wants within it, ``look_ahead``). Public
networks allow about ten downlinks a device and day: the engine spends them on what
matters, raising a setpoint toward comfort or frost protection first, and defers a
setback that would leave too few for the day's pre-heats (``spend``, ``plan_day``).
Pure: nothing here reads a clock or touches a device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from controllers.heating import HeatingDecision, after, elapsed
from controllers.schedule import FrenchCalendar, occupation
from gtb.model import BuildingUse
from gtb.model.calendar import AgendaEntry, Programme
from gtb.model.lorawan import LorawanBinding, LorawanDevice
from gtb.texts import Reason

UPLINK_JITTER = 0.1
"""The largest share of its interval an uplink comes early or late (a device adds random
jitter so that its transmissions do not collide with its neighbours'; the simulated
network server's default too). Over the intervals counted from the last uplink heard it
adds up, so the margin grows with them (``radio_lead``)."""
DOWNLINK_RESERVE = 1
"""Downlinks kept, while the day still has planned increases, beyond one per increase:
for an increase whose report disagrees and must be sent again (a downlink lost on the
air), or an agenda event added during the day. After the day's last increase, none: a
night's setback is worth more than a command nobody planned."""
LOOK_STEP = timedelta(minutes=10)
"""At most this between two moments the look-ahead asks the zone about (``look_ahead``):
shorter than any pre-heat, occupation or agenda event, so none falls between two."""
RISE_RESOLUTION = timedelta(minutes=1)
"""How precisely the moment a higher setpoint is wanted is found (its reason says it)."""


def radio_lead(interval: timedelta, last_uplink: datetime | None, now: datetime,
               jitter: float = UPLINK_JITTER) -> timedelta:
    """How far ahead of ``now`` a setpoint commanded now must look, for a device that
    sends an uplink every ``interval`` and was last heard at ``last_uplink``.

    A downlink published now takes effect at the device's next expected uplink, u1 (the
    first of ``last_uplink + k · interval`` after now: a device late by several intervals
    is taken to keep its schedule, its uplinks lost). One published after u1 takes effect
    only at u2 = u1 + interval. So whatever the zone wants before u2 must be commanded
    now: the lead runs to u2, plus a margin of ``jitter`` times the time from the last
    uplink to u2 (each interval may come that much late, and the lateness adds up), at
    most one interval. The lead's end is the same at every tick between two uplinks:
    the setpoint decided does not change within an interval, so that two commands are
    never queued for one uplink.

    A lost u1 (about one uplink in twenty) delays a command by one interval: covering
    it would start every pre-heat an interval earlier for the one in twenty; the learned
    pre-heat's own margin absorbs part of it.

    No uplink heard yet (a start): u1 is anywhere within one interval; one interval plus
    the margin of one, since a command published at any tick lands within that."""
    if last_uplink is None or last_uplink > now:
        return interval * (1 + jitter)
    heard = math.floor(elapsed(last_uplink, now) / interval) + 1  # u1 = last + heard · interval
    until_u2 = interval * (heard + 1)
    margin = min(until_u2 * jitter, interval)
    return until_u2 + margin - elapsed(last_uplink, now)


def look_ahead(now: HeatingDecision, decide_at: Callable[[datetime], HeatingDecision],
               local_now: datetime, lead: timedelta, because: Reason) -> HeatingDecision:
    """The highest setpoint the zone will want between ``local_now`` and ``local_now +
    lead``, as the decision to take now (``now`` is the decision of this moment;
    ``decide_at`` the zone's decision at a later moment, with nothing changed by asking).
    A pre-heat, an occupation or an agenda event that starts within the lead starts now;
    a setback within it is not brought forward (a lower setpoint never wins). The
    reason says when it was wanted and ``because`` why (the same at every tick until then:
    the audit log has it once); a pre-heat started ahead is latched from now, when it
    really starts."""
    if lead <= timedelta(0):
        return now
    steps = max(1, math.ceil(lead / LOOK_STEP))
    earlier, highest, rises = local_now, now, None
    for step in range(1, steps + 1):
        moment = after(local_now, lead * step / steps)
        later = decide_at(moment)
        if later.setpoint > highest.setpoint:
            highest = later
            if rises is None:
                rises = _first_rise(decide_at, now.setpoint, earlier, moment)
        earlier = moment
    if rises is None:
        return now
    said = {**highest.reason.params, "at": local_now}  # said now, not at the later moment
    preheat = None
    if highest.preheat is not None:
        preheat = replace(highest.preheat, since=local_now)
        said["start"] = local_now  # a pre-heat's reason says when it started: now
    return replace(highest, preheat=preheat, planned=None, reason=Reason.of(
        "heating.ahead", at=local_now, decision=Reason.of(highest.reason.code, **said),
        wanted=rises, because=because))


def _first_rise(decide_at: Callable[[datetime], HeatingDecision], base: float,
                low: datetime, high: datetime) -> datetime:
    """The moment within ``RISE_RESOLUTION`` between ``low`` (not above ``base``) and
    ``high`` (above it) the zone first wants a setpoint above ``base``."""
    while elapsed(low, high) > RISE_RESOLUTION:
        middle = after(low, elapsed(low, high) / 2)
        if decide_at(middle).setpoint > base:
            high = middle
        else:
            low = middle
    return high


@dataclass(frozen=True)
class Spend:
    """Whether a change of setpoint is sent now, what it costs of the day's downlinks,
    and why it waits when it does not."""

    send: bool
    cost: int
    reason: Reason | None = None


def same_on_device(held: float, wanted: float, resolution: float | None) -> bool:
    """Whether the device cannot tell ``wanted`` from ``held``: equal, or the same step of
    its ``resolution`` (the WT101 takes whole degrees: 19.4 and 19.0 are both 19)."""
    if math.isclose(held, wanted, abs_tol=1e-6):
        return True
    return resolution is not None and round(held / resolution) == round(wanted / resolution)


def spend(held: float | None, wanted: float, *, at: datetime, remaining: int,
          increases_ahead: Sequence[datetime], resolution: float | None = None,
          frost: bool = False, reserve: int = DOWNLINK_RESERVE) -> Spend:
    """Whether to send ``wanted`` to a device that holds ``held`` (None: not known),
    with ``remaining`` downlinks left today and the day's planned increases still
    ahead (their moments).

    - What the device cannot tell apart (``same_on_device``) costs nothing: sent, and
      the driver publishes nothing.
    - An increase, toward comfort or a pre-heat, and a command that protects from frost
      (``frost``) are always sent: they are what the budget is kept for (beyond it, the
      driver refuses and its alarm says so).
    - A decrease (a setback) is sent only if what is left after it still covers the
      increases ahead, one each, plus ``reserve`` while there are any; otherwise it
      waits (the device keeps the warmer setpoint) and is asked again at each tick, until
      the increases it would starve have passed, or the next local day.
    """
    if held is None:
        return Spend(True, 1)
    if same_on_device(held, wanted, resolution):
        return Spend(True, 0)
    if frost or wanted > held:
        return Spend(True, 1)
    kept = len(increases_ahead) + (reserve if increases_ahead else 0)
    if remaining - 1 >= kept:
        return Spend(True, 1)
    if remaining <= 0:
        return Spend(False, 0, Reason.of("radio.spent", at=at, value=wanted))
    return Spend(False, 0, Reason.of("radio.kept", at=at, value=wanted, remaining=remaining,
                                     next=min(increases_ahead)))


@dataclass
class RadioCommands:
    """The commands of one zone whose setpoint goes to a class A device (``device``, an
    uplink every ``interval``, ``downlinks_per_day``, setpoints told apart to
    ``resolution``): how far ahead it is decided, and whether a change goes now. Keeps the
    decision it last let through (``held``), which a deferred change leaves in force."""

    device: str
    interval: timedelta
    downlinks_per_day: int
    resolution: float | None = None
    held: HeatingDecision | None = None

    @classmethod
    def of(cls, device: LorawanDevice, binding: LorawanBinding) -> RadioCommands:
        """The commands of a setpoint bound to ``device`` by ``binding``: the WT101's
        codec takes whole degrees (in the point's unit, ``scale``); the server's codec
        tells every value apart."""
        whole = abs(binding.scale) if device.codec == "milesight-wt101" else None
        return cls(device.id, timedelta(seconds=device.interval_s), device.downlinks_per_day,
                   whole)

    @property
    def because(self) -> Reason:
        """Why the zone's decision looks ahead, as its reason says."""
        return Reason.of("radio.class_a", device=self.device,
                         interval=self.interval.total_seconds() / 60)

    def lead(self, last_uplink: datetime | None, now: datetime) -> timedelta:
        return radio_lead(self.interval, last_uplink, now)

    def within_budget(self, decision: HeatingDecision, *, at: datetime, spent: int,
                      increases: Sequence[datetime], frost: bool) -> HeatingDecision:
        """``decision``, or the one held when its change is not worth one of the
        downlinks left (``spend``: ``spent`` today already, ``increases`` the day's rises
        still planned, ``frost`` a zone at or below its frost floor). The held decision
        then says why it stays: « Consigne maintenue à 19,0 °C, baisse à 16,0 °C
        reportée : … — » and the decision that waits. No number (a failed decision) is
        arbitration's safe fallback, never held back."""
        if not math.isfinite(decision.setpoint):
            return decision
        held = self.held
        verdict = spend(None if held is None else held.setpoint, decision.setpoint, at=at,
                        remaining=self.downlinks_per_day - spent, increases_ahead=increases,
                        resolution=self.resolution, frost=frost)
        if verdict.send or held is None:  # nothing held: whatever it is, it is sent
            self.held = decision
            return decision
        return HeatingDecision(held.level, held.setpoint, Reason.of(
            "radio.deferred", held=held.setpoint, why=verdict.reason,
            decision=decision.reason), planned=decision.planned)


@dataclass(frozen=True)
class Change:
    """A setpoint a zone's plan wants from ``at`` on (``frost``: to protect it from frost)."""

    at: datetime
    value: float
    frost: bool = False


@dataclass(frozen=True)
class Planned:
    """What became of one change of a day's plan: sent or not, and the setpoint the device
    holds after it."""

    change: Change
    spend: Spend
    held: float | None


def plan_day(changes: Sequence[Change], held: float | None, budget: int,
             resolution: float | None = None,
             reserve: int = DOWNLINK_RESERVE) -> list[Planned]:
    """A day's changes of setpoint, in order, through ``spend`` with a budget of ``budget``
    downlinks, the device holding ``held`` at the start: what is sent and what the device
    holds after each. The increases ahead of a change are the later changes above the one
    before them in the plan (a plan's pre-heats), whether or not a deferred setback makes
    one of them free when it comes."""
    ordered = sorted(changes, key=lambda change: change.at)
    rising = [change.at for before, change in zip([None, *ordered], ordered, strict=False)
              if before is None or change.value > before.value]
    remaining, planned = budget, []
    for change in ordered:
        ahead_of = [moment for moment in rising if moment > change.at]
        verdict = spend(held, change.value, at=change.at, remaining=remaining,
                        increases_ahead=ahead_of, resolution=resolution, frost=change.frost,
                        reserve=reserve)
        if verdict.send and verdict.cost <= remaining:
            remaining -= verdict.cost
            held = change.value
        elif verdict.send:  # beyond the budget: the driver refuses it
            verdict = Spend(False, 0, Reason.of("radio.spent", at=change.at,
                                                value=change.value))
        planned.append(Planned(change, verdict, held))
    return planned


def increases_ahead(programme: Programme, calendar: FrenchCalendar, use: BuildingUse | str,
                    after: datetime, agenda: tuple[AgendaEntry, ...] = ()) -> list[datetime]:
    """The starts of the occupied periods, by the programme and the agenda, after
    ``after`` and before the end of its local day: each needs a setpoint raised (its
    pre-heat) within the day's downlinks."""
    end = datetime.combine(after.date() + timedelta(days=1), datetime.min.time(),
                           tzinfo=after.tzinfo)
    starts: list[datetime] = []
    moment = after
    while moment < end:
        where = occupation(programme, calendar, use, moment, agenda)
        if where.occupied:
            if where.current_end is None or where.current_end <= moment:
                break
            moment = where.current_end
            continue
        if where.next_start is None or where.next_start >= end:
            break
        starts.append(where.next_start)
        moment = where.next_start
    return starts
