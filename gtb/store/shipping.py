"""Shipping to InfluxDB: the streams still to ship, their watermarks, what was refused.

Samples are shipped in the order they were written (the sample log, filled by a trigger
on every insert), events in the order of the audit log; each stream has a watermark, the
last position shipped."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gtb.store.audit import Event
from gtb.store.database import Room, epoch, from_row


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
class SetAside:
    """A line that InfluxDB refused, kept with its error for a person to look at."""

    id: int
    stream: str
    line: str
    error: str
    at: datetime


class Shipping(Room):
    """What is still to ship to InfluxDB, how far each stream went, what it refused."""

    def samples(self, limit: int) -> list[ShippableSample]:
        """The next ``limit`` samples after the watermark, in write order. A sample written
        twice (replaced) comes twice, with its current value; a log entry whose sample was
        dropped by retention comes with ``point`` None, so that the watermark passes it."""
        rows = self._db.conn().execute(
            "SELECT l.seq, p.key, l.ts, s.value, s.quality, s.error FROM sample_log AS l "
            "LEFT JOIN samples AS s ON s.point_id = l.point_id AND s.ts = l.ts "
            "LEFT JOIN points AS p ON p.id = l.point_id AND s.ts IS NOT NULL "
            "WHERE l.seq > (SELECT COALESCE(MAX(position), 0) FROM shipped "
            "WHERE stream = 'samples') ORDER BY l.seq LIMIT ?",
            (limit,),
        )
        return [ShippableSample(*row) for row in rows]

    def events(self, limit: int) -> list[Event]:
        """The next ``limit`` audit-log lines after the watermark, oldest first."""
        rows = self._db.conn().execute(
            "SELECT * FROM events WHERE id > (SELECT COALESCE(MAX(position), 0) FROM shipped "
            "WHERE stream = 'events') ORDER BY id LIMIT ?",
            (limit,),
        )
        return [from_row(Event, row, data=json.loads) for row in rows]

    def backlog(self) -> dict[str, int]:
        """How many samples and events wait to be shipped."""
        conn = self._db.conn()
        marks = self.watermarks()
        samples = conn.execute("SELECT COUNT(*) FROM sample_log WHERE seq > ?",
                               (marks["samples"],)).fetchone()[0]
        events = conn.execute("SELECT COUNT(*) FROM events WHERE id > ?",
                              (marks["events"],)).fetchone()[0]
        return {"samples": samples, "events": events}

    def watermarks(self) -> dict[str, int]:
        """The last position shipped of each stream (0: nothing yet)."""
        marks = {"samples": 0, "events": 0}
        marks.update(self._db.conn().execute("SELECT stream, position FROM shipped").fetchall())
        return marks

    def mark(
        self, stream: str, position: int, *, at: datetime,
        set_aside: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Move a stream's watermark to ``position`` (never back), in one transaction with
        the lines that InfluxDB refused, ``(line, error)``, which are kept aside. Shipped
        entries of the sample log are forgotten."""
        if stream not in ("samples", "events"):
            raise ValueError(f"unknown stream {stream!r}: expected samples or events")
        ts = epoch(at, "shipping time")
        with self._db.write() as conn:
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
        rows = self._db.conn().execute(
            "SELECT id, stream, line, error, at FROM set_aside ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [from_row(SetAside, row) for row in rows]
