"""Learning arrivals and departures: on hand-made histories and on the demo commune's
simulated occupants (``gtb.sim.occupants``), all in Europe/Paris wall-clock time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from controllers.occupancy import (
    SLOTS_PER_DAY,
    ArrivalForecast,
    OccupancyHistory,
    _learn_day,
    _learn_day_afresh,
    day_slots,
    first_runs,
    predict,
    rarely_used,
)
from controllers.schedule import FrenchCalendar, programmed_periods
from gtb.model import Site
from gtb.model.calendar import Programme
from gtb.model.learning import DEFAULT_LEARNING, LearningSettings
from gtb.model.points import Role
from gtb.sim.occupants import Occupants

PARIS = ZoneInfo("Europe/Paris")
CALENDAR = FrenchCalendar("B")
OFFICE = Programme(mon=("08:30-17:30",), tue=("08:30-17:30",), wed=("08:30-17:30",),
                   thu=("08:30-17:30",), fri=("08:30-17:30",))
SCHOOL = Programme(mon=("08:20-16:30",), tue=("08:20-16:30",), thu=("08:20-16:30",),
                   fri=("08:20-16:30",))

Intervals = Callable[[date], list[tuple[float, float]]]
"""For a day, the occupied intervals in minutes after local midnight."""


def presence(day: date, intervals: list[tuple[float, float]]) -> np.ndarray:
    """A day of slots from 5-minute presence samples, as a detector would give them."""
    midnight = datetime.combine(day, time(), tzinfo=PARIS).astimezone(UTC)
    samples = []
    for step in range(0, 25 * 60, 5):
        moment = midnight + timedelta(minutes=step)
        local = moment.astimezone(PARIS)
        minutes = local.hour * 60 + local.minute
        samples.append((moment, any(a <= minutes < b for a, b in intervals)))
    return day_slots(samples, day, PARIS)


def quarter_hours(counts: np.ndarray) -> np.ndarray:
    """The simulator's 5-minute headcounts as 15-minute presence slots."""
    return np.asarray(counts.reshape(SLOTS_PER_DAY, 3).any(axis=1), dtype=np.bool_)


def history_of(first: date, last: date, intervals: Intervals) -> OccupancyHistory:
    history = OccupancyHistory()
    day = first
    while day <= last:
        history.add(day, presence(day, intervals(day)))
        day += timedelta(days=1)
    return history


def staff(seed: int, arrive: float = 8 * 60 + 5, leave: float = 17 * 60 + 30,
          spread: float = 10.0) -> Intervals:
    """Staff in on working days, arriving ``arrive`` ± ``spread`` minutes."""
    rng = np.random.default_rng(seed)

    def day(d: date) -> list[tuple[float, float]]:
        if CALENDAR.day_type(d, "mairie") != "working_day":
            return []
        return [(arrive + rng.normal(0, spread), leave + rng.normal(0, 5))]

    return day


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def minutes(moment: datetime | None) -> int:
    assert moment is not None
    return moment.hour * 60 + moment.minute


def forecast(history: OccupancyHistory, now: datetime, use: str = "mairie",
             programme: Programme = OFFICE) -> ArrivalForecast:
    return predict(history, now, CALENDAR, use, programme)


COLD_START = date(2026, 10, 5)  # a Monday, two weeks before the autumn school holidays
# 16 weeks of weekdays, up to the Sunday before Monday 28 April 2025 (Easter Monday is
# 21 April: a public holiday, not a Monday like the others).
FIRST, LAST, MONDAY = date(2025, 1, 6), date(2025, 4, 27), date(2025, 4, 28)


@pytest.mark.parametrize("seed", range(5))
def test_it_finds_when_staff_really_arrive(seed: int) -> None:
    """Arrivals at 08:05 ± 10 min: warm for nine in ten means about 07:52, not 08:05."""
    result = forecast(history_of(FIRST, LAST, staff(seed)), at(MONDAY, 5))
    assert result.basis == "learned"
    assert result.start is not None and result.start.date() == MONDAY
    assert abs(minutes(result.start) - (7 * 60 + 50)) <= 10, result.reason.fr
    assert abs(minutes(result.end) - (17 * 60 + 30)) <= 20
    assert result.similar_days == 15 and result.confidence > 0.9
    assert "arrivée prévue à" in result.reason.fr and "arrival expected at" in result.reason.en


