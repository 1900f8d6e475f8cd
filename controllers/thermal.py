"""Learn how fast each zone warms up and cools down, from its own history.

Pure: no I/O and no clock reads; the caller passes the observations and ``now``.

The model is first order, per zone (Seem et al. found two parameters enough for warm-up),
or has two states where the data support it:

    dT/dt = k · (Tout - T) + k · D · u + k · G · occupied

``T`` indoor air (°C), ``Tout`` outdoor (°C), ``u`` the share of emitter power in use
(0..1), ``k`` the loss rate (1/h), ``D`` how far above the outdoor air full power would
hold the zone (K) and ``G`` how far its internal gains hold it while occupied (K). The
heating gain at full power is ``g = k·D`` (K/h), the internal gain ``q = k·G`` (K/h).
Over a step ``dt`` with ``Tout``, ``u`` and occupancy held it integrates exactly to

    T1 = S + (T0 - S) · exp(-k·dt),   S = Tout + D·u + G·occupied

which is what the fit matches, pair of consecutive observations by pair.

The fit is a maximum a posteriori one: a prior per kind of building (``PRIORS``: a time
constant, an emitter sizing and occupied gains from published typical values) is updated
by the history, so one night's cool-down and one morning's warm-up already give a usable
model, and a long history makes the prior irrelevant. The step residuals are weighted by
their own scale and by how correlated they are (consecutive residuals of a real zone are:
counting each as independent would make the model sure of itself after one day), and
Huber-weighted so a window opened or a sensor glitch does not drag the parameters. The
Laplace approximation at the optimum (the inverse of JᵀJ) is the parameters' covariance,
kept in the model.

A real zone is not first order: the air warms fast from the emitters while the walls lag
behind. Two answers, the data choosing between them:

- Two states: the air loses towards a reference ``R`` part of the way from the outdoor
  air to its structure, whose temperature follows the air's with a time constant of
  hours (an observer over the history, ``STRUCTURE_HOURS`` tried): ``Tout`` above becomes
  ``R``. A Monday after a weekend at frost protection is slower because its structure is
  cold. Kept only when it predicts the held-out mornings a tenth better than first order,
  and beyond their noise. Its coasts are predicted with both states moving (``_Path``:
  the structure cools with the air over a night), its warm-ups with the structure held
  at its start, as the mornings are replayed to learn the warm-up gain.
- Effective warm-up gains: warm-up predictions use the ``D`` that replays the warm-ups of
  the history (heated runs that raised the air, followed while a thermostat closes its
  valve near the setpoint), at half, three quarters and all of their rise, pooled with the
  step fit's as a prior. First order, warm-ups after more than 48 h without comfort learn
  their own once ``min_warmups`` of them were seen.

The margin comes from mornings not used for it: each observed warm-up is predicted by the
model learnt without it (leave one morning out) and the spread of those errors, combined
with the parameters' uncertainty, is what ``margin_minutes()`` turns into an early start.

A fit is refused, with a ``Reason`` saying why, when the history shows no cool-down or no
warm-up, when a parameter ends at its bound or the data did not move the loss rate away
from its prior, or when a warm-up would still be uncertain by more than
``max_warmup_sigma_minutes``.

Refitted every night, a model need not have its form chosen again each time:
``fit_thermal(..., form=model.structure_hours, start=model)`` fits last night's form
alone (a fourth of the work), from last night's parameters, and still chooses among all
when that form is refused; the zone's learner chooses weekly (``controllers.learning``).

Usage without the engine::

    fit = fit_thermal(observations, now=now, use="mairie")
    if fit.model is None:      # not enough history yet: fit.refused says why
        ...
    else:
        lead = fit.model.warmup_minutes(16.0, 19.0, outdoor=2.0) + fit.model.margin_minutes()
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, overload

import numpy as np

from gtb.model.learning import DEFAULT_LEARNING, LearningSettings
from gtb.texts import Reason

MAX_STEP = timedelta(hours=1)
"""Consecutive observations further apart than this are a gap, not a step. Fixed, not
tuning: it is about the feed of readings (every few minutes), not about the building."""
LONG_ABSENCE = timedelta(hours=48)
"""A warm-up after this long without comfort is 'after a long absence' (weekend, holidays).
Fixed: the 48 h of R241-27, after which a zone is at frost protection."""
HEATED = 0.5
"""Heating share from which a step counts as heating (part of a warm-up). A fan coil heats
in bursts and a thermostatic valve closes as the air nears its setpoint: a warm-up is not
only full power, and the replay takes the mean share of the run into account."""
UNHEATED = 0.1
"""Heating share up to which a step counts as unheated (part of a cool-down)."""
MIN_WARMUP = timedelta(minutes=20)
"""A heated run shorter than this is a thermostat's burst, not a warm-up: the air's rise
is then mostly the heat the emitter had stored. Fixed: about emitters, not buildings."""
WARMING_K_PER_HOUR = 0.5
"""Past the run at half power or more, a warm-up goes on while the air rises at least this
fast: a warm-up gains kelvins an hour, a slower creep is the sun, people or a thermostat's
overshoot. Fixed: about what a warm-up is, not about a building."""
NEAR_TOP_K = 0.2
"""K: a warm-up ends when the air is this close to the most its run reached, and begins
when it last was this close to the least."""
REPLAYED = (0.5, 0.75, 1.0)
"""Points of each warm-up's rise that the fit replays and the margin is measured on."""
STRUCTURE_HOURS = (4.0, 12.0, 36.0)
"""Time constants of the structure tried for the two-state form, h: from light partitions
to heavy masonry (EN ISO 13790 inertia classes); the one that predicts the held-out
mornings best is kept."""


@dataclass(frozen=True)
class Prior:
    """What is expected of a kind of building before any of its history is seen."""

    time_constant_hours: float
    """1/k: the air's apparent time constant, from the building's heat capacity over its
    heat loss coefficient (EN ISO 13790 inertia classes)."""
    full_power_rise_k: float
    """D: full power holds this far above the outdoor air (emitters sized per EN 12831)."""
    occupied_rise_k: float
    """G: internal gains (people, lighting, equipment) hold this far above, occupied."""


