"""Learn how fast each zone warms up and cools down, from its own history.

Pure: no I/O and no clock reads; the caller passes the observations and ``now``.

The model is first order, per zone (Seem et al. found two parameters enough for warm-up):

    dT/dt = -k · (T - Tout) + g · u

``T`` indoor air (°C), ``Tout`` outdoor (°C), ``u`` the share of emitter power in use
(0..1), ``k`` the loss rate (1/h) and ``g`` the heating gain at full power (K/h). Over a
step ``dt`` with ``Tout`` and ``u`` held, it integrates exactly to

    T1 = Tout + g·u/k + (T0 - Tout - g·u/k) · exp(-k·dt)

which is what the fit matches, pair of consecutive observations by pair, with a robust
(Huber) loss so a window opened or a sensor glitch does not drag the parameters.

A real zone is not first order: the air warms fast from the emitters while the walls
lag behind, so the gain fitted on every step (``g``) under-rates a morning warm-up.
Warm-up predictions therefore use effective gains learnt from the warm-ups seen in the
history (runs at full heat): the gain that replays each one exactly, median over them.
A building left cold for a weekend or a holiday warms up more slowly: its walls and
furniture are cold too and soak up heat. Rather than a second state, the model keeps a
second gain, ``g_after_long_absence``, from the warm-ups that followed more than 48 h
without comfort; with fewer than two of them it falls back to the normal one.

The margin comes from the model's own error: every observed warm-up of the history is
predicted again with the fitted model, and the spread of (predicted - observed) minutes
is kept; ``margin_minutes()`` turns it into an early start that is late ~10 % of the time.

How much history a fit needs, what counts as a warm-up and how wide the margin is are
``LearningSettings``, which a site file can set; the defaults are used when none is given.

Usage without the engine::

    model = fit_thermal(observations, now=now)
    if model is None:          # not enough history yet: use a fixed early start
        ...
    else:
        lead = model.warmup_minutes(16.0, 19.0, outdoor=2.0) + model.margin_minutes()
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from gtb.model.learning import DEFAULT_LEARNING, LearningSettings

MAX_STEP = timedelta(hours=1)
"""Consecutive observations further apart than this are a gap, not a step. Fixed, not
tuning: it is about the feed of readings (every few minutes), not about the building."""
LONG_ABSENCE = timedelta(hours=48)
"""A warm-up after this long without comfort is 'after a long absence' (weekend, holidays).
Fixed: the 48 h of R241-27, after which a zone is at frost protection."""
FULL_HEAT = 0.95
"""Heating share from which a zone counts as heating at full power (a warm-up). Fixed, not
tuning: the warm-up gains are at full power (u = 1), and runs at part power would teach
them too low."""
_OUTLIER_K = 0.15
"""K: residuals beyond this are treated linearly (Huber) rather than squared."""


def _utc(t: datetime) -> datetime:
    """Real time: aware times compared in UTC, so a daylight-saving change is no hour off."""
    if t.tzinfo is None:
        raise ValueError(f"observation time {t.isoformat()} has no time zone")
    return t.astimezone(UTC)


@dataclass(frozen=True)
class ThermalObservation:
    """One sample of a zone: aware time, indoor and outdoor air (°C), heating share 0..1.

    ``heating`` is the valve position / 100, or 1/0 for a plant on or off: the share of
    the emitters' full power in use over the interval that ends at ``time`` (what a
    valve or a plant state logged at the end of each period says). With samples a few
    minutes apart the difference from "from ``time`` on" hardly matters.
    """

    time: datetime
    indoor: float
    outdoor: float
    heating: float

    def is_valid(self) -> bool:
        return bool(_plausible(np.array([(self.indoor, self.outdoor, self.heating)]))[0])


def _plausible(values: np.ndarray) -> np.ndarray:
    """Which rows of (indoor, outdoor, heating) are finite and within bounds."""
    indoor, outdoor, heating = values.T
    return np.asarray(np.isfinite(values).all(axis=1) & (indoor > -30.0) & (indoor < 60.0)
                      & (outdoor > -60.0) & (outdoor < 60.0) & (heating >= -0.01)
                      & (heating <= 1.01))


@dataclass(frozen=True)
class WarmupEpisode:
    """A run at full heat seen in the history: where it started, what it reached, when."""

    start: datetime
    minutes: float
    indoor_start: float
    indoor_end: float
    outdoor: float
    after_long_absence: bool | None
    """None when the history does not reach 48 h before the start."""


@dataclass(frozen=True)
class ThermalModel:
    """A zone's learnt response; all times in minutes, temperatures in °C."""

    k: float
    """Loss rate, 1/h: the fraction of the indoor-outdoor difference lost per hour."""
    g: float
    """Heating gain at full power, K/h, from every step of the history (the physical fit)."""
    g_warmup: float
    """Effective gain at full power on a normal morning, K/h, from the observed warm-ups.

    A real zone is not first order: the air warms fast from the emitters, then the walls
    take their share. Replaying the observed warm-ups (median over them) gives the gain
    that reproduces their durations; with fewer than two it is ``g``."""
    g_after_long_absence: float
    """Effective gain at full power after a weekend or holidays (cold structure), K/h;
    ``g_warmup`` when fewer than two such warm-ups were seen."""
    warmup_error_minutes: float
    """Root mean square of (predicted - observed) minutes over the warm-ups of the history
    (bias included: a model that is always late needs that much more margin)."""
    samples: int
    """Steps (pairs of observations) the fit used."""
    fitted_at: datetime
    warmups: int = 0
    """Warm-ups of the history the error was measured on."""

    def _steady(self, outdoor: float, gain: float) -> float:
        return outdoor + gain / self.k

    def warmup_minutes(self, indoor: float, target: float, outdoor: float,
                       after_long_absence: bool = False, power: float = 1.0) -> float:
        """Minutes at full heat (``power``: the share of it the plant can give) from
        ``indoor`` to ``target``; 0 if already there, inf if the zone cannot get there
        (target at or above the full-power equilibrium)."""
        if indoor >= target:
            return 0.0
        gain = power * (self.g_after_long_absence if after_long_absence else self.g_warmup)
        steady = self._steady(outdoor, gain)
        if target >= steady:
            return math.inf
        return 60.0 * math.log((steady - indoor) / (steady - target)) / self.k

    def cooldown_minutes(self, indoor: float, floor: float, outdoor: float,
                         occupied: bool = False) -> float:
        """Minutes with no heat from ``indoor`` down to ``floor``: how early heating can stop
        (optimal stop); 0 if already there, inf if the outdoor air is not colder than it.
        ``occupied``: with people in (their gains are not modelled here yet)."""
        if indoor <= floor:
            return 0.0
        if floor <= outdoor:
            return math.inf
        return 60.0 * math.log((indoor - outdoor) / (floor - outdoor)) / self.k

    def margin_minutes(self, sigmas: float = DEFAULT_LEARNING.margin_sigmas) -> float:
        """Safety margin to add to a predicted warm-up: ``sigmas`` standard deviations of
        the error, 1.2816 (the default) for 90 % one-sided."""
        return sigmas * self.warmup_error_minutes

    def to_dict(self) -> dict[str, Any]:
        """Plain floats, ints and an ISO string, for the store."""
        return {"k": self.k, "g": self.g, "g_warmup": self.g_warmup,
                "g_after_long_absence": self.g_after_long_absence,
                "warmup_error_minutes": self.warmup_error_minutes, "samples": self.samples,
                "fitted_at": self.fitted_at.isoformat(), "warmups": self.warmups}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThermalModel:
        fitted_at = datetime.fromisoformat(str(data["fitted_at"]))
        return cls(k=float(data["k"]), g=float(data["g"]), g_warmup=float(data["g_warmup"]),
                   g_after_long_absence=float(data["g_after_long_absence"]),
                   warmup_error_minutes=float(data["warmup_error_minutes"]),
                   samples=int(data["samples"]), fitted_at=_utc(fitted_at),
                   warmups=int(data.get("warmups", 0)))


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


