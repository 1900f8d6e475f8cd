"""The audit log: who did what, when and why, as the store keeps it (``store.audit.events``),
filtered by building, person, kind and local dates, newest first, a page at a time.

Everyone signed in may read it: elected officials check what was done in their name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, render_template, request

from gtb.store import Store
from gtb.store.accounts import UserRole
from gtb.store.audit import Event
from gtb.texts import Reason
from web import i18n, limits
from web.auth import role_required
from web.panel import ActionError, bounded, panel
from web.periods import local_period

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE = 50
"""Lines per page."""

KINDS = {
    "override": "Dérogation",
    "override_cancelled": "Dérogation annulée",
    "learning": "Apprentissage",
    "command": "Commande",
    "alarm": "Alarme",
    "alarm_acknowledged": "Alarme acquittée",
    "fault": "Défaut",
    "engine": "Moteur",
    "job_error": "Erreur d'une tâche",
    "forecast": "Prévision météo",
    "agenda": "Agenda",
    "login": "Connexion",
    "login_failed": "Connexion refusée",
    "login_locked": "Connexion bloquée",
    "logout": "Déconnexion",
    "export": "Export",
    "user_added": "Compte créé",
    "token_added": "Jeton d'accès créé",
    "token_revoked": "Jeton d'accès révoqué",
    "user_disabled": "Compte désactivé",
    "user_enabled": "Compte réactivé",
    "password_changed": "Mot de passe changé",
    "sessions_ended": "Déconnecté partout",
    "influx_down": "Archive InfluxDB injoignable",
    "influx_up": "Archive InfluxDB rétablie",
    "influx_rejected": "Ligne refusée par InfluxDB",
    "programme": "Programme appliqué",
    "programme_saved": "Programme enregistré",
    "efficiency_loss": "Dérive de consommation",
    "lighting_order": "Ordre d'éclairage",
    "lighting_order_cancelled": "Ordre d'éclairage annulé",
}
"""The French name of each kind of line; a kind not listed shows as it is."""

EN: dict[str, str] = {
    "Dérogation annulée": "Override cancelled",
    "Commande": "Command",
    "Alarme": "Alarm",
    "Alarme acquittée": "Alarm acknowledged",
    "Défaut": "Fault",
    "Moteur": "Engine",
    "Erreur d'une tâche": "Job error",
    "Prévision météo": "Weather forecast",
    "Agenda": "Agenda",
    "Connexion refusée": "Sign-in refused",
    "Connexion bloquée": "Sign-in locked",
    "Déconnexion": "Sign-out",
    "Compte créé": "Account created",
    "Jeton d'accès créé": "Access token created",
    "Jeton d'accès révoqué": "Access token revoked",
    "Mot de passe changé": "Password changed",
    "Déconnecté partout": "Signed out everywhere",
    "Compte désactivé": "Account disabled",
    "Compte réactivé": "Account enabled",
    "Archive InfluxDB injoignable": "InfluxDB archive unreachable",
    "Archive InfluxDB rétablie": "InfluxDB archive back",
    "Ligne refusée par InfluxDB": "Line refused by InfluxDB",
    "Programme appliqué": "Programme applied",
    "Programme enregistré": "Programme saved",
    "Dérive de consommation": "Consumption drift",
    "Ordre d'éclairage": "Lighting order",
    "Ordre d'éclairage annulé": "Lighting order cancelled",
    "Journal des actions": "Audit log",
    "Filtrer": "Filter",
    "Personne": "Person",
    "Catégorie": "Category",
    "Quand": "When",
    "Qui": "Who",
    "Quoi": "What",
    "Aucune ligne ne répond à ces filtres.": "No line matches these filters.",
    "Lignes plus anciennes": "Older lines",
    "Retour aux plus récentes": "Back to the newest",
    "Effacer les filtres": "Clear the filters",
}

ACTORS = {"engine": Reason.of("actor.engine")}
"""Who acted when it is no person: the name the log shows for it, in each language (a
person, or « gtb users » on the server, shows as written)."""


def actor_name(actor: str) -> str:
    """Who acted, in the reader's language: « moteur » for the engine."""
    named = ACTORS.get(actor)
    return actor if named is None else named.en if i18n.lang() == "en" else named.fr