def test_it_finds_the_demo_staff_habits(demo_site: Site) -> None:
    """The simulator's office staff: the forecast is the observed 10th percentile, to a
    quarter of an hour (the slots' resolution)."""
    occupants = Occupants(demo_site, seed=5)
    history = OccupancyHistory()
    observed = []
    day = FIRST
    while day <= LAST:
        counts = occupants.day("mairie.bureaux", day)
        history.add(day, quarter_hours(counts))
        if day.weekday() == 0 and CALENDAR.day_type(day, "mairie") == "working_day":
            observed.append(int(np.flatnonzero(counts)[0]) * 5)
        day += timedelta(days=1)
    building = demo_site.buildings[0]
    assert building.programme is not None
    result = predict(history, at(MONDAY, 6), CALENDAR, "mairie", building.programme)
    assert result.basis == "learned" and result.confidence > 0.8
    assert abs(minutes(result.start) - np.percentile(observed, 10)) <= 15


def test_it_adapts_to_a_new_thursday_evening_use() -> None:
    """A club starts on Thursdays at 18:30: one Thursday is an odd day, two are a habit."""
    base = staff(1, leave=17 * 60)
    history = history_of(date(2024, 10, 14), date(2025, 2, 5), base)
    club = date(2025, 2, 6)  # no public holiday on the Thursdays around (unlike May)
    learned_after = None
    for count in range(4):
        thursday = club + timedelta(weeks=count)
        result = forecast(history, at(thursday, 18))
        evening = result.start is not None and result.start.date() == thursday
        if evening:
            assert minutes(result.start) == 18 * 60 + 30
            assert abs(minutes(result.end) - (20 * 60 + 30)) <= 15
            learned_after = learned_after if learned_after is not None else count
        else:
            assert result.start is not None and result.start.date() > thursday
        for offset in range(7):  # the week of the club's Thursday, as it happened
            day = thursday + timedelta(days=offset)
            extra: list[tuple[float, float]] = [(18 * 60 + 30, 20 * 60 + 30)] if not offset else []
            history.add(day, presence(day, base(day) + extra))
    assert learned_after == 2


def test_one_odd_day_does_not_move_the_forecast() -> None:
    history = history_of(FIRST, LAST, staff(2))
    before = forecast(history, at(MONDAY, 4))
    odd = MONDAY - timedelta(weeks=2)  # the heaviest Monday (21 April is Easter Monday)
    history.add(odd, presence(odd, [(5 * 60, 17 * 60 + 30)]))
    after = forecast(history, at(MONDAY, 4))
    assert after.basis == "learned" and after.similar_days == before.similar_days
    assert " sur 14 " in after.reason.fr  # 15 Mondays, the odd one set aside
    assert abs(minutes(after.start) - minutes(before.start)) < 15
    assert minutes(after.start) > 7 * 60


@pytest.mark.parametrize("odd_mondays", [
    ((12, 5 * 60), (13, 5 * 60)),  # the same hour, but months ago: they weigh next to nothing
    ((2, 5 * 60), (4, 6 * 60 + 30)),  # heavy enough, but not the same hour: none comes back
])
def test_odd_days_that_do_not_recur_do_not_move_the_forecast(
        odd_mondays: tuple[tuple[int, int], ...]) -> None:
    history = history_of(FIRST, LAST, staff(2))
    before = forecast(history, at(MONDAY, 4))
    for weeks_ago, arrival in odd_mondays:
        odd = MONDAY - timedelta(weeks=weeks_ago + 1)  # 21 April is Easter Monday
        history.add(odd, presence(odd, [(arrival, 17 * 60 + 30)]))
    after = forecast(history, at(MONDAY, 4))
    assert after.basis == "learned" and " sur 13 " in after.reason.fr  # the two set aside
    assert abs(minutes(after.start) - minutes(before.start)) < 15


