"""The lighting page: each public lighting cabinet, its state now and why, its night as the
engine programmes it (sunset, switch-on, night cut, dimming, sunrise), its agenda entries,
and the mayor's immediate on or off with its expiry.

Everyone signed in sees it; operators act. The state comes from the engine's last status;
the night from the timetable the engine publishes to the store (``gtb.engine.outlook``), so the
page shows what the engine does. Writes go through ``Panel``; the engine applies them at
its next tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from gtb.model import Cabinet
from gtb.model.calendar import LIGHTING_KINDS, AgendaEntry, parse_night_window
from gtb.store.accounts import UserRole
from gtb.store.agenda import StoredAgendaEntry
from gtb.store.control import Override
from gtb.store.status import Night, OutputStatus
from web import form_input, i18n
from web.auth import role_required
from web.panel import ActionError, applied, panel

bp = Blueprint("lighting", __name__)

EN: dict[str, str] = {
    "Éclairage public": "Public lighting",
    "Aucune armoire d'éclairage public sur ce site.": "No public lighting cabinet on this site.",
    "Ordre en cours": "Order in force",
    "Ordre immédiat": "Immediate order",
    "Annuler l'ordre": "Cancel the order",
    "Nuit du": "Night of",
    "Horaire de la nuit : en attente du premier passage du moteur.":
        "The night's timetable: waiting for the engine's first tick.",
    "Coucher du soleil": "Sunset",
    "Lever du soleil": "Sunrise",
    "Allumage": "Switched on",
    "Extinction": "Switched off",
    "Coupure de nuit": "Night cut",
    "Gradation": "Dimming",
    "aucune": "none",
    "jamais allumé cette nuit": "not lit this night",
    "lever du soleil": "sunrise",
    "Horaire de la nuit": "The night's timetable",
    "De": "From",
    "À": "To",
    "État": "State",
    "en cours": "now",
    "Agenda de l'éclairage": "Lighting agenda",
    "Aucune entrée à venir.": "No entry ahead.",
    "Nouvelle entrée d'agenda": "New agenda entry",
    "Armoire": "Cabinet",
    "Allumer": "Switch on",
    "Éteindre": "Switch off",
    "allumage forcé": "forced on",
    "extinction forcée": "forced off",
    "Ordre": "Order",
    "jusqu'au lever du soleil": "until sunrise",
    "4 heures": "4 hours",
    "Envoyer l'ordre": "Send the order",
    "Entrée ajoutée à l'agenda.": "Entry added to the agenda.",
    "Entrée retirée de l'agenda.": "Entry removed from the agenda.",
    "Ordre enregistré.": "Order recorded.",
    "Ordre annulé.": "Order cancelled.",
}
"""English of this blueprint's own texts (the shared ones are in web.i18n)."""

ORDER_DURATIONS = {"1h": timedelta(hours=1), "2h": timedelta(hours=2), "4h": timedelta(hours=4)}


@dataclass(frozen=True)
class CabinetView:
    """A cabinet as the page shows it: the engine's status, the order in force, the night
    and the agenda entries that concern it."""

    cabinet: Cabinet
    status: OutputStatus | None
    order: Override | None
    night: Night | None
    """None until the engine has published it."""
    entries: list[tuple[AgendaEntry, StoredAgendaEntry | None]]

    @property
    def applied(self) -> bool:
        """Whether the engine has applied the order in force."""
        return bool(applied(self.status, self.order))

    @property
    def on(self) -> bool | None:
        """On or off now as the engine last said, an order included; None before its
        first tick."""
        return None if self.status is None else self.status.on

    @property
    def level(self) -> float | None:
        """The dimming level when lit by the timetable (None without a dimming point, or
        under an order)."""
        if self.status is None or not self.on or self.applied:
            return None
        return self.status.level


def cabinet_views(nights: dict[str, Night] | None = None) -> list[CabinetView]:
    """Each cabinet as the page and the API show it (``nights``: the engine's, when the
    caller has read them already)."""
    p = panel()
    statuses = p.store.status.outputs()
    overrides = p.store.overrides.active(p.now())
    agenda = p.lighting_agenda()
    nights = _nights() if nights is None else nights
    return [CabinetView(cabinet, statuses.get(f"cabinet:{cabinet.id}"),
                        overrides.get(p.relay_key(cabinet)), nights.get(cabinet.id),
                        [(e, s) for e, s in agenda if e.applies_to_cabinet(cabinet.id)])
            for cabinet in p.site.cabinets]