def _actor_asked(text: str) -> str:
    """The actor a filter names, by its stored name or the name shown in either language."""
    return next((actor for actor, named in ACTORS.items() if text in (named.fr, named.en)),
                text)


FILTERS = ("building", "actor", "kind", "from", "to")
"""The query parameters of the filters (``before`` is the page)."""


@dataclass(frozen=True)
class Filters:
    building: str | None
    actor: str | None
    kind: str | None
    since: datetime | None
    until: datetime | None

    def query(self, store: Store, *, until: datetime | None, limit: int) -> list[Event]:
        if self.until is not None:
            until = self.until if until is None else min(until, self.until)
        return store.audit.events(since=self.since, until=until, kind=self.kind, actor=self.actor,
                            building=self.building, limit=limit)


@bp.route("")
@role_required(UserRole.VIEWER)
def index() -> Any:
    p = panel()
    asked = {name: request.args.get(name, "").strip() for name in FILTERS}
    kinds = p.store.audit.values("kind")
    filters = _filters(asked, kinds)
    lines, more = _page(p.store, filters, _cursor(request.args.get("before", "")))
    after = f"{int(lines[-1].ts.timestamp())}-{lines[-1].id}" if more else None
    choices = sorted(kinds, key=lambda kind: _label(kind).lower())
    query = {name: value for name, value in asked.items() if value}
    return render_template("audit.html", lines=lines, asked=asked, query=query, after=after,
                           paged="before" in request.args, kinds=choices, names=KINDS,
                           actors=[actor_name(a) for a in p.store.audit.values("actor")],
                           actor_name=actor_name,
                           buildings=p.site.buildings, place=p.place)


def _label(kind: str) -> str:
    """A kind of line in the person's language."""
    return i18n.gettext(KINDS[kind]) if kind in KINDS else kind


def _filters(asked: dict[str, str], kinds: list[str]) -> Filters:
    p = panel()
    building = asked["building"] or None
    if building is not None and building not in {b.id for b in p.site.buildings}:
        raise ActionError(f"Bâtiment inconnu : {building}", f"Unknown building: {building}")
    kind = asked["kind"] or None
    if kind is not None and kind not in kinds and kind not in KINDS:
        raise ActionError(f"Type de ligne inconnu : {kind}", f"Unknown kind of line: {kind}")
    since, until = local_period(asked["from"], asked["to"], p.site.tz)
    actor = _actor_asked(bounded(asked["actor"], ("la personne", "the person"),
                                 limits.FILTER)) or None
    return Filters(building, actor, kind, since, until)


_CURSOR = re.compile(r"(\d{1,10})-(\d{1,18})")


def _cursor(text: str) -> tuple[int, int] | None:
    """The last line shown, ``EPOCH-ID``: the next page starts after it."""
    if not text:
        return None
    found = _CURSOR.fullmatch(text)
    if found is None:
        raise ActionError("Lien de page invalide : repartez des lignes les plus récentes.",
                          "Invalid page link: start again from the newest lines.")
    return int(found[1]), int(found[2])


def _page(store: Store, filters: Filters, cursor: tuple[int, int] | None
          ) -> tuple[list[Event], bool]:
    """Up to PAGE lines after ``cursor``, and whether there are more.

    Lines are ordered by time then id, newest first, and many share a second (the engine
    records a tick's commands at once): the next page asks for the lines up to the end of
    the cursor's second, and leaves out those of that second already shown (the first
    ones, with an id not below the cursor's), asking for more until a page is full."""
    if cursor is None:
        found = filters.query(store, until=None, limit=PAGE + 1)
        return found[:PAGE], len(found) > PAGE
    second, last_id = cursor
    until = datetime.fromtimestamp(second + 1, UTC)
    limit = PAGE + 1
    while True:
        found = filters.query(store, until=until, limit=limit)
        fresh = [e for e in found if int(e.ts.timestamp()) != second or e.id < last_id]
        if len(fresh) > PAGE or len(found) < limit:
            return fresh[:PAGE], len(fresh) > PAGE
        limit *= 4

