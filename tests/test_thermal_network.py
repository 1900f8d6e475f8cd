"""The thermal model learnt from zones that are not first order: ``gtb.sim.thermal``'s
three-node network (air, structure, emitter) of two very different buildings, an old
heavy one with radiators and a recent light one with a fast emitter driven in bursts (a
fan coil), from a cold start: two nights and two mornings, then a held-out morning."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from scipy.linalg import expm

from controllers import learning
from controllers.learning import ZoneLearner
from controllers.schedule import FrenchCalendar
from controllers.thermal import (
    BETTER_SHARE,
    ThermalFit,
    ThermalModel,
    ThermalObservation,
    fit_thermal,
    warmup_episodes,
)
from gtb.model import ComfortLevels
from gtb.model.calendar import Programme
from gtb.model.learning import DEFAULT_LEARNING, LearningTuning
from gtb.sim.thermal import ZoneThermal

STEP = timedelta(minutes=5)
MONDAY = datetime(2025, 1, 6, tzinfo=UTC)
COMFORT, REDUCED = 19.0, 16.0
READY = COMFORT - 0.5


@dataclass(frozen=True)
class Building:
    zone: ZoneThermal
    use: str
    fan_coil: bool
    """A fan coil: a fast emitter switched on and off around the setpoint (bursts); else
    radiators behind a proportional valve."""
    gains_w_m2: float = 10.0


HEAVY = Building(ZoneThermal.build(200.0, "office", "pre_1975", "heavy", False), "mairie",
                 fan_coil=False)
_LIGHT = ZoneThermal.build(150.0, "office", "from_2000", "light", False)
LIGHT = Building(replace(_LIGHT, c_emitter=120.0 * _LIGHT.h_emitter), "creche",
                 fan_coil=True, gains_w_m2=15.0)


@dataclass(frozen=True)
class Day:
    morning: datetime
    """When comfort was switched on."""
    indoor: float
    outdoor: float
    minutes: float
    """Until the air reached READY."""


@dataclass(frozen=True)
class History:
    observations: list[ThermalObservation]
    mornings: list[Day]
    setpoints: list[float]


def office_hours(t: datetime) -> bool:
    return 8 <= t.hour < 18


def simulate(building: Building, days: float, *, noise: float = 0.05, seed: int = 0,
             disturbance_w_m2: float = 0.0, reduced: float = REDUCED,
             occupied_at: Callable[[datetime], bool] = office_hours) -> History:
    """Comfort 07:00-18:00, ``reduced`` otherwise, occupied (with internal gains) by
    ``occupied_at``, outdoor air swinging around 3 °C; air measured with ``noise`` K, and
    a random heat ``disturbance`` (doors, wind, sun) changing every hour. Observations
    start at Monday noon (after a day settling from a uniform 17 °C)."""
    rng = np.random.default_rng(seed)
    z = building.zone
    a, b = z.matrices()
    dt = STEP.total_seconds()
    augmented = np.zeros((7, 7))
    augmented[:3, :3], augmented[:3, 3:] = a * dt, b * dt
    exact = expm(augmented)
    ad, bd = exact[:3, :3], exact[:3, 3:]
    x = np.full(3, 17.0)
    start = MONDAY - timedelta(days=1)
    observations, mornings, setpoints = [], [], []
    heating, disturbance = 0.0, 0.0
    morning: tuple[datetime, float, float] | None = None
    for n in range(int((days + 1.5) * 86400 / dt)):
        t = start + n * STEP
        hour = t.hour + t.minute / 60
        outdoor = 3.0 + 4.0 * math.sin(2 * math.pi * (hour - 9) / 24) + rng.normal(0, 0.2)
        setpoint = COMFORT if 7 <= hour < 18 else reduced
        occupied = occupied_at(t)
        if t.minute == 0:
            disturbance = rng.normal(0, disturbance_w_m2) * z.area_m2
        if building.fan_coil:  # on/off with 0.4 K of hysteresis: bursts once warm
            heating = 1.0 if x[0] < setpoint - 0.2 else (0.0 if x[0] > setpoint + 0.2
                                                         else heating)
        else:  # proportional valve, 1 K band
            heating = float(np.clip((setpoint + 0.2 - x[0]) / 1.0, 0.0, 1.0))
        if setpoint == COMFORT and morning is None and t >= MONDAY and hour < 8:
            morning = (t, float(x[0]), outdoor)
        if morning is not None and x[0] >= READY:
            mornings.append(Day(*morning, (t - morning[0]).total_seconds() / 60.0))
            morning = None
        gains = building.gains_w_m2 * z.area_m2 if occupied else 0.0
        u = np.array([outdoor, 0.7 * gains + disturbance, 0.3 * gains,
                      heating * z.emitter_w])
        x = ad @ x + bd @ u
        if t + STEP >= MONDAY + timedelta(hours=12):
            observations.append(ThermalObservation(
                t + STEP, float(x[0]) + rng.normal(0, noise), outdoor, heating, occupied))
            setpoints.append(setpoint)
    return History(observations, mornings, setpoints)


def until(history: History, end: datetime) -> list[ThermalObservation]:
    return [o for o in history.observations if o.time <= end]


def followed(model: ThermalModel, history: History, start: datetime,
             end: datetime) -> ThermalModel:
    """The model with its structure estimate kept up to date from ``start`` to ``end``, as
    a zone's learner does at each observation."""
    for o in history.observations:
        if start < o.time <= end:
            model = model.observed(o.time, o.indoor)
    return model


