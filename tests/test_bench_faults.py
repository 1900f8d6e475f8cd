"""How ``gtb bench faults`` grades what it measured: write storms, unsafe states and the
targets, on mornings made by hand (the benchmark itself runs the engine on real devices
for five simulated hours: it is run by ``gtb bench faults``, not here)."""

from __future__ import annotations

import math
from collections import Counter

from gtb.bench.faults import (
    Fault,
    FaultOutcome,
    FaultsBench,
    ProcessOutcome,
    _Morning,
    _storms,
    _Tick,
    _unsafe,
)
from gtb.model import Site
from gtb.model.points import Role

SETPOINT = "mairie.accueil.consigne"


def morning(site: Site, minutes: int = 16, **changes: dict[int, float]) -> _Morning:
    """Every zone occupied, at 19 °C, its setpoint held and intended at 19 °C; ``changes``
    sets, per field, the setpoint's value from a minute on."""
    setpoints = [r.key for r in site.points() if r.role is Role.HEATING_SETPOINT]
    modes = [r.key for r in site.points() if r.role is Role.HEATING_MODE]
    zones = [f"{b.id}.{z.id}" for b in site.buildings for z in b.zones]
    ticks = []
    for minute in range(minutes):
        held = dict.fromkeys(setpoints, 19.0) | dict.fromkeys(modes, 1.0)
        intended = dict(held)
        for name, values in changes.items():
            target = held if name == "held" else intended
            target[SETPOINT] = next((v for m, v in sorted(values.items(), reverse=True)
                                     if minute >= m), 19.0)
        ticks.append(_Tick(minute, held, intended, dict.fromkeys(zones, "comfort"),
                           dict.fromkeys(zones, True), dict.fromkeys(zones, 19.0)))
    return _Morning(ticks, [Counter() for _ in ticks], [], [], 0, 0, {}, {})


def written(day: _Morning, key: str, minutes: list[int]) -> None:
    """The device of ``key`` received a write at each of ``minutes``."""
    total = 0
    for tick in day.ticks:
        total += minutes.count(tick.minute)
        day.writes[tick.minute] = Counter({key: total})


def test_a_point_written_again_and_again_without_a_change_is_a_storm(demo_site: Site) -> None:
    day = morning(demo_site)
    written(day, SETPOINT, [2, 5, 9])
    [storm] = _storms(day, [])
    assert (storm.point, storm.writes, storm.intent_changes) == (SETPOINT, 3, 0)
    assert storm.window == "06:01-06:16"


def test_writes_that_follow_changes_of_intent_or_restore_a_device_are_no_storm(
    demo_site: Site
) -> None:
    day = morning(demo_site, intended={2: 20.0, 5: 21.0})
    written(day, SETPOINT, [2, 5, 9])  # two changes and the refresh
    assert _storms(day, []) == []
    steady = morning(demo_site)
    written(steady, SETPOINT, [2, 9])  # a refresh, and the device back after its restart
    restart = Fault("device_restart_modbus", "", 9, 9, (SETPOINT,), "mairie")
    assert _storms(steady, [restart]) == []
    assert len(_storms(steady, [])) == 1


def test_a_colder_setpoint_while_occupied_is_unsafe_unless_a_fault_holds_the_device(
    demo_site: Site
) -> None:
    reference = morning(demo_site)
    colder = morning(demo_site, held={4: 17.0, 6: 19.0})
    [first, second] = _unsafe(demo_site, reference, colder, [])
    assert (first.minute, first.point, second.minute) == (4, SETPOINT, 5)
    assert "17" in first.what
    # the device restarted at minute 4: the engine has two ticks to restore it
    restart = Fault("device_restart_modbus", "", 4, 4, (SETPOINT,), "mairie")
    assert _unsafe(demo_site, reference, colder, [restart]) == []
    # nobody there in the reference: a lower setpoint is the engine's to choose
    for tick in reference.ticks:
        tick.occupied = dict.fromkeys(tick.occupied, False)
    assert _unsafe(demo_site, reference, colder, []) == []


def test_what_the_engine_wants_must_be_finite_and_zones_warmer_than_frost(
    demo_site: Site
) -> None:
    reference = morning(demo_site)
    nan = morning(demo_site, intended={3: math.nan, 4: 19.0})
    [unsafe] = _unsafe(demo_site, reference, nan, [])
    assert (unsafe.minute, unsafe.point) == (3, SETPOINT)
    frozen = morning(demo_site)
    frozen.ticks[7].temperatures["ecole.cantine"] = 4.0
    [cold] = _unsafe(demo_site, reference, frozen, [])
    assert (cold.minute, cold.point) == (7, "ecole.cantine")


def outcome(**changes: object) -> FaultOutcome:
    fields: dict[str, object] = dict(
        name="device_silent", what="", start="", end="", detected_after_s=180.0,
        detection_limit_s=240.0, alarm="device:x", cleared_after_s=0.0, zone_levels={},
        writes_during=0, restored_in_ticks=1, failed_samples=0)
    return FaultOutcome(**(fields | changes))  # type: ignore[arg-type]


def test_the_targets_follow_the_measures() -> None:
    process = ProcessOutcome(3, 0, True, 1, 0, 0.8, True, 17, 17)
    archive = {"samples_in_influxdb": 10, "samples_in_store": 10, "events_in_influxdb": 2,
               "events_in_store": 2, "left_to_ship": 0}
    good = FaultsBench("", 300, [outcome()], [], [], 100, 0, archive, process)
    assert all(good.targets().values()), good.targets()
    late = FaultsBench("", 300, [outcome(detected_after_s=300.0)], [], [], 100, 0, archive,
                       process)
    assert not late.targets()["every_fault_detected_in_time"]
    slow = FaultsBench("", 300, [outcome(restored_in_ticks=3)], [], [], 100, 0, archive,
                       process)
    assert not slow.targets()["commands_restored_within_2_ticks"]
    lost = FaultsBench("", 300, [outcome()], [], [], 100, 0,
                       archive | {"samples_in_influxdb": 9}, process)
    assert not lost.targets()["nothing_lost"]
    killed = FaultsBench("", 300, [outcome()], [], [], 100, 0, archive,
                         ProcessOutcome(3, 0, True, 1, -15, 0.0, False, 2, 17))
    assert not killed.targets()["sigterm_orderly"]
    # without the process part, its targets are not measured: left out, not failed
    partial = FaultsBench("", 300, [outcome()], [], [], 100, 0, archive, None)
    assert all(partial.targets().values())
    assert "sigterm_orderly" not in partial.targets()
