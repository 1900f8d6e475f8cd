"""The store, against a real SQLite file: schema, samples, rollups, audit, control, users."""

from __future__ import annotations

import calendar
import itertools
import math
import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gtb.model.calendar import Programme
from gtb.model.points import HeatingLevel, Quality, Severity
from gtb.store import Store
from gtb.store.accounts import TokenState, UserRole
from gtb.store.errors import ConflictError, NotFoundError, SchemaVersionError, StoreError
from gtb.store.migrations import MIGRATIONS
from gtb.store.samples import Sample
from gtb.store.sessions import Scope, SignInLimits
from gtb.store.status import Holiday, Holidays, Night, NightStep, OutputStatus, ZoneStatus
from gtb.texts import said

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 1, 12, 8, 0, tzinfo=UTC)
TEMP = "mairie.accueil.temperature"
POWER = "mairie.power"


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "gtb.sqlite"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    with Store(path) as opened:
        yield opened


def every_minute(
    point: str, start: datetime, end: datetime, value: Callable[[datetime], float]
) -> Iterator[Sample]:
    t = start.astimezone(UTC)  # aware arithmetic in a local zone would follow the wall clock
    while t < end:
        yield Sample(point, t, value(t))
        t += minutes(1)


# -- schema and migrations -------------------------------------------------------------


def test_a_new_file_is_at_the_latest_version_in_wal_mode(store: Store, path: Path) -> None:
    assert store.schema_version == len(MIGRATIONS) >= 2
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"points", "samples", "hourly", "events", "overrides", "schedules", "users"} <= tables


def test_an_old_file_is_upgraded_with_its_data_intact(path: Path) -> None:
    with Store(path, migrations=MIGRATIONS[:1]) as old:
        assert old.schema_version == 1
        old.samples.write([Sample(TEMP, T0, 19.5), Sample(TEMP, T0 + minutes(1), 20.5)])
        old.rollups.compute(T0, T0 + timedelta(hours=1))
        with pytest.raises(sqlite3.OperationalError, match="no such table: events"):
            old.audit.record(T0, "login", "marie", "connexion")

    with Store(path) as new:
        assert new.schema_version == len(MIGRATIONS)
        assert [s.value for s in new.samples.read(TEMP, T0, T0 + minutes(2))] == [19.5, 20.5]
        (hour,) = new.rollups.hourly(TEMP, T0, T0 + timedelta(hours=1))
        assert (hour.count, hour.mean) == (2, 20.0)
        assert new.audit.record(T0, "login", "marie", "connexion") == 1


def test_a_file_from_a_newer_program_is_refused_and_left_alone(path: Path) -> None:
    Store(path).close()
    newer = len(MIGRATIONS) + 3
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {newer}")
    with pytest.raises(SchemaVersionError) as caught:
        Store(path)
    message = str(caught.value)
    assert str(path) in message and str(newer) in message and str(len(MIGRATIONS)) in message
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == newer


def test_a_later_migration_is_one_more_entry(path: Path) -> None:
    Store(path).close()
    step = ("ALTER TABLE users ADD COLUMN email TEXT",)
    with Store(path, migrations=(*MIGRATIONS, step)) as upgraded:
        assert upgraded.schema_version == len(MIGRATIONS) + 1
    with sqlite3.connect(path) as raw:
        columns = {r[1] for r in raw.execute("PRAGMA table_info(users)")}
    assert "email" in columns


def test_a_failing_migration_step_changes_nothing(path: Path) -> None:
    Store(path, migrations=MIGRATIONS[:1]).close()
    broken = (*MIGRATIONS[:1], ("CREATE TABLE half_done (x)", "THIS IS NOT SQL"))
    with pytest.raises(StoreError, match=r"gtb.sqlite: migration to schema version 2 failed"):
        Store(path, migrations=broken)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
        assert raw.execute("SELECT name FROM sqlite_master WHERE name='half_done'").fetchall() == []


def test_a_file_that_is_not_a_database_is_named_in_the_error(path: Path) -> None:
    path.write_bytes(b"this is a spreadsheet, not a store" * 100)
    with pytest.raises(StoreError, match=r"gtb\.sqlite"):
        Store(path)


def test_a_closed_store_says_so(path: Path) -> None:
    opened = Store(path)
    opened.close()
    with pytest.raises(StoreError, match="closed"):
        opened.samples.latest(TEMP)


# -- samples ---------------------------------------------------------------------------


def test_samples_round_trip_with_quality_in_utc_to_the_second(store: Store) -> None:
    local = datetime(2026, 1, 12, 9, 0, 0, 750_000, tzinfo=PARIS)  # 08:00:00.75 UTC
    written = [
        Sample(TEMP, local, 19.25),
        Sample(TEMP, T0 + minutes(1), 19.5, Quality.STALE),
        Sample(TEMP, T0 + minutes(2), None, Quality.FAILED, "timeout after 3 s"),
        Sample(POWER, T0, 12.0),
    ]
    assert store.samples.write(written) == 4
    got = store.samples.read(TEMP, T0, T0 + minutes(3))
    assert [(s.ts, s.value, s.quality, s.error) for s in got] == [
        (T0, 19.25, Quality.OK, None),
        (T0 + minutes(1), 19.5, Quality.STALE, None),
        (T0 + minutes(2), None, Quality.FAILED, "timeout after 3 s"),
    ]
    assert all(s.ts.tzinfo is UTC for s in got)
    # The range is half-open and per point.
    assert [s.ts for s in store.samples.read(TEMP, T0 + minutes(1), T0 + minutes(2))] == [
        T0 + minutes(1)
    ]
    assert store.samples.read("mairie.nowhere", T0, T0 + minutes(3)) == []


