"""The panel's sign-in sessions, and the failed sign-ins that lock an account or an address.

A session is a row: the browser's cookie carries only its random id, the store keeps the
id's hash, so a copy of the file does not sign anyone in. The server ends a session by
setting ``ended_at`` (sign-out, a password changed, an account disabled, "sign out
everywhere"); a cookie whose row is ended, past its lifetime or idle too long is worth
nothing. Each row carries its own limits (``expires_at``, ``idle_s``), set when it starts,
so reading it needs no configuration.

Failed sign-ins are counted here rather than in the panel's memory so that the limits hold
across the panel's threads, across processes and across a restart.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from gtb.store.database import Room, epoch, from_row, new_id, require_text, utc

SEEN_EVERY = timedelta(minutes=1)
"""A session's ``last_seen_at`` moves at most this often: no write per request."""


@dataclass(frozen=True)
class Session:
    """A person signed in from one browser."""

    id: int
    user: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    """The end of its lifetime, whatever the use."""
    idle_s: int
    """Seconds without a request after which it ends."""
    ended_at: datetime | None
    address: str
    """The client's address when it signed in, for an administrator's eyes."""
    user_agent: str

    def live(self, at: datetime) -> bool:
        return (self.ended_at is None and at < self.expires_at
                and at < self.last_seen_at + timedelta(seconds=self.idle_s))


_LIVE = "ended_at IS NULL AND expires_at > :at AND last_seen_at + idle_s > :at"
_COLUMNS = "id, user, created_at, last_seen_at, expires_at, idle_s, ended_at, address, user_agent"
"""A session's columns but its id's hash, which stays in the store."""


class Sessions(Room):
    """Sign-in sessions of the panel (the hashes of their ids only)."""

    def start(self, user: str, id_hash: str, *, at: datetime, lifetime: timedelta,
              idle: timedelta, address: str, user_agent: str) -> Session:
        """A new session of ``user``, whose cookie id hashes to ``id_hash``."""
        require_text(id_hash, "session id hash")
        ts = epoch(at, "session start")
        expires = ts + int(lifetime.total_seconds())
        idle_s = int(idle.total_seconds())
        if expires <= ts or idle_s <= 0:
            raise ValueError(f"a session lasts a while: lifetime {lifetime}, idle {idle}")
        with self._db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO sessions (id_hash, user, created_at, last_seen_at, expires_at, "
                "idle_s, address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (id_hash, user, ts, ts, expires, idle_s, address, user_agent))
            row = conn.execute(f"SELECT {_COLUMNS} FROM sessions WHERE id = ?",
                               (new_id(cursor),)).fetchone()
        return from_row(Session, row)

    def live(self, id_hash: str, *, at: datetime) -> Session | None:
        """The live session whose id hashes to ``id_hash``, of an enabled account; else None
        (unknown, ended, expired, idle too long)."""
        row = self._db.conn().execute(
            f"SELECT {_COLUMNS} FROM sessions WHERE id_hash = :hash AND {_LIVE} AND user IN "
            "(SELECT name FROM users WHERE disabled = 0)",
            {"hash": id_hash, "at": epoch(at, "time")}).fetchone()
        return None if row is None else from_row(Session, row)

    def seen(self, session: Session, *, at: datetime) -> None:
        """The session was used at ``at``: its idle time starts again. Written at most once
        per ``SEEN_EVERY``."""
        if at - session.last_seen_at < SEEN_EVERY:
            return
        with self._db.write() as conn:
            conn.execute("UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?) WHERE id = ?",
                         (epoch(at, "time"), session.id))

    def end(self, id_hash: str, *, at: datetime) -> bool:
        """End the session (sign-out); False if it was not live."""
        with self._db.write() as conn:
            return conn.execute(
                f"UPDATE sessions SET ended_at = :at WHERE id_hash = :hash AND {_LIVE}",
                {"hash": id_hash, "at": epoch(at, "sign-out time")}).rowcount > 0

    def end_sessions(self, user: str, *, at: datetime) -> int:
        """Sign ``user`` out everywhere; returns how many sessions ended."""
        with self._db.write() as conn:
            return end_user_sessions(conn, user, epoch(at, "sign-out time"))

    def of_user(self, user: str, *, at: datetime) -> list[Session]:
        """``user``'s live sessions at ``at``, the most recent first (for an administrator)."""
        rows = self._db.conn().execute(
            f"SELECT {_COLUMNS} FROM sessions WHERE user = :user AND {_LIVE} "
            "ORDER BY created_at DESC, id DESC", {"user": user, "at": epoch(at, "time")})
        return [from_row(Session, row) for row in rows]


def end_user_sessions(conn: sqlite3.Connection, user: str, ts: int) -> int:
    """End every live session of ``user`` in the caller's transaction (an account changed)."""
    return conn.execute("UPDATE sessions SET ended_at = ? WHERE user = ? AND ended_at IS NULL",
                        (ts, user)).rowcount



class Scope(StrEnum):
    """What a run of failed sign-ins locks."""

    ACCOUNT = "account"
    ADDRESS = "address"


@dataclass(frozen=True)
class SignInLimits:
    """How many failed sign-ins within ``window`` lock an account (whatever the address)
    or an address (whatever the account), and for how long."""

    per_account: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)
    lock: timedelta = timedelta(minutes=15)

    def most(self, scope: Scope) -> int:
        return self.per_account if scope is Scope.ACCOUNT else self.per_address


