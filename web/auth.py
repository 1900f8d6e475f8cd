"""Accounts: sign-in with a hashed password (scrypt), roles, API tokens for scripts.

Every sign-in, failed or not, and every sign-out is a line of the audit log. Roles:
viewer (elected officials: look), operator (building managers: override, programmes,
lighting, alarms), admin (everything, accounts).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from gtb.store.accounts import User, UserRole
from web.panel import may, panel

bp = Blueprint("auth", __name__)

_F = TypeVar("_F", bound=Callable[..., Any])

MIN_PASSWORD = 10


class Account(UserMixin):
    """The signed-in person, as Flask-Login wants it."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.id = user.name
        self.name = user.name
        self.role = user.role

    def may(self, needed: UserRole | str) -> bool:
        return may(self.role, UserRole(needed))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    return generate_password_hash(password, method="scrypt")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "gtb_" + secrets.token_urlsafe(32)


def init_app(app: Flask) -> None:
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = None
    manager.session_protection = "strong"

    @manager.user_loader
    def load(name: str) -> Account | None:
        user = panel().store.accounts.user(name)
        return None if user is None or user.disabled else Account(user)

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
    if request.method == "GET":
        return render_template("login.html")
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    p = panel()
    user = p.store.accounts.user(name) if name else None
    where = request.remote_addr or "?"
    if user is None or user.disabled or not check_password_hash(user.password_hash, password):
        p.store.audit.record(p.now(), "login_failed", name or "?",
                             f"Connexion refusée pour « {name} » depuis {where}",
                             reason="nom ou mot de passe incorrect", site=p.site.id,
                             message_en=f"Sign-in refused for '{name}' from {where}",
                             reason_en="wrong name or password")
        flash("bad_login", "error")
        return render_template("login.html", name=name), 401
    login_user(Account(user))
    p.store.audit.record(p.now(), "login", user.name, f"Connexion de {user.name} depuis {where}",
                         reason=f"rôle {user.role.value}", site=p.site.id,
                         message_en=f"{user.name} signed in from {where}",
                         reason_en=f"role {user.role.value}")
    target = request.args.get("next", "")
    # Only a path of this site: never send a person elsewhere after signing in.
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("pages.overview")
    return redirect(target)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    if current_user.is_authenticated:
        p = panel()
        p.store.audit.record(p.now(), "logout", current_user.name,
                             f"Déconnexion de {current_user.name}", site=p.site.id,
                             message_en=f"{current_user.name} signed out")
    logout_user()
    return redirect(url_for("auth.login"))
