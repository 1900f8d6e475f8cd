"""The engine's embedded store: SQLite in WAL mode, where the engine and the panel meet.

Everything the engine reads or decides lands here before anything else happens to it:
samples with their quality, hourly rollups, the audit log, overrides, weekly programmes
and users. The panel reads and writes the same file, from the same process or another.

Time: nothing here reads the clock. Every instant is passed in as an aware ``datetime``
and stored as integer UTC epoch seconds (sub-second parts are dropped), so a simulated
clock drives the store exactly like the real one. Instants come back as aware UTC
datetimes; local days and months are grouped on read, from the UTC hourly rollups, which
is what makes 23 h and 25 h daylight-saving days come out right. The agenda is the one
exception: an event "from 18:30 to 22:30 on 10 March" is wall-clock time of the site, not
an instant, so its times are kept as the site-file writes them (ISO text, no offset); when
it was changed, and by whom, are instants like any other.

Concurrency: one ``Store`` may be shared by the threads of a process; each thread gets
its own connection (``threading.local``), opened on first use. Another process opens its
own ``Store`` on the same file. WAL lets readers read while one writer writes. Every write
takes the write lock up front (``BEGIN IMMEDIATE``) so that, when two writers meet, the
second waits up to ``busy_timeout`` instead of failing half-way through its transaction.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from gtb.model import AgendaEntry, Quality, Severity

HOUR = 3600
_T = TypeVar("_T")

Migration = Sequence[str]
"""The SQL statements of one schema step, run in one transaction."""

# Append only: a file records how many steps it has had (PRAGMA user_version), and opening
# it runs the steps it lacks. Never edit a step that has shipped; add the next one.
def _agenda_table(name: str, kinds: tuple[str, ...]) -> str:
    """The agenda table's definition, with the kinds of entry it accepts."""
    accepted = ", ".join(f"'{kind}'" for kind in kinds)
    return f"""CREATE TABLE {name} (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ({accepted})),
            label TEXT NOT NULL,
            entry TEXT NOT NULL,
            lo TEXT NOT NULL,
            hi TEXT NOT NULL CHECK (hi > lo),
            revision INTEGER NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            updated_by TEXT NOT NULL,
            deleted_at INTEGER,
            deleted_by TEXT
        )"""


MIGRATIONS: tuple[Migration, ...] = (
    # 1: time series
    (
        "CREATE TABLE points (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE)",
        """CREATE TABLE samples (
            point_id INTEGER NOT NULL REFERENCES points (id),
            ts INTEGER NOT NULL,
            value REAL,
            quality TEXT NOT NULL CHECK (quality IN ('ok', 'stale', 'failed')),
            error TEXT,
            CHECK (value IS NOT NULL OR quality = 'failed'),
            PRIMARY KEY (point_id, ts)
        ) WITHOUT ROWID""",
        """CREATE TABLE hourly (
            point_id INTEGER NOT NULL REFERENCES points (id),
            hour INTEGER NOT NULL CHECK (hour % 3600 = 0),
            count INTEGER NOT NULL CHECK (count > 0),
            total REAL NOT NULL,
            min REAL NOT NULL,
            max REAL NOT NULL,
            last REAL NOT NULL,
            first_ts INTEGER NOT NULL,
            last_ts INTEGER NOT NULL,
            PRIMARY KEY (point_id, hour)
        ) WITHOUT ROWID""",
    ),
    # 2: audit log, overrides, weekly programmes, users
    (
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            ts INTEGER NOT NULL,
            kind TEXT NOT NULL,
            actor TEXT NOT NULL,
            site TEXT,
            building TEXT,
            zone TEXT,
            point TEXT,
            message TEXT NOT NULL,
            reason TEXT,
            data TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX events_ts ON events (ts)",
        """CREATE TABLE overrides (
            id INTEGER PRIMARY KEY,
            point TEXT NOT NULL,
            value REAL NOT NULL,
            start INTEGER NOT NULL,
            until INTEGER NOT NULL CHECK (until > start),
            who TEXT NOT NULL,
            why TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            cancelled_at INTEGER,
            cancelled_by TEXT,
            cancel_reason TEXT
        )""",
        "CREATE INDEX overrides_until ON overrides (until)",
        """CREATE TABLE schedules (
            zone TEXT NOT NULL,
            version INTEGER NOT NULL,
            programme TEXT NOT NULL,
            saved_at INTEGER NOT NULL,
            saved_by TEXT NOT NULL,
            PRIMARY KEY (zone, version)
        )""",
        """CREATE TABLE users (
            name TEXT PRIMARY KEY COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
            created_at INTEGER NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
        )""",
    ),
    # 3: alarms, so that they survive a restart of the engine
    (
        """CREATE TABLE alarms (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
            message TEXT NOT NULL,
            building TEXT,
            zone TEXT,
            point TEXT,
            raised_at INTEGER NOT NULL,
            cleared_at INTEGER,
            acknowledged_at INTEGER,
            acknowledged_by TEXT
        )""",
        "CREATE UNIQUE INDEX alarms_active ON alarms (key) WHERE cleared_at IS NULL",
    ),
    # 4: what each zone has learned, and whether it may learn
    (
        """CREATE TABLE zone_learning (
            zone TEXT PRIMARY KEY,
            enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
            model TEXT NOT NULL DEFAULT '{}',
            fitted_at INTEGER,
            changed_at INTEGER NOT NULL,
            changed_by TEXT NOT NULL
        )""",
    ),
    # 5: the agenda: events, closures and day exceptions edited in the panel
    (
        _agenda_table("agenda", ("event", "closure", "day")),
        "CREATE INDEX agenda_hi ON agenda (hi) WHERE deleted_at IS NULL",
    ),
    # 6: lighting entries in the agenda (SQLite changes a CHECK by copying the table)
    (
        _agenda_table("agenda_v6", ("event", "closure", "day", "lights_on", "lights_off")),
        "INSERT INTO agenda_v6 SELECT * FROM agenda",
        "DROP TABLE agenda",
        "ALTER TABLE agenda_v6 RENAME TO agenda",
        "CREATE INDEX agenda_hi ON agenda (hi) WHERE deleted_at IS NULL",
    ),
    # 7: shipping to InfluxDB (what is still to ship, how far it went, what it refused),
    # and monthly totals that outlive the hourly rollups
    (
        # Every sample written, replaced ones again, in write order; AUTOINCREMENT so that a
        # log emptied by shipping never hands out a sequence number already shipped.
        """CREATE TABLE sample_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            point_id INTEGER NOT NULL,
            ts INTEGER NOT NULL
        )""",
        """CREATE TRIGGER sample_logged AFTER INSERT ON samples BEGIN
            INSERT INTO sample_log (point_id, ts) VALUES (NEW.point_id, NEW.ts);
        END""",
        "INSERT INTO sample_log (point_id, ts) SELECT point_id, ts FROM samples ORDER BY ts",
        """CREATE TABLE shipped (
            stream TEXT PRIMARY KEY CHECK (stream IN ('samples', 'events')),
            position INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )""",
        """CREATE TABLE set_aside (
            id INTEGER PRIMARY KEY,
            stream TEXT NOT NULL CHECK (stream IN ('samples', 'events')),
            line TEXT NOT NULL,
            error TEXT NOT NULL,
            at INTEGER NOT NULL
        )""",
        """CREATE TABLE monthly (
            point_id INTEGER NOT NULL REFERENCES points (id),
            month TEXT NOT NULL CHECK (month GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]'),
            days INTEGER NOT NULL,
            hours INTEGER NOT NULL,
            count INTEGER NOT NULL CHECK (count > 0),
            total REAL NOT NULL,
            min REAL NOT NULL,
            max REAL NOT NULL,
            sum_of_means REAL NOT NULL,
            PRIMARY KEY (point_id, month)
        ) WITHOUT ROWID""",
    ),
    # 8: what the engine shows of each zone and output after its last tick (the panel
    # reads it), and the API tokens of scripts
    (
        """CREATE TABLE status (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('zone', 'output')),
            data TEXT NOT NULL,
            at INTEGER NOT NULL
        )""",
        """CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            user TEXT NOT NULL COLLATE NOCASE REFERENCES users (name),
            token_hash TEXT NOT NULL UNIQUE,
            label TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        )""",
    ),
    # 9: the status also holds what lies ahead (each cabinet's night, the holidays); the
    # engine rewrites it all, so the table is remade rather than copied
    (
        "DROP TABLE status",
        """CREATE TABLE status (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('zone', 'output', 'night', 'holidays')),
            data TEXT NOT NULL,
            at INTEGER NOT NULL
        )""",
    ),
    # 10: the English of the audit log and of alarms, for the panel in English (older
    # lines have none: they are shown in French)
    (
        "ALTER TABLE events ADD COLUMN message_en TEXT",
        "ALTER TABLE events ADD COLUMN reason_en TEXT",
        "ALTER TABLE alarms ADD COLUMN message_en TEXT",
    ),
)


