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

from controllers.agenda import AGENDA
from controllers.forecast import OutdoorForecast
from controllers.occupancy import ArrivalForecast
from controllers.plant import PlantClock
from controllers.schedule import Occupation
from controllers.thermal import ThermalModel
from gtb.model import ComfortLevels
from gtb.model.learning import DEFAULT_LEARNING, LearningSettings
from gtb.model.points import HeatingLevel
from gtb.texts import Reason

LONG_ABSENCE = timedelta(hours=48)
"""Beyond this, a zone drops to frost protection (R241-27): the law, not a setting."""
UNSEEN_COLD_K = 1.0
"""How far below the coldest start of the warm-ups it was learnt on a model is trusted:
beyond, a pre-heat starts as early as its cap allows, and the warm-up it then makes
teaches the model that start. A kelvin is a sensor's accuracy and a structure's few
hours of difference; fixed, about extrapolation, not about a building."""
AHEAD_AT_MOST = timedelta(hours=24)
"""A pre-heat the plant's clock cuts is brought forward into the window before only
when that window ends at most this before the pre-heat's start: heat given a day earlier
is mostly lost by then. Fixed: about heat stored in a building, not about one."""
WARMUP_ITERATIONS = 4
"""Rounds of (warm-up -> its window -> the forecast's mean over it -> warm-up): a forecast
changes by a few kelvins over hours, and the start settles in two or three."""


def elapsed(since: datetime, until: datetime) -> timedelta:
    """Real time between two aware times. Subtracting two times of one ``ZoneInfo`` gives
    wall-clock time instead, an hour off across a daylight-saving change."""
    return until.astimezone(UTC) - since.astimezone(UTC)


def before(moment: datetime, span: timedelta) -> datetime:
    """The instant ``span`` of real time before ``moment``, in its zone. ``moment - span``
    goes back on the wall clock instead: an hour off across a daylight-saving change."""
    return (moment.astimezone(UTC) - span).astimezone(moment.tzinfo)


def after(moment: datetime, span: timedelta) -> datetime:
    """The instant ``span`` of real time after ``moment``, in its zone (``before``'s
    converse)."""
    return (moment.astimezone(UTC) + span).astimezone(moment.tzinfo)


@dataclass(frozen=True)
class Preheat:
    """A pre-heat under way: when it really started (latched until it ends), and how much
    later than needed, when the plant could not deliver heat before."""

    since: datetime
    late_minutes: float = 0.0
    agenda: bool = False
    """Toward an arrival the agenda gave (``controllers.agenda``), not a learned one."""
    cold: bool = False
    """Started from frost protection (a long absence or a deep setback): until the
    arrival it keeps the slower gain, the margin and the longer cap of a cold structure,
    which the zone's own level (comfort, now) no longer says."""


@dataclass(frozen=True)
class Ahead:
    """A pre-heat brought forward into the plant's window before a gap in its clock
    (``ahead_of_the_gap``): held until that window ends, as a pre-heat is held until its
    arrival (the zone warming up shortens its own estimate, which would otherwise stop it
    after a step)."""

    end: datetime
    """The end of the plant's window the heat is given in."""
    resume: datetime
    """When the plant's clock gives heat again."""
    arrival: datetime

    def reason(self, local_now: datetime) -> Reason:
        return Reason.of("heating.preheat_ahead", at=local_now, end=self.end,
                         resume=self.resume, arrival=self.arrival)


@dataclass(frozen=True)
class HeatingDecision:
    level: HeatingLevel
    setpoint: float
    reason: Reason
    preheat: Preheat | None = None
    """The learned pre-heat under way, from its start to the arrival."""
    planned: datetime | None = None
    """While set back before a learned pre-heat: when it is planned to start (the plant's
    decision keeps an enabled plant on for it)."""
    coasting: bool = False
    """An early stop under way: held until the end of the period."""
    ahead: Ahead | None = None
    """A pre-heat brought forward before a gap in the plant's clock: held until the end
    of its window."""