# Time constant: C_m/H with the EN ISO 13790 (table 12) internal heat capacity of the
# building's usual inertia class (light 110, medium 165, very heavy 370 kJ/(m²·K) of
# floor) over a heat loss coefficient H per m² of floor typical of the French public
# building stock of that use (uninsulated pre-1975: 2.5-3.5 W/(m²·K); recent crèches
# and offices: about 1.2) (verify: second-hand typical values, not measurements).
# Full-power rise: emitters sized for the EN 12831 design difference (19 °C inside,
# -7 to -10 °C outside in most of France, about 28 K) with the usual 20-30 % margin.
# Occupied rise: internal gains while occupied (offices ~8 W/m², classrooms and crèches
# ~15-20 W/m² with their density of people, halls and churches ~2-4 W/m² over a large
# volume; Règles Th-BCE 2012 scenarios, verify) over the same H.
PRIORS: dict[str, Prior] = {
    "mairie": Prior(18.0, 35.0, 2.0),
    "ecole": Prior(18.0, 35.0, 4.0),
    "gymnase": Prior(8.0, 35.0, 1.0),
    "mediatheque": Prior(18.0, 35.0, 2.0),
    "salle_des_fetes": Prior(10.0, 35.0, 3.0),
    "creche": Prior(38.0, 35.0, 4.0),
    "atelier": Prior(9.0, 35.0, 1.0),
    "eglise": Prior(34.0, 35.0, 0.5),
    "autre": Prior(18.0, 35.0, 2.0),
}
PRIOR_SD_LN_K = 0.8
"""Standard deviation of ln k in the prior: a factor 2.2 either way at one sigma. The air
of a zone responds faster than its whole mass (C_m/H): the prior is wide for that."""
PRIOR_SD_LN_D = 0.5
"""Standard deviation of ln D: emitters are over- or under-sized by a factor 1.6 often."""
PRIOR_SD_G = 2.0
"""Standard deviation of G, K."""
WARMUP_SD_LN_D = 0.5
"""How far a warm-up's effective D may be from the step fit's, a priori (ln)."""
COLD_SD_LN_D = 0.3
"""How far a cold-structure warm-up's D may be from a normal morning's, a priori (ln)."""
MORNING_SD_LN_D = 0.2
"""Scatter of one morning's effective D around the zone's (ln): doors opened, a sunny
or windy morning. Fixed: it weighs one morning against the prior, not the building."""
NOT_INFORMED = 0.7
"""A loss rate whose posterior spread is still this share of the prior's or more was not
learnt from the data: the fit is refused."""
BETTER_T = 1.0
"""Two states are kept only when they predict the held-out mornings better by this many
standard errors of the mornings' paired differences (about one chance in six that a
simpler model is displaced by the mornings' noise alone)..."""
BETTER_SHARE = 0.9
"""... and by a tenth of the simpler one's error at least (a better model, not a
different rounding of the same)."""
_BOUNDS_LN_K = (math.log(1.0 / 500.0), math.log(2.0))
_BOUNDS_LN_D = (math.log(2.0), math.log(300.0))
_BOUNDS_G = (0.0, 30.0)
"""Internal gains give heat: a fit that would make them negative is explained by something
else (a thermostat holding its setpoint while people are there, ventilation), so they
stop at 0, which is no degenerate fit."""
_BOUNDS_LOGIT_SHARE = (-6.0, 6.0)
PRIOR_SD_LOGIT_SHARE = 1.5
"""Standard deviation of the logit of the structure's share (centred on a half): from a
tenth to nine tenths at about 1.5 sigma."""
PATH_HORIZON_HOURS = 240.0
"""How far ahead a two-state model's air is followed to find when it reaches a
temperature: beyond ten days it is never (a warm-up or a coast is hours long). Fixed:
about the search, not about a building."""
_PARAMETERS = ("ln_k", "ln_g", "gains", "ln_g_warmup")
"""The order of ``ThermalModel.covariance``: ln k, ln g, q (K/h), ln g_warmup."""


def prior_of(use: str) -> Prior:
    """The prior of a building's use (``autre`` for one not in the table)."""
    return PRIORS.get(use, PRIORS["autre"])


def _utc(t: datetime) -> datetime:
    """Real time: aware times compared in UTC, so a daylight-saving change is no hour off."""
    if t.tzinfo is None:
        raise ValueError(f"observation time {t.isoformat()} has no time zone")
    return t.astimezone(UTC)


@dataclass(frozen=True)
class ThermalObservation:
    """One sample of a zone: aware time, indoor and outdoor air (°C), heating share 0..1
    (NaN: unknown, the step is not fitted), occupied or not.

    ``heating`` is the share of the emitters' full power in use over the interval that
    ends at ``time`` (a valve position / 100, an emitter's power, a fan speed, or what the
    setpoint implies; what a device logged at the end of each period says). With samples a
    few minutes apart the difference from "from ``time`` on" hardly matters.
    """

    time: datetime
    indoor: float
    outdoor: float
    heating: float
    occupied: bool = False

    def is_valid(self) -> bool:
        return bool(_plausible(np.array([(self.indoor, self.outdoor, self.heating)]))[0])


def _plausible(values: np.ndarray) -> np.ndarray:
    """Which rows of (indoor, outdoor, heating) are finite (heating may be unknown, NaN)
    and within bounds."""
    indoor, outdoor, heating = values.T
    known = np.isfinite(heating)
    return np.asarray(np.isfinite(values[:, :2]).all(axis=1) & (indoor > -30.0)
                      & (indoor < 60.0) & (outdoor > -60.0) & (outdoor < 60.0)
                      & ((~known & np.isnan(heating))
                         | (known & (heating >= -0.01) & (heating <= 1.01))))


@dataclass(frozen=True)
class WarmupEpisode:
    """A warm-up seen in the history: where it started, what it reached, when."""

    start: datetime
    minutes: float
    indoor_start: float
    indoor_end: float
    outdoor: float
    after_long_absence: bool | None
    """None when the history does not reach 48 h before the start, or has no reading
    near their beginning (a sensor's outage)."""
    occupied: float = 0.0
    """Share of the run the zone was occupied."""
    path: tuple[tuple[float, float], ...] = ()
    """Minutes since the start and air temperature at each sample of the run."""

    def reached(self, temperature: float) -> float:
        """Minutes until the air first reached ``temperature`` (interpolated between
        samples); the whole run if it never did."""
        before = (0.0, self.indoor_start)
        for minutes, air in self.path:
            if air >= temperature:
                rise = air - before[1]
                share = (temperature - before[1]) / rise if rise > 0 else 1.0
                return before[0] + share * (minutes - before[0])
            before = (minutes, air)
        return self.minutes


@dataclass(frozen=True)
class _Path:
    """The air and structure of a two-state model from a state, its inputs held: the
    equilibrium plus two decaying modes, the exact solution of the model's linear system

        dT/dt = k·(Tout + a·(S - Tout) - T) + heat,   dS/dt = (T - S)/τ

    (``a`` the structure's share, ``τ`` its time constant, ``heat`` in K/h: heating and
    internal gains), the structure following the air as the fit's observer has it
    (``_structure``). Over a night's coast the structure cools with the air: holding it
    at its first value predicted the air too warm at the end of a night, by up to
    kelvins after a weekend, and a deep setback's recovery too short. Times in hours."""

    steady: float
    """Where air and structure both tend to, °C."""
    rates: tuple[float, float]
    """The two modes' decay rates, 1/h (negative: a fast one, the air's, and a slow
    one, the structure's)."""
    air: tuple[float, float]
    """Each mode's amplitude on the air, K."""
    structure: tuple[float, float]
    """Each mode's amplitude on the structure, K."""

    @classmethod
    def of(cls, k: float, share: float, hours: float, indoor: float, structure: float,
           outdoor: float, heat: float) -> _Path:
        """From air ``indoor`` and structure ``structure`` (°C), ``outdoor`` and ``heat``
        (K/h) held. The rates are real and distinct: the system's discriminant is
        (k - 1/τ)² + 4·k·a/τ > 0."""
        trace, determinant = -(k + 1.0 / hours), k * (1.0 - share) / hours
        root = math.sqrt(trace * trace / 4.0 - determinant)
        fast, slow = trace / 2.0 - root, trace / 2.0 + root
        steady = outdoor + heat / (k * (1.0 - share))
        # Each mode's eigenvector is (1 + λ·τ, 1): (air, structure).
        on_slow = ((indoor - steady) - (1.0 + fast * hours) * (structure - steady)) / (
            hours * (slow - fast))
        on_fast = (structure - steady) - on_slow
        return cls(steady, (fast, slow),
                   (on_fast * (1.0 + fast * hours), on_slow * (1.0 + slow * hours)),
                   (on_fast, on_slow))

    def at(self, hours: float) -> tuple[float, float]:
        """Air and structure after ``hours``, °C."""
        fast, slow = math.exp(self.rates[0] * hours), math.exp(self.rates[1] * hours)
        return (self.steady + self.air[0] * fast + self.air[1] * slow,
                self.steady + self.structure[0] * fast + self.structure[1] * slow)

    def _air(self, hours: float) -> float:
        return self.at(hours)[0]

    def _slope(self, hours: float) -> float:
        (fast, slow), (a, b) = self.rates, self.air
        return a * fast * math.exp(fast * hours) + b * slow * math.exp(slow * hours)

    def reaching(self, temperature: float) -> float:
        """Hours until the air is first at ``temperature`` (inf: never). The air is a
        constant plus two exponentials: it turns at most once, so its path has at most
        two monotonic parts, searched in turn."""
        gap = self.air[0] + self.air[1] + self.steady - temperature
        if gap == 0.0:
            return 0.0
        (fast, slow), (a, b) = self.rates, self.air
        turns = -b * slow / (a * fast) if a * fast != 0.0 else 0.0
        turn = math.log(turns) / (fast - slow) if turns > 0.0 else 0.0
        parts = [(0.0, turn), (turn, math.inf)] if turn > 0.0 else [(0.0, math.inf)]
        for low, high in parts:
            below = self._air(low) < temperature
            end = self.steady if math.isinf(high) else self._air(high)
            if (end < temperature) == below or end == temperature:
                continue
            if math.isinf(high):  # a finite end past the crossing
                high = max(low, 1.0)
                while (self._air(high) < temperature) == below:
                    high *= 2.0
                    if high > PATH_HORIZON_HOURS:
                        return math.inf
            return self._crossing(temperature, low, high)
        return math.inf

    def _crossing(self, temperature: float, low: float, high: float) -> float:
        """Where the air crosses ``temperature`` between ``low`` and ``high``, monotonic
        there: Newton's steps, bisection when one leaves the bracket."""
        rising = self._air(high) > self._air(low)
        t = 0.5 * (low + high)
        for _ in range(60):
            error = self._air(t) - temperature
            if abs(error) < 1e-6:
                break
            if (error < 0.0) == rising:
                low = t
            else:
                high = t
            slope = self._slope(t)
            step = t - error / slope if slope != 0.0 else math.nan
            t = step if low < step < high else 0.5 * (low + high)
        return t