# Two nights and two mornings: Monday noon to Wednesday noon.
LEARNT = MONDAY + timedelta(days=2, hours=12)


@pytest.mark.parametrize("building", [HEAVY, LIGHT], ids=["heavy-radiators", "light-fan-coil"])
def test_two_nights_and_two_mornings_give_a_model_that_predicts_the_next_morning(
        building: Building) -> None:
    history = simulate(building, days=4)
    fit = fit_thermal(until(history, LEARNT), now=LEARNT, use=building.use)
    model = fit.model
    assert model is not None, fit.refused
    thursday = next(d for d in history.mornings if d.morning.weekday() == 3)
    model = followed(model, history, LEARNT, thursday.morning)
    predicted = model.warmup_minutes(thursday.indoor, READY, thursday.outdoor)
    sigma = model.margin_minutes(1.0)
    print(building.use, model, thursday, f"predicted {predicted:.0f} ± {sigma:.0f} min")
    assert abs(predicted - thursday.minutes) <= 2.0 * sigma, (predicted, thursday, sigma)
    # The stated uncertainty is a real one: neither zero nor as wide as the warm-up.
    assert 0.0 < sigma < thursday.minutes


def test_a_noisier_zone_gets_a_wider_margin() -> None:
    """The same building, its sensor noisier and its air stirred by doors and wind: its
    mornings are less alike and the model says so."""
    quiet = simulate(HEAVY, days=10)
    noisy = simulate(HEAVY, days=10, noise=0.3, disturbance_w_m2=8.0, seed=1)
    end = MONDAY + timedelta(days=10)
    calm = fit_thermal(until(quiet, end), now=end, use="mairie").model
    stirred = fit_thermal(until(noisy, end), now=end, use="mairie").model
    assert calm is not None and stirred is not None
    print(calm.margin_minutes(), stirred.margin_minutes())
    assert stirred.margin_minutes() > 1.5 * calm.margin_minutes()


def test_internal_gains_are_learnt_and_slow_the_occupied_cool_down() -> None:
    """A hall used on some afternoons and evenings, heated or not: its gains are seen apart
    from the heating, and coasting while it is occupied lasts longer."""
    rng = np.random.default_rng(5)
    busy = {day: (int(rng.integers(12, 20)), bool(rng.random() < 0.6)) for day in range(12)}

    def events(t: datetime) -> bool:
        start, used = busy[(t - MONDAY).days + 1]
        return used and start <= t.hour < start + 4

    hall = replace(HEAVY, gains_w_m2=30.0)
    history = simulate(hall, days=10, occupied_at=events)
    end = MONDAY + timedelta(days=10)
    model = fit_thermal(until(history, end), now=end, use="salle_des_fetes").model
    assert model is not None
    # 30 W/m² over this zone's losses hold it several kelvin above its reference.
    assert model.gains / model.k > 3.0, model
    empty = model.cooldown_minutes(19.0, 16.0, 2.0)
    occupied = model.cooldown_minutes(19.0, 16.0, 2.0, occupied=True)
    assert occupied > 1.2 * empty, (occupied, empty)


def test_a_zone_without_a_heating_signal_learns_from_its_setpoint() -> None:
    """No valve, no emitter power, no fan speed: the learner is given the setpoint it holds
    and infers when it heated; two nights and two mornings give it a model."""
    history = simulate(HEAVY, days=3)
    learner = ZoneLearner(Programme.model_validate({}), "mairie",
                          FrenchCalendar("B"), ComfortLevels(), UTC)
    for o, setpoint in zip(history.observations, history.setpoints, strict=True):
        learner.observe(o.time, indoor=o.indoor, outdoor=o.outdoor, heating=None,
                        present=o.occupied, setpoint=setpoint)
    learner.refit(LEARNT)
    assert learner.thermal is not None, learner.thermal_refused
    assert learner.thermal_refused is None
    thursday = next(d for d in simulate(HEAVY, days=4).mornings
                    if d.morning.weekday() == 3)
    predicted = learner.thermal.warmup_minutes(thursday.indoor, READY, thursday.outdoor)
    assert abs(predicted - thursday.minutes) <= 2.0 * learner.thermal.margin_minutes(1.0) + 5
    # Without a setpoint either, nothing is known of its heating: no thermal history.
    blind = ZoneLearner(Programme.model_validate({}), "mairie", FrenchCalendar("B"),
                        ComfortLevels(), UTC)
    for o in history.observations:
        blind.observe(o.time, indoor=o.indoor, outdoor=o.outdoor, heating=None,
                      present=o.occupied)
    blind.refit(LEARNT)
    assert blind.thermal is None
    assert blind.thermal_refused is not None
    assert blind.thermal_refused.code == "thermal.no_cooldown"
    assert blind.thermal_refused.fr.startswith("pas de modèle thermique")


