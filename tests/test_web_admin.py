"""The administration page through Flask's test client on a real store file: the admin alone
sees the accounts and tokens, disables and enables an account (not their own) and revokes a
token, each change with its audit line; refusals change nothing; the page in English."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from gtb.model import Site
from gtb.store.accounts import ApiToken
from web import account_changes, admin
from web.auth import hash_token

from .web_rig import NOW, PanelRig, csrf, panel_rig

TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"


@pytest.fixture
def rig(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    yield from panel_rig(demo_site, tmp_path / "gtb.sqlite")


@pytest.fixture
def token(rig: PanelRig) -> ApiToken:
    """Marie's token for her meter readings, made with ``gtb users`` yesterday."""
    made, _ = account_changes.add_token(
        rig.store, "marie", "relevés des compteurs", days=30,
        by=account_changes.Actor.command_line(), at=NOW - timedelta(days=1))
    return made


def text(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.data
    return html.unescape(response.get_data(as_text=True))


def post(client: FlaskClient, path: str, **form: str) -> tuple[int, str]:
    response = client.post(path, data={"csrf_token": csrf(client, "/login"), **form})
    return response.status_code, html.unescape(response.get_data(as_text=True))


def test_the_admin_alone_sees_the_page_and_its_link(rig: PanelRig, token: ApiToken) -> None:
    for name in ("mairie-viewer", "marie"):
        client = rig.client(name)
        assert client.get("/admin").status_code == 403
        assert 'href="/admin"' not in text(client, "/")
    client = rig.client("admin")
    assert 'href="/admin"' in text(client, "/")
    page = text(client, "/admin")
    accounts = page[page.index('id="accounts"'):page.index('id="tokens"')]
    for name, role in (("mairie-viewer", "lecteur"), ("marie", "opérateur"),
                       ("admin", "administrateur")):
        row = accounts[accounts.index(f">{name}</th>"):]
        assert row[:row.index("</tr>")].count(role) == 1
    assert accounts.count("compte actif") == 3 and accounts.count("Désactiver") == 2
    assert "votre compte" in accounts  # no button to disable oneself
    tokens = page[page.index('id="tokens"'):]
    assert "relevés des compteurs" in tokens and "marie" in tokens
    assert "11/01/2026 10:00" in tokens and "10/02/2026 10:00" in tokens  # made, expires
    assert "jamais" in tokens and "valide" in tokens  # never used yet
    assert f'action="/admin/tokens/{token.id}/revoke"' in tokens


def test_the_page_shows_last_use_expired_and_unexpiring_tokens(rig: PanelRig,
                                                               token: ApiToken) -> None:
    store = rig.store
    store.accounts.add_token("marie", hash_token("used"), "supervision", at=NOW - timedelta(
        days=40), expires_at=NOW + timedelta(days=1))
    store.accounts.token_user(hash_token("used"), at=NOW - timedelta(hours=3))
    store.accounts.add_token("marie", hash_token("old"), "ancien script",
                             at=NOW - timedelta(days=40), expires_at=NOW - timedelta(days=10))
    with store.db.write() as conn:  # as made before tokens had an expiry
        conn.execute("INSERT INTO api_tokens (user, token_hash, label, created_at) "
                     "VALUES ('admin', 'h', 'sauvegarde', 0)")
    page = text(rig.client("admin"), "/admin")
    row = page[page.index("supervision"):]
    assert "12/01/2026 07:00" in row[:row.index("</tr>")]  # last used, Paris time
    row = page[page.index("ancien script"):]
    assert "expiré" in row[:row.index("</tr>")]
    row = page[page.index("sauvegarde"):]
    assert "sans expiration" in row[:row.index("</tr>")]
    assert "révoquez-le et créez-en un autre" in page


def test_the_admin_disables_an_account_then_enables_it(rig: PanelRig, token: ApiToken) -> None:
    marie = rig.client("marie")
    assert marie.get("/").status_code == 200
    rig.store.accounts.add_token("marie", hash_token("gtb_script"), "script", at=NOW,
                                 expires_at=NOW + timedelta(days=1))
    assert rig.store.accounts.token_user(hash_token("gtb_script"), at=NOW) is not None
    client = rig.client("admin")
    rig.clock.advance(60)
    status, _ = post(client, "/admin/users/marie/disabled", disabled="1")
    assert status == 302
    user = rig.store.accounts.user("marie")
    assert user is not None and user.disabled
    assert "Compte désactivé." in text(client, "/admin")
    assert marie.get("/").status_code == 302  # signed out: back to the sign-in page
    assert rig.store.accounts.token_user(hash_token("gtb_script"), at=NOW) is None
    [line] = rig.store.audit.events(kind="user_disabled")
    assert (line.actor, line.ts, line.message, line.reason, line.site) == (
        "admin", NOW + timedelta(minutes=1), "Compte marie désactivé", "depuis le panneau",
        rig.site.id)
    assert line.data == {"user": "marie"}
    status, _ = post(client, "/admin/users/marie/disabled", disabled="0")
    assert status == 302
    user = rig.store.accounts.user("marie")
    assert user is not None and not user.disabled
    assert [e.actor for e in rig.store.audit.events(kind="user_enabled")] == ["admin"]


def test_the_admin_signs_an_account_out_everywhere(rig: PanelRig, token: ApiToken) -> None:
    phone, desk = rig.client("marie"), rig.client("marie")
    assert phone.get("/").status_code == desk.get("/").status_code == 200
    client = rig.client("admin")
    page = text(client, "/admin")
    marie = page[page.index(">marie<"):page.index('id="tokens"')]
    assert "Déconnecter partout" in marie.split("</tr>")[0]
    rig.clock.advance(60)
    status, _ = post(client, "/admin/users/marie/sessions/end")
    assert status == 302
    assert phone.get("/").status_code == desk.get("/").status_code == 302  # signed out
    assert client.get("/admin").status_code == 200  # the admin's own session goes on
    assert rig.store.accounts.token_user(hash_token("gtb_unknown"), at=NOW) is None
    assert rig.store.accounts.tokens() == [token]  # tokens are untouched
    [line] = rig.store.audit.events(kind="sessions_ended")
    assert (line.actor, line.ts, line.data) == ("admin", NOW + timedelta(minutes=1),
                                                {"user": "marie", "sessions": 2})
    page = text(client, "/admin")
    marie = page[page.index(">marie<"):page.index('id="tokens"')].split("</tr>")[0]
    assert "aucune session ouverte" in marie and "Déconnecter partout" not in marie


@pytest.mark.parametrize(("path", "form", "status", "said"), [
    ("/admin/users/admin/disabled", {"disabled": "1"}, 409,
     "Vous ne pouvez pas désactiver votre propre compte."),
    ("/admin/users/marie/disabled", {"disabled": "0"}, 409, "Le compte marie est déjà actif."),
    ("/admin/users/marie/disabled", {"disabled": "oui"}, 400, "Indiquez disabled=1"),
    ("/admin/users/marie/disabled", {}, 400, "Indiquez disabled=1"),
    ("/admin/users/paul/disabled", {"disabled": "1"}, 404, "Compte inconnu : paul"),
    ("/admin/users/a/b/disabled", {"disabled": "1"}, 404, "Compte inconnu : a/b"),
    ("/admin/tokens/99/revoke", {}, 404, "Jeton d'API inconnu : n° 99"),
    (f"/admin/tokens/{2**70}/revoke", {}, 404, "Page introuvable"),  # no id SQLite holds
])
def test_a_refused_change_says_why_and_changes_nothing(
    rig: PanelRig, token: ApiToken, path: str, form: dict[str, str], status: int, said: str
) -> None:
    client = rig.client("admin")

    def snapshot() -> tuple[object, ...]:
        store = rig.store
        return store.accounts.users(), store.accounts.tokens(), store.audit.events(limit=1000)

    before = snapshot()
    answer, page = post(client, path, **form)
    assert (answer, said in page) == (status, True), page
    assert snapshot() == before


def test_the_admin_revokes_a_token(rig: PanelRig, token: ApiToken) -> None:
    client = rig.client("admin")
    assert client.post(f"/admin/tokens/{token.id}/revoke").status_code == 400  # no CSRF token
    assert rig.store.accounts.token(token.id) == token
    status, _ = post(client, f"/admin/tokens/{token.id}/revoke")
    assert status == 302
    revoked = rig.store.accounts.token(token.id)
    assert revoked is not None and revoked.revoked_at == NOW
    page = text(client, "/admin")
    assert "Jeton révoqué." in page and "révoqué le 12/01/2026 10:00" in page
    assert f'action="/admin/tokens/{token.id}/revoke"' not in page
    [line] = rig.store.audit.events(kind="token_revoked")
    assert (line.actor, line.message, line.data) == (
        "admin", f"Jeton d'API n° {token.id} « relevés des compteurs » de marie révoqué",
        {"user": "marie", "token": token.id})
    status, page = post(client, f"/admin/tokens/{token.id}/revoke")
    assert status == 409 and f"Le jeton d'API n° {token.id} est déjà révoqué." in page


def test_the_page_in_english(rig: PanelRig, token: ApiToken) -> None:
    client = rig.client("admin")
    client.get("/lang/en")
    page = text(client, "/admin")
    for english in ("Accounts", "API tokens", "operator", "active account", "Disable",
                    "your account", "Label", "Expires", "Last used", "never", "valid",
                    "Revoke", "Accounts and tokens are made on the server"):
        assert english in page, english
    for french in ("Comptes", "Désactiver", "Révoquer", "jamais", "opérateur"):
        assert french not in page, french
    # Each cell's label on a phone, with each language's colon.
    assert 'data-label="State:"' in page and 'data-label="Role:"' in page
    status, page = post(client, "/admin/users/admin/disabled", disabled="1")
    assert status == 409 and "You cannot disable your own account." in page
    client.get("/lang/fr")
    assert 'data-label="État\u00a0:"' in text(client, "/admin")


def test_every_text_of_the_page_has_its_english(rig: PanelRig) -> None:
    texts = re.findall(r'_\("([^"]+)"\)', (TEMPLATES / "admin.html").read_text(encoding="utf-8"))
    catalog = rig.app.extensions["gtb_i18n"]
    assert len(texts) > 20
    assert [text for text in texts if text not in catalog] == []
    assert {text: catalog[text] for text in admin.EN if catalog[text] != admin.EN[text]} == {}