def test_writing_the_same_point_and_second_again_replaces(store: Store) -> None:
    store.samples.write([Sample(TEMP, T0, 19.0)])
    store.samples.write([Sample(TEMP, T0, None, "failed", "bus error")])
    (only,) = store.samples.read(TEMP, T0, T0 + minutes(1))
    assert (only.value, only.quality, only.error) == (None, Quality.FAILED, "bus error")


@pytest.mark.parametrize(
    ("value", "quality", "message"),
    [
        (None, Quality.OK, "only a failed sample may have no value"),
        (None, Quality.STALE, "only a failed sample may have no value"),
        (float("nan"), Quality.OK, "not a finite number"),
        (float("inf"), Quality.OK, "not a finite number"),
        (1.0, "excellent", "is not a valid Quality"),
    ],
)
def test_a_bad_sample_is_refused(value: float | None, quality: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Sample(TEMP, T0, value, quality)


def test_latest_is_the_newest_sample_whatever_its_quality(store: Store) -> None:
    assert store.samples.latest(TEMP) is None
    store.samples.write(
        [
            Sample(TEMP, T0 + minutes(2), None, Quality.FAILED, "no answer"),
            Sample(TEMP, T0, 19.0),
            Sample(POWER, T0 + minutes(1), 8.5),
        ]
    )
    newest = store.samples.latest(TEMP)
    assert newest is not None and newest.ts == T0 + minutes(2) and newest.error == "no answer"
    assert {k: (s.ts, s.value) for k, s in store.samples.latest_all().items()} == {
        TEMP: (T0 + minutes(2), None),
        POWER: (T0 + minutes(1), 8.5),
    }


def test_a_tick_of_five_thousand_samples_is_one_quick_transaction(store: Store) -> None:
    tick = [Sample(f"b{i // 100}.z{i % 100}.temperature", T0, 20.0) for i in range(5000)]
    store.samples.write(tick)  # creates the points
    again = [Sample(s.point, T0 + minutes(1), 21.0) for s in tick]
    started = time.perf_counter()
    store.samples.write(again)
    elapsed = time.perf_counter() - started
    assert len(store.samples.latest_all()) == 5000
    assert elapsed < 0.5, f"5,000 samples took {elapsed:.3f} s"


def test_retention_drops_old_samples_and_keeps_their_rollups(store: Store) -> None:
    store.samples.write(every_minute(TEMP, T0, T0 + timedelta(hours=2), lambda t: 20.0))
    store.rollups.compute(T0, T0 + timedelta(hours=2))
    assert store.samples.delete_before(T0 + timedelta(hours=1), keep_unshipped=False) == 60
    assert len(store.samples.read(TEMP, T0, T0 + timedelta(hours=2))) == 60
    # Recomputing after retention must not wipe the hour whose raw samples are gone.
    assert store.rollups.compute(T0, T0 + timedelta(hours=2)) == 1
    assert [r.count for r in store.rollups.hourly(TEMP, T0, T0 + timedelta(hours=2))] == [60, 60]


# -- naive datetimes -------------------------------------------------------------------

NAIVE = datetime(2026, 1, 12, 8, 0)

NAIVE_CALLS: dict[str, Callable[[Store], object]] = {
    "sample": lambda s: Sample(TEMP, NAIVE, 1.0),
    "samples": lambda s: s.samples.read(TEMP, NAIVE, T0),
    "rollup": lambda s: s.rollups.compute(T0, NAIVE + timedelta(days=1)),
    "retention": lambda s: s.samples.delete_before(NAIVE, keep_unshipped=False),
    "event": lambda s: s.audit.record(NAIVE, "login", "marie", "connexion"),
    "events": lambda s: s.audit.events(since=NAIVE),
    "override": lambda s: s.overrides.add(
        TEMP, 21.0, start=T0, until=NAIVE + timedelta(days=1), who="marie", why="réunion", at=T0
    ),
    "active": lambda s: s.overrides.active(NAIVE),
    "schedule": lambda s: s.programmes.save("mairie.accueil", Programme(), at=NAIVE,
                                            who="marie"),
    "user": lambda s: s.accounts.add_user("marie", "hash", "operator", at=NAIVE),
}


@pytest.mark.parametrize("call", NAIVE_CALLS.values(), ids=NAIVE_CALLS.keys())
def test_a_naive_datetime_is_refused_and_nothing_is_written(
    store: Store, call: Callable[[Store], object]
) -> None:
    with pytest.raises(ValueError, match="naive"):
        call(store)
    assert store.audit.events() == []
    assert store.overrides.history() == []
    assert store.accounts.users() == []
    assert store.programmes.current("mairie.accueil") is None


# -- hourly rollups --------------------------------------------------------------------


def test_an_hourly_rollup_uses_ok_samples_only(store: Store) -> None:
    store.samples.write(
        [
            Sample(TEMP, T0 + minutes(5), 19.0),
            Sample(TEMP, T0 + minutes(20), 23.0),
            Sample(TEMP, T0 + minutes(40), 99.0, Quality.STALE),
            Sample(TEMP, T0 + minutes(50), 21.0),
            Sample(TEMP, T0 + minutes(55), None, Quality.FAILED, "no answer"),
            Sample(TEMP, T0 + minutes(70), None, Quality.FAILED, "no answer"),
            Sample(POWER, T0 + minutes(61), 4.0),
        ]
    )
    assert store.rollups.compute(T0, T0 + timedelta(hours=2)) == 2  # TEMP 08:00, POWER 09:00
    (hour,) = store.rollups.hourly(TEMP, T0, T0 + timedelta(hours=2))
    assert hour.hour == T0
    assert (hour.count, hour.mean, hour.min, hour.max, hour.last) == (3, 21.0, 19.0, 23.0, 21.0)
    assert (hour.first_ts, hour.last_ts) == (T0 + minutes(5), T0 + minutes(50))
    assert [r.hour for r in store.rollups.hourly(POWER, T0, T0 + timedelta(hours=2))] == [
        T0 + timedelta(hours=1)
    ]


def test_a_rollup_covers_every_hour_its_range_touches(store: Store) -> None:
    store.samples.write([Sample(TEMP, T0 + minutes(10), 1.0), Sample(TEMP, T0 + minutes(70), 2.0)])
    assert store.rollups.compute(T0 + minutes(30), T0 + minutes(61)) == 2


def test_recomputing_an_hour_replaces_it(store: Store) -> None:
    store.samples.write([Sample(TEMP, T0, 18.0), Sample(TEMP, T0 + minutes(30), 20.0)])
    hour = (T0, T0 + timedelta(hours=1))
    store.rollups.compute(*hour)
    first = store.rollups.hourly(TEMP, *hour)
    store.rollups.compute(*hour)
    assert store.rollups.hourly(TEMP, *hour) == first

    store.samples.write(
        [Sample(TEMP, T0 + minutes(30), 22.0), Sample(TEMP, T0 + minutes(45), 23.0)]
    )
    store.rollups.compute(*hour)
    (updated,) = store.rollups.hourly(TEMP, *hour)
    assert (updated.count, updated.mean, updated.max, updated.last) == (3, 21.0, 23.0, 23.0)

    # Every sample of the hour turned out failed: the hour has no rollup any more.
    store.samples.write(
        Sample(TEMP, T0 + minutes(m), None, Quality.FAILED, "sensor unplugged") for m in (0, 30, 45)
    )
    assert store.rollups.compute(*hour) == 0
    assert store.rollups.hourly(TEMP, *hour) == []


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.integers(min_value=0, max_value=3 * 3600 - 1),
        st.tuples(st.floats(-50, 50), st.sampled_from(list(Quality))),
        min_size=1,
        max_size=40,
    )
)
def test_rollups_match_a_direct_computation(
    tmp_path_factory: pytest.TempPathFactory, readings: dict[int, tuple[float, Quality]]
) -> None:
    path = tmp_path_factory.mktemp("prop") / "gtb.sqlite"
    with Store(path) as store:
        store.samples.write(
            Sample(TEMP, T0 + timedelta(seconds=s), None if q is Quality.FAILED else v, q)
            for s, (v, q) in readings.items()
        )
        store.rollups.compute(T0, T0 + timedelta(hours=3))
        got = {r.hour: r for r in store.rollups.hourly(TEMP, T0, T0 + timedelta(hours=3))}
    ok = sorted((s, v) for s, (v, q) in readings.items() if q is Quality.OK)
    expected: dict[datetime, list[tuple[int, float]]] = {}
    for s, v in ok:
        expected.setdefault(T0 + timedelta(hours=s // 3600), []).append((s, v))
    assert got.keys() == expected.keys()
    for hour, rows in expected.items():
        values = [v for _, v in rows]
        r = got[hour]
        assert (r.count, r.min, r.max, r.last) == (
            len(values),
            min(values),
            max(values),
            values[-1],
        )
        assert r.mean == pytest.approx(sum(values) / len(values), abs=1e-9)
        assert r.first_ts == T0 + timedelta(seconds=rows[0][0])
        assert r.last_ts == T0 + timedelta(seconds=rows[-1][0])


# -- local days and months -------------------------------------------------------------


def local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=PARIS)


def local_day_code(t: datetime) -> float:
    """Value of a sample: the local day of month, then the minute, so leaks show."""
    local = t.astimezone(PARIS)
    return local.day * 100 + local.minute


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 1, 14), 24)],
    ids=["spring-forward", "fall-back", "ordinary"],
)
def test_a_local_day_has_the_hours_it_really_has(store: Store, day: date, hours: int) -> None:
    before, after = day - timedelta(days=1), day + timedelta(days=1)
    start, end = local_midnight(before), local_midnight(after + timedelta(days=1))
    store.samples.write(every_minute(POWER, start, end, local_day_code))
    store.rollups.compute(start, end)

    (agg,) = store.rollups.daily(POWER, day, day, PARIS)
    assert (agg.point, agg.day, agg.hours, agg.count) == (POWER, day, hours, hours * 60)
    assert (agg.min, agg.max) == (day.day * 100, day.day * 100 + 59)
    assert agg.mean == pytest.approx(day.day * 100 + 29.5)
    assert agg.sum_of_means == pytest.approx(hours * (day.day * 100 + 29.5))

    around = store.rollups.daily(POWER, before, after, PARIS)
    assert [(a.day, a.hours, a.count) for a in around] == [
        (before, 24, 24 * 60),
        (day, hours, hours * 60),
        (after, 24, 24 * 60),
    ]


