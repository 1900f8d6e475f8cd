"""The efficiency bench's planted faults (``gtb bench efficiency``), on the synthetic meter
of the savings tests: the bench itself runs on the demo's two-year history, too long to
make here."""

from __future__ import annotations

from datetime import date

from gtb.bench.efficiency import planted_faults
from gtb.savings.baseline import fit_baseline

from .test_savings import synthetic_year


def test_planted_faults_are_counted_and_dated_and_no_fault_finds_nothing() -> None:
    year = synthetic_year(3, date(2024, 1, 1), date(2025, 12, 31))
    model = fit_baseline([d for d in year if d.day.year == 2024])
    engine = [d for d in year if d.day.year == 2025]
    avoid = (date(2025, 2, 2), date(2025, 2, 12))
    figures = planted_faults(model, engine, avoid, excesses=(0.0, 1.0))
    # The winter Mondays of 2025 (January to March, December), less those whose fault or
    # check window would touch ``avoid``.
    mondays = [d.day for d in engine if d.day.weekday() == 0 and d.day.month in (1, 2, 3, 12)
               and not date(2025, 1, 9) <= d.day <= avoid[1] and d.day <= date(2025, 12, 21)]
    assert figures["+0 %"] == {"faults": len(mondays), "found": 0, "median_day": None}
    doubled = figures["+100 %"]
    assert doubled["faults"] == len(mondays) and doubled["found"] == len(mondays)
    assert 2 <= doubled["median_day"] <= 4
