"""Programmes, events and the cabinets' agenda entries on the two daylight-saving nights
of 2026 in Europe/Paris: one rule (``controllers.schedule.wall_instant``). A time in the
hour skipped in spring (29 March, 02:00 becomes 03:00) is read as 03:00; a time in the
hour lived twice in autumn (25 October, 03:00 becomes 02:00) at its first occurrence, so
that every period happens once, without a gap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from controllers.heating import elapsed
from controllers.lighting import cabinet_decision, timetable
from controllers.schedule import FrenchCalendar, is_programmed, occupation
from gtb.model import Site
from gtb.model.calendar import AgendaEntry, Programme

PARIS = ZoneInfo("Europe/Paris")
CALENDAR = FrenchCalendar("B")
SPRING = date(2026, 3, 29)  # a Sunday
AUTUMN = date(2026, 10, 25)  # a Sunday


def sunday(period: str) -> Programme:
    return Programme(sun=(period,))


def instants(day: date) -> list[datetime]:
    """Every five minutes of real time from 22:00 the evening before to 06:00, local."""
    start = datetime(day.year, day.month, day.day, tzinfo=PARIS) - timedelta(hours=2)
    end = datetime(day.year, day.month, day.day, 6, tzinfo=PARIS)
    count = int((end.astimezone(UTC) - start.astimezone(UTC)) / timedelta(minutes=5))
    return [(start.astimezone(UTC) + timedelta(minutes=5 * n)).astimezone(PARIS)
            for n in range(count)]


def runs(day: date, occupied: Callable[[datetime], bool]) -> list[tuple[datetime, datetime]]:
    """The stretches of real time (start, end) the predicate holds on ``day``'s night.
    Counted in UTC: two local times of one zone compare by the wall clock, fold aside."""
    found: list[tuple[datetime, datetime]] = []
    step = timedelta(minutes=5)
    for moment in instants(day):
        if not occupied(moment):
            continue
        instant = moment.astimezone(UTC)
        if found and found[-1][1] == instant:
            found[-1] = (found[-1][0], instant + step)
        else:
            found.append((instant, instant + step))
    return [(start.astimezone(PARIS), end.astimezone(PARIS)) for start, end in found]


def wall(moment: datetime) -> tuple[str, int]:
    """A local time as the clock shows it, with its offset from UTC in hours."""
    offset = moment.utcoffset()
    assert offset is not None
    return moment.astimezone(PARIS).strftime("%H:%M"), int(offset / timedelta(hours=1))


def programme_runs(day: date, period: str) -> list[tuple[datetime, datetime]]:
    """The occupied stretches of a Sunday programme, asked of ``occupation`` and checked
    against ``is_programmed`` at every instant."""
    programme = sunday(period)

    def occupied(moment: datetime) -> bool:
        where = occupation(programme, CALENDAR, "autre", moment)
        assert is_programmed(programme, moment) == where.occupied, moment
        return where.occupied

    return runs(day, occupied)


def test_spring_a_period_starting_in_the_missing_hour_starts_at_three() -> None:
    [(start, end)] = programme_runs(SPRING, "02:30-05:00")
    assert (wall(start), wall(end)) == (("03:00", 2), ("05:00", 2))
    before = occupation(sunday("02:30-05:00"), CALENDAR, "autre",
                        datetime(2026, 3, 29, 1, 45, tzinfo=PARIS))
    assert before.next_start is not None and wall(before.next_start) == ("03:00", 2)


def test_spring_a_period_ending_in_the_missing_hour_ends_at_three() -> None:
    [(start, end)] = programme_runs(SPRING, "01:30-02:30")
    assert (wall(start), wall(end)) == (("01:30", 1), ("03:00", 2))
    assert elapsed(start, end) == timedelta(minutes=30)
    assert programme_runs(SPRING, "02:15-02:45") == []  # no time of it exists


def test_autumn_a_period_in_the_repeated_hour_happens_once() -> None:
    # From the first 01:30 to the first 02:30: an hour, then nothing in the second pass.
    [(start, end)] = programme_runs(AUTUMN, "01:30-02:30")
    assert (wall(start), wall(end)) == (("01:30", 2), ("02:30", 2))
    second_pass = datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=PARIS)
    assert not occupation(sunday("01:30-02:30"), CALENDAR, "autre", second_pass).occupied
    during = occupation(sunday("01:30-02:30"), CALENDAR, "autre",
                        datetime(2026, 10, 25, 1, 45, tzinfo=PARIS))
    assert during.current_end is not None and wall(during.current_end) == ("02:30", 2)
    # From the first 02:00 to 03:00: both passes, one stretch of two real hours.
    [(start, end)] = programme_runs(AUTUMN, "02:00-03:00")
    assert (wall(start), wall(end)) == (("02:00", 2), ("03:00", 1))
    assert elapsed(start, end) == timedelta(hours=2)
    # Starting in the repeated hour, it starts at its first occurrence and runs on.
    [(start, end)] = programme_runs(AUTUMN, "02:30-05:00")
    assert (wall(start), wall(end)) == (("02:30", 2), ("05:00", 1))


def event(start: str, end: str, kind: str = "event", scope: tuple[str, ...] = ()
          ) -> AgendaEntry:
    return AgendaEntry(kind=kind, label="Veillée", scope=scope,
                       start=datetime.fromisoformat(start), end=datetime.fromisoformat(end))


def event_runs(day: date, entry: AgendaEntry) -> list[tuple[datetime, datetime]]:
    def occupied(moment: datetime) -> bool:
        where = occupation(Programme(), CALENDAR, "autre", moment, (entry,))
        assert (where.because == "Veillée") == where.occupied
        return where.occupied

    return runs(day, occupied)


def test_events_follow_the_same_rule() -> None:
    assert event_runs(SPRING, event("2026-03-29 02:15", "2026-03-29 02:45")) == []
    [(start, end)] = event_runs(SPRING, event("2026-03-29 02:30", "2026-03-29 05:00"))
    assert (wall(start), wall(end)) == (("03:00", 2), ("05:00", 2))
    [(start, end)] = event_runs(AUTUMN, event("2026-10-25 01:30", "2026-10-25 02:30"))
    assert (wall(start), wall(end)) == (("01:30", 2), ("02:30", 2))
    [(start, end)] = event_runs(AUTUMN, event("2026-10-25 02:15", "2026-10-25 02:45"))
    assert elapsed(start, end) == timedelta(minutes=30) and wall(start) == ("02:15", 2)


def test_a_cabinets_agenda_entries_follow_the_same_rule(demo_site: Site) -> None:
    centre = demo_site.cabinets[0]  # cut from 23:00 to 05:00
    lat, lon = demo_site.latitude, demo_site.longitude

    def lit_by(entry: AgendaEntry) -> Callable[[datetime], bool]:
        """Whether the entry keeps the cabinet lit (in the cut, where nothing else does)."""
        def lit(moment: datetime) -> bool:
            decision = cabinet_decision(centre, lat, lon, moment, (entry,))
            return decision.on and decision.event == "Veillée"
        return lit

    on = event("2026-10-25 01:30", "2026-10-25 02:30", "lights_on", (centre.id,))
    [(start, end)] = runs(AUTUMN, lit_by(on))
    assert (wall(start), wall(end)) == (("01:30", 2), ("02:30", 2))
    assert runs(SPRING, lit_by(event("2026-03-29 02:15", "2026-03-29 02:45", "lights_on",
                                     (centre.id,)))) == []
    on = event("2026-03-29 02:30", "2026-03-29 04:00", "lights_on", (centre.id,))
    [(start, end)] = runs(SPRING, lit_by(on))
    assert (wall(start), wall(end)) == (("03:00", 2), ("04:00", 2))


def test_a_night_window_starting_in_the_missing_hour_starts_at_three(demo_site: Site) -> None:
    late = demo_site.cabinets[0].model_copy(update={"cut_off": "02:30-05:00"})
    stretches = timetable(late, demo_site.latitude, demo_site.longitude, PARIS,
                          SPRING - timedelta(days=1))
    [cut] = [s for s in stretches if s.level == 0 and s.reason.code == "lighting.cut"]
    assert (wall(cut.start.astimezone(PARIS)), wall(cut.end.astimezone(PARIS))) == (
        ("03:00", 2), ("05:00", 2))