LIBRARY = Programme(tue=("14:00-18:00",), wed=("10:00-12:00", "14:00-18:00"),
                    fri=("14:00-19:00",), sat=("10:00-17:00",))


def library(phase: int) -> Intervals:
    """A reading room: staff in 20 minutes before the opening, and a class from 09:30 to
    10:30 on every other school Tuesday (the weeks of parity ``phase``), as
    gtb.sim.occupants' class visits come on about half of them."""

    def day(d: date) -> list[tuple[float, float]]:
        periods = [(p.start.hour * 60 + p.start.minute - 20, p.end.hour * 60 + 10)
                   for p in programmed_periods(LIBRARY, CALENDAR, "mediatheque", d)
                   if p.end is not None]
        school = CALENDAR.day_type(d, "ecole") == "school_day"
        if d.weekday() == 1 and school and d.isocalendar().week % 2 == phase:
            periods.append((9 * 60 + 30, 10 * 60 + 30))
        return periods

    return day


@pytest.mark.parametrize("phase", [0, 1])
def test_a_second_mode_on_about_half_the_days_is_kept(phase: int) -> None:
    """Class visits at 09:30 on every other school Tuesday are not odd days: the zone is
    warm for them, whether the class came on the newest Tuesday or not; once their hour
    has passed, the forecast moves on to the staff's arrival before the 14:00 opening."""
    history = history_of(FIRST, LAST, library(phase))
    tuesday = MONDAY + timedelta(days=1)
    morning = forecast(history, at(tuesday, 6), "mediatheque", LIBRARY)
    assert morning.basis == "learned" and morning.similar_days == 16
    assert minutes(morning.start) == 9 * 60 + 30, morning.reason.fr
    assert "16 arrivées sur 16" in morning.reason.fr  # none set aside
    assert minutes(morning.end) >= 18 * 60
    later = forecast(history, at(tuesday, 11), "mediatheque", LIBRARY)
    assert minutes(later.start) == 13 * 60 + 30, later.reason.fr


def test_a_cold_start_with_one_observed_day_keeps_both_arrivals() -> None:
    """One day of the weekday and the programme: two arrivals, neither far from a
    majority, so nothing is set aside; the learned period runs from the earlier of the
    two arrivals to the later end."""
    history = OccupancyHistory()
    tuesday = date(2025, 3, 4)
    history.add(tuesday, presence(tuesday, [(9 * 60 + 30, 10 * 60 + 30),
                                            (13 * 60 + 40, 17 * 60 + 10)]))
    result = forecast(history, at(tuesday + timedelta(weeks=1), 6), "mediatheque", LIBRARY)
    assert result.basis == "learned" and result.similar_days == 1
    assert minutes(result.start) == 9 * 60 + 30 and minutes(result.end) == 18 * 60


def test_the_runs_of_a_day_bridge_one_empty_slot() -> None:
    slots = np.zeros(SLOTS_PER_DAY, dtype=np.bool_)
    slots[[32, 33, 34, 36, 80]] = True  # 08:00-08:45, 09:00, 20:00
    table = first_runs(slots)
    assert tuple(table[0]) == tuple(table[32]) == (32, 37)  # 08:45 empty, bridged
    assert tuple(table[35]) == (36, 37) and tuple(table[37]) == (80, 81)
    assert tuple(table[81]) == (SLOTS_PER_DAY, SLOTS_PER_DAY)  # nobody after 20:15


@pytest.mark.parametrize("weeks", [0, 1, 16])
def test_forecasts_from_quiet_slots_share_the_answer_of_the_next_busy_one(
        weeks: int) -> None:
    """Forecasts made from a slot where nobody was ever seen nor programmed are those made
    from the next slot where somebody was (the cache of the forecasts made at night):
    the same answer as worked out afresh from each slot, with stand-ins or not."""
    tuesday = date(2025, 4, 29)
    history = history_of(tuesday - timedelta(weeks=weeks, days=3), tuesday - timedelta(days=1),
                         library(0))
    for use, programme in (("mediatheque", LIBRARY), ("mairie", OFFICE)):
        for slot in range(SLOTS_PER_DAY):
            arguments = (history, CALENDAR, use, programme, tuesday, slot, DEFAULT_LEARNING)
            assert _learn_day(*arguments) == _learn_day_afresh(*arguments), slot


