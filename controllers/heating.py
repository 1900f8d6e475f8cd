"""Heating decisions: which level a zone should be at, and why.

Levels follow the Code de l'énergie (R241-26 and R241-27): comfort when occupied, reduced
for nights and absences of up to 48 h, frost protection beyond. Until the learned optimal
start exists, the zone starts heating a fixed time before the programme's next period:
the usual programmable thermostat, and the fallback whenever learning is off or unsure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from controllers.schedule import Occupation
from gtb.i18n import duration, moment, temperature
from gtb.model import ComfortLevels, HeatingLevel, Reason

LONG_ABSENCE = timedelta(hours=48)
"""Beyond this, a zone drops to frost protection (R241-27)."""



def elapsed(since: datetime, until: datetime) -> timedelta:
    """Real time between two aware times. Subtracting two times of one ``ZoneInfo`` gives
    wall-clock time instead, an hour off across a daylight-saving change."""
    return until.astimezone(UTC) - since.astimezone(UTC)


@dataclass(frozen=True)
class FixedPreheat:
    """A fixed early start: the programmable thermostat's way, and the fallback."""

    normal: timedelta = timedelta(hours=2)
    after_long_absence: timedelta = timedelta(hours=4)


@dataclass(frozen=True)
class HeatingDecision:
    level: HeatingLevel
    setpoint: float
    reason: Reason


def programme_decision(
    occupation: Occupation,
    local_now: datetime,
    comfort: ComfortLevels,
    preheat: FixedPreheat = FixedPreheat(),
) -> HeatingDecision:
    """The level of a zone that follows its programme with a fixed early start."""
    if occupation.occupied:
        assert occupation.current_end is not None
        until_fr = moment(occupation.current_end, local_now)
        until_en = moment(occupation.current_end, local_now, "en")
        return HeatingDecision(
            HeatingLevel.COMFORT,
            comfort.comfort,
            Reason(
                f"Occupé selon le programme jusqu'à {until_fr} : confort "
                f"{temperature(comfort.comfort)}",
                f"Occupied by the programme until {until_en}: comfort "
                f"{temperature(comfort.comfort, 'en')}",
            ),
        )
    start = occupation.next_start
    long_absence = (
        start is None
        or occupation.previous_end is None
        or elapsed(occupation.previous_end, start) > LONG_ABSENCE
    )
    lead = preheat.after_long_absence if long_absence else preheat.normal
    if start is not None and elapsed(local_now, start) <= lead:
        minutes = lead.total_seconds() / 60
        return HeatingDecision(
            HeatingLevel.COMFORT,
            comfort.comfort,
            Reason(
                f"Préchauffage fixe de {duration(minutes)} : occupation prévue à "
                f"{moment(start, local_now)}",
                f"Fixed {duration(minutes, 'en')} preheat: occupancy scheduled at "
                f"{moment(start, local_now, 'en')}",
            ),
        )
    when_fr = "aucune occupation prévue" if start is None else f"jusqu'à {moment(start, local_now)}"
    when_en = "no occupancy scheduled" if start is None else (
        f"until {moment(start, local_now, 'en')}"
    )
    if long_absence:
        return HeatingDecision(
            HeatingLevel.FROST_PROTECTION,
            comfort.frost_protection,
            Reason(
                f"Inoccupé plus de 48 h ({when_fr}) : hors-gel "
                f"{temperature(comfort.frost_protection)}",
                f"Unoccupied for more than 48 h ({when_en}): frost protection "
                f"{temperature(comfort.frost_protection, 'en')}",
            ),
        )
    return HeatingDecision(
        HeatingLevel.REDUCED,
        comfort.reduced,
        Reason(
            f"Inoccupé {when_fr} : réduit {temperature(comfort.reduced)}",
            f"Unoccupied {when_en}: reduced {temperature(comfort.reduced, 'en')}",
        ),
    )
