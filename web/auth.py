"""Accounts: sign-in with a hashed password (scrypt), roles, API tokens for scripts.

Sessions live in the store (``gtb.store.sessions``): the browser's signed cookie carries a
random session id (and Flask-WTF's CSRF token), the store its hash, its lifetime and idle
time. Signing out ends the row, so a copied cookie is worth nothing afterwards; so does a
password changed or an account disabled. Failed sign-ins, and only those, are counted per
account and per address: too many lock the sign-in for a while (429, with the time to try
again). The address is the client's (``web.proxies``).

Every sign-in, failed or not, every lock and every sign-out is a line of the audit log.
Roles: viewer (elected officials: look), operator (building managers: override, programmes,
lighting, alarms), admin (everything, accounts).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import SplitResult, urlsplit, urlunsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from gtb.store.accounts import User, UserRole
from gtb.store.sessions import Lock, Scope, SessionRules, SignInLimits
from gtb.texts import Reason
from web import i18n
from web.panel import may, panel

bp = Blueprint("auth", __name__)

EN: dict[str, str] = {
    "Trop d'échecs de connexion sur ce compte. Réessayez après {time}.":
        "Too many failed sign-ins on this account. Try again after {time}.",
    "Trop d'échecs de connexion depuis cette adresse. Réessayez après {time}.":
        "Too many failed sign-ins from this address. Try again after {time}.",
}
"""English of this blueprint's own texts (the shared ones are in web.i18n)."""

_F = TypeVar("_F", bound=Callable[..., Any])

MIN_PASSWORD = 10
NAME_MAX = 100
"""Characters of a typed name kept for the failure count and the audit line."""


class Account(UserMixin):
    """The signed-in person, as Flask-Login wants it. Its id is the session's id (None for
    a script's API token), so that Flask's cookie holds nothing else about the person."""

    def __init__(self, user: User, session_id: str | None = None) -> None:
        self.user = user
        self.session_id = session_id
        self.id = session_id
        self.name = user.name
        self.role = user.role

    def may(self, needed: UserRole | str) -> bool:
        return may(self.role, UserRole(needed))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    return generate_password_hash(password, method="scrypt")


def hash_token(token: str) -> str:
    """The stored form of an API token or a session id: both are random enough (32 bytes)
    for a plain SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "gtb_" + secrets.token_urlsafe(32)


def init_app(app: Flask, rules: SessionRules) -> None:
    app.extensions["gtb_sessions"] = rules
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = None
    manager.session_protection = "strong"

    @manager.user_loader
    def load(session_id: str) -> Account | None:
        """The person of a live session (unknown, ended, expired or idle ones: nobody)."""
        p = panel()
        now = p.now()
        session = p.store.sessions.live(hash_token(session_id), at=now)
        user = None if session is None else p.store.accounts.user(session.user)
        if session is None or user is None or user.disabled:
            return None
        p.store.sessions.seen(session, at=now)
        return Account(user, session_id)

    @manager.request_loader
    def from_token(req: Any) -> Account | None:
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        p = panel()
        user = p.store.accounts.token_user(hash_token(header.removeprefix("Bearer ").strip()),
                                           at=p.now())
        return None if user is None else Account(user)


def role_required(needed: UserRole) -> Callable[[_F], _F]:
    """Signed in with at least this role; else the sign-in page, or 403."""
    def decorate(view: _F) -> _F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for("auth.login", next=request.full_path))
            if not current_user.may(needed):
                abort(403)
            return view(*args, **kwargs)
        return cast(_F, wrapped)
    return decorate


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in. While the account or the address is locked the password is not even
    checked: a guess made during a lock tells nothing, and costs no scrypt."""
    if request.method == "GET":
        return render_template("login.html")
    name = request.form.get("name", "").strip()[:NAME_MAX]
    password = request.form.get("password", "")
    p = panel()
    now = p.now()
    rules: SessionRules = current_app.extensions["gtb_sessions"]
    who, where = name or "?", request.remote_addr or "?"
    lock = p.store.sign_ins.locked(who, where, at=now)
    if lock is not None:
        return _locked(lock)
    user = p.store.accounts.user(name) if name else None
    if user is None or user.disabled or not check_password_hash(user.password_hash, password):
        p.store.audit.record(now, "login_failed", who,
                             f"Connexion refusée pour « {name} » depuis {where}",
                             reason="nom ou mot de passe incorrect", site=p.site.id,
                             message_en=f"Sign-in refused for '{name}' from {where}",
                             reason_en="wrong name or password")
        started = p.store.sign_ins.failed(who, where, rules.limits, at=now)
        for lock in started:
            _audit_lock(lock, who, rules.limits)
        if started:
            return _locked(started[-1])
        flash("bad_login", "error")
        return render_template("login.html", name=name), 401
    p.store.sign_ins.succeeded(user.name)
    session_id = secrets.token_urlsafe(32)
    p.store.sessions.start(user.name, hash_token(session_id), at=now, lifetime=rules.lifetime,
                           idle=rules.idle, address=where,
                           user_agent=request.user_agent.string[:200])
    login_user(Account(user, session_id))
    p.store.audit.log(now, "login", user.name, Reason.of("login", who=user.name, where=where),
                      Reason.of("login.role", role=Reason.of(f"role.{user.role.value}")),
                      site=p.site.id)
    return redirect(local_path(request.args.get("next", "")) or url_for("pages.overview"))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Sign out: the session's row ends, so the cookie is worth nothing, copied or not."""
    if current_user.is_authenticated:
        p = panel()
        if current_user.session_id is not None:
            p.store.sessions.end(hash_token(current_user.session_id), at=p.now())
        p.store.audit.log(p.now(), "logout", current_user.name,
                          Reason.of("logout", who=current_user.name), site=p.site.id)
    logout_user()
    return redirect(url_for("auth.login"))


