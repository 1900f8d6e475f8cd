"""The agenda: events, closures and day exceptions over the programme and the calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from controllers.schedule import FrenchCalendar, agenda_for, occupation
from gtb.config import SiteError, SiteFileError, parse_site
from gtb.model.calendar import AgendaEntry, Programme

PARIS = ZoneInfo("Europe/Paris")
CALENDAR = FrenchCalendar("B")
OFFICE = Programme(
    mon=("08:30-12:00", "13:30-17:30"), tue=("08:30-12:00", "13:30-17:30"),
    wed=("08:30-12:00", "13:30-17:30"), thu=("08:30-12:00", "13:30-17:30"),
    fri=("08:30-12:00", "13:30-17:00"),
)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def event(label: str, start: datetime, end: datetime, **more: Any) -> AgendaEntry:
    return AgendaEntry(kind="event", label=label, start=start, end=end, **more)


def closure(label: str, start: datetime, end: datetime, **more: Any) -> AgendaEntry:
    return AgendaEntry(kind="closure", label=label, start=start, end=end, **more)


def day(label: str, first: date, *periods: str, last: date | None = None) -> AgendaEntry:
    return AgendaEntry(kind="day", label=label, first=first, last=last, periods=periods)


# -- the model -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "event", "label": "x", "start": "2026-03-10 18:30",
          "end": "2026-03-10 18:30"}, "end 2026-03-10 18:30 is not after start"),
        ({"kind": "closure", "label": "x", "start": "2026-03-10 18:30"}, "need `start` and `end`"),
        ({"kind": "event", "label": "x", "start": "2026-03-10 18:30", "end": "2026-03-10 20:00",
          "periods": ["10:00-12:00"]}, "have start and end, not first/last/periods"),
        ({"kind": "day", "label": "x", "periods": ["10:00-12:00"]}, "needs `first`"),
        ({"kind": "day", "label": "x", "first": "2026-05-02", "last": "2026-05-01"},
         "last 2026-05-01 is before first 2026-05-02"),
        ({"kind": "day", "label": "x", "first": "2026-05-02", "periods": ["12:00-10:00"]},
         "ends before it starts"),
        ({"kind": "day", "label": "x", "first": "2026-05-02",
          "periods": ["09:00-12:00", "11:00-13:00"]}, "overlap"),
        ({"kind": "event", "label": "x", "start": "2026-03-10T18:30:00+01:00",
          "end": "2026-03-10 20:00"}, "has an offset"),
        ({"kind": "holiday", "label": "x", "first": "2026-05-02"},
         "'event', 'closure', 'day', 'lights_on' or 'lights_off'"),
        ({"kind": "event", "label": "  ", "start": "2026-03-10 18:30",
          "end": "2026-03-10 20:00"}, "label must not be blank"),
        ({"kind": "event", "label": "x", "scope": ["Mairie"], "start": "2026-03-10 18:30",
          "end": "2026-03-10 20:00"}, "not a building id or building.zone"),
    ],
)
def test_an_invalid_entry_says_what_is_wrong(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AgendaEntry.model_validate(data)


SITE = """\
id: essai
name: Essai
latitude: 49.5
longitude: 3.6
school_zone: B
buildings:
  - id: mairie
    name: Mairie
    use: mairie
    floor_area_m2: 300
    zones:
      - id: bureaux
        name: Bureaux
        area_m2: 100
        points:
          - {id: temperature, role: zone_temperature, binding: {protocol: modbus,
             host: 192.0.2.1, table: input_register, address: 0, data_type: int16}}
agenda:
  - kind: event
    label: Conseil municipal
    scope: [mairie.bureaux, mairie]
    start: 2026-03-12 18:30
    end: 2026-03-12 22:30