@dataclass(frozen=True)
class SessionRules:
    """How long a panel's sign-in lasts, and how many failures lock it."""

    lifetime: timedelta = timedelta(hours=12)
    """From the sign-in, whatever the use."""
    idle: timedelta = timedelta(hours=2)
    """Without a request: the session ends."""
    limits: SignInLimits = field(default_factory=SignInLimits)

    def at_speed(self, speed: float) -> SessionRules:
        """The session's durations in real time on a clock ``speed`` times faster (the
        demo's): a 2 h idle time stays 2 h for the person trying the panel. The sign-in
        limits stay on the panel's clock, the one its pages show: « Réessayez après »
        names a time of that clock, and a lock of the demo passes in seconds."""
        return replace(self, lifetime=self.lifetime * speed, idle=self.idle * speed)


@dataclass(frozen=True)
class Lock:
    """A sign-in lock: nobody signs in to this account, or from this address, until
    ``until``."""

    scope: Scope
    key: str
    since: datetime
    until: datetime


class SignIns(Room):
    """Failed sign-ins and the locks they cause. Successful sign-ins are never counted."""

    def locked(self, name: str, address: str, *, at: datetime) -> Lock | None:
        """The lock in force on the account ``name`` or on ``address``, the later ending
        first; None if both may try."""
        row = self._db.conn().execute(
            "SELECT scope, key, since, until FROM sign_in_locks WHERE until > ? AND "
            "((scope = 'account' AND key = ?) OR (scope = 'address' AND key = ?)) "
            "ORDER BY until DESC LIMIT 1",
            (epoch(at, "time"), name, address)).fetchone()
        return None if row is None else from_row(Lock, row, scope=Scope)

    def failed(self, name: str, address: str, limits: SignInLimits, *,
               at: datetime) -> list[Lock]:
        """Count a failed sign-in on the account ``name`` (as typed: an unknown name counts
        like a known one) from ``address``; returns the locks it starts. Failures before
        a lock started do not count towards the next one."""
        ts = epoch(at, "time")
        started = []
        with self._db.write() as conn:
            conn.execute("DELETE FROM sign_in_failures WHERE at <= ?",
                         (ts - int(limits.window.total_seconds()),))
            conn.execute("DELETE FROM sign_in_locks WHERE until <= ?",
                         (ts - int(max(limits.window, limits.lock).total_seconds()),))
            conn.execute("INSERT INTO sign_in_failures (at, name, address) VALUES (?, ?, ?)",
                         (ts, name, address))
            for scope, key in ((Scope.ACCOUNT, name), (Scope.ADDRESS, address)):
                column = "name" if scope is Scope.ACCOUNT else "address"
                count = conn.execute(
                    f"SELECT COUNT(*) FROM sign_in_failures WHERE {column} = :key AND at > "
                    "COALESCE((SELECT MAX(since) FROM sign_in_locks WHERE scope = :scope "
                    "AND key = :key), -1)", {"key": key, "scope": scope.value}).fetchone()[0]
                if count >= limits.most(scope):
                    until = ts + int(limits.lock.total_seconds())
                    conn.execute("INSERT INTO sign_in_locks (scope, key, since, until) "
                                 "VALUES (?, ?, ?, ?)", (scope.value, key, ts, until))
                    started.append(Lock(scope, key, utc(ts), utc(until)))
        return started

    def succeeded(self, name: str) -> None:
        """A successful sign-in on ``name``: its earlier failures are forgiven (the
        address's are not)."""
        with self._db.write() as conn:
            conn.execute("DELETE FROM sign_in_failures WHERE name = ?", (name,))