class StoreError(Exception):
    """The store refused an operation; the message says why, and nothing was changed."""


class SchemaVersionError(StoreError):
    """The file was written by a newer program: opening it could corrupt what it holds."""


class NotFoundError(StoreError, LookupError):
    """The override or user named does not exist."""


class ConflictError(StoreError):
    """The operation contradicts what is stored: an existing user, an ended override."""


class UserRole(StrEnum):
    """What a person may do in the panel (not to be confused with a point's role)."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


@dataclass(frozen=True)
class Sample:
    """One reading of one point. A failed read is kept too: it records why there is no value."""

    point: str
    ts: datetime
    value: float | None
    quality: Quality = Quality.OK
    error: str | None = None

    def __post_init__(self) -> None:
        _require_text(self.point, "sample point")
        if not isinstance(self.ts, datetime) or self.ts.utcoffset() is None:
            _epoch(self.ts, f"sample {self.point} time")  # raises, saying what is wrong
        if not isinstance(self.quality, Quality):
            object.__setattr__(self, "quality", Quality(self.quality))
        if self.value is None:
            if self.quality is not Quality.FAILED:
                raise ValueError(f"{self._where}: only a failed sample may have no value")
        elif not math.isfinite(self.value):
            raise ValueError(
                f"{self._where}: {self.value} is not a finite number; record it as failed"
            )

    @property
    def _where(self) -> str:
        # Only formatted for an error: a tick builds thousands of samples.
        return f"sample {self.point} at {self.ts.isoformat()}"


@dataclass(frozen=True)
class Rollup:
    """One UTC hour of one point, computed from its ok samples only."""

    point: str
    hour: datetime
    count: int
    mean: float
    min: float
    max: float
    last: float
    first_ts: datetime
    last_ts: datetime


@dataclass(frozen=True)
class DailyAggregate:
    """One local calendar day of one point, from its hourly rollups.

    ``hours`` counts the hours that have data: 23 or 25 on a complete daylight-saving day.
    ``sum_of_means`` adds the hourly means: for a power point in kW, that is kWh.
    """

    point: str
    day: date
    hours: int
    count: int
    mean: float
    min: float
    max: float
    sum_of_means: float


@dataclass(frozen=True)
class MonthlyAggregate:
    """One local calendar month of one point; ``month`` is its first day."""

    point: str
    month: date
    days: int
    hours: int
    count: int
    mean: float
    min: float
    max: float
    sum_of_means: float


@dataclass(frozen=True)
class Event:
    """One line of the audit log: who did what, when, and why."""

    id: int
    ts: datetime
    kind: str
    actor: str
    message: str
    reason: str | None
    site: str | None
    building: str | None
    zone: str | None
    point: str | None
    data: Mapping[str, Any]
    message_en: str | None = None
    """The message in English (None: said in French only)."""
    reason_en: str | None = None


@dataclass(frozen=True)
class ShippableSample:
    """A sample as the shipper reads it: ``ts`` in epoch seconds, ``point`` None when the
    sample was dropped before it could be shipped."""

    seq: int
    point: str | None
    ts: int
    value: float | None
    quality: str | None
    error: str | None


@dataclass(frozen=True)
class Status:
    """What the engine said of a zone or an output after the tick at ``at``."""

    key: str
    kind: str
    data: Mapping[str, Any]
    at: datetime


@dataclass(frozen=True)
class SetAside:
    """A line that InfluxDB refused, kept with its error for a person to look at."""

    id: int
    stream: str
    line: str
    error: str
    at: datetime


@dataclass(frozen=True)
class Override:
    """A person's value for a point over a period; it beats the controllers until it ends."""

    id: int
    point: str
    value: float
    start: datetime
    until: datetime
    who: str
    why: str
    created_at: datetime
    cancelled_at: datetime | None
    cancelled_by: str | None
    cancel_reason: str | None


@dataclass(frozen=True)
class Alarm:
    """Something wrong that a person should know of, from when it was raised until cleared.

    ``key`` names the condition (``device:…``, ``point:…``); at most one alarm per key is
    active at a time, so a condition that persists is one alarm, not one per tick.
    """

    id: int
    key: str
    severity: Severity
    message: str
    building: str | None
    zone: str | None
    point: str | None
    raised_at: datetime
    cleared_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    message_en: str | None = None
    """The message in English (None: said in French only)."""


@dataclass(frozen=True)
class ZoneLearning:
    """A zone's learned models (as plain data) and whether learning is switched on."""

    zone: str
    enabled: bool
    model: Mapping[str, Any]
    fitted_at: datetime | None
    changed_at: datetime
    changed_by: str


@dataclass(frozen=True)
class ScheduleVersion:
    """One saved version of a zone's weekly programme, kept so a change can be traced."""

    zone: str
    version: int
    programme: Mapping[str, Any]
    saved_at: datetime
    saved_by: str


@dataclass(frozen=True)
class StoredAgendaEntry:
    """An agenda entry kept in the store (the panel's), with who made and last changed it."""

    id: int
    entry: AgendaEntry
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class User:
    """A panel account; the store keeps the hash it is given and never hashes itself."""

    name: str
    password_hash: str = field(repr=False)
    role: UserRole
    created_at: datetime
    disabled: bool


