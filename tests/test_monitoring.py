"""Threshold alarms on watched points: delay, hysteresis, escalation, missing readings,
messages in French and English, real time across daylight saving."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from controllers.monitoring import WatchChange, WatchLevel, WatchState, WatchVerdict, evaluate
from gtb.model.points import Severity, Watch
from gtb.texts import Reason, said

PARIS = ZoneInfo("Europe/Paris")
MINUTE = timedelta(minutes=1)
CLASSROOM = said("CO2 de Classes élémentaires", "CO2 of Classes élémentaires")
CO2 = Watch(high=800, high_high=1500, hysteresis=50, delay_s=600, label="Air à renouveler")
PLANT_ROOM = Watch(low=5, low_low=3, hysteresis=1, delay_s=900, label="Risque de gel")

HIGH, HIGH_HIGH = WatchLevel.HIGH, WatchLevel.HIGH_HIGH
LOW, LOW_LOW = WatchLevel.LOW, WatchLevel.LOW_LOW
RAISED, ESCALATED = WatchChange.RAISED, WatchChange.ESCALATED
EASED, CLEARED = WatchChange.EASED, WatchChange.CLEARED


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


@dataclass(frozen=True)
class Step:
    when: datetime
    value: float | None
    verdict: WatchVerdict


def run(
    watch: Watch,
    readings: Iterable[tuple[datetime, float | None]],
    *,
    name: str | Reason = CLASSROOM,
    unit: str = "ppm",
) -> list[Step]:
    """Feed readings in order, each with the state the previous one returned."""
    state = WatchState()
    steps = []
    for when, value in readings:
        verdict = evaluate(watch, value, when, state, name=name, unit=unit)
        steps.append(Step(when, value, verdict))
        state = verdict.state
    return steps


def every(start: datetime, step: timedelta, values: Iterable[float | None]) -> list[
    tuple[datetime, float | None]
]:
    """Readings at a regular interval from ``start``."""
    return [(start + i * step, value) for i, value in enumerate(values)]


def changes(steps: list[Step]) -> list[tuple[str, WatchChange, WatchLevel | None]]:
    return [
        (f"{s.when:%H:%M}", s.verdict.change, s.verdict.level)
        for s in steps
        if s.verdict.change is not None
    ]


def profile(keypoints: list[tuple[datetime, float]], start: datetime, end: datetime) -> list[
    tuple[datetime, float | None]
]:
    """One reading a minute, linear between keypoints (the engine ticks every minute)."""
    readings: list[tuple[datetime, float | None]] = []
    when = start
    while when <= end:
        for (t0, v0), (t1, v1) in itertools.pairwise(keypoints):
            if t0 <= when <= t1:
                share = (when - t0) / (t1 - t0)
                readings.append((when, v0 + share * (v1 - v0)))
                break
        when += MINUTE
    return readings


# -- a classroom morning -------------------------------------------------------------------

MORNING = [
    (at(2026, 1, 12, 8, 0), 450.0),
    (at(2026, 1, 12, 8, 30), 500.0),    # 788 at 08:48, 804 at 08:49
    (at(2026, 1, 12, 9, 40), 1620.0),   # 1492 at 09:32, 1508 at 09:33
    (at(2026, 1, 12, 10, 0), 1640.0),
    (at(2026, 1, 12, 10, 5), 1400.0),   # 1496 at 10:03, 1448 at 10:04
    (at(2026, 1, 12, 10, 20), 650.0),   # 800 at 10:17, 750 at 10:18
    (at(2026, 1, 12, 11, 0), 600.0),
]
"""Pupils arrive at 08:30, CO2 climbs 16 ppm a minute, the windows open at the 10:00 break
and it falls 48 then 50 ppm a minute."""


def test_classroom_morning_rises_escalates_eases_and_clears() -> None:
    steps = run(CO2, profile(MORNING, at(2026, 1, 12, 8, 0), at(2026, 1, 12, 11, 0)))
    assert changes(steps) == [
        ("08:59", RAISED, HIGH),        # past 800 since 08:49, for the 10 min of the delay
        ("09:43", ESCALATED, HIGH_HIGH),  # past 1500 since 09:33
        ("10:04", EASED, HIGH),         # 1448 ppm: below 1500 - 50 of hysteresis
        ("10:18", CLEARED, None),       # 750 ppm: 800 - 50
    ]
    by_time = {f"{s.when:%H:%M}": s.verdict for s in steps}
    assert by_time["08:58"].level is None and by_time["08:58"].severity is None
    assert by_time["08:59"].severity is Severity.WARNING
    assert by_time["09:43"].severity is Severity.CRITICAL
    assert by_time["10:03"].level is HIGH_HIGH  # 1496 ppm: inside, but not by the hysteresis
    assert by_time["10:04"].severity is Severity.WARNING
    assert by_time["10:17"].level is HIGH  # 800 ppm: inside, but not by the hysteresis
    assert by_time["10:18"].previous is HIGH
    assert all(s.verdict.level is None for s in steps if s.when > at(2026, 1, 12, 10, 18))


def test_classroom_messages_tell_each_stage() -> None:
    steps = run(CO2, profile(MORNING, at(2026, 1, 12, 8, 0), at(2026, 1, 12, 10, 20)))
    reasons = {f"{s.when:%H:%M}": s.verdict.reason for s in steps}
    nbsp = "\u202f"
    assert reasons["08:59"].fr == (
        "Air à renouveler : CO2 de Classes élémentaires à 964 ppm, au-dessus du seuil "
        "d'alerte de 800 ppm depuis 10 min"
    )
    assert reasons["09:43"].en == (
        "Air à renouveler: CO2 of Classes élémentaires at 1,623 ppm, above the critical "
        "threshold of 1,500 ppm for 10 min"
    )
    assert reasons["10:04"].fr == (
        f"Air à renouveler : CO2 de Classes élémentaires à 1{nbsp}448 ppm : fin de l'alarme "
        f"critique (seuil 1{nbsp}500 ppm, hystérésis 50 ppm) ; toujours au-dessus du seuil "
        f"d'alerte de 800 ppm depuis 1 h 15"
    )
    assert reasons["10:17"].fr == (
        "Air à renouveler : CO2 de Classes élémentaires à 800 ppm : alerte maintenue jusqu'à "
        "750 ppm (seuil 800 ppm, hystérésis 50 ppm)"
    )
    assert (reasons["10:18"].fr, reasons["10:18"].en) == (
        "CO2 de Classes élémentaires à 750 ppm : fin de l'alerte (seuil 800 ppm, hystérésis "
        "50 ppm)",
        "CO2 of Classes élémentaires at 750 ppm: warning over (threshold 800 ppm, hysteresis "
        "50 ppm)",
    )
    # before the delay has run, the reason says what is coming
    assert reasons["08:54"].fr == (
        "CO2 de Classes élémentaires à 884 ppm, au-dessus du seuil d'alerte de 800 ppm depuis "
        "5 min, alerte après 10 min"
    )
    assert reasons["08:40"].en == "CO2 of Classes élémentaires at 660 ppm, within thresholds"


# -- delay -----------------------------------------------------------------------------------


def test_a_spike_shorter_than_the_delay_raises_nothing() -> None:
    """Someone breathes on the sensor: 9 minutes far above both thresholds."""
    values = [600.0] * 5 + [1700.0] * 9 + [600.0] * 20
    steps = run(CO2, every(at(2026, 1, 12, 9, 0), MINUTE, values))
    assert changes(steps) == []
    assert all(s.verdict.level is None for s in steps)


def test_a_sustained_crossing_is_raised_at_the_tick_the_delay_ends() -> None:
    values = [700.0] * 5 + [900.0] * 15  # past 800 from 09:05
    steps = run(CO2, every(at(2026, 1, 12, 9, 0), MINUTE, values))
    assert changes(steps) == [("09:15", RAISED, HIGH)]


def test_a_reading_back_inside_restarts_the_delay() -> None:
    values = [900.0] * 9 + [790.0] + [900.0] * 15  # 09:00-09:08 past, 09:09 inside
    steps = run(CO2, every(at(2026, 1, 12, 9, 0), MINUTE, values))
    assert changes(steps) == [("09:20", RAISED, HIGH)]


def test_the_delay_counts_from_the_first_reading_past_even_when_readings_are_sparse() -> None:
    readings: list[tuple[datetime, float | None]] = [
        (at(2026, 1, 12, 9, 0), 900.0),
        (at(2026, 1, 12, 9, 7), 900.0),
        (at(2026, 1, 12, 9, 11), 900.0),
    ]
    assert [s.verdict.level for s in run(CO2, readings)] == [None, None, HIGH]


def test_a_jump_past_both_thresholds_is_raised_straight_to_critical() -> None:
    values = [600.0] + [1700.0] * 12
    steps = run(CO2, every(at(2026, 1, 12, 9, 0), MINUTE, values))
    assert changes(steps) == [("09:11", RAISED, HIGH_HIGH)]
    assert steps[11].verdict.severity is Severity.CRITICAL


def test_without_delay_the_first_reading_past_raises() -> None:
    watch = Watch(high=800, hysteresis=50)
    steps = run(watch, every(at(2026, 1, 12, 9, 0), MINUTE, [800.0, 800.5, 760.0, 750.0]))
    assert [s.verdict.change for s in steps] == [None, RAISED, None, CLEARED]
    # the same figure on both sides would read as a mistake: the reading gets a decimal
    assert steps[1].verdict.reason.fr == "CO2 de Classes élémentaires à 800,5 ppm, au-dessus " \
        "du seuil d'alerte de 800 ppm"


# -- hysteresis ------------------------------------------------------------------------------


def test_a_value_hovering_around_the_threshold_does_not_flap() -> None:
    """Once raised, a value swinging 790-810 keeps one alarm; never raised twice."""
    values = [900.0] * 11 + [790.0, 810.0] * 30 + [760.0, 751.0, 750.0]
    steps = run(CO2, every(at(2026, 1, 12, 9, 0), MINUTE, values))
    assert changes(steps) == [("09:10", RAISED, HIGH), ("10:13", CLEARED, None)]


def test_hovering_without_an_alarm_never_raises_with_a_delay() -> None:
    values = [790.0, 810.0] * 60
    assert changes(run(CO2, every(at(2026, 1, 12, 9, 0), MINUTE, values))) == []


def test_hovering_around_the_critical_threshold_keeps_the_critical_alarm() -> None:
    values = [1600.0] * 11 + [1490.0, 1510.0, 1460.0, 1505.0] * 10
    steps = run(CO2, every(at(2026, 1, 12, 9, 0), MINUTE, values))
    assert changes(steps) == [("09:10", RAISED, HIGH_HIGH)]


def test_reescalation_after_easing_waits_the_delay_again() -> None:
    values = [1600.0] * 11 + [1440.0] + [1600.0] * 12
    steps = run(CO2, every(at(2026, 1, 12, 9, 0), MINUTE, values))
    assert changes(steps) == [
        ("09:10", RAISED, HIGH_HIGH),
        ("09:11", EASED, HIGH),
        ("09:22", ESCALATED, HIGH_HIGH),  # past 1500 again from 09:12
    ]


def test_from_critical_straight_to_clear_when_back_below_both() -> None:
    values = [1600.0] * 11 + [700.0]
    steps = run(CO2, every(at(2026, 1, 12, 9, 0), MINUTE, values))
    assert changes(steps) == [("09:10", RAISED, HIGH_HIGH), ("09:11", CLEARED, None)]
    assert steps[-1].verdict.reason.en == (
        "CO2 of Classes élémentaires at 700 ppm: critical alarm and warning over (threshold "
        "800 ppm, hysteresis 50 ppm)"
    )


def test_from_critical_into_the_warning_band_eases_to_warning() -> None:
    """1500 -> 790 ppm: inside 800 but not by the hysteresis, so the warning stays."""
    values = [1600.0] * 11 + [790.0, 745.0]
    steps = run(CO2, every(at(2026, 1, 12, 9, 0), MINUTE, values))
    assert changes(steps) == [
        ("09:10", RAISED, HIGH_HIGH),
        ("09:11", EASED, HIGH),
        ("09:12", CLEARED, None),
    ]


# -- low side --------------------------------------------------------------------------------


def test_plant_room_falling_to_freezing_and_recovering() -> None:
    """The boiler stops on a January night: 5 °C warns, 3 °C is critical (15 min delay,
    1 K of hysteresis), then the boiler restarts."""
    values = [
        8.0, 6.5, 5.5, 4.9, 4.6, 4.3, 4.0,   # below 5 from 02:15
        3.6, 3.2, 2.9, 2.7, 2.6, 2.5,        # below 3 from 02:45
        3.4, 3.9, 4.1, 4.8, 5.6, 5.9, 6.0, 7.0,
    ]
    steps = run(PLANT_ROOM, every(at(2026, 1, 14, 2, 0), 5 * MINUTE, values),
                name="Chaufferie de l'école", unit="°C")
    assert changes(steps) == [
        ("02:30", RAISED, LOW),
        ("03:00", ESCALATED, LOW_LOW),
        ("03:15", EASED, LOW),       # 4.1 °C >= 3 + 1
        ("03:35", CLEARED, None),    # 6.0 °C >= 5 + 1
    ]
    by_time = {f"{s.when:%H:%M}": s.verdict for s in steps}
    assert by_time["03:00"].severity is Severity.CRITICAL
    assert by_time["03:10"].level is LOW_LOW  # 3.9 °C: above 3 but not by 1 K
    assert by_time["03:30"].level is LOW      # 5.9 °C
    assert by_time["03:00"].reason.fr == (
        "Risque de gel : Chaufferie de l'école à 2,5 °C, en dessous du seuil critique de "
        "3 °C depuis 15 min"
    )
    assert by_time["03:15"].reason.en == (
        "Risque de gel: Chaufferie de l'école at 4.1 °C: critical alarm over (threshold 3 °C, "
        "hysteresis 1 °C); still below the warning threshold of 5 °C for 1 h"
    )
    assert by_time["03:35"].reason.fr == (
        "Chaufferie de l'école à 6,0 °C : fin de l'alerte (seuil 5 °C, hystérésis 1 °C)"
    )


def test_a_watch_with_only_low_low() -> None:
    watch = Watch(low_low=2.0, hysteresis=0.5)
    values = [4.0, 2.0, 1.9, 1.0, 2.4, 2.49, 2.5, 1.5]
    steps = run(watch, every(at(2026, 1, 14, 2, 0), 5 * MINUTE, values), name="Bassin",
                unit="°C")
    assert [s.verdict.level for s in steps] == [
        None, None, LOW_LOW, LOW_LOW, LOW_LOW, LOW_LOW, None, LOW_LOW,
    ]
    assert changes(steps) == [
        ("02:10", RAISED, LOW_LOW), ("02:30", CLEARED, None), ("02:35", RAISED, LOW_LOW),
    ]
    assert steps[2].verdict.severity is Severity.CRITICAL
    assert steps[5].verdict.reason.fr == (
        "Bassin à 2,49 °C : alarme critique maintenue jusqu'à 2,5 °C (seuil 2 °C, hystérésis "
        "0,5 °C)"
    )
    assert steps[6].verdict.reason.fr == (
        "Bassin à 2,5 °C : fin de l'alarme critique (seuil 2 °C, hystérésis 0,5 °C)"
    )


# -- missing readings ------------------------------------------------------------------------


def test_missing_readings_keep_the_level() -> None:
    values: list[float | None] = [*[1600.0] * 11, None, math.nan, None, 700.0]
    steps = run(CO2, every(at(2026, 1, 12, 9, 0), MINUTE, values))
    assert [s.verdict.level for s in steps[10:]] == [HIGH_HIGH] * 4 + [None]
    assert [s.verdict.change for s in steps[11:14]] == [None] * 3
    assert steps[11].verdict.reason.fr == (
        "Air à renouveler : CO2 de Classes élémentaires sans lecture valable : alarme critique "
        "maintenue (seuil 1\u202f500 ppm, hystérésis 50 ppm)"
    )
    assert steps[11].verdict.state == steps[10].verdict.state


def test_missing_readings_raise_and_clear_nothing() -> None:
    values: list[float | None] = [None] * 5 + [600.0] + [None] * 5
    steps = run(CO2, every(at(2026, 1, 12, 9, 0), MINUTE, values))
    assert all(s.verdict.level is None and s.verdict.change is None for s in steps)


def test_the_delay_keeps_running_through_missing_readings() -> None:
    """A flaky sensor in a freezing plant room still raises its alarm."""
    values: list[float | None] = [4.0, None, None, 4.0]
    steps = run(PLANT_ROOM, every(at(2026, 1, 14, 2, 0), 5 * MINUTE, values), unit="°C")
    assert [s.verdict.level for s in steps] == [None, None, None, LOW]


# -- French text -----------------------------------------------------------------------------


def test_french_message_formats_numbers_the_french_way() -> None:
    values = [1520.0] * 11  # past both from 09:00
    steps = run(CO2, every(at(2026, 1, 12, 9, 0), MINUTE, values))
    verdict = steps[10].verdict
    assert verdict.change is RAISED and verdict.level is HIGH_HIGH
    assert (verdict.reason.fr, verdict.reason.en) == (
        "Air à renouveler : CO2 de Classes élémentaires à 1\u202f520 ppm, au-dessus du seuil "
        "critique de 1\u202f500 ppm depuis 10 min",
        "Air à renouveler: CO2 of Classes élémentaires at 1,520 ppm, above the critical "
        "threshold of 1,500 ppm for 10 min",
    )
    assert str(verdict.reason) == verdict.reason.fr


def test_decimals_follow_the_thresholds_and_a_comma_marks_them() -> None:
    river = Watch(high=2.35, high_high=3.1, hysteresis=0.05, label="Crue")
    steps = run(river, [(at(2026, 2, 3, 6, 0), 2.414)], name="Niveau de l'Orge", unit="m")
    assert (steps[0].verdict.reason.fr, steps[0].verdict.reason.en) == (
        "Crue : Niveau de l'Orge à 2,41 m, au-dessus du seuil d'alerte de 2,35 m",
        "Crue: Niveau de l'Orge at 2.41 m, above the warning threshold of 2.35 m",
    )


def test_a_long_alarm_says_hours() -> None:
    readings = every(at(2026, 1, 12, 9, 0), 15 * MINUTE, [900.0] * 11)  # 09:00 -> 11:30
    verdict = run(CO2, readings)[-1].verdict
    assert verdict.reason.fr.endswith("au-dessus du seuil d'alerte de 800 ppm depuis 2 h 30")
    assert verdict.reason.en.endswith("above the warning threshold of 800 ppm for 2 h 30 min")


# -- real time -------------------------------------------------------------------------------


def test_the_delay_counts_real_time_on_the_night_daylight_saving_ends() -> None:
    """25 October 2026, Paris: from 01:30 to 03:30 on the wall clock is 3 real hours (the
    clocks go back from 03:00 to 02:00). A 2 h 30 delay runs out at 03:00 local, after the
    change, though the wall clock shows only 1 h 30."""
    watch = Watch(low=5, hysteresis=1, delay_s=2.5 * 3600)
    start = at(2026, 10, 25, 1, 30)
    assert start.utcoffset() == timedelta(hours=2)
    readings: list[tuple[datetime, float | None]] = [
        ((start.astimezone(UTC) + i * 15 * MINUTE).astimezone(PARIS), 4.0) for i in range(13)
    ]
    steps = run(watch, readings, name="Chaufferie", unit="°C")
    raised = [s for s in steps if s.verdict.change is RAISED]
    assert len(raised) == 1
    assert f"{raised[0].when:%H:%M}" == "03:00"
    assert raised[0].when.utcoffset() == timedelta(hours=1)
    # two readings only, 01:30 and 03:30 of one ZoneInfo: 3 real hours
    two = run(watch, [(start, 4.0), (at(2026, 10, 25, 3, 30), 4.0)], name="Chaufferie",
              unit="°C")
    assert two[1].verdict.level is LOW
    assert two[1].verdict.reason.fr.endswith("en dessous du seuil d'alerte de 5 °C depuis 3 h")


def test_the_delay_counts_real_time_on_the_night_daylight_saving_starts() -> None:
    """29 March 2026: from 01:30 to 03:30 on the wall clock is 1 real hour."""
    watch = Watch(low=5, hysteresis=1, delay_s=1.5 * 3600)
    steps = run(
        watch,
        [(at(2026, 3, 29, 1, 30), 4.0), (at(2026, 3, 29, 3, 30), 4.0),
         (at(2026, 3, 29, 4, 0), 4.0)],
        name="Chaufferie", unit="°C",
    )
    assert [s.verdict.level for s in steps] == [None, None, LOW]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        evaluate(CO2, 900.0, datetime(2026, 1, 12, 9, 0), WatchState(), name="x", unit="ppm")


def test_a_plain_name_serves_both_languages_and_state_is_not_mutated() -> None:
    state = WatchState()
    verdict = evaluate(Watch(high=800), 900.0, at(2026, 1, 12, 9, 0), state,
                       name="ecole.classes.co2", unit="ppm")
    assert (verdict.reason.fr, verdict.reason.en) == (
        "ecole.classes.co2 à 900 ppm, au-dessus du seuil d'alerte de 800 ppm",
        "ecole.classes.co2 at 900 ppm, above the warning threshold of 800 ppm",
    )
    assert state == WatchState()
    assert verdict.state.level is HIGH