@dataclass(frozen=True)
class ThermalModel:
    """A zone's learnt response; all times in minutes, temperatures in °C.

    First order (``structure_hours`` 0), or two states: the air then loses towards a
    reference between the outdoor air and its structure, ``structure_share`` of the way
    to the structure, whose temperature follows the air's with a time constant of
    ``structure_hours`` (an observer over the history: ``structure`` is its latest
    estimate, which the zone's learner keeps up to date)."""

    k: float
    """Loss rate, 1/h: the fraction of the air's difference from its reference (the
    outdoor air, first order) lost per hour."""
    g: float
    """Heating gain at full power, K/h, from every step of the history (the physical fit)."""
    g_warmup: float
    """Effective gain at full power on a normal morning, K/h, from the observed warm-ups
    (pooled with ``g`` as a prior)."""
    g_after_long_absence: float
    """Effective gain at full power after a weekend or holidays (cold structure), K/h;
    ``g_warmup`` when fewer than ``min_warmups`` such warm-ups were seen, or when the model
    has two states (the cold structure is then in its state)."""
    warmup_error_minutes: float
    """Root mean square of (predicted - observed) minutes over the normal warm-ups of the
    history, each predicted by the model learnt without it (held out; bias included)."""
    samples: int
    """Steps (pairs of observations) the fit used."""
    fitted_at: datetime
    warmups: int = 0
    """Warm-ups of the history (the held-out error was measured on these)."""
    gains: float = 0.0
    """Internal gains while occupied, K/h (people, lighting, equipment)."""
    warmup_sigma_minutes: float = 0.0
    """Standard deviation of a typical warm-up of the history (its median one) from the
    parameters' uncertainty alone, minutes."""
    covariance: tuple[tuple[float, ...], ...] = ()
    """Posterior covariance of (ln k, ln g, gains, ln g_warmup) (Laplace approximation);
    empty when unknown (a model stored before it was kept)."""
    structure_hours: float = 0.0
    """Time constant of the structure's temperature, h; 0: first order."""
    structure_share: float = 0.0
    """Share (0..1) of the air's losses that go to the structure rather than outdoors."""
    structure: float | None = None
    """The structure's estimated temperature, °C (None: first order, or not known)."""
    structure_at: datetime | None = None
    """When ``structure`` was estimated."""
    warmup_error_after_long_absence_minutes: float | None = None
    """The same over the warm-ups after a long absence (hours long, from frost
    protection: their errors are of another size); None when none was seen."""
    coldest_warmup_start: float | None = None
    """The coldest air a warm-up of the history started from, °C: below it the model
    extrapolates (a structure colder than it has seen warms more slowly than its gain
    says); None when not known (a model stored before it was kept)."""

    def _gain(self, after_long_absence: bool) -> float:
        return self.g_after_long_absence if after_long_absence else self.g_warmup

    def _reference(self, indoor: float, outdoor: float, structure: float | None) -> float:
        """What the air tends to without heat nor gains, the structure held: the outdoor
        air, or part of the way to the structure (known, else taken at the air's)."""
        if not self.structure_share:
            return outdoor
        known = structure if structure is not None else self.structure
        return outdoor + self.structure_share * ((indoor if known is None else known)
                                                 - outdoor)

    def _two_states(self) -> bool:
        return bool(self.structure_hours and self.structure_share)

    def _path(self, indoor: float, outdoor: float, heat: float,
              structure: float | None) -> _Path:
        """The two-state path from ``indoor`` and the structure (known, else the model's
        estimate, else the air's), ``heat`` K/h held."""
        known = structure if structure is not None else self.structure
        return _Path.of(self.k, self.structure_share, self.structure_hours, indoor,
                        indoor if known is None else known, outdoor, heat)

    def warmup_minutes(self, indoor: float, target: float, outdoor: float,
                       after_long_absence: bool = False, power: float = 1.0,
                       structure: float | None = None) -> float:
        """Minutes at ``power`` share of full heat from ``indoor`` to ``target``; 0 if
        already there, inf if the zone cannot get there (target at or above the
        equilibrium at that power). ``structure``: the structure's temperature, when not
        the model's own estimate (``structure``). Two states: the structure held at its
        value at the start, as the warm-ups of the history were replayed to learn the
        effective gain (``_Mornings``): that gain is fitted to this prediction, and a
        structure's fitted time constant of hours, chosen on normal mornings, would warm
        far faster than a building's deeper mass after days without heat."""
        if indoor >= target:
            return 0.0
        steady = self._reference(indoor, outdoor, structure) + (
            power * self._gain(after_long_absence) / self.k)
        if target >= steady:
            return math.inf
        return 60.0 * math.log((steady - indoor) / (steady - target)) / self.k

    def warmup_sigma(self, indoor: float, target: float, outdoor: float,
                     after_long_absence: bool = False, power: float = 1.0,
                     structure: float | None = None) -> float:
        """Standard deviation of ``warmup_minutes`` from the parameters' uncertainty (first
        order in ln k and ln g_warmup); 0 without a covariance, inf when unreachable."""
        minutes = self.warmup_minutes(indoor, target, outdoor, after_long_absence, power,
                                      structure)
        if not self.covariance or minutes == 0.0 or not math.isfinite(minutes):
            return 0.0 if math.isfinite(minutes) else math.inf
        rise = power * self._gain(after_long_absence) / self.k
        steady = self._reference(indoor, outdoor, structure) + rise
        # t = 60/k ln((S - T0)/(S - T1)), S = R + power·g/k: derivatives in ln k, ln g.
        d_ln_g = 60.0 / self.k * rise * (1.0 / (steady - indoor) - 1.0 / (steady - target))
        d_ln_k = -minutes - d_ln_g
        if not (math.isfinite(d_ln_k) and math.isfinite(d_ln_g)):
            return math.inf
        cov = np.array(self.covariance)
        gradient = np.array([d_ln_k, 0.0, 0.0, d_ln_g])
        return float(math.sqrt(max(gradient @ cov @ gradient, 0.0)))

    def cooldown_minutes(self, indoor: float, floor: float, outdoor: float,
                         occupied: bool = False, structure: float | None = None) -> float:
        """Minutes with no heat from ``indoor`` down to ``floor``: how early heating can stop
        (optimal stop), with the internal gains when ``occupied``; 0 if already there, inf
        if the zone holds above ``floor`` without heat. Two states: the structure cools
        with the air (``_Path``)."""
        if indoor <= floor:
            return 0.0
        gains = self.gains if occupied else 0.0
        if self._two_states():
            return 60.0 * self._path(indoor, outdoor, gains, structure).reaching(floor)
        steady = outdoor + gains / self.k
        if floor <= steady:
            return math.inf
        return 60.0 * math.log((indoor - steady) / (floor - steady)) / self.k

    def coasted(self, indoor: float, floor: float, outdoor: float, minutes: float,
                structure: float | None = None) -> tuple[float, float | None]:
        """The air after ``minutes`` without heat nor gains from ``indoor``, a thermostat
        holding it at ``floor`` once there (an air already below stays where it is), and
        the structure then (None: first order). Two states: the structure cools with the
        air, and goes on cooling toward the floor while the air is held there."""
        hours = max(minutes, 0.0) / 60.0
        if not self._two_states():
            if indoor <= floor:
                return indoor, None
            return max(floor, outdoor + (indoor - outdoor) * math.exp(-self.k * hours)), None
        path = self._path(indoor, outdoor, 0.0, structure)
        reached = path.reaching(floor) if indoor > floor else 0.0
        if reached >= hours:
            air, mass = path.at(hours)
            return air, mass
        held = path.at(reached)[1]
        if indoor <= floor:
            floor = indoor
        return floor, floor + (held - floor) * math.exp(-(hours - reached)
                                                        / self.structure_hours)

    def margin_minutes(self, sigmas: float = DEFAULT_LEARNING.margin_sigmas, *,
                       after_long_absence: bool = False) -> float:
        """Safety margin to add to a predicted warm-up: ``sigmas`` standard deviations of
        the error on held-out mornings (those after a long absence when
        ``after_long_absence`` and some were seen) combined with the parameters'
        uncertainty, 1.2816 (the default) for 90 % one-sided."""
        error = self.warmup_error_minutes
        if after_long_absence and self.warmup_error_after_long_absence_minutes is not None:
            error = self.warmup_error_after_long_absence_minutes
        return sigmas * math.hypot(error, self.warmup_sigma_minutes)

    def observed(self, time: datetime, indoor: float) -> ThermalModel:
        """The model with its structure estimate moved on to ``time``, the air having been
        at ``indoor`` since the last estimate (itself when first order)."""
        if not self.structure_hours:
            return self
        before = indoor if self.structure is None else self.structure
        hours = 0.0 if self.structure_at is None else (
            _utc(time) - self.structure_at).total_seconds() / 3600.0
        follow = 1.0 - math.exp(-max(hours, 0.0) / self.structure_hours)
        return replace(self, structure=before + (indoor - before) * follow,
                       structure_at=_utc(time))

    def to_dict(self) -> dict[str, Any]:
        """Plain floats, ints, lists and an ISO string, for the store."""
        return {"k": self.k, "g": self.g, "g_warmup": self.g_warmup,
                "g_after_long_absence": self.g_after_long_absence,
                "warmup_error_minutes": self.warmup_error_minutes, "samples": self.samples,
                "fitted_at": self.fitted_at.isoformat(), "warmups": self.warmups,
                "gains": self.gains, "warmup_sigma_minutes": self.warmup_sigma_minutes,
                "covariance": [list(row) for row in self.covariance],
                "structure_hours": self.structure_hours,
                "structure_share": self.structure_share, "structure": self.structure,
                "structure_at": None if self.structure_at is None else (
                    self.structure_at.isoformat()),
                "warmup_error_after_long_absence_minutes":
                    self.warmup_error_after_long_absence_minutes,
                "coldest_warmup_start": self.coldest_warmup_start}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThermalModel:
        """Read back ``to_dict``; a model stored before the gains, the covariance and the
        structure were kept loads as a first-order one without them (no gains, no
        parameter uncertainty). Missing or wrong fields raise ValueError naming them."""
        try:
            fitted_at = datetime.fromisoformat(str(data["fitted_at"]))
            covariance = tuple(tuple(float(x) for x in row)
                               for row in data.get("covariance", ()))
            if covariance and (len(covariance) != len(_PARAMETERS)
                               or any(len(row) != len(_PARAMETERS) for row in covariance)):
                raise ValueError(f"covariance is not {len(_PARAMETERS)}×{len(_PARAMETERS)}")
            structure, structure_at = data.get("structure"), data.get("structure_at")
            cold_error = data.get("warmup_error_after_long_absence_minutes")
            coldest = data.get("coldest_warmup_start")
            return cls(k=float(data["k"]), g=float(data["g"]),
                       g_warmup=float(data["g_warmup"]),
                       g_after_long_absence=float(data["g_after_long_absence"]),
                       warmup_error_minutes=float(data["warmup_error_minutes"]),
                       samples=int(data["samples"]), fitted_at=_utc(fitted_at),
                       warmups=int(data.get("warmups", 0)),
                       gains=float(data.get("gains", 0.0)),
                       warmup_sigma_minutes=float(data.get("warmup_sigma_minutes", 0.0)),
                       covariance=covariance,
                       structure_hours=float(data.get("structure_hours", 0.0)),
                       structure_share=float(data.get("structure_share", 0.0)),
                       structure=None if structure is None else float(structure),
                       structure_at=None if structure_at is None else _utc(
                           datetime.fromisoformat(str(structure_at))),
                       warmup_error_after_long_absence_minutes=None if cold_error is None
                       else float(cold_error),
                       coldest_warmup_start=None if coldest is None else float(coldest))
        except KeyError as missing:
            raise ValueError(f"stored thermal model has no {missing}") from None
        except TypeError as wrong:
            raise ValueError(f"stored thermal model is malformed: {wrong}") from None


