"""What every view needs: the site, the store and the clock, and the actions that change
the store, with their validation and their line in the audit log. Forms and the JSON API
call the same actions, so they accept and refuse the same things."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from gtb.clock import Clock
from gtb.model import Building, Role, Site, Zone
from gtb.store import (
    Alarm,
    ConflictError,
    NotFoundError,
    Override,
    Status,
    Store,
    UserRole,
)


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


RANK = {UserRole.VIEWER: 0, UserRole.OPERATOR: 1, UserRole.ADMIN: 2}


def may(role: UserRole, needed: UserRole) -> bool:
    return RANK[role] >= RANK[needed]


@dataclass(frozen=True)
class ZoneView:
    """A zone as the panel shows it: the site file's zone and the engine's last status."""

    key: str
    building: Building
    zone: Zone
    status: Status | None
    override: Override | None
    setpoint_key: str | None

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.status.data) if self.status is not None else {}


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
                return self._view(building, zone, self.store.status("zone"),
                                  self.store.active_overrides(self.now()))
        raise NotFound(f"Zone inconnue : {building_id}.{zone_id}",
                       f"Unknown zone: {building_id}.{zone_id}")

    def zones(self, building: Building | None = None) -> list[ZoneView]:
        statuses = self.store.status("zone")
        overrides = self.store.active_overrides(self.now())
        buildings = [building] if building is not None else list(self.site.buildings)
        return [self._view(b, z, statuses, overrides) for b in buildings for z in b.zones]

    def _view(self, building: Building, zone: Zone, statuses: dict[str, Status],
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
        past, or without a reason."""
        if view.setpoint_key is None:
            raise ActionError(f"La zone {view.zone.name} n'a pas de consigne à déroger.",
                              f"Zone {view.zone.name} has no setpoint to override.")
        bounds = self.site.bounds_of(view.zone)
        if not bounds.frost_floor <= value <= bounds.setpoint_ceiling:
            raise ActionError(
                f"La consigne {value:g} °C est hors des limites de la zone "
                f"({bounds.frost_floor:g} à {bounds.setpoint_ceiling:g} °C).",
                f"Setpoint {value:g} °C is outside the zone's bounds "
                f"({bounds.frost_floor:g} to {bounds.setpoint_ceiling:g} °C).")
        now = self.now()
        if until <= now:
            raise ActionError("La fin de la dérogation doit être après maintenant.",
                              "The override must end after now.")
        if until - now > timedelta(days=31):
            raise ActionError("Une dérogation dure au plus 31 jours ; pour plus, modifiez le "
                              "programme.", "An override lasts 31 days at most; for longer, "
                              "change the programme.")
        why = why.strip()
        if not why:
            raise ActionError("Dites pourquoi : la raison est gardée dans le journal.",
                              "Say why: the reason is kept in the audit log.")
        override_id = self.store.add_override(view.setpoint_key, value, start=now, until=until,
                                              who=who, why=why, at=now)
        self.store.record_event(
            now, "override", who,
            f"Dérogation {view.zone.name} : {value:g} °C jusqu'au "
            f"{self.local(until):%d/%m %H:%M}", reason=why, site=self.site.id,
            building=view.building.id, zone=view.zone.id, point=view.setpoint_key,
            data={"value": value, "until": until.isoformat(), "override": override_id})
        return override_id

    def cancel_override(self, view: ZoneView, *, who: str, why: str) -> None:
        if view.override is None:
            raise ActionError("Aucune dérogation en cours sur cette zone.",
                              "No override holds on this zone.", 409)
        now = self.now()
        reason = why.strip() or "annulée depuis le panneau"
        self.store.cancel_override(view.override.id, at=now, who=who, why=reason)
        self.store.record_event(
            now, "override_cancelled", who, f"Dérogation {view.zone.name} annulée",
            reason=reason, site=self.site.id, building=view.building.id, zone=view.zone.id,
            point=view.setpoint_key, data={"override": view.override.id})

    def set_learning(self, view: ZoneView, enabled: bool, *, who: str) -> None:
        now = self.now()
        self.store.set_learning(view.key, enabled, at=now, who=who)
        state = ("activé", "on") if enabled else ("désactivé", "off")
        self.store.record_event(
            now, "learning", who, f"Apprentissage {state[0]} : {view.zone.name}",
            reason="depuis le panneau", site=self.site.id, building=view.building.id,
            zone=view.zone.id, data={"enabled": enabled})


    def acknowledge_alarm(self, alarm_id: int, *, who: str) -> Alarm:
        """A person has seen the alarm; it stays until its condition clears."""
        now = self.now()
        try:
            alarm = self.store.acknowledge_alarm(alarm_id, at=now, who=who)
        except NotFoundError:
            raise NotFound(f"Alarme inconnue : {alarm_id}", f"Unknown alarm: {alarm_id}") from None
        except ConflictError as exc:
            raise ActionError(f"Alarme déjà acquittée : {exc}",
                              f"Alarm already acknowledged: {exc}", 409) from None
        self.store.record_event(
            now, "alarm_acknowledged", who, f"Alarme acquittée : {alarm.message}",
            site=self.site.id, building=alarm.building, zone=alarm.zone, point=alarm.point,
            data={"alarm": alarm.id})
        return alarm


def panel() -> Panel:
    found: Panel = current_app.extensions["gtb"]
    return found
