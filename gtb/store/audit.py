"""The audit log and the alarms: what people and the engine did and why, and what is
wrong that a person should know of."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gtb.model.points import Severity
from gtb.store.database import Room, epoch, from_row, new_id, require_text, to_json
from gtb.store.errors import ConflictError, NotFoundError
from gtb.texts import Reason


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


class AuditLog(Room):
    """The audit log: who did what, when and why, in French and English."""

    def record(
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
        ts = epoch(at, "event time")
        require_text(kind, "event kind")
        require_text(actor, "event actor")
        require_text(message, "event message")
        payload = to_json({} if data is None else data, "event data")
        with self._db.write() as conn:
            return insert_event(conn, (ts, kind, actor, site, building, zone, point, message,
                                        reason, payload, message_en, reason_en))

    def log(self, at: datetime, kind: str, actor: str, message: Reason,
            reason: Reason | None = None, *, site: str | None = None,
            building: str | None = None, zone: str | None = None, point: str | None = None,
            data: Mapping[str, Any] | None = None) -> int:
        """Append a line said with reason codes (``gtb.texts``): kept in French and English
        as they read now, so that the log says what was said then, and the reason's code
        in ``data["reason_code"]`` (the archive's tag for it: a small vocabulary, which
        stores that keep no text, VictoriaMetrics, keep)."""
        if reason is not None:
            data = {**(data or {}), "reason_code": reason.code}
        return self.record(at, kind, actor, message.fr,
                           reason=None if reason is None else reason.fr, site=site,
                           building=building, zone=zone, point=point, data=data,
                           message_en=message.en,
                           reason_en=None if reason is None else reason.en)

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
            params.append(epoch(since, "since"))
        if until is not None:
            where.append("ts < ?")
            params.append(epoch(until, "until"))
        keys = {"kind": kind, "actor": actor, "building": building, "zone": zone, "point": point}
        for column, value in keys.items():
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._db.conn().execute(
            f"SELECT * FROM events {clause} ORDER BY ts DESC, id DESC LIMIT ?", (*params, limit)
        )
        return [from_row(Event, row, data=json.loads) for row in rows]

    def values(self, column: str) -> list[str]:
        """The kinds or the actors found in the audit log, sorted: what the panel's filters
        offer."""
        if column not in ("kind", "actor"):
            raise ValueError(f"no filter on the audit log's {column!r}")
        rows = self._db.conn().execute(f"SELECT DISTINCT {column} FROM events ORDER BY 1")
        return [row[0] for row in rows]

    def first(self, kind: str, message_prefix: str = "") -> Event | None:
        """The oldest audit line of ``kind`` whose message starts with ``message_prefix``."""
        row = self._db.conn().execute(
            "SELECT * FROM events WHERE kind = ? AND substr(message, 1, ?) = ?"
            " ORDER BY ts, id LIMIT 1", (kind, len(message_prefix), message_prefix)).fetchone()
        return None if row is None else from_row(Event, row, data=json.loads)


class Alarms(Room):
    """Alarms, raised once per condition and kept until it clears, across restarts."""

    def raise_(
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
        require_text(key, "alarm key")
        require_text(message, "alarm message")
        level = Severity(severity)
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT * FROM alarms WHERE key = ? AND cleared_at IS NULL", (key,)
            ).fetchone()
            if row is not None:
                return _alarm_of(row), False
            cursor = conn.execute(
                "INSERT INTO alarms (key, severity, message, building, zone, point, raised_at,"
                " message_en) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, level, message, building, zone, point, epoch(at, "alarm time"),
                 message_en),
            )
            return self._alarm(conn, new_id(cursor)), True

    def clear(self, key: str, *, at: datetime) -> Alarm | None:
        """Clear the active alarm ``key``; returns it cleared, or None if none was active."""
        with self._db.write() as conn:
            alarm_id = _active_id(conn, key)
            if alarm_id is None:
                return None
            conn.execute("UPDATE alarms SET cleared_at = ? WHERE id = ?",
                         (epoch(at, "alarm clearing time"), alarm_id))
            return self._alarm(conn, alarm_id)

    def update(self, key: str, *, message: str, message_en: str | None = None
               ) -> Alarm | None:
        """Say the active alarm ``key`` anew, as its condition evolves (a backlog that
        grows): the same alarm, raised at the same time, with its figures kept current; no
        new alarm and no audit line. Returns it, or None if none is active."""
        require_text(message, "alarm message")
        with self._db.write() as conn:
            alarm_id = _active_id(conn, key)
            if alarm_id is None:
                return None
            conn.execute("UPDATE alarms SET message = ?, message_en = ? WHERE id = ?",
                         (message, message_en, alarm_id))
            return self._alarm(conn, alarm_id)

    def acknowledge(self, alarm_id: int, *, at: datetime, who: str) -> Alarm:
        """A person has seen the alarm; it stays active until its condition clears."""
        require_text(who, "acknowledged by")
        with self._db.write() as conn:
            current = self._alarm(conn, alarm_id)
            if current.acknowledged_at is not None:
                raise ConflictError(
                    f"alarm {alarm_id} was already acknowledged by {current.acknowledged_by}"
                )
            conn.execute(
                "UPDATE alarms SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ?",
                (epoch(at, "acknowledgement time"), who, alarm_id),
            )
            return self._alarm(conn, alarm_id)

    def active(self) -> dict[str, Alarm]:
        """Every alarm not cleared yet, by key."""
        rows = self._db.conn().execute(
            "SELECT * FROM alarms WHERE cleared_at IS NULL ORDER BY raised_at, id"
        )
        return {alarm.key: alarm for alarm in map(_alarm_of, rows)}

    def history(self, *, limit: int = 100) -> list[Alarm]:
        """Alarm history, newest raised first, cleared ones included."""
        rows = self._db.conn().execute(
            "SELECT * FROM alarms ORDER BY raised_at DESC, id DESC LIMIT ?", (limit,)
        )
        return [_alarm_of(row) for row in rows]

    @staticmethod
    def _alarm(conn: sqlite3.Connection, alarm_id: int) -> Alarm:
        row = conn.execute("SELECT * FROM alarms WHERE id = ?", (alarm_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no alarm with id {alarm_id}")
        return _alarm_of(row)


def _active_id(conn: sqlite3.Connection, key: str) -> int | None:
    """The id of the active alarm ``key``, if one is."""
    row = conn.execute("SELECT id FROM alarms WHERE key = ? AND cleared_at IS NULL",
                       (key,)).fetchone()
    return None if row is None else int(row["id"])


def insert_event(conn: sqlite3.Connection, row: tuple[Any, ...]) -> int:
    """One line of the audit log, in the caller's transaction: ``(ts, kind, actor, site,
    building, zone, point, message, reason, data, message_en, reason_en)``."""
    cursor = conn.execute(
        "INSERT INTO events (ts, kind, actor, site, building, zone, point, message, reason, data,"
        " message_en, reason_en) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        row,
    )
    return new_id(cursor)


def _alarm_of(row: sqlite3.Row) -> Alarm:
    return from_row(Alarm, row, severity=Severity)
