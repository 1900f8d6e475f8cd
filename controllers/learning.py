"""One zone that learns: feed it observations, refit it each night, ask it for decisions.

This is the controllers' API for anything that drives a zone (the engine, a simulator,
another building-control system)::

    zone = ZoneLearner(programme, "mairie", FrenchCalendar("B"), ComfortLevels(), PARIS,
                       settings=LearningSettings(max_preheat_hours=4))  # optional
    zone.observe(time, indoor=17.2, outdoor=3.5, heating=0.8, present=False)  # each step
    zone.observe(time, indoor=17.2, outdoor=3.5, heating=None, present=False,
                 setpoint=19.0)              # a zone with no heating signal: the setpoint
    zone.refit(now)                                                          # each night
    decision = zone.decide(now, indoor=17.4, outdoor=3.4, present=False,
                           agenda=agenda_for(entries, "mairie", "accueil", today))  # optional
    decision.level, decision.setpoint, decision.reason.fr

A fresh zone follows its programme with a fixed early start; once its history holds
enough heated and unheated hours and enough similar days, it starts just in time for the
arrivals it has learned and stops early when it can coast. How much history it keeps and
how cautious it is are its ``settings`` (a zone's in the engine: ``Site.learning_of``).
Learning can be switched off, and then the programme applies. The agenda's events and
closures, which the learner does not know, are followed as ``controllers.agenda`` says:
a pre-heat toward an event is a learned optimal start. Nothing here reads a clock or
touches a device.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from functools import partial
from typing import Any

import numpy as np

from controllers.agenda import Bearing, agenda_arrival, bearing
from controllers.forecast import OutdoorForecast
from controllers.heating import HeatingDecision, Learning, learned_decision, programme_decision
from controllers.occupancy import (
    SLOT_MINUTES,
    ArrivalForecast,
    OccupancyHistory,
    day_slots,
    predict,
    seen_whole,
)
from controllers.plant import PlantClock
from controllers.radio import look_ahead
from controllers.schedule import FrenchCalendar, Occupation, occupation
from controllers.thermal import (
    BETTER_SHARE,
    LONG_ABSENCE,
    ThermalHistory,
    ThermalModel,
    ThermalObservation,
    fit_thermal,
)
from gtb.model import BuildingUse, ComfortLevels
from gtb.model.calendar import AgendaEntry, Programme
from gtb.model.learning import DEFAULT_LEARNING, LearningSettings
from gtb.model.points import HeatingLevel
from gtb.texts import Reason

FORECAST_REFRESH = timedelta(hours=1)
"""A forecast is reused this long (or until its arrival passes): it moves slowly. Fixed,
not tuning: a cache of the learner's, not a property of the building."""
OBSERVATION_STEP = timedelta(minutes=5)
"""Temperatures are kept at most this often: plenty for a warm-up, light on memory. Fixed,
not tuning: about the feed of readings and memory, not about the building."""
FORM_RESELECTION_DAYS = 7
"""Nights between two choices of the thermal model's form (first order, or two states
with which structure time constant): the nights between refit the chosen form only, a
fourth of the work. It is chosen again sooner when the history has doubled since (a
cold start's first choices rest on a morning or two), when the kept form predicts the
held-out mornings a tenth worse than when it was chosen (``BETTER_SHARE``: the data
changed enough for another to do better), and whenever it is refused. Fixed, not
tuning: it spares computing, and a building's form does not change in a week."""
BELOW_SETPOINT_FULL_HEAT = 1.0
"""K: a zone with no heating signal is taken at full heat while its air is this far below
the setpoint it holds (a thermostat's proportional band is 1-2 K: well below it, the
emitter is fully open)."""
ABOVE_SETPOINT_NO_HEAT = 0.3
"""K: and with no heat while its air is this far above it; in between, unknown (not
fitted). Both fixed: about thermostats, not about the building."""


def inferred_heating(indoor: float, setpoint: float) -> float:
    """The heating share a zone with no signal is taken to use, its air at ``indoor``
    and its thermostat holding ``setpoint``: 1 well below it, 0 above it, NaN (unknown)
    in between."""
    if indoor <= setpoint - BELOW_SETPOINT_FULL_HEAT:
        return 1.0
    if indoor >= setpoint + ABOVE_SETPOINT_NO_HEAT:
        return 0.0
    return float("nan")