class Store:
    """One SQLite file holding everything the engine records; see the module docstring."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._pid = os.getpid()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self._point_ids: dict[str, int] = {}
        try:
            self._migrate(migrations)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every thread's connection; call it once no thread uses the store any more."""
        with self._lock:
            self._closed = True
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    @property
    def schema_version(self) -> int:
        return int(self._conn().execute("PRAGMA user_version").fetchone()[0])

    # -- connections and schema --------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed")
        if os.getpid() != self._pid:
            raise StoreError(f"{self.path}: a Store cannot cross a fork; open one in the child")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        # check_same_thread is off only so that close() can reach every thread's
        # connection; each connection is used by the thread that opened it.
        conn = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.row_factory = sqlite3.Row
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"{self.path}: WAL mode is not available here (got {mode!r})")
            # FULL: a commit survives a power cut, and commits are few (two per tick:
            # the readings, then the decisions with the status; and the events).
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{self.path}: cannot be opened as a GTB store: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        with self._lock:
            self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        target = len(migrations)
        while (version := self.schema_version) != target:
            if version > target:
                raise SchemaVersionError(
                    f"{self.path} has schema version {version}, newer than version {target} "
                    "known to this program: upgrade GTB to open it"
                )
            with self._write() as conn:
                # Another process may have migrated between our read and our lock.
                if conn.execute("PRAGMA user_version").fetchone()[0] != version:
                    continue
                try:
                    for statement in migrations[version]:
                        conn.execute(statement)
                except sqlite3.Error as exc:
                    raise StoreError(
                        f"{self.path}: migration to schema version {version + 1} failed, "
                        f"the file stays at version {version}: {exc}"
                    ) from exc
                conn.execute(f"PRAGMA user_version = {version + 1}")

    # -- samples -----------------------------------------------------------------------

    def write_samples(self, samples: Iterable[Sample]) -> int:
        """Record a tick's samples in one transaction; a second write of (point, ts) replaces."""
        batch = list(samples)
        if not batch:
            return 0
        with self._write() as conn:
            ids = self._insert_samples(conn, batch)
        # Only once committed: a rolled-back id must not be remembered.
        self._point_ids = ids
        return len(batch)

    def _insert_samples(self, conn: sqlite3.Connection, batch: Sequence[Sample]
                        ) -> dict[str, int]:
        """Insert samples in the caller's transaction; returns the point ids it knows then,
        for the caller to keep once committed."""
        ids = self._point_ids
        missing = {s.point for s in batch} - ids.keys()
        if missing:
            conn.executemany(
                "INSERT OR IGNORE INTO points (key) VALUES (?)", [(k,) for k in missing]
            )
            ids = {row[0]: row[1] for row in conn.execute("SELECT key, id FROM points")}
        # A tick's samples share one time: convert each distinct time once.
        epochs = {ts: _epoch(ts) for ts in {s.ts for s in batch}}
        conn.executemany(
            "INSERT OR REPLACE INTO samples (point_id, ts, value, quality, error) "
            "VALUES (?, ?, ?, ?, ?)",
            [(ids[s.point], epochs[s.ts], s.value, s.quality.value, s.error) for s in batch],
        )
        return ids

    def samples(self, point: str, start: datetime, end: datetime) -> list[Sample]:
        """Raw samples of one point with start <= ts < end, oldest first."""
        lo, hi = _span(start, end)
        rows = self._conn().execute(
            "SELECT ts, value, quality, error FROM samples "
            f"WHERE point_id = {_POINT_ID} AND ts >= ? AND ts < ? ORDER BY ts",
            (point, lo, hi),
        )
        return [_sample(point, row) for row in rows]

    def latest(self, point: str) -> Sample | None:
        """The newest sample of a point, whatever its quality: a failure is news too."""
        row = (
            self._conn()
            .execute(
                "SELECT ts, value, quality, error FROM samples "
                f"WHERE point_id = {_POINT_ID} ORDER BY ts DESC LIMIT 1",
                (point,),
            )
            .fetchone()
        )
        return None if row is None else _sample(point, row)

    def latest_all(self) -> dict[str, Sample]:
        """The newest sample of every point, for a whole-site view in one query."""
        rows = self._conn().execute(
            "SELECT p.key, s.ts, s.value, s.quality, s.error FROM points AS p "
            "CROSS JOIN samples AS s ON s.point_id = p.id "
            "AND s.ts = (SELECT MAX(ts) FROM samples WHERE point_id = p.id)"
        )
        return {row["key"]: _sample(row["key"], row) for row in rows}

    def delete_samples_before(self, before: datetime, *, keep_unshipped: bool) -> int:
        """Retention: drop raw samples older than ``before``; their hourly rollups stay.

        With ``keep_unshipped`` (InfluxDB shipping is on), samples not yet shipped stay
        whatever their age, so that an archive that was away for months still gets them;
        without it, the shipping log forgets them too."""
        ts = _epoch(before, "retention limit")
        with self._write() as conn:
            if keep_unshipped:
                oldest = conn.execute("SELECT MIN(ts) FROM sample_log").fetchone()[0]
                ts = ts if oldest is None else min(ts, oldest)
            else:
                conn.execute("DELETE FROM sample_log WHERE ts < ?", (ts,))
            return conn.execute(
                f"DELETE FROM samples WHERE point_id IN {_ALL_POINTS} AND ts < ?", (ts,)
            ).rowcount

    # -- rollups -----------------------------------------------------------------------

    def rollup(self, start: datetime, end: datetime) -> int:
        """(Re)compute the hourly rollups of every point for each UTC hour touching [start, end).

        An hour that still has raw samples is recomputed from them, so running it twice, or
        after late or replaced samples, gives the right answer. An hour whose raw samples
        are gone (retention) keeps its rollup: it is then the only record left.
        Returns the number of hourly rows written.
        """
        lo, hi = _span(start, end)
        bounds = {"lo": lo - lo % HOUR, "hi": hi + -hi % HOUR}
        with self._write() as conn:
            conn.execute(_FORGET_RECOMPUTED_HOURS, bounds)
            return conn.execute(_COMPUTE_HOURS, bounds).rowcount

    def hourly(self, point: str, start: datetime, end: datetime) -> list[Rollup]:
        """Hourly rollups of one point whose hour starts in [start, end), oldest first."""
        lo, hi = _span(start, end)
        rows = self._conn().execute(
            "SELECT hour, count, total, min, max, last, first_ts, last_ts FROM hourly "
            f"WHERE point_id = {_POINT_ID} AND hour >= ? AND hour < ? ORDER BY hour",
            (point, lo, hi),
        )
        return [
            Rollup(
                point=point,
                hour=_utc(row["hour"]),
                count=row["count"],
                mean=row["total"] / row["count"],
                min=row["min"],
                max=row["max"],
                last=row["last"],
                first_ts=_utc(row["first_ts"]),
                last_ts=_utc(row["last_ts"]),
            )
            for row in rows
        ]

    def daily(
        self, point: str, start_date: date, end_date: date, tz: tzinfo
    ) -> list[DailyAggregate]:
        """Local calendar days from start_date to end_date, both included; days without data
        are left out. Means are weighted by sample count, not averaged per hour."""
        periods = self._local_periods(point, start_date, end_date + timedelta(days=1), tz, _same)
        return [
            DailyAggregate(point, day, p.hours, p.count, p.mean, p.min, p.max, p.sum_of_means)
            for day, p in periods.items()
        ]

    def monthly(
        self, point: str, start_month: date, end_month: date, tz: tzinfo
    ) -> list[MonthlyAggregate]:
        """Local calendar months from start_month to end_month, both included (only their
        year and month count); months without data are left out."""
        first, stop = start_month.replace(day=1), _next_month(end_month)
        periods = self._local_periods(point, first, stop, tz, _month_of)
        months = {
            month: MonthlyAggregate(
                point, month, len(p.days), p.hours, p.count, p.mean, p.min, p.max, p.sum_of_means
            )
            for month, p in periods.items()
        }
        # Months whose hourly rollups are gone, wholly or in part, come from the record.
        kept = self._conn().execute(
            "SELECT month, days, hours, count, total, min, max, sum_of_means FROM monthly "
            f"WHERE point_id = {_POINT_ID} AND month >= ? AND month < ?",
            (point, f"{first:%Y-%m}", f"{stop:%Y-%m}"),
        )
        for row in kept:
            month = date.fromisoformat(row["month"] + "-01")
            if month not in months or months[month].hours < row["hours"]:
                months[month] = MonthlyAggregate(
                    point, month, row["days"], row["hours"], row["count"],
                    row["total"] / row["count"], row["min"], row["max"], row["sum_of_means"])
        return [months[month] for month in sorted(months)]

    def keep_monthly(self, start_month: date, end_month: date, tz: tzinfo) -> int:
        """Record the local months from start_month to end_month (both included) in the
        monthly table, computed from the hourly rollups, so that they outlive them (the
        BACS decree asks for five years at a monthly step; they are kept for ever).
        A month whose hourly rollups are gone keeps what was recorded. Returns the rows
        written."""
        rows: list[tuple[Any, ...]] = []
        for point, point_id in self._point_id_map().items():
            periods = self._local_periods(
                point, start_month.replace(day=1), _next_month(end_month), tz, _month_of
            )
            rows.extend(
                (point_id, f"{month:%Y-%m}", len(p.days), p.hours, p.count, p.total, p.min,
                 p.max, p.sum_of_means)
                for month, p in periods.items()
            )
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO monthly (point_id, month, days, hours, count, total, "
                "min, max, sum_of_means) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def delete_hourly_before(self, before: datetime) -> int:
        """Retention of the hourly rollups; record their months first (``keep_monthly``)."""
        ts = _epoch(before, "retention limit")
        with self._write() as conn:
            return conn.execute(
                f"DELETE FROM hourly WHERE point_id IN {_ALL_POINTS} AND hour < ?", (ts,)
            ).rowcount

    def _point_id_map(self) -> dict[str, int]:
        return {row[0]: row[1] for row in self._conn().execute("SELECT key, id FROM points")}

    def _local_periods(
        self, point: str, start: date, stop: date, tz: tzinfo, period_of: Callable[[date], date]
    ) -> dict[date, _Period]:
        # A UTC hour lies within one local day wherever offsets are whole hours (Europe).
        if stop <= start:
            raise ValueError(f"empty or reversed date range: {start} .. {stop}")
        lo = _epoch(datetime.combine(start, time(), tz))
        hi = _epoch(datetime.combine(stop, time(), tz))
        rows = self._conn().execute(
            "SELECT hour, count, total, min, max FROM hourly "
            f"WHERE point_id = {_POINT_ID} AND hour >= ? AND hour < ? ORDER BY hour",
            (point, lo, hi),
        )
        periods: dict[date, _Period] = {}
        for row in rows:
            day = datetime.fromtimestamp(row["hour"], tz).date()
            periods.setdefault(period_of(day), _Period()).add(
                day, row["count"], row["total"], row["min"], row["max"]
            )
        return periods

    # -- exports -----------------------------------------------------------------------
    # An export may cover years of samples: it reads them in chunks, each its own short
    # query, so that memory stays flat and no read snapshot is held open for the whole
    # export (a long-lived one would keep the WAL from being checkpointed while the engine
    # writes).

    def sample_rows(
        self, point: str, start: datetime, end: datetime, *, chunk: int = 10_000
    ) -> Iterator[tuple[int, float | None, str, str | None]]:
        """Raw samples of one point with start <= ts < end, oldest first, as plain
        ``(epoch seconds, value, quality, error)`` tuples read ``chunk`` at a time: exports
        read years of samples, where a ``Sample`` per row would cost more than the rest."""
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, not {chunk}")
        lo, hi = _span(start, end)
        while True:
            cursor = self._conn().cursor()
            cursor.row_factory = None
            rows: list[tuple[int, float | None, str, str | None]] = cursor.execute(
                "SELECT ts, value, quality, error FROM samples "
                f"WHERE point_id = {_POINT_ID} AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?",
                (point, lo, hi, chunk),
            ).fetchall()
            yield from rows
            if len(rows) < chunk:
                return
            lo = rows[-1][0] + 1

    def count_samples(self, point: str, start: datetime, end: datetime) -> int:
        """How many raw samples of one point have start <= ts < end."""
        lo, hi = _span(start, end)
        row = self._conn().execute(
            f"SELECT COUNT(*) FROM samples WHERE point_id = {_POINT_ID} AND ts >= ? AND ts < ?",
            (point, lo, hi),
        ).fetchone()
        return int(row[0])

    def count_hourly(self, point: str, start: datetime, end: datetime) -> int:
        """How many hourly rollups of one point start in [start, end)."""
        lo, hi = _span(start, end)
        row = self._conn().execute(
            f"SELECT COUNT(*) FROM hourly WHERE point_id = {_POINT_ID} AND hour >= ? AND hour < ?",
            (point, lo, hi),
        ).fetchone()
        return int(row[0])

    # -- events ------------------------------------------------------------------------

    def record_event(
        self,
        at: datetime,
        kind: str,
        actor: str,
        message: str,
        *,
        reason: str | None = None,
        site: str | None = None,
        building: str | None = None,
        zone: str | None = None,
        point: str | None = None,
        data: Mapping[str, Any] | None = None,
        message_en: str | None = None,
        reason_en: str | None = None,
    ) -> int:
        """Append to the audit log; returns the event's id. ``actor`` is a user or "engine";
        ``message`` and ``reason`` are French, ``message_en`` and ``reason_en`` their
        English."""
        ts = _epoch(at, "event time")
        _require_text(kind, "event kind")
        _require_text(actor, "event actor")
        _require_text(message, "event message")
        payload = _to_json({} if data is None else data, "event data")
        with self._write() as conn:
            return _insert_event(conn, (ts, kind, actor, site, building, zone, point, message,
                                        reason, payload, message_en, reason_en))

    def events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        kind: str | None = None,
        actor: str | None = None,
        building: str | None = None,
        zone: str | None = None,
        point: str | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Audit log lines with since <= ts < until and the given keys, newest first."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            where.append("ts >= ?")
            params.append(_epoch(since, "since"))
        if until is not None:
            where.append("ts < ?")
            params.append(_epoch(until, "until"))
        keys = {"kind": kind, "actor": actor, "building": building, "zone": zone, "point": point}
        for column, value in keys.items():
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._conn().execute(
            f"SELECT * FROM events {clause} ORDER BY ts DESC, id DESC LIMIT ?", (*params, limit)
        )
        return [_from_row(Event, row, data=json.loads) for row in rows]

    def event_values(self, column: str) -> list[str]:
        """The kinds or the actors found in the audit log, sorted: what the panel's filters
        offer."""
        if column not in ("kind", "actor"):
            raise ValueError(f"no filter on the audit log's {column!r}")
        rows = self._conn().execute(f"SELECT DISTINCT {column} FROM events ORDER BY 1")
        return [row[0] for row in rows]

    # -- shipping to InfluxDB ------------------------------------------------------------
    # Samples are shipped in the order they were written (the sample log), events in the
    # order of the audit log; each stream has a watermark, the last position shipped.

    def unshipped_samples(self, limit: int) -> list[ShippableSample]:
        """The next ``limit`` samples after the watermark, in write order. A sample written
        twice (replaced) comes twice, with its current value; a log entry whose sample was
        dropped by retention comes with ``point`` None, so that the watermark passes it."""
        rows = self._conn().execute(
            "SELECT l.seq, p.key, l.ts, s.value, s.quality, s.error FROM sample_log AS l "
            "LEFT JOIN samples AS s ON s.point_id = l.point_id AND s.ts = l.ts "
            "LEFT JOIN points AS p ON p.id = l.point_id AND s.ts IS NOT NULL "
            "WHERE l.seq > (SELECT COALESCE(MAX(position), 0) FROM shipped "
            "WHERE stream = 'samples') ORDER BY l.seq LIMIT ?",
            (limit,),
        )
        return [ShippableSample(*row) for row in rows]

    def first_event(self, kind: str, message_prefix: str = "") -> Event | None:
        """The oldest audit line of ``kind`` whose message starts with ``message_prefix``."""
        row = self._conn().execute(
            "SELECT * FROM events WHERE kind = ? AND substr(message, 1, ?) = ?"
            " ORDER BY ts, id LIMIT 1", (kind, len(message_prefix), message_prefix)).fetchone()
        return None if row is None else _from_row(Event, row, data=json.loads)

    def unshipped_events(self, limit: int) -> list[Event]:
        """The next ``limit`` audit-log lines after the watermark, oldest first."""
        rows = self._conn().execute(
            "SELECT * FROM events WHERE id > (SELECT COALESCE(MAX(position), 0) FROM shipped "
            "WHERE stream = 'events') ORDER BY id LIMIT ?",
            (limit,),
        )
        return [_from_row(Event, row, data=json.loads) for row in rows]

    def shipping_backlog(self) -> dict[str, int]:
        """How many samples and events wait to be shipped."""
        conn = self._conn()
        marks = self.watermarks()
        samples = conn.execute("SELECT COUNT(*) FROM sample_log WHERE seq > ?",
                               (marks["samples"],)).fetchone()[0]
        events = conn.execute("SELECT COUNT(*) FROM events WHERE id > ?",
                              (marks["events"],)).fetchone()[0]
        return {"samples": samples, "events": events}

    def watermarks(self) -> dict[str, int]:
        """The last position shipped of each stream (0: nothing yet)."""
        marks = {"samples": 0, "events": 0}
        marks.update(self._conn().execute("SELECT stream, position FROM shipped").fetchall())
        return marks

    def mark_shipped(
        self, stream: str, position: int, *, at: datetime,
        set_aside: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Move a stream's watermark to ``position`` (never back), in one transaction with
        the lines that InfluxDB refused, ``(line, error)``, which are kept aside. Shipped
        entries of the sample log are forgotten."""
        if stream not in ("samples", "events"):
            raise ValueError(f"unknown stream {stream!r}: expected samples or events")
        ts = _epoch(at, "shipping time")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO shipped (stream, position, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (stream) DO UPDATE SET position = MAX(position, excluded.position), "
                "updated_at = excluded.updated_at",
                (stream, position, ts),
            )
            conn.executemany(
                "INSERT INTO set_aside (stream, line, error, at) VALUES (?, ?, ?, ?)",
                [(stream, line, error, ts) for line, error in set_aside],
            )
            if stream == "samples":
                conn.execute("DELETE FROM sample_log WHERE seq <= ?", (position,))

    def set_aside(self, *, limit: int = 100) -> list[SetAside]:
        """Lines that InfluxDB refused, newest first."""
        rows = self._conn().execute(
            "SELECT id, stream, line, error, at FROM set_aside ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [_from_row(SetAside, row) for row in rows]

    # -- the engine's status, for the panel ---------------------------------------------

    def save_status(self, at: datetime, records: Mapping[str, tuple[str, Mapping[str, Any]]],
                    *, replace: Collection[str] = ("zone", "output"),
                    samples: Iterable[Sample] = ()) -> None:
        """Replace the status of the kinds ``replace`` by ``records``: ``key -> (kind,
        data)``. The engine writes its zones and outputs (kinds ``zone``, ``output``) at
        the end of each tick, with the samples of what it decided (``samples``, in the
        same transaction: one commit), and what lies ahead (``night``, ``holidays``:
        gtb.outlook) when it changes."""
        ts = _epoch(at, "status time")
        strays = sorted({kind for kind, _ in records.values()} - set(replace))
        if strays:
            raise ValueError(f"status of kinds {strays} given to replace {sorted(replace)}")
        rows = [(key, kind, _to_json(data, f"status of {key}"), ts)
                for key, (kind, data) in records.items()]
        kinds = sorted(set(replace))
        batch = list(samples)
        with self._write() as conn:
            ids = self._insert_samples(conn, batch) if batch else self._point_ids
            conn.execute(f"DELETE FROM status WHERE kind IN ({', '.join('?' * len(kinds))})",
                         kinds)
            conn.executemany("INSERT INTO status (key, kind, data, at) VALUES (?, ?, ?, ?)",
                             rows)
        self._point_ids = ids

    def status(self, kind: str | None = None) -> dict[str, Status]:
        """The engine's last status of each zone or output (all kinds when None), in the
        order it wrote them."""
        where, params = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        rows = self._conn().execute(
            f"SELECT key, kind, data, at FROM status {where} ORDER BY rowid", params)
        return {row["key"]: Status(row["key"], row["kind"], json.loads(row["data"]),
                                   _utc(row["at"])) for row in rows}

    # -- alarms ------------------------------------------------------------------------

    def raise_alarm(
        self,
        key: str,
        *,
        at: datetime,
        severity: Severity | str,
        message: str,
        building: str | None = None,
        zone: str | None = None,
        point: str | None = None,
        message_en: str | None = None,
    ) -> tuple[Alarm, bool]:
        """Raise the alarm ``key`` unless it is active; returns it and whether it is new.
        ``message`` is French, ``message_en`` its English."""
        _require_text(key, "alarm key")
        _require_text(message, "alarm message")
        level = Severity(severity)
        with self._write() as conn:
            row = conn.execute(
                "SELECT * FROM alarms WHERE key = ? AND cleared_at IS NULL", (key,)
            ).fetchone()
            if row is not None:
                return _alarm(row), False
            cursor = conn.execute(
                "INSERT INTO alarms (key, severity, message, building, zone, point, raised_at,"
                " message_en) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, level, message, building, zone, point, _epoch(at, "alarm time"),
                 message_en),
            )
            return self._alarm(conn, _new_id(cursor)), True

    def clear_alarm(self, key: str, *, at: datetime) -> Alarm | None:
        """Clear the active alarm ``key``; returns it cleared, or None if none was active."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT id FROM alarms WHERE key = ? AND cleared_at IS NULL", (key,)
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE alarms SET cleared_at = ? WHERE id = ?",
                (_epoch(at, "alarm clearing time"), row["id"]),
            )
            return self._alarm(conn, row["id"])

    def acknowledge_alarm(self, alarm_id: int, *, at: datetime, who: str) -> Alarm:
        """A person has seen the alarm; it stays active until its condition clears."""
        _require_text(who, "acknowledged by")
        with self._write() as conn:
            current = self._alarm(conn, alarm_id)
            if current.acknowledged_at is not None:
                raise ConflictError(
                    f"alarm {alarm_id} was already acknowledged by {current.acknowledged_by}"
                )
            conn.execute(
                "UPDATE alarms SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ?",
                (_epoch(at, "acknowledgement time"), who, alarm_id),
            )
            return self._alarm(conn, alarm_id)

    def active_alarms(self) -> dict[str, Alarm]:
        """Every alarm not cleared yet, by key."""
        rows = self._conn().execute(
            "SELECT * FROM alarms WHERE cleared_at IS NULL ORDER BY raised_at, id"
        )
        return {alarm.key: alarm for alarm in map(_alarm, rows)}

    def alarms(self, *, limit: int = 100) -> list[Alarm]:
        """Alarm history, newest raised first, cleared ones included."""
        rows = self._conn().execute(
            "SELECT * FROM alarms ORDER BY raised_at DESC, id DESC LIMIT ?", (limit,)
        )
        return [_alarm(row) for row in rows]

    @staticmethod
    def _alarm(conn: sqlite3.Connection, alarm_id: int) -> Alarm:
        row = conn.execute("SELECT * FROM alarms WHERE id = ?", (alarm_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no alarm with id {alarm_id}")
        return _alarm(row)

    # -- learning ----------------------------------------------------------------------

    def zone_learning(self, zone: str) -> ZoneLearning | None:
        """What the zone has learned, and whether it may; None for a zone never seen."""
        row = self._conn().execute(
            "SELECT * FROM zone_learning WHERE zone = ?", (zone,)
        ).fetchone()
        if row is None:
            return None
        return _from_row(ZoneLearning, row, enabled=bool, model=json.loads)

    def learning_switches(self) -> dict[str, bool]:
        """Whether each zone may learn; a zone not listed may (the default)."""
        rows = self._conn().execute("SELECT zone, enabled FROM zone_learning")
        return {row["zone"]: bool(row["enabled"]) for row in rows}

    def save_learned(self, zone: str, model: Mapping[str, Any], *, at: datetime) -> None:
        """Keep what a nightly refit learned, so that a restart need not learn again."""
        payload = _to_json(model, f"learned model of {zone}")
        ts = _epoch(at, "fit time")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO zone_learning (zone, model, fitted_at, changed_at, changed_by)"
                " VALUES (?, ?, ?, ?, 'engine') ON CONFLICT (zone) DO UPDATE"
                " SET model = excluded.model, fitted_at = excluded.fitted_at",
                (zone, payload, ts, ts),
            )

    def set_learning(self, zone: str, enabled: bool, *, at: datetime, who: str) -> None:
        """Switch a zone's learning on or off; off, it follows its programme."""
        _require_text(who, "changed by")
        ts = _epoch(at, "change time")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO zone_learning (zone, enabled, changed_at, changed_by)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (zone) DO UPDATE"
                " SET enabled = excluded.enabled, changed_at = excluded.changed_at,"
                " changed_by = excluded.changed_by",
                (zone, int(enabled), ts, who),
            )

    # -- overrides ---------------------------------------------------------------------

    def add_override(
        self,
        point: str,
        value: float,
        *,
        start: datetime,
        until: datetime,
        who: str,
        why: str,
        at: datetime,
    ) -> int:
        """Record a manual value for [start, until); ``at`` is when it was asked for."""
        _require_text(point, "override point")
        _require_text(who, "override author")
        _require_text(why, "override reason")
        if not math.isfinite(value):
            raise ValueError(f"override of {point}: {value} is not a finite number")
        lo = _epoch(start, "override start")
        hi = _epoch(until, "override end")
        if hi <= lo:
            raise ValueError(
                f"override of {point}: end {until.isoformat()} is not after start "
                f"{start.isoformat()}"
            )
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO overrides (point, value, start, until, who, why, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (point, value, lo, hi, who, why, _epoch(at, "override creation time")),
            )
            return _new_id(cursor)

    def active_overrides(self, at: datetime) -> dict[str, Override]:
        """The override in force on each point at ``at``; the most recently created wins."""
        ts = _epoch(at)
        rows = self._conn().execute(
            "SELECT * FROM overrides WHERE start <= :ts AND until > :ts"
            " AND (cancelled_at IS NULL OR cancelled_at > :ts) ORDER BY created_at, id",
            {"ts": ts},
        )
        return {o.point: o for o in (_from_row(Override, row) for row in rows)}

    def cancel_override(self, override_id: int, *, at: datetime, who: str, why: str) -> Override:
        """End an override early; returns it as cancelled. It stays in the history."""
        ts = _epoch(at, "cancellation time")
        _require_text(who, "cancelled by")
        _require_text(why, "cancellation reason")
        with self._write() as conn:
            current = self._override(conn, override_id)
            if current.cancelled_at is not None:
                raise ConflictError(
                    f"override {override_id} on {current.point} was already cancelled at "
                    f"{current.cancelled_at.isoformat()} by {current.cancelled_by}"
                )
            conn.execute(
                "UPDATE overrides SET cancelled_at = ?, cancelled_by = ?, cancel_reason = ?"
                " WHERE id = ?",
                (ts, who, why, override_id),
            )
            return self._override(conn, override_id)

    def override(self, override_id: int) -> Override:
        """One override by id, whatever its state; NotFoundError if there is none."""
        return self._override(self._conn(), override_id)

    def overrides(self, point: str | None = None, *, limit: int = 100) -> list[Override]:
        """Override history, newest created first, cancelled and expired ones included."""
        clause, params = ("WHERE point = ?", (point,)) if point is not None else ("", ())
        rows = self._conn().execute(
            f"SELECT * FROM overrides {clause} ORDER BY created_at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [_from_row(Override, row) for row in rows]

    @staticmethod
    def _override(conn: sqlite3.Connection, override_id: int) -> Override:
        row = conn.execute("SELECT * FROM overrides WHERE id = ?", (override_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no override with id {override_id}")
        return _from_row(Override, row)

    # -- weekly programmes -------------------------------------------------------------

    def save_schedule(
        self, zone: str, programme: Mapping[str, Any], *, at: datetime, who: str
    ) -> int:
        """Store a new version of a zone's weekly programme; returns its version number."""
        _require_text(zone, "schedule zone")
        _require_text(who, "schedule author")
        payload = _to_json(programme, f"programme of {zone}")
        ts = _epoch(at, "schedule save time")
        with self._write() as conn:
            (latest,) = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM schedules WHERE zone = ?", (zone,)
            ).fetchone()
            conn.execute(
                "INSERT INTO schedules (zone, version, programme, saved_at, saved_by)"
                " VALUES (?, ?, ?, ?, ?)",
                (zone, latest + 1, payload, ts, who),
            )
        return int(latest) + 1

    def schedule(self, zone: str) -> dict[str, Any] | None:
        """The zone's current programme, or None if it has never been saved."""
        history = self.schedule_history(zone, limit=1)
        return dict(history[0].programme) if history else None

    def schedule_history(self, zone: str, *, limit: int = 100) -> list[ScheduleVersion]:
        """Saved versions of a zone's programme, newest first."""
        rows = self._conn().execute(
            "SELECT * FROM schedules WHERE zone = ? ORDER BY version DESC LIMIT ?", (zone, limit)
        )
        return [_from_row(ScheduleVersion, row, programme=json.loads) for row in rows]

    def latest_schedules(self) -> dict[str, ScheduleVersion]:
        """The latest saved version of each zone's programme (zones never saved are absent)."""
        rows = self._conn().execute(
            "SELECT * FROM schedules AS s WHERE version ="
            " (SELECT MAX(version) FROM schedules WHERE zone = s.zone) ORDER BY zone"
        )
        return {row["zone"]: _from_row(ScheduleVersion, row, programme=json.loads)
                for row in rows}

    def schedule_revision(self) -> int:
        """A number that grows at every programme saved: reload when it moves."""
        # Versions are never deleted, so the largest rowid only grows.
        row = self._conn().execute("SELECT COALESCE(MAX(rowid), 0) FROM schedules").fetchone()
        return int(row[0])

    # -- agenda ------------------------------------------------------------------------

    def add_agenda_entry(
        self, entry: AgendaEntry | Mapping[str, Any], *, at: datetime, who: str
    ) -> int:
        """Keep a new agenda entry and audit it; returns its id."""
        checked = _agenda_entry(entry)
        ts = _epoch(at, "agenda change time")
        _require_text(who, "agenda author")
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO agenda (kind, label, entry, lo, hi, revision, created_at,"
                " created_by, updated_at, updated_by) VALUES (?, ?, ?, ?, ?,"
                f" {_NEXT_REVISION}, ?, ?, ?, ?)",
                (*_agenda_columns(checked), ts, who, ts, who),
            )
            entry_id = _new_id(cursor)
            _audit_agenda(conn, ts, who, "added", entry_id, checked)
        return entry_id

    def update_agenda_entry(
        self, entry_id: int, entry: AgendaEntry | Mapping[str, Any], *, at: datetime, who: str
    ) -> StoredAgendaEntry:
        """Replace an entry with a new version and audit the change; returns it."""
        checked = _agenda_entry(entry)
        ts = _epoch(at, "agenda change time")
        _require_text(who, "agenda author")
        with self._write() as conn:
            before = self._agenda_entry(conn, entry_id)
            conn.execute(
                "UPDATE agenda SET kind = ?, label = ?, entry = ?, lo = ?, hi = ?,"
                f" revision = {_NEXT_REVISION}, updated_at = ?, updated_by = ? WHERE id = ?",
                (*_agenda_columns(checked), ts, who, entry_id),
            )
            _audit_agenda(conn, ts, who, "changed", entry_id, checked, before.entry)
            return self._agenda_entry(conn, entry_id)

    def delete_agenda_entry(self, entry_id: int, *, at: datetime, who: str) -> None:
        """Take an entry out of the agenda; the audit log keeps what it was."""
        ts = _epoch(at, "agenda change time")
        _require_text(who, "agenda author")
        with self._write() as conn:
            before = self._agenda_entry(conn, entry_id)
            conn.execute(
                f"UPDATE agenda SET revision = {_NEXT_REVISION}, deleted_at = ?, deleted_by = ?"
                " WHERE id = ?",
                (ts, who, entry_id),
            )
            _audit_agenda(conn, ts, who, "removed", entry_id, before.entry)

    def agenda_entry(self, entry_id: int) -> StoredAgendaEntry:
        """One entry by id; NotFoundError if there is none, or it was deleted."""
        return self._agenda_entry(self._conn(), entry_id)

    def agenda(
        self,
        *,
        start: date | datetime | None = None,
        end: date | datetime | None = None,
        zone: str | None = None,
    ) -> list[StoredAgendaEntry]:
        """Entries that overlap [start, end) (local wall-clock times or days; a day is its
        midnight) and, with ``zone`` ("building.zone"), that apply to it; by start, then id.
        """
        where, params = ["deleted_at IS NULL"], []
        if start is not None:
            where.append("hi > ?")
            params.append(_wall_clock(start, "agenda range start"))
        if end is not None:
            where.append("lo < ?")
            params.append(_wall_clock(end, "agenda range end"))
        rows = self._conn().execute(
            f"SELECT {_AGENDA_FIELDS} FROM agenda WHERE {' AND '.join(where)} ORDER BY lo, id",
            params,
        )
        entries = [_stored_agenda(row) for row in rows]
        if zone is None:
            return entries
        building, _, zone_id = zone.partition(".")
        return [e for e in entries if e.entry.applies_to(building, zone_id)]

    def agenda_revision(self) -> int:
        """A number that grows at every change of the agenda: reload when it moves."""
        row = self._conn().execute("SELECT COALESCE(MAX(revision), 0) FROM agenda").fetchone()
        return int(row[0])

    @staticmethod
    def _agenda_entry(conn: sqlite3.Connection, entry_id: int) -> StoredAgendaEntry:
        row = conn.execute(
            f"SELECT {_AGENDA_FIELDS} FROM agenda WHERE id = ? AND deleted_at IS NULL",
            (entry_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no agenda entry with id {entry_id}")
        return _stored_agenda(row)

    # -- users -------------------------------------------------------------------------

    def add_user(
        self, name: str, password_hash: str, role: UserRole | str, *, at: datetime
    ) -> User:
        """Create an account. Names are unique regardless of (ASCII) case."""
        _require_text(name, "user name")
        _require_text(password_hash, "password hash")
        try:
            checked = UserRole(role)
        except ValueError:
            known = ", ".join(r.value for r in UserRole)
            raise ValueError(f"user {name!r}: role {role!r} is not one of {known}") from None
        ts = _epoch(at, "user creation time")
        with self._write() as conn:
            if self._user_row(conn, name) is not None:
                raise ConflictError(f"user {name!r} already exists")
            conn.execute(
                "INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                (name, password_hash, checked.value, ts),
            )
        return User(name, password_hash, checked, _utc(ts), disabled=False)

    def user(self, name: str) -> User | None:
        row = self._user_row(self._conn(), name)
        return None if row is None else _from_row(User, row, role=UserRole, disabled=bool)

    def users(self) -> list[User]:
        rows = self._conn().execute("SELECT * FROM users ORDER BY name")
        return [_from_row(User, row, role=UserRole, disabled=bool) for row in rows]

    def set_password_hash(self, name: str, password_hash: str) -> None:
        _require_text(password_hash, "password hash")
        self._update_user(name, "password_hash", password_hash)

    def set_disabled(self, name: str, disabled: bool) -> None:
        self._update_user(name, "disabled", int(disabled))

    def _update_user(self, name: str, column: str, value: object) -> None:
        with self._write() as conn:
            changed = conn.execute(
                f"UPDATE users SET {column} = ? WHERE name = ?", (value, name)
            ).rowcount
            if changed == 0:
                raise NotFoundError(f"no user {name!r}")

    def add_token(self, user: str, token_hash: str, label: str, *, at: datetime) -> int:
        """Record an API token of ``user`` (only its hash); returns its id."""
        _require_text(token_hash, "token hash")
        _require_text(label, "token label")
        ts = _epoch(at, "token creation time")
        with self._write() as conn:
            if self._user_row(conn, user) is None:
                raise NotFoundError(f"no user {user!r}")
            cursor = conn.execute(
                "INSERT INTO api_tokens (user, token_hash, label, created_at) "
                "VALUES (?, ?, ?, ?)", (user, token_hash, label, ts))
            return _new_id(cursor)

    def token_user(self, token_hash: str) -> User | None:
        """The enabled user whose live token has this hash, else None."""
        row = self._conn().execute(
            "SELECT u.* FROM api_tokens AS t JOIN users AS u ON u.name = t.user "
            "WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.disabled = 0",
            (token_hash,)).fetchone()
        return None if row is None else _from_row(User, row, role=UserRole, disabled=bool)

    def revoke_token(self, token_id: int, *, at: datetime) -> None:
        ts = _epoch(at, "revocation time")
        with self._write() as conn:
            if conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND "
                            "revoked_at IS NULL", (ts, token_id)).rowcount == 0:
                raise NotFoundError(f"no live API token {token_id}")

    @staticmethod
    def _user_row(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM users WHERE name = ?", (name,)
        ).fetchone()
        return row


def _insert_event(conn: sqlite3.Connection, row: tuple[Any, ...]) -> int:
    """One line of the audit log, in the caller's transaction: ``(ts, kind, actor, site,
    building, zone, point, message, reason, data, message_en, reason_en)``."""
    cursor = conn.execute(
        "INSERT INTO events (ts, kind, actor, site, building, zone, point, message, reason, data,"
        " message_en, reason_en) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        row,
    )
    return _new_id(cursor)


# Samples and rollups are stored point by point (PRIMARY KEY (point_id, ...)), so a query
# over all points walks the points table and seeks each point's time range: with no
# index on time alone, a tick's insert touches one b-tree only.
_POINT_ID = "(SELECT id FROM points WHERE key = ?)"
_ALL_POINTS = "(SELECT id FROM points)"
_FORGET_RECOMPUTED_HOURS = f"""
    DELETE FROM hourly
    WHERE point_id IN {_ALL_POINTS} AND hour >= :lo AND hour < :hi
    AND EXISTS (
        SELECT 1 FROM samples AS s
        WHERE s.point_id = hourly.point_id AND s.ts >= hourly.hour AND s.ts < hourly.hour + 3600
    )"""
_COMPUTE_HOURS = """
    INSERT INTO hourly (point_id, hour, count, total, min, max, last, first_ts, last_ts)
    SELECT a.point_id, a.hour, a.n, a.total, a.lo, a.hi, s.value, a.first, a.last
    FROM (
        SELECT s.point_id, s.ts - s.ts % 3600 AS hour, COUNT(*) AS n, SUM(s.value) AS total,
               MIN(s.value) AS lo, MAX(s.value) AS hi, MIN(s.ts) AS first, MAX(s.ts) AS last
        FROM points AS p CROSS JOIN samples AS s ON s.point_id = p.id
        WHERE s.ts >= :lo AND s.ts < :hi AND s.quality = 'ok'
        GROUP BY s.point_id, hour
    ) AS a
    JOIN samples AS s ON s.point_id = a.point_id AND s.ts = a.last"""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


@dataclass
class _Period:
    """Running totals of the hourly rollups that fall in one local day or month."""

    days: set[date] = field(default_factory=set)
    hours: int = 0
    count: int = 0
    total: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    sum_of_means: float = 0.0

    def add(self, day: date, count: int, total: float, low: float, high: float) -> None:
        self.days.add(day)
        self.hours += 1
        self.count += count
        self.total += total
        self.min = min(self.min, low)
        self.max = max(self.max, high)
        self.sum_of_means += total / count

    @property
    def mean(self) -> float:
        return self.total / self.count


def _same(day: date) -> date:
    return day


def _month_of(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _epoch(moment: datetime, what: str = "time") -> int:
    """Aware datetime -> UTC epoch seconds. A naive one is refused: its zone is a guess."""
    if not isinstance(moment, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} {moment.isoformat()} is naive: pass a timezone-aware datetime")
    return (moment - _EPOCH) // _SECOND


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _span(start: datetime, end: datetime) -> tuple[int, int]:
    lo, hi = _epoch(start, "start"), _epoch(end, "end")
    if hi <= lo:
        raise ValueError(f"empty or reversed range: {start.isoformat()} .. {end.isoformat()}")
    return lo, hi


def _require_text(value: object, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty text, not {value!r}")


def _to_json(data: Mapping[str, Any], what: str) -> str:
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} must be a mapping, not {type(data).__name__}")
    try:
        return json.dumps(dict(data), sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} cannot be stored as JSON: {exc}") from exc


def _new_id(cursor: sqlite3.Cursor) -> int:
    if cursor.lastrowid is None:
        raise StoreError("SQLite did not report the new row's id")
    return cursor.lastrowid


def _sample(point: str, row: sqlite3.Row) -> Sample:
    return Sample(point, _utc(row["ts"]), row["value"], Quality(row["quality"]), row["error"])


_TIME_COLUMNS = frozenset({
    "ts", "start", "until", "created_at", "cancelled_at", "saved_at", "raised_at", "cleared_at",
    "acknowledged_at", "fitted_at", "changed_at", "at",
})


def _alarm(row: sqlite3.Row) -> Alarm:
    return _from_row(Alarm, row, severity=Severity)


def _from_row(make: Callable[..., _T], row: sqlite3.Row, **convert: Callable[[Any], Any]) -> _T:
    """Build a row dataclass whose fields are named like the table's columns."""
    values = dict(zip(row.keys(), row, strict=True))
    for key, value in values.items():
        if key in _TIME_COLUMNS and value is not None:
            values[key] = _utc(value)
    for key, to_python in convert.items():
        values[key] = to_python(values[key])
    return make(**values)


_AGENDA_FIELDS = "id, entry, created_at, created_by, updated_at, updated_by"
_NEXT_REVISION = "(SELECT COALESCE(MAX(revision), 0) + 1 FROM agenda)"
_KIND_FR = {"event": "événement", "closure": "fermeture", "day": "jour particulier",
            "lights_on": "éclairage public allumé", "lights_off": "éclairage public éteint"}
_CHANGE_FR = {"added": "ajout", "changed": "modification", "removed": "suppression"}
_KIND_EN = {"event": "event", "closure": "closure", "day": "special days",
            "lights_on": "public lighting on", "lights_off": "public lighting off"}


def _agenda_entry(value: AgendaEntry | Mapping[str, Any]) -> AgendaEntry:
    """Validate an entry given as a model or as plain data (the panel's form)."""
    if isinstance(value, AgendaEntry):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"an agenda entry must be a mapping, not {type(value).__name__}")
    try:
        return AgendaEntry.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'entry'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False)
        )
        raise ValueError(f"invalid agenda entry: {problems}") from None


def _agenda_columns(entry: AgendaEntry) -> tuple[str, str, str, str, str]:
    """kind, label, the entry as JSON, and the wall-clock range it covers."""
    if entry.kind == "day":
        lo = _wall_clock(entry.first_day, "first")
        hi = _wall_clock(entry.last_day + timedelta(days=1), "last")
    else:
        assert entry.start is not None and entry.end is not None
        lo, hi = _wall_clock(entry.start, "start"), _wall_clock(entry.end, "end")
    return entry.kind, entry.label, entry.model_dump_json(exclude_defaults=True), lo, hi


def _wall_clock(moment: date | datetime, what: str) -> str:
    """Local wall-clock time as sortable ISO text; a day is its midnight."""
    if not isinstance(moment, datetime):
        if not isinstance(moment, date):
            raise TypeError(f"{what} must be a date or a datetime, not {type(moment).__name__}")
        moment = datetime.combine(moment, time())
    if moment.tzinfo is not None:
        raise ValueError(f"{what} {moment.isoformat()}: agenda times are the site's wall-clock"
                         " times, without a timezone")
    return moment.isoformat(timespec="seconds")


def _stored_agenda(row: sqlite3.Row) -> StoredAgendaEntry:
    return StoredAgendaEntry(
        row["id"], AgendaEntry.model_validate_json(row["entry"]), _utc(row["created_at"]),
        row["created_by"], _utc(row["updated_at"]), row["updated_by"],
    )


def _audit_agenda(
    conn: sqlite3.Connection, ts: int, who: str, change: str, entry_id: int, entry: AgendaEntry,
    before: AgendaEntry | None = None,
) -> None:
    """The audit line of an agenda change, with the entry (and what it was) as data."""
    lo, hi = (entry.first_day, entry.last_day) if entry.kind == "day" else (entry.start, entry.end)
    where = ", ".join(entry.scope)
    reason = f"{_KIND_FR[entry.kind]} du {lo} au {hi} ({where or 'tout le site'})"
    reason_en = f"{_KIND_EN[entry.kind]} from {lo} to {hi} ({where or 'the whole site'})"
    data: dict[str, Any] = {"id": entry_id, "entry": entry.model_dump(mode="json")}
    if before is not None:
        data["before"] = before.model_dump(mode="json")
    _insert_event(conn, (ts, "agenda", who, None, None, None, None,
                         f"Agenda : {_CHANGE_FR[change]} de « {entry.label} »", reason,
                         _to_json(data, "agenda change"),
                         f"Agenda: « {entry.label} » {change}", reason_en))
