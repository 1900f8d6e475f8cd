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
from gtb.model import ComfortLevels
from gtb.model.learning import DEFAULT_LEARNING, LearningSettings
from gtb.model.points import HeatingLevel
from gtb.texts import Reason

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
        return HeatingDecision(
            HeatingLevel.COMFORT,
            comfort.comfort,
            Reason.of("heating.occupied_because" if occupation.because else "heating.occupied",
                      at=local_now, because=occupation.because, until=occupation.current_end,
                      setpoint=comfort.comfort),
        )
    start = occupation.next_start
    long_absence = (
        start is None
        or occupation.previous_end is None
        or elapsed(occupation.previous_end, start) > LONG_ABSENCE
    )
    lead = settings.fixed_preheat(long_absence)
    if start is not None and elapsed(local_now, start) <= lead:
        return HeatingDecision(
            HeatingLevel.COMFORT,
            comfort.comfort,
            Reason.of("heating.fixed_preheat", at=local_now,
                      minutes=lead.total_seconds() / 60, start=start),
        )
    when = (Reason.of("heating.nothing_scheduled") if start is None
            else Reason.of("heating.until", at=local_now, start=start))
    because = "_because" if occupation.because else ""
    if long_absence:
        return HeatingDecision(
            HeatingLevel.FROST_PROTECTION,
            comfort.frost_protection,
            Reason.of(f"heating.long_absence{because}", because=occupation.because, when=when,
                      setpoint=comfort.frost_protection),
        )
    return HeatingDecision(
        HeatingLevel.REDUCED,
        comfort.reduced,
        Reason.of(f"heating.unoccupied{because}", because=occupation.because, when=when,
                  setpoint=comfort.reduced),
    )



@dataclass(frozen=True)
class Learning:
    """What a zone has learned, and what its sensors say now: the inputs of optimal start."""

    forecast: ArrivalForecast
    thermal: ThermalModel
    indoor: float
    outdoor: float
    present: bool | None = None
    """Someone is detected now (True), nobody is (False), or it is unknown (None: no
    detector, or its reading is not good); unknown is never taken for absence."""
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
        level, setpoint, setback = _setback_level(occupation, comfort, learning, forecast.start,
                                                  settings)
        return HeatingDecision(level, setpoint, Reason.of(
            "heating.seldom_used", forecast=forecast.reason, setback=setback))
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
            Reason.of("heating.arrival_expected", forecast=forecast.reason,
                      setpoint=comfort.comfort),
        )
    long_absence = _long_absence(occupation, learning, arrival)
    warmup = learning.thermal.warmup_minutes(learning.indoor, comfort.comfort,
                                             learning.outdoor, after_long_absence=long_absence)
    margin = max(learning.thermal.margin_minutes(settings.margin_sigmas,
                                                 after_long_absence=long_absence),
                 settings.min_margin_minutes)
    cap = settings.max_preheat(long_absence)
    lead = min(timedelta(minutes=warmup + margin), cap)
    left = elapsed(local_now, arrival)
    start = (arrival - lead).astimezone(local_now.tzinfo)
    if left > lead and not (previous is HeatingLevel.COMFORT and left <= cap):
        return _learned_setback(occupation, comfort, learning, settings,
                                Reason.of("heating.preheat_about", at=local_now, start=start))
    estimate = (Reason.of("heating.out_of_reach") if math.isinf(warmup)
                else Reason.of("duration", minutes=warmup))
    return HeatingDecision(
        HeatingLevel.COMFORT,
        comfort.comfort,
        Reason.of("heating.preheat", at=local_now, start=start, arrival=arrival,
                  days=forecast.similar_days, estimate=estimate, outdoor=learning.outdoor),
    )


def _long_absence(occupation: Occupation, learning: Learning, arrival: datetime | None) -> bool:
    """Whether the zone is empty for more than 48 h up to ``arrival``: from when someone
    was last detected when known, else from the programme's last period."""
    since = learning.last_present or occupation.previous_end
    return arrival is None or since is None or elapsed(since, arrival) > LONG_ABSENCE


def _setback_level(occupation: Occupation, comfort: ComfortLevels, learning: Learning,
                   arrival: datetime | None,
                   settings: LearningSettings) -> tuple[HeatingLevel, float, Reason]:
    """Reduced, or frost protection when the learned absence is long: the level, its
    setpoint, and why. Frost protection only if similar days show at most
    ``surprise_tolerance`` of unexpected visits: a room used now and then stays reduced,
    from where it warms up in minutes rather than hours."""
    if not _long_absence(occupation, learning, arrival):
        return (HeatingLevel.REDUCED, comfort.reduced,
                Reason.of("setback.reduced", setpoint=comfort.reduced))
    surprise = learning.forecast.surprise
    if surprise > settings.surprise_tolerance:
        return (HeatingLevel.REDUCED, comfort.reduced,
                Reason.of("setback.reduced_surprises", setpoint=comfort.reduced,
                          surprise=surprise))
    return (HeatingLevel.FROST_PROTECTION, comfort.frost_protection,
            Reason.of("setback.frost_protection", setpoint=comfort.frost_protection))


def _learned_setback(occupation: Occupation, comfort: ComfortLevels, learning: Learning,
                     settings: LearningSettings,
                     then: Reason | None = None) -> HeatingDecision:
    """Nobody expected before the learned arrival: the setback it allows, and why (and
    ``then``, when the preheat is to start)."""
    forecast = learning.forecast
    level, setpoint, setback = _setback_level(occupation, comfort, learning, forecast.start,
                                              settings)
    return HeatingDecision(level, setpoint, Reason.of(
        "heating.learned_setback", forecast=forecast.reason, setback=setback,
        then=then or Reason.of("empty")))


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
                Reason.of("heating.early_stop", at=local_now, floor=floor, end=end),
            )
    code = "heating.presence" if learning.present else "heating.occupied"
    return HeatingDecision(
        HeatingLevel.COMFORT,
        comfort.comfort,
        Reason.of(code if end is not None else f"{code}_open", at=local_now, until=end,
                  setpoint=comfort.comfort),
    )