NURSERY = Building(ZoneThermal.build(100.0, "nursery", "from_2012", "heavy", False,
                                      emitter="fan_coil"), "creche", fan_coil=True,
                   gains_w_m2=15.0)
"""A crèche's section of today's envelope with fan coils: a morning's warm-up takes half
an hour, then the air creeps along its thermostat's band."""


def test_a_fast_zone_without_a_heating_signal_read_each_quarter_hour_learns_in_days(
) -> None:
    """No signal and readings every quarter of an hour: the air enters its thermostat's
    band within a reading or two of the switch to comfort. Those steps were at full heat
    (the air in their middle is well below the setpoint), and the warm-up goes on into
    the band while the air rises: two mornings give a model, whose warm-ups are those of
    the history to within minutes, not hours."""
    history = simulate(NURSERY, days=3)
    learner = ZoneLearner(Programme.model_validate({}), NURSERY.use, FrenchCalendar("B"),
                          ComfortLevels(), UTC)
    quarter = 3  # STEP is 5 minutes
    for o, setpoint in list(zip(history.observations, history.setpoints,
                                strict=True))[quarter - 1::quarter]:
        if o.time <= LEARNT:
            learner.observe(o.time, indoor=o.indoor, outdoor=o.outdoor, heating=None,
                            present=o.occupied, setpoint=setpoint)
    learner.refit(LEARNT)
    model = learner.thermal
    assert model is not None, learner.thermal_refused
    # The mornings as the fan coil's own signal tells them (the learner did not have it).
    mornings = warmup_episodes(until(history, LEARNT)[quarter - 1::quarter], now=LEARNT)
    assert len(mornings) == 2
    assert all(m.minutes <= 60 for m in mornings), mornings
    assert model.margin_minutes(1.0) < 15.0, model
    for m in mornings:
        assert abs(model.warmup_minutes(m.indoor_start, READY, m.outdoor)
                   - m.reached(READY)) < 15.0, (m, model)


def test_a_fast_zone_without_a_heating_signal_learns_from_two_mornings_of_one_step(
) -> None:
    """The same fan coil set back by 2 K only at night (held inside its thermostat's band,
    where its share is unknown): each morning's warm-up is a single quarter of an hour
    known at full heat, then a rise inside the band. The two mornings' rises say what the
    emitter does; they give the model, without waiting for an hour of steps known at full
    heat (four such mornings)."""
    history = simulate(NURSERY, days=3, reduced=COMFORT - 2.0)
    learner = ZoneLearner(Programme.model_validate({}), NURSERY.use, FrenchCalendar("B"),
                          ComfortLevels(), UTC)
    for o, setpoint in list(zip(history.observations, history.setpoints,
                                strict=True))[2::3]:  # each quarter of an hour
        if o.time <= LEARNT:
            learner.observe(o.time, indoor=o.indoor, outdoor=o.outdoor, heating=None,
                            present=o.occupied, setpoint=setpoint)
    full = sum(1 for o in learner._observations if o.heating == 1.0)
    assert full == 2, full  # half an hour known at full heat
    learner.refit(LEARNT)
    model = learner.thermal
    assert model is not None, learner.thermal_refused
    assert model.warmups == 2
    for m in warmup_episodes(learner._observations, now=LEARNT):
        assert abs(model.warmup_minutes(m.indoor_start, m.indoor_end, m.outdoor)
                   - m.minutes) < 15.0, (m, model)


