"""Who gets the last word on a point: a pure function from what was asked to what is written.

Order, from weakest to strongest: the controllers; a person's override until it expires
or is cancelled; the safety bounds, which clamp everything whoever asked (frost floor and
setpoint ceiling of the zone, the range of a dimming level); and the minimum on and off
times of relays, which protect the equipment from short cycles. A plant that frost
protection needs (a controller's command of source ``safety``) is on whatever: no
override nor minimum off time holds it back.

A value that is not a finite number (a controller's fault: every comparison with NaN is
false, so no bound would hold it) is never written: its point gets its safe fallback
(``FALLBACK``), and the engine raises an alarm while it lasts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from gtb.model import PointRef, Site
from gtb.model.points import HEATING_MODES, MODE_OF_LEVEL, ROLES, HeatingLevel, Role, Source
from gtb.store.control import Override
from gtb.texts import Reason


@dataclass(frozen=True)
class Command:
    """A value for a writable point, who decided it, and why."""

    key: str
    value: float
    reason: Reason
    source: Source = "controller"
    actor: str = "engine"


@dataclass(frozen=True)
class Switch:
    """The last change of a binary output, for its minimum on and off times."""

    value: float
    at: datetime


MINIMUM_STATE_TIME = {
    Role.PLANT_ENABLE: timedelta(minutes=5),
    Role.LIGHTING_RELAY: timedelta(minutes=1),
    Role.CABINET_RELAY: timedelta(minutes=1),
}
"""How long a relay stays in a state before it may change again."""

FALLBACK = "safety.fallback"
"""The reason code of a command whose value was not a number, replaced by its fallback."""


class Arbiter:
    """Arbitration for one site; what it needs of the site file is worked out once."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self._writable = {ref.key: ref for ref in site.points() if ref.point.writable}
        self._mode_of_setpoint: dict[str, str] = {}
        for building in site.buildings:
            for zone in building.zones:
                keys = {p.role: f"{building.id}.{zone.id}.{p.id}" for p in zone.points}
                if Role.HEATING_SETPOINT in keys and Role.HEATING_MODE in keys:
                    self._mode_of_setpoint[keys[Role.HEATING_SETPOINT]] = keys[Role.HEATING_MODE]

    def arbitrate(
        self,
        desired: Mapping[str, Command],
        overrides: Mapping[str, Override],
        switches: Mapping[str, Switch],
        now: datetime,
    ) -> dict[str, Command]:
        """What to write on each point this tick. Overrides on unknown or read-only points
        are left out (the panel and the API refuse them; a stale one in the store must do
        no harm)."""
        final = dict(desired)
        local_now = now.astimezone(self.site.tz)
        for key, override in overrides.items():
            if key in self._writable and not _safety_first(desired.get(key)):
                final[key] = _override_command(override, local_now)
        # An overridden setpoint needs the zone's mode at comfort, or the mode would ignore
        # it (frost protection and off replace the setpoint in the zone's controller).
        for setpoint, mode in self._mode_of_setpoint.items():
            if setpoint in overrides and mode not in overrides:
                final[mode] = replace(final[setpoint], key=mode, value=1.0)
        for key, command in final.items():
            ref = self._writable[key]
            switch = switches.get(key)
            final[key] = _within_bounds(self.site, ref, command, switch)
            if switch is not None and not _safety_first(desired.get(key)):
                final[key] = _minimum_state_time(ref, final[key], switch, now)
        return final


def _safety_first(command: Command | None) -> bool:
    """A controller's command that is itself a safety rule (a plant kept on for frost
    protection): neither a person's order nor a minimum time holds it back."""
    return command is not None and command.source == "safety"


def _override_command(override: Override, local_now: datetime) -> Command:
    tz = local_now.tzinfo
    assert isinstance(tz, ZoneInfo)
    until = override.until.astimezone(tz)
    return Command(
        override.point,
        override.value,
        Reason.of("override", at=local_now, who=override.who, until=until, why=override.why),
        "override",
        override.who,
    )


def _within_bounds(site: Site, ref: PointRef, command: Command,
                   switch: Switch | None) -> Command:
    role = ref.role
    if not math.isfinite(command.value):
        command = _safety(command, _fallback(site, ref, switch), FALLBACK,
                          asked=str(command.value))
    if role is Role.HEATING_SETPOINT:
        assert ref.zone is not None
        bounds = site.bounds_of(ref.zone)
        if command.value > bounds.setpoint_ceiling:
            return _safety(command, bounds.setpoint_ceiling, "safety.capped")
        if command.value < bounds.frost_floor:
            return _safety(command, bounds.frost_floor, "safety.frost_floor")
        return command
    if role is Role.DIMMING_LEVEL:
        level = min(100.0, max(0.0, command.value))
        if level != command.value:
            return _safety(command, level, "safety.dimming", level=level)
        return command
    if ROLES[role].kind == "binary":
        return replace(command, value=1.0 if command.value >= 0.5 else 0.0)
    if role is Role.HEATING_MODE:
        state = float(min(max(HEATING_MODES), max(min(HEATING_MODES), round(command.value))))
        return replace(command, value=state)
    return command


def _fallback(site: Site, ref: PointRef, switch: Switch | None) -> float:
    """What a point gets when what was asked of it is not a number.

    A zone goes to its frost protection level (setpoint and mode): the one level that
    needs nothing from the decision that failed (the programme's level is what that
    decision was working out, from the same state), protects the building whatever the
    occupancy, and lies within the bounds; the alarm calls a person, who may override. A
    dimming level goes to full light, as when a cabinet is off, so that it is never left
    dark by a fault. A relay keeps the state it is in (nothing switches on a value nobody
    can read); one never switched yet stays off, but a plant's enable goes on, since the
    zones' frost protection needs the plant."""
    role = ref.role
    if role is Role.HEATING_SETPOINT:
        assert ref.zone is not None
        return site.comfort_of(ref.zone).frost_protection
    if role is Role.HEATING_MODE:
        return MODE_OF_LEVEL[HeatingLevel.FROST_PROTECTION]
    if role is Role.DIMMING_LEVEL:
        return 100.0
    if switch is not None:
        return switch.value
    return 1.0 if role is Role.PLANT_ENABLE else 0.0


def _safety(command: Command, value: float, code: str, **params: object) -> Command:
    """The command held back by a safety rule: its value, and its reason with the rule's."""
    return replace(command, value=value, source="safety",
                   reason=Reason.of(code, decision=command.reason, value=value, **params))


def _minimum_state_time(ref: PointRef, command: Command, switch: Switch, now: datetime) -> Command:
    minimum = MINIMUM_STATE_TIME.get(ref.role)
    if minimum is None or command.value == switch.value or now - switch.at >= minimum:
        return command
    wait = int((switch.at + minimum - now).total_seconds())
    return _safety(command, switch.value, "safety.kept_on" if switch.value else "safety.kept_off",
                   wait=wait)
