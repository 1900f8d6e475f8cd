"""``gtb bench efficiency``: how soon and how surely the daily efficiency check finds a
loss of efficiency, and how often it raises one where there is none.

On the demo's two-year history (``gtb.sim.past``, seed 0, up to a fixed day so that the
figures do not move with the calendar; made once, then taken from its cache under
``var/``):

- the demo's fault, a valve of the school stuck open ten days in January: the day its
  alarm was raised by the daily job (``gtb.engine.efficiency``, run each simulated morning while
  the history was made) and the day it was cleared;
- false alarms: the losses found on each heating meter over the engine's year outside the
  fault, and over the baseline year (the baseline's own days);
- planted faults: each meter's consumption raised by 20, 30, 50 and 100 % of its expected
  kWh for ten days from each Monday of the winter (December to March, away from the
  demo's fault), checked morning after morning as the job does (the last
  ``RECENT_DAYS`` days): how many are found within their ten days, and on which day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from rich.progress import Progress

from gtb.config import load_site
from gtb.engine.efficiency import RECENT_DAYS
from gtb.model import Building, Site
from gtb.savings.baseline import Baseline, DayRecord, fit_baseline
from gtb.savings.readings import building_days, heating_meters
from gtb.savings.reporting import efficiency_losses
from gtb.savings.site import default_baseline_period
from gtb.sim.past import demo_history
from gtb.store import Store

UNTIL = datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("Europe/Paris"))
"""The end of the history the figures are measured on."""
EXCESSES = (0.2, 0.3, 0.5, 1.0)
"""Planted faults, as a fraction of the expected consumption."""
FAULT_DAYS = 10
WINTER = (12, 1, 2, 3)


def bench_efficiency(site_file: Path, var: Path, *, progress: Progress) -> dict[str, Any]:
    """The figures of the module docstring, as a dict for ``--json``."""
    var.mkdir(parents=True, exist_ok=True)
    db = var / "bench-efficiency.sqlite"
    history = demo_history(site_file, 0, db, UNTIL, progress=progress)
    site = load_site(site_file)
    with Store(db) as store:
        first, last = default_baseline_period(store, site)
        fault = history.fault
        no_fault = (date.max, date.max)
        fault_days = (fault.start.date(), fault.end.date()) if fault is not None else no_fault
        end = history.end.astimezone(site.tz).date() - timedelta(days=1)  # the last whole day
        meters = [(b, m) for b in site.buildings for m in heating_meters(site, b)]
        task = progress.add_task("fautes plantées", total=len(meters))
        false_alarms: dict[str, dict[str, int]] = {"engine_year": {}, "baseline_year": {}}
        planted: dict[str, dict[str, Any]] = {}
        for building, meter in meters:
            baseline_days = _meter_days(store, site, building, meter, first, last)
            baseline = fit_baseline(baseline_days)
            engine_days = _meter_days(store, site, building, meter, last + timedelta(days=1),
                                      end)
            outside = [d for d in engine_days if not fault_days[0] <= d.day < fault_days[1]]
            false_alarms["engine_year"][meter] = len(efficiency_losses(baseline, outside))
            false_alarms["baseline_year"][meter] = len(efficiency_losses(baseline,
                                                                         baseline_days))
            planted[meter] = planted_faults(baseline, engine_days, fault_days)
            progress.advance(task)
        return {
            "history": {"seed": 0, "baseline": [first.isoformat(), last.isoformat()],
                        "engine": [(last + timedelta(days=1)).isoformat(), end.isoformat()]},
            "fault": None if fault is None else _fault_alarm(store, site, fault.zone,
                                                             fault_days),
            "false_alarms": false_alarms,
            "planted": planted,
        }


def _meter_days(store: Store, site: Site, building: Building, meter: str, first: date,
                last: date) -> list[DayRecord]:
    return sorted(building_days(store, site, building, first, last, meter=meter),
                  key=lambda d: d.day)


def _fault_alarm(store: Store, site: Site, zone: str, fault_days: tuple[date, date]
                 ) -> dict[str, Any]:
    """When the daily job raised and cleared the alarm of the demo's fault (local time),
    and on which day of the fault it was raised (1: its first day)."""
    building = zone.split(".")[0]
    tz = site.tz
    alarms = [a for a in store.alarms.history(limit=1000)
              if a.key.startswith(f"efficiency:{building}:")
              and fault_days[0] <= a.raised_at.astimezone(tz).date()
              <= fault_days[1] + timedelta(days=7)]
    found: dict[str, Any] = {"zone": zone, "start": fault_days[0].isoformat(),
                             "end": (fault_days[1] - timedelta(days=1)).isoformat()}
    if not alarms:
        return {**found, "raised_at": None, "raised_on_day": None, "cleared_at": None}
    alarm = min(alarms, key=lambda a: a.raised_at)
    raised = alarm.raised_at.astimezone(tz)
    cleared = alarm.cleared_at
    return {**found, "raised_at": raised.isoformat(),
            "raised_on_day": (raised.date() - fault_days[0]).days + 1,
            "cleared_at": None if cleared is None else cleared.astimezone(tz).isoformat()}


def planted_faults(baseline: Baseline, days: Sequence[DayRecord], avoid: tuple[date, date],
                   excesses: Sequence[float] = EXCESSES) -> dict[str, Any]:
    """Faults planted from each winter Monday away from ``avoid``, for each excess: how
    many were found within their days, and the median day of the fault they were found
    on (1: the morning after its first day)."""
    expected = baseline.predict(days)
    mondays = [d.day for d in days if d.day.weekday() == 0 and d.day.month in WINTER
               and not avoid[0] - timedelta(days=FAULT_DAYS + RECENT_DAYS) <= d.day <= avoid[1]
               and d.day + timedelta(days=FAULT_DAYS) <= days[-1].day]
    figures: dict[str, Any] = {}
    for excess in excesses:
        found_on: list[int] = []
        for monday in mondays:
            end = monday + timedelta(days=FAULT_DAYS)
            faulty = [replace(d, kwh=d.kwh + excess * e) if monday <= d.day < end else d
                      for d, e in zip(days, expected, strict=True)]
            day = _found_on(baseline, faulty, monday, end)
            if day is not None:
                found_on.append(day)
        figures[f"+{100 * excess:.0f} %"] = {
            "faults": len(mondays), "found": len(found_on),
            "median_day": median(found_on) if found_on else None}
    return figures


def _found_on(baseline: Baseline, days: Sequence[DayRecord], start: date, end: date
              ) -> int | None:
    """The day of the fault from ``start`` whose figures raise the alarm, checked as the
    daily job does, or None when none does before ``end``."""
    for n, record in enumerate(days):
        if not start <= record.day < end:
            continue
        recent = [d for d in days[max(0, n - RECENT_DAYS + 1):n + 1]
                  if d.day > record.day - timedelta(days=RECENT_DAYS)]
        if any(loss.ongoing for loss in efficiency_losses(baseline, recent)):
            return (record.day - start).days + 1
    return None
