"""Threshold alarms on watched points: CO2 in a classroom, a river's level, a plant room
close to freezing.

Each tick the engine calls :func:`evaluate` for every point that has a
:class:`~gtb.model.points.Watch`, with the point's reading and what the previous call remembered
(a :class:`WatchState`, ``WatchState()`` the first time). It gets back a
:class:`WatchVerdict`: the alarm level in force after this reading, whether it changed, how
severe it is, the reason in French and English, and the state to hand back next tick. Pure:
no I/O, no clock of its own, nothing kept between calls but the state it returns.

The rules, told for ``high`` (``low`` mirrors them: below instead of above, plus instead of
minus the hysteresis; ``high_high`` and ``low_low`` follow them with their own threshold):

- The threshold is *crossed* while the value is strictly above ``high``.
- The alarm is *raised* once the value has been past the threshold at every reading for
  ``delay_s`` of real time, counted from the first reading past it: a single reading back
  inside restarts the count, so a spike shorter than the delay raises nothing. With no
  delay, the first reading past raises.
- *Escalation* from ``high`` to ``high_high`` follows the same rule with ``high_high``. A
  value that jumps past both and stays is raised straight to ``high_high`` when the delay
  has run (both counts started at the same reading).
- The alarm ends only once the value is back inside by the hysteresis, without delay: a
  ``high`` alarm *clears* at a value <= ``high - hysteresis``; a ``high_high`` alarm
  *eases* to ``high`` at a value <= ``high_high - hysteresis`` that is still above
  ``high - hysteresis``, and clears at once below that. A value hovering around a
  threshold therefore does not make the alarm flap. Re-escalating after easing needs the
  full delay again (the count restarted when the value went back under ``high_high``).
- A missing reading (``None``: the point failed; NaN is treated the same) changes nothing:
  the level stays as it was and the counts keep running, so that a flaky sensor on a
  freezing plant room still raises its alarm once readings past the threshold span the
  delay. The engine raises its own point-failure alarm for the missing reading; ending a
  threshold alarm needs a real reading back inside.
- When a reload removes a threshold, an alarm on it ends at the next reading unless
  another threshold holds it.

Durations are real time: aware datetimes are compared in UTC, so a delay running across
the night daylight saving ends is an hour longer than the wall clock says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from gtb.model.points import Severity, Watch
from gtb.texts import Reason


class WatchLevel(StrEnum):
    """An alarm level of a watched point; named after the :class:`Watch` threshold past
    which it is raised."""

    LOW_LOW = "low_low"
    LOW = "low"
    HIGH = "high"
    HIGH_HIGH = "high_high"

    @property
    def critical(self) -> bool:
        return self in (WatchLevel.LOW_LOW, WatchLevel.HIGH_HIGH)

    @property
    def above(self) -> bool:
        """True for the alarms of a value too high, False for one too low."""
        return self in (WatchLevel.HIGH, WatchLevel.HIGH_HIGH)

    @property
    def severity(self) -> Severity:
        """Critical for ``low_low`` and ``high_high``, a warning for ``low`` and ``high``."""
        return Severity.CRITICAL if self.critical else Severity.WARNING


class WatchChange(StrEnum):
    """How the level changed at a reading."""

    RAISED = "raised"
    """From no alarm to one (or, with no delay, from an alarm on one side to the other)."""
    ESCALATED = "escalated"
    """From ``high`` to ``high_high``, or ``low`` to ``low_low``."""
    EASED = "eased"
    """From ``high_high`` to ``high``, or ``low_low`` to ``low``."""
    CLEARED = "cleared"
    """From an alarm to none."""


@dataclass(frozen=True)
class WatchState:
    """What :func:`evaluate` remembers of a point between readings."""

    level: WatchLevel | None = None
    """The alarm level in force, None when there is no alarm."""
    since: Mapping[WatchLevel, datetime] = field(default_factory=dict)
    """For each threshold the value is past, the first reading of the uninterrupted run of
    readings past it (the start of the ``delay_s`` count)."""


@dataclass(frozen=True)
class WatchVerdict:
    """The outcome of one reading."""

    level: WatchLevel | None
    """The alarm level in force after the reading, None when there is no alarm."""
    previous: WatchLevel | None
    """The level in force before it."""
    change: WatchChange | None
    """How the level changed, None when it stayed the same."""
    reason: Reason
    """What a person should read: the alarm's message, or the situation when there is none."""
    state: WatchState
    """To pass to the next :func:`evaluate` of this point."""

    @property
    def severity(self) -> Severity | None:
        """The alarm's severity, None when there is no alarm."""
        return None if self.level is None else self.level.severity


