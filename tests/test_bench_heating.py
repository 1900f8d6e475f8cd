"""The heating benchmark's harness: strategies on the same occupants and weather, figures
that follow from the physics, a report with the documented keys, and its plots.

The season is cut to a week and a day and one building, so that these run in seconds;
the figures themselves are measured by ``gtb bench heating`` (docs/heating-bench.md).
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from click.testing import CliRunner

from gtb.bench.heating import bench_heating, zone_comfort
from gtb.bench.plots import PlotsUnavailable
from gtb.cli import main
from gtb.config import load_site
from gtb.model.points import Role
from gtb.sim.season import CONTROL_STEP_S, Learned, Observations, Sensors, restrict, simulate
from gtb.sim.world import VirtualCommune

PARIS = ZoneInfo("Europe/Paris")
DEMO = Path(__file__).resolve().parent.parent / "sites" / "demo-commune.yaml"
# A cold week of January, Monday to Monday, and the Tuesday: one whole week to plot.
PERIOD = (datetime(2026, 1, 5, tzinfo=PARIS), datetime(2026, 1, 13, tzinfo=PARIS))


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    plots = tmp_path_factory.mktemp("plots")
    outcome = bench_heating(DEMO, years=(1,), period=PERIOD, buildings=["mairie"],
                            plots=plots, workers=1)
    outcome["folder"] = plots
    return outcome


def test_the_report_has_the_documented_keys_for_every_strategy(
        result: dict[str, object]) -> None:
    summary = result["summary"]
    assert isinstance(summary, dict)
    assert set(summary) == {"savings_vs_fixed_pct", "savings_vs_always_pct",
                            "energy_vs_oracle_ratio", "discomfort_kh", "misstime_min"}
    assert set(summary["discomfort_kh"]) == {"always", "fixed", "learned", "oracle"}
    assert set(summary["savings_vs_fixed_pct"]) == {"always", "learned", "oracle"}
    assert summary["energy_vs_oracle_ratio"]["oracle"] == 1.0
    strategies = result["strategies"]
    assert isinstance(strategies, dict)
    assert set(strategies["fixed"]["buildings"]) == {"mairie"}


def test_strategies_rank_as_their_knowledge_says(result: dict[str, object]) -> None:
    summary = result["summary"]
    assert isinstance(summary, dict)
    strategies = result["strategies"]
    assert isinstance(strategies, dict)
    energy = {name: s["total"]["heat_kwh"] for name, s in strategies.items()}
    # Comfort day and night costs the most, and keeps everyone warm.
    assert energy["always"] > energy["fixed"] > 0
    assert summary["savings_vs_always_pct"]["fixed"] > 5.0
    assert summary["misstime_min"]["always"] == 0.0
    # The oracle knows everything: less than the programme, and warm at every arrival.
    assert energy["oracle"] < energy["fixed"]
    assert summary["misstime_min"]["oracle"] == 0.0
    # A fresh learner starts on the programme: close to it in its first week.
    assert abs(summary["savings_vs_fixed_pct"]["learned"]) < 15.0


def test_a_plot_per_building_and_strategy(result: dict[str, object]) -> None:
    folder = result["folder"]
    assert isinstance(folder, Path)
    written = sorted(Path(p).name for p in result["plots"])  # type: ignore[attr-defined]
    assert written == ["mairie-always.png", "mairie-fixed.png", "mairie-learned.png",
                       "mairie-oracle.png"]
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