def test_days_without_data_are_left_out(store: Store) -> None:
    store.samples.write([Sample(TEMP, local_midnight(date(2026, 1, 14)) + minutes(5), 20.0)])
    store.rollups.compute(T0, T0 + timedelta(days=5))
    got = store.rollups.daily(TEMP, date(2026, 1, 12), date(2026, 1, 16), PARIS)
    assert [(a.day, a.hours, a.count) for a in got] == [(date(2026, 1, 14), 1, 1)]
    with pytest.raises(ValueError, match="reversed"):
        store.rollups.daily(TEMP, date(2026, 1, 16), date(2026, 1, 12), PARIS)


@pytest.mark.parametrize(
    ("month", "hours"),
    [
        (date(2026, 3, 1), 31 * 24 - 1),
        (date(2026, 10, 1), 31 * 24 + 1),
        (date(2026, 2, 1), 28 * 24),
    ],
    ids=["march", "october", "february"],
)
def test_a_local_month_has_the_hours_it_really_has(store: Store, month: date, hours: int) -> None:
    first = local_midnight(month) - timedelta(days=1)
    last = local_midnight(month + timedelta(days=33))
    t, batch = first.astimezone(UTC), []
    while t < last:
        batch.append(Sample(POWER, t, float(t.astimezone(PARIS).month)))
        t += minutes(20)
    store.samples.write(batch)
    store.rollups.compute(first, last)

    (agg,) = store.rollups.monthly(POWER, month, month + timedelta(days=12), PARIS)
    assert (agg.month, agg.hours, agg.count) == (month, hours, hours * 3)
    assert (agg.min, agg.max, agg.mean) == (month.month, month.month, month.month)
    assert agg.days == calendar.monthrange(month.year, month.month)[1]
    assert agg.sum_of_means == pytest.approx(hours * month.month)

    around = store.rollups.monthly(POWER, month - timedelta(days=1), month + timedelta(days=40),
                                   PARIS)
    assert [a.month for a in around] == [
        (month - timedelta(days=1)).replace(day=1),
        month,
        (month + timedelta(days=40)).replace(day=1),
    ]
    assert around[0].days == 1 and around[0].hours == 24 and around[1] == agg


