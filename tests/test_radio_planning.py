"""Commands over a class A radio (controllers/radio.py): how far ahead a setpoint looks for
a device that takes a downlink only at its next uplink, and the day's downlinks spent on
increases first."""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from controllers.heating import HeatingDecision, programme_decision
from controllers.radio import (
    Change,
    RadioCommands,
    increases_ahead,
    look_ahead,
    plan_day,
    radio_lead,
    spend,
)
from controllers.schedule import FrenchCalendar, occupation
from gtb.cli.wiring import mqtt_driver
from gtb.clock import SimulatedClock
from gtb.config import parse_site
from gtb.engine import Engine
from gtb.model import ComfortLevels
from gtb.model.calendar import Programme
from gtb.model.mqtt import PASSWORD_ENV
from gtb.model.points import HeatingLevel
from gtb.sim.lorawan import SimulatedDevice, SimulatedNetworkServer
from gtb.store import Store
from gtb.texts import Reason
from tests.mosquitto_rig import ENGINE_PASSWORD, ENGINE_USER, Mosquitto
from tests.test_learning_zone import load_example
from tests.test_lorawan_points import VALVE_EUI
from tests.test_mqtt_driver import device, until

PARIS = ZoneInfo("Europe/Paris")
CALENDAR = FrenchCalendar("B")
LEVELS = ComfortLevels()
TEN = timedelta(minutes=10)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


# -- the lead ------------------------------------------------------------------------------


def test_the_lead_runs_to_the_uplink_after_next_plus_a_margin() -> None:
    # Heard at 12:00, every 10 min: a command now lands at 12:10; one decided after 12:10
    # lands at 12:20, so all wanted before 12:20 (+ 10 % of the 20 min: 2 min) goes now.
    assert radio_lead(TEN, at(2026, 1, 12, 12, 0), at(2026, 1, 12, 12, 3)) == timedelta(
        minutes=19)


def test_the_lead_ends_at_the_same_moment_all_through_an_interval() -> None:
    last = at(2026, 1, 12, 12, 0)
    ends = {now + radio_lead(TEN, last, now)
            for now in (at(2026, 1, 12, 12, 0), at(2026, 1, 12, 12, 4),
                        at(2026, 1, 12, 12, 9, 59))}
    assert ends == {at(2026, 1, 12, 12, 22)}


def test_an_uplink_not_heard_when_due_moves_the_lead_one_interval_on() -> None:
    # 12:10 passed without its uplink (late, or lost): the next one is 12:20, then 12:30,
    # 30 min after the last heard (margin 3 min).
    now = at(2026, 1, 12, 12, 10, 30)
    assert now + radio_lead(TEN, at(2026, 1, 12, 12, 0), now) == at(2026, 1, 12, 12, 33)


def test_a_device_late_by_several_intervals_keeps_its_schedule() -> None:
    # Last heard 12:00, now 12:47: taken to send at 12:50 and 13:00; the margin is 10 % of
    # the hour from 12:00 to 13:00, 6 min.
    now = at(2026, 1, 12, 12, 47)
    assert now + radio_lead(TEN, at(2026, 1, 12, 12, 0), now) == at(2026, 1, 12, 13, 6)
    # Silent two hours: the margin stops at one interval.
    now = at(2026, 1, 12, 14, 5)
    assert now + radio_lead(TEN, at(2026, 1, 12, 12, 0), now) == at(2026, 1, 12, 14, 30)


def test_the_lead_counts_real_time_across_a_daylight_saving_change() -> None:
    # 29/03/2026: 02:00 becomes 03:00. Heard at 01:55 (UTC+1), now 03:03 (UTC+2): 8 min
    # later; the uplinks after are 03:05 and 03:15, the margin 2 min.
    now = at(2026, 3, 29, 3, 3)
    lead = radio_lead(TEN, at(2026, 3, 29, 1, 55), now)
    assert lead == timedelta(minutes=14)


def test_no_uplink_yet_is_one_interval_and_its_margin() -> None:
    assert radio_lead(TEN, None, at(2026, 1, 12, 12, 0)) == timedelta(minutes=11)
    assert radio_lead(timedelta(minutes=30), None, at(2026, 1, 12, 12, 0),
                      jitter=0.0) == timedelta(minutes=30)


# -- looking ahead --------------------------------------------------------------------------

MAIRIE = Programme(mon=("08:30-10:00", "14:30-17:30"))
BECAUSE = Reason.of("radio.class_a", device="vanne-scene", interval=10)


def _programme_at(programme: Programme, moment: datetime) -> HeatingDecision:
    return programme_decision(occupation(programme, CALENDAR, "mairie", moment), moment,
                              LEVELS)


