"""Public-lighting benchmark: ``gtb bench lighting``, a year of the demo commune's cabinets.

Every minute of the year, each cabinet's command is what the engine would write: the
cabinet controller (sun, night cut, dimming, lighting events of the agenda), then
arbitration (the mayor's immediate on or off with its expiry, the relays' minimum times).
Energy is the installed power times the level while lit, as the cabinets' meters count
it in the virtual commune. The baseline is dusk to dawn at full power: lit from sunset to
sunrise every night, as a cabinet with a photocell and no programme is.

Breaches are the minutes lit where the arrêté of 27 December 2018 forbids it
(``controllers.light_nuisance``), counted per night and rule, outside the minutes that an
event or an override decided (those are the mayor's exceptions, reported apart). An
event or override is honoured when the cabinet was in the state it asked for during all
its minutes. docs/lighting.md gives the figures measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from rich.progress import Progress

from controllers.light_nuisance import breaches
from controllers.lighting import cabinet_decision, lighting_entries, night_of, sun_times
from gtb.config import load_site
from gtb.engine.arbitration import Arbiter, Command, Switch
from gtb.model import Site
from gtb.model.calendar import AgendaEntry
from gtb.model.points import Role
from gtb.store.control import Override

YEAR = 2026
STEP = timedelta(minutes=1)

BENCH_EVENTS = (
    AgendaEntry(kind="lights_on", label="Fête de la musique", scope=("ep-centre", "ep-eglise"),
                start=datetime(YEAR, 6, 21, 22, 0), end=datetime(YEAR, 6, 22, 1, 0)),
    AgendaEntry(kind="lights_on", label="Ducasse", scope=("ep-centre",),
                start=datetime(YEAR, 9, 5, 21, 0), end=datetime(YEAR, 9, 6, 2, 0)),
    AgendaEntry(kind="lights_off", label="Nuit des étoiles", scope=(),
                start=datetime(YEAR, 8, 8, 21, 0), end=datetime(YEAR, 8, 9, 3, 0)),
    AgendaEntry(kind="lights_on", label="Réveillon de la Saint-Sylvestre", scope=("ep-centre",),
                start=datetime(YEAR, 12, 31, 22, 0), end=datetime(YEAR + 1, 1, 1, 2, 0)),
)
"""Events of the year beyond the site file's (Christmas market, 14 July fireworks)."""

MAYOR = (
    ("ep-stade.relais", 1.0, datetime(YEAR, 2, 14, 23, 10), timedelta(hours=1),
     "match en nocturne prolongé"),
    ("ep-centre.relais", 1.0, datetime(YEAR, 11, 3, 2, 0), timedelta(minutes=45),
     "accident rue de la gare"),
    ("ep-centre.relais", 0.0, datetime(YEAR, 4, 18, 20, 30), timedelta(minutes=30),
     "coupure demandée par les pompiers"),
)
"""The mayor's immediate on or off: point, value, local start, duration, why."""


@dataclass
class _Tally:
    kwh: float = 0.0
    lit_h: float = 0.0
    baseline_kwh: float = 0.0
    baseline_h: float = 0.0


