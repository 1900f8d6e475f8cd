"""The agenda edited in the panel: events, closures, day exceptions and lighting orders.

An event "from 18:30 to 22:30 on 10 March" is wall-clock time of the site, not an
instant, so its times are kept as the site file writes them (ISO text, no offset); when
it was changed, and by whom, are instants like any other. Every change is audited in the
same transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import ValidationError

from gtb.model.calendar import AgendaEntry
from gtb.store.audit import insert_event
from gtb.store.database import Room, epoch, new_id, require_text, to_json, utc
from gtb.store.errors import NotFoundError
from gtb.texts import Reason, said


@dataclass(frozen=True)
class StoredAgendaEntry:
    """An agenda entry kept in the store (the panel's), with who made and last changed it."""

    id: int
    entry: AgendaEntry
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class Agenda(Room):
    """The panel's agenda entries: events, closures, day exceptions and lighting orders."""

    def add(
        self, entry: AgendaEntry | Mapping[str, Any], *, at: datetime, who: str
    ) -> int:
        """Keep a new agenda entry and audit it; returns its id."""
        checked = _validated(entry)
        ts = epoch(at, "agenda change time")
        require_text(who, "agenda author")
        with self._db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO agenda (kind, label, entry, lo, hi, revision, created_at,"
                " created_by, updated_at, updated_by) VALUES (?, ?, ?, ?, ?,"
                f" {_NEXT_REVISION}, ?, ?, ?, ?)",
                (*_agenda_columns(checked), ts, who, ts, who),
            )
            entry_id = new_id(cursor)
            _audit_agenda(conn, ts, who, "added", entry_id, checked)
        return entry_id

    def update(
        self, entry_id: int, entry: AgendaEntry | Mapping[str, Any], *, at: datetime, who: str
    ) -> StoredAgendaEntry:
        """Replace an entry with a new version and audit the change; returns it."""
        checked = _validated(entry)
        ts = epoch(at, "agenda change time")
        require_text(who, "agenda author")
        with self._db.write() as conn:
            before = self._entry(conn, entry_id)
            conn.execute(
                "UPDATE agenda SET kind = ?, label = ?, entry = ?, lo = ?, hi = ?,"
                f" revision = {_NEXT_REVISION}, updated_at = ?, updated_by = ? WHERE id = ?",
                (*_agenda_columns(checked), ts, who, entry_id),
            )
            _audit_agenda(conn, ts, who, "changed", entry_id, checked, before.entry)
            return self._entry(conn, entry_id)

    def delete(self, entry_id: int, *, at: datetime, who: str) -> None:
        """Take an entry out of the agenda; the audit log keeps what it was."""
        ts = epoch(at, "agenda change time")
        require_text(who, "agenda author")
        with self._db.write() as conn:
            before = self._entry(conn, entry_id)
            conn.execute(
                f"UPDATE agenda SET revision = {_NEXT_REVISION}, deleted_at = ?, deleted_by = ?"
                " WHERE id = ?",
                (ts, who, entry_id),
            )
            _audit_agenda(conn, ts, who, "removed", entry_id, before.entry)

    def get(self, entry_id: int) -> StoredAgendaEntry:
        """One entry by id; NotFoundError if there is none, or it was deleted."""
        return self._entry(self._db.conn(), entry_id)

    def entries(
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
        rows = self._db.conn().execute(
            f"SELECT {_AGENDA_FIELDS} FROM agenda WHERE {' AND '.join(where)} ORDER BY lo, id",
            params,
        )
        entries = [_stored_agenda(row) for row in rows]
        if zone is None:
            return entries
        building, _, zone_id = zone.partition(".")
        return [e for e in entries if e.entry.applies_to(building, zone_id)]

    def revision(self) -> int:
        """A number that grows at every change of the agenda: reload when it moves."""
        row = self._db.conn().execute("SELECT COALESCE(MAX(revision), 0) FROM agenda").fetchone()
        return int(row[0])

    @staticmethod
    def _entry(conn: sqlite3.Connection, entry_id: int) -> StoredAgendaEntry:
        row = conn.execute(
            f"SELECT {_AGENDA_FIELDS} FROM agenda WHERE id = ? AND deleted_at IS NULL",
            (entry_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no agenda entry with id {entry_id}")
        return _stored_agenda(row)


_AGENDA_FIELDS = "id, entry, created_at, created_by, updated_at, updated_by"
_NEXT_REVISION = "(SELECT COALESCE(MAX(revision), 0) + 1 FROM agenda)"


def _validated(value: AgendaEntry | Mapping[str, Any]) -> AgendaEntry:
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
        row["id"], AgendaEntry.model_validate_json(row["entry"]), utc(row["created_at"]),
        row["created_by"], utc(row["updated_at"]), row["updated_by"],
    )


def _audit_agenda(
    conn: sqlite3.Connection, ts: int, who: str, change: str, entry_id: int, entry: AgendaEntry,
    before: AgendaEntry | None = None,
) -> None:
    """The audit line of an agenda change, with the entry (and what it was) as data."""
    lo, hi = (entry.first_day, entry.last_day) if entry.kind == "day" else (entry.start, entry.end)
    where = said(", ".join(entry.scope)) if entry.scope else Reason.of("agenda.whole_site")
    reason = Reason.of(f"agenda.{entry.kind}", lo=str(lo), hi=str(hi), where=where)
    message = Reason.of(f"agenda.{change}", label=entry.label)
    data: dict[str, Any] = {"id": entry_id, "entry": entry.model_dump(mode="json")}
    if before is not None:
        data["before"] = before.model_dump(mode="json")
    insert_event(conn, (ts, "agenda", who, None, None, None, None, message.fr, reason.fr,
                        to_json(data, "agenda change"), message.en, reason.en))