def test_a_preheat_within_the_lead_starts_now_and_says_by_how_long() -> None:
    # The fixed pre-heat before 14:30 starts at 12:30 (2 h after a short absence).
    now = at(2026, 1, 12, 12, 16)
    decide_at = partial(_programme_at, MAIRIE)
    decision = look_ahead(decide_at(now), decide_at, now, timedelta(minutes=19), BECAUSE)
    assert decision.level is HeatingLevel.COMFORT
    assert decision.setpoint == LEVELS.comfort
    assert decision.reason.fr == (
        "Préchauffage fixe de 2 h : occupation prévue à 14:30 — dès maintenant plutôt qu'à "
        "12:30 : "
        "vanne-scene ne reçoit un ordre qu'à sa prochaine remontée radio, toutes les 10 min")
    assert decision.reason.en.endswith("from now rather than at 12:30: vanne-scene takes a "
                                       "command only at its next radio uplink, every 10 min")


def test_a_setback_within_the_lead_is_not_brought_forward() -> None:
    now = at(2026, 1, 12, 9, 50)  # the period ends at 10:00
    decide_at = partial(_programme_at, MAIRIE)
    decision = look_ahead(decide_at(now), decide_at, now, timedelta(minutes=19), BECAUSE)
    assert decision == decide_at(now)


def test_no_lead_is_the_decision_of_now() -> None:
    now = at(2026, 1, 12, 12, 16)
    decide_at = partial(_programme_at, MAIRIE)
    assert look_ahead(decide_at(now), decide_at, now, timedelta(0), BECAUSE) == decide_at(now)


def test_the_first_rise_within_a_long_lead_is_found_to_the_minute() -> None:
    # 12:45-13:00 occupied, its fixed pre-heat from 10:45: a lead of 1 h 20 is looked at
    # every 10 min, and the moment between two looks found by halves.
    short = Programme(mon=("08:30-09:00", "12:45-13:00"))
    now = at(2026, 1, 12, 10, 0)
    decide_at = partial(_programme_at, short)
    decision = look_ahead(decide_at(now), decide_at, now, timedelta(minutes=80), BECAUSE)
    assert decision.setpoint == LEVELS.comfort
    assert decision.reason.params["wanted"] == at(2026, 1, 12, 10, 45).isoformat()


# -- the day's budget -----------------------------------------------------------------------


def test_what_the_device_cannot_tell_apart_costs_nothing() -> None:
    verdict = spend(19.0, 19.4, at=at(2026, 1, 12, 9, 0), remaining=0, increases_ahead=(),
                    resolution=1.0)
    assert (verdict.send, verdict.cost) == (True, 0)
    verdict = spend(19.0, 19.4, at=at(2026, 1, 12, 9, 0), remaining=3, increases_ahead=())
    assert (verdict.send, verdict.cost) == (True, 1)


def test_increases_go_even_from_the_reserve_and_decreases_wait_for_them() -> None:
    moment, preheat = at(2026, 1, 12, 12, 0), at(2026, 1, 12, 17, 20)
    assert spend(16.0, 19.0, at=moment, remaining=1, increases_ahead=(preheat,)).send
    # 2 left, one increase ahead, one in reserve: the setback would leave 1, not enough.
    verdict = spend(19.0, 16.0, at=moment, remaining=2, increases_ahead=(preheat,))
    assert not verdict.send
    assert verdict.reason is not None
    assert verdict.reason.fr == ("baisse à 16,0 °C reportée : 2 envois radio restants "
                                 "aujourd'hui, gardés pour le préchauffage avant 17:20")
    assert spend(19.0, 16.0, at=moment, remaining=3, increases_ahead=(preheat,)).send
    # After the day's last increase, no reserve: the night's setback takes the last one.
    assert spend(19.0, 16.0, at=moment, remaining=1, increases_ahead=()).send
    spent = spend(19.0, 16.0, at=moment, remaining=0, increases_ahead=())
    assert not spent.send and spent.reason is not None
    assert spent.reason.fr == ("baisse à 16,0 °C reportée : les envois radio du jour sont "
                               "faits")


def test_frost_protection_is_never_deferred() -> None:
    moment = at(2026, 1, 12, 12, 0)
    increases = (at(2026, 1, 12, 13, 0), at(2026, 1, 12, 17, 0))
    verdict = spend(21.0, 8.0, at=moment, remaining=1, increases_ahead=increases, frost=True)
    assert (verdict.send, verdict.cost) == (True, 1)
    assert not spend(21.0, 8.0, at=moment, remaining=1, increases_ahead=increases).send


