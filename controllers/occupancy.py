"""When people really arrive and leave: occupancy learned per zone and kind of day.

Programmes say when a zone is meant to be used; sensors say when it is. This module keeps
a few months of observed days per zone, as 96 quarter-hour slots of the local wall clock
(the representation of PreHeat, UbiComp 2011), and answers two questions:

- ``predict``: when will the next occupied period begin and end, and how sure are we?
  The programme is the prior, updated by each observed day. For a day and a time of day,
  the forecast mixes the first arrivals (and the ends of those periods) after that time
  of: the programme's day, which weighs ``programme_prior_days`` (half a day by default);
  the past days of the same kind (same weekday and same calendar ``DayType``: a
  school-holiday Monday is not a school Monday), the newest weighing 1 and each older
  one half as much every ``half_life_days`` (two weeks), so a new Thursday club is learned
  within two or three Thursdays; and, while those weigh less than the programme, days of
  the other weekdays of the same type that the programme treats alike from that time on
  (the next period starting at the same time: a school's Monday tells about its
  Thursday, not about its Wednesday morning; a library's Tuesday 14:00-18:00 about its
  Friday 14:00-19:00, its observed end moved by the programme's hour), each weighing
  ``other_weekday_weight`` and together no more than the weekday's own days lack. The
  forecast is **learned** (``basis`` "learned") once the
  observed days weigh at least as much as the programme: from a cold start, after one
  day of its weekday, or as many other weekdays alike as make up the programme's weight
  (one by default). Before, the programme answers, and its reason says the observed days
  are too light. Arrival times far from the weighted median are set aside, unless they
  recur: a second mode (class visits at 09:30 on half of the Tuesdays of a library that
  opens at 14:00) is kept when its arrivals, within ``outlier_floor_minutes`` of each
  other, come from at least two observed days and weigh at least ``1 - arrival_share``
  of the mixture. The result is a low quantile, not a mean: with ``arrival_share`` 0.9
  the zone is warm for nine arrivals out of ten, the first time by which, in the
  mixture, that share of arrivals is still to come, and never a time between two modes;
  one odd day (somebody in at 05:00) does not move it. When the learned days disagree,
  the programme answers instead, and says so.
- ``rarely_used``: which programmed periods are seldom occupied, so that a person can
  shorten the programme (the council room programmed like the offices).

Any evidence of presence can go into a day's slots: presence detectors, a CO2 rise,
people counters, a comfort override (someone asked for heat, so someone was there).
``day_slots`` builds a day from timestamped samples.

How much history counts and how sure a forecast must be are ``LearningSettings``, which
a site file can set. Pure: times come in as arguments, nothing reads the clock or
touches a device. Usable without the engine::

    history = OccupancyHistory()
    history.add(day, day_slots(samples, day, tz))          # once a day, per zone
    forecast = predict(history, local_now, calendar, "mairie", programme)
    forecast.start, forecast.end, forecast.confidence, forecast.reason.fr

Not learned yet: the first day back after a long absence (holidays) as a kind of its own;
today's partial day (PreHeat's Hamming distance) to pick among similar days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from controllers.schedule import DayType, FrenchCalendar, occupation, programmed_periods
from gtb.model import BuildingUse
from gtb.model.calendar import Period, Programme
from gtb.model.learning import DEFAULT_LEARNING, LearningSettings
from gtb.texts import Reason

SLOT_MINUTES = 15
"""Fixed, not tuning: the days stored in ``zone_learning`` are strings of these slots."""
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES

DaySlots = NDArray[np.bool_]
"""One local day of presence: 96 booleans, slot 0 is 00:00-00:15 of the wall clock."""

Runs = NDArray[np.int64]
"""For each slot of a day, the first occupied run at or after it: 96 rows of its first
slot and the slot after its last, (96, 96) where there is none (see ``first_runs``)."""

HORIZON_DAYS = 8
"""How far ahead the next arrival is looked for (a long weekend, a week of holidays).
Fixed, not tuning: a week and a day looks at every kind of weekday, and an absence
beyond it is long (over 48 h) whatever the exact horizon."""



# --- building days ----------------------------------------------------------------------


def slot_of(moment: time) -> int:
    """The quarter-hour slot of a wall-clock time."""
    return (moment.hour * 60 + moment.minute) // SLOT_MINUTES


def day_slots(samples: Iterable[tuple[datetime, bool | None]], day: date,
              tz: tzinfo) -> DaySlots:
    """The slots of local ``day`` in which presence was seen at least once.

    Samples may be aware (any zone; converted to ``tz``) or naive (already local wall
    clock). Slots follow the wall clock, so a daylight-saving day still has 96 of them:
    in March the slots 02:00-03:00 stay empty, in October both 02:00-03:00 hours fall in
    the same four slots. Samples of other days are ignored, so a stream can be passed.
    An unknown sample (None) marks nothing: see ``seen_whole`` for whether the day counts.
    """
    slots = np.zeros(SLOTS_PER_DAY, dtype=np.bool_)
    for moment, present in samples:
        if not present:
            continue
        local = moment.astimezone(tz) if moment.tzinfo is not None else moment
        if local.date() == day:
            slots[slot_of(local.time())] = True
    return slots


def seen_whole(samples: Iterable[tuple[datetime, bool | None]]) -> bool:
    """Whether a day's detector samples (local wall-clock times, as a learner keeps them)
    may join the history: at least one good reading, and no quarter-hour where the
    detector was unknown (None: no detector, a stale or failed reading) without a good
    reading too. An empty slot of such a day is absence; a blind one is not, and counting
    it so would teach that the zone is seldom used. A single failed read among a
    quarter-hour's good ones does not cost the day."""
    known: set[tuple[date, int]] = set()
    blind: set[tuple[date, int]] = set()
    for moment, present in samples:
        slot = (moment.date(), slot_of(moment.time()))
        (blind if present is None else known).add(slot)
    return bool(known) and blind <= known