def test_unexpected_visits_on_the_days_skipped_are_reported() -> None:
    """A room used on Fridays only, and now and then on a Tuesday (one in six)."""

    def room(d: date) -> list[tuple[float, float]]:
        if d.weekday() == 4:
            return [(14 * 60, 17 * 60)]
        if d.weekday() == 1 and d.isocalendar().week % 6 == 0:
            return [(10 * 60, 11 * 60)]
        return []

    history = history_of(FIRST, LAST, room)
    result = forecast(history, at(MONDAY, 6))
    assert result.basis == "learned" and result.start == at(MONDAY + timedelta(days=4), 14)
    assert 0.05 < result.surprise < 0.4  # the Tuesdays; the other days say never
    quiet = history_of(FIRST, LAST, lambda d: room(d) if d.weekday() == 4 else [])
    assert forecast(quiet, at(MONDAY, 6)).surprise == 0.0


def test_a_school_holiday_monday_is_not_a_school_monday() -> None:
    """School Mondays from 08:20; the holiday centre opens 09:30 on holiday Mondays."""

    def school(d: date) -> list[tuple[float, float]]:
        kind = CALENDAR.day_type(d, "ecole")
        if d.weekday() == 0 and kind == "school_holiday":
            return [(9 * 60 + 30, 17 * 60)]
        return [(8 * 60 + 20, 16 * 60 + 30)] if kind == "school_day" else []

    history = history_of(date(2024, 11, 4), date(2025, 3, 9), school)
    holiday = forecast(history, at(date(2025, 2, 17), 6), "ecole", SCHOOL)  # zone B winter
    term = forecast(history, at(date(2025, 3, 3), 6), "ecole", SCHOOL)
    assert holiday.basis == term.basis == "learned"
    assert holiday.similar_days == 3  # 23 and 30 December, 10 February
    assert minutes(holiday.start) == 9 * 60 + 30
    assert minutes(term.start) == 8 * 60 + 15  # the slot the 08:20 arrivals fall in


def test_the_programme_answers_until_the_observed_days_weigh_as_much() -> None:
    """The programme weighs ``programme_prior_days`` (1.5 here); a past Monday weighs 1 for
    a Monday, a past Friday (which the programme treats alike) half of that."""
    settings = LearningSettings(programme_prior_days=1.5)
    history = OccupancyHistory()
    assert predict(history, at(MONDAY, 6), CALENDAR, "mairie", OFFICE).basis == "programme"
    monday, friday = date(2025, 4, 14), date(2025, 4, 25)  # 21 April is Easter Monday
    history.add(monday, presence(monday, [(7 * 60 + 30, 17 * 60 + 30)]))
    result = predict(history, at(MONDAY, 6), CALENDAR, "mairie", OFFICE, settings=settings)
    assert result.basis == "programme" and result.similar_days == 1
    assert result.start == at(MONDAY, 8, 30) and result.end == at(MONDAY, 17, 30)
    assert "historique trop court pour lundi 28/04 : les jours observés pèsent 1,0 jour, " \
        "le programme 1,5" in result.reason.fr
    assert "history too short" in result.reason.en
    history.add(friday, presence(friday, [(7 * 60 + 30, 17 * 60 + 30)]))
    result = predict(history, at(MONDAY, 6), CALENDAR, "mairie", OFFICE, settings=settings)
    assert result.basis == "learned" and result.similar_days == 2
    assert minutes(result.start) < 8 * 60 and "programme pour 50 %" in result.reason.fr
    apart = settings.model_copy(update={"other_weekday_weight": 0.0})
    assert predict(history, at(MONDAY, 6), CALENDAR, "mairie", OFFICE,
                   settings=apart).basis == "programme"
    # With the default weight (half a day), the one Monday is enough.
    assert predict(history, at(MONDAY, 6), CALENDAR, "mairie", OFFICE).basis == "learned"