def test_a_zones_commands_hold_the_decision_let_through_while_a_setback_waits() -> None:
    commands = RadioCommands("vanne-1", TEN, 10, resolution=1.0)
    comfort = HeatingDecision(HeatingLevel.COMFORT, 19.0, Reason.of("heating.presence_open",
                                                                   setpoint=19.0))
    moment, preheat = at(2026, 1, 12, 12, 0), at(2026, 1, 12, 17, 20)
    setback = HeatingDecision(HeatingLevel.REDUCED, 16.0, Reason.of(
        "heating.unoccupied", when=Reason.of("heating.until", at=moment, start=preheat),
        setpoint=16.0))
    kept = dict(at=moment, increases=(preheat,), frost=False)
    assert commands.within_budget(comfort, spent=9, **kept) is comfort  # the first goes
    waiting = commands.within_budget(setback, spent=8, **kept)
    assert (waiting.level, waiting.setpoint) == (HeatingLevel.COMFORT, 19.0)
    assert waiting.reason.fr == (
        "Consigne maintenue à 19,0 °C, baisse à 16,0 °C reportée : 2 envois radio restants "
        "aujourd'hui, gardés pour le préchauffage avant 17:20 — Inoccupé jusqu'à 17:20 : "
        "réduit 16,0 °C")
    assert waiting.reason.summary("fr") == ("Consigne maintenue à 19,0 °C : envois radio "
                                            "comptés")
    assert commands.held is comfort
    assert commands.within_budget(setback, spent=7, **kept) is setback  # 3 left: it goes
    failed = HeatingDecision(HeatingLevel.FROST_PROTECTION, math.nan, Reason.of("empty"))
    assert commands.within_budget(failed, spent=10, **kept) is failed
    assert commands.held is setback


def _day(periods: list[tuple[int, int]]) -> list[Change]:
    """A day's plan: comfort 19 °C from each period's start hour, reduced 16 °C from its
    end hour."""
    changes = []
    for start, end in periods:
        changes += [Change(at(2026, 1, 12, start), 19.0), Change(at(2026, 1, 12, end), 16.0)]
    return changes


def test_a_day_of_ten_changes_fits_a_budget_of_ten() -> None:
    plan = plan_day(_day([(7, 8), (9, 10), (11, 12), (14, 15), (17, 19)]), 16.0, budget=10)
    assert all(step.spend.send and step.spend.cost == 1 for step in plan)
    assert [step.held for step in plan] == [19.0, 16.0] * 5


def test_a_day_that_would_need_fourteen_keeps_its_increases() -> None:
    periods = [(6, 7), (8, 9), (10, 11), (12, 13), (14, 15), (16, 17), (18, 20)]
    plan = plan_day(_day(periods), 16.0, budget=10)
    assert sum(step.spend.cost for step in plan) <= 10
    rises = [step for step in plan if step.change.value == 19.0]
    assert all(step.held == 19.0 for step in rises)  # comfort at every period's start
    waiting = [step for step in plan if not step.spend.send]
    assert waiting and all(step.change.value == 16.0 for step in waiting)
    assert all(step.spend.reason is not None and step.spend.reason.code == "radio.kept"
               for step in waiting)
    assert plan[-1].held == 16.0  # the night's setback went with the last downlink


def test_a_frost_command_goes_even_when_the_budget_is_tight() -> None:
    changes = [*_day([(6, 7), (8, 9), (10, 11)]),
               Change(at(2026, 1, 12, 7, 30), 8.0, frost=True)]
    plan = plan_day(changes, 16.0, budget=4)
    frost = next(step for step in plan if step.change.frost)
    assert frost.spend.send and frost.held == 8.0


def test_the_increases_ahead_are_the_days_remaining_period_starts() -> None:
    starts = increases_ahead(MAIRIE, CALENDAR, "mairie", at(2026, 1, 12, 7, 0))
    assert starts == [at(2026, 1, 12, 8, 30), at(2026, 1, 12, 14, 30)]
    assert increases_ahead(MAIRIE, CALENDAR, "mairie", at(2026, 1, 12, 9, 0)) == [
        at(2026, 1, 12, 14, 30)]
    assert increases_ahead(MAIRIE, CALENDAR, "mairie", at(2026, 1, 12, 18, 0)) == []


# -- a learned zone deciding with a lead ----------------------------------------------------