"""


def errors_of(text: str) -> list[SiteError]:
    with pytest.raises(SiteFileError) as caught:
        parse_site(text, "site.yaml")
    return caught.value.errors


def test_a_valid_agenda_is_read_from_the_site_file() -> None:
    site = parse_site(SITE, "site.yaml")
    [entry] = site.agenda
    assert entry.label == "Conseil municipal"
    assert entry.start == datetime(2026, 3, 12, 18, 30)
    assert entry.end == datetime(2026, 3, 12, 22, 30)


def test_site_file_agenda_errors_name_their_line() -> None:
    text = SITE.replace("scope: [mairie.bureaux, mairie]", "scope: [mairie.salle, ecole]")
    text = text.replace("end: 2026-03-12 22:30", "end: 2026-03-12 17:00\n    periods: []")
    text += "  - kind: day\n    label: Fermé\n    first: 2026-05-02\n    color: red\n"
    errors = errors_of(text)
    lines = text.splitlines()
    scope_line = next(n for n, line in enumerate(lines, 1) if "scope:" in line)
    entry_line = next(n for n, line in enumerate(lines, 1) if "- kind: event" in line)
    color_line = next(n for n, line in enumerate(lines, 1) if "color:" in line)
    found = {(e.line, e.path, e.message) for e in errors}
    assert found == {
        (scope_line, "agenda[0].scope[0]", "no zone 'salle' in building 'mairie'"),
        (scope_line, "agenda[0].scope[1]", "no building or equipment 'ecole' in this site"),
        (entry_line, "agenda[0]", "end 2026-03-12 17:00 is not after start 2026-03-12 18:30"),
        (color_line, "agenda[1].color", "unknown key"),
    }
    assert str(errors[0]).startswith(f"site.yaml:{entry_line}: agenda[0]: ")


# -- scope -------------------------------------------------------------------------------


def test_scope_picks_the_zone_its_building_or_the_whole_site() -> None:
    whole = event("Fête", datetime(2026, 1, 12, 18), datetime(2026, 1, 12, 20))
    building = event("Portes ouvertes", datetime(2026, 1, 13, 9), datetime(2026, 1, 13, 12),
                     scope=("ecole",))
    zone = event("Conseil", datetime(2026, 1, 14, 18), datetime(2026, 1, 14, 22),
                 scope=("mairie.salle-du-conseil",))
    far = event("Vœux", datetime(2026, 3, 1, 18), datetime(2026, 3, 1, 20))
    entries = [whole, building, zone, far]
    assert agenda_for(entries, "mairie", "salle-du-conseil") == (whole, zone, far)
    assert agenda_for(entries, "mairie", "accueil") == (whole, far)
    assert agenda_for(entries, "ecole", "maternelle") == (whole, building, far)
    # A zone named like a building elsewhere is not that building.
    assert agenda_for(entries, "mediatheque", "ecole") == (whole, far)
    # Near a date, only what occupation() can see from it (7 days back, 14 ahead).
    assert agenda_for(entries, "mairie", "salle-du-conseil", date(2026, 1, 19)) == (whole, zone)
    assert agenda_for(entries, "mairie", "salle-du-conseil", date(2026, 1, 22)) == ()


# -- precedence --------------------------------------------------------------------------


# Monday 12 January 2026, the office programme: 08:30-12:00 and 13:30-17:30.
COUNCIL = event("Conseil municipal", datetime(2026, 1, 12, 18, 30), datetime(2026, 1, 12, 22, 30))


def test_an_event_occupies_outside_the_programme_and_names_itself() -> None:
    now = at(2026, 1, 12, 19, 0)
    plain = occupation(OFFICE, CALENDAR, "mairie", now)
    assert not plain.occupied and plain.because is None
    where = occupation(OFFICE, CALENDAR, "mairie", now, (COUNCIL,))
    assert where.occupied and where.because == "Conseil municipal"
    assert where.current_end == at(2026, 1, 12, 22, 30)
    assert where.previous_end == at(2026, 1, 12, 17, 30)
    assert where.next_start == at(2026, 1, 13, 8, 30)
    # Before it, the next start is the event's; the programme still decides the moment.
    before = occupation(OFFICE, CALENDAR, "mairie", at(2026, 1, 12, 18, 0), (COUNCIL,))
    assert not before.occupied and before.next_start == at(2026, 1, 12, 18, 30)
    assert before.because is None


def test_an_event_touching_a_period_joins_it() -> None:
    late = event("Permanence", datetime(2026, 1, 12, 17, 30), datetime(2026, 1, 12, 19, 0))
    where = occupation(OFFICE, CALENDAR, "mairie", at(2026, 1, 12, 15, 0), (late,))
    assert where.occupied and where.current_end == at(2026, 1, 12, 19, 0)
    assert where.because is None  # 15:00 is the programme's


def test_a_closure_beats_the_programme_and_an_event() -> None:
    inventory = closure("Inventaire", datetime(2026, 1, 12, 10, 0), datetime(2026, 1, 12, 20, 0))
    agenda = (inventory, COUNCIL)  # listed first: precedence does not depend on order
    where = occupation(OFFICE, CALENDAR, "mairie", at(2026, 1, 12, 11, 0), agenda)
    assert not where.occupied and where.because == "Inventaire"
    assert where.previous_end == at(2026, 1, 12, 10, 0)
    # The council starts while the closure lasts: it is occupied only after the closure.
    assert where.next_start == at(2026, 1, 12, 20, 0)
    after = occupation(OFFICE, CALENDAR, "mairie", at(2026, 1, 12, 20, 0), agenda)
    assert after.occupied and after.because == "Conseil municipal"
    assert after.current_end == at(2026, 1, 12, 22, 30)


def test_an_event_beats_a_day_exception_that_beats_the_programme() -> None:
    closed = day("Pont", date(2026, 1, 12))  # no periods: closed all day
    where = occupation(OFFICE, CALENDAR, "mairie", at(2026, 1, 12, 10, 0), (closed,))
    assert not where.occupied and where.because == "Pont"
    assert where.next_start == at(2026, 1, 13, 8, 30)
    both = occupation(OFFICE, CALENDAR, "mairie", at(2026, 1, 12, 19, 0), (COUNCIL, closed))
    assert both.occupied and both.because == "Conseil municipal"
    opened = day("Journée continue", date(2026, 1, 12), "08:00-18:00")
    where = occupation(OFFICE, CALENDAR, "mairie", at(2026, 1, 12, 12, 30), (opened,))
    assert where.occupied and where.because == "Journée continue"
    assert where.current_end == at(2026, 1, 12, 18, 0)


def test_a_day_exception_beats_a_public_holiday_and_the_shortest_range_wins() -> None:
    # 1 May 2026 is a Friday and a public holiday: closed by the calendar.
    may_day = at(2026, 5, 1, 10, 0)
    assert not occupation(OFFICE, CALENDAR, "mairie", may_day).occupied
    summer = day("Horaires d'été", date(2026, 4, 27), "09:00-12:00", last=date(2026, 5, 8))
    elections = day("Permanence électorale", date(2026, 5, 1), "08:00-11:00")
    agenda = (elections, summer)  # the one-day entry wins though listed first
    where = occupation(OFFICE, CALENDAR, "mairie", may_day, agenda)
    assert where.occupied and where.because == "Permanence électorale"
    assert where.current_end == at(2026, 5, 1, 11, 0)
    # The range holds its other days, the weekend included.
    saturday = occupation(OFFICE, CALENDAR, "mairie", at(2026, 5, 2, 10, 0), agenda)
    assert saturday.occupied and saturday.because == "Horaires d'été"
    assert saturday.current_end == at(2026, 5, 2, 12, 0)


def test_a_school_holiday_closes_a_school_but_not_an_event() -> None:
    school = Programme(mon=("08:20-16:30",), tue=("08:20-16:30",))
    # Monday 22 December 2025: Christmas holidays in zone B.
    where = occupation(school, CALENDAR, "ecole", at(2025, 12, 22, 10, 0))
    assert not where.occupied
    show = event("Spectacle de Noël", datetime(2025, 12, 22, 9), datetime(2025, 12, 22, 12))
    assert occupation(school, CALENDAR, "ecole", at(2025, 12, 22, 10, 0), (show,)).occupied


def test_an_event_on_a_public_holiday() -> None:
    # 14 July 2026, a Tuesday: the programme's periods are off, the ball is on.
    ball = event("Bal du 14 juillet", datetime(2026, 7, 14, 20, 0), datetime(2026, 7, 15, 1, 0))
    afternoon = occupation(OFFICE, CALENDAR, "salle_des_fetes", at(2026, 7, 14, 15, 0), (ball,))
    assert not afternoon.occupied and afternoon.next_start == at(2026, 7, 14, 20, 0)
    assert afternoon.previous_end == at(2026, 7, 13, 17, 30)
    evening = occupation(OFFICE, CALENDAR, "salle_des_fetes", at(2026, 7, 14, 23, 0), (ball,))
    assert evening.occupied and evening.because == "Bal du 14 juillet"


def test_an_event_across_midnight_is_one_interval() -> None:
    party = event("Réveillon", datetime(2025, 12, 31, 20, 0), datetime(2026, 1, 1, 2, 0))
    for moment in (at(2025, 12, 31, 23, 59), at(2026, 1, 1, 0, 0), at(2026, 1, 1, 1, 30)):
        where = occupation(OFFICE, CALENDAR, "salle_des_fetes", moment, (party,))
        assert where.occupied and where.because == "Réveillon", moment
        assert where.current_end == at(2026, 1, 1, 2, 0)
    later = occupation(OFFICE, CALENDAR, "salle_des_fetes", at(2026, 1, 1, 2, 0), (party,))
    assert not later.occupied and later.because is None
    assert later.previous_end == at(2026, 1, 1, 2, 0)


# -- daylight saving ---------------------------------------------------------------------


def test_spring_forward_an_event_in_the_missing_hour_occupies_nothing() -> None:
    # Sunday 29 March 2026: 02:00 becomes 03:00.
    ghost = event("Maintenance", datetime(2026, 3, 29, 2, 0), datetime(2026, 3, 29, 3, 0))
    for minute in range(0, 4 * 60, 10):
        now = (at(2026, 3, 29, 0, 0) + timedelta(minutes=minute)).astimezone(PARIS)
        where = occupation(OFFICE, CALENDAR, "mairie", now.astimezone(PARIS), (ghost,))
        assert not where.occupied and where.because is None
        assert where.next_start == at(2026, 3, 30, 8, 30)  # not a phantom 02:00 target
    # An event across the gap lasts what is left of it: 01:30 to 03:00 is 30 minutes.
    short = event("Veille", datetime(2026, 3, 29, 1, 30), datetime(2026, 3, 29, 2, 30))
    where = occupation(OFFICE, CALENDAR, "mairie", at(2026, 3, 29, 1, 45), (short,))
    assert where.occupied and where.because == "Veille"
    assert where.current_end is not None
    assert where.current_end == at(2026, 3, 29, 3, 0)
    assert where.current_end.utcoffset() == timedelta(hours=2)
    after = occupation(OFFICE, CALENDAR, "mairie", at(2026, 3, 29, 3, 0), (short,))
    assert not after.occupied


def test_fall_back_an_event_in_the_repeated_hour_covers_both_passes() -> None:
    # Sunday 25 October 2026: 03:00 becomes 02:00, the hour 02:00-03:00 is lived twice.
    vigil = event("Veillée", datetime(2026, 10, 25, 2, 0), datetime(2026, 10, 25, 3, 0))
    first, second, after = (
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC).astimezone(PARIS),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC).astimezone(PARIS),
        datetime(2026, 10, 25, 2, 0, tzinfo=UTC).astimezone(PARIS),
    )
    assert (first.hour, first.fold, second.hour, second.fold, after.hour) == (2, 0, 2, 1, 3)
    for now in (first, second):
        where = occupation(OFFICE, CALENDAR, "mairie", now, (vigil,))
        assert where.occupied and where.because == "Veillée"
    assert not occupation(OFFICE, CALENDAR, "mairie", after, (vigil,)).occupied


def test_a_closed_day_on_a_daylight_saving_sunday_is_decided_all_day() -> None:
    shut = day("Fermeture exceptionnelle", date(2026, 10, 25))
    sunday_on = day("Dimanche ouvert", date(2026, 10, 25), "00:00-24:00")
    moment = datetime(2026, 10, 25, 1, 30, tzinfo=UTC).astimezone(PARIS)
    where = occupation(OFFICE, CALENDAR, "mairie", moment, (shut,))
    assert not where.occupied and where.because == "Fermeture exceptionnelle"
    where = occupation(OFFICE, CALENDAR, "mairie", moment, (sunday_on,))
    assert where.occupied and where.current_end == at(2026, 10, 26, 0, 0)
    assert where.next_start == at(2026, 10, 26, 8, 30)


def test_no_agenda_answers_as_before() -> None:
    for hour in range(0, 24):
        now = at(2026, 1, 12, hour, 15)
        plain = occupation(OFFICE, CALENDAR, "mairie", now)
        far = event("Plus tard", datetime(2026, 6, 1, 9), datetime(2026, 6, 1, 10))
        assert occupation(OFFICE, CALENDAR, "mairie", now, (far,)) == plain