_MILDER = {WatchLevel.HIGH_HIGH: WatchLevel.HIGH, WatchLevel.LOW_LOW: WatchLevel.LOW}
_BY_SEVERITY = (WatchLevel.HIGH_HIGH, WatchLevel.LOW_LOW, WatchLevel.HIGH, WatchLevel.LOW)


def evaluate(
    watch: Watch,
    value: float | None,
    now: datetime,
    state: WatchState,
    *,
    name: str | Reason,
    unit: str,
) -> WatchVerdict:
    """The alarm level of a watched point after the reading ``value`` taken at ``now``
    (aware), given the ``state`` the previous reading returned.

    ``name`` says what is measured where, as the message starts with it: « CO2 de Classes
    élémentaires » / "CO2 of Classes élémentaires" as a :class:`Reason`, or one text for
    both languages (a point's key). ``unit`` is the point's unit (``ppm``, ``°C``; empty
    for none). The reason is the facts (``watch.*`` codes); ``gtb.texts.watch`` words
    them.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"evaluate needs an aware time, got {now!r}")
    facts = {"name": name, "label": watch.label, "unit": unit, "low_low": watch.low_low,
             "low": watch.low, "high": watch.high, "high_high": watch.high_high,
             "hysteresis": watch.hysteresis, "delay_s": watch.delay_s, "at": now}
    old = state.level
    if value is None or math.isnan(value):
        return WatchVerdict(old, old, None, Reason.of("watch.missing", **facts, level=old),
                            state)

    since = {
        level: state.since.get(level, now) for level in WatchLevel if _past(watch, level, value)
    }
    delay = timedelta(seconds=watch.delay_s)
    due = next(
        (
            level
            for level in _BY_SEVERITY
            if level in since and _elapsed(since[level], now) >= delay
        ),
        None,
    )
    held = _held(watch, old, value)
    new: WatchLevel | None
    if due is None:
        new = held
    elif held is None or held.above != due.above:
        new = due
    else:
        new = due if due.critical else held
    change = _change(old, new)
    pending = next(
        (
            level
            for level in _BY_SEVERITY
            if level in since and level != new
            and (new is None or (level.above == new.above and level.critical))
        ),
        None,
    )
    facts.update({f"since_{level.value}": moment for level, moment in since.items()},
                 value=value, level=new, previous=old, pending=pending)
    code = ("watch.cleared" if change is WatchChange.CLEARED
            else "watch.eased" if change is WatchChange.EASED
            else "watch.alarm" if new is not None else "watch.quiet")
    return WatchVerdict(new, old, change, Reason.of(code, **facts), WatchState(new, since))


def _elapsed(start: datetime, end: datetime) -> timedelta:
    """Real time between two aware times. Subtracting two times of one ``ZoneInfo`` gives
    wall-clock time instead, an hour off across a daylight-saving change."""
    return end.astimezone(UTC) - start.astimezone(UTC)


def _threshold(watch: Watch, level: WatchLevel) -> float | None:
    threshold: float | None = getattr(watch, level.value)
    return threshold


def _past(watch: Watch, level: WatchLevel, value: float) -> bool:
    """Whether ``value`` has crossed the threshold of ``level``."""
    threshold = _threshold(watch, level)
    if threshold is None:
        return False
    return value > threshold if level.above else value < threshold


def _end(watch: Watch, level: WatchLevel) -> float | None:
    """The value at which an alarm of ``level`` ends (None when the watch lacks it)."""
    threshold = _threshold(watch, level)
    if threshold is None:
        return None
    return threshold - watch.hysteresis if level.above else threshold + watch.hysteresis


def _holds(watch: Watch, level: WatchLevel, value: float) -> bool:
    """Whether an alarm of ``level`` in force stays on at ``value`` (the hysteresis)."""
    end = _end(watch, level)
    if end is None:
        return False
    return value > end if level.above else value < end


def _held(watch: Watch, level: WatchLevel | None, value: float) -> WatchLevel | None:
    """The level the hysteresis keeps from ``level`` at ``value``: itself, its milder
    level (easing), or none (clearing)."""
    if level is None:
        return None
    if _holds(watch, level, value):
        return level
    milder = _MILDER.get(level)
    if milder is not None and _holds(watch, milder, value):
        return milder
    return None


def _change(old: WatchLevel | None, new: WatchLevel | None) -> WatchChange | None:
    if old == new:
        return None
    if old is None or new is None:
        return WatchChange.RAISED if old is None else WatchChange.CLEARED
    if old.above != new.above:
        return WatchChange.RAISED
    return WatchChange.ESCALATED if new.critical else WatchChange.EASED