def _learned_mornings(lead: timedelta) -> list[tuple[datetime, HeatingDecision]]:
    """Monday 26/01's decisions, a minute apart from 03:00 to 10:00, of the town hall's
    offices after three weeks of learning (``docs/examples/learning_zone.py``), in a cold
    empty zone that does not warm (the sensors held still: the same start each minute)."""
    learner, _ = load_example().learner_after(weeks=3)
    moment, decisions = at(2026, 1, 26, 3, 0), []
    while moment < at(2026, 1, 26, 10, 0):
        decisions.append((moment, learner.decide(
            moment, indoor=15.0, outdoor=2.0, present=False, lead=lead,
            because=Reason.of("radio.class_a", device="vanne-bureaux", interval=10))))
        moment += timedelta(minutes=1)
    return decisions


def test_a_learned_preheat_starts_earlier_by_the_lead_and_stays_latched() -> None:
    plain = _learned_mornings(timedelta(0))
    early = _learned_mornings(timedelta(minutes=20))
    start = next(moment for moment, d in plain if d.level is HeatingLevel.COMFORT)
    assert plain[[m for m, _ in plain].index(start)][1].reason.code == "heating.preheat"
    first = next(i for i, (_, d) in enumerate(early) if d.level is HeatingLevel.COMFORT)
    moment, decision = early[first]
    assert moment == start - timedelta(minutes=20)
    assert decision.reason.code == "heating.ahead"
    assert decision.reason.fr == (
        f"Préchauffage démarré à {moment:%H:%M} pour l'arrivée prévue à 08:15 — dès "
        f"maintenant plutôt qu'à {start:%H:%M} : vanne-bureaux ne reçoit un ordre qu'à sa "
        "prochaine remontée radio, toutes les 10 min")
    # Before, the look-ahead changed nothing (nor what the zone remembers); after, the
    # pre-heat is latched from when it really began, and held until the arrival.
    assert [d for _, d in early[:first]] == [d for _, d in plain[:first]]
    after = early[first + 1][1]
    assert after.preheat is not None and after.preheat.since == moment
    assert after.reason.fr.startswith(f"Préchauffage démarré à {moment:%H:%M}")
    assert all(d.level is HeatingLevel.COMFORT for _, d in early[first:])


# -- the engine, a real broker and the simulated network server -----------------------------

SALLE = """\
id: essai
name: Essai
latitude: 50.4
longitude: 3.28
school_zone: B
learning: {{fixed_preheat_hours: {preheat}}}
mqtt:
  host: 127.0.0.1
  port: {port}
  username: {user}
lorawan:
  - id: vanne-1
    network_server: chirpstack
    application: salle-des-fetes
    dev_eui: "{eui}"
    interval_s: 600
    downlinks_per_day: {budget}
buildings:
  - id: salle
    name: Salle des fêtes
    floor_area_m2: 300
    use: salle_des_fetes
    programme: {{sun: ["18:00-22:00"], mon: {monday}}}
    zones:
      - id: grande
        name: Grande salle
        area_m2: 250
        points:
          - id: temperature
            role: zone_temperature
            binding: {{protocol: lorawan, device: vanne-1, field: temperature}}
          - id: consigne
            role: heating_setpoint
            binding: {{protocol: lorawan, device: vanne-1, field: target_temperature,
                      command_field: target_temperature, command_port: 10}}
"""


