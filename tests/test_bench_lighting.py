"""``gtb bench lighting``: what it counts can fail. Short periods of the demo commune keep
it quick; the year's figures are measured by the command itself (docs/lighting.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gtb.bench.lighting import bench_lighting

from .conftest import DEMO_SITE


def test_a_winter_fortnight_saves_and_breaks_nothing() -> None:
    result = bench_lighting(DEMO_SITE, days=14)
    summary = result["summary"]
    assert summary["breaches"] == 0
    # Dusk to dawn in January is about 16 h; the centre is cut 6 h of it, the church and
    # the car park from 23:00 to sunrise.
    assert 35 < result["cabinets"]["ep-centre"]["savings_vs_dusk_to_dawn_pct"] < 55
    assert result["cabinets"]["ep-eglise"]["savings_vs_dusk_to_dawn_pct"] > 50
    assert result["cabinets"]["ep-centre"]["dusk_to_dawn_h"] > 14 * 15.5
    # None of the year's events falls in these two weeks: nothing to honour counts as done.
    assert summary["events_seen"] == 0


def test_a_heritage_cabinet_relit_in_the_morning_is_a_breach(relit_church_site: Path) -> None:
    result = bench_lighting(relit_church_site, days=3)
    assert result["cabinets"]["ep-eglise"]["breaches"] == 3
    assert {b["rule"] for b in result["breach_details"]} == {"heritage_no_relight"}


def test_the_command_prints_the_issue_keys(tmp_path: Path) -> None:
    # The whole year through the command, as a person runs it.
    result = subprocess.run([sys.executable, "-m", "gtb.cli", "bench", "lighting", "--json"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert summary["breaches"] == 0
    assert summary["events_honoured_pct"] == 100.0
    assert summary["events_seen"] == summary["events"] == 12
    assert summary["savings_vs_dusk_to_dawn_pct"] >= 40
