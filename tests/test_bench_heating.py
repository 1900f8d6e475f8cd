"""The heating benchmark's harness: strategies on the same occupants and weather, figures
that follow from the physics, a report with the documented keys, and its plots.

The season is cut to a week and a day and one building, so that these run in seconds;
the figures themselves are measured by ``gtb bench heating`` (docs/heating-bench.md).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from click.testing import CliRunner

from gtb.bench.bound import BuildingModel, InfeasibleComfort, bound_span, requirements_of
from gtb.bench.heating import _bound_task, bench_heating, first_learned_preheats, zone_comfort
from gtb.bench.plots import PlotsUnavailable
from gtb.cli import main
from gtb.config import load_site
from gtb.model import Programme, Site
from gtb.model.points import Role
from gtb.sim.season import (
    CONTROL_STEP_S,
    PHYSICS_STEP_S,
    STEPS_PER_CONTROL,
    Clairvoyant,
    Learned,
    Observations,
    Sensors,
    restrict,
    simulate,
)
from gtb.sim.thermal import FloatArray
from gtb.sim.weather import Weather, to_epoch
from gtb.sim.world import BASE_LOAD_W_M2, VirtualCommune

PARIS = ZoneInfo("Europe/Paris")
DEMO = Path(__file__).resolve().parent.parent / "sites" / "demo-commune.yaml"
# A cold week of January, Monday to Monday, and the Tuesday: one whole week to plot.
PERIOD = (datetime(2026, 1, 5, tzinfo=PARIS), datetime(2026, 1, 13, tzinfo=PARIS))
# A second cold start, on the Thursday, followed to the Tuesday.
COLD_START = (datetime(2026, 1, 8, tzinfo=PARIS), datetime(2026, 1, 13, tzinfo=PARIS))


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    plots = tmp_path_factory.mktemp("plots")
    outcome = bench_heating(DEMO, years=(1,), period=PERIOD, buildings=["mairie"],
                            plots=plots, workers=1, cold_start=COLD_START)
    outcome["folder"] = plots
    return outcome


STRATEGY_NAMES = {"always", "as_found", "fixed", "learned"}


def test_the_report_has_the_documented_keys_for_every_strategy(
        result: dict[str, object]) -> None:
    # In the order asked, though the longest season (learned) runs first.
    strategies = result["strategies"]
    assert isinstance(strategies, dict)
    assert list(strategies) == ["always", "as_found", "fixed", "learned"]
    summary = result["summary"]
    assert isinstance(summary, dict)
    assert set(summary) == {"savings_vs_fixed_pct", "savings_vs_as_found_pct",
                            "savings_vs_always_pct", "net_heat_vs_bound_ratio",
                            "discomfort_kh", "misstime_min", "delivered_kwh", "standby_kwh",
                            "uses"}
    assert set(summary["uses"]) == {"mairie"}
    assert summary["uses"]["mairie"]["savings_vs_fixed_pct"] == summary["savings_vs_fixed_pct"]
    assert set(summary["discomfort_kh"]) == STRATEGY_NAMES
    assert set(summary["savings_vs_fixed_pct"]) == STRATEGY_NAMES - {"fixed"}
    assert set(summary["savings_vs_as_found_pct"]) == STRATEGY_NAMES - {"as_found"}
    strategies = result["strategies"]
    assert isinstance(strategies, dict)
    assert set(strategies["fixed"]["buildings"]) == {"mairie"}
    assert set(strategies["fixed"]["uses"]) == {"mairie"}
    total = strategies["fixed"]["total"]
    assert total["heat_kwh"] == pytest.approx(total["delivered_kwh"] + total["standby_kwh"],
                                              abs=0.02)
    bound = result["bound"]
    assert isinstance(bound, dict)
    assert set(bound["buildings"]) == {"mairie"} and set(bound["uses"]) == {"mairie"}


def test_strategies_rank_as_their_knowledge_says(result: dict[str, object]) -> None:
    summary = result["summary"]
    assert isinstance(summary, dict)
    strategies = result["strategies"]
    assert isinstance(strategies, dict)
    energy = {name: s["total"]["heat_kwh"] for name, s in strategies.items()}
    # Comfort day and night costs the most, and keeps everyone warm.
    assert energy["always"] > energy["as_found"] > energy["fixed"] > 0
    assert summary["savings_vs_always_pct"]["fixed"] > 5.0
    assert summary["misstime_min"]["always"] == 0.0
    # A fresh learner follows the programme for its first days only, then sets back
    # deeper and starts later: less heat than the programme, with no more discomfort.
    assert summary["savings_vs_fixed_pct"]["learned"] > 0.0
    assert summary["discomfort_kh"]["learned"] <= summary["discomfort_kh"]["fixed"] + 1.0


def test_no_strategy_beats_the_bound(result: dict[str, object]) -> None:
    """The bound is below every strategy's net heat (delivered less what is left stored),
    even those that miss comfort, which the bound may not."""
    strategies = result["strategies"]
    bound = result["bound"]
    assert isinstance(strategies, dict) and isinstance(bound, dict)
    floor = bound["total"]["net_kwh"]
    assert floor > 0
    for name, figures in strategies.items():
        total = figures["total"]
        assert total["delivered_kwh"] - total["stored_kwh"] > floor, name
    ratio = result["summary"]["net_heat_vs_bound_ratio"]  # type: ignore[index]
    assert min(ratio.values()) > 1.0


def test_a_plot_per_building_and_strategy(result: dict[str, object]) -> None:
    folder = result["folder"]
    assert isinstance(folder, Path)
    written = sorted(Path(p).name for p in result["plots"])  # type: ignore[attr-defined]
    assert written == ["mairie-always.png", "mairie-as_found.png", "mairie-fixed.png",
                       "mairie-learned.png"]
    for name in written:
        data = (folder / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000


def test_discomfort_follows_the_air_temperature_of_occupied_time() -> None:
    site = restrict(load_site(DEMO), ["mairie"])
    run = simulate(site, "always", 1, *PERIOD, warm_up=timedelta(days=1))
    comfort = np.array([19.0, 19.0, 19.0])
    baseline = zone_comfort(run, comfort)
    # Asking two degrees more of the same air makes every occupied hour a miss.
    colder = zone_comfort(run, comfort + 2.0)
    assert (colder[0] > baseline[0]).all()
    assert np.allclose(colder[1], colder[2] * 60.0, rtol=0.02)
    assert (baseline[2] > 0).all()


def test_observations_read_only_what_sensors_show() -> None:
    site = restrict(load_site(DEMO), ["mairie"])
    start = PERIOD[0] + timedelta(hours=10)
    world = VirtualCommune(site, start, seed=1, step_s=300)
    world.advance_to(start + timedelta(seconds=CONTROL_STEP_S))
    seen = Observations(world, Sensors(site), start + timedelta(seconds=CONTROL_STEP_S))
    assert seen.temperature("mairie.accueil") == world.read("mairie.accueil.temperature")
    presence = seen.presence_since_last("mairie.accueil")
    assert [t for t, _ in presence][-1] == seen.now
    assert len(presence) == round(CONTROL_STEP_S / 300)
    outdoor = seen.outdoor()
    assert outdoor is not None and np.isfinite(outdoor)


def test_the_command_refuses_a_broken_site_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("site: [\n", encoding="utf-8")
    outcome = CliRunner().invoke(main, ["bench", "heating", "--quick", "--site", str(broken)])
    assert outcome.exit_code != 0
    assert "broken.yaml" in outcome.output


def test_without_matplotlib_the_plots_are_refused_before_any_season_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """matplotlib is the optional ``bench`` extra: without it, the command says what to
    install at once, instead of failing after minutes of simulation."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    with pytest.raises(PlotsUnavailable, match=r"pip install -e '\.\[bench\]'"):
        bench_heating(DEMO, years=(1,), period=PERIOD, buildings=["mairie"],
                      plots=tmp_path / "plots", workers=1)
    assert not (tmp_path / "plots").exists()


