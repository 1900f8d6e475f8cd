"""The administration page, for the admin role alone: the panel's accounts and the API
tokens of scripts.

An admin sees every account (role, state, creation, open sessions) and every token
(label, creation, expiry, last use, state), disables or enables an account (not their
own), signs an account out everywhere and revokes a token. Accounts and tokens are made
with ``gtb users``: a token is shown once, on the terminal of the person who made it.
Every change goes through ``web.account_changes``, as the command's do, and is a line of
the audit log under the admin's name.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from gtb.store.accounts import UserRole
from gtb.texts import Reason
from web import account_changes, i18n
from web.auth import role_required
from web.panel import ActionError, panel

bp = Blueprint("admin", __name__, url_prefix="/admin")

EN: dict[str, str] = {
    "Administration": "Administration",
    "Comptes": "Accounts",
    "Jetons d'API": "API tokens",
    "Rôle": "Role",
    "Créé le": "Created",
    "État": "State",
    "compte actif": "active account",
    "compte désactivé": "disabled account",
    "Désactiver": "Disable",
    "Réactiver": "Enable",
    "votre compte": "your account",
    "Compte": "Account",
    "Libellé": "Label",
    "Expire le": "Expires",
    "Dernier usage": "Last used",
    "jamais": "never",
    "sans expiration": "no expiry",
    "valide": "valid",
    "expiré": "expired",
    "révoqué le": "revoked on",
    "Révoquer": "Revoke",
    "Aucun jeton d'API.": "No API token.",
    "Compte désactivé.": "Account disabled.",
    "Compte réactivé.": "Account enabled.",
    "Jeton révoqué.": "Token revoked.",
    "Sessions": "Sessions",
    "aucune session ouverte": "no session open",
    "Déconnecter partout": "Sign out everywhere",
    "Sessions fermées.": "Sessions ended.",
    "dernière activité": "last active",
    "Un compte désactivé ne peut plus se connecter ; ses sessions sont fermées et ses jetons "
    "ne fonctionnent plus.":
        "A disabled account can no longer sign in; its sessions are ended and its tokens "
        "stop working.",
    "Les comptes et les jetons se créent sur le serveur avec « gtb users » (un jeton n'est "
    "montré qu'une fois) ; voir la documentation du panneau.":
        "Accounts and tokens are made on the server with 'gtb users' (a token is shown only "
        "once); see the panel's documentation.",
    "Un jeton créé avant que les jetons expirent n'a pas d'expiration : révoquez-le et "
    "créez-en un autre.":
        "A token made before tokens expired has no expiry: revoke it and make another.",
}

ROLE_NAMES = {role: Reason.of(f"role.{role.value}") for role in UserRole}
"""Each role as the page names it (the catalogue's, in the reader's language)."""


@bp.route("")
@role_required(UserRole.ADMIN)
def index() -> Any:
    p = panel()
    tokens = p.store.accounts.tokens()
    unexpiring = any(t.expires_at is None and t.revoked_at is None for t in tokens)
    now = p.now()
    users = p.store.accounts.users()
    sessions = {user.name: p.store.sessions.of_user(user.name, at=now) for user in users}
    return render_template("admin.html", users=users, sessions=sessions, tokens=tokens,
                           unexpiring=unexpiring, now=now, roles=ROLE_NAMES)


@bp.route("/users/<path:name>/disabled", methods=["POST"])
@role_required(UserRole.ADMIN)
def set_disabled(name: str) -> Any:
    """``disabled=1`` disables the account, ``disabled=0`` enables it again."""
    choice = request.form.get("disabled", "")
    if choice not in ("0", "1"):
        raise ActionError("Indiquez disabled=1 pour désactiver le compte, disabled=0 pour le "
                          "réactiver.",
                          "Give disabled=1 to disable the account, disabled=0 to enable it.")
    p = panel()
    account_changes.set_disabled(p.store, name, choice == "1", by=_actor(), at=p.now())
    flash(i18n.gettext("Compte désactivé." if choice == "1" else "Compte réactivé."), "ok")
    return redirect(url_for("admin.index"))


@bp.route("/users/<path:name>/sessions/end", methods=["POST"])
@role_required(UserRole.ADMIN)
def end_sessions(name: str) -> Any:
    """Sign the account out everywhere; one's own included (then the sign-in page)."""
    p = panel()
    account_changes.end_sessions(p.store, name, by=_actor(), at=p.now())
    flash(i18n.gettext("Sessions fermées."), "ok")
    return redirect(url_for("admin.index"))


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@role_required(UserRole.ADMIN)
def revoke_token(token_id: int) -> Any:
    p = panel()
    account_changes.revoke_token(p.store, token_id, by=_actor(), at=p.now())
    flash(i18n.gettext("Jeton révoqué."), "ok")
    return redirect(url_for("admin.index"))


def _actor() -> account_changes.Actor:
    return account_changes.Actor.panel_account(current_user.name, panel().site.id)
