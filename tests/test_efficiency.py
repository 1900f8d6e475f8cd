"""The daily check for losses of efficiency (``gtb.engine.efficiency``), on a store written here:
a year of the school's heating meter and the outdoor temperature before the engine's
first start, then days after it, normal, then far above the baseline, then normal again.
The check is the job's own function, ``EfficiencyWatch.daily``, called each morning."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest

from gtb.engine.efficiency import EfficiencyWatch, alarm_key
from gtb.model import Site
from gtb.store import Store
from gtb.store.samples import Sample

METER = "ecole.compteur-chauffage"
OUTDOOR = "mairie.temp-ext"  # the site's first outdoor sensor: the school has none
TAKEOVER = date(2026, 1, 5)
KEY = "efficiency:ecole:compteur-chauffage"


class Commune:
    """Writes the meter's cumulative index and the outdoor temperature hour by hour:
    kWh a day = 40 + 25 x max(0, 16 - mean outdoor), times ``factor`` (a fault)."""

    def __init__(self, store: Store, site: Site) -> None:
        self.store, self.tz = store, site.tz
        self.index = 0.0
        self.rng = np.random.default_rng(7)

    def days(self, first: date, count: int, factor: float = 1.0) -> None:
        samples = []
        for n in range(count):
            day = first + timedelta(days=n)
            mean = 9.0 - 7.0 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 20) / 365)
            mean += float(self.rng.normal(0.0, 2.0))
            kwh = factor * (40.0 + 25.0 * max(0.0, 16.0 - mean)) * float(
                self.rng.normal(1.0, 0.03))
            midnight = datetime.combine(day, time(), self.tz).astimezone(UTC)
            for hour in range(24):
                at = midnight + timedelta(hours=hour)
                self.index += kwh / 24
                samples += [Sample(METER, at, self.index),
                            Sample(OUTDOOR, at, mean + 4.0 * math.sin(
                                2 * math.pi * (hour - 9) / 24))]
        self.store.samples.write(samples)
        self.store.rollups.compute(datetime.combine(first, time(), self.tz),
                          datetime.combine(first + timedelta(days=count), time(), self.tz))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "gtb.sqlite") as store:
        yield store


def mornings(watch: EfficiencyWatch, first: date, count: int) -> list[tuple[date, bool]]:
    """The job every quarter of an hour of ``count`` days: (day, raised) of each change."""
    changes = []
    for n in range(count):
        day = first + timedelta(days=n)
        for quarter in range(0, 24 * 60, 15):
            moment = datetime.combine(day, time(), watch.site.tz) + timedelta(minutes=quarter)
            changes += [(day, change.raised) for change in watch.daily(moment)]
    return changes


def test_a_meter_far_above_its_baseline_raises_the_alarm_and_it_clears_when_back(
        demo_site: Site, store: Store) -> None:
    commune = Commune(store, demo_site)
    commune.days(TAKEOVER - timedelta(days=365), 365 + 20)
    store.audit.record(datetime.combine(TAKEOVER, time(8), demo_site.tz), "engine", "engine",
                       "Moteur démarré", reason="test")
    watch = EfficiencyWatch(store, demo_site)
    assert mornings(watch, TAKEOVER, 21) == []  # normal days: nothing
    assert store.alarms.history() == []

    fault = TAKEOVER + timedelta(days=20)
    commune.days(fault, 8, factor=1.8)  # a valve stuck open: +80 %
    changes = mornings(watch, fault + timedelta(days=1), 8)
    [(raised_on, raised)] = changes
    assert raised and raised_on == fault + timedelta(days=3)  # the morning after 3 days
    alarm = store.alarms.active()[KEY]
    assert alarm.severity == "warning" and alarm.building == "ecole" and alarm.point == METER
    assert alarm.raised_at == datetime.combine(raised_on, time(1), demo_site.tz)
    assert alarm.message.startswith(f"Du {fault:%d/%m/%Y} au ")
    assert "de plus que ne le prévoit sa référence" in alarm.message
    assert "vanne" in alarm.message  # what to look for
    [event] = store.audit.events(kind="efficiency_loss")
    assert event.data["state"] == "raised" and event.data["key"] == KEY
    assert event.reason == alarm.message and event.building == "ecole"

    commune.days(fault + timedelta(days=8), 6)  # repaired
    changes = mornings(watch, fault + timedelta(days=9), 6)
    [(cleared_on, raised)] = changes
    assert not raised and cleared_on == fault + timedelta(days=10)  # two days within band
    assert KEY not in store.alarms.active()
    cleared, _ = store.audit.events(kind="efficiency_loss")
    assert cleared.data["state"] == "cleared"
    assert "revenu dans la bande de sa référence" in cleared.message


def test_without_a_baseline_nothing_is_raised_nor_said(demo_site: Site, store: Store) -> None:
    commune = Commune(store, demo_site)
    commune.days(TAKEOVER - timedelta(days=30), 60)  # a month before the engine: too short
    store.audit.record(datetime.combine(TAKEOVER, time(8), demo_site.tz), "engine", "engine",
                       "Moteur démarré", reason="test")
    commune.days(TAKEOVER + timedelta(days=30), 10, factor=3.0)
    watch = EfficiencyWatch(store, demo_site)
    assert mornings(watch, TAKEOVER + timedelta(days=31), 10) == []
    assert store.alarms.history() == [] and store.audit.events(kind="efficiency_loss") == []


def test_no_engine_start_no_check(demo_site: Site, store: Store) -> None:
    Commune(store, demo_site).days(date(2025, 1, 1), 400)
    watch = EfficiencyWatch(store, demo_site)
    assert watch.daily(datetime(2026, 2, 6, 2, 0, tzinfo=demo_site.tz)) == []
    assert not watch.due(datetime(2026, 2, 6, 3, 0, tzinfo=demo_site.tz))  # once a day
    assert watch.due(datetime(2026, 2, 7, 1, 0, tzinfo=demo_site.tz))
    assert not watch.due(datetime(2026, 2, 8, 0, 59, tzinfo=demo_site.tz))


def test_the_alarm_key_names_the_meter_without_its_building(demo_site: Site) -> None:
    school = next(b for b in demo_site.buildings if b.id == "ecole")
    assert alarm_key(school, METER) == KEY
