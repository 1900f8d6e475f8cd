"""Numbers, temperatures and times as French and English readers write them.

French first: ``19,5 °C``, ``1 234,5``, ``lundi 12/01 à 08:00``, ``lun.``; English:
``19.5 °C``, ``1,234.5``, ``Monday 12/01 at 08:00``, ``Mon``. Times are 24-hour, dates
day first (``12/01/2026``) in both. Pure functions, shared by the controllers' reasons,
the panel and the terminal.
"""

from __future__ import annotations

from datetime import datetime

DAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
DAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAYS_FR_SHORT = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
DAYS_EN_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")
MONTHS_FR_SHORT = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.",
                   "oct.", "nov.", "déc.")
MONTHS_EN_SHORT = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                   "Dec")


def number_fr(value: float, digits: int = 1) -> str:
    """``1234.5`` -> ``1 234,5`` (narrow no-break space between thousands)."""
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def number(value: float, lang: str = "fr", digits: int = 1) -> str:
    """``1 234,5`` in French, ``1,234.5`` in English."""
    return number_fr(value, digits) if lang == "fr" else f"{value:,.{digits}f}"


def shortest(value: float, lang: str = "fr") -> str:
    """As few digits as the value needs: ``20``, ``20,5`` (``20.5`` in English)."""
    text = f"{value:g}"
    return text.replace(".", ",") if lang == "fr" else text


def temperature(value: float, lang: str = "fr") -> str:
    return f"{number_fr(value) if lang == 'fr' else f'{value:.1f}'} °C"


def duration(minutes: float, lang: str = "fr") -> str:
    """``135`` -> ``2 h 15`` / ``2 h 15 min``; under an hour ``45 min``."""
    whole = round(minutes)
    hours, rest = divmod(whole, 60)
    if hours == 0:
        return f"{rest} min"
    if rest == 0:
        return f"{hours} h"
    return f"{hours} h {rest:02d}" if lang == "fr" else f"{hours} h {rest:02d} min"


def moment(when: datetime, now: datetime, lang: str = "fr") -> str:
    """A time relative to ``now`` (both local): ``08:00``, ``demain 08:00``,
    ``lundi 12/01 08:00``."""
    clock = when.strftime("%H:%M")
    days = (when.date() - now.date()).days
    if days == 0:
        return clock
    if days == 1:
        return f"{'demain' if lang == 'fr' else 'tomorrow'} {clock}"
    names = DAYS_FR if lang == "fr" else DAYS_EN
    return f"{names[when.weekday()]} {when:%d/%m} {clock}"


def moment_at(when: datetime, now: datetime, lang: str = "fr") -> str:
    """A moment as the end of a sentence says it (« préchauffage prévu demain à 06:51 »):
    ``à 08:00``, ``demain à 08:00``, ``lundi 12/01 à 08:00``; in English ``at 08:00``,
    ``tomorrow at 08:00``."""
    said = moment(when, now, lang)
    day, _, clock = said.rpartition(" ")
    at = "à" if lang == "fr" else "at"
    return f"{day} {at} {clock}" if day else f"{at} {clock}"


def short_day(when: datetime, lang: str = "fr") -> str:
    """The day's name, short: ``lun.``, ``Mon``."""
    return (DAYS_FR_SHORT if lang == "fr" else DAYS_EN_SHORT)[when.weekday()]