def test_a_model_too_uncertain_is_refused_and_a_previous_one_kept() -> None:
    history = simulate(HEAVY, days=10)
    strict = DEFAULT_LEARNING.overridden_by(LearningTuning(max_warmup_sigma_minutes=5))
    fit = fit_thermal(until(history, LEARNT), now=LEARNT, use="mairie", settings=strict)
    assert fit.model is None and fit.refused is not None
    assert fit.refused.code == "thermal.uncertain"
    assert "relance incertaine" in fit.refused.fr
    # A zone that had a model keeps it through a refused refit (a week of holidays, the
    # heating off: no warm-up among the three days a refit sees here), and says why.
    learner = ZoneLearner(Programme.model_validate({}), "mairie", FrenchCalendar("B"),
                          ComfortLevels(), UTC,
                          settings=DEFAULT_LEARNING.overridden_by(
                              LearningTuning(thermal_window_days=3)))
    end = MONDAY + timedelta(days=10)
    for o in until(history, end):
        learner.observe(o.time, indoor=o.indoor, outdoor=o.outdoor, heating=o.heating,
                        present=o.occupied)
    learner.refit(end)
    model = learner.thermal
    assert model is not None and learner.thermal_refused is None
    for n in range(1, 3 * 288 + 1):
        learner.observe(end + n * STEP, indoor=12.0, outdoor=3.0, heating=0.0,
                        present=False)
    learner.refit(MONDAY + timedelta(days=13))
    assert learner.thermal_refused is not None
    assert learner.thermal_refused.code == "thermal.no_warmup"
    assert learner.thermal is not None and learner.thermal.k == model.k


def test_two_states_asked_for_from_one_morning_are_chosen_again() -> None:
    """One night and one morning cannot tell two states from one: a form asked for is
    not tried then, the selection is made, and keeps the first order."""
    history = simulate(LIGHT, days=2)
    morning = MONDAY + timedelta(days=1, hours=11)
    fit = fit_thermal(until(history, morning), now=morning, use="creche", form=12.0)
    assert fit.model is not None and fit.selected, fit.refused
    assert fit.model == fit_thermal(until(history, morning), now=morning, use="creche").model


def test_a_refused_form_gives_the_selections_verdict_and_reason() -> None:
    history = until(simulate(HEAVY, days=10), LEARNT)
    strict = DEFAULT_LEARNING.overridden_by(LearningTuning(max_warmup_sigma_minutes=5))
    refused = fit_thermal(history, now=LEARNT, use="mairie", settings=strict, form=0.0)
    assert refused.model is None and refused.selected
    assert refused.refused == fit_thermal(history, now=LEARNT, use="mairie",
                                          settings=strict).refused
    assert refused.refused is not None and refused.refused.code == "thermal.uncertain"


def test_the_form_is_chosen_weekly_and_refitted_alone_each_night_between(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-identified each night, from the last model's parameters; the form (first order
    or which structure time constant) chosen among all only every
    ``FORM_RESELECTION_DAYS``, when the history has doubled since, or when the kept form
    predicts the held-out mornings a tenth worse than when it was chosen."""
    fits: list[tuple[float | None, ThermalFit]] = []

    def recorded(*args: Any, **kwargs: Any) -> ThermalFit:
        fit = fit_thermal(*args, **kwargs)  # the real fit, only watched
        fits.append((kwargs["form"], fit))
        return fit

    monkeypatch.setattr(learning, "fit_thermal", recorded)
    history = simulate(HEAVY, days=21)
    learner = ZoneLearner(Programme.model_validate({}), "mairie", FrenchCalendar("B"),
                          ComfortLevels(), UTC, settings=DEFAULT_LEARNING.overridden_by(
                              LearningTuning(thermal_window_days=4)))
    observations = iter(history.observations)
    chosen: list[int] = []
    worse: list[int] = []
    error = math.nan  # the held-out error of the form when it was chosen
    for night in range(2, 22):  # the first, after half a day, sees no night yet
        now = MONDAY + timedelta(days=night)
        for o in observations:
            learner.observe(o.time, indoor=o.indoor, outdoor=o.outdoor, heating=o.heating,
                            present=o.occupied)
            if o.time >= now:
                break
        before, calls = learner.thermal, len(fits)
        learner.refit(now)
        tonight = fits[calls:]
        form, fit = tonight[0]
        assert fit.model is not None, (night, fit.refused)
        if form is not None:  # the form of last night's model, refitted alone
            assert before is not None and form == before.structure_hours
            assert not fit.selected and fit.model.structure_hours == form
            grew = fit.model.warmup_error_minutes > error / BETTER_SHARE
            assert len(tonight) == 1 + grew, (night, tonight)  # kept, or chosen again
            if grew:
                worse.append(night)
        form, fit = tonight[-1]
        assert fit.model is not None and learner.thermal is fit.model
        assert fit.model.fitted_at == now  # every night
        if form is None:
            chosen.append(night)
            error = fit.model.warmup_error_minutes
    # Chosen at the first refit (a day and a half of history), again when the history
    # has doubled (3.5 days; the window of 4 and the 2 days before it kept as context
    # hold 6 from then on), a week after the last choice (11, 19), and when the kept form
    # had grown worse (12, 20, 21).
    assert worse == [12, 20, 21], worse
    assert chosen == [2, 4, 11, 12, 19, 20, 21], chosen
    # And a selection does choose: here the form changed at some of them.
    assert len({fit.model.structure_hours for _, fit in fits if fit.model}) > 1, fits