def test_other_weekdays_stand_in_only_where_the_programme_treats_them_alike() -> None:
    """A school's Monday and Tuesday tell about Thursday (the same hours) and about
    Wednesday morning (the same arrival; their ends moved by the programme's five hours
    less), not about Friday, which starts later and waits for a Friday of its own."""
    school = Programme(mon=("08:20-16:30",), tue=("08:20-16:30",), wed=("08:20-11:30",),
                       thu=("08:20-16:30",), fri=("09:20-16:30",))
    monday = date(2025, 3, 3)
    history = history_of(monday, monday + timedelta(days=1),
                         lambda d: [(7 * 60 + 45, 16 * 60 + 40)])

    def on(days: int) -> ArrivalForecast:
        return predict(history, at(monday + timedelta(days=days), 0), CALENDAR, "ecole",
                       school)

    wednesday, thursday, friday = on(2), on(3), on(4)
    assert thursday.basis == "learned" and thursday.similar_days == 2
    assert minutes(thursday.start) == 7 * 60 + 45
    assert minutes(thursday.end) == 16 * 60 + 45  # the slot the 16:40 departures fall in
    assert wednesday.basis == "learned" and wednesday.similar_days == 2
    assert minutes(wednesday.start) == 7 * 60 + 45
    assert minutes(wednesday.end) == 11 * 60 + 45  # five hours before Monday's
    assert friday.basis == "programme" and friday.end == at(monday + timedelta(days=4),
                                                            16, 30)


def test_a_day_of_the_same_weekday_takes_the_place_of_the_other_weekdays() -> None:
    """Once a weekday's own days weigh as much as the programme, they alone speak for
    it: a Monday routine does not hide that Tuesday mornings start later."""
    def routine(d: date) -> list[tuple[float, float]]:
        start = 10 * 60 if d.weekday() == 1 else 7 * 60 + 30
        return [(start, 17 * 60)] if d.weekday() < 5 else []

    history = history_of(date(2025, 3, 3), date(2025, 3, 9), routine)
    tuesday = forecast(history, at(date(2025, 3, 11), 0))
    assert tuesday.basis == "learned" and tuesday.similar_days == 1
    # Between the programme's 08:30 (a third of the weight) and the Tuesday's 10:00;
    # not the Mondays' 07:30.
    assert 8 * 60 + 30 <= minutes(tuesday.start) <= 10 * 60


def first_arrival(counts: np.ndarray) -> int | None:
    """The simulator's first occupied minute of a day (5-minute slots)."""
    occupied = np.flatnonzero(counts)
    return None if occupied.size == 0 else int(occupied[0]) * 5


@pytest.mark.parametrize("seed", [0, 1])
def test_every_demo_zone_learns_its_arrivals_by_its_fifth_working_day(
        demo_site: Site, seed: int) -> None:
    """A cold start on Monday 5 October 2026: each zone with a presence detector is asked
    at midnight before each of its working days (the days its programme has a period)
    for that day's arrival, and the day's detector slots join its history at the end
    of the day. By its fifth working day every zone's forecast is learned (the media
    library's reading room, whose four opening days differ, on its third: its Friday
    opens at 14:00 as its Tuesday does, and its Wednesday morning waits for a Wednesday),
    and the learned arrivals err early: later than the real first
    arrival on about one day in eight (``arrival_share`` 0.9 aims at one in ten), hardly
    ever by more than a quarter of an hour (the slots' resolution)."""
    occupants = Occupants(demo_site, seed=seed)
    bases: dict[str, list[tuple[int, str]]] = {}  # (weekday, basis) of its working days
    errors: list[int] = []
    detected = [(building, zone) for building in demo_site.buildings for zone in building.zones
                if any(p.role is Role.OCCUPANCY for p in zone.points)]
    for building, zone in detected:
        key, programme = f"{building.id}.{zone.id}", demo_site.programme_of(building, zone)
        history, bases[key] = OccupancyHistory(), []
        for day in (COLD_START + timedelta(days=n) for n in range(28)):  # 25 Oct: DST
            counts = occupants.day(key, day)
            if programmed_periods(programme, CALENDAR, building.use, day):
                result = predict(history, at(day, 0), CALENDAR, building.use, programme)
                bases[key].append((day.weekday(), result.basis))
                real = first_arrival(counts)
                if result.basis == "learned" and result.start is not None and (
                        result.start.date() == day and real is not None):
                    errors.append(minutes(result.start) - real)
            history.add(day, quarter_hours(counts))
    first_learned = {key: [basis for _, basis in days].index("learned") + 1
                     for key, days in bases.items()}
    assert len(first_learned) == len(detected) >= 11
    assert max(first_learned.values()) <= 5, first_learned
    assert first_learned["mediatheque.lecture"] == 3
    # The programme answers again only on the first day of a weekday that the programme
    # treats apart (a school's Wednesday, the town hall's Saturday).
    for days in bases.values():
        assert all(basis == "learned" or weekday not in {w for w, _ in days[:n]}
                   for n, (weekday, basis) in enumerate(days)), days
    late = np.array(errors) > 0
    assert len(errors) > 100 and late.mean() < 0.2
    assert (np.array(errors) > 15).mean() < 0.03
    assert np.median(errors) <= 0


