"""The alarms page: what is wrong now, who has seen it, and what went wrong before.

The active alarms follow the engine live (htmx, as the other pages); an operator
acknowledges one through ``Panel.acknowledge_alarm``, which writes its line in the audit
log. An acknowledged alarm stays until the engine clears its condition.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from gtb.store.accounts import UserRole
from web import i18n
from web.auth import role_required
from web.panel import ActionError, panel

bp = Blueprint("alarms", __name__, url_prefix="/alarms")

PAGE = 50
"""Alarms of the history per page."""

EN: dict[str, str] = {
    "Gravité": "Severity",
    "Message": "Message",
    "Depuis": "Since",
    "Où": "Where",
    "Acquittée": "Acknowledged",
    "Acquitter": "Acknowledge",
    "Alarme acquittée.": "Alarm acknowledged.",
    "non acquittée": "not acknowledged",
    "Historique des alarmes": "Alarm history",
    "Levée": "Raised",
    "Terminée": "Cleared",
    "toujours active": "still active",
    "Aucune alarme enregistrée.": "No alarm recorded.",
    "Alarmes plus anciennes": "Older alarms",
    "Alarmes plus récentes": "Newer alarms",
    "Page": "Page",
}


@bp.route("")
@role_required(UserRole.VIEWER)
def index() -> Any:
    p = panel()
    page = _page(request.args.get("page", "1"))
    active = p.active_alarms()
    # The store pages by count only: read up to this page, and one more to know if there
    # is a next one.
    seen = p.store.alarms.history(limit=page * PAGE + 1)
    history = seen[(page - 1) * PAGE:page * PAGE]
    return render_template("alarms.html", active=active, history=history, page=page,
                           more=len(seen) > page * PAGE, place=p.place)


@bp.route("/<int:alarm_id>/ack", methods=["POST"])
@role_required(UserRole.OPERATOR)
def acknowledge(alarm_id: int) -> Any:
    panel().acknowledge_alarm(alarm_id, who=current_user.name)
    flash(i18n.gettext("Alarme acquittée."), "ok")
    return redirect(url_for("alarms.index"))


def _page(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 6) or int(text) < 1:
        raise ActionError(f"Page invalide : « {text} ».", f"Invalid page: '{text}'.")
    return int(text)
