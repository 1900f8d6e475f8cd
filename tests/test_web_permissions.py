"""The permission matrix of the panel's pages: every route, every role. A new route must
be added to MATRIX, which is how it gets its role (the JSON API has its own matrix, in
tests/test_api.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gtb.model import Site
from gtb.store.accounts import UserRole

from .web_rig import ROLES, PanelRig, csrf, panel_rig

VIEWER, OPERATOR, ADMIN = UserRole.VIEWER, UserRole.OPERATOR, UserRole.ADMIN
MATRIX: dict[tuple[str, str], tuple[str, UserRole]] = {
    ("GET", "pages.overview"): ("/", VIEWER),
    ("GET", "pages.building"): ("/building/mairie", VIEWER),
    ("GET", "pages.zone"): ("/zone/mairie/accueil", VIEWER),
    ("GET", "pages.series"): ("/zone/mairie/accueil/series", VIEWER),
    ("POST", "pages.override"): ("/zone/mairie/accueil/override", OPERATOR),
    ("POST", "pages.cancel"): ("/zone/mairie/accueil/cancel", OPERATOR),
    ("POST", "pages.learning"): ("/zone/mairie/accueil/learning", OPERATOR),
    ("GET", "lighting.index"): ("/lighting", VIEWER),
    ("POST", "lighting.order"): ("/lighting/order", OPERATOR),
    ("POST", "lighting.cancel"): ("/lighting/ep-centre/cancel", OPERATOR),
    ("POST", "lighting.add_entry"): ("/lighting/entries", OPERATOR),
    ("POST", "lighting.remove_entry"): ("/lighting/entries/1/remove", OPERATOR),
    ("GET", "programmes.index"): ("/programmes", VIEWER),
    ("GET", "programmes.zone"): ("/programmes/mairie/accueil", VIEWER),
    ("POST", "programmes.save"): ("/programmes/mairie/accueil", OPERATOR),
    ("POST", "programmes.add_exception"): ("/programmes/mairie/accueil/exceptions", OPERATOR),
    ("POST", "programmes.remove_exception"): ("/programmes/mairie/accueil/exceptions/1/remove",
                                              OPERATOR),
    ("GET", "alarms.index"): ("/alarms", VIEWER),
    ("POST", "alarms.acknowledge"): ("/alarms/1/ack", OPERATOR),
    ("GET", "audit.index"): ("/audit", VIEWER),
    ("GET", "export.index"): ("/export", VIEWER),
    ("GET", "export.download"): ("/export/download?from=2026-01-01&to=2026-01-02", VIEWER),
    ("GET", "export.guide"): ("/export/guide", VIEWER),
    ("GET", "savings.index"): ("/savings", VIEWER),
    ("GET", "savings.building"): ("/savings/mairie", VIEWER),
    ("GET", "savings.report"): ("/savings/report?month=2026-01", VIEWER),
    ("GET", "admin.index"): ("/admin", ADMIN),
    ("POST", "admin.set_disabled"): ("/admin/users/marie/disabled", ADMIN),
    ("POST", "admin.revoke_token"): ("/admin/tokens/1/revoke", ADMIN),
    ("POST", "admin.end_sessions"): ("/admin/users/marie/sessions/end", ADMIN),
}
PUBLIC = {"static", "auth.login", "auth.logout", "pages.language"}
RANK = {UserRole.VIEWER: 0, UserRole.OPERATOR: 1, UserRole.ADMIN: 2}


@pytest.fixture
def rig(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    yield from panel_rig(demo_site, tmp_path / "gtb.sqlite")


def test_every_page_route_is_in_the_matrix(rig: PanelRig) -> None:
    routes = {(method, rule.endpoint) for rule in rig.app.url_map.iter_rules()
              for method in rule.methods or () if method in ("GET", "POST", "DELETE")}
    pages = {r for r in routes if not r[1].startswith("api.") and r[1] not in PUBLIC}
    assert pages == set(MATRIX)


@pytest.mark.parametrize("route", sorted(MATRIX))
def test_each_role_gets_what_its_rank_allows(rig: PanelRig, route: tuple[str, str]) -> None:
    method, _ = route
    path, needed = MATRIX[route]
    anonymous = rig.client()
    response = anonymous.open(path, method=method)
    response.close()
    assert response.status_code == (302 if method == "GET" else 400), "sign-in or CSRF first"
    for name, role in ROLES.items():
        client = rig.client(name)
        token = csrf(client, "/login")
        response = client.open(path, method=method, data={"csrf_token": token})
        response.close()  # a streamed download holds its request until closed
        if RANK[role] < RANK[needed]:
            assert response.status_code == 403, (name, path)
        else:
            assert response.status_code not in (401, 403), (name, path, response.status_code)
