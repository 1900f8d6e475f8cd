"""The store's file: SQLite in WAL mode, its connections, transactions and schema.

Time: nothing in the store reads the clock. Every instant is passed in as an aware
``datetime`` and stored as integer UTC epoch seconds (sub-second parts are dropped), so a
simulated clock drives the store exactly like the real one. Instants come back as aware
UTC datetimes.

Concurrency: one ``Database`` may be shared by the threads of a process; each thread gets
its own connection (``threading.local``), opened on first use. Another process opens its
own on the same file. WAL lets readers read while one writer writes. Every write takes
the write lock up front (``BEGIN IMMEDIATE``) so that, when two writers meet, the second
waits up to ``busy_timeout`` instead of failing half-way through its transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from gtb.store.errors import SchemaVersionError, StoreError
from gtb.store.migrations import Migration

_T = TypeVar("_T")


class Database:
    """One SQLite file of the store: a connection per thread, write transactions, and the
    schema brought up to date when it is opened."""

    def __init__(self, path: str | os.PathLike[str], busy_timeout: float,
                 migrations: Sequence[Migration]) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._pid = os.getpid()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        try:
            self._migrate(migrations)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close every thread's connection; call it once no thread uses the store any more."""
        with self._lock:
            self._closed = True
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    @property
    def schema_version(self) -> int:
        return int(self.conn().execute("PRAGMA user_version").fetchone()[0])

    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
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
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed when the block ends and rolled back if it
        raises; the write lock is taken up front."""
        conn = self.conn()
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
            with self.write() as conn:
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


class Room:
    """A part of the store with one job (samples, alarms, accounts...), on the file's
    connections and transactions."""

    def __init__(self, db: Database) -> None:
        self._db = db


# Samples and rollups are stored point by point (PRIMARY KEY (point_id, ...)), so a query
# over all points walks the points table and seeks each point's time range: with no
# index on time alone, a tick's insert touches one b-tree only.
POINT_ID = "(SELECT id FROM points WHERE key = ?)"
ALL_POINTS = "(SELECT id FROM points)"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
TIME_COLUMNS = frozenset({
    "ts", "start", "until", "created_at", "cancelled_at", "saved_at", "raised_at", "cleared_at",
    "acknowledged_at", "fitted_at", "changed_at", "at", "revoked_at", "expires_at", "last_used_at",
    "last_seen_at", "ended_at", "since",
})
"""Columns that hold an instant (epoch seconds), read back as aware UTC datetimes."""


def epoch(moment: datetime, what: str = "time") -> int:
    """Aware datetime -> UTC epoch seconds. A naive one is refused: its zone is a guess."""
    if not isinstance(moment, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} {moment.isoformat()} is naive: pass a timezone-aware datetime")
    return (moment - _EPOCH) // _SECOND


def utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def span(start: datetime, end: datetime) -> tuple[int, int]:
    lo, hi = epoch(start, "start"), epoch(end, "end")
    if hi <= lo:
        raise ValueError(f"empty or reversed range: {start.isoformat()} .. {end.isoformat()}")
    return lo, hi


def require_text(value: object, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty text, not {value!r}")


def to_json(data: Mapping[str, Any], what: str) -> str:
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} must be a mapping, not {type(data).__name__}")
    try:
        return json.dumps(dict(data), sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} cannot be stored as JSON: {exc}") from exc


def new_id(cursor: sqlite3.Cursor) -> int:
    if cursor.lastrowid is None:
        raise StoreError("SQLite did not report the new row's id")
    return cursor.lastrowid


def from_row(make: Callable[..., _T], row: sqlite3.Row, **convert: Callable[[Any], Any]) -> _T:
    """Build a row dataclass whose fields are named like the table's columns."""
    values = dict(zip(row.keys(), row, strict=True))
    for key, value in values.items():
        if key in TIME_COLUMNS and value is not None:
            values[key] = utc(value)
    for key, to_python in convert.items():
        values[key] = to_python(values[key])
    return make(**values)
