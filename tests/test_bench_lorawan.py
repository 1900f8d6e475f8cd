"""The LoRaWAN benchmark's harness: the salle des fêtes through the engine's LoRaWAN points
and the simulated network server, on a few days, its report's keys and what must hold
whatever the figures (counted at both ends alike, each command taken at an uplink, the
budget never exceeded).

The broker is ``DirectLink``, the bench's in-process stand-in: Mosquitto itself is the
business of test_sim_lorawan.py and test_lorawan_points.py. The figures are measured by
``gtb bench lorawan`` (docs/lorawan.md).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from gtb.bench.lorawan import (
    BUILDING,
    MONTH,
    PlannedLearned,
    RadioHarness,
    bench_lorawan,
    bench_site,
    command_figures,
    downlink_figures,
    missed_runs,
    summary_rows,
    target_lines,
)
from gtb.cli import main
from gtb.model import Site
from gtb.model.points import Role
from gtb.sim.season import Harness, Learned, Strategy, StrategyFactory, simulate
from gtb.sim.world import VirtualCommune
from protocols.lorawan_points import lorawan_binding
from protocols.lorawan_tracking import LATE_ALLOWANCE

PARIS = ZoneInfo("Europe/Paris")
DEMO = Path(__file__).resolve().parent.parent / "sites" / "demo-commune.yaml"
# A Tuesday to a Friday of January: the clubs' evenings and the Wednesday children's club.
START, END = datetime(2026, 1, 13, tzinfo=PARIS), datetime(2026, 1, 16, tzinfo=PARIS)
WARM_UP = timedelta(days=1)


def run_radio(site: Site, factory: StrategyFactory = Learned) -> RadioHarness:
    """The controller through the radio over START..END, its harness kept to look into."""
    kept: list[RadioHarness] = []

    def radio(site_: Site, world: VirtualCommune, strategy: Strategy) -> Harness:
        kept.append(RadioHarness(site_, world, strategy, seed=1, counted_from=START))
        return kept[-1]

    simulate(site, "learned", 1, START, END, warm_up=WARM_UP, harness=radio,
             factory=factory)
    kept[0].close()
    return kept[0]


@pytest.fixture(scope="module")
def harness() -> RadioHarness:
    return run_radio(bench_site(DEMO))


def test_the_bench_site_is_the_hall_with_the_communes_outdoor_sensor() -> None:
    site = bench_site(DEMO)
    assert [b.id for b in site.buildings] == [BUILDING]
    roles = [ref.role for ref in site.points()]
    assert roles.count(Role.OUTDOOR_TEMPERATURE) == 1
    assert {ref.binding.protocol for ref in site.points()
            if ref.role is Role.HEATING_SETPOINT} == {"lorawan"}


def test_downlinks_counted_at_the_server_are_those_the_engine_published(
        harness: RadioHarness) -> None:
    published = Counter(command.device for command in harness.commands_sent)
    assert published, "the controller changed no setpoint in three days"
    for device in harness.devices:
        received = harness.counts[device.id].downlinks_received
        assert sum(received.values()) == published[device.id]
        assert device.id.startswith("vanne") or not received  # the sensor takes none


def test_each_command_is_taken_at_an_uplink_of_its_valve_after_it_was_sent(
        harness: RadioHarness) -> None:
    applied = [c for c in harness.commands_sent if c.applied_at is not None]
    assert applied
    for command in applied:
        arrivals = {at for _, at in harness.link.heard[command.device]}
        assert command.applied_at in arrivals
        assert command.applied_at is not None and command.applied_at > command.decided_at
    # what the valves took is what the world heats to
    for zone, ref in harness.setpoint_refs.items():
        last = [c for c in applied if c.zone == zone][-1]
        assert harness.world.read(ref.key) == last.value


def test_the_engines_frame_counters_agree_with_the_server(harness: RadioHarness) -> None:
    for device in harness.devices:
        counts, tracker = harness.counts[device.id], harness.points.trackers[device.id]
        heard = {f_cnt for f_cnt, _ in harness.link.heard[device.id]}
        assert tracker.duplicates == counts.duplicated
        # lost before the first heard and after the last are no gap the engine can see
        unseen = min(heard) + counts.sent - 1 - max(heard)
        assert tracker.lost == counts.lost - unseen
        assert counts.lost > 0  # about 5 % of ~430 uplinks a device


def test_a_device_is_declared_stale_by_the_engines_rule_at_the_next_step_not_before(
        harness: RadioHarness) -> None:
    declared = 0
    for device in harness.devices:
        rule = timedelta(seconds=device.interval_s) * (2 + LATE_ALLOWANCE)
        for last, when in harness.stale_declared.get(device.id, {}).items():
            assert rule <= when - last < rule + timedelta(minutes=5)  # the next step
            declared += 1
    assert declared > 0


def testmissed_runs_are_two_or_more_counters_missing_a_duplicate_counted_once() -> None:
    at = START
    heard = [(n, at) for n in (0, 1, 1, 3, 6, 7, 7, 10)]
    assert missed_runs(heard, 13) == [(3, 6), (7, 10), (10, 13)]  # 2 lost: a run; 1: not
    assert missed_runs(heard, 11) == [(3, 6), (7, 10)]


def test_the_controller_reads_what_the_uplinks_said_not_the_world(
        harness: RadioHarness) -> None:
    now = harness.world.now
    seen = harness.observe(now)
    thermometers = [ref for ref in harness.lorawan_refs.values()
                    if ref.role is Role.ZONE_TEMPERATURE and ref.zone is not None]
    assert len(thermometers) == 2
    for ref in thermometers:
        reading = harness.points.reading(ref, now)
        assert reading.ok
        assert seen.temperature(f"{BUILDING}.{ref.zone.id}") == reading.value
        assert reading.at is not None and reading.at <= now
        if lorawan_binding(ref).device.startswith("vanne"):  # through the WT101's bytes
            assert reading.value is not None
            assert abs(reading.value * 10 - round(reading.value * 10)) < 1e-9
    presence = seen.presence_since_last(f"{BUILDING}.grande-salle")
    assert [moment for moment, _ in presence][-1] == now
    assert seen.presence_since_last(f"{BUILDING}.petite-salle")[-1][1] is None  # no detector


def test_planned_rises_are_sent_ahead_of_their_need_and_unplanned_ones_are_not(
        harness: RadioHarness) -> None:
    planned = run_radio(bench_site(DEMO), PlannedLearned)
    assert isinstance(planned.strategy, PlannedLearned)
    assert min(lead for _, lead in planned.strategy.leads) > timedelta(0)
    for sent in (planned.commands_sent, harness.commands_sent):
        assert all(c.wanted_at >= c.decided_at for c in sent)
    ahead = [c for c in planned.commands_sent if c.wanted_at > c.decided_at]
    assert ahead and all(c.rise for c in ahead)  # a setback is never brought forward
    assert all(c.wanted_at == c.decided_at for c in harness.commands_sent)


def test_a_small_budget_refuses_commands_and_is_never_exceeded() -> None:
    site = bench_site(DEMO)
    site = site.model_copy(update={"lorawan": tuple(
        device.model_copy(update={"downlinks_per_day": 1}) for device in site.lorawan)})
    harness = run_radio(site)
    days = [START.date() + timedelta(days=n) for n in range((END - START).days)]
    figures = downlink_figures(harness, days)
    assert all(d["per_day_max"] <= 1 and d["days_over_budget"] == 0
               for d in figures.values())
    assert command_figures(harness, START)["refused"] > 0


def test_the_report_has_the_runs_the_radio_the_stand_ins_and_the_targets() -> None:
    result = bench_lorawan(DEMO, days=2)
    assert result["month"] == MONTH and result["start"] == "2026-01-01"
    assert result["end"] == "2026-01-02"
    assert set(result["runs"]) == {"instant", "class_a", "class_a_unplanned"}
    assert "radio" not in result["runs"]["instant"]  # no downlink at all
    assert result["runs"]["class_a"]["radio"]["planned"]
    radio = result["runs"]["class_a_unplanned"]["radio"]
    assert set(radio) == {"planned", "lead_min_mean", "uplinks", "downlinks", "commands",
                          "stale"}
    assert not radio["planned"] and radio["lead_min_mean"] == 0
    assert set(radio["downlinks"]) == {"vanne-grande-salle", "vanne-petite-salle",
                                       "ambiance-grande-salle"}
    for run in result["runs"].values():
        assert set(run["zones"]) == {f"{BUILDING}.grande-salle", f"{BUILDING}.petite-salle"}
        assert run["heat_kwh"] > 0
    assert "DirectLink" in result["stand_ins"]["broker"]
    assert set(result["targets"]) == {"comfort", "budget", "stale_detection"}
    assert all(isinstance(target["met"], bool) for target in result["targets"].values())
    rows = summary_rows(result)
    assert [row[0] for row in rows] == ["instantané", "classe A, planifiée",
                                        "classe A, sans planification"]
    assert rows[0][4] == "0" and all(len(row) == len(rows[0]) for row in rows)
    lines = target_lines(result["targets"])
    assert len(lines) == 3 and all(line[0] in "✓✗" for line in lines)
    assert "." not in lines[0].split("K·h")[0]  # a decimal comma


def test_the_command_refuses_a_month_that_is_not_one() -> None:
    outcome = CliRunner().invoke(main, ["bench", "lorawan", "--month", "2026-13"])
    assert outcome.exit_code == 2
    assert "'2026-13' is not YYYY-MM" in outcome.output