@dataclass
class ZoneLearner:
    """The learning state of one zone and the decisions it leads to, tuned by
    ``settings`` (the zone's ``Site.learning_of``)."""

    programme: Programme
    use: BuildingUse | str
    calendar: FrenchCalendar
    comfort: ComfortLevels
    tz: tzinfo
    settings: LearningSettings = DEFAULT_LEARNING
    learning: bool = True
    thermal: ThermalModel | None = None
    thermal_refused: Reason | None = None
    """Why the last refit gave no thermal model (``thermal`` then keeps the previous
    accepted one, or None); None when it was accepted or never tried."""
    occupancy: OccupancyHistory = field(init=False)
    _observations: ThermalHistory = field(default_factory=ThermalHistory, repr=False)
    _presence: dict[date, list[tuple[datetime, bool | None]]] = field(
        default_factory=lambda: defaultdict(list), repr=False)
    _forecast: tuple[datetime, ArrivalForecast] | None = field(default=None, repr=False)
    _previous: HeatingDecision | None = field(default=None, repr=False)
    _last_present: datetime | None = field(default=None, repr=False)
    _form_chosen: tuple[date, int, float] | None = field(default=None, repr=False)
    """When the thermal model's form was last chosen (the local date), how many
    observations the history held then and its held-out error (minutes); None: not since
    the start or a restore."""
    _indoor: float | None = field(default=None, repr=False)
    """The air at the last call of ``observe``, °C: where the step that ends at the next
    one started (None: unknown)."""
    _inferred: float | None = field(default=None, repr=False)
    """For a zone with no heating signal, the share inferred over the steps since the
    last thermal observation: NaN when they differed or one could not be (unknown), None
    when there was none."""

    def __post_init__(self) -> None:
        self.occupancy = OccupancyHistory(keep=self.settings.history)

    def observe(self, time: datetime, *, indoor: float | None, outdoor: float | None,
                heating: float | None, present: bool | None,
                setpoint: float | None = None) -> None:
        """Record one step: temperatures in °C, ``heating`` the share of its emitter's output
        the zone uses (0..1, from its valve, emitter power or fan speed; None: no signal),
        ``present`` the detector's answer (None: unknown), ``setpoint`` the one the zone
        holds (°C), from which the heating of a zone with no signal is inferred
        (``inferred_heating``). Each part counts for what it is: a missing outdoor sensor
        skips the thermal observation, not the presence. The internal gains are learnt on
        the steps someone was detected, or, without a detector, that the programme says
        are occupied.

        An inferred share is over the step that ends now, as a signal's is
        (``ThermalObservation``): from the air in its middle, between the last step's and
        now's, not from the air at its end. A fast emitter warms a zone into its
        thermostat's band within a step or two: at the end of such a step the air is
        already near the setpoint, yet the zone was at full heat all the way there."""
        last = self._observations[-1].time if self._observations else None
        signal = heating is not None
        if not signal and setpoint is not None and indoor is not None:
            middle = indoor if self._indoor is None else 0.5 * (self._indoor + indoor)
            inferred = inferred_heating(middle, setpoint)
            # Over the steps since the last observation kept: unknown unless all agree.
            heating = inferred if self._inferred in (None, inferred) else math.nan
        self._indoor = indoor
        if indoor is not None and outdoor is not None and heating is not None and (
                last is None or time - last >= OBSERVATION_STEP):
            occupied = present if present is not None else occupation(
                self.programme, self.calendar, self.use, time.astimezone(self.tz)).occupied
            self._observations.append(ThermalObservation(time, indoor, outdoor, heating,
                                                         occupied))
            self._inferred = None
        elif not signal:  # the step goes on to the next reading; unknown if not inferred
            self._inferred = math.nan if heating is None else heating
        if self.thermal is not None and indoor is not None:
            self.thermal = self.thermal.observed(time, indoor)  # two states: the structure
        self.record_presence(time, present)

    def record_presence(self, time: datetime, present: bool | None) -> None:
        """Record what the presence detector said, when it is read more often than the
        temperatures are observed (or without them). None is a zone without a detector,
        or one whose reading was not good: unknown, never absence."""
        local = time.astimezone(self.tz)
        self._presence[local.date()].append((local, present))
        if present and (self._last_present is None or local > self._last_present):
            self._last_present = local

    def refit(self, now: datetime) -> None:
        """Learn from what was observed: finished days the detector saw whole join the
        occupancy history (``seen_whole``), and the thermal model is fitted again on the
        last ``thermal_window_days`` (the 48 h before them kept as context: whether their
        first warm-ups followed a long absence), from the last model's parameters: in the form it
        has, or, every ``FORM_RESELECTION_DAYS``, when the history has doubled or that
        form has grown worse, in the form that predicts the held-out mornings best. A
        refused fit (``thermal_refused`` says why) keeps the model accepted before, if
        any: it was learnt on this zone's data, and a week of holidays without a warm-up
        does not make it wrong."""
        today = now.astimezone(self.tz).date()
        for day in sorted(d for d in self._presence if d < today):
            samples = self._presence.pop(day)
            if not seen_whole(samples):
                continue
            slots = day_slots(samples, day, self.tz)
            known = self.occupancy.days.get(day)  # samples that came after a refit add up
            self.occupancy.add(day, slots if known is None else slots | known)
        self._refit_thermal(now, today)
        self._forecast = None

    def _refit_thermal(self, now: datetime, today: date) -> None:
        """The thermal model fitted again (``refit``): in the form chosen before, or in
        the best of all when a choice is due."""
        since = now - self.settings.thermal_window
        self._observations.drop_before(since - LONG_ABSENCE)
        chosen = self._form_chosen
        due = (self.thermal is None or chosen is None
               or (today - chosen[0]).days >= FORM_RESELECTION_DAYS
               or len(self._observations) >= 2 * chosen[1])
        fit = fit_thermal(self._observations, now=now, use=self.use, settings=self.settings,
                          form=None if due or self.thermal is None
                          else self.thermal.structure_hours, start=self.thermal, since=since)
        if (fit.model is not None and not fit.selected and chosen is not None
                and fit.model.warmup_error_minutes > chosen[2] / BETTER_SHARE):
            # The kept form predicts the held-out mornings worse than when it was chosen:
            # the data changed enough for another to do better.
            fit = fit_thermal(self._observations, now=now, use=self.use,
                              settings=self.settings, form=None, start=self.thermal,
                              since=since)
        if fit.model is not None and fit.selected:
            self._form_chosen = (today, len(self._observations),
                                 fit.model.warmup_error_minutes)
        self.thermal = fit.model or self.thermal
        self.thermal_refused = fit.refused

    def learned(self) -> dict[str, Any]:
        """What was learned, as plain data to store: the thermal model and the days seen."""
        return {
            "thermal": None if self.thermal is None else self.thermal.to_dict(),
            "days": {day.isoformat(): "".join("1" if slot else "0" for slot in slots)
                     for day, slots in sorted(self.occupancy.days.items())},
        }

    def restore(self, learned: Mapping[str, Any]) -> None:
        """Take back what ``learned()`` gave, after a restart; a stored thermal model that
        cannot be read is dropped (``thermal_refused`` says why), the days are kept."""
        thermal = learned.get("thermal")
        self.thermal, self.thermal_refused, self._form_chosen = None, None, None
        if thermal is not None:
            try:
                self.thermal = ThermalModel.from_dict(thermal)
            except ValueError as error:
                self.thermal_refused = Reason.of("thermal.unreadable", error=str(error))
        for day, slots in learned.get("days", {}).items():
            self.occupancy.add(date.fromisoformat(day), [c == "1" for c in slots])
        self._forecast = None

    def decide(self, now: datetime, *, indoor: float | None, outdoor: float | None,
               present: bool | None, forecast: OutdoorForecast | None = None,
               plant: PlantClock | None = None, power: float = 1.0,
               agenda: tuple[AgendaEntry, ...] = (), lead: timedelta = timedelta(0),
               because: Reason | None = None) -> HeatingDecision:
        """The zone's level now, with its reason; the programme when learning cannot say.
        ``present`` None (no detector, or not a good reading): nobody is known to be here,
        nor when someone last was. ``forecast``: the outdoor temperature to come (None:
        persistence of ``outdoor``). ``plant``: when the building's plant can deliver heat
        (None: whenever); ``power``: the share of full heating power a warm-up can count
        on (the plant shared by zones warming up at once). ``agenda``: the entries that
        apply to the zone near now (``agenda_for``), followed as ``controllers.agenda``
        says. ``lead``: how far ahead a command given now must look (a class A radio's,
        ``controllers.radio.radio_lead``): the highest setpoint the zone will want until
        then, which ``because`` explains (``controllers.radio.look_ahead``); asking about
        those later moments changes nothing of what the zone remembers."""
        local_now = now.astimezone(self.tz)
        decide_at = partial(self._decide, indoor=indoor, outdoor=outdoor, present=present,
                            forecast=forecast, plant=plant, power=power, agenda=agenda)
        decision = decide_at(local_now)
        if lead > timedelta(0):
            cached = self._forecast
            try:
                decision = look_ahead(decision, decide_at, local_now, lead,
                                 because or Reason.of("empty"))
            finally:
                self._forecast = cached  # the later moments' forecasts are not this one's
        self._previous = decision
        return decision

    def _decide(self, local_now: datetime, *, indoor: float | None, outdoor: float | None,
                present: bool | None, forecast: OutdoorForecast | None,
                plant: PlantClock | None, power: float,
                agenda: tuple[AgendaEntry, ...]) -> HeatingDecision:
        """The decision at ``local_now`` (``decide``), after the last one taken."""
        occupied = occupation(self.programme, self.calendar, self.use, local_now)
        where = (occupation(self.programme, self.calendar, self.use, local_now, agenda)
                 if agenda else occupied)
        under = bearing(occupied, where)
        refused = self.thermal_refused if self.learning and self.thermal is None else None
        knows = self.learning and self.thermal is not None and indoor is not None and (
            outdoor is not None)
        if under is Bearing.PROGRAMME:
            decision = programme_decision(where, local_now, self.comfort, self.settings,
                                          plant=plant, refused=refused)
            if (knows and decision.level is not HeatingLevel.COMFORT and not where.occupied
                    and where.because is not None and where.next_start is not None):
                # A closure (or a day exception) decides the moment: its setback, but a
                # learned pre-heat toward the first period after it (from a structure cold
                # from days without heat) when that starts earlier than the fixed one.
                toward = self._learned(local_now, where, Bearing.ARRIVAL, agenda, indoor,
                                       outdoor, present, forecast, plant, power)
                if toward.level is HeatingLevel.COMFORT:
                    decision = toward
        else:
            decision = (self._learned(local_now, where, under, agenda, indoor, outdoor,
                                      present, forecast, plant, power) if knows
                        else learned_decision(where, local_now, self.comfort, None,
                                              self._previous, self.settings, plant=plant,
                                              refused=refused))
        return decision

    def _learned(self, local_now: datetime, where: Occupation, under: Bearing,
                 agenda: tuple[AgendaEntry, ...], indoor: float | None, outdoor: float | None,
                 present: bool | None, forecast: OutdoorForecast | None,
                 plant: PlantClock | None, power: float) -> HeatingDecision:
        """The learned decision, toward the agenda's arrival when ``under`` says so; the
        zone has a thermal model and both temperatures."""
        assert self.thermal is not None and indoor is not None and outdoor is not None
        arrival, event = self._forecast_at(local_now), None
        if under is Bearing.ARRIVAL:
            arrival, event = agenda_arrival(self.programme, self.calendar, self.use, where,
                                            agenda, arrival)
        learning = Learning(arrival, self.thermal, indoor, outdoor, present,
                            None if present is None else self._last_seen(),
                            weather=forecast, power=power, event=event)
        return learned_decision(where, local_now, self.comfort, learning, self._previous,
                                self.settings, plant=plant)

    def follow(self, programme: Programme) -> None:
        """A new weekly programme: the next arrival is worked out again from it."""
        self.programme = programme
        self._forecast = None

    def next_arrival(self, now: datetime) -> ArrivalForecast:
        """When the zone is next expected to be occupied, learned or from the programme."""
        return self._forecast_at(now.astimezone(self.tz))

    def _last_seen(self) -> datetime | None:
        """When someone was last detected: recorded since the start, else the end of the
        last occupied slot in the history (after a restart); None when never."""
        if self._last_present is None:
            for day in sorted(self.occupancy.days, reverse=True):
                occupied = np.flatnonzero(self.occupancy.days[day])
                if occupied.size:
                    minutes = SLOT_MINUTES * (int(occupied[-1]) + 1)
                    self._last_present = datetime.combine(
                        day, datetime.min.time(), tzinfo=self.tz) + timedelta(minutes=minutes)
                    break
        return self._last_present

    def _forecast_at(self, local_now: datetime) -> ArrivalForecast:
        if self._forecast is not None:
            made, forecast = self._forecast
            fresh = local_now - made < FORECAST_REFRESH and local_now.date() == made.date()
            if fresh and (forecast.start is None or local_now < forecast.start):
                return forecast
        forecast = predict(self.occupancy, local_now, self.calendar, self.use, self.programme,
                           settings=self.settings)
        self._forecast = (local_now, forecast)
        return forecast