@bp.route("/lighting")
@role_required(UserRole.VIEWER)
def index() -> Any:
    p = panel()
    now = p.now()
    local = p.local(now)
    nights = _nights()
    cabinets = cabinet_views(nights)
    times = [view.status.at for view in cabinets if view.status is not None]
    return render_template(
        "lighting.html", cabinets=cabinets, now_local=local,
        updated=max(times) if times else None, sunrise=_next_sunrise(nights, now),
        window=_window, later=local + timedelta(hours=4))


@bp.route("/lighting/entries", methods=["POST"])
@role_required(UserRole.OPERATOR)
def add_entry() -> Any:
    form = request.form
    panel().add_lighting_entry(
        form.get("cabinet", ""), form.get("kind", ""), form.get("label", ""),
        form_input.wall_clock(form.get("start", ""), ("le début", "the start")),
        form_input.wall_clock(form.get("end", ""), ("la fin", "the end")),
        who=current_user.name)
    flash(i18n.gettext("Entrée ajoutée à l'agenda."), "ok")
    return redirect(url_for("lighting.index"))


@bp.route("/lighting/entries/<int:entry_id>/remove", methods=["POST"])
@role_required(UserRole.OPERATOR)
def remove_entry(entry_id: int) -> Any:
    panel().remove_agenda_entry(entry_id, who=current_user.name,
                                kinds=LIGHTING_KINDS)
    flash(i18n.gettext("Entrée retirée de l'agenda."), "ok")
    return redirect(url_for("lighting.index"))


@bp.route("/lighting/order", methods=["POST"])
@role_required(UserRole.OPERATOR)
def order() -> Any:
    p = panel()
    form = request.form
    cabinet = p.cabinet(form.get("cabinet", ""))
    state = form.get("state", "")
    if state not in ("on", "off"):
        raise ActionError("Choisissez d'allumer ou d'éteindre.", "Choose on or off.")
    until = _until(form.get("duration", ""), form.get("until", ""))
    p.order_cabinet(cabinet.id, state == "on", until, who=current_user.name,
                    why=form.get("why", ""))
    flash(i18n.gettext("Ordre enregistré."), "ok")
    return redirect(url_for("lighting.index"))


@bp.route("/lighting/<cabinet_id>/cancel", methods=["POST"])
@role_required(UserRole.OPERATOR)
def cancel(cabinet_id: str) -> Any:
    panel().cancel_cabinet_order(cabinet_id, who=current_user.name,
                                 why=request.form.get("why", ""))
    flash(i18n.gettext("Ordre annulé."), "ok")
    return redirect(url_for("lighting.index"))


def _until(duration: str, chosen: str) -> datetime:
    """When an order ends: at the next sunrise, after 1, 2 or 4 hours, or at a chosen
    local time."""
    p = panel()
    now = p.now()
    if duration == "sunrise":
        sunrise = _next_sunrise(_nights(), now)
        if sunrise is None:
            raise ActionError(
                "Le moteur n'a pas encore publié le prochain lever du soleil : choisissez une "
                "durée.", "The engine has not published the next sunrise yet: choose a "
                "duration.")
        return sunrise
    if duration in ORDER_DURATIONS:
        return now + ORDER_DURATIONS[duration]
    if duration == "until":
        wall = form_input.wall_clock(chosen, ("la fin de l'ordre", "the end of the order"))
        return wall.replace(tzinfo=p.site.tz)
    raise ActionError(f"Durée inconnue : « {duration} ».", f"Unknown duration: '{duration}'.")


def _nights() -> dict[str, Night]:
    """Each cabinet's night as the engine last published it, by cabinet id."""
    return panel().store.status.nights()


def _next_sunrise(nights: dict[str, Night], now: datetime) -> datetime | None:
    """The sunrise that ends the night shown, unless the engine has not published one yet
    (or not since it passed)."""
    return min((n.sunrise for n in nights.values() if n.sunrise > now), default=None)


def _window(text: str) -> str:
    """A night window for people: ``23:00 – 05:00``, ``23:00 – lever du soleil``."""
    window = parse_night_window(text)
    end = (window.end.strftime("%H:%M") if window.end is not None
           else i18n.gettext("lever du soleil"))
    return f"{window.start:%H:%M} – {end}"
