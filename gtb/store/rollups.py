"""Hourly rollups of every point, and the local calendar days and months made from them.

Local days and months are grouped on read, from the UTC hourly rollups, which is what
makes 23 h and 25 h daylight-saving days come out right. Monthly totals are also kept in
a table of their own, so that they outlive the hourly rollups (retention)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from gtb.store.database import ALL_POINTS, POINT_ID, Room, epoch, span, utc

HOUR = 3600


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


@dataclass(frozen=True, kw_only=True)
class _Aggregate:
    """A local period of one point, from its hourly rollups.

    ``hours`` counts the hours that have data: 23 or 25 on a complete daylight-saving day.
    ``sum_of_means`` adds the hourly means: for a power point in kW, that is kWh.
    """

    point: str
    hours: int
    count: int
    mean: float
    min: float
    max: float
    sum_of_means: float


@dataclass(frozen=True, kw_only=True)
class DailyAggregate(_Aggregate):
    """One local calendar day of one point."""

    day: date


@dataclass(frozen=True, kw_only=True)
class MonthlyAggregate(_Aggregate):
    """One local calendar month of one point; ``month`` is its first day."""

    month: date
    days: int


class Rollups(Room):
    """Hourly rollups of the ok samples, and the local days and months made from them."""

    def compute(self, start: datetime, end: datetime) -> int:
        """(Re)compute the hourly rollups of every point for each UTC hour touching [start, end).

        An hour that still has raw samples is recomputed from them, so running it twice, or
        after late or replaced samples, gives the right answer. An hour whose raw samples
        are gone (retention) keeps its rollup: it is then the only record left.
        Returns the number of hourly rows written.
        """
        lo, hi = span(start, end)
        bounds = {"lo": lo - lo % HOUR, "hi": hi + -hi % HOUR}
        with self._db.write() as conn:
            conn.execute(_FORGET_RECOMPUTED_HOURS, bounds)
            return conn.execute(_COMPUTE_HOURS, bounds).rowcount

    def hourly(self, point: str, start: datetime, end: datetime) -> list[Rollup]:
        """Hourly rollups of one point whose hour starts in [start, end), oldest first."""
        lo, hi = span(start, end)
        rows = self._db.conn().execute(
            "SELECT hour, count, total, min, max, last, first_ts, last_ts FROM hourly "
            f"WHERE point_id = {POINT_ID} AND hour >= ? AND hour < ? ORDER BY hour",
            (point, lo, hi),
        )
        return [
            Rollup(
                point=point,
                hour=utc(row["hour"]),
                count=row["count"],
                mean=row["total"] / row["count"],
                min=row["min"],
                max=row["max"],
                last=row["last"],
                first_ts=utc(row["first_ts"]),
                last_ts=utc(row["last_ts"]),
            )
            for row in rows
        ]

    def daily(
        self, point: str, start_date: date, end_date: date, tz: tzinfo
    ) -> list[DailyAggregate]:
        """Local calendar days from start_date to end_date, both included; days without data
        are left out. Means are weighted by sample count, not averaged per hour."""
        periods = self._local_periods(point, start_date, end_date + timedelta(days=1), tz, _same)
        return [DailyAggregate(point=point, day=day, **p.figures()) for day, p in periods.items()]

    def monthly(
        self, point: str, start_month: date, end_month: date, tz: tzinfo
    ) -> list[MonthlyAggregate]:
        """Local calendar months from start_month to end_month, both included (only their
        year and month count); months without data are left out."""
        first, stop = start_month.replace(day=1), _next_month(end_month)
        periods = self._local_periods(point, first, stop, tz, _month_of)
        months = {
            month: MonthlyAggregate(point=point, month=month, days=len(p.days), **p.figures())
            for month, p in periods.items()
        }
        # Months whose hourly rollups are gone, wholly or in part, come from the record.
        kept = self._db.conn().execute(
            "SELECT month, days, hours, count, total, min, max, sum_of_means FROM monthly "
            f"WHERE point_id = {POINT_ID} AND month >= ? AND month < ?",
            (point, f"{first:%Y-%m}", f"{stop:%Y-%m}"),
        )
        for row in kept:
            month = date.fromisoformat(row["month"] + "-01")
            if month not in months or months[month].hours < row["hours"]:
                months[month] = MonthlyAggregate(
                    point=point, month=month, days=row["days"], hours=row["hours"],
                    count=row["count"], mean=row["total"] / row["count"], min=row["min"],
                    max=row["max"], sum_of_means=row["sum_of_means"])
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
        with self._db.write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO monthly (point_id, month, days, hours, count, total, "
                "min, max, sum_of_means) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def delete_before(self, before: datetime) -> int:
        """Retention of the hourly rollups; record their months first (``keep_monthly``)."""
        ts = epoch(before, "retention limit")
        with self._db.write() as conn:
            return conn.execute(
                f"DELETE FROM hourly WHERE point_id IN {ALL_POINTS} AND hour < ?", (ts,)
            ).rowcount

    def count(self, point: str, start: datetime, end: datetime) -> int:
        """How many hourly rollups of one point start in [start, end)."""
        lo, hi = span(start, end)
        row = self._db.conn().execute(
            f"SELECT COUNT(*) FROM hourly WHERE point_id = {POINT_ID} AND hour >= ? AND hour < ?",
            (point, lo, hi),
        ).fetchone()
        return int(row[0])

    def _point_id_map(self) -> dict[str, int]:
        return {row[0]: row[1] for row in self._db.conn().execute("SELECT key, id FROM points")}

    def _local_periods(
        self, point: str, start: date, stop: date, tz: tzinfo, period_of: Callable[[date], date]
    ) -> dict[date, _Period]:
        # A UTC hour lies within one local day wherever offsets are whole hours (Europe).
        if stop <= start:
            raise ValueError(f"empty or reversed date range: {start} .. {stop}")
        lo = epoch(datetime.combine(start, time(), tz))
        hi = epoch(datetime.combine(stop, time(), tz))
        rows = self._db.conn().execute(
            "SELECT hour, count, total, min, max FROM hourly "
            f"WHERE point_id = {POINT_ID} AND hour >= ? AND hour < ? ORDER BY hour",
            (point, lo, hi),
        )
        periods: dict[date, _Period] = {}
        for row in rows:
            day = datetime.fromtimestamp(row["hour"], tz).date()
            periods.setdefault(period_of(day), _Period()).add(
                day, row["count"], row["total"], row["min"], row["max"]
            )
        return periods


_FORGET_RECOMPUTED_HOURS = f"""
    DELETE FROM hourly
    WHERE point_id IN {ALL_POINTS} AND hour >= :lo AND hour < :hi
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

    def figures(self) -> dict[str, Any]:
        """What every aggregate says of its period (``_Aggregate``'s figures)."""
        return {"hours": self.hours, "count": self.count, "mean": self.mean, "min": self.min,
                "max": self.max, "sum_of_means": self.sum_of_means}


def _same(day: date) -> date:
    return day


def _month_of(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)