@dataclass(frozen=True)
class ThermalFit:
    """What a refit gives: a model, or None and why it was refused."""

    model: ThermalModel | None
    refused: Reason | None
    selected: bool = True
    """False when the form asked for (``fit_thermal``'s ``form``) was refitted alone and
    accepted; True when the form was chosen among all, or when the fit is refused."""


@dataclass(frozen=True)
class _History:
    """The valid observations up to ``now`` in time order, as columns (a refit goes
    through weeks of them every night: in arrays rather than objects), and where each
    is in the sequence they came in."""

    source: Sequence[ThermalObservation]
    rows: list[int]
    """Where each valid observation is in ``source``."""
    epochs: np.ndarray
    """Seconds since the epoch."""
    indoor: np.ndarray
    outdoor: np.ndarray
    heating: np.ndarray
    """Share 0..1 as observed, NaN when unknown."""
    occupied: np.ndarray
    """1.0 occupied, 0.0 not."""

    def time(self, n: int) -> datetime:
        """The time of the ``n``-th valid observation, as observed."""
        return self.source[self.rows[n]].time


def _clean(observations: Sequence[ThermalObservation], now: datetime) -> _History:
    """Valid observations up to ``now``, in time order (a NaN is dropped, not fitted)."""
    columns = observations.columns() if isinstance(observations, ThermalHistory) else (
        _columns(observations))
    kept = np.flatnonzero(_plausible(columns[:, :3]) & (columns[:, 4] <= _epoch(now)))
    kept = kept[np.argsort(columns[kept, 4], kind="stable")]
    indoor, outdoor, heating, occupied, epochs = columns[kept].T
    return _History(observations, kept.tolist(), epochs, indoor, outdoor, heating, occupied)


