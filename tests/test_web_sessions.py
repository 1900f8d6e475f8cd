"""Sessions the server ends (sign-out, lifetime, idle time, a password changed, an account
disabled, "sign out everywhere"), sign-in limits on failures only, the client's address
behind trusted proxies, and redirects that never leave the site: through Flask's test
client on a real store file, the clock moved by hand (``SimulatedClock``)."""

from __future__ import annotations

import html
import http.cookiejar
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from gtb.cli import main
from gtb.cli.wiring import PanelAddress
from gtb.clock import SimulatedClock
from gtb.model import Site
from gtb.store.sessions import SessionRules, SignInLimits
from web import PanelConfig, PanelServer, create_app
from web.proxies import client_address, parse_networks

from .conftest import free_port
from .web_rig import NOW, PASSWORD, PanelRig, csrf, csrf_in, panel_rig


@pytest.fixture
def rig(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    yield from panel_rig(demo_site, tmp_path / "gtb.sqlite")


@pytest.fixture
def proxied(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    """The panel behind a reverse proxy on 127.0.0.1 and a load balancer in 10.0.0.0/8."""
    yield from panel_rig(demo_site, tmp_path / "gtb.sqlite",
                         trusted_proxies=parse_networks("127.0.0.1, 10.0.0.0/8"))


def signed_in(client: FlaskClient) -> bool:
    response = client.get("/")
    return response.status_code == 200


def sign_in(client: FlaskClient, name: str, password: str, *, query: str = "",
            **environ: Any) -> Any:
    token = csrf(client, "/login")
    return client.post("/login?" + query, data={"name": name, "password": password,
                                                "csrf_token": token},
                       environ_base=environ)


def sign_out(client: FlaskClient) -> None:
    response = client.post("/logout", data={"csrf_token": csrf(client, "/")})
    assert response.status_code == 302


def minutes(n: float) -> float:
    return n * 60


# -- sessions ----------------------------------------------------------------------------------


def test_a_copied_cookie_is_worthless_after_sign_out(rig: PanelRig) -> None:
    marie = rig.client("marie")
    cookie = marie.get_cookie("session")
    assert cookie is not None
    thief = rig.app.test_client()
    thief.set_cookie("session", cookie.value)
    assert signed_in(thief)
    sign_out(marie)
    assert not signed_in(marie) and not signed_in(thief)
    assert thief.get("/").headers["Location"].startswith("/login")


def test_the_cookie_carries_a_session_id_the_store_keeps_only_hashed(rig: PanelRig) -> None:
    client = rig.client("marie")
    [session] = rig.store.sessions.of_user("marie", at=NOW)
    assert session.created_at == NOW and session.ended_at is None
    cookie = client.get_cookie("session")
    assert cookie is not None
    serializer = rig.app.session_interface.get_signing_serializer(rig.app)
    data = serializer.loads(cookie.value)
    session_id = data["_user_id"]
    assert len(session_id) >= 43  # 32 random bytes in base64
    stored = rig.store.db.conn().execute("SELECT id_hash FROM sessions").fetchone()[0]
    assert session_id not in stored and "marie" not in str(dict(data))


def test_a_session_ends_when_idle_for_two_hours(rig: PanelRig) -> None:
    client = rig.client("marie")
    rig.clock.advance(minutes(119))
    assert signed_in(client)  # and the idle time starts again
    rig.clock.advance(minutes(119))
    assert signed_in(client)
    rig.clock.advance(minutes(121))
    assert not signed_in(client)
    assert rig.store.sessions.of_user("marie", at=rig.clock.now()) == []


def test_a_session_ends_twelve_hours_after_sign_in_however_used(rig: PanelRig) -> None:
    client = rig.client("marie")
    for _ in range(11):
        rig.clock.advance(minutes(60))
        assert signed_in(client)
    rig.clock.advance(minutes(59))
    assert signed_in(client)
    rig.clock.advance(minutes(1))
    assert not signed_in(client)


def test_the_last_request_is_written_at_most_once_a_minute(rig: PanelRig) -> None:
    client = rig.client("marie")
    rig.clock.advance(30)
    assert signed_in(client)
    [session] = rig.store.sessions.of_user("marie", at=rig.clock.now())
    assert session.last_seen_at == NOW
    rig.clock.advance(31)
    assert signed_in(client)
    [session] = rig.store.sessions.of_user("marie", at=rig.clock.now())
    assert session.last_seen_at == NOW + timedelta(seconds=61)


def test_lifetime_and_idle_time_are_the_panels_settings(demo_site: Site, tmp_path: Path) -> None:
    rules = SessionRules(lifetime=timedelta(hours=1), idle=timedelta(minutes=10))
    for rig in panel_rig(demo_site, tmp_path / "gtb.sqlite", sessions=rules):
        client = rig.client("marie")
        rig.clock.advance(minutes(11))
        assert not signed_in(client)
        client = rig.client("marie")
        for _ in range(6):
            rig.clock.advance(minutes(9))
            assert signed_in(client)
        rig.clock.advance(minutes(7))
        assert not signed_in(client)


def test_a_new_password_or_a_disabled_account_ends_its_sessions_only(rig: PanelRig) -> None:
    marie, marie_too, admin = rig.client("marie"), rig.client("marie"), rig.client("admin")
    rig.store.accounts.set_password_hash("marie", "scrypt$new", at=NOW)
    assert not signed_in(marie) and not signed_in(marie_too) and signed_in(admin)
    viewer = rig.client("mairie-viewer")
    rig.store.accounts.set_disabled("mairie-viewer", True, at=NOW)
    assert not signed_in(viewer) and signed_in(admin)
    rig.store.accounts.set_disabled("mairie-viewer", False, at=NOW)
    assert not signed_in(viewer), "enabling an account again does not revive its sessions"


def test_sign_out_everywhere_and_the_live_sessions_for_an_admin(rig: PanelRig) -> None:
    office = rig.client("marie")
    rig.clock.advance(minutes(5))
    phone = rig.app.test_client()
    sign_in(phone, "marie", PASSWORD, REMOTE_ADDR="192.0.2.8", HTTP_USER_AGENT="Firefox")
    now = rig.clock.now()
    newest, oldest = rig.store.sessions.of_user("Marie", at=now)
    assert (newest.address, newest.user_agent, newest.created_at) == ("192.0.2.8", "Firefox", now)
    assert oldest.created_at == NOW and newest.expires_at == now + timedelta(hours=12)
    assert rig.store.sessions.end_sessions("marie", at=now) == 2
    assert not signed_in(office) and not signed_in(phone)
    assert rig.store.sessions.of_user("marie", at=now) == []


def test_forms_still_carry_their_csrf_token_with_sessions_in_the_store(rig: PanelRig) -> None:
    client = rig.client("marie")
    token = csrf(client, "/zone/mairie/accueil")
    response = client.post("/zone/mairie/accueil/learning",
                           data={"enabled": "0", "csrf_token": token})
    assert response.status_code == 302
    assert client.post("/zone/mairie/accueil/learning", data={"enabled": "0"}).status_code == 400


# -- sign-in limits ----------------------------------------------------------------------------


def test_five_failures_lock_the_account_for_fifteen_minutes_in_french(rig: PanelRig) -> None:
    client = rig.app.test_client()
    codes = [sign_in(client, "marie", "wrong password").status_code for _ in range(4)]
    assert codes == [401] * 4
    locked = sign_in(client, "marie", "wrong password")
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "900"
    assert ("Trop d'échecs de connexion sur ce compte. Réessayez après 10:15."
            in html.unescape(locked.get_data(as_text=True)))
    # The right password from elsewhere is refused too, without a word more in the log.
    rig.clock.advance(minutes(10))
    elsewhere = rig.app.test_client()
    refused = sign_in(elsewhere, "MARIE", PASSWORD, REMOTE_ADDR="192.0.2.44")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "300"
    [lock] = rig.store.audit.events(kind="login_locked")
    assert (lock.actor, lock.message, lock.reason) == (
        "marie", "Connexion bloquée du compte « marie » jusqu'à 10:15", "5 échecs en 15 min")
    assert len(rig.store.audit.events(kind="login_failed")) == 5
    rig.clock.advance(minutes(5))
    assert sign_in(elsewhere, "marie", PASSWORD).status_code == 302


def test_the_lock_page_speaks_english_when_asked(rig: PanelRig) -> None:
    client = rig.app.test_client()
    client.get("/lang/en")
    for _ in range(5):
        response = sign_in(client, "admin", "wrong password")
    assert response.status_code == 429
    assert ("Too many failed sign-ins on this account. Try again after 10:15."
            in html.unescape(response.get_data(as_text=True)))


def test_successful_sign_ins_are_never_counted(rig: PanelRig) -> None:
    codes = [sign_in(rig.app.test_client(), "marie", PASSWORD).status_code for _ in range(30)]
    assert codes == [302] * 30


def test_a_success_forgives_the_accounts_failures(rig: PanelRig) -> None:
    client = rig.app.test_client()
    codes = [sign_in(client, "marie", "wrong password").status_code for _ in range(4)]
    codes.append(sign_in(client, "marie", PASSWORD).status_code)
    codes += [sign_in(client, "marie", "wrong password").status_code for _ in range(4)]
    assert codes == [401] * 4 + [302] + [401] * 4


def test_twenty_failures_lock_the_address_whatever_the_account(rig: PanelRig) -> None:
    client = rig.app.test_client()
    codes = [sign_in(client, f"guess{n}", "wrong password").status_code for n in range(20)]
    assert codes == [401] * 19 + [429]
    refused = sign_in(client, "marie", PASSWORD)
    assert refused.status_code == 429
    assert ("Trop d'échecs de connexion depuis cette adresse. Réessayez après 10:15."
            in html.unescape(refused.get_data(as_text=True)))
    assert sign_in(rig.app.test_client(), "marie", PASSWORD,
                   REMOTE_ADDR="192.0.2.44").status_code == 302
    [lock] = rig.store.audit.events(kind="login_locked")
    assert lock.message == "Connexion bloquée depuis 127.0.0.1 jusqu'à 10:15"


def test_locks_hold_across_a_restart_of_the_panel(demo_site: Site, tmp_path: Path) -> None:
    db = tmp_path / "gtb.sqlite"
    rules = SessionRules(limits=SignInLimits(per_account=2))
    for rig in panel_rig(demo_site, db, sessions=rules):
        client = rig.app.test_client()
        assert [sign_in(client, "marie", "nope").status_code for _ in range(2)] == [401, 429]
    restarted = create_app(PanelConfig(site=demo_site, store_path=db, clock=SimulatedClock(NOW),
                                       secret_key="another key", sessions=rules))
    try:
        assert sign_in(restarted.test_client(), "marie", PASSWORD).status_code == 429
    finally:
        restarted.extensions["gtb"].store.close()


# -- the client's address ----------------------------------------------------------------------


@pytest.mark.parametrize(("peer", "chain", "client"), [
    ("203.0.113.9", "198.51.100.7", "203.0.113.9"),          # not a proxy: header ignored
    ("127.0.0.1", "", "127.0.0.1"),                          # a proxy that said nothing
    ("127.0.0.1", "198.51.100.7", "198.51.100.7"),
    ("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.1.2.3", "198.51.100.7"),  # left part forged
    ("10.0.0.2", "10.0.0.1, 10.0.0.3", "10.0.0.1"),          # all trusted: the left-most
    ("127.0.0.1", "evil, 10.0.0.3", "10.0.0.3"),             # not an address: stop there
    ("127.0.0.1", "::ffff:1.2.3.4", "::ffff:102:304"),
])
def test_the_client_is_the_right_most_untrusted_address(peer: str, chain: str,
                                                        client: str) -> None:
    assert client_address(peer, chain, parse_networks("127.0.0.1,10.0.0.0/8")) == client


def test_a_forged_forwarded_header_is_ignored_from_an_untrusted_peer(rig: PanelRig) -> None:
    sign_in(rig.app.test_client(), "marie", "wrong password", REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR="198.51.100.7")
    [failed] = rig.store.audit.events(kind="login_failed")
    assert failed.message == "Connexion refusée pour « marie » depuis 203.0.113.9"


def test_a_trusted_proxy_says_who_the_client_is(proxied: PanelRig) -> None:
    def attempt(name: str, password: str, client: str) -> int:
        return sign_in(proxied.app.test_client(), name, password, REMOTE_ADDR="10.0.0.5",
                       HTTP_X_FORWARDED_FOR=f"6.6.6.6, {client}, 127.0.0.1").status_code

    codes = [attempt(f"guess{n}", "wrong password", "198.51.100.7") for n in range(20)]
    assert codes[-1] == 429
    # Another person behind the same proxy is not locked out with the guesser.
    assert attempt("marie", PASSWORD, "198.51.100.8") == 302
    [login] = proxied.store.audit.events(kind="login")
    assert login.message == "Connexion de marie depuis 198.51.100.8"
    [session] = proxied.store.sessions.of_user("marie", at=NOW)
    assert session.address == "198.51.100.8"


def test_waitress_hands_the_forwarded_header_to_the_panel(proxied: PanelRig) -> None:
    """The real server: its own proxy-header handling must not drop what a trusted proxy
    says (nor let the app believe an untrusted one: the test above)."""
    port = free_port()
    server = PanelServer(proxied.app, "127.0.0.1", port)
    server.start()
    try:
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        token = csrf_in(opener.open(f"{server.url}login", timeout=30).read().decode())
        form = urllib.parse.urlencode({"name": "marie", "password": "wrong password",
                                       "csrf_token": token}).encode()
        request = urllib.request.Request(f"{server.url}login", data=form,
                                         headers={"X-Forwarded-For": "198.51.100.7"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(request, timeout=30)
        assert refused.value.code == 401
    finally:
        server.stop()
    [failed] = proxied.store.audit.events(kind="login_failed")
    assert failed.message.endswith("depuis 198.51.100.7")


def test_the_server_stops_even_when_its_wake_up_pipe_is_gone(rig: PanelRig) -> None:
    """A stop that relied on waitress's trigger pipe failed (EBADF) once that pipe had been
    closed under it; the loop now ends on its own and closes the listening socket."""
    port = free_port()
    server = PanelServer(rig.app, "127.0.0.1", port)
    server.start()
    assert urllib.request.urlopen(f"{server.url}login", timeout=30).status == 200
    trigger = server._server.trigger
    for descriptor in trigger._fds:
        os.close(descriptor)
    trigger._fds = []
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{server.url}login", timeout=5)


def test_trusted_proxies_and_session_times_are_options(tmp_path: Path) -> None:
    outcome = CliRunner().invoke(main, ["run", str(tmp_path / "site.yaml"),
                                        "--panel-trusted-proxies", "127.0.0.1,not-an-ip"])
    assert outcome.exit_code == 2
    assert "« not-an-ip » is not an address or a network" in outcome.output
    options = {"panel_host": "127.0.0.1", "panel_port": 8080, "panel_secure_cookies": False,
               "panel_session_hours": 8, "panel_idle_minutes": 30,
               "panel_trusted_proxies": parse_networks("10.0.0.0/8"), "no_panel": False}
    panel = PanelAddress.from_options(dict(options), speed=60)
    assert panel is not None and panel.trusted_proxies == parse_networks("10.0.0.0/8")
    # The demo's clock runs 60 times faster: a session's durations stay real ones; the
    # sign-in limits stay on the clock the pages show (« Réessayez après 13:47 »).
    assert panel.sessions.idle == timedelta(minutes=30 * 60)
    assert panel.sessions.lifetime == timedelta(hours=8 * 60)
    assert panel.sessions.limits == SignInLimits()


# -- redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("query", [
    "next=/%09/evil.example", "next=/%5Cevil", "next=/\\evil", "next=https://evil",
    "next=//evil", "next=/%09/evil", "next=%20//evil", "next=/%0A/evil", "next=///evil",
    "next=javascript:alert(1)", "next=http:evil", "next=/%00/evil", "next=", "next=http://[::1",
])
def test_after_sign_in_next_never_leaves_the_site(rig: PanelRig, query: str) -> None:
    response = sign_in(rig.app.test_client(), "marie", PASSWORD, query=query)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_after_sign_in_next_goes_back_to_the_page_asked(rig: PanelRig) -> None:
    response = sign_in(rig.app.test_client(), "marie", PASSWORD,
                       query="next=/zone/mairie/accueil%3Frange%3D7d")
    assert response.headers["Location"] == "/zone/mairie/accueil?range=7d"


@pytest.mark.parametrize("referer", [
    "http://evil.example/", "https://evil.example/zone/mairie/accueil", "javascript:alert(1)",
    "//evil.example/", "/\\evil", "http://localhost.evil.example/", "http://localhost@evil/",
    "http://localhost//evil.example/", "ftp://localhost/", "http://local\thost/\t/evil", "",
])
def test_changing_language_never_leaves_the_site(rig: PanelRig, referer: str) -> None:
    response = rig.client().get("/lang/en", headers={"Referer": referer})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_changing_language_goes_back_to_the_page(rig: PanelRig) -> None:
    response = rig.client().get(
        "/lang/en", headers={"Referer": "http://localhost/zone/mairie/accueil?range=7d"})
    assert response.headers["Location"] == "/zone/mairie/accueil?range=7d"
