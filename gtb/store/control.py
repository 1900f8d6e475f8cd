"""What steers the controllers besides the site file: people's overrides, the weekly
programmes saved in the panel, and what each zone has learned."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from gtb.model.calendar import Programme
from gtb.store.database import Room, epoch, from_row, new_id, require_text, to_json, utc
from gtb.store.errors import ConflictError, NotFoundError
from gtb.texts import Reason


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
class ProgrammeVersion:
    """One saved version of a zone's weekly programme, kept so a change can be traced."""

    zone: str
    version: int
    programme: Programme | None
    """None when this program cannot read it: see ``errors``."""
    saved_at: datetime
    saved_by: str
    errors: int = 0
    """Why ``programme`` is None: the errors found reading a version written by another
    program (or by hand). Whoever reads it keeps the site file's programme instead."""


@dataclass(frozen=True)
class ZoneLearning:
    """A zone's learned models (as plain data) and whether learning is switched on."""

    zone: str
    enabled: bool
    model: Mapping[str, Any]
    fitted_at: datetime | None
    changed_at: datetime
    changed_by: str


class Overrides(Room):
    """People's values for a point over a period; they beat the controllers until they end.
    One at a time per point: a new one replaces the one in force."""

    def add(
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
        """Record a manual value for [start, until); ``at`` is when it was asked for.

        One override per point: a new one replaces whatever is in force or ahead on the
        point, which ends (in the same transaction) when the new one takes over, at its
        start or when it was asked for if later, cancelled by the new one's author
        « remplacée par la dérogation n° N ». Ending it rather than stacking the new one on
        it keeps it from coming back in force when the new one is cancelled or expires."""
        require_text(point, "override point")
        require_text(who, "override author")
        require_text(why, "override reason")
        if not math.isfinite(value):
            raise ValueError(f"override of {point}: {value} is not a finite number")
        lo = epoch(start, "override start")
        hi = epoch(until, "override end")
        if hi <= lo:
            raise ValueError(
                f"override of {point}: end {until.isoformat()} is not after start "
                f"{start.isoformat()}"
            )
        created = epoch(at, "override creation time")
        with self._db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO overrides (point, value, start, until, who, why, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (point, value, lo, hi, who, why, created),
            )
            override_id = new_id(cursor)
            conn.execute(
                "UPDATE overrides SET cancelled_at = :end, cancelled_by = :who,"
                " cancel_reason = :why WHERE point = :point AND id != :id"
                " AND cancelled_at IS NULL AND until > :end",
                {"end": max(lo, created), "who": who, "point": point, "id": override_id,
                 "why": Reason.of("override.replaced", id=override_id).fr},
            )
            return override_id

    def active(self, at: datetime) -> dict[str, Override]:
        """The override in force on each point at ``at``. An override that a newer one of
        its point had replaced by then (created and started) never comes back, even in a
        file written before ``add`` ended the replaced ones."""
        ts = epoch(at)
        rows = self._db.conn().execute(
            "SELECT * FROM overrides AS o WHERE start <= :ts AND until > :ts"
            " AND (cancelled_at IS NULL OR cancelled_at > :ts)"
            " AND NOT EXISTS (SELECT 1 FROM overrides AS n WHERE n.point = o.point"
            " AND (n.created_at, n.id) > (o.created_at, o.id)"
            " AND n.created_at <= :ts AND n.start <= :ts)",
            {"ts": ts},
        )
        return {o.point: o for o in (from_row(Override, row) for row in rows)}

    def cancel(self, override_id: int, *, at: datetime, who: str, why: str) -> Override:
        """End an override early; returns it as cancelled. It stays in the history."""
        ts = epoch(at, "cancellation time")
        require_text(who, "cancelled by")
        require_text(why, "cancellation reason")
        with self._db.write() as conn:
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

    def get(self, override_id: int) -> Override:
        """One override by id, whatever its state; NotFoundError if there is none."""
        return self._override(self._db.conn(), override_id)

    def history(self, point: str | None = None, *, limit: int = 100) -> list[Override]:
        """Override history, newest created first, cancelled and expired ones included."""
        clause, params = ("WHERE point = ?", (point,)) if point is not None else ("", ())
        rows = self._db.conn().execute(
            f"SELECT * FROM overrides {clause} ORDER BY created_at DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [from_row(Override, row) for row in rows]

    @staticmethod
    def _override(conn: sqlite3.Connection, override_id: int) -> Override:
        row = conn.execute("SELECT * FROM overrides WHERE id = ?", (override_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no override with id {override_id}")
        return from_row(Override, row)


class Programmes(Room):
    """Zones' weekly programmes as saved in the panel, every version kept."""

    def save(self, zone: str, programme: Programme, *, at: datetime, who: str) -> int:
        """Store a new version of a zone's weekly programme; returns its version number."""
        require_text(zone, "programme zone")
        require_text(who, "programme author")
        if not isinstance(programme, Programme):
            raise TypeError(f"programme of {zone} must be a Programme, not "
                            f"{type(programme).__name__}")
        payload = programme.model_dump_json(exclude_defaults=True)
        ts = epoch(at, "programme save time")
        with self._db.write() as conn:
            (latest,) = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM schedules WHERE zone = ?", (zone,)
            ).fetchone()
            conn.execute(
                "INSERT INTO schedules (zone, version, programme, saved_at, saved_by)"
                " VALUES (?, ?, ?, ?, ?)",
                (zone, latest + 1, payload, ts, who),
            )
        return int(latest) + 1

    def current(self, zone: str) -> ProgrammeVersion | None:
        """The zone's latest saved version, or None if it has never been saved."""
        history = self.history(zone, limit=1)
        return history[0] if history else None

    def history(self, zone: str, *, limit: int = 100) -> list[ProgrammeVersion]:
        """Saved versions of a zone's programme, newest first."""
        rows = self._db.conn().execute(
            "SELECT * FROM schedules WHERE zone = ? ORDER BY version DESC LIMIT ?", (zone, limit)
        )
        return [_version(row) for row in rows]

    def latest(self) -> dict[str, ProgrammeVersion]:
        """The latest saved version of each zone's programme (zones never saved are absent)."""
        rows = self._db.conn().execute(
            "SELECT * FROM schedules AS s WHERE version ="
            " (SELECT MAX(version) FROM schedules WHERE zone = s.zone) ORDER BY zone"
        )
        return {row["zone"]: _version(row) for row in rows}

    def revision(self) -> int:
        """A number that grows at every programme saved: reload when it moves."""
        # Versions are never deleted, so the largest rowid only grows.
        row = self._db.conn().execute("SELECT COALESCE(MAX(rowid), 0) FROM schedules").fetchone()
        return int(row[0])


class Learning(Room):
    """What each zone has learned, and whether it may learn."""

    def of(self, zone: str) -> ZoneLearning | None:
        """What the zone has learned, and whether it may; None for a zone never seen."""
        row = self._db.conn().execute(
            "SELECT * FROM zone_learning WHERE zone = ?", (zone,)
        ).fetchone()
        if row is None:
            return None
        return from_row(ZoneLearning, row, enabled=bool, model=json.loads)

    def switches(self) -> dict[str, bool]:
        """Whether each zone may learn; a zone not listed may (the default)."""
        rows = self._db.conn().execute("SELECT zone, enabled FROM zone_learning")
        return {row["zone"]: bool(row["enabled"]) for row in rows}

    def save(self, zone: str, model: Mapping[str, Any], *, at: datetime) -> None:
        """Keep what a nightly refit learned, so that a restart need not learn again."""
        payload = to_json(model, f"learned model of {zone}")
        ts = epoch(at, "fit time")
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO zone_learning (zone, model, fitted_at, changed_at, changed_by)"
                " VALUES (?, ?, ?, ?, 'engine') ON CONFLICT (zone) DO UPDATE"
                " SET model = excluded.model, fitted_at = excluded.fitted_at",
                (zone, payload, ts, ts),
            )

    def switch(self, zone: str, enabled: bool, *, at: datetime, who: str) -> None:
        """Switch a zone's learning on or off; off, it follows its programme."""
        require_text(who, "changed by")
        ts = epoch(at, "change time")
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO zone_learning (zone, enabled, changed_at, changed_by)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (zone) DO UPDATE"
                " SET enabled = excluded.enabled, changed_at = excluded.changed_at,"
                " changed_by = excluded.changed_by",
                (zone, int(enabled), ts, who),
            )


def _version(row: sqlite3.Row) -> ProgrammeVersion:
    try:
        programme, errors = Programme.model_validate_json(row["programme"]), 0
    except ValidationError as exc:
        programme, errors = None, exc.error_count()
    return ProgrammeVersion(row["zone"], row["version"], programme, utc(row["saved_at"]),
                            row["saved_by"], errors)