def _columns(observations: Sequence[ThermalObservation]) -> np.ndarray:
    """(indoor, outdoor, heating, occupied, epoch) of each observation, a row each."""
    return np.array([(o.indoor, o.outdoor, o.heating, o.occupied, _epoch(o.time))
                     for o in observations], dtype=np.float64).reshape(-1, 5)


class ThermalHistory(Sequence[ThermalObservation]):
    """A zone's observations in the order they came, and the same as columns, each
    converted once: a nightly refit reads weeks of them, and a zone's learner adds a day
    of them and drops the oldest each night (``append``, ``drop_before``). Any sequence of
    observations fits as well; this one spares going through each of them every night."""

    def __init__(self, observations: Iterable[ThermalObservation] = ()) -> None:
        self._observations = list(observations)
        self._columns = _columns(self._observations)

    def __len__(self) -> int:
        return len(self._observations)

    @overload
    def __getitem__(self, index: int) -> ThermalObservation: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[ThermalObservation]: ...

    def __getitem__(self, index: int | slice) -> Any:
        return self._observations[index]

    def __iter__(self) -> Iterator[ThermalObservation]:
        return iter(self._observations)

    def append(self, observation: ThermalObservation) -> None:
        self._observations.append(observation)

    def drop_before(self, time: datetime) -> None:
        """Forget the observations from before ``time``."""
        kept = np.flatnonzero(self.columns()[:, 4] >= _epoch(time))
        self._observations = [self._observations[n] for n in kept.tolist()]
        self._columns = self._columns[kept]

    def columns(self) -> np.ndarray:
        """(indoor, outdoor, heating, occupied, epoch) of each observation, a row each."""
        if len(self._columns) < len(self._observations):
            self._columns = np.concatenate(
                [self._columns, _columns(self._observations[len(self._columns):])])
        return self._columns


def _epoch(t: datetime) -> float:
    """Seconds since the epoch of an aware time (cheaper than ``_utc`` for sorting)."""
    if t.tzinfo is None:
        raise ValueError(f"observation time {t.isoformat()} has no time zone")
    return t.timestamp()


@dataclass(frozen=True)
class _Steps:
    """Consecutive steps without a gap and with a known heating share."""

    start: np.ndarray
    """Index of each step's first observation."""
    t0: np.ndarray
    t1: np.ndarray
    outdoor: np.ndarray
    heating: np.ndarray
    occupied: np.ndarray
    hours: np.ndarray
    follows: np.ndarray
    """Whether each step starts where the previous one ended (for the residuals'
    correlation)."""


def _steps(history: _History, first: int = 0) -> _Steps:
    """The steps from the ``first`` observation on."""
    indoor, outdoor = history.indoor, history.outdoor
    heating = np.clip(history.heating, 0.0, 1.0)
    dt = np.diff(history.epochs) / 3600.0
    ok = (dt > 0) & (dt <= MAX_STEP.total_seconds() / 3600.0) & np.isfinite(heating[1:])
    ok &= np.arange(len(dt)) >= first
    index = np.flatnonzero(ok)
    follows = np.concatenate([[False], np.diff(index) == 1])
    return _Steps(index, indoor[:-1][ok], indoor[1:][ok],
                  0.5 * (outdoor[:-1] + outdoor[1:])[ok], heating[1:][ok],
                  history.occupied[1:][ok], dt[ok], follows)


def _structure(epochs: np.ndarray, indoor: np.ndarray, hours: float) -> np.ndarray:
    """The structure's temperature at each observation: the air's, followed with a time
    constant of ``hours`` (an observer started at the first air temperature)."""
    follow = (1.0 - np.exp(-np.diff(epochs) / 3600.0 / hours)).tolist()
    air = indoor.tolist()
    estimate = air[:1]
    for before, share in zip(air[:-1], follow, strict=True):  # Python floats: fast
        estimate.append(estimate[-1] + (before - estimate[-1]) * share)
    return np.array(estimate)


def _share(p: np.ndarray) -> float:
    """The structure's share of parameters (ln k, ln D, G, logit share)."""
    return 1.0 / (1.0 + math.exp(-p[3]))


def _reference(p: np.ndarray, outdoor: np.ndarray | float,
               structure: np.ndarray | float | None) -> Any:
    """What the air tends to without heat: the outdoor air, or (two states, p[3] the
    logit of the structure's share) part of the way to the structure."""
    if structure is None:
        return outdoor
    return outdoor + _share(p) * (structure - outdoor)


def _predict(p: np.ndarray, s: _Steps, structure: np.ndarray | None) -> np.ndarray:
    """Each step's end temperature under parameters (ln k, ln D, G[, logit share])."""
    return _predict_and_gradient(p, s, structure)[0]


def _predict_and_gradient(p: np.ndarray, s: _Steps, structure: np.ndarray | None
                          ) -> tuple[np.ndarray, np.ndarray]:
    """``_predict`` and its derivatives in each parameter (one column each)."""
    k, rise = math.exp(p[0]), math.exp(p[1])
    steady = _reference(p, s.outdoor, structure) + rise * s.heating + p[2] * s.occupied
    decay = np.exp(-k * s.hours)
    rest = 1.0 - decay
    columns = [(s.t0 - steady) * decay * (-k * s.hours), rise * s.heating * rest,
               s.occupied * rest]
    if structure is not None:
        share = _share(p)
        columns.append((structure - s.outdoor) * share * (1.0 - share) * rest)
    return np.asarray(steady + (s.t0 - steady) * decay), np.column_stack(columns)


