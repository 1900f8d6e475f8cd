"""controllers/lighting.py without the engine: a cabinet's night on daylight-saving dates,
and a circuit's vacancy delay and fallback."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from controllers.lighting import circuit_decision, timetable
from controllers.schedule import Occupation
from gtb.model import Site

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(("night", "cut_hours"), [
    (date(2026, 10, 24), 7),  # clocks go back at 03:00: 23:00 to 05:00 lasts 7 real hours
    (date(2026, 3, 28), 5),   # clocks go forward at 02:00: 5 real hours
    (date(2026, 1, 10), 6),
])
def test_the_night_cut_keeps_its_wall_clock_times_on_daylight_saving_nights(
    demo_site: Site, night: date, cut_hours: int
) -> None:
    centre = demo_site.cabinets[0]
    stretches = timetable(centre, demo_site.latitude, demo_site.longitude, PARIS, night)
    [cut] = [s for s in stretches if "coupure" in s.reason.fr]
    assert cut.start.astimezone(PARIS).strftime("%H:%M") == "23:00"
    assert cut.end.astimezone(PARIS).strftime("%H:%M") == "05:00"
    assert cut.end - cut.start == timedelta(hours=cut_hours)
    # The stretches tile the night, noon to noon, without gap or overlap.
    for before, after in itertools.pairwise(stretches):
        assert before.end == after.start
    assert stretches[-1].end - stretches[0].start == timedelta(hours=24 + cut_hours - 6)


NOW = datetime(2026, 1, 12, 18, 10, tzinfo=PARIS)
OPEN = Occupation(True, None, NOW.replace(hour=19, minute=0), None)
CLOSED = Occupation(False, NOW.replace(hour=17), None, NOW + timedelta(hours=14))


def test_a_circuit_stays_on_for_the_vacancy_delay_then_goes_off() -> None:
    seen = NOW - timedelta(minutes=8)
    kept = circuit_decision(CLOSED, NOW, detector=True, presence=False, last_seen=seen)
    assert kept.on and kept.reason.fr == "personne depuis 18:02 : éteint à 18:17"
    later = circuit_decision(CLOSED, NOW + timedelta(minutes=8), detector=True,
                             presence=False, last_seen=seen)
    assert not later.on and later.reason.fr == "inoccupé, personne : éteint"
    # Within the programme, an empty room is dark too.
    empty = circuit_decision(OPEN, NOW, detector=True, presence=False,
                             last_seen=NOW - timedelta(hours=1))
    assert not empty.on
    assert circuit_decision(CLOSED, NOW, detector=True, presence=True, last_seen=NOW).on


def test_a_failed_detector_falls_back_on_the_programme() -> None:
    lit = circuit_decision(OPEN, NOW, detector=True, presence=None, last_seen=None)
    assert lit.on
    assert lit.reason.fr == ("occupé selon le programme jusqu'à 19:00 (détecteur de présence "
                             "en défaut) : allumé")
    dark = circuit_decision(CLOSED, NOW, detector=False, presence=None, last_seen=None)
    assert not dark.on and "pas de détecteur de présence" in dark.reason.fr
