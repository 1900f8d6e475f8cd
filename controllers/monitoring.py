"""Threshold alarms on watched points: CO2 in a classroom, a river's level, a plant room
close to freezing.

Each tick the engine calls :func:`evaluate` for every point that has a
:class:`~gtb.model.Watch`, with the point's reading and what the previous call remembered
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

from gtb.i18n import duration, number_fr
from gtb.model import Reason, Severity, Watch


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
    for none).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"evaluate needs an aware time, got {now!r}")
    names = name if isinstance(name, Reason) else Reason(name, name)
    text = _Text(watch, names, unit)
    old = state.level
    if value is None or math.isnan(value):
        return WatchVerdict(old, old, None, text.missing(old), state)

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
    if change is WatchChange.CLEARED:
        assert old is not None
        reason = text.cleared(old, value)
    elif change is WatchChange.EASED:
        assert old is not None and new is not None
        reason = text.eased(old, new, value, since, now)
    elif new is not None:
        reason = text.alarm(new, value, since, now, pending)
    else:
        reason = text.quiet(value, since, now, pending)
    return WatchVerdict(new, old, change, reason, WatchState(new, since))


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


# -- messages ------------------------------------------------------------------------------


def _decimals(value: float) -> int:
    """The fewest decimals (up to 3) that write ``value`` exactly: 1500 -> 0, 2.35 -> 2."""
    for digits in range(3):
        if abs(round(value, digits) - value) <= 1e-9 * max(1.0, abs(value)):
            return digits
    return 3


@dataclass(frozen=True)
class _Text:
    """The words of a watch's messages, in French and English."""

    watch: Watch
    name: Reason
    unit: str

    def quantity(self, value: float, digits: int, lang: str) -> str:
        if round(value, digits) == 0:
            value = 0.0  # no "-0,0 °C"
        number = number_fr(value, digits) if lang == "fr" else f"{value:,.{digits}f}"
        return f"{number} {self.unit}" if self.unit else number

    def fixed(self, value: float, lang: str) -> str:
        """A threshold or a hysteresis, with the decimals it was given with."""
        return self.quantity(value, _decimals(value), lang)

    def reading(self, value: float, lang: str, against: float | None = None) -> str:
        """A reading: no decimals from 100 up, one from 1, two below (at least as many as
        the watch's figures), more if needed to tell it from the threshold ``against``."""
        figures = [threshold for _, threshold in self.watch.thresholds()]
        magnitude = 0 if abs(value) >= 100 else 1 if abs(value) >= 1 else 2
        digits = max(magnitude, *(_decimals(x) for x in [*figures, self.watch.hysteresis]))
        digits = min(digits, 3)
        if against is not None and value != against:
            while digits < 3 and round(value, digits) == round(against, digits):
                digits += 1
        return self.quantity(value, digits, lang)

    def lead(self, lang: str, *, label: bool = True) -> str:
        name = self.name.fr if lang == "fr" else self.name.en
        if label and self.watch.label:
            return f"{self.watch.label}{' : ' if lang == 'fr' else ': '}{name}"
        return name

    def past(self, level: WatchLevel, since: datetime, now: datetime, lang: str) -> str:
        """« au-dessus du seuil critique de 1 500 ppm depuis 10 min »."""
        threshold = _threshold(self.watch, level)
        assert threshold is not None
        span = _span(_elapsed(since, now), lang)
        if lang == "fr":
            where = "au-dessus" if level.above else "en dessous"
            kind = "critique" if level.critical else "d'alerte"
            text = f"{where} du seuil {kind} de {self.fixed(threshold, 'fr')}"
            return f"{text} depuis {span}" if span else text
        where = "above" if level.above else "below"
        kind = "critical" if level.critical else "warning"
        text = f"{where} the {kind} threshold of {self.fixed(threshold, 'en')}"
        return f"{text} for {span}" if span else text

    def kept(self, level: WatchLevel, lang: str) -> str:
        """« alerte maintenue jusqu'à 750 ppm (seuil 800 ppm, hystérésis 50 ppm) »: an alarm
        the hysteresis holds while the value is back inside its threshold."""
        end = _end(self.watch, level)
        assert end is not None
        if lang == "fr":
            alarm = "alarme critique" if level.critical else "alerte"
            return (
                f"{alarm} maintenue jusqu'à {self.fixed(end, 'fr')} "
                f"({self.thresholds(level, 'fr')})"
            )
        alarm = "critical alarm" if level.critical else "warning"
        return f"{alarm} kept until {self.fixed(end, 'en')} ({self.thresholds(level, 'en')})"

    def situation(
        self, level: WatchLevel, since: Mapping[WatchLevel, datetime], now: datetime, lang: str
    ) -> str:
        """Where the value stands against the alarm ``level`` in force, after the reading:
        « , au-dessus du seuil … depuis 10 min » or « : alerte maintenue jusqu'à … »."""
        if level in since:
            return ", " + self.past(level, since[level], now, lang)
        return (" : " if lang == "fr" else ": ") + self.kept(level, lang)

    def waiting(
        self, level: WatchLevel, since: Mapping[WatchLevel, datetime], now: datetime,
        lang: str,
    ) -> str:
        """A threshold crossed whose delay has not run: « …, alarme critique après 10 min »."""
        delay = _span(timedelta(seconds=self.watch.delay_s), lang)
        if lang == "fr":
            alarm = "alarme critique" if level.critical else "alerte"
            return f"{self.past(level, since[level], now, 'fr')}, {alarm} après {delay}"
        alarm = "critical alarm" if level.critical else "warning"
        return f"{self.past(level, since[level], now, 'en')}, {alarm} after {delay}"

    def alarm(
        self, level: WatchLevel, value: float, since: Mapping[WatchLevel, datetime],
        now: datetime, pending: WatchLevel | None,
    ) -> Reason:
        """An alarm in force: « Air à renouveler : CO2 de … à 1 520 ppm, au-dessus du seuil
        critique de 1 500 ppm depuis 10 min »."""
        against = _threshold(self.watch, level) if level in since else _end(self.watch, level)
        texts = []
        for lang, at, more in (("fr", "à", " ; "), ("en", "at", "; ")):
            text = (
                f"{self.lead(lang)} {at} {self.reading(value, lang, against)}"
                f"{self.situation(level, since, now, lang)}"
            )
            if pending is not None:
                text += more + self.waiting(pending, since, now, lang)
            texts.append(text)
        return Reason(*texts)

    def eased(
        self, old: WatchLevel, new: WatchLevel, value: float,
        since: Mapping[WatchLevel, datetime], now: datetime,
    ) -> Reason:
        """« CO2 de … à 1 420 ppm : fin de l'alarme critique (seuil 1 500 ppm, hystérésis
        50 ppm) ; toujours au-dessus du seuil d'alerte de 800 ppm depuis 55 min »."""
        if new in since:
            fr_still = "toujours " + self.past(new, since[new], now, "fr")
            en_still = "still " + self.past(new, since[new], now, "en")
        else:
            fr_still, en_still = self.kept(new, "fr"), self.kept(new, "en")
        return Reason(
            f"{self.lead('fr')} à {self.reading(value, 'fr')} : fin de l'alarme critique "
            f"({self.thresholds(old, 'fr')}) ; {fr_still}",
            f"{self.lead('en')} at {self.reading(value, 'en')}: critical alarm over "
            f"({self.thresholds(old, 'en')}); {en_still}",
        )

    def cleared(self, old: WatchLevel, value: float) -> Reason:
        """« CO2 de … à 740 ppm : fin de l'alerte (seuil 800 ppm, hystérésis 50 ppm) »."""
        milder = _MILDER.get(old)
        ended = old
        if milder is not None and _threshold(self.watch, milder) is not None:
            ended = milder
            fr, en = "de l'alarme critique et de l'alerte", "critical alarm and warning"
        elif old.critical:
            fr, en = "de l'alarme critique", "critical alarm"
        else:
            fr, en = "de l'alerte", "warning"
        return Reason(
            f"{self.lead('fr', label=False)} à {self.reading(value, 'fr')} : fin {fr} "
            f"({self.thresholds(ended, 'fr')})",
            f"{self.lead('en', label=False)} at {self.reading(value, 'en')}: {en} over "
            f"({self.thresholds(ended, 'en')})",
        )

    def thresholds(self, level: WatchLevel, lang: str) -> str:
        """« seuil 800 ppm, hystérésis 50 ppm »."""
        threshold = _threshold(self.watch, level)
        assert threshold is not None
        word, lag = ("seuil", "hystérésis") if lang == "fr" else ("threshold", "hysteresis")
        text = f"{word} {self.fixed(threshold, lang)}"
        if self.watch.hysteresis > 0:
            text += f", {lag} {self.fixed(self.watch.hysteresis, lang)}"
        return text

    def quiet(
        self, value: float, since: Mapping[WatchLevel, datetime], now: datetime,
        pending: WatchLevel | None,
    ) -> Reason:
        """No alarm: « CO2 de … à 620 ppm, dans les seuils », or a threshold crossed whose
        delay runs."""
        if pending is None:
            return Reason(
                f"{self.lead('fr', label=False)} à {self.reading(value, 'fr')}, dans les seuils",
                f"{self.lead('en', label=False)} at {self.reading(value, 'en')}, "
                "within thresholds",
            )
        against = _threshold(self.watch, pending)
        return Reason(
            f"{self.lead('fr', label=False)} à {self.reading(value, 'fr', against)}, "
            f"{self.waiting(pending, since, now, 'fr')}",
            f"{self.lead('en', label=False)} at {self.reading(value, 'en', against)}, "
            f"{self.waiting(pending, since, now, 'en')}",
        )

    def missing(self, level: WatchLevel | None) -> Reason:
        """No reading: « CO2 de … sans lecture valable : alerte maintenue »."""
        if level is None:
            return Reason(
                f"{self.lead('fr', label=False)} sans lecture valable : pas d'alarme de seuil "
                "en cours",
                f"{self.lead('en', label=False)}: no valid reading, no threshold alarm in force",
            )
        fr = "alarme critique maintenue" if level.critical else "alerte maintenue"
        en = "critical alarm kept" if level.critical else "warning kept"
        return Reason(
            f"{self.lead('fr')} sans lecture valable : {fr} ({self.thresholds(level, 'fr')})",
            f"{self.lead('en')}: no valid reading, {en} ({self.thresholds(level, 'en')})",
        )


def _span(span: timedelta, lang: str) -> str:
    """``10 min``, ``2 h 15``, ``45 s``; empty for no time at all."""
    seconds = span.total_seconds()
    if seconds < 1:
        return ""
    if round(seconds / 60) == 0:
        return f"{round(seconds)} s"
    return duration(seconds / 60, lang)