def _map_fit(s: _Steps, prior: Prior, structure: np.ndarray | None,
             start: ThermalModel | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ln k, ln D, G[, logit of the structure's share]) at the maximum a posteriori and
    their covariance; ``structure`` the structure's temperature at each step's start
    (None: first order). The search starts from ``start``'s parameters (last night's
    model: the optimum moves little from one night to the next), else the prior's.

    A first pass (Huber) gives the step residuals' robust scale, their lag-one correlation
    (which shrinks the number of independent steps: 1000 correlated residuals do not
    weigh as 1000 facts against the prior) and the outliers' down-weighting; the second,
    with those weights and the prior, gives the optimum and the Laplace covariance.
    """
    mean = [-math.log(prior.time_constant_hours), math.log(prior.full_power_rise_k),
            prior.occupied_rise_k]
    spread = [PRIOR_SD_LN_K, PRIOR_SD_LN_D, PRIOR_SD_G]
    lower = [_BOUNDS_LN_K[0], _BOUNDS_LN_D[0], _BOUNDS_G[0]]
    upper = [_BOUNDS_LN_K[1], _BOUNDS_LN_D[1], _BOUNDS_G[1]]
    if structure is not None:
        mean, spread = [*mean, 0.0], [*spread, PRIOR_SD_LOGIT_SHARE]
        lower, upper = [*lower, _BOUNDS_LOGIT_SHARE[0]], [*upper, _BOUNDS_LOGIT_SHARE[1]]
    centre, width = np.array(mean), np.array(spread)

    def residuals(weights: np.ndarray) -> Callable[[np.ndarray], tuple[np.ndarray,
                                                                      np.ndarray]]:
        def evaluate(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            predicted, gradient = _predict_and_gradient(p, s, structure)
            return (np.concatenate([(predicted - s.t1) * weights, (p - centre) / width]),
                    np.vstack([gradient * weights[:, None], np.diag(1.0 / width)]))
        return evaluate

    x0 = _parameters_of(start, len(centre)) if (
        start is not None and start.k > 0 and start.g > 0) else centre  # a stored one may not be
    bounds = (np.array(lower), np.array(upper))
    first, _ = _least_squares(residuals(np.full(len(s.t0), 1.0 / 0.05)), x0, bounds,
                              width, huber=1.5)
    error = _predict(first, s, structure) - s.t1
    scale = max(1.4826 * float(np.median(np.abs(error - np.median(error)))), 0.01)
    pairs = s.follows[1:]
    rho = 0.0
    if pairs.sum() > 2:
        a, b = error[:-1][pairs], error[1:][pairs]
        if a.std() > 0 and b.std() > 0:
            rho = float(np.clip(np.corrcoef(a, b)[0, 1], 0.0, 0.98))
    inflation = (1.0 + rho) / (1.0 - rho)
    robust = np.sqrt(np.minimum(1.0, 1.5 * scale / np.maximum(np.abs(error), 1e-12)))
    second, jac = _least_squares(residuals(robust / (scale * math.sqrt(inflation))), first,
                                 bounds, width)
    covariance = np.linalg.pinv(jac.T @ jac)
    return second, covariance


def _least_squares(residuals: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
                   x0: np.ndarray, bounds: tuple[np.ndarray, np.ndarray],
                   scale: np.ndarray, huber: float | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The parameters within ``bounds`` that minimise the sum of the squared
    ``residuals`` (Huber's loss beyond ``huber`` when given), and the residuals' Jacobian
    there (``residuals`` gives both). ``scale``: the parameters' usual size (the prior's
    spread); the damping is never weaker than in those units, so that a parameter no
    residual within ``huber`` bears on (gains in a window nobody was in, started far
    from their prior) still takes bounded steps.

    Levenberg-Marquardt, a residual beyond ``huber`` pulling with a constant slope and
    no curvature, and a parameter that presses against a bound held there. scipy's
    ``least_squares`` does the same for any problem, but for three or four parameters its
    own work at each iteration cost several times the residuals', and a refit runs every
    night in every zone.
    """
    lower, upper = bounds
    x = np.clip(x0, lower, upper)
    r, jac = residuals(x)

    def cost(r: np.ndarray) -> float:
        if huber is None:
            return 0.5 * float(r @ r)
        size = np.abs(r)
        return float(np.where(size <= huber, 0.5 * r * r, huber * (size - 0.5 * huber)).sum())

    current, damping = cost(r), 1e-4
    for _ in range(200):
        if huber is None:
            gradient, hessian = jac.T @ r, jac.T @ jac
        else:  # beyond ``huber`` a residual's loss is linear: a constant slope, no curvature
            inside = np.abs(r) <= huber
            gradient = jac.T @ np.where(inside, r, huber * np.sign(r))
            hessian = jac[inside].T @ jac[inside]
        free = ~(((x <= lower) & (gradient > 0)) | ((x >= upper) & (gradient < 0)))
        if not free.any():
            break
        h, g = hessian[np.ix_(free, free)], gradient[free]
        while damping < 1e10:
            step = np.zeros_like(x)
            floor = np.maximum(np.diag(h), 1.0 / scale[free] ** 2)
            step[free] = -np.linalg.solve(h + damping * np.diag(floor), g)
            tried = np.clip(x + step, lower, upper)
            r_tried, jac_tried = residuals(tried)
            after = cost(r_tried)
            if after <= current:
                break
            damping *= 10.0
        else:
            break  # no step lowers the cost: at the optimum
        moved = float(np.max(np.abs(tried - x) / (1.0 + np.abs(x))))
        gain = current - after
        x, r, jac, current = tried, r_tried, jac_tried, after
        damping = max(damping / 10.0, 1e-12)
        if gain <= 1e-12 * (1.0 + current) or moved <= 1e-10:
            break
    return x, jac


def _parameters_of(model: ThermalModel, count: int) -> np.ndarray:
    """A model's (ln k, ln D, G[, logit of the structure's share]): the first ``count``;
    a first-order model's share is the prior's, a half."""
    share = model.structure_share
    logit = math.log(share / (1.0 - share)) if 0.0 < share < 1.0 else 0.0
    return np.array([math.log(model.k), math.log(model.g / model.k), model.gains / model.k,
                     logit][:count])


def warmup_episodes(observations: Sequence[ThermalObservation], *, now: datetime,
                    settings: LearningSettings = DEFAULT_LEARNING) -> list[WarmupEpisode]:
    """The heated runs (share >= 0.5 at every step, then on while the heating is not off
    and the air still rising by 0.5 K/h or more), cut where the air stops gaining 0.5 K in
    the next hour, from where the air last left its lowest to where it came within 0.2 K of
    the most it reached, of at least 20 minutes, that raised the air by at least
    ``min_warmup_rise_k`` (1 K by default).

    Each is tagged after a long absence when, for 48 h before it, the air never came
    within 1 K of what the run reached: the zone was not at comfort, so its structure is
    cold. Exposed so callers and tests can see what the error was measured on.
    """
    return [e for _, e in _episodes(_clean(observations, now), settings)]


def _episodes(history: _History,
              settings: LearningSettings) -> list[tuple[int, WarmupEpisode]]:
    """``warmup_episodes`` of a cleaned history, each with the index of its first
    observation."""
    episodes: list[tuple[int, WarmupEpisode]] = []
    # Python floats: this walks every observation of the window each night.
    times, air = history.epochs.tolist(), history.indoor.tolist()
    heating, outdoor = history.heating.tolist(), history.outdoor.tolist()
    occupied = history.occupied.tolist()
    gap, hour = MAX_STEP.total_seconds(), 3600.0
    heated = np.flatnonzero(history.heating >= HEATED).tolist()  # NaN (unknown) is not
    i = 0
    while (next_heated := bisect_left(heated, i)) < len(heated):
        i = heated[next_heated]
        j = i
        while (j + 1 < len(times) and heating[j + 1] >= HEATED
               and times[j + 1] - times[j] <= gap):
            j += 1
        # A thermostat closes its valve as the air nears the setpoint: the warm-up goes on
        # while the zone is not known unheated and its air still rising. Unknown (NaN) is
        # a zone with no signal in its thermostat's band, where its share is inferred
        # neither full nor none: a fast emitter gets there within a step or two.
        while (j + 1 < len(times) and not heating[j + 1] <= UNHEATED
               and times[j + 1] - times[j] <= gap
               and air[j + 1] - air[j] >= WARMING_K_PER_HOUR * (times[j + 1] - times[j]) / hour):
            j += 1
        after = j + 1  # where the next run is looked for
        # Heating is logged at the end of its interval: the run began a sample earlier.
        begin = i - 1 if i > 0 and times[i] - times[i - 1] <= gap else i
        # It ended where the air stopped gaining WARMING_K_PER_HOUR over the next hour (a
        # zone held at its setpoint on a cold day keeps its valve open), and when the air
        # came close to the most it reached before (a slow creep is no warm-up).
        for n in range(begin, j + 1):
            ahead = times[n] + hour
            if times[j] < ahead:
                break
            window = bisect_left(times, ahead, lo=n, hi=j + 1)
            if max(air[n:window + 1]) - air[n] < WARMING_K_PER_HOUR:
                j = n
                break
        top = max(air[begin:j + 1])
        end = next(n for n in range(begin, j + 1) if air[n] >= top - NEAR_TOP_K)
        # And it began when the air last left the least it was at (a zone held at its
        # reduced setpoint on a cold night, then warmed up, warmed up from then).
        bottom = min(air[begin:end + 1])
        begin = max(n for n in range(begin, end + 1) if air[n] <= bottom + NEAR_TOP_K)
        rise = air[end] - air[begin]
        if (rise >= settings.min_warmup_rise_k
                and times[end] - times[begin] >= MIN_WARMUP.total_seconds()):
            start = times[begin]
            before = start - LONG_ABSENCE.total_seconds()
            since = bisect_left(times, before, hi=begin)
            absence: bool | None
            if times[0] > before or times[since] - before > gap:
                absence = None  # the 48 h before were not seen, or not from their start
            else:
                absence = max(air[since:begin]) < air[end] - 1.0
            episodes.append((begin, WarmupEpisode(
                _utc(history.time(begin)), (times[end] - start) / 60.0,
                air[begin], air[end], float(np.mean(outdoor[begin:end + 1])), absence,
                float(np.mean(occupied[begin + 1:end + 1])),
                tuple(((times[n] - start) / 60.0, air[n]) for n in range(begin + 1, end + 1)))))
        i = after
    return episodes


@dataclass(frozen=True)
class _Mornings:
    """The warm-ups as arrays, each at several points of its rise (``REPLAYED``): the fit
    replays them, so that a warm-up to a lower target is predicted as well as one to the
    end (an emitter's lag makes a real warm-up slower at first than an exponential)."""

    episode: np.ndarray
    """Which warm-up each row is a point of."""
    minutes: np.ndarray
    start: np.ndarray
    end: np.ndarray
    outdoor: np.ndarray
    occupied: np.ndarray
    cold: np.ndarray
    """After a long absence."""
    structure: np.ndarray | None
    """The structure's temperature at their start (None: first order)."""
    def reference(self, p: np.ndarray) -> np.ndarray:
        return np.asarray(_reference(p, self.outdoor, self.structure))

    def ln_rises(self, p: np.ndarray) -> np.ndarray:
        """ln of the full-power rise D that replays each warm-up exactly (NaN when none
        can: the air rose faster than any equilibrium explains)."""
        decay = np.exp(-math.exp(p[0]) * self.minutes / 60.0)
        steady = (self.end - self.start * decay) / (1.0 - decay)
        rise = steady - self.reference(p) - p[2] * self.occupied
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.where(rise > 0, np.log(np.maximum(rise, 1e-12)), np.nan))

    def predicted(self, p: np.ndarray, ln_rise: np.ndarray) -> np.ndarray:
        """Minutes to each warm-up's end at full power with these rises (inf when
        unreachable)."""
        steady = self.reference(p) + np.exp(ln_rise) + p[2] * self.occupied
        with np.errstate(invalid="ignore", divide="ignore"):
            minutes = 60.0 / math.exp(p[0]) * np.log((steady - self.start)
                                                     / (steady - self.end))
        return np.asarray(np.where(steady > self.end, minutes, np.inf))


