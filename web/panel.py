"""What every view needs: the site, the store and the clock, and the actions that change
the store, with their validation and their line in the audit log. Forms and the JSON API
call the same actions, so they accept and refuse the same things."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app

from gtb.clock import Clock
from gtb.i18n import shortest
from gtb.model import Building, Cabinet, Site, Zone
from gtb.model.calendar import LIGHTING_KINDS, WEEKDAYS, AgendaEntry, Programme
from gtb.model.points import Role
from gtb.store import Store
from gtb.store.accounts import UserRole
from gtb.store.agenda import StoredAgendaEntry
from gtb.store.audit import Alarm
from gtb.store.control import Override, ProgrammeVersion
from gtb.store.errors import ConflictError, NotFoundError
from gtb.store.status import OutputStatus, ZoneStatus
from gtb.texts import Reason, of_name
from web import limits
from web.timetables import (
    EXCEPTION_DAYS,
    LIGHTING_ENTRY_DAYS,
    ORDER_DAYS,
    OVERRIDE_DAYS,
    day_names,
    day_problems,
    split_periods,
    week_problems,
)

EXCEPTION_KINDS = ("event", "closure", "day")
"""The agenda entries of the programme pages (the lighting page's: ``LIGHTING_KINDS``)."""


CANCELLED_HERE = Reason.of("panel.override_cancelled")
"""The reason of a cancellation given without one, in the panel (an override)."""
ORDER_CANCELLED_HERE = Reason.of("panel.order_cancelled")
FROM_HERE = Reason.of("panel.from_here")


def _reason(why: str, default: Reason) -> tuple[str, str | None]:
    """The audit reason in French and English: a person's words as typed (no English),
    else ``default``."""
    typed = bounded(why.strip(), REASON_FIELD, limits.REASON)
    return (typed, None) if typed else (default.fr, default.en)


class ActionError(ValueError):
    """A request the panel refuses; ``fr`` and ``en`` say why, nothing was changed."""

    def __init__(self, fr: str, en: str, status: int = 400) -> None:
        super().__init__(fr)
        self.fr, self.en, self.status = fr, en, status

    def text(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en


class NotFound(ActionError):
    def __init__(self, fr: str, en: str) -> None:
        super().__init__(fr, en, 404)


REASON_FIELD = ("la raison", "the reason")
"""The ``why`` of a form or a request, named in a refusal."""


def bounded(text: str, field: tuple[str, str], longest: int) -> str:
    """``text`` as typed, refused when longer than ``longest`` characters; ``field`` is its
    name in French and English."""
    if len(text) > longest:
        raise ActionError(f"{_capital(field[0])} : {len(text)} caractères, {longest} au plus.",
                          f"{_capital(field[1])}: {len(text)} characters, {longest} at most.")
    return text


def _capital(text: str) -> str:
    """The first letter in capital, the rest as it is (``la fin`` -> ``La fin``)."""
    return text[:1].upper() + text[1:]


def bounded_day(periods: str | Sequence[str], field: tuple[str, str]) -> str | Sequence[str]:
    """A day's periods typed in one field (``08:00-12:00, 14:00-18:00``), refused when
    longer than a day's periods can be; a list (the API's) is bounded by its model."""
    return bounded(periods, field, limits.DAY_TEXT) if isinstance(periods, str) else periods


def _check_years(*dates: tuple[tuple[str, str], date]) -> None:
    """Refuse a date a person typed outside ``limits.FIRST_YEAR`` .. ``LAST_YEAR`` (each
    with its field's name in French and English): a typing mistake, and near year 9999,
    more than Python's dates can count."""
    for (fr, en), moment in dates:
        if not limits.within_years(moment):
            raise ActionError(
                f"{_capital(fr)} ({moment:%d/%m/%Y}) n'est pas entre "
                f"{limits.FIRST_YEAR} et {limits.LAST_YEAR}.",
                f"{_capital(en)} ({moment:%d/%m/%Y}) is not between "
                f"{limits.FIRST_YEAR} and {limits.LAST_YEAR}.")


RANK = {UserRole.VIEWER: 0, UserRole.OPERATOR: 1, UserRole.ADMIN: 2}
"""Each role may what the roles below it may. A viewer looks (every page, the chart, the
alarms, the audit log, exports); an operator also acts on the buildings (overrides,
learning, programmes and their exceptions, lighting, alarms); an admin alone also sees the
accounts and API tokens and disables or enables an account and revokes a token
(``web/admin.py``). The site's settings are in its site file, which no page changes."""


def may(role: UserRole, needed: UserRole) -> bool:
    return RANK[role] >= RANK[needed]


@dataclass(frozen=True)
class ZoneView:
    """A zone as the panel shows it: the site file's zone and the engine's last status."""

    key: str
    building: Building
    zone: Zone
    status: ZoneStatus | None
    override: Override | None
    setpoint_key: str | None

    @property
    def applied(self) -> bool | None:
        """Whether the engine has applied the override in force (None: no override)."""
        return applied(self.status, self.override)


def applied(status: ZoneStatus | OutputStatus | None, override: Override | None) -> bool | None:
    """Whether the engine's last status shows a person's override in force (None: there is
    none): the page then says « appliquée par le moteur »."""
    if override is None:
        return None
    return status is not None and status.at >= override.created_at and status.source == "override"


class Panel:
    def __init__(self, site: Site, store: Store, clock: Clock) -> None:
        self.site, self.store, self.clock = site, store, clock

    # -- reading ---------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.site.tz)

    def building(self, building_id: str) -> Building:
        for building in self.site.buildings:
            if building.id == building_id:
                return building
        raise NotFound(f"Bâtiment inconnu : {building_id}", f"Unknown building: {building_id}")

    def zone(self, building_id: str, zone_id: str) -> ZoneView:
        building = self.building(building_id)
        for zone in building.zones:
            if zone.id == zone_id:
                key = f"{building.id}.{zone.id}"
                return self._view(building, zone, self.store.status.zones([key]),
                                  self.store.overrides.active(self.now()))
        raise NotFound(f"Zone inconnue : {building_id}.{zone_id}",
                       f"Unknown zone: {building_id}.{zone_id}")

    def zones(self, building: Building | None = None) -> list[ZoneView]:
        statuses = self.store.status.zones(
            None if building is None else [f"{building.id}.{z.id}" for z in building.zones])
        overrides = self.store.overrides.active(self.now())
        buildings = [building] if building is not None else list(self.site.buildings)
        return [self._view(b, z, statuses, overrides) for b in buildings for z in b.zones]

    def _view(self, building: Building, zone: Zone, statuses: dict[str, ZoneStatus],
              overrides: dict[str, Override]) -> ZoneView:
        key = f"{building.id}.{zone.id}"
        setpoint = next((f"{key}.{p.id}" for p in zone.points
                         if p.role is Role.HEATING_SETPOINT), None)
        override = overrides.get(setpoint) if setpoint else None
        return ZoneView(key, building, zone, statuses.get(key), override, setpoint)

    # -- acting ----------------------------------------------------------------------------

    def override_zone(self, view: ZoneView, value: float, until: datetime, *, who: str,
                      why: str) -> int:
        """A setpoint for the zone until ``until``; refused outside the zone's bounds, in the
        past, or without a reason. It replaces the override in force, which ends now (the
        store does it, and the audit line says which it replaced)."""
        if view.setpoint_key is None:
            raise ActionError(f"La zone {view.zone.name} n'a pas de consigne à déroger.",
                              f"Zone {view.zone.name} has no setpoint to override.")
        bounds = self.site.bounds_of(view.zone)
        if not bounds.frost_floor <= value <= bounds.setpoint_ceiling:
            raise ActionError(
                f"La consigne {shortest(value)} °C est hors des limites de la zone "
                f"({shortest(bounds.frost_floor)} à {shortest(bounds.setpoint_ceiling)} °C).",
                f"Setpoint {value:g} °C is outside the zone's bounds "
                f"({bounds.frost_floor:g} to {bounds.setpoint_ceiling:g} °C).")
        now = self.now()
        self._check_until(now, until, OVERRIDE_DAYS, (
            "La fin de la dérogation doit être après maintenant.",
            "The override must end after now.",
            f"Une dérogation dure au plus {OVERRIDE_DAYS} jours ; pour plus, modifiez le "
            "programme.",
            f"An override lasts {OVERRIDE_DAYS} days at most; for longer, change the "
            "programme."))
        why = self._why(why)
        before = view.override
        override_id = self.store.overrides.add(view.setpoint_key, value, start=now, until=until,
                                              who=who, why=why, at=now)
        replaced = ("", "") if before is None else (
            f" — remplace la dérogation n° {before.id} {of_name(before.who)} "
            f"({shortest(before.value)} °C)",
            f" — replaces override {before.id} by {before.who} ({before.value:g} °C)")
        self.store.audit.record(
            now, "override", who,
            f"Dérogation {view.zone.name} : {shortest(value)} °C jusqu'au "
            f"{self.local(until):%d/%m %H:%M}{replaced[0]}", reason=why, site=self.site.id,
            building=view.building.id, zone=view.zone.id, point=view.setpoint_key,
            data={"value": value, "until": until.isoformat(), "override": override_id,
                  "replaced": before.id if before else None},
            message_en=f"Override {view.zone.name}: {value:g} °C until "
                       f"{self.local(until):%d/%m %H:%M}{replaced[1]}")
        return override_id

    def cancel_override(self, view: ZoneView, *, who: str, why: str,
                        default: Reason = CANCELLED_HERE) -> None:
        """End the zone's override; ``default`` is the reason when none is given."""
        if view.override is None:
            raise ActionError("Aucune dérogation en cours sur cette zone.",
                              "No override holds on this zone.", 409)
        now = self.now()
        reason, reason_en = _reason(why, default)
        self.store.overrides.cancel(view.override.id, at=now, who=who, why=reason)
        self.store.audit.record(
            now, "override_cancelled", who, f"Dérogation {view.zone.name} annulée",
            reason=reason, site=self.site.id, building=view.building.id, zone=view.zone.id,
            point=view.setpoint_key, data={"override": view.override.id},
            message_en=f"Override {view.zone.name} cancelled", reason_en=reason_en)

    def set_learning(self, view: ZoneView, enabled: bool, *, who: str) -> None:
        now = self.now()
        self.store.learning.switch(view.key, enabled, at=now, who=who)
        state = ("activé", "on") if enabled else ("désactivé", "off")
        self.store.audit.record(
            now, "learning", who, f"Apprentissage {state[0]} : {view.zone.name}",
            reason=FROM_HERE.fr, site=self.site.id, building=view.building.id,
            zone=view.zone.id, data={"enabled": enabled},
            message_en=f"Learning {state[1]}: {view.zone.name}", reason_en=FROM_HERE.en)


    def active_alarms(self) -> list[Alarm]:
        """The alarms not cleared yet, newest raised first."""
        return list(reversed(self.store.alarms.active().values()))

    def acknowledge_alarm(self, alarm_id: int, *, who: str) -> Alarm:
        """A person has seen the alarm; it stays until its condition clears."""
        now = self.now()
        try:
            alarm = self.store.alarms.acknowledge(alarm_id, at=now, who=who)
        except NotFoundError:
            raise NotFound(f"Alarme inconnue : {alarm_id}", f"Unknown alarm: {alarm_id}") from None
        except ConflictError as exc:
            raise ActionError(f"Alarme déjà acquittée : {exc}",
                              f"Alarm already acknowledged: {exc}", 409) from None
        self.store.audit.record(
            now, "alarm_acknowledged", who, f"Alarme acquittée : {alarm.message}",
            site=self.site.id, building=alarm.building, zone=alarm.zone, point=alarm.point,
            data={"alarm": alarm.id},
            message_en=f"Alarm acknowledged: {alarm.message_en or alarm.message}")
        return alarm

    # -- alarms, audit and export ----------------------------------------------------------

    def place(self, building_id: str | None, zone_id: str | None) -> str:
        """Where an alarm or a line of the log stands, by name (``Mairie — Accueil``); an id
        that the site file no longer has shows as it is, nothing as a dash."""
        building = next((b for b in self.site.buildings if b.id == building_id), None)
        if building is None:
            return " — ".join(part for part in (building_id, zone_id) if part) or "—"
        zone = next((z.name for z in building.zones if z.id == zone_id), zone_id)
        return " — ".join(part for part in (building.name, zone) if part)

    # -- lighting and programmes -----------------------------------------------------------

    def cabinet(self, cabinet_id: str) -> Cabinet:
        for cabinet in self.site.cabinets:
            if cabinet.id == cabinet_id:
                return cabinet
        raise NotFound(f"Armoire d'éclairage inconnue : {cabinet_id}",
                       f"Unknown lighting cabinet: {cabinet_id}")

    @staticmethod
    def relay_key(cabinet: Cabinet) -> str:
        """The cabinet's relay point: the one an immediate order overrides."""
        return next(f"{cabinet.id}.{p.id}" for p in cabinet.points
                    if p.role is Role.CABINET_RELAY)

    def cabinet_order(self, cabinet: Cabinet) -> Override | None:
        """The immediate order in force on a cabinet, if any."""
        return self.store.overrides.active(self.now()).get(self.relay_key(cabinet))

    def lighting_agenda(self) -> list[tuple[AgendaEntry, StoredAgendaEntry | None]]:
        """Lighting entries not yet ended: the site file's (None: not removable here), then
        the panel's."""
        return self._agenda_ahead(lambda entry: entry.kind in LIGHTING_KINDS)

    def zone_agenda(self, building: Building, zone: Zone
                    ) -> list[tuple[AgendaEntry, StoredAgendaEntry | None]]:
        """The events, closures and day exceptions not yet ended that concern a zone (its
        own, its building's, the whole site's)."""
        return self._agenda_ahead(lambda entry: entry.applies_to(building.id, zone.id))

    def _agenda_ahead(self, wanted: Callable[[AgendaEntry], bool]
                      ) -> list[tuple[AgendaEntry, StoredAgendaEntry | None]]:
        now = self._wall_now()
        site: list[tuple[AgendaEntry, StoredAgendaEntry | None]] = [
            (entry, None) for entry in self.site.agenda
            if wanted(entry) and (entry.last_day >= now.date() if entry.kind == "day"
                                  else entry.end is not None and entry.end > now)]
        stored: list[tuple[AgendaEntry, StoredAgendaEntry | None]] = [
            (s.entry, s) for s in self.store.agenda.entries(start=now) if wanted(s.entry)]
        return sorted(site + stored, key=lambda pair: (pair[0].first_day, pair[0].start
                                                       or datetime.min))

    def add_lighting_entry(self, cabinet_id: str, kind: str, label: str, start: datetime,
                           end: datetime, *, who: str) -> int:
        """Lights forced on (``lights_on``) or off (``lights_off``) on a cabinet from
        ``start`` to ``end``, the site's wall-clock times; 31 days at most. The store
        records the audit line."""
        cabinet = self.cabinet(cabinet_id)
        if kind not in LIGHTING_KINDS:
            raise ActionError(f"Type d'entrée inconnu : « {kind} » (allumer ou éteindre).",
                              f"Unknown kind of entry: '{kind}' (on or off).")
        self._check_span(start, end, LIGHTING_ENTRY_DAYS)
        return self._add_agenda({"kind": kind, "label": self._label(label),
                                 "scope": [cabinet.id], "start": start, "end": end}, who)

    def add_exception(self, building_id: str, zone_id: str, kind: str, label: str, *,
                      whole_building: bool, who: str, start: datetime | None = None,
                      end: datetime | None = None, first: date | None = None,
                      last: date | None = None, periods: str | Sequence[str] = ()) -> int:
        """An event (occupied), a closure (unoccupied) from ``start`` to ``end``, or a day
        exception (``periods`` instead of the programme's, none: closed) from ``first`` to
        ``last``, for the zone or its whole building; a year at most."""
        view = self.zone(building_id, zone_id)
        entry: dict[str, Any] = {
            "kind": kind, "label": self._label(label),
            "scope": [view.building.id if whole_building else view.key]}
        if kind in ("event", "closure"):
            if start is None or end is None:
                raise ActionError("Indiquez le début et la fin.", "Give the start and the end.")
            self._check_span(start, end, EXCEPTION_DAYS)
            entry.update(start=start, end=end)
        elif kind == "day":
            if first is None:
                raise ActionError("Indiquez le premier jour.", "Give the first day.")
            last = last or first
            _check_years((("le premier jour", "the first day"), first),
                         (("le dernier jour", "the last day"), last))
            begin = datetime.combine(first, datetime.min.time())
            self._check_span(begin, datetime.combine(last, datetime.min.time())
                             + timedelta(days=1), EXCEPTION_DAYS)
            texts = split_periods(bounded_day(periods, ("les périodes", "the periods")))
            problems = day_problems(("Jour particulier", "Special day"), texts)
            if problems:
                raise ActionError(" ".join(p[0] for p in problems),
                                  " ".join(p[1] for p in problems))
            entry.update(first=first, last=last, periods=texts)
        else:
            raise ActionError(f"Type d'exception inconnu : « {kind} ».",
                              f"Unknown kind of exception: '{kind}'.")
        return self._add_agenda(entry, who)

    def remove_agenda_entry(self, entry_id: int, *, who: str, kinds: Collection[str]
                            ) -> StoredAgendaEntry:
        """Take one of the panel's entries of these kinds out of the agenda (returned as
        it was); the store keeps who did and records the audit line."""
        try:
            stored = self.store.agenda.get(entry_id)
        except NotFoundError:
            stored = None
        if stored is None or stored.entry.kind not in kinds:
            raise NotFound(f"Entrée d'agenda inconnue : {entry_id}",
                           f"Unknown agenda entry: {entry_id}")
        self.store.agenda.delete(entry_id, at=self.now(), who=who)
        return stored

    def order_cabinet(self, cabinet_id: str, on: bool, until: datetime, *, who: str,
                      why: str) -> int:
        """The mayor's immediate on or off: an override of the cabinet's relay until
        ``until``, a week at most; it replaces an order in force, which ends now (the
        store does it, and the audit line says which it replaced)."""
        cabinet = self.cabinet(cabinet_id)
        now = self.now()
        self._check_until(now, until, ORDER_DAYS, (
            "La fin de l'ordre doit être après maintenant.", "The order must end after now.",
            f"Un ordre immédiat dure au plus {ORDER_DAYS} jours ; pour plus, ajoutez une "
            "entrée à l'agenda de l'éclairage.",
            f"An immediate order lasts {ORDER_DAYS} days at most; for longer, add an "
            "entry to the lighting agenda."))
        why = self._why(why)
        relay = self.relay_key(cabinet)
        before = self.cabinet_order(cabinet)
        order = self.store.overrides.add(relay, 1.0 if on else 0.0, start=now, until=until,
                                        who=who, why=why, at=now)
        state = ("allumé", "on") if on else ("éteint", "off")
        until_local = f"{self.local(until):%d/%m %H:%M}"
        replaced = ("", "") if before is None else (
            f" — remplace l'ordre n° {before.id} {of_name(before.who)}",
            f" — replaces order {before.id} by {before.who}")
        self.store.audit.record(
            now, "lighting_order", who,
            f"{cabinet.name} : {state[0]} jusqu'au {until_local}{replaced[0]}", reason=why,
            site=self.site.id, point=relay,
            data={"cabinet": cabinet.id, "on": on, "until": until.isoformat(),
                  "override": order, "replaced": before.id if before else None},
            message_en=f"{cabinet.name}: {state[1]} until {until_local}{replaced[1]}")
        return order

    def cancel_cabinet_order(self, cabinet_id: str, *, who: str, why: str = "",
                             default: Reason = ORDER_CANCELLED_HERE) -> None:
        """End the order in force: the timetable applies again at the engine's next tick;
        ``default`` is the reason when none is given."""
        cabinet = self.cabinet(cabinet_id)
        order = self.cabinet_order(cabinet)
        if order is None:
            raise ActionError(f"Aucun ordre en cours sur {cabinet.name}.",
                              f"No order holds on {cabinet.name}.", 409)
        now = self.now()
        reason, reason_en = _reason(why, default)
        self.store.overrides.cancel(order.id, at=now, who=who, why=reason)
        self.store.audit.record(
            now, "lighting_order_cancelled", who, f"{cabinet.name} : ordre annulé",
            reason=reason, site=self.site.id, point=order.point,
            data={"cabinet": cabinet.id, "override": order.id},
            message_en=f"{cabinet.name}: order cancelled", reason_en=reason_en)

    def programmes(self) -> dict[str, tuple[Programme, ProgrammeVersion | None]]:
        """Each zone's weekly programme as the engine applies it: the latest saved in the
        panel (with its version), else the site file's (None)."""
        saved = self.store.programmes.latest()
        found: dict[str, tuple[Programme, ProgrammeVersion | None]] = {}
        for building in self.site.buildings:
            for zone in building.zones:
                key = f"{building.id}.{zone.id}"
                found[key] = (self.site.programme_of(building, zone), None)
                version = saved.get(key)
                # The engine applies the site file's in place of a version it cannot read.
                if version is not None and version.programme is not None:
                    found[key] = (version.programme, version)
        return found

    def save_programme(self, building_id: str, zone_id: str,
                       days: Mapping[str, str | Sequence[str]], *, who: str, why: str = ""
                       ) -> int | None:
        """A new version of a zone's weekly programme, from each day's periods (text such
        as ``08:00-12:00, 14:00-18:00`` or a list); a day left out is unoccupied. Refused
        whole, naming each day and period at fault; None when nothing changed."""
        view = self.zone(building_id, zone_id)
        unknown = sorted(set(days) - set(WEEKDAYS))
        if unknown:
            raise ActionError(f"Jour inconnu : {', '.join(unknown)} (mon … sun).",
                              f"Unknown day: {', '.join(unknown)} (mon … sun).")
        texts = {day: split_periods(bounded_day(value, day_names(day)))
                 for day, value in days.items()}
        reason, reason_en = _reason(why, FROM_HERE)
        problems = [p for found in week_problems(texts).values() for p in found]
        if problems:
            raise ActionError("Programme non enregistré. " + " ".join(p[0] for p in problems),
                              "Programme not saved. " + " ".join(p[1] for p in problems))
        programme = Programme.model_validate(texts)
        before, _ = self.programmes()[view.key]
        if programme == before:
            return None
        now = self.now()
        version = self.store.programmes.save(view.key, programme, at=now, who=who)
        self.store.audit.record(
            now, "programme_saved", who,
            f"Programme {of_name(view.building.name)} / {view.zone.name} : version {version}",
            reason=reason, site=self.site.id, building=view.building.id, zone=view.zone.id,
            data={"version": version, "programme": programme.model_dump(mode="json"),
                  "before": before.model_dump(mode="json")},
            message_en=f"Programme of {view.building.name} / {view.zone.name}: version "
                       f"{version}", reason_en=reason_en)
        return version

    def _wall_now(self) -> datetime:
        """Now as the agenda writes times: the site's wall clock, without offset."""
        return self.local(self.now()).replace(tzinfo=None, second=0, microsecond=0)

    def _check_span(self, start: datetime, end: datetime, longest_days: int) -> None:
        """An agenda span a person asks for (wall-clock times): ends after it starts, not
        over a day in the past, and not too long."""
        _check_years((("le début", "the start"), start), (("la fin", "the end"), end))
        if end <= start:
            raise ActionError(
                f"La fin ({end:%d/%m/%Y %H:%M}) doit être après le début "
                f"({start:%d/%m/%Y %H:%M}).",
                f"The end ({end:%d/%m/%Y %H:%M}) must come after the start "
                f"({start:%d/%m/%Y %H:%M}).")
        if start < self._wall_now() - timedelta(days=1):
            raise ActionError(f"Le début ({start:%d/%m/%Y %H:%M}) est passé depuis plus d'un "
                              "jour.", f"The start ({start:%d/%m/%Y %H:%M}) is more than a "
                              "day in the past.")
        if end - start > timedelta(days=longest_days):
            raise ActionError(f"Une entrée dure au plus {longest_days} jours.",
                              f"An entry lasts {longest_days} days at most.")

    @staticmethod
    def _label(label: str) -> str:
        label = label.strip()
        if not label:
            raise ActionError("Donnez un nom à l'entrée (« Marché de Noël »).",
                              "Give the entry a name ('Christmas market').")
        return bounded(label, ("le nom", "the name"), limits.LABEL)

    def _check_until(self, now: datetime, until: datetime, longest_days: int,
                     texts: tuple[str, str, str, str]) -> None:
        """An end a person asks for: after now, and not too far (``texts``: past in French
        and English, too long in French and English)."""
        if until <= now:
            raise ActionError(texts[0], texts[1])
        if until - now > timedelta(days=longest_days):
            raise ActionError(texts[2], texts[3])

    @staticmethod
    def _why(why: str) -> str:
        why = bounded(why.strip(), REASON_FIELD, limits.REASON)
        if not why:
            raise ActionError("Dites pourquoi : la raison est gardée dans le journal.",
                              "Say why: the reason is kept in the audit log.")
        return why

    def _add_agenda(self, entry: Mapping[str, Any], who: str) -> int:
        try:
            return self.store.agenda.add(entry, at=self.now(), who=who)
        except ValueError as exc:  # what the model refuses that the checks above let by
            raise ActionError(f"Entrée refusée : {exc}", f"Entry refused: {exc}") from None


def panel() -> Panel:
    found: Panel = current_app.extensions["gtb"]
    return found