def bench_lighting(site_file: Path, year: int = YEAR, days: int | None = None,
                   progress: Progress | None = None) -> dict[str, Any]:
    """A year of every cabinet of the site (its first ``days`` nights when given, for
    tests): energy, lit hours, savings, breaches, events honoured."""
    site = load_site(site_file)
    tz = site.tz
    agenda = (*site.agenda, *BENCH_EVENTS)
    overrides = [_override(n, site, *spec) for n, spec in enumerate(MAYOR)]
    arbiter = Arbiter(site)
    relay_of = {c.id: next(f"{c.id}.{p.id}" for p in c.points if p.role is Role.CABINET_RELAY)
                for c in site.cabinets}
    entries = {c.id: lighting_entries(agenda, c.id) for c in site.cabinets}
    tallies = {c.id: _Tally() for c in site.cabinets}
    # Per cabinet and night: lit intervals decided by the programme only, for the rules.
    lit: dict[tuple[str, date], list[tuple[datetime, datetime, float]]] = {}
    asked: dict[tuple[str, int], bool] = {}  # (point or cabinet, which) -> honoured so far
    switches: dict[str, Switch] = {}
    start = datetime.combine(date(year, 1, 1), time(12), tzinfo=tz).astimezone(UTC)
    last = date(year + 1, 1, 1) if days is None else date(year, 1, 1) + timedelta(days=days)
    end = datetime.combine(last, time(12), tzinfo=tz).astimezone(UTC)
    minutes = round((end - start) / STEP)
    track = (progress.add_task(f"année {year}, minute par minute", total=minutes)
             if progress else None)
    hours = STEP.total_seconds() / 3600
    for n in range(minutes):
        now = start + n * STEP
        local = now.astimezone(tz)
        desired: dict[str, Command] = {}
        decisions = {}
        for cabinet in site.cabinets:
            decision = cabinet_decision(cabinet, site.latitude, site.longitude, local,
                                        entries[cabinet.id])
            decisions[cabinet.id] = decision
            relay = relay_of[cabinet.id]
            desired[relay] = Command(relay, 1.0 if decision.on else 0.0, decision.reason)
        active = {o.point: o for o in overrides if o.start <= now < o.until}
        final = arbiter.arbitrate(desired, active, switches, now)
        sun = sun_times(site.latitude, site.longitude, tz, local.date())
        dark = not sun.sunrise <= local < sun.sunset
        for cabinet in site.cabinets:
            relay = relay_of[cabinet.id]
            on = final[relay].value >= 0.5
            before = switches.get(relay)
            if before is None or before.value != final[relay].value:
                switches[relay] = Switch(final[relay].value, now)
            decision = decisions[cabinet.id]
            level = (decision.level if decision.on else 100.0) if on else 0.0
            tally = tallies[cabinet.id]
            tally.kwh += cabinet.power_kw * level / 100 * hours
            tally.lit_h += hours if on else 0.0
            if dark:
                tally.baseline_kwh += cabinet.power_kw * hours
                tally.baseline_h += hours
            for e, entry in enumerate(entries[cabinet.id]):
                if decision.event == entry.label:
                    key = (cabinet.id, e)
                    asked[key] = asked.get(key, True) and on == (entry.kind == "lights_on")
            override = active.get(relay)
            if override is not None:
                key = (relay, override.id)
                asked[key] = asked.get(key, True) and on == (override.value >= 0.5)
            elif decision.event is None and on:
                lit.setdefault((cabinet.id, night_of(local)), []).append((now, now + STEP, level))
        if progress is not None and track is not None and n % 1440 == 0:
            progress.update(track, completed=n)
    if progress is not None and track is not None:
        progress.update(track, completed=minutes)
    cabinets = {cabinet.id: cabinet for cabinet in site.cabinets}
    found = [b for (cabinet_id, night), spans in lit.items()
             for b in breaches(cabinets[cabinet_id], site.latitude, site.longitude, tz, night,
                               spans)]
    to_honour = sum(len(listed) for listed in entries.values()) + len(overrides)
    return _report(site, year, tallies, found, asked, to_honour)


def _override(n: int, site: Site, point: str, value: float, local: datetime,
              duration: timedelta, why: str) -> Override:
    start = local.replace(tzinfo=site.tz).astimezone(UTC)
    return Override(n, point, value, start, start + duration, "maire", why, start, None, None,
                    None)


def _report(site: Site, year: int, tallies: dict[str, _Tally], found: Sequence[Any],
            asked: dict[tuple[str, int], bool], expected: int) -> dict[str, Any]:
    cabinets = {}
    for cabinet in site.cabinets:
        t = tallies[cabinet.id]
        cabinets[cabinet.id] = {
            "category": cabinet.category,
            "kwh": round(t.kwh, 1), "lit_h": round(t.lit_h, 1),
            "dusk_to_dawn_kwh": round(t.baseline_kwh, 1),
            "dusk_to_dawn_h": round(t.baseline_h, 1),
            "savings_vs_dusk_to_dawn_pct": round(100 * (1 - t.kwh / t.baseline_kwh), 1),
            "breaches": sum(1 for b in found if b.cabinet == cabinet.id),
        }
    kwh = sum(t.kwh for t in tallies.values())
    baseline = sum(t.baseline_kwh for t in tallies.values())
    honoured = sum(1 for ok in asked.values() if ok)
    return {
        "year": year,
        "cabinets": cabinets,
        "breach_details": [{"cabinet": b.cabinet, "night": b.night.isoformat(), "rule": b.rule,
                            "reason": b.reason.fr} for b in found],
        "summary": {
            "kwh": round(kwh, 1),
            "dusk_to_dawn_kwh": round(baseline, 1),
            "savings_vs_dusk_to_dawn_pct": round(100 * (1 - kwh / baseline), 1),
            "breaches": len(found),
            "events": expected,
            "events_seen": len(asked),
            "events_honoured_pct": round(100 * honoured / expected, 1) if expected else 100.0,
        },
    }
