"""The security headers on every kind of answer (a page, JSON, the API, a redirect, a static
file, errors 4xx and 5xx), HSTS and the language cookie's flags behind HTTPS, and no inline
script or style in any template: the Content-Security-Policy would block it (the browser
test checks the pages themselves, tests/test_browser.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from gtb.model import Site
from web import PanelConfig, create_app

from .conftest import ROOT
from .web_rig import PanelRig, csrf, panel_rig

ZONE = "/zone/mairie/accueil"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
EVERY_ANSWER = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.fixture
def rig(demo_site: Site, tmp_path: Path) -> Iterator[PanelRig]:
    yield from panel_rig(demo_site, tmp_path / "gtb.sqlite")


@pytest.fixture
def https_app(rig: PanelRig, tmp_path: Path) -> Iterator[Flask]:
    """The same panel configured for HTTPS (``--panel-secure-cookies``)."""
    app = create_app(PanelConfig(site=rig.site, store_path=tmp_path / "gtb.sqlite",
                                 clock=rig.clock, secret_key="test-key", secure_cookies=True))
    try:
        yield app
    finally:
        app.extensions["gtb"].store.close()


def _page(rig: PanelRig) -> TestResponse:
    return rig.client("mairie-viewer").get("/")


def _json(rig: PanelRig) -> TestResponse:
    return rig.client("mairie-viewer").get(ZONE + "/series")


def _api(rig: PanelRig) -> TestResponse:
    return rig.client().get("/api/zones")  # no token: a JSON 401


def _redirect(rig: PanelRig) -> TestResponse:
    return rig.client().get("/")  # to the sign-in page


def _not_found(rig: PanelRig) -> TestResponse:
    return rig.client("mairie-viewer").get("/building/grenier")


def _forbidden(rig: PanelRig) -> TestResponse:
    client = rig.client("mairie-viewer")
    return client.post(ZONE + "/override", data={"value": "20", "duration": "1h",
                                                 "csrf_token": csrf(client, ZONE)})


def _no_csrf(rig: PanelRig) -> TestResponse:
    return rig.client("marie").post(ZONE + "/override", data={"value": "20", "duration": "1h"})


def _server_error(rig: PanelRig) -> TestResponse:
    def broken() -> str:
        raise RuntimeError("a bug")

    rig.app.add_url_rule("/broken", "broken", broken)
    rig.app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 as in production
    return rig.client().get("/broken")


def _static(rig: PanelRig) -> TestResponse:
    return rig.client().get("/static/panel.css")


ANSWERS: dict[str, tuple[Callable[[PanelRig], TestResponse], int]] = {
    "page": (_page, 200), "page's JSON": (_json, 200), "API": (_api, 401),
    "redirect": (_redirect, 302), "404": (_not_found, 404), "403": (_forbidden, 403),
    "CSRF refused": (_no_csrf, 400), "500": (_server_error, 500), "static": (_static, 200),
}


@pytest.mark.parametrize("kind", list(ANSWERS))
def test_every_kind_of_answer_carries_the_security_headers(rig: PanelRig, kind: str) -> None:
    answer, status = ANSWERS[kind]
    response = answer(rig)
    assert response.status_code == status, response.get_data(as_text=True)
    assert {name: response.headers.get(name) for name in EVERY_ANSWER} == EVERY_ANSWER
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP
    cache = response.headers.get("Cache-Control", "")
    if kind == "static":  # may be cached, revalidated with its ETag
        assert "no-store" not in cache and response.headers.get("ETag")
    else:
        assert cache == "no-store"


def test_behind_https_every_answer_asks_for_https_only(rig: PanelRig, https_app: Flask) -> None:
    for path in ("/login", "/", "/static/panel.css", "/nowhere"):
        response = https_app.test_client().get(path)
        assert response.headers.get("Strict-Transport-Security") == "max-age=31536000", path
        assert response.headers.get("Content-Security-Policy") == CSP, path


def test_the_language_cookie_is_http_only_lax_and_secure_behind_https(
    rig: PanelRig, https_app: Flask
) -> None:
    plain = rig.client().get("/lang/en").headers["Set-Cookie"]
    secure = https_app.test_client().get("/lang/en").headers["Set-Cookie"]
    for cookie in (plain, secure):
        flags = {flag.strip().lower() for flag in cookie.split(";")[1:]}
        assert cookie.startswith("lang=en;") and {"httponly", "samesite=lax"} <= flags, cookie
    assert "secure" not in plain.lower()
    assert "; Secure" in secure


# -- no inline script or style in the templates ------------------------------------------------

TEMPLATES = ROOT / "web" / "templates"
JINJA = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
"""Jinja's comments, statements and expressions: what they hold is not markup."""
INLINE = {
    "a <script> without src": re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE),
    "a <script> with a body": re.compile(r"<script\b[^>]*>\s*[^<\s]", re.IGNORECASE),
    "a <style> element": re.compile(r"<style\b", re.IGNORECASE),
    "a style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE),
    "an on… handler attribute": re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "a javascript: address": re.compile(r"javascript:", re.IGNORECASE),
}


def inline_code(markup: str) -> list[str]:
    """What in ``markup`` (a template's text) the CSP would block, each with its line."""
    found = []
    for what, pattern in INLINE.items():
        for match in pattern.finditer(markup):
            line = markup.count("\n", 0, match.start()) + 1
            found.append(f"line {line}: {what}")
    return found


def _template_markup(path: Path) -> str:
    """The template's markup, with Jinja's parts blanked but their lines kept."""
    text = path.read_text(encoding="utf-8")
    return JINJA.sub(lambda match: "\n" * match[0].count("\n"), text)


@pytest.mark.parametrize("markup", [
    '<button type="button" onclick="window.print()">',
    '<span\n  style="left: 5%">',
    "<style>.x { color: red }</style>",
    "<script>alert(1)</script>",
    '<script type="module">import "./a.js";</script>',
    '<a href="javascript:void(0)">',
])
def test_the_template_check_finds_inline_code(markup: str) -> None:
    assert inline_code(markup)


def test_the_template_check_lets_files_and_data_attributes_through() -> None:
    assert inline_code(
        '<script src="/static/panel.js" defer></script>\n'
        '<link rel="stylesheet" href="/static/panel.css">\n'
        '<button type="button" data-print class="one">Imprimer</button>\n'
        '<rect x="12.50%" width="20.00%" height="100%" rx="3"/>\n'
        "<p>Le contrôle one=1 reste du texte, comme le mot style=.</p>\n") == []


def test_no_template_has_inline_script_or_style() -> None:
    templates = sorted(TEMPLATES.glob("**/*.html"))
    assert len(templates) > 10
    found = {path.name: inline_code(_template_markup(path)) for path in templates}
    assert {name: lines for name, lines in found.items() if lines} == {}
