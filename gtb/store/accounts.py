"""Accounts of the web panel, their roles, and the API tokens of scripts.

Changing a password or disabling an account ends the account's sessions
(``gtb.store.sessions``) in the same transaction."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from gtb.store.database import Room, epoch, from_row, new_id, require_text, utc
from gtb.store.errors import ConflictError, NotFoundError
from gtb.store.sessions import end_user_sessions


class UserRole(StrEnum):
    """What a person may do in the panel (not to be confused with a point's role)."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


@dataclass(frozen=True)
class User:
    """A panel account; the store keeps the hash it is given and never hashes itself."""

    name: str
    password_hash: str = field(repr=False)
    role: UserRole
    created_at: datetime
    disabled: bool


TOKEN_DAYS = 365
"""How long a new API token works unless asked otherwise."""
TOKEN_DAYS_MAX = 5 * 365
"""The longest a new token may work (``gtb users token --days``): a script kept longer gets
a new one."""
LAST_USE_STEP = 60
"""Seconds between two writes of a token's last use."""

_TOKEN_COLUMNS = "id, user, label, created_at, expires_at, revoked_at, last_used_at"
"""What the store tells of a token: everything but its hash."""


class TokenState(StrEnum):
    """Whether a token still opens the API (its account may still be disabled)."""

    LIVE = "live"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class ApiToken:
    """An API token of a script, as an admin sees it: never its hash."""

    id: int
    user: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    """None: made before tokens had an expiry (schema step 12); it never expires."""
    revoked_at: datetime | None
    last_used_at: datetime | None

    def state(self, at: datetime) -> TokenState:
        if self.revoked_at is not None:
            return TokenState.REVOKED
        if self.expires_at is not None and self.expires_at <= at:
            return TokenState.EXPIRED
        return TokenState.LIVE


class Accounts(Room):
    """Panel accounts and the API tokens of scripts (their hashes only)."""

    def add_user(
        self, name: str, password_hash: str, role: UserRole | str, *, at: datetime
    ) -> User:
        """Create an account. Names are unique regardless of (ASCII) case."""
        require_text(name, "user name")
        require_text(password_hash, "password hash")
        try:
            checked = UserRole(role)
        except ValueError:
            known = ", ".join(r.value for r in UserRole)
            raise ValueError(f"user {name!r}: role {role!r} is not one of {known}") from None
        ts = epoch(at, "user creation time")
        with self._db.write() as conn:
            if self._user_row(conn, name) is not None:
                raise ConflictError(f"user {name!r} already exists")
            conn.execute(
                "INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                (name, password_hash, checked.value, ts),
            )
        return User(name, password_hash, checked, utc(ts), disabled=False)

    def user(self, name: str) -> User | None:
        row = self._user_row(self._db.conn(), name)
        return None if row is None else from_row(User, row, role=UserRole, disabled=bool)

    def users(self) -> list[User]:
        rows = self._db.conn().execute("SELECT * FROM users ORDER BY name")
        return [from_row(User, row, role=UserRole, disabled=bool) for row in rows]

    def set_password_hash(self, name: str, password_hash: str, *, at: datetime) -> None:
        """A new password; every session of the account ends at ``at``, in the same
        transaction (whoever changes it: the command line, an administrator's page)."""
        require_text(password_hash, "password hash")
        self._update_user(name, "password_hash", password_hash, at)

    def set_disabled(self, name: str, disabled: bool, *, at: datetime) -> None:
        """Disable or enable the account; its sessions end at ``at`` either way, in the
        same transaction."""
        self._update_user(name, "disabled", int(disabled), at)

    def _update_user(self, name: str, column: str, value: object, at: datetime) -> None:
        ts = epoch(at, "account change time")
        with self._db.write() as conn:
            changed = conn.execute(
                f"UPDATE users SET {column} = ? WHERE name = ?", (value, name)
            ).rowcount
            if changed == 0:
                raise NotFoundError(f"no user {name!r}")
            end_user_sessions(conn, name, ts)

    def add_token(self, user: str, token_hash: str, label: str, *, at: datetime,
                  expires_at: datetime) -> int:
        """Record an API token of ``user`` (only its hash) that works until ``expires_at``;
        returns its id. Every new token expires: a token lost in a script's folder should
        not open the panel for ever."""
        require_text(token_hash, "token hash")
        require_text(label, "token label")
        ts = epoch(at, "token creation time")
        expires = epoch(expires_at, "token expiry")
        if expires <= ts:
            raise ValueError(f"token of {user!r}: it would expire ({expires_at.isoformat()}) "
                             f"before it is made ({at.isoformat()})")
        with self._db.write() as conn:
            if self._user_row(conn, user) is None:
                raise NotFoundError(f"no user {user!r}")
            cursor = conn.execute(
                "INSERT INTO api_tokens (user, token_hash, label, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)", (user, token_hash, label, ts, expires))
            return new_id(cursor)

    def tokens(self) -> list[ApiToken]:
        """Every API token, live or not, by account then in the order they were made."""
        rows = self._db.conn().execute(
            f"SELECT {_TOKEN_COLUMNS} FROM api_tokens ORDER BY user, id")
        return [from_row(ApiToken, row) for row in rows]

    def token(self, token_id: int) -> ApiToken | None:
        """The token of this id, live or not; None for an id no token has (one too large
        for SQLite included: it comes from a person's URL)."""
        try:
            row = self._db.conn().execute(
                f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
        except OverflowError:
            return None
        return None if row is None else from_row(ApiToken, row)

    def token_user(self, token_hash: str, *, at: datetime) -> User | None:
        """The enabled user whose token has this hash, when that token is neither revoked
        nor expired at ``at``; else None. ``at`` becomes the token's last use, written at
        most once a minute (``LAST_USE_STEP``): a script that calls every few seconds does
        not make a write of each call."""
        ts = epoch(at, "time of use")
        conn = self._db.conn()
        found = conn.execute(
            "SELECT t.id, t.user, t.last_used_at FROM api_tokens AS t "
            "JOIN users AS u ON u.name = t.user WHERE t.token_hash = ? AND "
            "t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?) AND "
            "u.disabled = 0", (token_hash, ts)).fetchone()
        if found is None:
            return None
        if found["last_used_at"] is None or ts - found["last_used_at"] >= LAST_USE_STEP:
            with self._db.write() as writing:
                writing.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?",
                                (ts, found["id"]))
        return self.user(found["user"])

    def revoke_token(self, token_id: int, *, at: datetime) -> None:
        ts = epoch(at, "revocation time")
        with self._db.write() as conn:
            if conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND "
                            "revoked_at IS NULL", (ts, token_id)).rowcount == 0:
                raise NotFoundError(f"no live API token {token_id}")

    @staticmethod
    def _user_row(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM users WHERE name = ?", (name,)
        ).fetchone()
        return row
