"""What the overview shows first: what needs a person's attention (the alarms in force,
people's overrides and orders in force, the zones off their setpoint), then the zones that
heat now. Each is one ``Line``: one sentence that fits a phone's width, and its details
one tap away.

A zone is **off its setpoint** when every good reading of its temperature over the last
``OFF_FOR`` (an hour) is more than ``OFF_BY`` (1.5 K) on the same side of the setpoint in
force at that reading, and the readings cover that hour (the first at most ``COVERED``
after it began, the last at most ``COVERED`` old). A single reading never decides: a
window opened ten minutes, a draught on the sensor, the minutes after a setpoint rose are
not "off". The setpoint in force at a reading is the last reading of the zone's setpoint
point then, or the engine's setpoint when there is none. Below it, the zone is too cold,
unless it is in pre-heat now (warming up to its comfort setpoint, by design). Above it,
the zone is too warm only in comfort decided by the engine, not an early stop: a zone
lowered to its reduced or frost-protection setpoint, or by a person's override, or left to
coast, stays above it for hours by design.

A zone **heats now** when it is in comfort (pre-heat included) or under an override and
its valve or emitter is open (its latest good reading above 0 %); a zone with neither
point is listed when in comfort or pre-heat.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import url_for

from gtb.model.points import HeatingLevel, Quality, Role
from gtb.store.audit import Alarm
from gtb.store.samples import Sample
from gtb.store.status import ZoneStatus
from gtb.texts import Reason, said
from web.panel import Panel, ZoneView

OFF_BY = 1.5
"""K between the temperature and the setpoint in force, at every reading, to be off it."""
OFF_FOR = timedelta(hours=1)
"""How long every reading must be off the setpoint."""
COVERED = timedelta(minutes=10)
"""The readings must start at most this long after ``OFF_FOR`` began and end at most this
long ago: an hour without readings is no evidence."""

PREHEAT = frozenset({
    "heating.preheat", "heating.preheat_late", "heating.preheat_event",
    "heating.preheat_event_late", "heating.fixed_preheat", "heating.fixed_preheat_refused",
    "heating.fixed_preheat_late", "heating.preheat_ahead"})
"""The reason codes of a zone warming up for an arrival (``controllers/heating.py``)."""
EMITTERS = (Role.VALVE, Role.EMITTER_POWER)
NOTHING = said("—")
"""A temperature or setpoint not known."""


@dataclass(frozen=True)
class Line:
    """One thing to see: ``where`` (a zone, a cabinet, an alarm's severity and place) above
    ``said`` in one line, ``more`` behind it, ``href`` where to act."""

    id: str
    """Stable across refreshes, so that details a person opened stay open (panel.js)."""
    where: Reason
    said: Reason
    more: tuple[Reason, ...]
    href: str
    kind: str = ""
    """A class for its colour (an alarm's severity, ``cold``, ``warm``)."""


@dataclass(frozen=True)
class Attention:
    """The overview's first sections, in the order people read them."""

    alarms: list[Line]
    overrides: list[Line]
    off_setpoint: list[Line]
    heating: list[Line]

    @property
    def calm(self) -> bool:
        """Nothing needs attention: no alarm, no override, every zone near its setpoint."""
        return not (self.alarms or self.overrides or self.off_setpoint)


def attention(p: Panel, zones: Sequence[ZoneView]) -> Attention:
    now = p.now()
    local = p.local(now)
    return Attention(
        alarms=[_alarm(p, alarm) for alarm in p.active_alarms()],
        overrides=_overrides(p, zones, local),
        off_setpoint=[line for view in zones
                      if (line := _off_setpoint(p, view, now)) is not None],
        heating=[line for view in zones if (line := _heating(p, view)) is not None])


def in_preheat(status: ZoneStatus) -> bool:
    """Whether the zone's decision is a pre-heat, also under a degraded mode or a safety
    bound (their reasons hold the decision's)."""
    reason = status.reason
    while isinstance(decision := reason.params.get("decision"), Reason):
        reason = decision
    return reason.code in PREHEAT


def off_setpoint(status: ZoneStatus, temperatures: Sequence[Sample],
                 setpoints: Sequence[Sample], now: datetime) -> str | None:
    """``cold``, ``warm`` or None: the rule of this module's docstring, on the zone's
    readings over ``OFF_FOR`` (``temperatures``) and of its setpoint since a while before
    (``setpoints``), as of ``now``."""
    good = _good(temperatures)
    if not good or good[0][0] > now - OFF_FOR + COVERED or good[-1][0] < now - COVERED:
        return None
    known = _good(setpoints)
    times = [at for at, _ in known]
    gaps = []
    for at, temperature in good:
        before = bisect_right(times, at)
        setpoint = known[before - 1][1] if before else status.setpoint
        if setpoint is None:
            return None
        gaps.append(temperature - setpoint)
    if all(gap < -OFF_BY for gap in gaps) and not in_preheat(status):
        return "cold"
    if (all(gap > OFF_BY for gap in gaps) and status.level is HeatingLevel.COMFORT
            and status.source == "controller" and status.reason.code != "heating.early_stop"):
        return "warm"
    return None


def _good(samples: Sequence[Sample]) -> list[tuple[datetime, float]]:
    return [(s.ts, s.value) for s in samples if s.quality is Quality.OK and s.value is not None]


# -- the lines -------------------------------------------------------------------------------


def _zone_href(view: ZoneView) -> str:
    return url_for("pages.zone", building_id=view.building.id, zone_id=view.zone.id)


def _place(p: Panel, view: ZoneView) -> Reason:
    return said(p.place(view.building.id, view.zone.id))


def _known(value: float | None) -> float | Reason:
    return NOTHING if value is None else value


def _alarm(p: Panel, alarm: Alarm) -> Line:
    message = said(alarm.message, alarm.message_en or alarm.message)
    severity = Reason.of(f"severity.{alarm.severity.value}")
    place = (said(p.place(alarm.building, alarm.zone)) if alarm.building
             else Reason.of("agenda.whole_site"))
    return Line(f"alarm-{alarm.id}", Reason.of("overview.alarm", severity=severity,
                                               place=place), message,
                (message, Reason.of("overview.alarm_since", since=p.local(alarm.raised_at))),
                url_for("alarms.index"), alarm.severity.value)


def _overrides(p: Panel, zones: Sequence[ZoneView], local: datetime) -> list[Line]:
    lines = []
    for view in zones:
        override = view.override
        if override is None:
            continue
        lines.append(Line(
            f"override-{view.key}", _place(p, view),
            Reason.of("overview.override", at=local, value=override.value,
                      until=p.local(override.until), who=override.who),
            (Reason.of("overview.override_why", why=override.why,
                       start=p.local(override.start)),
             Reason.of("overview.applied" if view.applied else "overview.pending")),
            _zone_href(view)))
    for cabinet in p.site.cabinets:
        order = p.cabinet_order(cabinet)
        if order is None:
            continue
        lines.append(Line(
            f"order-{cabinet.id}", said(cabinet.name),
            Reason.of("overview.order_on" if order.value >= 0.5 else "overview.order_off",
                      at=local, until=p.local(order.until), who=order.who),
            (Reason.of("overview.override_why", why=order.why, start=p.local(order.start)),),
            url_for("lighting.index")))
    return lines


def _point(view: ZoneView, roles: Sequence[Role]) -> str | None:
    return next((f"{view.key}.{point.id}" for point in view.zone.points
                 if point.role in roles), None)


def _off_setpoint(p: Panel, view: ZoneView, now: datetime) -> Line | None:
    status = view.status
    temperature = _point(view, (Role.ZONE_TEMPERATURE,))
    if status is None or temperature is None:
        return None
    end = now + timedelta(seconds=1)  # the store reads up to, not including, its end
    setpoints = ([] if view.setpoint_key is None
                 else p.store.samples.read(view.setpoint_key, now - 2 * OFF_FOR, end))
    side = off_setpoint(status, p.store.samples.read(temperature, now - OFF_FOR, end),
                        setpoints, now)
    if side is None:
        return None
    why = Reason.of(f"overview.too_{side}_why", by=OFF_BY,
                    minutes=OFF_FOR.total_seconds() / 60)
    return Line(f"off-{view.key}", _place(p, view),
                Reason.of(f"overview.too_{side}", temperature=_known(status.temperature),
                          setpoint=_known(status.setpoint)),
                (why, status.reason), _zone_href(view), side)


def _heating(p: Panel, view: ZoneView) -> Line | None:
    status = view.status
    if status is None:
        return None
    preheat = in_preheat(status)
    if status.level is not HeatingLevel.COMFORT and status.source != "override":
        return None
    emitter = _point(view, EMITTERS)
    opening = None
    if emitter is not None:
        latest = p.store.samples.latest(emitter)
        if latest is None or latest.quality is not Quality.OK or not latest.value:
            return None
        opening = latest.value
    elif status.source == "override":
        return None  # without a valve, an override may as well be lower than the room
    mode = Reason.of("mode.preheat") if preheat else status.mode_label
    detail = status.reason.params.get("detail")
    more = [status.reason, *([detail] if isinstance(detail, Reason) else [])]
    if opening is not None:
        more.append(Reason.of("overview.valve", valve=opening))
    return Line(f"heating-{view.key}", _place(p, view),
                Reason.of("overview.heating", mode=mode, temperature=_known(status.temperature),
                          setpoint=_known(status.setpoint)),
                tuple(more), _zone_href(view))