def test_a_zone_without_a_detector_is_unknown_to_the_season_harness() -> None:
    """The learned strategy of the harness (and so the demo's past) records no day for
    a zone without a presence detector: unknown, never a day without anybody."""
    site = restrict(load_site(DEMO), ["mairie"])
    mairie = site.buildings[0]
    zones = tuple(
        z.model_copy(update={"points": tuple(p for p in z.points
                                             if p.role is not Role.OCCUPANCY)})
        if z.id == "bureaux" else z
        for z in mairie.zones)
    blind = site.model_copy(update={"buildings": (mairie.model_copy(update={"zones": zones}),)})
    start = PERIOD[0] + timedelta(hours=10)
    world = VirtualCommune(site, start, seed=1, step_s=300)
    strategy, sensors = Learned(blind), Sensors(blind)
    for now in (start + timedelta(seconds=CONTROL_STEP_S), PERIOD[0] + timedelta(days=1)):
        world.advance_to(now)
        seen = Observations(world, sensors, now)
        assert {present for _, present in seen.presence_since_last("mairie.bureaux")} == {None}
        assert seen.presence("mairie.bureaux") is None
        strategy.setpoints(now, seen)  # the second, after midnight, refits
    learners = strategy.learners
    assert PERIOD[0].date() in learners["mairie.accueil"].occupancy.days
    assert learners["mairie.bureaux"].occupancy.days == {}