def _locked(lock: Lock) -> Any:
    """The sign-in page, refused until the lock ends (429, and when to try again)."""
    p = panel()
    time = f"{p.local(lock.until):%H:%M}"
    text = ("Trop d'échecs de connexion sur ce compte. Réessayez après {time}."
            if lock.scope is Scope.ACCOUNT else
            "Trop d'échecs de connexion depuis cette adresse. Réessayez après {time}.")
    wait = max(1, int((lock.until - p.now()).total_seconds()))
    page = render_template("login.html", locked=i18n.gettext(text).format(time=time))
    return page, 429, {"Retry-After": str(wait)}


def _audit_lock(lock: Lock, name: str, limits: SignInLimits) -> None:
    """One audit line when a lock starts (the attempts it refuses write none)."""
    p = panel()
    until = f"{p.local(lock.until):%H:%M}"
    minutes = int(limits.window.total_seconds() // 60)
    failures = limits.most(lock.scope)
    what_fr, what_en = ((f"du compte « {lock.key} »", f"account '{lock.key}'")
                        if lock.scope is Scope.ACCOUNT else
                        (f"depuis {lock.key}", f"from {lock.key}"))
    p.store.audit.record(
        p.now(), "login_locked", name, f"Connexion bloquée {what_fr} jusqu'à {until}",
        reason=f"{failures} échecs en {minutes} min", site=p.site.id,
        data={"scope": lock.scope.value, "key": lock.key, "until": lock.until.isoformat()},
        message_en=f"Sign-in locked {what_en} until {until}",
        reason_en=f"{failures} failures in {minutes} min")


# -- where to go next ------------------------------------------------------------------------

_DROPPED = str.maketrans("", "", "\t\n\r")


def _as_browsers_read(url: str) -> str:
    """``url`` as a browser reads it: leading and trailing controls and spaces trimmed,
    tabs and newlines dropped anywhere, a backslash a slash (WHATWG URL standard)."""
    return url.strip("".join(map(chr, range(0x21)))).translate(_DROPPED).replace("\\", "/")


def local_path(target: str) -> str | None:
    """``target`` if it is a path of this site once read as a browser would (no scheme,
    no host, not ``//``), else None: never send a person elsewhere."""
    cleaned = _as_browsers_read(target)
    parts = _split(cleaned)
    if (parts is None or parts.scheme or parts.netloc or not cleaned.startswith("/")
            or cleaned.startswith("//") or any(ord(c) < 0x20 or c == "\x7f" for c in cleaned)):
        return None
    return cleaned


def same_site_path(url: str, host: str) -> str | None:
    """The path and query of ``url`` if it is an http(s) address of ``host`` (this site),
    else None (another site, ``javascript:``...)."""
    parts = _split(_as_browsers_read(url))
    if parts is None or parts.scheme not in ("http", "https") or parts.netloc != host:
        return None
    return local_path(urlunsplit(("", "", parts.path or "/", parts.query, "")))


def _split(url: str) -> SplitResult | None:
    """``url``'s parts; None if it cannot be one (``http://[::1``)."""
    try:
        return urlsplit(url)
    except ValueError:
        return None