def programme_decision(
    occupation: Occupation,
    local_now: datetime,
    comfort: ComfortLevels,
    settings: LearningSettings = DEFAULT_LEARNING,
    *,
    plant: PlantClock | None = None,
    refused: Reason | None = None,
) -> HeatingDecision:
    """The level of a zone that follows its programme with a fixed early start (the
    programmable thermostat's way, and the fallback): ``settings.fixed_preheat``. The
    early start waits for the ``plant`` to deliver heat (None: always can); ``refused``
    is why the zone's thermal model was refused, which its reason then says."""
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
    then = None
    if start is not None and elapsed(local_now, start) <= lead:
        wanted = before(start, lead).astimezone(local_now.tzinfo)
        begin = local_now if plant is None else plant.first_available(local_now, local_now)
        if begin is not None and begin <= local_now:
            late = _late(plant, wanted)
            code = ("heating.fixed_preheat_late" if late else "heating.fixed_preheat_refused"
                    if refused is not None else "heating.fixed_preheat")
            return HeatingDecision(
                HeatingLevel.COMFORT,
                comfort.comfort,
                Reason.of(code, at=local_now, minutes=lead.total_seconds() / 60, start=start,
                          late=late, detail=refused),
            )
        then = _waiting(local_now, wanted, begin, start)
    elif start is not None:
        ahead = ahead_of_the_gap(local_now, before(start, lead), start, plant)
        if ahead is not None:
            return HeatingDecision(HeatingLevel.COMFORT, comfort.comfort,
                                   ahead.reason(local_now), ahead=ahead)
    when = (Reason.of("heating.nothing_scheduled") if start is None
            else Reason.of("heating.until", at=local_now, start=start))
    because = "_because" if occupation.because else ""
    if long_absence:
        level, setpoint = HeatingLevel.FROST_PROTECTION, comfort.frost_protection
        reason = Reason.of(f"heating.long_absence{because}", because=occupation.because,
                           when=when, setpoint=setpoint)
    else:
        level, setpoint = HeatingLevel.REDUCED, comfort.reduced
        reason = Reason.of(f"heating.unoccupied{because}", because=occupation.because,
                           when=when, setpoint=setpoint)
    if then is not None:
        reason = Reason.of("heating.then", first=reason, then=then)
    return HeatingDecision(level, setpoint, reason)


def _late(plant: PlantClock | None, wanted: datetime) -> float:
    """Minutes after ``wanted`` that the plant's own schedule first delivers heat: what a
    pre-heat that should have started then loses (0 when it could, or nothing says)."""
    if plant is None or plant.schedule is None:
        return 0.0
    begin = PlantClock(plant.schedule).first_available(wanted, wanted)
    if begin is None:
        return 0.0
    return max(0.0, elapsed(wanted, begin).total_seconds() / 60)


def ahead_of_the_gap(local_now: datetime, start: datetime, arrival: datetime,
                     plant: PlantClock | None) -> Ahead | None:
    """Heat now, for a pre-heat planned from ``start`` that the plant's own clock cuts
    (no heat from then until it resumes)? When ``local_now`` is within the time that gap
    takes from the pre-heat (at most the pre-heat itself), counted back from the end of
    the plant's window before it: that heat is given there instead, and the zone coasts
    through the gap (a crèche's pump stopped from 19:00 to 05:30, the end of a closure).
    That heat, or None."""
    if plant is None or start <= local_now:
        return None
    window = plant.window_before(start)
    if window is None:
        return None
    end, resume = window
    if elapsed(end, start) > AHEAD_AT_MOST:
        return None
    lost = min(elapsed(start, resume), elapsed(start, arrival))
    if not before(end, lost) <= local_now < end:
        return None
    return Ahead(end, resume, arrival)


def _waiting(local_now: datetime, wanted: datetime, begin: datetime | None,
             arrival: datetime) -> Reason:
    """Why a pre-heat that should start by ``wanted`` waits: heat comes only from
    ``begin`` (None: nothing says when)."""
    if begin is None:
        return Reason.of("heating.no_heat", at=local_now, arrival=arrival)
    late = max(0.0, elapsed(wanted, begin).total_seconds() / 60)
    return Reason.of("heating.waiting_plant", at=local_now, begin=begin, late=late,
                     arrival=arrival)



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
    weather: OutdoorForecast | None = None
    """The outdoor temperature to come; None: ``outdoor`` held flat (persistence)."""
    power: float = 1.0
    """The share of the zone's full heating power its warm-up can count on: below 1 where
    the building's plant cannot serve all its zones warming up at once."""
    event: str | None = None
    """The label of the agenda event ``forecast`` is the start of, which the pre-heat's
    reason names; None: an arrival learned, or the programme's."""

    def outdoor_forecast(self, now: datetime) -> OutdoorForecast:
        return self.weather or OutdoorForecast.persistence(now, self.outdoor)