# -- events ----------------------------------------------------------------------------


def test_the_audit_log_filters_and_lists_newest_first(store: Store) -> None:
    first = store.audit.record(
        T0,
        "override",
        "marie",
        "consigne 21 °C",
        reason="réunion du conseil",
        site="demo",
        building="mairie",
        zone="mairie.accueil",
        point=TEMP,
        data={"value": 21.0, "until": "2026-01-12T20:00:00+00:00"},
    )
    store.audit.record(T0 + minutes(1), "command", "engine", "vanne 40 %", building="mairie")
    store.audit.record(T0 + minutes(2), "fault", "engine", "pas de réponse", building="ecole")
    last = store.audit.record(T0 + minutes(3), "login", "marie", "connexion")

    everything = store.audit.events()
    assert [e.id for e in everything] == [last, last - 1, last - 2, first]
    logged = everything[-1]
    assert (logged.ts, logged.actor, logged.reason, logged.zone) == (
        T0,
        "marie",
        "réunion du conseil",
        "mairie.accueil",
    )
    assert logged.data == {"value": 21.0, "until": "2026-01-12T20:00:00+00:00"}
    assert everything[0].data == {} and everything[0].building is None

    assert [e.kind for e in store.audit.events(actor="engine")] == ["fault", "command"]
    assert [e.kind for e in store.audit.events(building="mairie")] == ["command", "override"]
    overrides = store.audit.events(zone="mairie.accueil", kind="override")
    assert [e.kind for e in overrides] == ["override"]
    window = store.audit.events(since=T0 + minutes(1), until=T0 + minutes(3))
    assert [e.kind for e in window] == ["fault", "command"]
    assert [e.kind for e in store.audit.events(limit=1)] == ["login"]
    assert store.audit.events(point="mairie.nowhere") == []


def test_an_event_that_cannot_be_stored_leaves_no_trace(store: Store) -> None:
    with pytest.raises(ValueError, match="JSON"):
        store.audit.record(T0, "alarm", "engine", "x", data={"when": T0})
    with pytest.raises(ValueError, match="actor"):
        store.audit.record(T0, "alarm", "  ", "x")
    assert store.audit.events() == []


# -- overrides -------------------------------------------------------------------------


def test_an_override_is_active_from_its_start_until_its_end(store: Store) -> None:
    start, until = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    oid = store.overrides.add(
        TEMP, 21.5, start=start, until=until, who="marie", why="réunion", at=T0
    )
    assert store.overrides.active(start - timedelta(seconds=1)) == {}
    active = store.overrides.active(start)
    assert list(active) == [TEMP]
    assert (active[TEMP].id, active[TEMP].value, active[TEMP].who) == (oid, 21.5, "marie")
    assert TEMP in store.overrides.active(until - timedelta(seconds=1))
    assert store.overrides.active(until) == {}


def test_a_new_override_replaces_the_one_in_force_which_never_comes_back(store: Store) -> None:
    day = T0 + timedelta(hours=12)
    older = store.overrides.add(TEMP, 19.0, start=T0, until=day, who="paul", why="a", at=T0)
    newer = store.overrides.add(
        TEMP,
        22.0,
        start=T0,
        until=T0 + timedelta(hours=2),
        who="marie",
        why="b",
        at=T0 + minutes(5),
    )
    other = store.overrides.add(POWER, 0.0, start=T0, until=day, who="paul", why="c", at=T0)

    active = store.overrides.active(T0 + timedelta(hours=1))
    assert {p: o.id for p, o in active.items()} == {TEMP: newer, POWER: other}
    # The older one ended when the newer one was asked for, by its author, and says why.
    replaced = store.overrides.get(older)
    assert (replaced.cancelled_at, replaced.cancelled_by, replaced.cancel_reason) == (
        T0 + minutes(5), "marie", f"remplacée par la dérogation n° {newer}")
    assert store.overrides.active(T0 + minutes(1))[TEMP].id == older  # history stays true
    # Once the newer one ends, or is cancelled, nothing comes back.
    assert store.overrides.active(T0 + timedelta(hours=2)) == {POWER: active[POWER]}
    store.overrides.cancel(newer, at=T0 + timedelta(hours=1), who="marie", why="fini")
    assert TEMP not in store.overrides.active(T0 + timedelta(hours=1, minutes=1))
    with pytest.raises(ConflictError, match="already cancelled"):
        store.overrides.cancel(older, at=T0 + timedelta(hours=1), who="paul", why="x")


def test_an_override_replaced_in_an_older_file_does_not_come_back(store: Store) -> None:
    """Files written before ``add`` ended the replaced ones hold overrides stacked on one
    point: the newest started one is in force, and the older ones never again."""
    day = T0 + timedelta(hours=12)
    older = store.overrides.add(TEMP, 19.0, start=T0, until=day, who="paul", why="a", at=T0)
    newer = store.overrides.add(TEMP, 22.0, start=T0 + timedelta(hours=1),
                                until=T0 + timedelta(hours=2), who="marie", why="b", at=T0)
    with store.db.write() as conn:  # as such a file holds them
        conn.execute("UPDATE overrides SET cancelled_at = NULL, cancelled_by = NULL,"
                     " cancel_reason = NULL")
    assert store.overrides.active(T0 + minutes(30))[TEMP].id == older
    assert store.overrides.active(T0 + timedelta(hours=1))[TEMP].id == newer
    assert store.overrides.active(T0 + timedelta(hours=3)) == {}


