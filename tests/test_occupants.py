"""Stochastic occupants of the demo commune over the 2024-2025 school year (zone B)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from controllers.schedule import FrenchCalendar, is_programmed
from gtb.config import load_site
from gtb.model import Site
from gtb.sim.occupants import SLOTS_PER_DAY, TRAITS, Occupants, local_slots
from tests.conftest import DEMO_SITE

PARIS = ZoneInfo("Europe/Paris")
CALENDAR = FrenchCalendar("B")
TERM = (date(2024, 9, 2), date(2025, 7, 4))


def slot(hour: int, minute: int = 0) -> int:
    return (hour * 60 + minute) // 5


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(DEMO_SITE)


@pytest.fixture(scope="module")
def occupants(site: Site) -> Occupants:
    return Occupants(site, seed=11)


def closed_days(occupants: Occupants, building: str) -> dict[date, str]:
    return {c.day: c.kind for year in (2024, 2025) for c in occupants.closures(building, year)}


def test_classrooms_follow_the_school_calendar(occupants: Occupants) -> None:
    closures = closed_days(occupants, "ecole")
    school_days = holidays = 0
    for day in days(*TERM):
        counts = occupants.day("ecole.elementaire", day)
        if CALENDAR.is_public_holiday(day) or day.weekday() >= 5:
            if day.weekday() < 5:
                assert counts.max() == 0, day
            continue
        if CALENDAR.is_school_holiday(day):
            holidays += 1
            assert counts.max() == 0, day
        elif day in closures:
            assert counts[slot(10)] < 60, day  # closed, or a strike: few pupils
        else:
            school_days += 1
            assert counts[slot(10)] > 90, day  # 115 pupils, a few absent
            assert counts[slot(12, 15)] < 15, day  # lunch: canteen or home
            assert (counts[slot(14, 30)] > 90) == (day.weekday() != 2), day
            assert counts[slot(3)] == 0, day
    assert school_days > 140 and holidays > 30


def test_wednesday_afternoons_are_empty(occupants: Occupants) -> None:
    wednesdays = [d for d in days(*TERM) if d.weekday() == 2]
    for day in wednesdays:
        for zone in ("ecole.maternelle", "ecole.elementaire", "ecole.cantine"):
            counts = occupants.day(zone, day)
            assert counts[slot(13) :].max() == 0, (zone, day)
    mornings = [occupants.day("ecole.elementaire", d)[slot(10)] for d in wednesdays
                if not CALENDAR.is_school_holiday(d)]
    assert np.median(mornings) > 90


def test_staff_arrive_at_slightly_different_times(occupants: Occupants) -> None:
    first_arrivals = []
    for day in days(date(2025, 1, 6), date(2025, 6, 27)):
        if day.weekday() >= 5 or CALENDAR.is_public_holiday(day):
            continue
        occupied = np.flatnonzero(occupants.day("mairie.bureaux", day))
        if occupied.size:
            first_arrivals.append(occupied[0] * 5)
    spread = float(np.std(first_arrivals))
    assert 2.0 <= spread <= 25.0, spread
    assert 7 * 60 + 30 < np.median(first_arrivals) < 8 * 60 + 45


def test_the_council_room_is_used_far_less_than_programmed(occupants: Occupants,
                                                            site: Site) -> None:
    mairie = site.buildings[0]
    room = next(z for z in mairie.zones if z.id == "salle-du-conseil")
    programme = site.programme_of(mairie, room)
    programmed = occupied_when_programmed = occupied_otherwise = 0
    for day in days(date(2025, 1, 1), date(2025, 12, 31)):
        counts = occupants.day("mairie.salle-du-conseil", day)
        for index in range(SLOTS_PER_DAY):
            wall = datetime(day.year, day.month, day.day) + timedelta(minutes=5 * index)
            if is_programmed(programme, wall):
                programmed += 1
                occupied_when_programmed += counts[index] > 0
            else:
                occupied_otherwise += counts[index] > 0
    assert occupied_when_programmed < 0.15 * programmed
    assert occupied_otherwise > 50  # evening councils, Saturday weddings, elections


def test_a_gym_association_starts_partway_through_the_season(occupants: Occupants) -> None:
    clubs = occupants.associations("gymnase", 2024)
    late = [c for c in clubs if c.first_day > date(2024, 12, 1)]
    early = [c for c in clubs if c.last_day < date(2025, 5, 1)]
    assert late and early
    for club, before in ((late[0], True), (early[0], False)):
        active_days = quiet_days = 0
        for day in days(date(2024, 9, 16), date(2025, 6, 20)):
            if (day.weekday() != club.weekday or CALENDAR.is_school_holiday(day)
                    or CALENDAR.is_public_holiday(day) or day in closed_days(occupants,
                                                                             "gymnase")):
                continue
            inside = occupants.day("gymnase.salle", day)[
                slot(0, club.start + 15) : slot(0, club.end - 15)]
            running = club.first_day <= day <= club.last_day
            if running:
                active_days += 1
                assert inside.min() > 0, (club.name, day)
            else:
                quiet_days += 1
                assert inside.max() == 0, (club.name, day)
        assert active_days >= 6 and quiet_days >= 6, (club, before)


def test_events_and_closures_happen_over_a_season(occupants: Occupants) -> None:
    for building in ("mairie", "ecole", "gymnase", "mediatheque", "creche"):
        events = occupants.events(building, 2025)
        closures = occupants.closures(building, 2025)
        assert events and closures, building
        zones = [k for k in occupants.zone_keys if k.startswith(building + ".")]
        for closure in closures:
            if closure.kind == "closed":
                for zone in zones:
                    assert occupants.day(zone, closure.day).max() == 0, (zone, closure)
        for event in events:
            middle = slot(0, (event.start + event.end) // 2)
            for zone_id in event.zone_ids:
                assert occupants.day(f"{building}.{zone_id}", event.day)[middle] > 0, event


def test_class_visits_fill_the_library_outside_its_opening_hours(
        occupants: Occupants) -> None:
    visits = 0
    for day in days(*TERM):
        counts = occupants.day("mediatheque.lecture", day)
        if day.weekday() in (1, 3, 4) and counts[slot(10)] > 15:
            visits += 1
    assert visits >= 10


def test_same_seed_same_occupants_whatever_the_order(site: Site) -> None:
    one, two = Occupants(site, seed=4), Occupants(site, seed=4)
    dates = [date(2025, 3, 12), date(2025, 1, 6), date(2025, 6, 14)]
    first = [one.day("gymnase.salle", d).copy() for d in dates]
    second = [two.day("gymnase.salle", d).copy() for d in reversed(dates)][::-1]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    other = Occupants(site, seed=5)
    assert any(not np.array_equal(other.day("mairie.accueil", d), one.day("mairie.accueil", d))
               for d in dates)


def test_local_slots_on_daylight_saving_days() -> None:
    spring = np.arange(datetime(2025, 3, 30, tzinfo=PARIS).timestamp(),
                       datetime(2025, 3, 31, tzinfo=PARIS).timestamp(), 300.0)
    ordinals, slots = local_slots(spring, PARIS)
    assert len(spring) == 23 * 12
    assert set(ordinals) == {date(2025, 3, 30).toordinal()}
    assert set(range(SLOTS_PER_DAY)) - set(slots) == set(range(slot(2), slot(3)))
    autumn = np.arange(datetime(2025, 10, 26, tzinfo=PARIS).timestamp(),
                       datetime(2025, 10, 27, tzinfo=PARIS).timestamp(), 300.0)
    ordinals, slots = local_slots(autumn, PARIS)
    assert len(autumn) == 25 * 12
    assert set(ordinals) == {date(2025, 10, 26).toordinal()}
    repeated = np.bincount(slots, minlength=SLOTS_PER_DAY)
    assert set(np.flatnonzero(repeated == 2)) == set(range(slot(2), slot(3)))


def test_counts_use_the_local_time_of_utc_instants(occupants: Occupants) -> None:
    elementaire = occupants.zone_keys.index("ecole.elementaire")
    assert {date(2025, 4, 1), date(2025, 11, 3)}.isdisjoint(closed_days(occupants, "ecole"))
    summer_tuesday = occupants.counts(np.array([
        datetime(2025, 4, 1, 6, 30, tzinfo=UTC).timestamp(),  # 08:30 CEST
        datetime(2025, 4, 1, 5, 0, tzinfo=UTC).timestamp(),  # 07:00 CEST
    ]))
    assert summer_tuesday[0, elementaire] > 90 and summer_tuesday[1, elementaire] == 0
    winter_monday = occupants.counts(np.array([
        datetime(2025, 11, 3, 7, 30, tzinfo=UTC).timestamp(),  # 08:30 CET
        datetime(2025, 11, 3, 6, 0, tzinfo=UTC).timestamp(),  # 07:00 CET
    ]))
    assert winter_monday[0, elementaire] > 90 and winter_monday[1, elementaire] == 0


def test_traits_are_plausible() -> None:
    for profile, traits in TRAITS.items():
        assert 55 <= traits.sensible_w <= 200, profile
        assert 10 <= traits.co2_lph <= 70, profile
        assert 15 <= traits.fresh_air_m3h <= 30, profile


def test_a_creches_children_come_on_weekdays_between_its_opening_and_closing(
        occupants: Occupants) -> None:
    """Carers from a quarter of an hour before 07:30, children from 07:30, all gone soon
    after 18:30; weekdays only, open in school holidays with fewer children, shut three weeks
    in August and from Christmas to New Year; no two days alike."""
    section = "creche.grands"
    closures = closed_days(occupants, "creche")
    counts: dict[date, np.ndarray] = {d: occupants.day(section, d)
                                      for d in days(date(2024, 9, 2), date(2025, 8, 31))}
    for day, count in counts.items():
        if day.weekday() >= 5 or day in closures or CALENDAR.is_public_holiday(day):
            assert count.max() == 0, day
            continue
        assert count[: slot(7, 10)].max() == 0 and count[slot(19):].max() == 0, day
        assert count[slot(7, 20)] == 1, day  # the opening carer only
        assert count[slot(10)] >= 4, day  # two carers and their children
    summer = sorted(d for d in closures if (d.year, d.month) == (2025, 8) and d.weekday() < 5)
    assert len(summer) == 15 and [d.weekday() for d in summer[:1]] == [0]
    assert date(2024, 12, 24) in closures and date(2024, 12, 31) in closures
    term = [counts[d][slot(10)] for d in days(date(2025, 1, 6), date(2025, 2, 14))
            if d.weekday() < 5 and d not in closures]
    holidays = [counts[d][slot(10)] for d in days(date(2025, 4, 14), date(2025, 4, 25))
                if d.weekday() < 5 and not CALENDAR.is_public_holiday(d)]
    assert holidays and min(holidays) > 0  # open in the school holidays (zone B, spring)
    assert np.mean(holidays) < np.mean(term)
    mornings = {tuple(counts[d][slot(7, 30):slot(9, 30)]) for d in days(
        date(2025, 1, 6), date(2025, 1, 31)) if d.weekday() < 5}
    assert len(mornings) >= 15  # arrivals differ every day
