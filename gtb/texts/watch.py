"""The sentences of a watched point's threshold alarms (``controllers.monitoring``).

Their wording follows the facts closely: which threshold, how far past it and since when,
the hysteresis that holds an alarm, the delay still to run, a reading written with as
many decimals as it takes to tell it from its threshold. The controller says the facts
as the parameters of a ``watch.*`` reason; the functions here write them:

- ``watch.alarm``: an alarm in force (``level``; ``pending``: a graver threshold crossed
  whose delay runs);
- ``watch.eased``: a critical alarm eased to ``level`` (from ``previous``);
- ``watch.cleared``: the alarm ``previous`` ended;
- ``watch.quiet``: no alarm (``pending``: a threshold crossed whose delay runs);
- ``watch.missing``: no valid reading (``level``: the alarm kept, if any).

Common parameters: ``name`` (what is measured where: a text or a reason), ``label`` (the
watch's own words for the alarm, or none), ``unit``, the watch's thresholds
(``low_low``, ``low``, ``high``, ``high_high``: each a number or none), ``hysteresis``,
``delay_s``, ``value`` (the reading), ``at`` (the reading's time) and, for each threshold
the value is past, ``since_<level>`` (the start of its run past it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from gtb.i18n import duration, number_fr
from gtb.texts import Lang, Reason, render

LEVELS = ("low_low", "low", "high", "high_high")
_MILDER = {"high_high": "high", "low_low": "low"}


def _critical(level: str) -> bool:
    return level in ("low_low", "high_high")


def _above(level: str) -> bool:
    return level in ("high", "high_high")


def _decimals(value: float) -> int:
    """The fewest decimals (up to 3) that write ``value`` exactly: 1500 -> 0, 2.35 -> 2."""
    for digits in range(3):
        if abs(round(value, digits) - value) <= 1e-9 * max(1.0, abs(value)):
            return digits
    return 3


def _span(span: timedelta, lang: Lang) -> str:
    """``10 min``, ``2 h 15``, ``45 s``; empty for no time at all."""
    seconds = span.total_seconds()
    if seconds < 1:
        return ""
    if round(seconds / 60) == 0:
        return f"{round(seconds)} s"
    return duration(seconds / 60, lang)


class _Words:
    """The words of one watch reason, in one language."""

    def __init__(self, reason: Reason, lang: Lang) -> None:
        self.p: dict[str, Any] = dict(reason.params)
        self.lang = lang
        self.fr = lang == "fr"
        self.now = datetime.fromisoformat(self.p["at"])

    def threshold(self, level: str) -> float | None:
        value = self.p.get(level)
        return None if value is None else float(value)

    def end(self, level: str) -> float | None:
        """The value at which an alarm of ``level`` ends (None when the watch lacks it)."""
        threshold = self.threshold(level)
        if threshold is None:
            return None
        hysteresis = float(self.p["hysteresis"])
        return threshold - hysteresis if _above(level) else threshold + hysteresis

    def since(self, level: str) -> datetime | None:
        moment = self.p.get(f"since_{level}")
        return None if moment is None else datetime.fromisoformat(moment)

    def quantity(self, value: float, digits: int) -> str:
        if round(value, digits) == 0:
            value = 0.0  # no "-0,0 °C"
        number = number_fr(value, digits) if self.fr else f"{value:,.{digits}f}"
        unit = self.p["unit"]
        return f"{number} {unit}" if unit else number

    def fixed(self, value: float) -> str:
        """A threshold or a hysteresis, with the decimals it was given with."""
        return self.quantity(value, _decimals(value))

    def reading(self, against: float | None = None) -> str:
        """The reading: no decimals from 100 up, one from 1, two below (at least as many as
        the watch's figures), more if needed to tell it from the threshold ``against``."""
        value = float(self.p["value"])
        figures = [t for level in LEVELS if (t := self.threshold(level)) is not None]
        magnitude = 0 if abs(value) >= 100 else 1 if abs(value) >= 1 else 2
        digits = max(magnitude, *(_decimals(x) for x in [*figures, self.p["hysteresis"]]))
        digits = min(digits, 3)
        if against is not None and value != against:
            while digits < 3 and round(value, digits) == round(against, digits):
                digits += 1
        return self.quantity(value, digits)

    def lead(self, *, label: bool = True) -> str:
        name = self.p["name"]
        name = render(name, self.lang) if isinstance(name, Reason) else str(name)
        if label and self.p.get("label"):
            return f"{self.p['label']}{' : ' if self.fr else ': '}{name}"
        return name

    def at(self) -> str:
        return "à" if self.fr else "at"

    def alarm_word(self, level: str) -> str:
        if self.fr:
            return "alarme critique" if _critical(level) else "alerte"
        return "critical alarm" if _critical(level) else "warning"

    def past(self, level: str) -> str:
        """« au-dessus du seuil critique de 1 500 ppm depuis 10 min »."""
        threshold = self.threshold(level)
        since = self.since(level)
        assert threshold is not None and since is not None
        span = _span(self.now.astimezone(UTC) - since.astimezone(UTC), self.lang)
        if self.fr:
            where = "au-dessus" if _above(level) else "en dessous"
            kind = "critique" if _critical(level) else "d'alerte"
            text = f"{where} du seuil {kind} de {self.fixed(threshold)}"
            return f"{text} depuis {span}" if span else text
        where = "above" if _above(level) else "below"
        kind = "critical" if _critical(level) else "warning"
        text = f"{where} the {kind} threshold of {self.fixed(threshold)}"
        return f"{text} for {span}" if span else text

    def thresholds(self, level: str) -> str:
        """« seuil 800 ppm, hystérésis 50 ppm »."""
        threshold = self.threshold(level)
        assert threshold is not None
        word, lag = ("seuil", "hystérésis") if self.fr else ("threshold", "hysteresis")
        text = f"{word} {self.fixed(threshold)}"
        hysteresis = float(self.p["hysteresis"])
        if hysteresis > 0:
            text += f", {lag} {self.fixed(hysteresis)}"
        return text

    def kept(self, level: str) -> str:
        """« alerte maintenue jusqu'à 750 ppm (seuil 800 ppm, hystérésis 50 ppm) »: an alarm
        the hysteresis holds while the value is back inside its threshold."""
        end = self.end(level)
        assert end is not None
        if self.fr:
            return (f"{self.alarm_word(level)} maintenue jusqu'à {self.fixed(end)} "
                    f"({self.thresholds(level)})")
        return f"{self.alarm_word(level)} kept until {self.fixed(end)} ({self.thresholds(level)})"

    def situation(self, level: str) -> str:
        """Where the value stands against the alarm ``level`` in force, after the reading:
        « , au-dessus du seuil … depuis 10 min » or « : alerte maintenue jusqu'à … »."""
        if self.since(level) is not None:
            return ", " + self.past(level)
        return (" : " if self.fr else ": ") + self.kept(level)

    def waiting(self, level: str) -> str:
        """A threshold crossed whose delay has not run: « …, alarme critique après 10 min »."""
        delay = _span(timedelta(seconds=float(self.p["delay_s"])), self.lang)
        after = "après" if self.fr else "after"
        return f"{self.past(level)}, {self.alarm_word(level)} {after} {delay}"


def _alarm(reason: Reason, lang: Lang) -> str:
    """« Air à renouveler : CO2 de … à 1 520 ppm, au-dessus du seuil critique de 1 500 ppm
    depuis 10 min »."""
    w = _Words(reason, lang)
    level, pending = w.p["level"], w.p.get("pending")
    against = w.threshold(level) if w.since(level) is not None else w.end(level)
    text = f"{w.lead()} {w.at()} {w.reading(against)}{w.situation(level)}"
    if pending is not None:
        text += (" ; " if w.fr else "; ") + w.waiting(pending)
    return text


def _eased(reason: Reason, lang: Lang) -> str:
    """« CO2 de … à 1 420 ppm : fin de l'alarme critique (seuil 1 500 ppm, hystérésis
    50 ppm) ; toujours au-dessus du seuil d'alerte de 800 ppm depuis 55 min »."""
    w = _Words(reason, lang)
    old, new = w.p["previous"], w.p["level"]
    if w.since(new) is not None:
        still = ("toujours " if w.fr else "still ") + w.past(new)
    else:
        still = w.kept(new)
    if w.fr:
        return (f"{w.lead()} à {w.reading()} : fin de l'alarme critique ({w.thresholds(old)})"
                f" ; {still}")
    return f"{w.lead()} at {w.reading()}: critical alarm over ({w.thresholds(old)}); {still}"


def _cleared(reason: Reason, lang: Lang) -> str:
    """« CO2 de … à 740 ppm : fin de l'alerte (seuil 800 ppm, hystérésis 50 ppm) »."""
    w = _Words(reason, lang)
    old = w.p["previous"]
    milder = _MILDER.get(old)
    ended = old
    if milder is not None and w.threshold(milder) is not None:
        ended = milder
        fr, en = "de l'alarme critique et de l'alerte", "critical alarm and warning"
    elif _critical(old):
        fr, en = "de l'alarme critique", "critical alarm"
    else:
        fr, en = "de l'alerte", "warning"
    if w.fr:
        return f"{w.lead(label=False)} à {w.reading()} : fin {fr} ({w.thresholds(ended)})"
    return f"{w.lead(label=False)} at {w.reading()}: {en} over ({w.thresholds(ended)})"


def _quiet(reason: Reason, lang: Lang) -> str:
    """No alarm: « CO2 de … à 620 ppm, dans les seuils », or a threshold crossed whose delay
    runs."""
    w = _Words(reason, lang)
    pending = w.p.get("pending")
    if pending is None:
        inside = "dans les seuils" if w.fr else "within thresholds"
        return f"{w.lead(label=False)} {w.at()} {w.reading()}, {inside}"
    return (f"{w.lead(label=False)} {w.at()} {w.reading(w.threshold(pending))}, "
            f"{w.waiting(pending)}")


def _missing(reason: Reason, lang: Lang) -> str:
    """No reading: « CO2 de … sans lecture valable : alerte maintenue »."""
    w = _Words(reason, lang)
    level = w.p.get("level")
    if level is None:
        if w.fr:
            return (f"{w.lead(label=False)} sans lecture valable : pas d'alarme de seuil "
                    "en cours")
        return f"{w.lead(label=False)}: no valid reading, no threshold alarm in force"
    if w.fr:
        return (f"{w.lead()} sans lecture valable : {w.alarm_word(level)} maintenue "
                f"({w.thresholds(level)})")
    return f"{w.lead()}: no valid reading, {w.alarm_word(level)} kept ({w.thresholds(level)})"


WATCH_WRITERS: dict[str, Callable[[Reason, Lang], str]] = {
    "watch.alarm": _alarm,
    "watch.eased": _eased,
    "watch.cleared": _cleared,
    "watch.quiet": _quiet,
    "watch.missing": _missing,
}