def test_cancelling_ends_an_override_once_and_keeps_it_in_history(store: Store) -> None:
    oid = store.overrides.add(
        TEMP, 21.0, start=T0, until=T0 + timedelta(hours=4), who="marie", why="réunion", at=T0
    )
    cancelled = store.overrides.cancel(
        oid, at=T0 + timedelta(hours=1), who="paul", why="réunion annulée"
    )
    assert cancelled.cancelled_at == T0 + timedelta(hours=1)
    assert (cancelled.cancelled_by, cancelled.cancel_reason) == ("paul", "réunion annulée")
    assert store.overrides.active(T0 + timedelta(hours=2)) == {}
    # What was in force before the cancellation stays true of that time.
    assert TEMP in store.overrides.active(T0 + minutes(30))

    with pytest.raises(ConflictError, match=r"already cancelled .* by paul"):
        store.overrides.cancel(oid, at=T0 + timedelta(hours=2), who="marie", why="encore")
    with pytest.raises(NotFoundError, match="no override with id 999"):
        store.overrides.cancel(999, at=T0, who="marie", why="?")
    assert store.overrides.get(oid) == cancelled


def test_an_override_must_end_after_it_starts(store: Store) -> None:
    with pytest.raises(ValueError, match="not after start"):
        store.overrides.add(TEMP, 21.0, start=T0, until=T0, who="marie", why="x", at=T0)
    for value in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="is not a finite number"):
            store.overrides.add(TEMP, value, start=T0, until=T0 + minutes(1), who="marie",
                                why="x", at=T0)
    with pytest.raises(ValueError, match="reason"):
        store.overrides.add(TEMP, 21.0, start=T0, until=T0 + minutes(1), who="marie", why="", at=T0)
    assert store.overrides.history() == []


def test_override_history_lists_every_override_newest_first(store: Store) -> None:
    ids = [
        store.overrides.add(
            point,
            20.0 + n,
            start=T0,
            until=T0 + minutes(10),
            who="marie",
            why="x",
            at=T0 + minutes(n),
        )
        for n, point in enumerate([TEMP, POWER, TEMP])
    ]
    store.overrides.cancel(ids[1], at=T0 + minutes(3), who="paul", why="erreur")
    assert [o.id for o in store.overrides.history()] == ids[::-1]
    history = store.overrides.history(TEMP)
    assert [o.id for o in history] == [ids[2], ids[0]]
    assert (history[1].cancelled_by, history[1].cancel_reason) == (
        "marie", f"remplacée par la dérogation n° {ids[2]}")
    assert store.overrides.history(POWER)[0].cancelled_by == "paul"
    assert [o.id for o in store.overrides.history(limit=1)] == [ids[2]]


# -- weekly programmes -----------------------------------------------------------------


def test_a_programme_keeps_every_version(store: Store) -> None:
    zone = "ecole.classe1"
    assert store.programmes.current(zone) is None
    v1 = Programme(mon=("08:00-17:00",), wed=("08:00-12:00",))
    v2 = Programme(mon=("07:30-17:00",))
    assert store.programmes.save(zone, v1, at=T0, who="marie") == 1
    assert store.programmes.save(zone, v2, at=T0 + timedelta(days=1), who="paul") == 2
    assert store.programmes.save("ecole.classe2", v1, at=T0, who="marie") == 1

    current = store.programmes.current(zone)
    assert current is not None and current.programme == v2
    history = store.programmes.history(zone)
    assert [(h.version, h.saved_by, h.saved_at) for h in history] == [
        (2, "paul", T0 + timedelta(days=1)),
        (1, "marie", T0),
    ]
    assert history[1].programme == v1
    with pytest.raises(TypeError, match="must be a Programme, not dict"):
        store.programmes.save(zone, {"mon": ["08:00-17:00"]}, at=T0, who="marie")  # type: ignore[arg-type]
    assert len(store.programmes.history(zone)) == 2


def test_a_version_this_program_cannot_read_is_said_so_not_raised(store: Store) -> None:
    """A version written by another program (or by hand) that breaks the rules comes back
    without its programme and with how many errors it has: its reader keeps the site
    file's programme rather than fall over."""
    with store.db.write() as conn:
        conn.execute("INSERT INTO schedules (zone, version, programme, saved_at, saved_by)"
                     " VALUES ('mairie.accueil', 1, ?, 0, 'script')",
                     ('{"mon": ["03:00-02:00", "25:00-26:00"]}',))
    [version] = store.programmes.history("mairie.accueil")
    assert (version.programme, version.errors, version.saved_by) == (None, 2, "script")
    assert store.programmes.latest()["mairie.accueil"] == version


# -- users -----------------------------------------------------------------------------


def test_users_are_created_found_and_changed(store: Store) -> None:
    marie = store.accounts.add_user("marie", "scrypt$abc", UserRole.OPERATOR, at=T0)
    store.accounts.add_user("alain", "scrypt$def", "viewer", at=T0 + minutes(1))
    assert "scrypt" not in repr(marie)
    assert store.accounts.user("marie") == marie
    assert store.accounts.user("nobody") is None
    assert [(u.name, u.role) for u in store.accounts.users()] == [
        ("alain", UserRole.VIEWER),
        ("marie", UserRole.OPERATOR),
    ]

    store.accounts.set_password_hash("marie", "scrypt$new", at=T0 + minutes(2))
    store.accounts.set_disabled("alain", True, at=T0 + minutes(2))
    changed, disabled = store.accounts.user("marie"), store.accounts.user("alain")
    assert changed is not None and changed.password_hash == "scrypt$new"
    assert disabled is not None and disabled.disabled and disabled.created_at == T0 + minutes(1)


