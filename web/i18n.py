"""The panel's two languages: French by default, English on request (a cookie).

Templates write French and call ``_("...")``; ``EN`` gives the English of each text. A text
without an English entry stays French (tests list them). Numbers, temperatures and dates
follow the language: ``19,5 °C`` and ``01/12/2026 14:05`` in French.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, current_app, request

from gtb import i18n as formats

LANGS = ("fr", "en")
COOKIE = "lang"

EN: dict[str, str] = {
    "Maintenant": "Now",
    "le": "on",
    "Début": "Start",
    "Du": "From",
    "Au (inclus)": "To (included)",
    "tous": "all",
    "toutes": "all",
    "Ajouter": "Add",
    "Supprimer": "Remove",
    "fichier du site": "site file",
    "ajoutée par": "added by",
    "heure locale du site": "the site's local time",
    "Tableau de bord": "Overview",
    "Éclairage": "Lighting",
    "Programmes": "Programmes",
    "Journal": "Audit log",
    "Export": "Export",
    "Bâtiments": "Buildings",
    "Bâtiment": "Building",
    "Zone": "Zone",
    "Zones": "Zones",
    "Alarmes": "Alarms",
    "Alarmes en cours": "Active alarms",
    "Aucune alarme en cours.": "No active alarm.",
    "Éclairage et équipements": "Lighting and equipment",
    "allumé": "on",
    "éteint": "off",
    "en marche": "running",
    "arrêt": "stopped",
    "Température": "Temperature",
    "Consigne": "Setpoint",
    "Mode": "Mode",
    "Pourquoi": "Why",
    "Détails": "Details",
    "Présence": "Occupancy",
    "présent": "occupied",
    "personne": "nobody",
    "Prochaine arrivée": "Next arrival",
    "Occupation prévue": "Expected occupancy",
    "en cours, jusqu'au": "under way, until",
    "confort": "comfort",
    "réduit": "reduced",
    "hors-gel": "frost protection",
    "mode dégradé": "degraded mode",
    "Commande locale": "Local command",
    "commande locale prioritaire": "local command in force",
    "priorité": "priority",
    "le moteur n'écrit plus jusqu'à sa levée": "the engine stops writing until it is relinquished",
    "Envoi en attente": "Command waiting",
    "Mis à jour": "Updated",
    "pas encore de données du moteur": "no data from the engine yet",
    "Connexion": "Sign in",
    "Nom": "Name",
    "Mot de passe": "Password",
    "Se connecter": "Sign in",
    "Se déconnecter": "Sign out",
    "Nom ou mot de passe incorrect.": "Wrong name or password.",
    "Dérogation": "Override",
    "Dérogation en cours": "Override in force",
    "Nouvelle dérogation": "New override",
    "Durée": "Duration",
    "1 heure": "1 hour",
    "2 heures": "2 hours",
    "jusqu'à la fin de la période en cours": "until the end of the current period",
    "jusqu'à une heure choisie": "until a chosen time",
    "Fin": "End",
    "Raison": "Reason",
    "Déroger": "Override",
    "Annuler la dérogation": "Cancel the override",
    "appliquée par le moteur": "applied by the engine",
    "en attente du prochain passage du moteur": "waiting for the engine's next tick",
    "jusqu'au": "until",
    "par": "by",
    "Apprentissage": "Learning",
    "activé": "on",
    "désactivé": "off",
    "Activer l'apprentissage": "Turn learning on",
    "Désactiver l'apprentissage": "Turn learning off",
    "Courbes": "Charts",
    "Heure": "Time",
    "48 heures": "48 hours",
    "7 jours": "7 days",
    "chauffage": "heating",
    "Dérogation enregistrée.": "Override recorded.",
    "Dérogation annulée.": "Override cancelled.",
    "Apprentissage modifié.": "Learning changed.",
    "Accès refusé": "Access denied",
    "Votre rôle ne permet pas cette action.": "Your role does not allow this.",
    "Page introuvable": "Page not found",
    "Requête refusée": "Request refused",
    "La session a expiré ou le formulaire est invalide ; rechargez la page.":
        "The session expired or the form is invalid; reload the page.",
    "Retour au tableau de bord": "Back to the overview",
    "depuis": "since",
    "critique": "critical",
    "avertissement": "warning",
}


def lang() -> str:
    chosen = request.cookies.get(COOKIE, "fr")
    return chosen if chosen in LANGS else "fr"


def gettext(text: str) -> str:
    if lang() == "fr":
        return text
    catalog: dict[str, str] = current_app.extensions["gtb_i18n"]
    return catalog.get(text, text)


def temperature(value: object) -> str:
    """``19,5 °C``; a dash when there is no number (not yet read, failed)."""
    if not isinstance(value, int | float):
        return "—"
    return formats.temperature(value, lang())


def number(value: object, digits: int = 1) -> str:
    if not isinstance(value, int | float):
        return "—"
    return formats.number(value, lang(), digits)


def when(moment: object, tz: Any) -> str:
    """A date and time in the site's zone: ``01/12/2026 14:05``."""
    if not isinstance(moment, datetime | str) or not moment:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(tz).strftime("%d/%m/%Y %H:%M")


def said(record: object, field: str) -> Any:
    """An alarm's or an audit line's ``field`` (message, reason) in the person's language:
    its English when asked and there is one (older lines, and the reasons people type, are
    French only)."""
    if lang() == "en":
        english = getattr(record, f"{field}_en", None)
        if english:
            return english
    return getattr(record, field)


def init_app(app: Flask, *catalogs: dict[str, str]) -> None:
    """The panel's English: ``EN`` here, and the catalog of each blueprint that has texts
    of its own."""
    from web.panel import panel

    merged = dict(EN)
    for catalog in catalogs:
        merged.update(catalog)
    app.extensions["gtb_i18n"] = merged

    @app.context_processor
    def helpers() -> dict[str, Any]:
        tz = panel().site.tz
        return {"_": gettext, "lang": lang(), "temperature": temperature, "number": number,
                "when": lambda moment: when(moment, tz), "said": said,
                "has_page": lambda endpoint: endpoint in app.view_functions}