class Constant(Weather):
    """The same outdoor air day and night, and no sun."""

    def __init__(self, temperature: float) -> None:
        self.temperature = temperature

    def sample(self, epoch_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        shape = np.shape(epoch_s)
        return np.full(shape, self.temperature), np.zeros(shape)


def _one_empty_room() -> Site:
    """The town hall's reception alone, its floor the building's, with no programme:
    nobody comes, so the bound has only frost protection to keep."""
    site = restrict(load_site(DEMO), ["mairie"])
    mairie = site.buildings[0]
    room = mairie.zones[0]
    alone = mairie.model_copy(update={"zones": (room,), "floor_area_m2": room.area_m2,
                                      "programme": Programme()})
    return site.model_copy(update={"buildings": (alone,)})


def test_the_bound_of_an_empty_room_in_constant_weather_is_its_steady_losses() -> None:
    """Hand-checkable: at -5 °C outdoors, no sun, nobody, the least heat holds the air at
    frost protection (less the tolerance), the structure at its steady temperature, and
    is the steady losses less the base load, hour after hour. The LP may let the air dip
    between control instants, where nothing is measured: a little less, never more. Its
    lead-in (3 days, frost protection required, many time constants of the structure)
    forgets the free start."""
    site = _one_empty_room()
    outdoor, days = -5.0, 3
    first = PERIOD[0].date()
    blocks = bound_span(site, 1, "mairie", first, first + timedelta(days=days),
                        tolerance_k=0.5, weather=Constant(outdoor), lead_in=timedelta(days=3),
                        counted_from=PERIOD[0] - timedelta(days=3),
                        began=PERIOD[0] - timedelta(days=7))
    zone = VirtualCommune(site, PERIOD[0], step_s=PHYSICS_STEP_S).network.zones[0]
    air = site.comfort_of(site.buildings[0].zones[0]).frost_protection - 0.5
    gains = BASE_LOAD_W_M2 * zone.area_m2  # half to the air, half to the structure
    structure = ((zone.h_air_structure * air + zone.h_structure_out * outdoor + gains / 2)
                 / (zone.h_air_structure + zone.h_structure_out))
    steady_kw = (zone.h_air_out * (air - outdoor) + zone.h_structure_out * (structure - outdoor)
                 - gains) / 1000.0
    bound = sum(block.net_kwh for block in blocks)
    assert steady_kw * 24 * days * 0.99 < bound <= steady_kw * 24 * days


def test_the_bound_refuses_days_no_emitter_can_keep_warm() -> None:
    """At -45 °C the mairie's emitters, sized for -9 °C, cannot keep its offices at
    comfort: the bound says which building and days, instead of a number."""
    site = restrict(load_site(DEMO), ["mairie"])
    first = PERIOD[0].date()
    with pytest.raises(InfeasibleComfort, match=r"'mairie'.*2026-01-05 to 2026-01-07"):
        bound_span(site, 1, "mairie", first, first + timedelta(days=2), tolerance_k=0.5,
                   weather=Constant(-45.0))


def test_the_bound_steps_the_zones_as_the_simulator_does() -> None:
    """The LP's maps over each control step are the world's own physics: valves held
    open at known shares, the world's zones end where the maps say, occupants' gains
    and fresh air included."""
    site = restrict(load_site(DEMO), ["mairie"])
    start = PERIOD[0] + timedelta(hours=6)  # the morning: people come, the sun rises
    world = VirtualCommune(site, start, seed=1, step_s=PHYSICS_STEP_S)
    controls = 24
    model = BuildingModel(site, world, 0, to_epoch(start), controls)
    keys = [f"mairie.{zone.id}" for zone in site.buildings[0].zones]
    openings = [0.2, 0.5, 0.0]
    for key, opening in zip(keys, openings, strict=True):
        world.stick_valve(key, opening)
    assert model.occupied.any()
    n = len(world.network.zones)
    real = len(keys)
    state = world.network.state.reshape(3, n)[:, :real].T.copy()  # (zones, 3)
    heat = np.array(openings) * model.emitter_kw[:real]
    for c in range(controls):
        world.advance_to(start + timedelta(seconds=(c + 1) * CONTROL_STEP_S))
        state = (np.einsum("zij,zj->zi", model.phi[c, :real], state)
                 + (model.gamma[c, :, :real] * heat[None, :, None]).sum(axis=0)
                 + model.d[c, :real])
        assert np.allclose(state, world.network.state.reshape(3, n)[:, :real].T, atol=1e-9)
    assert STEPS_PER_CONTROL * controls * PHYSICS_STEP_S == 6 * 3600


def test_every_requirement_of_the_bound_is_what_the_site_says() -> None:
    site = restrict(load_site(DEMO), ["mairie"])
    requirements = requirements_of(site, 0, 0.5)
    levels = [site.comfort_of(zone) for zone in site.buildings[0].zones]
    assert list(requirements.comfort) == [level.comfort for level in levels]
    assert list(requirements.frost) == [level.frost_protection for level in levels]


def test_a_bound_is_computed_once_and_kept_by_all_it_follows_from(tmp_path: Path) -> None:
    """A span's bound depends on nothing a strategy does: the bench keeps it, under a
    digest of the site file, the arguments and the simulator's code, and takes it back."""
    site_file = tmp_path / "site.yaml"
    text = DEMO.read_text(encoding="utf-8")
    site_file.write_text(text, encoding="utf-8")
    cache = tmp_path / "cache"
    first = PERIOD[0].date()
    task = (str(site_file), ("mairie",), 1, "mairie", first, first + timedelta(days=1),
            PERIOD[0], cache)
    computed = _bound_task(*task)
    kept = list(cache.glob("*.json"))
    assert len(kept) == 1 and computed[0].net_kwh > 0
    blocks = json.loads(kept[0].read_text(encoding="utf-8"))
    blocks[0]["net_kwh"] = 1.0  # what is kept is what comes back
    kept[0].write_text(json.dumps(blocks), encoding="utf-8")
    assert _bound_task(*task)[0].net_kwh == 1.0
    site_file.write_text(text + "\n# another site\n", encoding="utf-8")
    assert _bound_task(*task)[0].net_kwh == computed[0].net_kwh
    assert len(list(cache.glob("*.json"))) == 2
    # Held at comfort itself rather than within the bench's tolerance: another bound,
    # kept apart, and higher.
    at_comfort = _bound_task(*task, 0.0)
    assert len(list(cache.glob("*.json"))) == 3
    assert at_comfort[0].net_kwh > computed[0].net_kwh


def test_a_cold_start_learns_its_first_preheat_within_days(result: dict[str, object]) -> None:
    """From no history at the start of the warm-up, every zone of the town hall has a
    learned pre-heat by its fifth working day (issue 18's target for every zone)."""
    first = result["first_learned_preheat"]
    assert isinstance(first, dict)
    assert set(first["zones"]) == {"mairie.accueil", "mairie.bureaux", "mairie.salle-du-conseil"}
    assert all(isinstance(day, int) and 1 <= day <= 5 for day in first["zones"].values())
    assert first["latest"] == max(first["zones"].values())


def test_a_second_cold_start_is_counted_from_its_own_day(result: dict[str, object]) -> None:
    """The second cold start (Thursday 8 January here) is followed from no history: its
    working days are counted from that Thursday, so a pre-heat learned on the Monday
    after is on its third working day, not the season's."""
    first, winter = result["first_learned_preheat"], result["first_learned_preheat_winter"]
    assert isinstance(first, dict) and isinstance(winter, dict)
    assert winter["cold_start"] == "2026-01-08"
    assert set(winter["zones"]) == set(first["zones"])
    assert all(day is None or 1 <= day <= 4 for day in winter["zones"].values())
    assert any(day is not None for day in winter["zones"].values())


def test_the_clairvoyant_reference_is_told_the_real_next_arrival() -> None:
    """``clairvoyant`` is ``learned`` told who will come: its forecast is the zone's next
    occupied slot, and the period lasts until the zone is empty for half an hour."""
    site = restrict(load_site(DEMO), ["mairie"])
    day = PERIOD[0].date() + timedelta(days=1)  # a Tuesday
    early = datetime.combine(day, datetime.min.time(), tzinfo=PARIS) + timedelta(hours=4)
    world = VirtualCommune(site, early, seed=1, step_s=300)
    reference = Clairvoyant(site)
    reference.setpoints(early, Observations(world, Sensors(site), early))
    zone = reference.learners["mairie.bureaux"]
    occupied = world.occupants.day("mairie.bureaux", day) > 0
    first = int(np.flatnonzero(occupied)[0])
    assert first > 4 * 12  # nobody in the offices at 04:00
    last = first
    while occupied[last:last + 6].any():  # six 5-minute slots: half an hour
        last += 1
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=PARIS)
    forecast = zone.next_arrival(early)
    assert forecast.start == midnight + timedelta(minutes=5 * first)
    assert forecast.end == midnight + timedelta(minutes=5 * last)
    assert forecast.basis == "learned" and forecast.confidence == 1.0
    # Once the period has begun, people are expected now, until it ends.
    during = midnight + timedelta(minutes=5 * first + 12)
    assert zone.next_arrival(during).start == during
    assert zone.next_arrival(during).end == forecast.end


def test_a_cold_start_counts_each_zones_own_working_days() -> None:
    """A library open Tuesday, Wednesday, Friday and Saturday learns nothing on a Monday:
    from a cold start on Monday 1 December 2025, Tuesday 9 is its fifth working day
    (its seventh Monday-to-Friday day), and a zone without a pre-heat in one run has
    none."""
    site = load_site(DEMO)
    cold = datetime(2025, 12, 1, tzinfo=PARIS)
    tuesday = datetime(2025, 12, 9, 3, 15, tzinfo=PARIS)
    runs = [{"mediatheque.lecture": tuesday, "mairie.accueil": tuesday},
            {"mediatheque.lecture": tuesday - timedelta(days=4)}]
    first = first_learned_preheats(site, runs, cold)
    assert first["zones"]["mediatheque.lecture"] == 5
    assert first["zones"]["mairie.accueil"] is None  # not in the second run
    assert first["latest"] is None