def test_user_names_are_unique_and_roles_are_checked(store: Store) -> None:
    store.accounts.add_user("marie", "h", "admin", at=T0)
    with pytest.raises(ConflictError, match="already exists"):
        store.accounts.add_user("Marie", "h2", "viewer", at=T0)
    with pytest.raises(ValueError, match="viewer, operator, admin"):
        store.accounts.add_user("paul", "h", "mayor", at=T0)
    with pytest.raises(NotFoundError, match="paul"):
        store.accounts.set_disabled("paul", True, at=T0)
    assert [(u.name, u.password_hash) for u in store.accounts.users()] == [("marie", "h")]


# -- API tokens ------------------------------------------------------------------------


def test_a_token_works_until_it_expires_and_never_shows_its_hash(store: Store) -> None:
    store.accounts.add_user("marie", "h", "operator", at=T0)
    end = T0 + timedelta(days=30)
    token_id = store.accounts.add_token("marie", "hash-1", "relevés", at=T0, expires_at=end)
    [token] = store.accounts.tokens()
    assert token == store.accounts.token(token_id)
    assert (token.user, token.label, token.created_at, token.expires_at) == (
        "marie", "relevés", T0, end)
    assert (token.revoked_at, token.last_used_at) == (None, None)
    assert "hash-1" not in repr(token)
    assert store.accounts.token_user("hash-1", at=end - timedelta(seconds=1)) is not None
    assert token.state(end - timedelta(seconds=1)) is TokenState.LIVE
    assert store.accounts.token_user("hash-1", at=end) is None
    assert token.state(end) is TokenState.EXPIRED
    assert store.accounts.token_user("no-such-hash", at=T0) is None


def test_a_token_that_would_not_work_is_refused(store: Store) -> None:
    store.accounts.add_user("marie", "h", "operator", at=T0)
    with pytest.raises(ValueError, match=r"expire .* before it is made"):
        store.accounts.add_token("marie", "hash-1", "script", at=T0, expires_at=T0)
    with pytest.raises(NotFoundError, match="paul"):
        store.accounts.add_token("paul", "hash-1", "script", at=T0, expires_at=T0 + minutes(1))
    assert store.accounts.tokens() == []


def test_revoked_tokens_and_disabled_accounts_open_nothing(store: Store) -> None:
    store.accounts.add_user("marie", "h", "operator", at=T0)
    store.accounts.add_user("paul", "h", "viewer", at=T0)
    end = T0 + timedelta(days=1)
    first = store.accounts.add_token("marie", "hash-1", "a", at=T0, expires_at=end)
    store.accounts.add_token("marie", "hash-2", "b", at=T0, expires_at=end)
    store.accounts.add_token("paul", "hash-3", "c", at=T0, expires_at=end)
    store.accounts.revoke_token(first, at=T0 + minutes(1))
    store.accounts.set_disabled("paul", True, at=T0 + minutes(1))
    later = T0 + minutes(2)
    assert store.accounts.token_user("hash-1", at=later) is None
    assert store.accounts.token_user("hash-3", at=later) is None
    user = store.accounts.token_user("hash-2", at=later)
    assert user is not None and user.name == "marie"
    revoked = store.accounts.token(first)
    assert revoked is not None and revoked.state(later) is TokenState.REVOKED
    with pytest.raises(NotFoundError, match="no live API token"):
        store.accounts.revoke_token(first, at=later)
    assert store.accounts.token(2**70) is None  # an id from a URL, too large for SQLite


def test_a_tokens_last_use_is_written_at_most_once_a_minute(store: Store) -> None:
    store.accounts.add_user("marie", "h", "operator", at=T0)
    token_id = store.accounts.add_token("marie", "hash-1", "script", at=T0,
                                        expires_at=T0 + timedelta(days=1))

    def last_use() -> datetime | None:
        token = store.accounts.token(token_id)
        assert token is not None
        return token.last_used_at

    for seconds, seen in ((5, 5), (50, 5), (64, 5), (65, 65)):
        assert store.accounts.token_user("hash-1", at=T0 + timedelta(seconds=seconds))
        assert last_use() == T0 + timedelta(seconds=seen)


def test_a_token_made_before_tokens_expired_keeps_working(path: Path) -> None:
    step = next(i for i, sql in enumerate(MIGRATIONS)
                if any("api_tokens ADD COLUMN expires_at" in statement for statement in sql))
    with Store(path, migrations=MIGRATIONS[:step]) as old, old.db.write() as conn:
        conn.execute("INSERT INTO users (name, password_hash, role, created_at) "
                     "VALUES ('marie', 'h', 'operator', 0)")
        conn.execute("INSERT INTO api_tokens (user, token_hash, label, created_at) "
                     "VALUES ('marie', 'hash-1', 'old script', 0)")
    with Store(path) as new:
        [token] = new.accounts.tokens()
        assert token.expires_at is None and token.state(T0) is TokenState.LIVE
        assert new.accounts.token_user("hash-1", at=T0 + timedelta(days=3650)) is not None


def test_failures_before_a_lock_do_not_count_towards_the_next(store: Store) -> None:
    limits = SignInLimits(per_account=2, per_address=100, window=timedelta(minutes=30),
                          lock=timedelta(minutes=10))
    assert store.sign_ins.failed("marie", "192.0.2.1", limits, at=T0) == []
    [lock] = store.sign_ins.failed("Marie", "192.0.2.2", limits, at=T0 + minutes(1))
    assert (lock.scope, lock.until) == (Scope.ACCOUNT, T0 + minutes(11))
    assert store.sign_ins.locked("MARIE", "192.0.2.9", at=T0 + minutes(10)) == lock
    assert store.sign_ins.locked("marie", "192.0.2.9", at=T0 + minutes(11)) is None
    # Within the window of the first two, but they already made a lock.
    assert store.sign_ins.failed("marie", "192.0.2.1", limits, at=T0 + minutes(12)) == []
    assert len(store.sign_ins.failed("marie", "192.0.2.1", limits, at=T0 + minutes(13))) == 1