def learned_decision(
    occupation: Occupation,
    local_now: datetime,
    comfort: ComfortLevels,
    learning: Learning | None,
    previous: HeatingDecision | None = None,
    settings: LearningSettings = DEFAULT_LEARNING,
    *,
    plant: PlantClock | None = None,
    refused: Reason | None = None,
) -> HeatingDecision:
    """Optimal start and stop when learning can answer; the fixed programme otherwise
    (``refused``: why the thermal model was refused, which its reason says).

    Re-evaluated every tick, ``previous`` being the last decision. A preheat once started
    is held until the arrival (the zone warming up shortens its own estimate, which would
    otherwise stop it halfway), and its start is latched: the reason says when it really
    started. A zone coasting at the end of a period keeps coasting. The warm-up is
    computed with the outdoor temperature the forecast gives over it, and the start is
    capped at ``settings.max_preheat`` (Guideline 36's cap; far longer after more than
    48 h away, from frost protection: a heavy or weakly heated building, a library closed
    Sunday and Monday, needs the night to come back), with at least ``min_margin_minutes``
    of margin on the learned warm-up, whatever the model's own error says. A pre-heat
    starts only when the ``plant`` can deliver heat (None: whenever): one that should
    start earlier starts then, and its reason says how much later than needed; one the
    plant's clock cuts is given before the gap instead (``ahead_of_the_gap``), held until
    the plant's window ends, and takes its whole cap after a long absence (``_split``).
    An arrival the agenda gives (``forecast.basis`` ``AGENDA``, ``controllers.agenda``) is
    pre-heated for as a learned one, and the reason names its event (``learning.event``).
    """
    if learning is None:
        return programme_decision(occupation, local_now, comfort, settings, plant=plant,
                                  refused=refused)
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
        planned = None
        if forecast.start is not None:
            # The arrival after this unused period is pre-heated for as any: from a deep
            # setback, that pre-heat may have to start before the period ends.
            toward = learned_decision(
                Occupation(False, occupation.previous_end, None, forecast.start),
                local_now, comfort, learning, previous, settings, plant=plant)
            if toward.level is HeatingLevel.COMFORT:
                return toward
            planned = toward.planned
        level, setpoint, setback = _setback_level(occupation, local_now, comfort, learning,
                                                  forecast.start, settings, plant)
        return HeatingDecision(level, setpoint, Reason.of(
            "heating.seldom_used", forecast=forecast.reason, setback=setback),
            planned=planned)
    if forecast.basis not in ("learned", AGENDA):
        # Arrivals not learned yet: the programme's times are only what was meant, and a
        # fixed early start is what has kept people warm so far.
        return programme_decision(occupation, local_now, comfort, settings, plant=plant)
    arrival = forecast.start
    if arrival is None or (elapsed(local_now, arrival) <= timedelta(0) and (
            forecast.end is None or local_now >= forecast.end)):
        return _learned_setback(occupation, local_now, comfort, learning, settings, plant)
    if elapsed(local_now, arrival) <= timedelta(0):
        # People usually are here by now: stay warm for them until they come or the
        # learned period ends, as the programme would.
        return HeatingDecision(
            HeatingLevel.COMFORT,
            comfort.comfort,
            Reason.of("heating.arrival_expected", forecast=forecast.reason,
                      setpoint=comfort.comfort),
        )
    held = previous.ahead if previous is not None else None
    if (held is not None and local_now < held.end < arrival
            and arrival.date() == held.arrival.date()):
        # Brought forward before the plant's gap: held until its window ends, whatever
        # the warming zone's shorter estimate now says (while the arrival is that day's).
        return HeatingDecision(HeatingLevel.COMFORT, comfort.comfort,
                               held.reason(local_now), ahead=held)
    # From frost protection (a long absence, or a deep setback) the structure is cold:
    # the slower gain, its own margin, and the longer cap; and so until the arrival for a
    # pre-heat that started from there.
    long_absence = _long_absence(occupation, learning, arrival) or (
        previous is not None and previous.level is HeatingLevel.FROST_PROTECTION)
    left = elapsed(local_now, arrival)
    latched = previous.preheat if previous is not None else None
    if latched is not None:
        cap = settings.max_preheat(long_absence or latched.cold)
        if left > cap or elapsed(latched.since, local_now) > cap:
            latched = None  # not this pre-heat's: one lasts at most the cap
    long_absence = long_absence or (latched is not None and latched.cold)
    cap = settings.max_preheat(long_absence)
    margin = max(learning.thermal.margin_minutes(settings.margin_sigmas,
                                                 after_long_absence=long_absence),
                 settings.min_margin_minutes)
    warmup, outdoor = _warmup(learning, comfort.comfort, long_absence, margin, cap,
                              local_now, arrival)
    lead = _lead(warmup + margin, cap)
    if long_absence and learning.thermal.warmup_error_after_long_absence_minutes is None:
        # No warm-up from a cold structure seen yet (the first Mondays): its gain is a
        # normal morning's, too quick; never later than the fixed early start then.
        lead = max(lead, min(settings.fixed_preheat(True), cap))
    colder = _colder_than_seen(learning)
    if colder:
        lead = cap  # beyond what the model was learnt on: as early as the cap allows
    start = before(arrival, lead).astimezone(local_now.tzinfo)
    gap = _split(plant, start, long_absence)
    if gap is not None:
        start = before(arrival, cap).astimezone(local_now.tzinfo)
        end, resume = gap
        if local_now >= end:
            start = max(start, resume)  # its part in the gap was given before it
    if latched is None:
        ahead = ahead_of_the_gap(local_now, start, arrival, plant)
        if ahead is not None:
            return HeatingDecision(HeatingLevel.COMFORT, comfort.comfort,
                                   ahead.reason(local_now), ahead=ahead)
        begin = start if plant is None else plant.first_available(start, local_now)
        if begin is None or begin > local_now:
            then = (Reason.of("heating.preheat_about", at=local_now, start=start)
                    if begin == start else _waiting(local_now, start, begin, arrival))
            return _learned_setback(occupation, local_now, comfort, learning, settings,
                                    plant, then, planned=begin)
        latched = Preheat(local_now, _late(plant, start), agenda=forecast.basis == AGENDA,
                          cold=long_absence)
    # The detail, built only for a pre-heat that runs: zones waiting for theirs never show it.
    estimate = (Reason.of("heating.out_of_reach") if math.isinf(warmup)
                else Reason.of("duration", minutes=warmup))
    if colder:
        estimate = Reason.of("heating.colder_than_seen", estimate=estimate,
                             coldest=learning.thermal.coldest_warmup_start)
    warming = {"estimate": estimate,
               "outdoor": outdoor,
               "source": Reason.of(f"outdoor.{learning.outdoor_forecast(local_now).source}"),
               "margin": margin, "power": learning.power}
    detail = (Reason.of("heating.preheat_detail_agenda", **warming)
              if forecast.basis == AGENDA
              else Reason.of("heating.preheat_detail", days=forecast.similar_days, **warming))
    said = {"at": local_now, "start": latched.since, "arrival": arrival,
            "late": latched.late_minutes, "detail": detail}
    if learning.event is None:
        code = "heating.preheat_late" if latched.late_minutes else "heating.preheat"
    else:
        code = "heating.preheat_event_late" if latched.late_minutes else "heating.preheat_event"
        said["event"] = learning.event
    return HeatingDecision(HeatingLevel.COMFORT, comfort.comfort, Reason.of(code, **said),
                           preheat=latched)


