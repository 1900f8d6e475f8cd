"""The check of a cabinet's lighting against the arrêté of 27 December 2018 (art. 2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from controllers.light_nuisance import Breach, breaches, check_programme
from controllers.lighting import sun_times, timetable
from gtb.model import Cabinet, Site

PARIS = ZoneInfo("Europe/Paris")
LAT, LON = 50.40, 3.28  # Marchiennes-le-Vert, sites/demo-commune.yaml
WINTER = date(2026, 1, 15)  # sunset about 17:10, sunrise about 08:40
AUTUMN_CHANGE = date(2026, 10, 24)  # clocks go back at 03:00 on the 25th
SPRING_CHANGE = date(2026, 3, 28)  # clocks go forward at 02:00 on the 29th
RELAY = {"id": "relais", "role": "cabinet_relay",
         "binding": {"protocol": "bacnet", "address": "127.0.0.1:47811",
                     "device_instance": 2001, "object_type": "binaryOutput",
                     "object_instance": 1}}


def cabinet(category: str, **fields: Any) -> Cabinet:
    return Cabinet.model_validate({"id": "armoire", "name": "Armoire", "category": category,
                                   "power_kw": 1.0, "points": [RELAY], **fields})


def programme(cab: Cabinet, night: date = WINTER) -> list[Breach]:
    return check_programme(cab, LAT, LON, PARIS, night, night)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A Paris wall-clock time as a UTC instant."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def next_day(day: date) -> date:
    return day + timedelta(days=1)


def sunset(night: date) -> datetime:
    return sun_times(LAT, LON, PARIS, night).sunset.astimezone(UTC)


# --- heritage, façades, parks ---------------------------------------------------------------


def test_heritage_relit_in_the_morning_by_the_default_cut_breaks_the_arrete() -> None:
    found = programme(cabinet("heritage"))  # default cut 23:00-05:00
    assert [b.rule for b in found] == ["heritage_no_relight"]
    (breach,) = found
    assert breach.when == local(next_day(WINTER), 5)
    sunrise = sun_times(LAT, LON, PARIS, next_day(WINTER)).sunrise.astimezone(UTC)
    assert breach.duration == sunrise - breach.when
    assert breach.cabinet == "armoire" and breach.night == WINTER
    assert "rallumée à 05:00" in breach.reason.fr and "art. 2" in breach.reason.fr
    assert "27 décembre 2018" in breach.reason.fr
    assert "on again at 05:00" in breach.reason.en and "27 December 2018" in breach.reason.en


def test_heritage_cut_until_sunrise_keeps_to_the_arrete() -> None:
    assert programme(cabinet("heritage", cut_off="23:00-sunrise")) == []
    assert programme(cabinet("heritage", cut_off="01:00-sunrise")) == []


def test_heritage_off_at_1_30_is_half_an_hour_late() -> None:
    (breach,) = programme(cabinet("heritage", cut_off="01:30-sunrise"))
    assert breach.rule == "heritage_off_by_1h"
    assert breach.when == local(next_day(WINTER), 1)
    assert breach.duration == timedelta(minutes=30)
    assert breach.reason.fr.startswith("Mise en lumière du patrimoine allumée jusqu'à 01:30 : "
                                       "l'arrêté du 27 décembre 2018 (art. 2) demande "
                                       "l'extinction à 1 h au plus tard")
    assert "off by 1:00" in breach.reason.en


def test_heritage_lit_all_night_breaks_the_arrete_from_1_00_to_sunrise() -> None:
    (breach,) = programme(cabinet("heritage", cut_off=None))
    assert breach.rule == "heritage_off_by_1h"
    assert breach.when == local(next_day(WINTER), 1)
    assert breach.duration > timedelta(hours=7)


def test_heritage_on_before_sunset_breaks_the_arrete() -> None:
    found = programme(cabinet("heritage", cut_off="23:00-sunrise", on_after_sunset_min=-30))
    (breach,) = found
    assert breach.rule == "heritage_on_at_sunset"
    assert abs(breach.when - (sunset(WINTER) - timedelta(minutes=30))) < timedelta(seconds=1)
    assert abs(breach.duration - timedelta(minutes=30)) < timedelta(seconds=1)
    # a switch within the minute of tolerance is no breach
    assert programme(cabinet("heritage", cut_off="23:00-sunrise", on_after_sunset_min=-1)) == []


def test_a_minute_of_tolerance_for_switching() -> None:
    cab = cabinet("heritage")
    on = sunset(WINTER)
    assert breaches(cab, LAT, LON, PARIS, WINTER,
                    [(on, local(next_day(WINTER), 1) + timedelta(seconds=50), 100.0)]) == []
    (breach,) = breaches(cab, LAT, LON, PARIS, WINTER,
                         [(on, local(next_day(WINTER), 1, 2), 100.0)])
    assert breach.duration == timedelta(minutes=2)


def test_dimming_steps_are_not_relights() -> None:
    cab = cabinet("facade")
    on, one = sunset(WINTER), local(next_day(WINTER), 1)
    lit = [(on, local(WINTER, 22), 100.0), (local(WINTER, 22), one, 50.0)]
    assert breaches(cab, LAT, LON, PARIS, WINTER, lit) == []
    # level 0 is not lit
    assert breaches(cab, LAT, LON, PARIS, WINTER, [*lit, (one, local(next_day(WINTER), 6), 0.0)]
                    ) == []


def test_facade_follows_the_heritage_rule() -> None:
    assert [b.rule for b in programme(cabinet("facade"))] == ["facade_no_relight"]
    (breach,) = programme(cabinet("facade", cut_off="02:00-sunrise"))
    assert breach.rule == "facade_off_by_1h" and breach.duration == timedelta(hours=1)
    assert breach.reason.fr.startswith("Éclairage de façade allumé jusqu'à 02:00")


def test_park_off_at_most_an_hour_after_closing() -> None:
    (breach,) = programme(cabinet("park", activity="08:00-20:00", cut_off="23:00-sunrise"))
    assert breach.rule == "park_off_1h_after_closing"
    assert breach.when == local(WINTER, 21)
    assert breach.duration == timedelta(hours=2)
    assert "fermeture (20:00)" in breach.reason.fr and "21:00" in breach.reason.fr
    assert programme(cabinet("park", activity="08:00-20:00", cut_off="21:00-sunrise")) == []
    # without opening hours: 1:00, as heritage
    assert programme(cabinet("park", cut_off="23:00-sunrise")) == []
    assert [b.rule for b in programme(cabinet("park", cut_off="01:30-sunrise"))] == [
        "park_off_by_1h"]


def test_road_lighting_is_never_a_breach() -> None:
    assert programme(cabinet("road", cut_off=None)) == []
    assert programme(cabinet("road", on_after_sunset_min=-60)) == []
    assert breaches(cabinet("road"), LAT, LON, PARIS, WINTER,
                    [(local(WINTER, 12), local(next_day(WINTER), 12), 100.0)]) == []


# --- activity and car parks --------------------------------------------------------------


def test_activity_lighting_off_at_most_an_hour_after_the_activity() -> None:
    (breach,) = programme(cabinet("activity", activity="09:00-19:00", cut_off="20:30-sunrise"))
    assert breach.rule == "activity_off_1h_after"
    assert breach.when == local(WINTER, 20)
    assert breach.duration == timedelta(minutes=30)
    assert "fin de l'activité (19:00), soit à 20:00" in breach.reason.fr
    assert programme(cabinet("activity", activity="09:00-19:00", cut_off="19:45-sunrise")) == []


def test_activity_lighting_relit_at_7_at_the_earliest() -> None:
    (breach,) = programme(cabinet("activity", activity="09:00-19:00", cut_off="20:00-06:00"))
    assert breach.rule == "activity_relit_from_7h"
    assert breach.when == local(next_day(WINTER), 6)
    assert breach.duration == timedelta(hours=1)
    assert "rallumé à 06:00" in breach.reason.fr and "07:00" in breach.reason.fr
    assert programme(cabinet("activity", activity="09:00-19:00", cut_off="20:00-08:00")) == []


def test_activity_starting_early_allows_relighting_an_hour_before() -> None:
    cab = cabinet("activity", activity="06:00-19:00", cut_off="20:00-05:00")
    assert programme(cab) == []  # 05:00 is 1 h before the activity, earlier than 7:00
    (breach,) = programme(cabinet("activity", activity="06:00-19:00", cut_off="20:00-04:30"))
    assert breach.rule == "activity_relit_from_7h"
    assert breach.duration == timedelta(minutes=30)


def test_activity_lighting_switched_on_late_in_the_evening_is_a_breach() -> None:
    cab = cabinet("activity", activity="09:00-19:00")
    lit = [(local(WINTER, 17), local(WINTER, 19, 30), 100.0),
           (local(WINTER, 23), local(next_day(WINTER), 0), 100.0)]
    (breach,) = breaches(cab, LAT, LON, PARIS, WINTER, lit)
    assert breach.rule == "activity_relit_from_7h"
    assert breach.when == local(WINTER, 23) and breach.duration == timedelta(hours=1)


def test_car_park_off_at_most_two_hours_after_the_activity() -> None:
    (breach,) = programme(cabinet("car_park", activity="18:00-22:00", cut_off="00:30-sunrise"))
    assert breach.rule == "car_park_off_2h_after"
    assert breach.when == local(next_day(WINTER), 0)
    assert breach.duration == timedelta(minutes=30)
    assert programme(cabinet("car_park", activity="18:00-22:00", cut_off="00:00-sunrise")) == []


def test_car_park_on_at_sunset_at_the_earliest_and_relit_at_7() -> None:
    found = programme(cabinet("car_park", activity="08:00-22:00", on_after_sunset_min=-20,
                              cut_off="23:00-06:00"))
    assert [b.rule for b in found] == ["car_park_on_at_sunset", "car_park_relit_from_7h"]
    assert found[1].when == local(next_day(WINTER), 6)
    assert programme(cabinet("car_park", activity="08:00-22:00", cut_off="23:00-07:00")) == []


def test_activity_hours_are_needed_to_check() -> None:
    (breach,) = programme(cabinet("activity", cut_off="20:00-sunrise"))
    assert breach.rule == "activity_hours_needed"
    assert "horaires" in breach.reason.fr and "hours" in breach.reason.en
    (breach,) = programme(cabinet("car_park"))
    assert breach.rule == "car_park_hours_needed"
    # said once over a programme, not every night
    found = check_programme(cabinet("car_park"), LAT, LON, PARIS, WINTER, date(2026, 1, 21))
    assert [b.rule for b in found] == ["car_park_hours_needed"]


# --- daylight-saving nights --------------------------------------------------------------


def test_autumn_change_night_places_1_00_before_the_clocks_go_back() -> None:
    (breach,) = programme(cabinet("heritage", cut_off="01:30-sunrise"), AUTUMN_CHANGE)
    # 01:00 on 25 October is still summer time (UTC+2): 23:00 UTC on the 24th
    assert breach.when == datetime(2026, 10, 24, 23, 0, tzinfo=UTC)
    assert breach.duration == timedelta(minutes=30)
    assert programme(cabinet("heritage", cut_off="01:00-sunrise"), AUTUMN_CHANGE) == []
    assert "jusqu'à 01:30" in breach.reason.fr


def test_spring_change_night_places_1_00_and_7_00_on_their_own_offsets() -> None:
    (breach,) = programme(cabinet("heritage", cut_off="01:30-sunrise"), SPRING_CHANGE)
    # 01:00 on 29 March is still winter time (UTC+1): 00:00 UTC
    assert breach.when == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    assert breach.duration == timedelta(minutes=30)
    # 07:00 on 29 March is summer time (UTC+2): 05:00 UTC; relit at 06:00 = 04:00 UTC
    (relit,) = programme(cabinet("activity", activity="09:00-19:00", cut_off="20:00-06:00"),
                         SPRING_CHANGE)
    assert relit.when == datetime(2026, 3, 29, 4, 0, tzinfo=UTC)
    assert relit.duration == timedelta(hours=1)


def test_lit_intervals_in_another_zone_or_outside_the_night() -> None:
    cab = cabinet("heritage")
    on = sunset(WINTER).astimezone(PARIS)
    yesterday = (local(WINTER, 0), local(WINTER, 11), 100.0)  # the night before: ignored
    late = local(next_day(WINTER), 1, 15).astimezone(PARIS)
    (breach,) = breaches(cab, LAT, LON, PARIS, WINTER, [yesterday, (on, late, 100.0)])
    assert breach.when == local(next_day(WINTER), 1)
    assert breach.duration == timedelta(minutes=15)


# --- the demo commune -------------------------------------------------------------------


def test_the_demo_commune_keeps_to_the_arrete_all_year(demo_site: Site) -> None:
    for cab in demo_site.cabinets:
        assert check_programme(cab, demo_site.latitude, demo_site.longitude, demo_site.tz,
                               date(2026, 1, 1), date(2026, 12, 31)) == [], cab.id


def test_check_programme_reads_the_timetable() -> None:
    cab = cabinet("heritage")
    first, last = date(2026, 6, 1), date(2026, 6, 7)
    found = check_programme(cab, LAT, LON, PARIS, first, last)
    assert [b.night for b in found] == [first + timedelta(days=n) for n in range(7)]
    for item in found:
        lit = [s for s in timetable(cab, LAT, LON, PARIS, item.night) if s.level > 0]
        assert item.when == lit[-1].start  # the morning relight at 05:00
