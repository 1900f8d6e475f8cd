"""The store's side of history: the shipping log and its watermarks, retention that keeps
what InfluxDB has not received, and monthly totals that outlive the hourly rollups."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gtb.store import Store
from gtb.store.migrations import MIGRATIONS
from gtb.store.samples import Sample

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 1, 31, 20, 0, tzinfo=UTC)  # 21:00 in Paris: the month ends in 3 hours
TEMP = "mairie.accueil.temperature"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "gtb.sqlite") as store:
        yield store


def hours(store: Store, count: int, start: datetime = T0) -> None:
    for h in range(count):
        store.samples.write([Sample(TEMP, start + timedelta(hours=h, minutes=m), 18.0 + h)
                             for m in (0, 30)])


def test_the_log_ships_in_write_order_and_a_replaced_sample_again(store: Store) -> None:
    hours(store, 2)
    store.samples.write([Sample(TEMP, T0, 25.0)])  # replaced after the fact
    rows = store.shipping.samples(limit=10)
    assert [(r.ts - int(T0.timestamp()), r.value) for r in rows] == [
        (0, 25.0), (1800, 18.0), (3600, 19.0), (5400, 19.0), (0, 25.0)]
    store.shipping.mark("samples", rows[1].seq, at=T0)
    assert store.shipping.backlog() == {"samples": 3, "events": 0}
    store.shipping.mark("samples", rows[0].seq, at=T0)  # never back
    assert store.shipping.watermarks()["samples"] == rows[1].seq
    assert [r.seq for r in store.shipping.samples(limit=10)] == [r.seq for r in rows[2:]]
    with pytest.raises(ValueError, match="unknown stream"):
        store.shipping.mark("alarms", 1, at=T0)


def test_sequence_numbers_are_never_reused_once_the_log_is_empty(store: Store) -> None:
    hours(store, 1)
    last = store.shipping.samples(limit=10)[-1].seq
    store.shipping.mark("samples", last, at=T0)
    assert store.shipping.samples(limit=10) == []
    hours(store, 1, start=T0 + timedelta(hours=5))
    assert [r.seq > last for r in store.shipping.samples(limit=10)] == [True, True]


def test_retention_keeps_what_influxdb_has_not_received(store: Store) -> None:
    hours(store, 4)
    rows = store.shipping.samples(limit=100)
    store.shipping.mark("samples", rows[3].seq, at=T0)  # the first two hours are shipped
    limit = T0 + timedelta(hours=3)
    assert store.samples.delete_before(limit, keep_unshipped=True) == 4
    assert len(store.samples.read(TEMP, T0, T0 + timedelta(hours=4))) == 4
    assert store.shipping.backlog()["samples"] == 4
    # Without shipping, the log forgets what retention drops.
    assert store.samples.delete_before(limit, keep_unshipped=False) == 2
    assert store.shipping.backlog()["samples"] == 2


def test_monthly_totals_outlive_the_hourly_rollups(store: Store) -> None:
    hours(store, 6)  # 21:00 on 31 January to 03:00 on 1 February, Paris time
    store.rollups.compute(T0, T0 + timedelta(hours=6))
    before = store.rollups.monthly(TEMP, date(2026, 1, 1), date(2026, 2, 1), PARIS)
    assert [(m.month, m.hours, m.count) for m in before] == [
        (date(2026, 1, 1), 3, 6), (date(2026, 2, 1), 3, 6)]
    assert store.rollups.keep_monthly(date(2026, 1, 1), date(2026, 2, 1), PARIS) == 2
    store.samples.delete_before(T0 + timedelta(days=1), keep_unshipped=False)
    assert store.rollups.delete_before(T0 + timedelta(hours=4)) == 4  # all January and more
    after = store.rollups.monthly(TEMP, date(2026, 1, 1), date(2026, 2, 1), PARIS)
    assert after == before
    assert store.rollups.monthly(TEMP, date(2026, 3, 1), date(2026, 3, 1), PARIS) == []


def test_a_version_6_store_ships_the_samples_it_already_holds(tmp_path: Path) -> None:
    path = tmp_path / "gtb.sqlite"
    with Store(path, migrations=MIGRATIONS[:6]) as old:
        old.samples.write([Sample(TEMP, T0 + timedelta(minutes=m), 19.0) for m in range(3)])
    with Store(path) as new:
        assert new.shipping.backlog() == {"samples": 3, "events": 0}
        assert [r.value for r in new.shipping.samples(limit=10)] == [19.0] * 3