def _split(plant: PlantClock | None, start: datetime,
           long_absence: bool) -> tuple[datetime, datetime] | None:
    """The plant's gap (the end of its window before, when heat comes again) that cuts a
    pre-heat after a long absence planned from ``start``, when that window ends at most
    ``AHEAD_AT_MOST`` before it (the gap is bridged); None otherwise: a warm-up that
    starts when the plant resumes runs on, as the model learnt (a Monday after a weekend
    without heat).

    Such a pre-heat takes its whole cap, the time the site allows a cold building to come
    back, its part in the gap brought forward into the window before
    (``ahead_of_the_gap``), rather than the model's estimate: after days without heat the
    structure is cold, and heat given before the gap is mostly stored in it while the air
    falls back toward it through the gap. The model was learnt on warm-ups that ran on
    and on nights that cooled a warm structure: neither tells how much of that heat is
    left when the plant resumes (a crèche's pump stopped from 19:00 to 05:30 on the eve of
    its reopening), as they do not for a zone colder than any warm-up learnt from."""
    if not long_absence or plant is None:
        return None
    gap = plant.window_before(start)
    if gap is None or elapsed(gap[0], start) > AHEAD_AT_MOST:
        return None
    return gap


def _colder_than_seen(learning: Learning) -> bool:
    """Whether the zone is more than ``UNSEEN_COLD_K`` colder than any warm-up its model
    was learnt on started from: its warm-up would be extrapolated, and a cold structure
    warms more slowly than the gain of warmer mornings says (a cold week's Monday)."""
    coldest = learning.thermal.coldest_warmup_start
    return coldest is not None and learning.indoor < coldest - UNSEEN_COLD_K


