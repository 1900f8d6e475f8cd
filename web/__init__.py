"""The web panel: a Flask app factory. It reads and writes the store only; the engine
applies what the panel records at its next tick, and says so in the store.

``create_app(PanelConfig(...))`` builds one app: no globals, configuration passed in.
``gtb run`` and ``gtb demo`` serve it with waitress (``serve_panel``).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from gtb.clock import Clock
from gtb.model import Site
from gtb.store import Store
from gtb.store.sessions import SessionRules
from web import (
    admin,
    alarms,
    api,
    audit,
    auth,
    export,
    headers,
    i18n,
    lighting,
    limits,
    pages,
    programmes,
    savings,
)
from web.panel import Panel
from web.proxies import ClientAddress, Network


@dataclass(frozen=True)
class PanelConfig:
    site: Site
    store_path: Path
    clock: Clock
    secret_key: str
    secure_cookies: bool = False
    """Set behind HTTPS: cookies then never travel in clear."""
    sessions: SessionRules = field(default_factory=SessionRules)
    """How long a sign-in lasts, and how many failed ones lock an account or an address."""
    trusted_proxies: tuple[Network, ...] = ()
    """Peers whose ``X-Forwarded-For`` is believed (``web.proxies``); none by default."""


def create_app(config: PanelConfig) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=config.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,  # a form left open all morning still posts
        MAX_CONTENT_LENGTH=1_000_000,
    )
    app.extensions["gtb"] = Panel(config.site, Store(config.store_path), config.clock)
    CSRFProtect(app)
    headers.init_app(app, https=config.secure_cookies)
    limits.init_app(app)
    auth.init_app(app, config.sessions)
    # Each page blueprint brings its English texts (EN) to the catalog.
    blueprints = [pages, alarms, audit, export, api, lighting, programmes, savings, admin]
    i18n.init_app(app, auth.EN, *(module.EN for module in blueprints))
    app.register_blueprint(auth.bp)
    for module in blueprints:
        app.register_blueprint(module.bp)
    app.wsgi_app = ClientAddress(app.wsgi_app, config.trusted_proxies)  # type: ignore[method-assign]
    return app


def new_secret_key(path: Path) -> str:
    """The panel's cookie key, kept beside the store (mode 0600) so that sessions survive
    a restart; made on first use."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key, encoding="utf-8")
    return key


PANEL_THREADS = 8
"""Requests the panel serves at once. A download holds its thread while it streams, and
the panel lets ``web.export.AT_ONCE`` (2) stream together: six stay for the pages of a
commune's few people (each page answers in milliseconds)."""
STOP_POLL_S = 0.25
"""How soon, in seconds, the panel's loop sees that it is asked to stop."""


class PanelServer:
    """The panel served by waitress in a thread of the engine's process.

    The thread runs waitress's loop one poll at a time and, once ``stop`` is asked, closes
    every socket itself (closing them from another thread would pull them from under its
    poll). Stopping does not go through waitress's trigger pipe: a stop must not fail
    because a worker or anything else in the process left that pipe unusable."""

    def __init__(self, app: Flask, host: str, port: int) -> None:
        from waitress.server import create_server

        # Forwarding headers reach the app, which believes them from trusted proxies only
        # and removes them (web.proxies.ClientAddress).
        self._server = create_server(app, host=host, port=port, threads=PANEL_THREADS,
                                     ident="gtb", clear_untrusted_proxy_headers=False)
        self.url = f"http://{host}:{port}/"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="panel", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _serve(self) -> None:
        from waitress import wasyncore

        # waitress keeps its channels in the server's socket map (``_map``).
        sockets = self._server._map
        try:
            while sockets and not self._stopping.is_set():
                wasyncore.loop(timeout=STOP_POLL_S, map=sockets, count=1)
        finally:
            self._close(sockets)

    def _close(self, sockets: dict[int, object]) -> None:
        from waitress import wasyncore

        wasyncore.close_all(sockets)
        self._server.task_dispatcher.shutdown()

    def stop(self) -> None:
        """Ask the loop to end and wait for it; a server never started only has its
        sockets to close."""
        self._stopping.set()
        if self._thread.ident is None:
            self._close(self._server._map)
            return
        self._thread.join(timeout=5)
