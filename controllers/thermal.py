"""Learn how fast each zone warms up and cools down, from its own history.

Pure: no I/O and no clock reads; the caller passes the observations and ``now``.

The model is first order, per zone (Seem et al. found two parameters enough for warm-up):

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
behind, so the ``D`` fitted on every step under-rates a morning warm-up. Warm-up
predictions use an effective ``D`` learnt from the warm-ups of the history (runs heated
at half power or more that raised the air): the one that replays each exactly, pooled
with the step fit's as a prior. A building left cold for a weekend warms up more slowly
(its structure is cold too): warm-ups after more than 48 h without comfort learn their
own ``D`` once ``min_warmups`` of them were seen.

The margin comes from mornings not used for it: each observed warm-up is predicted by the
model learnt without it (leave one morning out) and the spread of those errors, combined
with the parameters' uncertainty, is what ``margin_minutes()`` turns into an early start.

A fit is refused, with a ``Reason`` saying why, when the history shows no cool-down or no
warm-up, when a parameter ends at its bound or the data did not move the loss rate away
from its prior, or when a warm-up would still be uncertain by more than
``max_warmup_sigma_minutes``.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from scipy.optimize import least_squares

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
_BOUNDS_LN_K = (math.log(1.0 / 500.0), math.log(2.0))
_BOUNDS_LN_D = (math.log(2.0), math.log(300.0))
_BOUNDS_G = (-15.0, 30.0)
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
    """A heated run seen in the history: where it started, what it reached, when."""

    start: datetime
    minutes: float
    indoor_start: float
    indoor_end: float
    outdoor: float
    after_long_absence: bool | None
    """None when the history does not reach 48 h before the start."""
    heating: float = 1.0
    """Mean heating share over the run."""
    occupied: float = 0.0
    """Share of the run the zone was occupied."""


@dataclass(frozen=True)
class ThermalModel:
    """A zone's learnt response; all times in minutes, temperatures in °C."""

    k: float
    """Loss rate, 1/h: the fraction of the indoor-outdoor difference lost per hour."""
    g: float
    """Heating gain at full power, K/h, from every step of the history (the physical fit)."""
    g_warmup: float
    """Effective gain at full power on a normal morning, K/h, from the observed warm-ups
    (pooled with ``g`` as a prior)."""
    g_after_long_absence: float
    """Effective gain at full power after a weekend or holidays (cold structure), K/h;
    ``g_warmup`` when fewer than ``min_warmups`` such warm-ups were seen."""
    warmup_error_minutes: float
    """Root mean square of (predicted - observed) minutes over the warm-ups of the history,
    each predicted by the model learnt without it (held out; bias included)."""
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

    def _gain(self, after_long_absence: bool) -> float:
        return self.g_after_long_absence if after_long_absence else self.g_warmup

    def warmup_minutes(self, indoor: float, target: float, outdoor: float,
                       after_long_absence: bool = False, power: float = 1.0) -> float:
        """Minutes at ``power`` share of full heat from ``indoor`` to ``target``; 0 if
        already there, inf if the zone cannot get there (target at or above the
        equilibrium at that power)."""
        if indoor >= target:
            return 0.0
        steady = outdoor + power * self._gain(after_long_absence) / self.k
        if target >= steady:
            return math.inf
        return 60.0 * math.log((steady - indoor) / (steady - target)) / self.k

    def warmup_sigma(self, indoor: float, target: float, outdoor: float,
                     after_long_absence: bool = False, power: float = 1.0) -> float:
        """Standard deviation of ``warmup_minutes`` from the parameters' uncertainty (first
        order in ln k and ln g_warmup); 0 without a covariance, inf when unreachable."""
        minutes = self.warmup_minutes(indoor, target, outdoor, after_long_absence, power)
        if not self.covariance or minutes == 0.0 or not math.isfinite(minutes):
            return 0.0 if math.isfinite(minutes) else math.inf
        rise = power * self._gain(after_long_absence) / self.k
        steady = outdoor + rise
        # t = 60/k ln((S - T0)/(S - T1)), S = Tout + power·g/k: derivatives in ln k, ln g.
        d_ln_g = 60.0 / self.k * rise * (1.0 / (steady - indoor) - 1.0 / (steady - target))
        d_ln_k = -minutes - d_ln_g
        cov = np.array(self.covariance)
        gradient = np.array([d_ln_k, 0.0, 0.0, d_ln_g])
        return float(math.sqrt(max(gradient @ cov @ gradient, 0.0)))

    def cooldown_minutes(self, indoor: float, floor: float, outdoor: float,
                         occupied: bool = False) -> float:
        """Minutes with no heat from ``indoor`` down to ``floor``: how early heating can stop
        (optimal stop), with the internal gains when ``occupied``; 0 if already there, inf
        if the zone holds above ``floor`` without heat."""
        if indoor <= floor:
            return 0.0
        steady = outdoor + (self.gains / self.k if occupied else 0.0)
        if floor <= steady:
            return math.inf
        return 60.0 * math.log((indoor - steady) / (floor - steady)) / self.k

    def margin_minutes(self, sigmas: float = DEFAULT_LEARNING.margin_sigmas) -> float:
        """Safety margin to add to a predicted warm-up: ``sigmas`` standard deviations of
        the error on held-out mornings combined with the parameters' uncertainty, 1.2816
        (the default) for 90 % one-sided."""
        return sigmas * math.hypot(self.warmup_error_minutes, self.warmup_sigma_minutes)

    def to_dict(self) -> dict[str, Any]:
        """Plain floats, ints, lists and an ISO string, for the store."""
        return {"k": self.k, "g": self.g, "g_warmup": self.g_warmup,
                "g_after_long_absence": self.g_after_long_absence,
                "warmup_error_minutes": self.warmup_error_minutes, "samples": self.samples,
                "fitted_at": self.fitted_at.isoformat(), "warmups": self.warmups,
                "gains": self.gains, "warmup_sigma_minutes": self.warmup_sigma_minutes,
                "covariance": [list(row) for row in self.covariance]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThermalModel:
        """Read back ``to_dict``; a model stored before the gains and the covariance were
        kept loads without them (no gains, no parameter uncertainty). Missing or wrong
        fields raise ValueError naming them."""
        try:
            fitted_at = datetime.fromisoformat(str(data["fitted_at"]))
            covariance = tuple(tuple(float(x) for x in row)
                               for row in data.get("covariance", ()))
            if covariance and (len(covariance) != len(_PARAMETERS)
                               or any(len(row) != len(_PARAMETERS) for row in covariance)):
                raise ValueError(f"covariance is not {len(_PARAMETERS)}×{len(_PARAMETERS)}")
            return cls(k=float(data["k"]), g=float(data["g"]),
                       g_warmup=float(data["g_warmup"]),
                       g_after_long_absence=float(data["g_after_long_absence"]),
                       warmup_error_minutes=float(data["warmup_error_minutes"]),
                       samples=int(data["samples"]), fitted_at=_utc(fitted_at),
                       warmups=int(data.get("warmups", 0)),
                       gains=float(data.get("gains", 0.0)),
                       warmup_sigma_minutes=float(data.get("warmup_sigma_minutes", 0.0)),
                       covariance=covariance)
        except KeyError as missing:
            raise ValueError(f"stored thermal model has no {missing}") from None
        except TypeError as wrong:
            raise ValueError(f"stored thermal model is malformed: {wrong}") from None


@dataclass(frozen=True)
class ThermalFit:
    """What a refit gives: a model, or None and why it was refused."""

    model: ThermalModel | None
    refused: Reason | None


def _clean(observations: Sequence[ThermalObservation],
           now: datetime) -> list[ThermalObservation]:
    """Valid observations up to ``now``, in time order (a NaN is dropped, not fitted)."""
    limit = _epoch(now)
    if not observations:
        return []
    # ``is_valid`` for all at once: refits go through weeks of observations every night.
    valid = _plausible(np.array([(o.indoor, o.outdoor, o.heating) for o in observations],
                                dtype=np.float64))
    kept = [(t, o) for o, ok in zip(observations, valid.tolist(), strict=True)
            if ok and (t := _epoch(o.time)) <= limit]
    kept.sort(key=lambda pair: pair[0])
    return [o for _, o in kept]


def _epoch(t: datetime) -> float:
    """Seconds since the epoch of an aware time (cheaper than ``_utc`` for sorting)."""
    if t.tzinfo is None:
        raise ValueError(f"observation time {t.isoformat()} has no time zone")
    return t.timestamp()


@dataclass(frozen=True)
class _Steps:
    """Consecutive steps without a gap and with a known heating share."""

    t0: np.ndarray
    t1: np.ndarray
    outdoor: np.ndarray
    heating: np.ndarray
    occupied: np.ndarray
    hours: np.ndarray
    follows: np.ndarray
    """Whether each step starts where the previous one ended (for the residuals'
    correlation)."""


def _steps(obs: list[ThermalObservation]) -> _Steps:
    t = np.array([o.time.timestamp() for o in obs])
    indoor = np.array([o.indoor for o in obs])
    outdoor = np.array([o.outdoor for o in obs])
    heating = np.clip(np.array([o.heating for o in obs]), 0.0, 1.0)
    occupied = np.array([o.occupied for o in obs], dtype=np.float64)
    dt = np.diff(t) / 3600.0
    ok = (dt > 0) & (dt <= MAX_STEP.total_seconds() / 3600.0) & np.isfinite(heating[1:])
    index = np.flatnonzero(ok)
    follows = np.concatenate([[False], np.diff(index) == 1])
    return _Steps(indoor[:-1][ok], indoor[1:][ok], 0.5 * (outdoor[:-1] + outdoor[1:])[ok],
                  heating[1:][ok], occupied[1:][ok], dt[ok], follows)


def _predict(p: np.ndarray, s: _Steps) -> np.ndarray:
    """Each step's end temperature under parameters (ln k, ln D, G)."""
    k, rise = math.exp(p[0]), math.exp(p[1])
    steady = s.outdoor + rise * s.heating + p[2] * s.occupied
    return np.asarray(steady + (s.t0 - steady) * np.exp(-k * s.hours))


def _map_fit(s: _Steps, prior: Prior) -> tuple[np.ndarray, np.ndarray]:
    """(ln k, ln D, G) at the maximum a posteriori and their covariance.

    A first pass (Huber) gives the step residuals' robust scale, their lag-one correlation
    (which shrinks the number of independent steps: 1000 correlated residuals do not
    weigh as 1000 facts against the prior) and the outliers' down-weighting; the second,
    with those weights and the prior, gives the optimum and the Laplace covariance.
    """
    mean = np.array([-math.log(prior.time_constant_hours), math.log(prior.full_power_rise_k),
                     prior.occupied_rise_k])
    spread = np.array([PRIOR_SD_LN_K, PRIOR_SD_LN_D, PRIOR_SD_G])
    lower = np.array([_BOUNDS_LN_K[0], _BOUNDS_LN_D[0], _BOUNDS_G[0]])
    upper = np.array([_BOUNDS_LN_K[1], _BOUNDS_LN_D[1], _BOUNDS_G[1]])

    def solve(weights: np.ndarray, x0: np.ndarray, loss: str) -> Any:
        def residuals(p: np.ndarray) -> np.ndarray:
            return np.concatenate([(_predict(p, s) - s.t1) * weights, (p - mean) / spread])
        return least_squares(residuals, x0=x0, bounds=(lower, upper), loss=loss,
                             f_scale=1.5, x_scale=spread)

    first = solve(np.full(len(s.t0), 1.0 / 0.05), mean, "huber")
    error = _predict(first.x, s) - s.t1
    scale = max(1.4826 * float(np.median(np.abs(error - np.median(error)))), 0.01)
    pairs = s.follows[1:]
    rho = 0.0
    if pairs.sum() > 2:
        a, b = error[:-1][pairs], error[1:][pairs]
        if a.std() > 0 and b.std() > 0:
            rho = float(np.clip(np.corrcoef(a, b)[0, 1], 0.0, 0.98))
    inflation = (1.0 + rho) / (1.0 - rho)
    robust = np.sqrt(np.minimum(1.0, 1.5 * scale / np.maximum(np.abs(error), 1e-12)))
    second = solve(robust / (scale * math.sqrt(inflation)), first.x, "linear")
    jac = np.asarray(second.jac)
    covariance = np.linalg.pinv(jac.T @ jac)
    return np.asarray(second.x), covariance


def warmup_episodes(observations: Sequence[ThermalObservation], *, now: datetime,
                    settings: LearningSettings = DEFAULT_LEARNING) -> list[WarmupEpisode]:
    """The heated runs (share >= 0.5 at every step) that raised the air by at least
    ``min_warmup_rise_k`` (1 K by default).

    Each is tagged after a long absence when, for 48 h before it, the air never came
    within 1 K of what the run reached: the zone was not at comfort, so its structure is
    cold. Exposed so callers and tests can see what the error was measured on.
    """
    return _episodes(_clean(observations, now), settings)


def _episodes(obs: list[ThermalObservation], settings: LearningSettings) -> list[WarmupEpisode]:
    """``warmup_episodes`` of observations already cleaned (``_clean``)."""
    episodes: list[WarmupEpisode] = []
    times = [_utc(o.time) for o in obs]
    first = times[0] if times else None
    i = 0
    while i < len(obs):
        if not obs[i].heating >= HEATED:  # NaN (unknown) is not heated
            i += 1
            continue
        j = i
        while (j + 1 < len(obs) and obs[j + 1].heating >= HEATED
               and times[j + 1] - times[j] <= MAX_STEP):
            j += 1
        # Heating is logged at the end of its interval: the run began a sample earlier.
        begin = i - 1 if i > 0 and times[i] - times[i - 1] <= MAX_STEP else i
        end = j
        rise = obs[end].indoor - obs[begin].indoor
        if rise >= settings.min_warmup_rise_k and first is not None and end > begin:
            start = times[begin]
            reached = obs[end].indoor
            absence: bool | None
            if start - first < LONG_ABSENCE:
                absence = None
            else:
                since = bisect_left(times, start - LONG_ABSENCE, hi=begin)
                absence = max(o.indoor for o in obs[since:begin]) < reached - 1.0
            run = obs[begin + 1:end + 1]
            episodes.append(WarmupEpisode(
                start, (times[end] - start).total_seconds() / 60.0, obs[begin].indoor,
                reached, float(np.mean([o.outdoor for o in obs[begin:end + 1]])), absence,
                float(np.mean([o.heating for o in run])),
                float(np.mean([o.occupied for o in run]))))
        i = j + 1
    return episodes


def _episode_ln_rise(k: float, gains_rise: float, episode: WarmupEpisode) -> float:
    """ln of the full-power rise D that makes the closed form replay one warm-up exactly
    (NaN when none can: the air rose faster than any equilibrium explains)."""
    decay = math.exp(-k * episode.minutes / 60.0)
    steady = (episode.indoor_end - episode.indoor_start * decay) / (1.0 - decay)
    rise = (steady - episode.outdoor - gains_rise * episode.occupied) / episode.heating
    return math.log(rise) if rise > 0 else math.nan


def _pooled(prior: float, prior_sd: float, values: Sequence[float]) -> tuple[float, float]:
    """Normal posterior (mean, variance) of a ln D from its prior and mornings' values."""
    precision = 1.0 / prior_sd ** 2 + len(values) / MORNING_SD_LN_D ** 2
    mean = (prior / prior_sd ** 2 + sum(values) / MORNING_SD_LN_D ** 2) / precision
    return mean, 1.0 / precision


@dataclass(frozen=True)
class _Warmups:
    """The warm-up gains given (ln k, ln D, G): normal and cold, ln D each."""

    normal: float
    normal_variance: float
    cold: float


def _warmups(p: np.ndarray, episodes: list[WarmupEpisode],
             settings: LearningSettings) -> _Warmups:
    k = math.exp(p[0])
    normal_values = [x for e in episodes if not e.after_long_absence
                     if math.isfinite(x := _episode_ln_rise(k, p[2], e))]
    cold_values = [x for e in episodes if e.after_long_absence
                   if math.isfinite(x := _episode_ln_rise(k, p[2], e))]
    normal, variance = _pooled(float(p[1]), WARMUP_SD_LN_D, normal_values)
    cold = normal
    if len(cold_values) >= settings.min_warmups:
        # Never faster than a normal morning: a cold structure only takes heat away.
        cold = min(_pooled(normal, COLD_SD_LN_D, cold_values)[0], normal)
    return _Warmups(normal, variance, cold)


def _gradient(f: Callable[[np.ndarray], float], p: np.ndarray) -> np.ndarray:
    """Central differences of a scalar function of the parameters."""
    step = 1e-4
    return np.array([(f(p + step * e) - f(p - step * e)) / (2 * step)
                     for e in np.eye(len(p))])


def _refused(code: str, **params: Any) -> ThermalFit:
    return ThermalFit(None, Reason.of(code, **params))


def fit_thermal(observations: Sequence[ThermalObservation], *, now: datetime,
                use: str = "autre",
                settings: LearningSettings = DEFAULT_LEARNING) -> ThermalFit:
    """Fit a zone's model on its history up to ``now`` with the prior of its building's
    ``use``; the model, or None and the reason it is refused.

    Refused: fewer than ``min_unheated_hours`` of unheated steps (share <= 0.1: no
    cool-down, the loss rate cannot be told from the gain) or fewer than
    ``min_heated_hours`` of full-power-equivalent heating, or no warm-up; a parameter at
    its bound; a loss rate the data hardly moved from its prior; or a typical warm-up
    whose standard deviation (held-out error and parameters) is over
    ``max_warmup_sigma_minutes``. Invalid observations (NaN, out of range) are dropped,
    steps of unknown heating are not fitted, and gaps over an hour are not steps.
    """
    obs = _clean(observations, now)
    s = _steps(obs)
    unheated = float(s.hours[s.heating <= UNHEATED].sum())
    if unheated < settings.min_unheated_hours:
        return _refused("thermal.no_cooldown", hours=unheated,
                        needed=settings.min_unheated_hours)
    heated = float((s.hours * s.heating).sum())
    episodes = _episodes(obs, settings)
    if heated < settings.min_heated_hours or not episodes:
        return _refused("thermal.no_warmup")
    prior = prior_of(use)
    p, cov = _map_fit(s, prior)
    bounds = ((0, _BOUNDS_LN_K), (1, _BOUNDS_LN_D), (2, _BOUNDS_G))
    if any(min(p[i] - low, high - p[i]) < 1e-3 for i, (low, high) in bounds):
        return _refused("thermal.at_bound")
    if math.sqrt(cov[0, 0]) >= NOT_INFORMED * PRIOR_SD_LN_K:
        return _refused("thermal.not_informed")
    warm = _warmups(p, episodes, settings)
    # The warm-up D moves with the step fit's parameters: its covariance with them, and
    # its own spread given them.
    sensitivity = _gradient(lambda q: _warmups(q, episodes, settings).normal, p)
    full = np.zeros((4, 4))
    full[:3, :3] = cov
    full[3, :3] = full[:3, 3] = sensitivity @ cov
    full[3, 3] = sensitivity @ cov @ sensitivity + warm.normal_variance
    k, rise, gains_rise = math.exp(p[0]), math.exp(p[1]), float(p[2])
    # (ln k, ln D, G, ln D_w) -> (ln k, ln g, q, ln g_warmup): g = k·D, q = k·G.
    to_stored = np.array([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0],
                          [k * gains_rise, 0.0, k, 0.0], [1.0, 0.0, 0.0, 1.0]])
    covariance = to_stored @ full @ to_stored.T
    model = ThermalModel(
        k=k, g=k * rise, g_warmup=k * math.exp(warm.normal),
        g_after_long_absence=k * math.exp(warm.cold), warmup_error_minutes=0.0,
        samples=len(s.t0), fitted_at=_utc(now), warmups=len(episodes),
        gains=k * gains_rise,
        covariance=tuple(tuple(float(x) for x in row) for row in covariance))
    errors = _held_out_errors(model, p, episodes, settings)
    typical = sorted(episodes, key=lambda e: e.minutes)[len(episodes) // 2]
    sigma = model.warmup_sigma(typical.indoor_start, typical.indoor_end, typical.outdoor,
                               bool(typical.after_long_absence), typical.heating)
    error = float(np.sqrt(np.mean(np.square(errors)))) if errors else math.inf
    total = math.hypot(error, sigma)
    if not math.isfinite(total) or total > settings.max_warmup_sigma_minutes:
        return _refused("thermal.uncertain", minutes=total,
                        limit=settings.max_warmup_sigma_minutes)
    return ThermalFit(
        ThermalModel(k=model.k, g=model.g, g_warmup=model.g_warmup,
                     g_after_long_absence=model.g_after_long_absence,
                     warmup_error_minutes=error, samples=model.samples,
                     fitted_at=model.fitted_at, warmups=model.warmups, gains=model.gains,
                     warmup_sigma_minutes=sigma, covariance=model.covariance),
        None)


def _held_out_errors(model: ThermalModel, p: np.ndarray, episodes: list[WarmupEpisode],
                     settings: LearningSettings) -> list[float]:
    """(predicted - observed) minutes of each warm-up, predicted with the warm-up gains
    learnt without it (leave one morning out; the loss rate, fitted on every step, is
    kept: one morning hardly moves it). An unreachable prediction counts as late by the
    whole warm-up."""
    errors = []
    for n, episode in enumerate(episodes):
        others = _warmups(p, episodes[:n] + episodes[n + 1:], settings)
        ln_rise = others.cold if episode.after_long_absence else others.normal
        steady = episode.outdoor + episode.heating * math.exp(ln_rise) + (
            p[2] * episode.occupied)
        if episode.indoor_end >= steady:
            errors.append(episode.minutes)
            continue
        predicted = 60.0 * math.log((steady - episode.indoor_start)
                                    / (steady - episode.indoor_end)) / model.k
        errors.append(predicted - episode.minutes)
    return errors