def _lead(minutes: float, cap: timedelta) -> timedelta:
    """A warm-up and its margin as a lead time, at most ``cap`` (an unreachable comfort,
    an infinite warm-up, is the cap)."""
    return cap if not minutes < cap.total_seconds() / 60.0 else timedelta(minutes=minutes)


def _outdoor_until(learning: Learning, local_now: datetime, arrival: datetime) -> float:
    """The outdoor temperature from now to ``arrival``: the forecast's mean, or the
    temperature now without a forecast."""
    weather = learning.outdoor_forecast(local_now)
    return (weather.mean(local_now, arrival) if weather.source == "forecast"
            else learning.outdoor)


def _warmup(learning: Learning, target: float, long_absence: bool, margin: float,
            cap: timedelta, local_now: datetime, arrival: datetime) -> tuple[float, float]:
    """Minutes of warm-up to ``target`` before ``arrival``, and the outdoor temperature
    they are computed with: the forecast's mean over the pre-heat's window [start,
    arrival], the start found by iteration (a colder forecast, a longer warm-up, an
    earlier start, over hours whose mean may differ again)."""
    weather = learning.outdoor_forecast(local_now)
    outdoor = _outdoor_until(learning, local_now, arrival)
    for _ in range(WARMUP_ITERATIONS):
        warmup = learning.thermal.warmup_minutes(
            learning.indoor, target, outdoor, after_long_absence=long_absence,
            power=learning.power)
        lead = _lead(warmup + margin, cap)
        mean = weather.mean(max(before(arrival, lead), local_now), arrival)
        if abs(mean - outdoor) < 0.05:
            return warmup, outdoor
        outdoor = mean
    return learning.thermal.warmup_minutes(
        learning.indoor, target, outdoor, after_long_absence=long_absence,
        power=learning.power), outdoor


def _long_absence(occupation: Occupation, learning: Learning, arrival: datetime | None) -> bool:
    """Whether the zone is empty for more than 48 h up to ``arrival``: from when someone
    was last detected when known, else from the programme's last period."""
    since = learning.last_present or occupation.previous_end
    return arrival is None or since is None or elapsed(since, arrival) > LONG_ABSENCE


def _setback_level(occupation: Occupation, local_now: datetime, comfort: ComfortLevels,
                   learning: Learning, arrival: datetime | None, settings: LearningSettings,
                   plant: PlantClock | None) -> tuple[HeatingLevel, float, Reason]:
    """Reduced, or frost protection when the learned absence is long or the zone can come
    back from it in time: the level, its setpoint, and why. Frost protection only if
    similar days show at most ``surprise_tolerance`` of unexpected visits: a room used now
    and then stays reduced, from where it warms up in minutes rather than hours.

    A short absence (a night, a weekend under 48 h) goes to frost protection too when the
    zone, left to cool until the latest pre-heat the usual cap allows, would still be
    back at comfort by the arrival (``_back_in_time``): heat that holds a reduced level
    nobody needs is saved, and the law's 16 °C is a ceiling, not a floor (R241-26). This
    is the French "coupure avec relance optimisée"; otherwise reduced, the "ralenti"."""
    surprise = learning.forecast.surprise
    surprises = surprise > settings.surprise_tolerance
    if not _long_absence(occupation, learning, arrival):
        if not surprises and _back_in_time(local_now, comfort, learning, arrival, settings,
                                           plant):
            return (HeatingLevel.FROST_PROTECTION, comfort.frost_protection,
                    Reason.of("setback.deep", setpoint=comfort.frost_protection))
        return (HeatingLevel.REDUCED, comfort.reduced,
                Reason.of("setback.reduced", setpoint=comfort.reduced))
    if surprises:
        return (HeatingLevel.REDUCED, comfort.reduced,
                Reason.of("setback.reduced_surprises", setpoint=comfort.reduced,
                          surprise=surprise))
    return (HeatingLevel.FROST_PROTECTION, comfort.frost_protection,
            Reason.of("setback.frost_protection", setpoint=comfort.frost_protection))