def test_an_account_change_ends_its_sessions_in_the_same_transaction(store: Store) -> None:
    store.accounts.add_user("marie", "h", "operator", at=T0)
    store.sessions.start("marie", "hash-1", at=T0, lifetime=timedelta(hours=1),
                         idle=timedelta(minutes=5), address="192.0.2.1", user_agent="test")
    with pytest.raises(NotFoundError):
        store.accounts.set_password_hash("nobody", "h2", at=T0)
    assert store.sessions.live("hash-1", at=T0 + minutes(1)) is not None
    store.accounts.set_password_hash("marie", "h2", at=T0 + minutes(2))
    assert store.sessions.live("hash-1", at=T0 + minutes(3)) is None
    [ended] = store.db.conn().execute("SELECT ended_at FROM sessions").fetchall()
    assert ended[0] == int((T0 + minutes(2)).timestamp())


# -- concurrency -----------------------------------------------------------------------

BATCH = 50
BATCHES = 60


def write_batches(store: Store, point: str, offset: int = 0) -> None:
    """One transaction per batch, so a reader must only ever see whole batches."""
    for b in range(BATCHES):
        base = T0 + timedelta(hours=offset, minutes=b)
        store.samples.write(
            Sample(point, base + timedelta(seconds=i), float(b)) for i in range(BATCH)
        )
        store.audit.record(base, "command", "engine", f"batch {b}", point=point)


def check_reads(store: Store, point: str, done: Callable[[], bool]) -> tuple[int, list[str]]:
    """Read until the writer is done; returns how many reads were made and what went wrong."""
    reads, seen = 0, 0
    problems: list[str] = []
    end = T0 + timedelta(days=1)
    while True:
        finished = done()
        count = len(store.samples.read(point, T0, end))
        if count % BATCH or count < seen:
            problems.append(f"saw {count} samples after {seen}")
        seen = count
        reads += 1
        if finished:
            if count != BATCH * BATCHES:
                problems.append(f"saw {count} samples at the end")
            return reads, problems


def test_one_writer_and_several_reader_threads_share_a_store(store: Store) -> None:
    errors: list[BaseException] = []
    results: list[tuple[int, list[str]]] = []
    writer_done = threading.Event()

    def writer() -> None:
        try:
            write_batches(store, TEMP)
        except BaseException as exc:
            errors.append(exc)
        finally:
            writer_done.set()

    def reader() -> None:
        try:
            results.append(check_reads(store, TEMP, writer_done.is_set))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert [problems for _, problems in results] == [[], [], []]
    assert all(reads > 1 for reads, _ in results)
    assert len(store.audit.events(kind="command", limit=1000)) == BATCHES


def test_two_writer_threads_wait_for_each_other_instead_of_failing(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(point: str, offset: int) -> None:
        try:
            write_batches(store, point, offset)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(TEMP, 0)),
        threading.Thread(target=writer, args=(POWER, 0)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    for point in (TEMP, POWER):
        assert len(store.samples.read(point, T0, T0 + timedelta(days=1))) == BATCH * BATCHES


def test_read_then_write_transactions_from_two_threads_do_not_deadlock(store: Store) -> None:
    """Saving a programme reads the last version, then writes: the lock must be taken first."""
    errors: list[BaseException] = []

    def saver(who: str) -> None:
        try:
            for n in range(30):
                store.programmes.save("ecole.classe1", Programme(mon=(f"08:{n:02d}-12:00",)),
                                      at=T0, who=who)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=saver, args=(who,)) for who in ("marie", "paul")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    versions = [h.version for h in store.programmes.history("ecole.classe1", limit=100)]
    assert versions == list(range(60, 0, -1))


def read_in_another_process(path: str, ready: Any, done: Any, out: Any) -> None:
    """Child process: its own Store on the same file, reading while the parent writes."""
    with Store(path) as store:
        ready.set()
        out.put(check_reads(store, TEMP, done.is_set))


