"""Raw samples, one per point and tick, with their quality: ok, stale or failed and why."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from gtb.model.points import Quality
from gtb.store.database import (
    ALL_POINTS,
    POINT_ID,
    Database,
    Room,
    epoch,
    require_text,
    span,
    utc,
)


@dataclass(frozen=True)
class Sample:
    """One reading of one point. A failed read is kept too: it records why there is no value."""

    point: str
    ts: datetime
    value: float | None
    quality: Quality = Quality.OK
    error: str | None = None

    def __post_init__(self) -> None:
        require_text(self.point, "sample point")
        if not isinstance(self.ts, datetime) or self.ts.utcoffset() is None:
            epoch(self.ts, f"sample {self.point} time")  # raises, saying what is wrong
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


class Samples(Room):
    """Raw samples: what was read of each point at each tick, with its quality."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._point_ids: dict[str, int] = {}
        """Point key -> id, as known after the last committed insert."""

    def write(self, samples: Iterable[Sample]) -> int:
        """Record a tick's samples in one transaction; a second write of (point, ts) replaces."""
        batch = list(samples)
        if not batch:
            return 0
        with self._db.write() as conn:
            ids = self.insert(conn, batch)
        self.remember(ids)
        return len(batch)

    def remember(self, ids: dict[str, int]) -> None:
        """Keep the point ids of a committed ``insert``: a rolled-back id must not be
        remembered."""
        self._point_ids = ids

    def insert(self, conn: sqlite3.Connection, batch: Sequence[Sample]) -> dict[str, int]:
        """Insert samples in the caller's transaction; returns the point ids it knows then,
        for the caller to ``remember`` once committed."""
        ids = self._point_ids
        missing = {s.point for s in batch} - ids.keys()
        if missing:
            conn.executemany(
                "INSERT OR IGNORE INTO points (key) VALUES (?)", [(k,) for k in missing]
            )
            ids = {row[0]: row[1] for row in conn.execute("SELECT key, id FROM points")}
        # A tick's samples share one time: convert each distinct time once.
        epochs = {ts: epoch(ts) for ts in {s.ts for s in batch}}
        conn.executemany(
            "INSERT OR REPLACE INTO samples (point_id, ts, value, quality, error) "
            "VALUES (?, ?, ?, ?, ?)",
            [(ids[s.point], epochs[s.ts], s.value, s.quality.value, s.error) for s in batch],
        )
        return ids

    def read(self, point: str, start: datetime, end: datetime) -> list[Sample]:
        """Raw samples of one point with start <= ts < end, oldest first."""
        lo, hi = span(start, end)
        rows = self._db.conn().execute(
            "SELECT ts, value, quality, error FROM samples "
            f"WHERE point_id = {POINT_ID} AND ts >= ? AND ts < ? ORDER BY ts",
            (point, lo, hi),
        )
        return [_sample(point, row) for row in rows]

    def latest(self, point: str) -> Sample | None:
        """The newest sample of a point, whatever its quality: a failure is news too."""
        row = (
            self._db.conn()
            .execute(
                "SELECT ts, value, quality, error FROM samples "
                f"WHERE point_id = {POINT_ID} ORDER BY ts DESC LIMIT 1",
                (point,),
            )
            .fetchone()
        )
        return None if row is None else _sample(point, row)

    def latest_good(self, points: Iterable[str]) -> dict[str, Sample]:
        """The newest sample read well (quality ok) of each of ``points`` that has one:
        what a driver whose devices report when they want carries on from at a restart."""
        conn, found = self._db.conn(), {}
        for point in points:
            row = conn.execute(
                "SELECT ts, value, quality, error FROM samples "
                f"WHERE point_id = {POINT_ID} AND quality = 'ok' ORDER BY ts DESC LIMIT 1",
                (point,),
            ).fetchone()
            if row is not None:
                found[point] = _sample(point, row)
        return found

    def latest_all(self) -> dict[str, Sample]:
        """The newest sample of every point, for a whole-site view in one query."""
        rows = self._db.conn().execute(
            "SELECT p.key, s.ts, s.value, s.quality, s.error FROM points AS p "
            "CROSS JOIN samples AS s ON s.point_id = p.id "
            "AND s.ts = (SELECT MAX(ts) FROM samples WHERE point_id = p.id)"
        )
        return {row["key"]: _sample(row["key"], row) for row in rows}

    def delete_before(self, before: datetime, *, keep_unshipped: bool) -> int:
        """Retention: drop raw samples older than ``before``; their hourly rollups stay.

        With ``keep_unshipped`` (InfluxDB shipping is on), samples not yet shipped stay
        whatever their age, so that an archive that was away for months still gets them;
        without it, the shipping log forgets them too."""
        ts = epoch(before, "retention limit")
        with self._db.write() as conn:
            if keep_unshipped:
                oldest = conn.execute("SELECT MIN(ts) FROM sample_log").fetchone()[0]
                ts = ts if oldest is None else min(ts, oldest)
            else:
                conn.execute("DELETE FROM sample_log WHERE ts < ?", (ts,))
            return conn.execute(
                f"DELETE FROM samples WHERE point_id IN {ALL_POINTS} AND ts < ?", (ts,)
            ).rowcount

    def rows(
        self, point: str, start: datetime, end: datetime, *, chunk: int = 10_000
    ) -> Iterator[tuple[int, float | None, str, str | None]]:
        """Raw samples of one point with start <= ts < end, oldest first, as plain
        ``(epoch seconds, value, quality, error)`` tuples read ``chunk`` at a time: exports
        read years of samples, where a ``Sample`` per row would cost more than the rest."""
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, not {chunk}")
        lo, hi = span(start, end)
        while True:
            cursor = self._db.conn().cursor()
            cursor.row_factory = None
            rows: list[tuple[int, float | None, str, str | None]] = cursor.execute(
                "SELECT ts, value, quality, error FROM samples "
                f"WHERE point_id = {POINT_ID} AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?",
                (point, lo, hi, chunk),
            ).fetchall()
            yield from rows
            if len(rows) < chunk:
                return
            lo = rows[-1][0] + 1

    def total(self) -> int:
        """How many raw samples the store holds, every point together."""
        return int(self._db.conn().execute("SELECT COUNT(*) FROM samples").fetchone()[0])

    def count(self, point: str, start: datetime, end: datetime) -> int:
        """How many raw samples of one point have start <= ts < end."""
        lo, hi = span(start, end)
        row = self._db.conn().execute(
            f"SELECT COUNT(*) FROM samples WHERE point_id = {POINT_ID} AND ts >= ? AND ts < ?",
            (point, lo, hi),
        ).fetchone()
        return int(row[0])


def _sample(point: str, row: sqlite3.Row) -> Sample:
    return Sample(point, utc(row["ts"]), row["value"], Quality(row["quality"]), row["error"])