@dataclass
class OccupancyHistory:
    """The observed days of one zone, the oldest forgotten after ``keep``."""

    days: dict[date, DaySlots] = field(default_factory=dict)
    keep: timedelta = DEFAULT_LEARNING.history
    _learnt: dict[tuple[object, ...], _DayForecast] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    """What the days say about a day, worked out once until a day is added (forecasts
    are asked every few minutes, the days change once a night)."""
    _similar: dict[tuple[object, ...], tuple[list[date], list[date]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    _runs: dict[date, Runs] = field(default_factory=dict, init=False, repr=False,
                                    compare=False)
    _next_seen: dict[Programme, NDArray[np.int64]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def add(self, day: date, slots: DaySlots | Iterable[bool]) -> None:
        """Record (or replace) a day; days older than ``keep`` before the newest go."""
        array = np.array(slots, dtype=np.bool_)
        if array.shape != (SLOTS_PER_DAY,):
            raise ValueError(f"a day has {SLOTS_PER_DAY} slots of 15 min, not {array.shape}")
        self._learnt.clear()
        self._similar.clear()
        self._next_seen.clear()
        self._runs.pop(day, None)
        self.days[day] = array
        oldest = max(self.days) - self.keep
        for old in [d for d in self.days if d < oldest]:
            del self.days[old]
            self._runs.pop(old, None)

    def first_runs(self, day: date) -> Runs:
        """The day's ``first_runs``, worked out once: forecasts are made from every
        quarter-hour, and each looks at months of days."""
        known = self._runs.get(day)
        if known is None:
            known = self._runs[day] = first_runs(self.days[day])
        return known

    def next_seen(self, programme: Programme, first: int) -> int:
        """The first slot at or after ``first`` occupied on a day of the history or
        programmed on a weekday (``SLOTS_PER_DAY``: none). A forecast from ``first`` is
        the same as from that slot, so the forecasts made all night long share one."""
        known = self._next_seen.get(programme)
        if known is None:
            anyone = _weekly_slots(programme).copy()
            for slots in self.days.values():
                anyone |= slots
            known = self._next_seen[programme] = first_runs(anyone)[:, 0]
        return int(known[first])


# --- forecasting ------------------------------------------------------------------------


@dataclass(frozen=True)
class ArrivalForecast:
    """The next occupied period of a zone, learned or taken from the programme.

    ``start`` is when the zone should be warm (None: nothing within the horizon),
    ``end`` when the period is expected to end, ``confidence`` in 0..1 (the weighted share
    of the mixture of the programme and the observed days with an arrival, times the share
    of those arrivals that agree), ``basis`` "learned" (the observed days weigh at least as
    much as the programme) or "programme", ``similar_days`` how many observed days the
    answer rests on (of the same weekday, and of others standing in for them).
    """

    start: datetime | None
    end: datetime | None
    confidence: float
    basis: str
    similar_days: int
    reason: Reason
    surprise: float = 0.0
    """The highest chance, among the days skipped before ``start`` because nobody was
    expected, that somebody comes anyway, from the observed days alone (a programmed
    period nobody uses is no surprise): a room used now and then without a pattern."""


@dataclass(frozen=True)
class _DayForecast:
    """What the programme and the similar days say about one day, from one slot on."""

    programmed: bool  # the programme has a period on that day from that slot on
    similar: int  # observed days the answer rests on
    observed: float  # their weight, in days (the programme weighs programme_prior_days)
    chance: float  # weighted share of the mixture (programme included) with an arrival
    surprise: float  # weighted share of the observed days alone with an arrival
    agreement: float = 0.0  # weighted share of those arrivals kept (not outliers)
    start_min: float = 0.0
    end_min: float = 0.0
    covered: int = 0  # kept observed arrivals at or after start_min
    kept: int = 0  # observed arrivals kept
    weeks: int = 0  # span of the observed days, in weeks
    prior_share: float = 1.0  # the programme's share of the mixture

    @property
    def learned(self) -> bool:
        """The observed days carry the forecast: they weigh at least the programme (the
        tolerance for stand-ins scaled to exactly what the weekday's own days lack)."""
        return self.prior_share <= 0.5 + 1e-9

    @property
    def confidence(self) -> float:
        return self.chance * self.agreement


@lru_cache(maxsize=65536)
def day_kind(calendar: FrenchCalendar, use: BuildingUse | str, day: date) -> tuple[int, DayType]:
    """What makes two days comparable: the weekday and the calendar's type of day.

    Cached: every forecast compares months of past days, and every zone of a building
    asks about the same ones.
    """
    return day.weekday(), calendar.day_type(day, use)


def _period_slots(period: Period) -> slice:
    """The slots a programmed period touches (a period ending at 08:20 holds 08:15)."""
    last = SLOTS_PER_DAY if period.end is None else -(-(
        period.end.hour * 60 + period.end.minute) // SLOT_MINUTES)
    return slice(slot_of(period.start), last)


def _slots_of(periods: Iterable[Period]) -> DaySlots:
    """The slots programmed periods touch, as an observed day's."""
    slots = np.zeros(SLOTS_PER_DAY, dtype=np.bool_)
    for period in periods:
        slots[_period_slots(period)] = True
    return slots


@lru_cache(maxsize=256)
def _weekly_slots(programme: Programme) -> DaySlots:
    """The slots programmed on at least one weekday, whatever the calendar."""
    return _slots_of(period for weekday in range(7) for period in programme.periods(weekday))


@lru_cache(maxsize=4096)
def _programme_runs(programme: Programme, calendar: FrenchCalendar, use: BuildingUse | str,
                    day: date) -> Runs:
    """The ``first_runs`` of the programme's day, as an observed day's (holidays and
    weekends as the calendar has them): worked out once for every slot of the day."""
    return first_runs(_slots_of(programmed_periods(programme, calendar, use, day)))


def _programme_run(programme: Programme, calendar: FrenchCalendar, use: BuildingUse | str,
                   day: date, first: int) -> tuple[int, int] | None:
    """The programme's first occupied run on ``day`` from slot ``first`` on, in slots."""
    start, end = _programme_runs(programme, calendar, use, day)[first]
    return None if start == SLOTS_PER_DAY else (int(start), int(end))


def _same_arrival(run: tuple[int, int] | None, programmed: tuple[int, int] | None) -> bool:
    """Whether a day whose programme's next run is ``run`` tells when people arrive on a
    day whose is ``programmed``: both without one, or both starting at the same slot (a
    library open 14:00-18:00 on Tuesdays and 14:00-19:00 on Fridays: its Tuesdays'
    arrivals tell about its Fridays')."""
    if run is None or programmed is None:
        return run is programmed
    return run[0] == programmed[0]


def _end_shift(run: tuple[int, int] | None, programmed: tuple[int, int] | None) -> int:
    """Slots by which a stand-in day's observed end is moved: by how much later the
    programme ends on the day forecast than on the stand-in (people who leave a quarter
    of an hour before the Tuesday's 18:00 are taken to leave a quarter of an hour before
    the Friday's 19:00)."""
    return 0 if run is None or programmed is None else programmed[1] - run[1]


def _moved(run: tuple[int, int], shift: int) -> tuple[int, int]:
    """An observed day's first run with its end moved by ``shift`` slots (within the
    day, never before its start); a day without arrival stays one."""
    start, end = run
    if shift == 0 or start >= SLOTS_PER_DAY:
        return run
    return start, int(min(max(end + shift, start + 1), SLOTS_PER_DAY))


def _weighted_quantile(values: NDArray[np.float64], weights: NDArray[np.float64],
                       q: float) -> float:
    """Quantile where each value counts for its weight (midpoint rule, interpolated)."""
    order = np.argsort(values)
    values, weights = values[order], weights[order]
    cumulative = np.cumsum(weights)
    positions = (cumulative - weights / 2) / cumulative[-1]
    return float(np.interp(q, positions, values))


def _recurring(starts: NDArray[np.float64], weights: NDArray[np.float64],
               seen: NDArray[np.bool_], aside: NDArray[np.bool_], near: float,
               least: float) -> NDArray[np.bool_]:
    """Of the arrivals ``aside`` (far from the median), those of a second mode rather
    than odd days: the arrivals set aside within ``near`` minutes of each one come from
    at least two observed days (``seen``: not the programme's) and weigh together at
    least ``least`` (what the low quantile already tolerates to be late for: a lighter
    group could not move it). Class visits at 09:30 on half of the Tuesdays of a library
    open at 14:00 are a mode; one Monday at 05:00 is not, nor are two Mondays at 05:00
    so long ago that they weigh next to nothing."""
    if aside.sum() < 2:  # no mode of one day
        return np.zeros_like(aside)
    close = (np.abs(starts[:, None] - starts[None, :]) <= near) & aside[None, :]
    return aside & ((close & seen[None, :]).sum(axis=1) >= 2) & (
        close @ weights >= least - 1e-9)


def _earliest_of_a_mode(values: NDArray[np.float64], weights: NDArray[np.float64],
                        q: float, gap: float) -> float:
    """The weighted quantile of arrivals, unless it falls between two of them more than
    ``gap`` apart: between two modes (class visits at 09:30, the opening at 14:00) is a
    time nobody comes, too late for the one and needlessly early for the other; then
    the earlier arrival, so that the zone is warm for the early mode."""
    value = _weighted_quantile(values, weights, q)
    below, above = values[values <= value], values[values >= value]
    if below.size and above.size and float(above.min() - below.max()) > gap:
        return float(below.max())
    return value


def first_runs(slots: DaySlots) -> Runs:
    """The first occupied run at or after each slot, a single empty slot bridged: the
    run goes on while a slot or the next one is occupied."""
    index = np.arange(SLOTS_PER_DAY)

    def next_where(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        """The first slot at or after each one where ``mask`` holds (96: none)."""
        return np.minimum.accumulate(np.where(mask, index, SLOTS_PER_DAY)[::-1])[::-1]

    start = next_where(slots)
    gap = next_where(~slots & ~np.append(slots[1:], False))
    return np.stack([start, np.append(gap, SLOTS_PER_DAY)[start]], axis=1)


def _learn_day(history: OccupancyHistory, calendar: FrenchCalendar, use: BuildingUse | str,
               programme: Programme, day: date, first_slot: int,
               settings: LearningSettings) -> _DayForecast:
    """Arrival and departure on ``day`` from ``first_slot`` on, from the programme and the
    similar past days (remembered by the history until it changes). Until a slot where
    somebody was seen or is programmed, no day's first run changes: the answer from that
    slot serves (the last slot of the day if none)."""
    first_slot = min(history.next_seen(programme, first_slot), SLOTS_PER_DAY - 1)
    key = (calendar, use, programme, day, first_slot, settings)
    known = history._learnt.get(key)
    if known is None:
        if len(history._learnt) > 10_000:  # a history that stopped growing: start afresh
            history._learnt.clear()
        known = history._learnt[key] = _learn_day_afresh(history, calendar, use, programme,
                                                         day, first_slot, settings)
    return known


def _same_type_days(history: OccupancyHistory, calendar: FrenchCalendar,
                    use: BuildingUse | str, day: date) -> tuple[list[date], list[date]]:
    """The past days of the history of the same type as ``day`` (``DayType``): those of
    its weekday, and those of the other weekdays, each oldest first."""
    key = (calendar, use, day)
    known = history._similar.get(key)
    if known is None:
        weekday, kind = day_kind(calendar, use, day)
        same: list[date] = []
        others: list[date] = []
        for past in sorted(history.days):
            if past < day and day_kind(calendar, use, past)[1] == kind:
                (same if past.weekday() == weekday else others).append(past)
        known = history._similar[key] = (same, others)
    return known


def _recency(days: list[date], settings: LearningSettings) -> NDArray[np.float64]:
    """Each day's weight, halved every ``half_life_days`` before the newest of them: the
    newest weighs 1, so a kind of day that comes back after weeks (a holiday Monday) is
    still known from the last time it came."""
    if not days:
        return np.zeros(0)
    ages = np.array([(days[-1] - d).days for d in days], dtype=np.float64)
    return np.asarray(0.5 ** (ages / settings.half_life_days))


def _learn_day_afresh(history: OccupancyHistory, calendar: FrenchCalendar,
                      use: BuildingUse | str, programme: Programme, day: date,
                      first_slot: int, settings: LearningSettings) -> _DayForecast:
    """The mixture of the programme's day (weight ``programme_prior_days``), the past days
    of the same weekday and type (recency weights, the newest 1) and, while those weigh
    less than the programme, days of other weekdays of the same type that the programme
    treats alike from ``first_slot`` on (``_same_arrival``; ``other_weekday_weight``
    each, together filling at most what the weekday's own days lack; their observed ends
    moved as the programme's end differs, ``_end_shift``). Its arrivals far from the median are set
    aside unless they recur (``_recurring``). With one observed day and the programme,
    nothing is far from a majority: the learned period runs from the earlier arrival of
    the two to the later end."""
    prior = settings.programme_prior_days
    programmed = _programme_run(programme, calendar, use, day, first_slot)
    same, others = _same_type_days(history, calendar, use, day)
    used, weights = list(same), _recency(same, settings)
    lacking = prior - float(weights.sum())
    later = [0] * len(used)  # slots each day's observed end is moved by
    if lacking > 0 and settings.other_weekday_weight > 0:
        runs = {d: _programme_run(programme, calendar, use, d, first_slot) for d in others}
        alike = [d for d, run in runs.items() if _same_arrival(run, programmed)]
        stand_in = settings.other_weekday_weight * _recency(alike, settings)
        if alike:
            stand_in *= min(1.0, lacking / float(stand_in.sum()))
            used, weights = used + alike, np.concatenate([weights, stand_in])
            later += [_end_shift(runs[d], programmed) for d in alike]
    observed = float(weights.sum())
    found = np.array([_moved(history.first_runs(d)[first_slot], shift)
                      for d, shift in zip(used, later, strict=True)] + [
        programmed or (SLOTS_PER_DAY, SLOTS_PER_DAY)], dtype=np.float64)
    arrived = found[:, 0] < SLOTS_PER_DAY  # the programme's comes last
    surprise = float(weights[arrived[:-1]].sum() / observed) if used else 0.0
    weights = np.append(weights, prior)
    forecast = _DayForecast(programmed is not None, len(used), observed,
                            chance=float(weights[arrived].sum() / weights.sum()),
                            surprise=surprise, prior_share=prior / float(weights.sum()))
    if not arrived.any():
        return forecast
    starts, ends = found[arrived].T * SLOT_MINUTES
    w = weights[arrived]
    seen = np.arange(len(w)) < arrived[:len(used)].sum()  # the programme's comes last
    # Robust spread: one odd day must not drag a low quantile hours early.
    median = _weighted_quantile(starts, w, 0.5)
    spread = _weighted_quantile(np.abs(starts - median), w, 0.5)
    floor, share = settings.outlier_floor_minutes, settings.arrival_share
    aside = np.abs(starts - median) > max(3 * 1.4826 * spread, floor)
    keep = ~aside | _recurring(starts, w, seen, aside, floor, (1.0 - share) * float(w.sum()))
    start = _earliest_of_a_mode(starts[keep], w[keep], 1.0 - share, floor)
    end = _weighted_quantile(ends[keep], w[keep], share)  # as late as arrivals are early
    return replace(
        forecast,
        agreement=float(w[keep].sum() / w.sum()),
        start_min=start,
        end_min=max(end, start + SLOT_MINUTES),
        covered=int((starts[keep & seen] >= start - 1e-9).sum()),
        kept=int((keep & seen).sum()),
        weeks=max(1, round((max(used) - min(used)).days / 7) + 1) if used else 0,
    )


def _at(day: date, minutes: float, tz: tzinfo | None) -> datetime:
    """Wall-clock minutes after midnight of ``day`` as a time in ``tz`` (1440 = midnight)."""
    whole = round(minutes)
    return datetime.combine(day + timedelta(days=whole // 1440),
                            time(whole % 1440 // 60, whole % 60), tzinfo=tz)


def predict(
    history: OccupancyHistory,
    local_now: datetime,
    calendar: FrenchCalendar,
    use: BuildingUse | str,
    programme: Programme,
    *,
    settings: LearningSettings = DEFAULT_LEARNING,
) -> ArrivalForecast:
    """The next occupied period after ``local_now`` (aware, in the site's zone).

    Looks at the rest of today, then the following days, up to ``HORIZON_DAYS``: a day
    where the programme and the similar past days together say nobody comes is skipped;
    the first day where somebody is expected gives the answer. The programme answers as
    soon as a day on the way has a programmed period and observed days weighing less than
    the programme (``programme_prior_days``), or when the learned days do not agree well
    enough (``min_confidence``).
    """
    today = local_now.date()
    surprise = 0.0
    for offset in range(HORIZON_DAYS):
        day = today + timedelta(days=offset)
        first = slot_of(local_now.time()) if offset == 0 else 0
        learned = _learn_day(history, calendar, use, programme, day, first, settings)
        if not learned.learned:
            if not learned.programmed:
                surprise = max(surprise, learned.surprise)
                continue  # the programme, which still carries the day, has nobody come
            return _from_programme(
                local_now, calendar, use, programme, learned.similar,
                Reason.of("forecast.history_short", day=day, observed=learned.observed,
                          prior=settings.programme_prior_days),
            )
        if learned.chance < settings.min_confidence:
            surprise = max(surprise, learned.surprise)
            continue  # the similar days say nobody comes: look at the next day
        if learned.confidence < settings.min_confidence:
            return _from_programme(
                local_now, calendar, use, programme, learned.similar,
                Reason.of("forecast.uncertain", confidence=learned.confidence),
            )
        return _learned(learned, day, local_now, surprise)
    programmed = occupation(programme, calendar, use, local_now).next_start
    return ArrivalForecast(
        None, None, 1.0, "learned", 0,
        Reason.of("forecast.none" if programmed is None else "forecast.none_rarely_used",
                  days=HORIZON_DAYS, programmed=programmed),
        surprise,
    )


def _learned(learned: _DayForecast, day: date, local_now: datetime,
             surprise: float) -> ArrivalForecast:
    tz = local_now.tzinfo
    start = max(_at(day, learned.start_min, tz), local_now)
    end = _at(day, learned.end_min, tz)
    code = "forecast.learned" if day == local_now.date() else "forecast.learned_on"
    return ArrivalForecast(
        start, end, learned.confidence, "learned", learned.similar,
        Reason.of(code, day=day, start=start, end=end, similar=learned.similar,
                  weeks=learned.weeks, covered=learned.covered, kept=learned.kept,
                  confidence=learned.confidence, prior=learned.prior_share),
        surprise,
    )


def _from_programme(local_now: datetime, calendar: FrenchCalendar, use: BuildingUse | str,
                    programme: Programme, similar: int, why: Reason) -> ArrivalForecast:
    """The programme's next period, with why learning did not answer."""
    now = occupation(programme, calendar, use, local_now)
    start = local_now if now.occupied else now.next_start
    end = now.current_end
    if start is not None and not now.occupied:
        end = occupation(programme, calendar, use, start).current_end
    return ArrivalForecast(
        start, end, 0.0, "programme", similar,
        Reason.of("forecast.programme_none" if start is None else "forecast.programme",
                  why=why, start=start),
    )


# --- programme review -------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodUsage:
    """How often a programmed period was actually occupied (at least one slot in it)."""

    weekday: int
    period: Period
    usage_share: float
    days: int


def rarely_used(
    history: OccupancyHistory,
    programme: Programme,
    calendar: FrenchCalendar,
    use: BuildingUse | str,
    *,
    threshold: float = 0.3,
    min_days: int = 3,
) -> list[PeriodUsage]:
    """Programmed periods occupied on fewer than ``threshold`` of the days they apply to.

    Only days the programme applies to count (not public or school holidays), and a
    period needs ``min_days`` of them to be judged: a suggestion for a person to shorten
    the programme, never applied by itself.
    """
    found: list[PeriodUsage] = []
    for weekday in range(7):
        for period in programme.periods(weekday):
            used = [
                bool(slots[_period_slots(period)].any())
                for day, slots in history.days.items()
                if day.weekday() == weekday
                and period in programmed_periods(programme, calendar, use, day)
            ]
            if len(used) >= min_days and (share := sum(used) / len(used)) < threshold:
                found.append(PeriodUsage(weekday, period, share, len(used)))
    return found