def _pairs(obs: list[ThermalObservation]) -> tuple[np.ndarray, ...]:
    """Consecutive steps without a gap: start and end indoor, outdoor, heating, hours."""
    t = np.array([o.time.timestamp() for o in obs])
    indoor = np.array([o.indoor for o in obs])
    outdoor = np.array([o.outdoor for o in obs])
    heating = np.clip(np.array([o.heating for o in obs]), 0.0, 1.0)
    dt = np.diff(t) / 3600.0
    ok = (dt > 0) & (dt <= MAX_STEP.total_seconds() / 3600.0)
    return (indoor[:-1][ok], indoor[1:][ok], 0.5 * (outdoor[:-1] + outdoor[1:])[ok],
            heating[1:][ok], dt[ok])


def _fit_pairs(t0: np.ndarray, t1: np.ndarray, tout: np.ndarray, u: np.ndarray,
               dt: np.ndarray) -> tuple[float, float]:
    """k and g by robust least squares on the exact step response.

    Started from the finite-difference linear solution (dT/dt = -k·ΔT + g·u), which is
    close for short steps; the exact form then removes its bias on longer ones.
    """
    rate = (t1 - t0) / dt
    design = np.column_stack([-(t0 - tout), u])
    (k0, g0), *_ = np.linalg.lstsq(design, rate, rcond=None)
    k0 = float(min(max(k0, 1e-3), 5.0))
    g0 = float(min(max(g0, 1e-2), 50.0))

    def residuals(p: np.ndarray) -> np.ndarray:
        k, g = p
        steady = tout + g * u / k
        return np.asarray(steady + (t0 - steady) * np.exp(-k * dt) - t1)

    result = least_squares(residuals, x0=[k0, g0], bounds=([1e-4, 1e-3], [10.0, 100.0]),
                           loss="huber", f_scale=_OUTLIER_K)
    return float(result.x[0]), float(result.x[1])


