"""Heating decisions: which level a zone should be at, and why.

Levels follow the Code de l'énergie (R241-26 and R241-27): comfort when occupied, reduced
for nights and absences of up to 48 h, frost protection beyond. Until the learned optimal
start exists, the zone starts heating a fixed time before the programme's next period:
the usual programmable thermostat, and the fallback whenever learning is off or unsure.
Its lead times, the caps and margins of the learned start and the comfort band of the
early stop are ``LearningSettings``, which a site file can set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from controllers.occupancy import ArrivalForecast
from controllers.schedule import Occupation
from controllers.thermal import ThermalModel
from gtb.i18n import duration, moment, temperature
from gtb.model import DEFAULT_LEARNING, ComfortLevels, HeatingLevel, LearningSettings, Reason

LONG_ABSENCE = timedelta(hours=48)
"""Beyond this, a zone drops to frost protection (R241-27): the law, not a setting."""



def elapsed(since: datetime, until: datetime) -> timedelta:
    """Real time between two aware times. Subtracting two times of one ``ZoneInfo`` gives
    wall-clock time instead, an hour off across a daylight-saving change."""
    return until.astimezone(UTC) - since.astimezone(UTC)


@dataclass(frozen=True)
class HeatingDecision:
    level: HeatingLevel
    setpoint: float
    reason: Reason


def programme_decision(
    occupation: Occupation,
    local_now: datetime,
    comfort: ComfortLevels,
    settings: LearningSettings = DEFAULT_LEARNING,
) -> HeatingDecision:
    """The level of a zone that follows its programme with a fixed early start (the
    programmable thermostat's way, and the fallback): ``settings.fixed_preheat``."""
    if occupation.occupied:
        assert occupation.current_end is not None
        until_fr = moment(occupation.current_end, local_now)
        until_en = moment(occupation.current_end, local_now, "en")
        by_fr, by_en = "selon le programme", "by the programme"
        if occupation.because is not None:
            by_fr = by_en = f"({occupation.because})"
        return HeatingDecision(
            HeatingLevel.COMFORT,
            comfort.comfort,
            Reason(
                f"Occupé {by_fr} jusqu'à {until_fr} : confort {temperature(comfort.comfort)}",
                f"Occupied {by_en} until {until_en}: comfort "
                f"{temperature(comfort.comfort, 'en')}",
            ),
        )
    start = occupation.next_start
    long_absence = (
        start is None
        or occupation.previous_end is None
        or elapsed(occupation.previous_end, start) > LONG_ABSENCE
    )
    lead = settings.fixed_preheat(long_absence)
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
    because = "" if occupation.because is None else f"{occupation.because}, "
    if long_absence:
        return HeatingDecision(
            HeatingLevel.FROST_PROTECTION,
            comfort.frost_protection,
            Reason(
                f"Inoccupé plus de 48 h ({because}{when_fr}) : hors-gel "
                f"{temperature(comfort.frost_protection)}",
                f"Unoccupied for more than 48 h ({because}{when_en}): frost protection "
                f"{temperature(comfort.frost_protection, 'en')}",
            ),
        )
    return HeatingDecision(
        HeatingLevel.REDUCED,
        comfort.reduced,
        Reason(
            f"Inoccupé ({because}{when_fr}) : réduit {temperature(comfort.reduced)}"
            if because else f"Inoccupé {when_fr} : réduit {temperature(comfort.reduced)}",
            f"Unoccupied ({because}{when_en}): reduced {temperature(comfort.reduced, 'en')}"
            if because else f"Unoccupied {when_en}: reduced {temperature(comfort.reduced, 'en')}",
        ),
    )



@dataclass(frozen=True)
class Learning:
    """What a zone has learned, and what its sensors say now: the inputs of optimal start."""

    forecast: ArrivalForecast
    thermal: ThermalModel
    indoor: float
    outdoor: float
    present: bool = False
    last_present: datetime | None = None
    """When someone was last detected; None when not known (then the programme says)."""


def learned_decision(
    occupation: Occupation,
    local_now: datetime,
    comfort: ComfortLevels,
    learning: Learning | None,
    previous: HeatingLevel | None = None,
    settings: LearningSettings = DEFAULT_LEARNING,
) -> HeatingDecision:
    """Optimal start and stop when learning can answer; the fixed programme otherwise.

    Re-evaluated every tick. A preheat once started is held until the arrival (the zone
    warming up shortens its own estimate, which would otherwise stop it halfway), and a
    zone coasting at the end of a period keeps coasting. The start is capped at
    ``settings.max_preheat`` (Guideline 36's cap; far longer after more than 48 h away,
    from frost protection: a heavy or weakly heated building, a library closed Sunday and
    Monday, needs the night to come back), with at least ``min_margin_minutes`` of margin
    on the learned warm-up, whatever the model's own error says.
    """
    if learning is None:
        return programme_decision(occupation, local_now, comfort, settings)
    forecast = learning.forecast
    if learning.present:
        return _comfort_or_coast(occupation, local_now, comfort, learning, previous,
                                 settings)
    if occupation.occupied:
        unused = forecast.basis == "learned" and (
            forecast.start is None
            or (occupation.current_end is not None and forecast.start >= occupation.current_end)
        )
        if not unused:
            return _comfort_or_coast(occupation, local_now, comfort, learning, previous,
                                     settings)
        level, setpoint, fr, en = _setback_level(occupation, comfort, learning, forecast.start,
                                                 settings)
        return HeatingDecision(level, setpoint, Reason(
            f"Période programmée rarement utilisée ({forecast.reason.fr}) : {fr} tant que "
            f"personne n'est détecté",
            f"Programmed period seldom used ({forecast.reason.en}): {en} until someone is "
            f"detected"))
    if forecast.basis != "learned":
        # Arrivals not learned yet: the programme's times are only what was meant, and a
        # fixed early start is what has kept people warm so far.
        return programme_decision(occupation, local_now, comfort, settings)
    arrival = forecast.start
    if arrival is None or (elapsed(local_now, arrival) <= timedelta(0) and (
            forecast.end is None or local_now >= forecast.end)):
        return _learned_setback(occupation, comfort, learning, settings)
    if elapsed(local_now, arrival) <= timedelta(0):
        # People usually are here by now: stay warm for them until they come or the
        # learned period ends, as the programme would.
        return HeatingDecision(
            HeatingLevel.COMFORT,
            comfort.comfort,
            Reason(f"Arrivée attendue ({forecast.reason.fr}) : confort "
                   f"{temperature(comfort.comfort)}",
                   f"Arrival expected ({forecast.reason.en}): comfort "
                   f"{temperature(comfort.comfort, 'en')}"),
        )
    long_absence = _long_absence(occupation, learning, arrival)
    warmup = learning.thermal.warmup_minutes(learning.indoor, comfort.comfort,
                                             learning.outdoor, after_long_absence=long_absence)
    margin = max(learning.thermal.margin_minutes(settings.margin_sigmas),
                 settings.min_margin_minutes)
    cap = settings.max_preheat(long_absence)
    lead = min(timedelta(minutes=warmup + margin), cap)
    left = elapsed(local_now, arrival)
    if left > lead and not (previous is HeatingLevel.COMFORT and left <= cap):
        start = (arrival - lead).astimezone(local_now.tzinfo)
        return _learned_setback(occupation, comfort, learning, settings,
                                (moment(start, local_now), moment(start, local_now, "en")))
    basis_fr = f"apprise sur {forecast.similar_days} jours semblables"
    basis_en = f"learned from {forecast.similar_days} similar days"
    started = (arrival - lead).astimezone(local_now.tzinfo)
    estimate_fr = "hors d'atteinte" if math.isinf(warmup) else duration(warmup)
    estimate_en = "out of reach" if math.isinf(warmup) else duration(warmup, "en")
    return HeatingDecision(
        HeatingLevel.COMFORT,
        comfort.comfort,
        Reason(
            f"Préchauffage démarré à {started:%H:%M} : arrivée prévue à "
            f"{moment(arrival, local_now)} ({basis_fr}), montée estimée à {estimate_fr} "
            f"par {temperature(learning.outdoor)} extérieurs",
            f"Preheat started at {started:%H:%M}: arrival expected at "
            f"{moment(arrival, local_now, 'en')} ({basis_en}), warm-up estimated at "
            f"{estimate_en} with {temperature(learning.outdoor, 'en')} outside",
        ),
    )


def _long_absence(occupation: Occupation, learning: Learning, arrival: datetime | None) -> bool:
    """Whether the zone is empty for more than 48 h up to ``arrival``: from when someone
    was last detected when known, else from the programme's last period."""
    since = learning.last_present or occupation.previous_end
    return arrival is None or since is None or elapsed(since, arrival) > LONG_ABSENCE


def _setback_level(occupation: Occupation, comfort: ComfortLevels, learning: Learning,
                   arrival: datetime | None,
                   settings: LearningSettings) -> tuple[HeatingLevel, float, str, str]:
    """Reduced, or frost protection when the learned absence is long: the level, its
    setpoint, and its words. Frost protection only if similar days show at most
    ``surprise_tolerance`` of unexpected visits: a room used now and then stays reduced,
    from where it warms up in minutes rather than hours."""
    reduced_fr = f"réduit {temperature(comfort.reduced)}"
    reduced_en = f"reduced {temperature(comfort.reduced, 'en')}"
    if not _long_absence(occupation, learning, arrival):
        return HeatingLevel.REDUCED, comfort.reduced, reduced_fr, reduced_en
    surprise = learning.forecast.surprise
    if surprise > settings.surprise_tolerance:
        percent = round(100 * surprise)
        return (HeatingLevel.REDUCED, comfort.reduced,
                f"{reduced_fr}, pas hors-gel : venues imprévues certains jours (jusqu'à "
                f"{percent} % des jours semblables)",
                f"{reduced_en}, not frost protection: unexpected visits on some days (up to "
                f"{percent}% of similar days)")
    return (HeatingLevel.FROST_PROTECTION, comfort.frost_protection,
            f"hors-gel {temperature(comfort.frost_protection)}",
            f"frost protection {temperature(comfort.frost_protection, 'en')}")


def _learned_setback(occupation: Occupation, comfort: ComfortLevels, learning: Learning,
                     settings: LearningSettings,
                     preheat_at: tuple[str, str] | None = None) -> HeatingDecision:
    """Nobody expected before the learned arrival: the setback it allows, and why."""
    forecast = learning.forecast
    level, setpoint, fr, en = _setback_level(occupation, comfort, learning, forecast.start,
                                             settings)
    then_fr = then_en = ""
    if preheat_at is not None:
        then_fr = f", préchauffage vers {preheat_at[0]}"
        then_en = f", preheat about {preheat_at[1]}"
    return HeatingDecision(level, setpoint, Reason(
        f"Inoccupé ({forecast.reason.fr}) : {fr}{then_fr}",
        f"Unoccupied ({forecast.reason.en}): {en}{then_en}"))


def _comfort_or_coast(occupation: Occupation, local_now: datetime, comfort: ComfortLevels,
                      learning: Learning, previous: HeatingLevel | None,
                      settings: LearningSettings) -> HeatingDecision:
    """Comfort while occupied, except at the end of the period: if the zone, left to cool,
    stays within ``comfort_band_k`` of comfort until the programme's end, the heating
    stops early."""
    end = occupation.current_end
    forecast = learning.forecast
    if (forecast.basis == "learned" and forecast.start is not None and forecast.end is not None
            and forecast.start <= local_now and (end is None or forecast.end > end)):
        end = forecast.end  # people usually stay later than the programme says
    floor = comfort.comfort - settings.comfort_band_k
    if end is not None and learning.indoor >= floor:
        left = elapsed(local_now, end).total_seconds() / 60
        coast = learning.thermal.cooldown_minutes(learning.indoor, floor, learning.outdoor)
        if coast >= left or (previous is HeatingLevel.REDUCED and left <= 60):
            return HeatingDecision(
                HeatingLevel.REDUCED,
                comfort.reduced,
                Reason(
                    f"Arrêt anticipé : la zone reste au-dessus de {temperature(floor)} "
                    f"jusqu'à la fin prévue à {moment(end, local_now)}",
                    f"Early stop: the zone stays above {temperature(floor, 'en')} until the "
                    f"expected end at {moment(end, local_now, 'en')}",
                ),
            )
    until = "" if end is None else f" jusqu'à {moment(end, local_now)}"
    until_en = "" if end is None else f" until {moment(end, local_now, 'en')}"
    who_fr = "Présence détectée" if learning.present else "Occupé selon le programme"
    who_en = "Presence detected" if learning.present else "Occupied by the programme"
    return HeatingDecision(
        HeatingLevel.COMFORT,
        comfort.comfort,
        Reason(f"{who_fr}{until} : confort {temperature(comfort.comfort)}",
               f"{who_en}{until_en}: comfort {temperature(comfort.comfort, 'en')}"),
    )