def _back_in_time(local_now: datetime, comfort: ComfortLevels, learning: Learning,
                  arrival: datetime | None, settings: LearningSettings,
                  plant: PlantClock | None) -> bool:
    """Whether the zone, left without heat (down to its frost-protection level) until
    ``max_preheat`` before ``arrival``, warms up to comfort from there within that cap,
    with the gain and margin of a pre-heat from frost protection (what it will make from
    there) and the forecast's outdoor temperature: then a deep setback costs no
    comfort. A two-state model's structure cools with the air over the coast, and the
    warm-up starts from where the coast leaves it. Not when the plant could not deliver
    heat from then on (its own clock, or its point saying no)."""
    if arrival is None:
        return False
    thermal = learning.thermal
    cap = settings.max_preheat(False)
    latest = before(arrival, cap)
    if plant is not None and plant.first_available(latest, local_now) != max(latest, local_now):
        return False
    coast = elapsed(local_now, latest).total_seconds() / 60.0
    outdoor = _outdoor_until(learning, local_now, arrival)
    coasted, structure = thermal.coasted(learning.indoor, comfort.frost_protection, outdoor,
                                         coast)
    warmup = thermal.warmup_minutes(coasted, comfort.comfort, outdoor,
                                    after_long_absence=True, power=learning.power,
                                    structure=structure)
    margin = max(thermal.margin_minutes(settings.margin_sigmas, after_long_absence=True),
                 settings.min_margin_minutes)
    return warmup + margin <= cap.total_seconds() / 60.0


def _learned_setback(occupation: Occupation, local_now: datetime, comfort: ComfortLevels,
                     learning: Learning, settings: LearningSettings, plant: PlantClock | None,
                     then: Reason | None = None,
                     planned: datetime | None = None) -> HeatingDecision:
    """Nobody expected before the learned arrival: the setback it allows, and why (and
    ``then``, when the preheat is to start, ``planned``)."""
    forecast = learning.forecast
    level, setpoint, setback = _setback_level(occupation, local_now, comfort, learning,
                                              forecast.start, settings, plant)
    return HeatingDecision(level, setpoint, Reason.of(
        "heating.learned_setback", forecast=forecast.reason, setback=setback,
        then=then or Reason.of("empty")), planned=planned)


def _comfort_or_coast(occupation: Occupation, local_now: datetime, comfort: ComfortLevels,
                      learning: Learning, previous: HeatingDecision | None,
                      settings: LearningSettings) -> HeatingDecision:
    """Comfort while occupied, except in the last ``early_stop_max_minutes`` of the
    period: if the zone, left to cool with its occupants' gains, stays within
    ``comfort_band_k`` (at most 1 K) of comfort until the end, the heating stops early.
    The thermostat is then asked for comfort minus the band, not the reduced level:
    people are still there, and should the zone cool faster than foreseen, it is held
    there."""
    end = occupation.current_end
    forecast = learning.forecast
    if (forecast.basis == "learned" and forecast.start is not None and forecast.end is not None
            and forecast.start <= local_now and (end is None or forecast.end > end)):
        end = forecast.end  # people usually stay later than the programme says
    floor = comfort.comfort - settings.comfort_band_k
    if end is not None and learning.indoor >= floor:
        left = elapsed(local_now, end).total_seconds() / 60
        if left <= settings.early_stop_max_minutes:
            outdoor = learning.outdoor_forecast(local_now).mean(local_now, end)
            coast = learning.thermal.cooldown_minutes(learning.indoor, floor, outdoor,
                                                      occupied=True)
            if coast >= left or (previous is not None and previous.coasting):
                return HeatingDecision(
                    HeatingLevel.COMFORT,
                    floor,
                    Reason.of("heating.early_stop", at=local_now, floor=floor, end=end),
                    coasting=True,
                )
    code = "heating.presence" if learning.present else "heating.occupied"
    return HeatingDecision(
        HeatingLevel.COMFORT,
        comfort.comfort,
        Reason.of(code if end is not None else f"{code}_open", at=local_now, until=end,
                  setpoint=comfort.comfort),
    )