def _pooled(prior: float, prior_sd: float, values: np.ndarray) -> tuple[float, float]:
    """Normal posterior (mean, variance) of a ln D from its prior and mornings' values
    (``len(REPLAYED)`` points a morning: together they weigh one morning)."""
    weight = 1.0 / (len(REPLAYED) * MORNING_SD_LN_D ** 2)
    precision = 1.0 / prior_sd ** 2 + len(values) * weight
    mean = (prior / prior_sd ** 2 + float(values.sum()) * weight) / precision
    return mean, 1.0 / precision


@dataclass(frozen=True)
class _Warmups:
    """The warm-up gains given the step fit's parameters: normal and cold, ln D each."""

    normal: float
    normal_variance: float
    cold: float


def _warmups(p: np.ndarray, mornings: _Mornings, settings: LearningSettings,
             keep: np.ndarray | None = None, values: np.ndarray | None = None) -> _Warmups:
    """The warm-up gains learnt from the mornings ``keep`` says (all by default);
    ``values``: their ``ln_rises``, when already known."""
    values = mornings.ln_rises(p) if values is None else values
    kept = np.isfinite(values) & (True if keep is None else keep)
    if mornings.structure is not None:  # two states: a cold structure is in the state
        normal, variance = _pooled(float(p[1]), WARMUP_SD_LN_D, values[kept])
        return _Warmups(normal, variance, normal)
    normal, variance = _pooled(float(p[1]), WARMUP_SD_LN_D, values[kept & ~mornings.cold])
    cold = kept & mornings.cold
    if len(np.unique(mornings.episode[cold])) >= settings.min_warmups:
        # Never faster than a normal morning: a cold structure only takes heat away.
        return _Warmups(normal, variance,
                        min(_pooled(normal, COLD_SD_LN_D, values[cold])[0], normal))
    return _Warmups(normal, variance, normal)


def _mornings(episodes: list[tuple[int, WarmupEpisode]],
              structure: np.ndarray | None) -> _Mornings:
    rows = [(n, e, e.indoor_start + share * (e.indoor_end - e.indoor_start))
            for n, (_, e) in enumerate(episodes) for share in REPLAYED]
    first = [begin for begin, _ in episodes]
    return _Mornings(
        np.array([n for n, _, _ in rows]),
        np.array([e.reached(target) for _, e, target in rows]),
        np.array([e.indoor_start for _, e, _ in rows]),
        np.array([target for _, _, target in rows]),
        np.array([e.outdoor for _, e, _ in rows]),
        np.array([e.occupied for _, e, _ in rows]),
        np.array([bool(e.after_long_absence) for _, e, _ in rows]),
        None if structure is None else np.repeat(structure[first], len(REPLAYED)))


def _held_out_errors(p: np.ndarray, mornings: _Mornings,
                     settings: LearningSettings) -> np.ndarray:
    """(predicted - observed) minutes of each warm-up, predicted with the warm-up gains
    learnt without it (leave one morning out; the step fit, on every step, is kept: one
    morning hardly moves it). An unreachable prediction counts as late by the whole
    warm-up."""
    rises = np.empty(len(mornings.minutes))
    values = mornings.ln_rises(p)
    for n in np.unique(mornings.episode):
        this = mornings.episode == n
        others = _warmups(p, mornings, settings, ~this, values)
        rises[this] = others.cold if mornings.cold[this][0] else others.normal
    predicted = mornings.predicted(p, rises)
    return np.asarray(np.where(np.isfinite(predicted), predicted - mornings.minutes,
                               mornings.minutes))


def _gradient(f: Callable[[np.ndarray], float], p: np.ndarray) -> np.ndarray:
    """Central differences of a scalar function of the parameters."""
    step = 1e-4
    return np.array([(f(p + step * e) - f(p - step * e)) / (2 * step)
                     for e in np.eye(len(p))])


@dataclass(frozen=True)
class _Candidate:
    """One form of the model fitted: first order (``hours`` 0) or two states."""

    hours: float
    p: np.ndarray
    covariance: np.ndarray
    mornings: _Mornings
    errors: np.ndarray
    structure: float | None
    structure_at: datetime

    @property
    def error(self) -> float:
        """Root mean square of the held-out errors, all warm-ups."""
        return float(np.sqrt(np.mean(np.square(self.errors))))

    def error_of(self, cold: bool) -> float | None:
        """The same over the normal warm-ups, or those after a long absence; None: none."""
        chosen = self.errors[self.mornings.cold == cold]
        return float(np.sqrt(np.mean(np.square(chosen)))) if len(chosen) else None


def _better(richer: _Candidate, simpler: _Candidate) -> bool:
    """Whether ``richer`` predicts the held-out mornings better than ``simpler``: by a
    tenth of its error at least, and beyond their noise (the mean of the mornings' paired
    differences of squared errors is below zero by ``BETTER_T`` standard errors)."""
    mornings = richer.mornings.episode
    count = int(mornings.max()) + 1
    difference = (np.bincount(mornings, np.square(richer.errors), count)
                  - np.bincount(mornings, np.square(simpler.errors), count))
    if count < 2 or richer.error > BETTER_SHARE * simpler.error:
        return False
    spread = float(difference.std(ddof=1)) / math.sqrt(count)
    return bool(difference.mean() < -BETTER_T * spread) if spread > 0 else bool(
        difference.mean() < 0)


def _refused(code: str, **params: Any) -> ThermalFit:
    return ThermalFit(None, Reason.of(code, **params))