def test_the_council_room_is_programmed_but_rarely_used(demo_site: Site) -> None:
    occupants = Occupants(demo_site, seed=7)
    building = demo_site.buildings[0]
    assert building.programme is not None
    found = {}
    for zone in ("salle-du-conseil", "bureaux"):
        history = history_of(FIRST, LAST, lambda d: [])
        for day in history.days:
            counts = occupants.day(f"mairie.{zone}", day)
            history.add(day, quarter_hours(counts))
        found[zone] = rarely_used(history, building.programme, CALENDAR, "mairie")
    council = found["salle-du-conseil"]
    weekday_periods = sum(len(building.programme.periods(w)) for w in range(5))
    assert len([u for u in council if u.weekday < 5]) == weekday_periods
    assert all(u.usage_share < 0.3 and u.days >= 15 for u in council)
    assert [u for u in found["bureaux"] if u.weekday < 5] == []


@pytest.mark.parametrize(
    ("day", "utc_first", "utc_last", "occupied"),
    [
        # 30 March 2025: 02:00 becomes 03:00, the 02:00-03:00 slots never happen.
        (date(2025, 3, 30), datetime(2025, 3, 29, 23, tzinfo=UTC),
         datetime(2025, 3, 30, 2, tzinfo=UTC), [*range(8), *range(12, 16)]),
        # 26 October 2025: 03:00 becomes 02:00, both 02:00 hours fill the same slots.
        (date(2025, 10, 26), datetime(2025, 10, 25, 22, tzinfo=UTC),
         datetime(2025, 10, 26, 3, tzinfo=UTC), list(range(16))),
    ],
)
def test_day_slots_follow_the_wall_clock_on_daylight_saving_days(
    day: date, utc_first: datetime, utc_last: datetime, occupied: list[int]
) -> None:
    """Presence from local midnight to 04:00 (wall clock), sampled every 5 minutes."""
    samples = []
    moment = utc_first
    while moment < utc_last:
        samples.append((moment, True))
        moment += timedelta(minutes=5)
    samples.append((datetime.combine(day, time(12, 5)), False))  # naive local, absent
    samples.append((datetime.combine(day, time(14, 50)), True))  # naive local, present
    samples.append((datetime(2025, 1, 1, 12, tzinfo=PARIS), True))  # another day
    slots = day_slots(samples, day, PARIS)
    assert slots.shape == (96,)
    assert sorted(np.flatnonzero(slots).tolist()) == [*occupied, 59]


def test_bad_input_is_refused() -> None:
    history = OccupancyHistory()
    with pytest.raises(ValueError, match="96 slots"):
        history.add(FIRST, [True] * 24)
    with pytest.raises(ValueError, match="arrival_share"):
        LearningSettings(arrival_share=1.5)  # a share is in 0..1, as predict takes it
    with pytest.raises(ValueError, match="programme_prior_days"):
        LearningSettings(programme_prior_days=0)  # the programme always counts
    # Days halving in weight every day: a weekday's own days never weigh more than 1.01.
    with pytest.raises(ValueError, match=r"programme_prior_days \(2\) must not be above 1.01"):
        LearningSettings(programme_prior_days=2, half_life_days=1)
