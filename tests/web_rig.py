"""The panel on a real store file, for tests: one account per role, a test client per person.

The engine does not run here: tests that need its status write it as the engine does
(``PanelRig.show_zone``, ``PanelRig.show_output``: the store's typed records, and
``PanelRig.publish_outlook`` for the nights and holidays it publishes); the end-to-end
browser test runs the real engine."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient

from controllers.schedule import FrenchCalendar
from gtb.clock import SimulatedClock
from gtb.engine import outlook
from gtb.model import Site
from gtb.model.points import HeatingLevel, Quality
from gtb.store import Store
from gtb.store.accounts import UserRole
from gtb.store.status import OutputStatus, ZoneStatus
from gtb.texts import said
from web import PanelConfig, create_app
from web.auth import hash_password

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 1, 12, 10, 0, tzinfo=PARIS)
PASSWORD = "correct horse battery"
ROLES = {"mairie-viewer": UserRole.VIEWER, "marie": UserRole.OPERATOR, "admin": UserRole.ADMIN}


@dataclass
class PanelRig:
    app: Flask
    store: Store
    clock: SimulatedClock
    site: Site

    def client(self, name: str | None = None) -> FlaskClient:
        """A client signed in as ``name`` (none: anonymous), with CSRF on."""
        client = self.app.test_client()
        if name is not None:
            token = csrf(client, "/login")
            response = client.post("/login", data={"name": name, "password": PASSWORD,
                                                   "csrf_token": token})
            assert response.status_code == 302, response.data
        return client

    def publish_outlook(self) -> None:
        """What the engine publishes at its first tick of the night and of the day: each
        cabinet's night and the holidays ahead, as of the rig's clock."""
        now = self.clock.now()
        calendar = FrenchCalendar(self.site.school_zone, self.site.alsace_moselle)
        nights, holidays = outlook.records(
            self.site, calendar, *outlook.due(self.site, now.astimezone(self.site.tz)), at=now)
        self.store.status.save_outlook(now, nights, holidays)

    def show_zone(self, key: str, at: datetime, **fields: Any) -> ZoneStatus:
        """The engine's status of one zone at ``at``, as its tick writes it: reduced at
        16 °C by the programme unless ``fields`` say otherwise."""
        status = zone_status(self.site, key, at, **fields)
        self.store.status.save(at, [status], ())
        return status

    def show_output(self, kind: str, key: str, at: datetime, **fields: Any) -> OutputStatus:
        """The engine's status of one output (``cabinet``, ``circuit``, ``equipment``)."""
        status = OutputStatus(kind=kind, id=key, name=key, at=at,
                              **{"on": False, "reason": said("test", "test"), **fields})
        self.store.status.save(at, (), [status])
        return status


def zone_status(site: Site, key: str, at: datetime, **fields: Any) -> ZoneStatus:
    """A zone's status record with what a test does not care about filled in."""
    building_id, zone_id = key.split(".")
    building = next(b for b in site.buildings if b.id == building_id)
    zone = next(z for z in building.zones if z.id == zone_id)
    defaults: dict[str, Any] = {
        "temperature": 18.0, "quality": Quality.OK, "level": HeatingLevel.REDUCED,
        "setpoint": 16.0, "reason": said("Inoccupé : réduit 16,0 °C",
                                           "Unoccupied: reduced 16.0 °C"),
        "degraded": False}
    return ZoneStatus(building=building_id, zone=zone_id, name=zone.name, at=at,
                      **{**defaults, **fields})


def csrf(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on ``path``."""
    return csrf_in(client.get(path).get_data(as_text=True))


def csrf_in(page: str) -> str:
    """The CSRF token of the form in a page's HTML."""
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


def panel_rig(site: Site, db: Path, *, published: bool = False,
              **config: Any) -> Iterator[PanelRig]:
    """The rig; ``published``: with what the engine publishes at its first tick (each
    cabinet's night, the holidays ahead: ``PanelRig.publish_outlook``); ``config``: more
    of ``PanelConfig`` (``trusted_proxies``, ``sessions``)."""
    store = Store(db)
    for name, role in ROLES.items():
        store.accounts.add_user(name, hash_password(PASSWORD), role, at=NOW)
    clock = SimulatedClock(NOW)
    app = create_app(PanelConfig(site=site, store_path=db, clock=clock, secret_key="test-key",
                                 **config))
    app.config["TESTING"] = True
    rig = PanelRig(app, store, clock, site)
    if published:
        rig.publish_outlook()
    try:
        yield rig
    finally:
        app.extensions["gtb"].store.close()
        store.close()