@dataclass
class Run:
    """What a run of the salle showed: the valve's setpoint at each minute (as the device
    applied it), the engine's zone reason at each minute, the reasons of the audit log's
    commands, and the downlinks the network server received."""

    setpoints: dict[datetime, float] = field(default_factory=dict)
    reasons: dict[datetime, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    downlinks: int = 0


def run_salle(broker: Mosquitto, tmp_path: Path, *, monday: str, start: datetime,
              end: datetime, preheat: float = 2.0, budget: int = 10) -> Run:
    """The engine of a salle whose setpoint is a valve (ChirpStack's codec) behind the
    simulated network server on ``broker``, ticking each minute from ``start`` to ``end``
    (local, Monday 07/12/2026), the server's uplinks published as the clock reaches them.
    No uplink is lost (``loss=0``): a lost one delays a command by an interval, which the
    lead does not cover (docs/lorawan.md)."""
    site = parse_site(SALLE.format(port=broker.port, user=ENGINE_USER, eui=VALVE_EUI,
                                   budget=budget, monday=monday, preheat=preheat),
                      "essai.yaml")
    clock = SimulatedClock(start.astimezone(UTC))
    driver = mqtt_driver(site, clock)
    assert driver is not None
    store = Store(tmp_path / "gtb.db")
    valve = SimulatedDevice("vanne-1", VALVE_EUI, TEN, lambda moment: {"temperature": 15.0},
                            f_port=10, settings={"target_temperature": 17.0})
    run = Run()

    async def scenario() -> None:
        engine = Engine(site, store, {"mqtt": driver, "lorawan": driver}, clock)
        async with device(broker) as client:
            server = SimulatedNetworkServer(client, "chirpstack", "salle-des-fetes", [valve],
                                            clock, seed=4, timezone=PARIS, loss=0,
                                            duplicates=0)
            await server.subscribe()
            listening = asyncio.create_task(server.listen())
            await engine.start()
            try:
                await until(lambda: driver.connected, "connected")
                counts = server.counts["vanne-1"]
                while clock.now() < end:
                    if await server.publish_due():
                        await until(lambda: driver.last_uplink("vanne-1") == clock.now(),
                                    "the uplink read")
                    local = clock.now().astimezone(PARIS)
                    run.setpoints[local] = valve.settings["target_temperature"]
                    await engine.tick()
                    run.reasons[local] = store.status.zones()["salle.grande"].reason.fr
                    await until(lambda: sum(counts.downlinks_received.values())
                                == driver.downlinks_today("vanne-1", clock.now()),
                                "the downlink at the network server")
                    clock.advance(60)
                run.downlinks = sum(counts.downlinks_received.values())
                run.commands = [event.reason or "" for event in store.audit.events(
                    kind="command")]
            finally:
                await engine.stop()
                listening.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listening

    try:
        asyncio.run(scenario())
    finally:
        store.close()
    return run


def test_the_engine_sends_a_preheat_ahead_and_the_valve_applies_it_before_the_start(
        mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The salle's fixed pre-heat starts at 16:00 (2 h before its 18:00 evening): the
    engine commands it ahead by the radio's lead, and the valve, a class A device behind
    the simulated network server on a real Mosquitto, takes it at an uplink before 16:00."""
    monkeypatch.setenv(PASSWORD_ENV, ENGINE_PASSWORD)
    run = run_salle(mosquitto, tmp_path, monday='["18:00-22:00"]',
                    start=at(2026, 12, 7, 14, 30), end=at(2026, 12, 7, 16, 30))
    warm = min(moment for moment, value in run.setpoints.items() if value == LEVELS.comfort)
    # Taken at an uplink before 16:00, and not more than the lead (two intervals and
    # their margin) before it; the reduced level of the first tick before that.
    assert at(2026, 12, 7, 15, 38) <= warm <= at(2026, 12, 7, 16, 0)
    assert run.setpoints[at(2026, 12, 7, 15, 0)] == LEVELS.reduced
    ahead_of = [reason for moment, reason in run.reasons.items() if moment < warm]
    assert any(" — dès maintenant plutôt qu'à 16:00 : vanne-1 ne reçoit un ordre qu'à sa "
               "prochaine remontée radio, toutes les 10 min" in reason for reason in ahead_of)
    assert run.downlinks == 2
    # Said once in the audit log, not at every tick until 16:00.
    assert sum("plutôt qu'à 16:00" in reason for reason in run.commands) == 1


def test_the_engine_defers_setbacks_to_keep_the_days_downlinks_for_its_preheats(
        mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four half-hours (9:00, 11:00, 13:00, 15:00) with half-hour pre-heats would take nine
    downlinks from 08:00 (the first setback, four rises, four setbacks); the valve takes
    five a day. Every period starts warm, the setbacks wait until the rises left are
    covered, and the day's last setback goes with its last downlink."""
    monkeypatch.setenv(PASSWORD_ENV, ENGINE_PASSWORD)
    run = run_salle(mosquitto, tmp_path,
                    monday='["09:00-09:30", "11:00-11:30", "13:00-13:30", "15:00-15:30"]',
                    start=at(2026, 12, 7, 8, 0), end=at(2026, 12, 7, 16, 30), preheat=0.5,
                    budget=5)
    assert run.downlinks == 5
    for hour in (9, 11, 13, 15):
        assert run.setpoints[at(2026, 12, 7, hour, 0)] == LEVELS.comfort
    assert run.setpoints[at(2026, 12, 7, 10, 15)] == LEVELS.comfort  # held
    assert run.reasons[at(2026, 12, 7, 10, 0)].startswith(
        "Consigne maintenue à 19,0 °C, baisse à 16,0 °C reportée : 3 envois radio restants "
        "aujourd'hui, gardés pour le préchauffage avant 11:00 — Inoccupé")
    # After 15:30 the salle is empty until Sunday: frost protection, with the last one.
    assert run.setpoints[at(2026, 12, 7, 16, 29)] == LEVELS.frost_protection