def warmup_episodes(observations: Sequence[ThermalObservation], *, now: datetime,
                    settings: LearningSettings = DEFAULT_LEARNING) -> list[WarmupEpisode]:
    """The runs at full heat (u >= 0.95) that raised the air by at least
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
        if obs[i].heating < FULL_HEAT:
            i += 1
            continue
        j = i
        while (j + 1 < len(obs) and obs[j + 1].heating >= FULL_HEAT
               and times[j + 1] - times[j] <= MAX_STEP):
            j += 1
        # Heating is logged at the end of its interval: the run began a sample earlier.
        begin = i - 1 if i > 0 and times[i] - times[i - 1] <= MAX_STEP else i
        end = j
        rise = obs[end].indoor - obs[begin].indoor
        if rise >= settings.min_warmup_rise_k and first is not None:
            start = times[begin]
            reached = obs[end].indoor
            absence: bool | None
            if start - first < LONG_ABSENCE:
                absence = None
            else:
                since = bisect_left(times, start - LONG_ABSENCE, hi=begin)
                absence = max(o.indoor for o in obs[since:begin]) < reached - 1.0
            outdoor = float(np.mean([o.outdoor for o in obs[begin:end + 1]]))
            episodes.append(WarmupEpisode(start, (times[end] - start).total_seconds() / 60.0,
                                          obs[begin].indoor, reached, outdoor, absence))
        i = j + 1
    return episodes


def _episode_gain(k: float, episode: WarmupEpisode) -> float:
    """The gain that makes the closed form match one observed warm-up exactly."""
    decay = math.exp(-k * episode.minutes / 60.0)
    steady = (episode.indoor_end - episode.indoor_start * decay) / (1.0 - decay)
    return k * (steady - episode.outdoor)


def _median_gain(k: float, episodes: list[WarmupEpisode], fallback: float,
                 minimum: int) -> float:
    """The median of the gains that replay each warm-up exactly; ``fallback`` when fewer
    than ``minimum`` (one morning is an anecdote: a door left open, a delayed boiler)."""
    gains = [x for x in (_episode_gain(k, e) for e in episodes) if math.isfinite(x) and x > 0]
    return float(np.median(gains)) if len(gains) >= minimum else fallback


def fit_thermal(observations: Sequence[ThermalObservation], *, now: datetime,
                settings: LearningSettings = DEFAULT_LEARNING) -> ThermalModel | None:
    """Fit a zone's model on its history up to ``now``; None when there is not enough.

    Not enough means fewer than ``min_heated_hours`` of heated steps (u >= 0.5) or
    ``min_unheated_hours`` of unheated ones (u <= 0.1; 12 h each by default) between valid
    consecutive observations: without both the loss rate and the gain cannot be separated
    (a heated-only history fits any k with some g), and the caller should keep its fixed
    early start. Invalid observations (NaN, out of range) are dropped, and gaps over an
    hour are not steps.
    """
    obs = _clean(observations, now)
    if len(obs) < 3:
        return None
    t0, t1, tout, u, dt = _pairs(obs)
    if (dt[u >= 0.5].sum() < settings.min_heated_hours
            or dt[u <= 0.1].sum() < settings.min_unheated_hours):
        return None
    k, g = _fit_pairs(t0, t1, tout, u, dt)
    episodes = _episodes(obs, settings)
    minimum = settings.min_warmups
    normal = _median_gain(k, [e for e in episodes if not e.after_long_absence], g, minimum)
    cold = _median_gain(k, [e for e in episodes if e.after_long_absence], normal, minimum)
    # Never faster than a normal morning: a cold structure only takes heat away.
    cold = min(cold, normal)
    model = ThermalModel(k, g, normal, cold, 0.0, len(dt), _utc(now), len(episodes))
    errors = [model.warmup_minutes(e.indoor_start, e.indoor_end, e.outdoor,
                                   bool(e.after_long_absence)) - e.minutes for e in episodes]
    finite = np.array([x for x in errors if math.isfinite(x)])
    # No warm-up seen, or one: assume a quarter of an hour rather than a false zero.
    sigma = float(np.sqrt(np.mean(finite ** 2))) if len(finite) >= 2 else 15.0
    return ThermalModel(k, g, normal, cold, sigma, len(dt), _utc(now), len(episodes))
