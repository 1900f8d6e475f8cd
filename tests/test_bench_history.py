"""``gtb bench history`` end to end on a small load: its figures are those of the README only
when run in full (``gtb bench history --json``); here, that it measures what it says."""

from __future__ import annotations

from gtb.bench.history import bench_history


def test_the_history_bench_ships_everything_and_drains_the_outage() -> None:
    result = bench_history(samples=10_000, outage_ticks=3)
    assert result["samples"] == 10_000
    assert result["outage_samples"] == 15_000
    check = result["archived_check"]
    assert check["temperature_samples"] == check["expected"] == 500 * (2 + 3)
    assert result["points_per_s"] > 0 and result["drain_1h_outage_s"] > 0