def test_another_process_reads_while_this_one_writes(store: Store, path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, done, out = ctx.Event(), ctx.Event(), ctx.Queue()
    child = ctx.Process(target=read_in_another_process, args=(str(path), ready, done, out))
    child.start()
    try:
        assert ready.wait(timeout=30), "the reader process did not start"
        write_batches(store, TEMP)
        done.set()
        reads, problems = out.get(timeout=30)
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    assert problems == []
    assert reads > 1


def test_ids_of_new_points_are_shared_between_threads(store: Store) -> None:
    counter = itertools.count()

    def write() -> None:
        n = next(counter)
        store.samples.write([Sample(f"b.z.p{n}", T0, float(n)), Sample(TEMP, T0, 1.0)])

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    latest = store.samples.latest_all()
    assert len(latest) == 9
    assert all(latest[f"b.z.p{n}"].value == n for n in range(8))


def test_alarms_are_raised_once_cleared_acknowledged_and_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "alarms.sqlite"
    key = "point:mairie.accueil.temperature"
    with Store(path) as store:
        alarm, new = store.alarms.raise_(key, at=T0, severity="critical", message="capteur perdu",
                                       building="mairie", zone="accueil", point=TEMP)
        assert new and alarm.severity is Severity.CRITICAL
        again, new = store.alarms.raise_(key, at=T0 + minutes(1), severity="critical",
                                       message="capteur perdu")
        assert not new and again.id == alarm.id and again.raised_at == T0
        seen = store.alarms.acknowledge(alarm.id, at=T0 + minutes(2), who="marie")
        assert seen.acknowledged_by == "marie"
        with pytest.raises(ConflictError, match="already acknowledged by marie"):
            store.alarms.acknowledge(alarm.id, at=T0 + minutes(3), who="paul")
    with Store(path) as store:
        assert list(store.alarms.active()) == [key]
        cleared = store.alarms.clear(key, at=T0 + minutes(10))
        assert cleared is not None and cleared.cleared_at == T0 + minutes(10)
        assert store.alarms.active() == {}
        assert store.alarms.clear(key, at=T0 + minutes(11)) is None
        # The same condition coming back is a new alarm; the history keeps both.
        _, new = store.alarms.raise_(key, at=T0 + minutes(20), severity="warning", message="x")
        assert new
        assert [a.cleared_at is None for a in store.alarms.history()] == [True, False]
    with pytest.raises(NotFoundError):
        Store(path).alarms.acknowledge(999, at=T0, who="marie")


def test_an_alarm_said_anew_is_the_same_alarm_with_its_words_current(tmp_path: Path) -> None:
    with Store(tmp_path / "alarms.sqlite") as store:
        alarm, _ = store.alarms.raise_("influx:unreachable", at=T0, severity="warning",
                                       message="673 points attendent", message_en="673 wait")
        store.alarms.acknowledge(alarm.id, at=T0 + minutes(1), who="marie")
        said = store.alarms.update("influx:unreachable", message="24 700 points attendent",
                                   message_en="24,700 wait")
        assert said is not None
        assert (said.id, said.raised_at, said.acknowledged_by) == (alarm.id, T0, "marie")
        assert (said.message, said.message_en) == ("24 700 points attendent", "24,700 wait")
        assert [a.id for a in store.alarms.history()] == [alarm.id]
        assert store.audit.events() == [], "no audit line"
        with pytest.raises(ValueError, match="alarm message"):
            store.alarms.update("influx:unreachable", message=" ")
        assert store.alarms.active()["influx:unreachable"].message == "24 700 points attendent"
        store.alarms.clear("influx:unreachable", at=T0 + minutes(5))
        assert store.alarms.update("influx:unreachable", message="x") is None


def test_learned_models_and_the_learning_switch_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "learning.sqlite"
    zone = "mairie.bureaux"
    with Store(path) as store:
        assert store.learning.of(zone) is None
        store.learning.save(zone, {"thermal": {"k": 0.07}}, at=T0)
        store.learning.switch(zone, False, at=T0 + minutes(5), who="marie")
        store.learning.save(zone, {"thermal": {"k": 0.08}}, at=T0 + minutes(10))
    with Store(path) as store:
        learned = store.learning.of(zone)
        assert learned is not None
        assert learned.model == {"thermal": {"k": 0.08}} and learned.fitted_at == T0 + minutes(10)
        assert learned.enabled is False and learned.changed_by == "marie"
        store.learning.switch(zone, True, at=T0 + minutes(20), who="paul")
        assert store.learning.of(zone).enabled is True  # type: ignore[union-attr]
        with pytest.raises(ValueError, match="cannot be stored as JSON"):
            store.learning.save(zone, {"bad": object()}, at=T0)


def test_the_status_is_replaced_kind_by_kind(store: Store) -> None:
    """The engine rewrites its zones and outputs every tick and what lies ahead (nights,
    holidays) only when it changes: one must not wipe the other. Records come back as
    they were written, types and all."""
    step = NightStep(start=datetime(2026, 1, 12, 17, 5, tzinfo=PARIS),
                     end=datetime(2026, 1, 12, 23, tzinfo=PARIS), level=100.0,
                     reason=said("coucher du soleil", "sunset"))
    night = Night(cabinet="ep", at=T0, night=date(2026, 1, 12), sunset=step.start,
                  sunrise=datetime(2026, 1, 13, 8, 40, tzinfo=PARIS), steps=(step,))
    holidays = Holidays(at=T0, today=date(2026, 1, 12), holidays=(
        Holiday(first=date(2026, 2, 7), last=date(2026, 2, 22),
                name=said("Vacances d'hiver", "Winter holidays"), school=True),))
    store.status.save_outlook(T0, [night], holidays)
    zone = ZoneStatus(building="m", zone="a", name="Accueil", at=T0, temperature=18.5,
                      quality=Quality.STALE, level=HeatingLevel.COMFORT, setpoint=19.0,
                      reason=said("Occupé", "Occupied"), degraded=False, occupied=True,
                      next_arrival=T0 + timedelta(hours=1))
    output = OutputStatus(kind="cabinet", id="ep", name="EP", at=T0, on=True, level=50.0,
                          reason=said("nuit", "night"))
    store.status.save(T0, [zone], [output])
    later = zone.model_copy(update={"at": T0 + minutes(1), "setpoint": 20.0,
                                    "source": "override", "actor": "marie"})
    store.status.save(T0 + minutes(1), [later], [])
    assert store.status.zones() == {"m.a": later}
    assert store.status.outputs() == {}
    assert store.status.nights() == {"ep": night} and store.status.holidays() == holidays
    with pytest.raises(ValueError,
                       match=r"kinds \['night'\] given to replace \['output', 'zone'\]"):
        store.status.save(T0, [night], [])  # type: ignore[list-item]
    assert store.status.zones() == {"m.a": later}


def test_the_first_event_of_a_kind_is_the_oldest_with_that_message(store: Store) -> None:
    store.audit.record(T0 + timedelta(hours=2), "engine", "engine", "Moteur démarré")
    store.audit.record(T0, "engine", "engine", "Moteur arrêté")
    store.audit.record(T0 + timedelta(hours=1), "engine", "engine", "Moteur démarré (50%_)")
    first = store.audit.first("engine", "Moteur démarré")
    assert first is not None and first.ts == T0 + timedelta(hours=1)
    assert store.audit.first("engine", "Moteur%") is None  # no wildcard
    assert store.audit.first("login") is None