def fit_thermal(observations: Sequence[ThermalObservation], *, now: datetime,
                use: str = "autre", settings: LearningSettings = DEFAULT_LEARNING,
                form: float | None = None, start: ThermalModel | None = None,
                since: datetime | None = None) -> ThermalFit:
    """Fit a zone's model on its history up to ``now`` with the prior of its building's
    ``use``; the model, or None and the reason it is refused.

    First order, or two states (air and structure) when that predicts the held-out
    mornings better: each structure time constant of ``STRUCTURE_HOURS`` is tried. Or,
    when ``form`` says which (a ``structure_hours`` an earlier fit chose, 0 for first
    order), that form only: a fourth of the work, for the nights between two selections.
    A form the history cannot be fitted in (two states from one morning) or that it
    refuses is chosen again among all, so that a refusal is always the selection's
    (``ThermalFit.selected`` says which was done). ``start``: a model (last night's) whose
    parameters the fit starts from, closer to the optimum than the prior's. ``since``:
    the observations before it are context, not fitted: they tell whether a warm-up after
    it followed a long absence (a window cut out of a longer history is no cold start).

    Refused: fewer than ``min_unheated_hours`` of unheated steps (share <= 0.1: no
    cool-down, the loss rate cannot be told from the gain), or no warm-up; a parameter at
    its bound; a loss rate the data hardly moved from its prior; or a typical warm-up
    whose standard deviation (held-out error and parameters) is over
    ``max_warmup_sigma_minutes``. Invalid observations (NaN, out of range) are dropped,
    steps of unknown heating are not fitted, and gaps over an hour are not steps.
    """
    history = _clean(observations, now)
    first = 0 if since is None else int(np.searchsorted(history.epochs, _epoch(since)))
    s = _steps(history, first)
    unheated = float(s.hours[s.heating <= UNHEATED].sum())
    if unheated < settings.min_unheated_hours:
        return _refused("thermal.no_cooldown", hours=unheated,
                        needed=settings.min_unheated_hours)
    # What the warm-ups say of the emitter (the heat and the rise it caused) is weighed by
    # the fit's uncertainty, not by a count of hours known at full heat: a fan coil with
    # no signal, read every quarter hour, takes one such step a morning and then rises
    # inside its thermostat's band, where its share is unknown.
    episodes = [(n, e) for n, e in _episodes(history, settings) if n >= first]
    if not episodes:
        return _refused("thermal.no_warmup")
    data = _Data(history, s, episodes, prior_of(use), now, settings, start)
    if form is not None and (not form or len(episodes) >= 2):
        fit = _fitted(data, (form,))
        if fit.model is not None:
            return replace(fit, selected=False)
    return _fitted(data, (0.0, *STRUCTURE_HOURS))


@dataclass(frozen=True)
class _Data:
    """What ``fit_thermal`` fits the forms of a model on."""

    history: _History
    steps: _Steps
    episodes: list[tuple[int, WarmupEpisode]]
    prior: Prior
    now: datetime
    settings: LearningSettings
    start: ThermalModel | None


def _fitted(data: _Data, forms: Sequence[float]) -> ThermalFit:
    """The best of ``forms`` (structure time constants, 0 first), or why it is refused:
    a richer form is kept only when it predicts the held-out mornings better than the
    first order (``_better``)."""
    s, episodes, settings = data.steps, data.episodes, data.settings
    candidates: list[_Candidate] = []
    refused: ThermalFit | None = None
    for hours in forms:
        if hours and len(episodes) < 2:
            break  # one morning cannot tell which form predicts mornings better
        structure = _structure(data.history.epochs, data.history.indoor, hours) if (
            hours) else None
        p, cov = _map_fit(s, data.prior, None if structure is None else structure[s.start],
                          data.start)
        bounds = [_BOUNDS_LN_K, _BOUNDS_LN_D, (-math.inf, _BOUNDS_G[1]),
                  _BOUNDS_LOGIT_SHARE][:len(p)]
        if any(min(x - low, high - x) < 1e-3 for x, (low, high) in zip(p, bounds,
                                                                        strict=True)):
            refused = refused or _refused("thermal.at_bound")
            continue
        if math.sqrt(cov[0, 0]) >= NOT_INFORMED * PRIOR_SD_LN_K:
            refused = refused or _refused("thermal.not_informed")
            continue
        mornings = _mornings(episodes, structure)
        candidates.append(_Candidate(hours, p, cov, mornings,
                                     _held_out_errors(p, mornings, settings),
                                     None if structure is None else float(structure[-1]),
                                     data.history.time(-1)))
    if not candidates:
        assert refused is not None
        return refused
    best = min(candidates, key=lambda c: c.error)
    if best.hours and candidates[0].hours == 0.0 and not _better(best, candidates[0]):
        best = candidates[0]
    model = _model(best, len(s.t0), len(episodes), data.now, settings)
    m = best.mornings
    # The median warm-up, a normal one if any was seen.
    rows = np.flatnonzero(~m.cold) if (~m.cold).any() else np.arange(len(m.minutes))
    typical = int(rows[np.argsort(m.minutes[rows])[len(rows) // 2]])
    sigma = model.warmup_sigma(
        m.start[typical], m.end[typical], m.outdoor[typical], bool(m.cold[typical]),
        structure=None if m.structure is None else float(m.structure[typical]))
    total = math.hypot(model.warmup_error_minutes, sigma)
    if not math.isfinite(total) or total > settings.max_warmup_sigma_minutes:
        return _refused("thermal.uncertain", minutes=total,
                        limit=settings.max_warmup_sigma_minutes)
    return ThermalFit(replace(model, warmup_sigma_minutes=sigma), None)


def _model(best: _Candidate, samples: int, warmups: int, now: datetime,
           settings: LearningSettings) -> ThermalModel:
    """The model of a candidate, with the covariance of its stored parameters."""
    p, cov = best.p, best.covariance
    warm = _warmups(p, best.mornings, settings)
    # The warm-up D moves with the step fit's parameters: its covariance with them, and
    # its own spread given them.
    sensitivity = _gradient(lambda q: _warmups(q, best.mornings, settings).normal, p)
    size = len(p) + 1
    full = np.zeros((size, size))
    full[:-1, :-1] = cov
    full[-1, :-1] = full[:-1, -1] = sensitivity @ cov
    full[-1, -1] = sensitivity @ cov @ sensitivity + warm.normal_variance
    k, rise, gains_rise = math.exp(p[0]), math.exp(p[1]), float(p[2])
    # (ln k, ln D, G, [logit share,] ln D_w) -> (ln k, ln g, q, ln g_warmup): g = k·D,
    # q = k·G; the structure's share is left out (marginal: its rows and columns dropped).
    to_stored = np.zeros((4, size))
    to_stored[0, 0] = to_stored[1, 0] = to_stored[1, 1] = to_stored[3, 0] = 1.0
    to_stored[2, 0], to_stored[2, 2] = k * gains_rise, k
    to_stored[3, -1] = 1.0
    covariance = to_stored @ full @ to_stored.T
    return ThermalModel(
        k=k, g=k * rise, g_warmup=k * math.exp(warm.normal),
        g_after_long_absence=k * math.exp(warm.cold),
        warmup_error_minutes=best.error_of(cold=False) or best.error_of(cold=True) or 0.0,
        warmup_error_after_long_absence_minutes=best.error_of(cold=True),
        samples=samples, fitted_at=_utc(now),
        warmups=warmups, gains=k * gains_rise,
        covariance=tuple(tuple(float(x) for x in row) for row in covariance),
        structure_hours=best.hours,
        structure_share=0.0 if len(p) < 4 else 1.0 / (1.0 + math.exp(-p[3])),
        structure=best.structure,
        structure_at=None if best.structure is None else _utc(best.structure_at),
        coldest_warmup_start=float(best.mornings.start.min()))
