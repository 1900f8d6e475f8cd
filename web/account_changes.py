"""Changes to accounts and API tokens, each with its line in the audit log.

The admin page (``web/admin.py``) and ``gtb users`` make them through here, so they refuse
the same things, in the same words, and write the same lines; only the actor differs (the
admin's name and « depuis le panneau », or « gtb users » and « ligne de commande »).
A refused change raises ``ActionError`` (French and English) and changes nothing.

Disabling an account or changing its password ends its sessions: the store does it in the
same transaction (``Accounts.set_disabled``, ``Accounts.set_password_hash``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from gtb.store import Store
from gtb.store.accounts import TOKEN_DAYS, TOKEN_DAYS_MAX, ApiToken, User, UserRole
from gtb.store.errors import ConflictError
from gtb.texts import Reason, of_name
from web.auth import MIN_PASSWORD, hash_password, hash_token, new_token
from web.panel import ActionError, NotFound

LABEL_MAX = 120
"""Characters of a token's label (what it is for)."""


@dataclass(frozen=True)
class Actor:
    """Who makes a change: the audit line's actor and reason, and the site when known."""

    name: str
    why: Reason
    site: str | None = None
    signed_in: bool = False
    """The actor is the panel account of that name (the command line is not an account)."""

    @classmethod
    def command_line(cls) -> Actor:
        return cls("gtb users", Reason.of("cli.command_line"))

    @classmethod
    def panel_account(cls, name: str, site: str) -> Actor:
        return cls(name, Reason.of("panel.from_here"), site, signed_in=True)


def add_user(store: Store, name: str, password: str, role: UserRole | str, *, by: Actor,
             at: datetime) -> User:
    """A new account with this password (hashed here) and role."""
    try:
        user = store.accounts.add_user(name, _password_hash(password), role, at=at)
    except ConflictError:
        raise ActionError(f"Le compte {name} existe déjà.", f"Account {name} already exists.",
                          409) from None
    except ValueError as exc:  # an empty name, an unknown role
        raise ActionError(f"Compte refusé : {exc}", f"Account refused: {exc}") from None
    named = Reason.of(f"role.{user.role.value}")
    _record(store, at, "user_added", by, f"Compte {user.name} créé ({named.fr})",
            f"Account {user.name} created ({named.en})",
            {"user": user.name, "role": user.role.value})
    return user


def set_disabled(store: Store, name: str, disabled: bool, *, by: Actor, at: datetime) -> User:
    """Disable an account (it can no longer sign in, its tokens stop working) or enable it
    again. A signed-in admin does not disable their own account: they would be signed out
    with the change half-understood, and perhaps nobody left to undo it."""
    user = _user(store, name)
    if by.signed_in and disabled and user.name == by.name:
        raise ActionError("Vous ne pouvez pas désactiver votre propre compte.",
                          "You cannot disable your own account.", 409)
    if user.disabled == disabled:
        state = ("déjà désactivé", "already disabled") if disabled else ("déjà actif",
                                                                          "already enabled")
        raise ActionError(f"Le compte {user.name} est {state[0]}.",
                          f"Account {user.name} is {state[1]}.", 409)
    store.accounts.set_disabled(user.name, disabled, at=at)
    kind, fr, en = (("user_disabled", "désactivé", "disabled") if disabled
                    else ("user_enabled", "réactivé", "enabled"))
    _record(store, at, kind, by, f"Compte {user.name} {fr}", f"Account {user.name} {en}",
            {"user": user.name})
    return replace(user, disabled=disabled)


def change_password(store: Store, name: str, password: str, *, by: Actor,
                    at: datetime) -> None:
    user = _user(store, name)
    store.accounts.set_password_hash(user.name, _password_hash(password), at=at)
    _record(store, at, "password_changed", by, f"Mot de passe {of_name(user.name)} changé",
            f"Password of {user.name} changed", {"user": user.name})


def end_sessions(store: Store, name: str, *, by: Actor, at: datetime) -> int:
    """Sign the account out everywhere (a phone lost, a session left open on a shared
    computer): every live session ends at once; its tokens are untouched. Returns how
    many ended."""
    user = _user(store, name)
    ended = store.sessions.end_sessions(user.name, at=at)
    _record(store, at, "sessions_ended", by,
            f"{user.name} déconnecté partout ({ended} session(s) fermée(s))",
            f"{user.name} signed out everywhere ({ended} session(s) ended)",
            {"user": user.name, "sessions": ended})
    return ended


def add_token(store: Store, name: str, label: str, *, days: int = TOKEN_DAYS, by: Actor,
              at: datetime) -> tuple[ApiToken, str]:
    """A new API token of the account, working ``days`` days; returns it and its text,
    which the store does not keep (only its hash): show it once."""
    user = _user(store, name)
    label = label.strip()
    if not label or len(label) > LABEL_MAX:
        raise ActionError(f"Le libellé du jeton dit à quoi il sert, en 1 à {LABEL_MAX} "
                          "caractères.",
                          f"The token's label says what it is for, in 1 to {LABEL_MAX} "
                          "characters.")
    if not 1 <= days <= TOKEN_DAYS_MAX:
        raise ActionError(f"Un jeton vaut de 1 à {TOKEN_DAYS_MAX} jours, pas {days}.",
                          f"A token works for 1 to {TOKEN_DAYS_MAX} days, not {days}.")
    text, expires_at = new_token(), at + timedelta(days=days)
    token_id = store.accounts.add_token(user.name, hash_token(text), label, at=at,
                                        expires_at=expires_at)
    token = store.accounts.token(token_id)
    assert token is not None, "a token just made is in the store"
    _record(store, at, "token_added", by,
            f"Jeton d'API n° {token.id} « {label} » créé pour {user.name}, valable {days} jours",
            f"API token {token.id} '{label}' made for {user.name}, valid for {days} days",
            {"user": user.name, "token": token.id, "expires_at": expires_at.isoformat()})
    return token, text


def revoke_token(store: Store, token_id: int, *, by: Actor, at: datetime) -> ApiToken:
    """The token stops working at once; it stays listed, revoked."""
    token = store.accounts.token(token_id)
    if token is None:
        raise NotFound(f"Jeton d'API inconnu : n° {token_id}", f"Unknown API token: {token_id}")
    if token.revoked_at is not None:
        raise ActionError(f"Le jeton d'API n° {token.id} est déjà révoqué.",
                          f"API token {token.id} is already revoked.", 409)
    store.accounts.revoke_token(token.id, at=at)
    _record(store, at, "token_revoked", by,
            f"Jeton d'API n° {token.id} « {token.label} » {of_name(token.user)} révoqué",
            f"API token {token.id} '{token.label}' of {token.user} revoked",
            {"user": token.user, "token": token.id})
    return replace(token, revoked_at=at)


def _user(store: Store, name: str) -> User:
    user = store.accounts.user(name)
    if user is None:
        raise NotFound(f"Compte inconnu : {name}", f"Unknown account: {name}")
    return user


def check_password(password: str) -> None:
    """Refuse a password too short to be one."""
    if len(password) < MIN_PASSWORD:
        raise ActionError(f"Un mot de passe a au moins {MIN_PASSWORD} caractères.",
                          f"A password has at least {MIN_PASSWORD} characters.")


def _password_hash(password: str) -> str:
    check_password(password)
    return hash_password(password)


def _record(store: Store, at: datetime, kind: str, by: Actor, message: str, message_en: str,
            data: dict[str, Any]) -> None:
    store.audit.record(at, kind, by.name, message, reason=by.why.fr, reason_en=by.why.en,
                       site=by.site, data=data, message_en=message_en)
