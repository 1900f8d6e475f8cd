"""The web panel: a Flask app factory. It reads and writes the store only; the engine
applies what the panel records at its next tick, and says so in the store.

``create_app(PanelConfig(...))`` builds one app: no globals, configuration passed in.
``gtb run`` and ``gtb demo`` serve it with waitress (``serve_panel``).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from gtb.clock import Clock
from gtb.model import Site
from gtb.store import Store
from web import (
    alarms,
    api,
    audit,
    auth,
    export,
    i18n,
    lighting,
    limits,
    pages,
    programmes,
    savings,
)
from web.panel import Panel


@dataclass(frozen=True)
class PanelConfig:
    site: Site
    store_path: Path
    clock: Clock
    secret_key: str
    secure_cookies: bool = False
    """Set behind HTTPS: cookies then never travel in clear."""
    login_limit: str = "10 per 15 minutes"
    """Login attempts (successful or not) per address."""


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
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://",
                      default_limits=[], headers_enabled=True)
    limits.init_app(app)
    auth.init_app(app)
    # Each page blueprint brings its English texts (EN) to the catalog.
    blueprints = [pages, alarms, audit, export, api, lighting, programmes, savings]
    i18n.init_app(app, *(module.EN for module in blueprints))
    app.register_blueprint(auth.bp)
    for module in blueprints:
        app.register_blueprint(module.bp)
    # Flask-Limiter's decorator is typed for any view; the sign-in view is a plain one.
    limit = limiter.limit(config.login_limit, methods=["POST"],
                          error_message=i18n.TOO_MANY_LOGINS)
    app.view_functions["auth.login"] = limit(app.view_functions["auth.login"])  # type: ignore[assignment]
    return app


def new_secret_key(path: Path) -> str:
    """The panel's session key, kept beside the store (mode 0600) so that sessions survive
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


class PanelServer:
    """The panel served by waitress in a thread of the engine's process."""

    def __init__(self, app: Flask, host: str, port: int) -> None:
        from waitress.server import create_server

        self._server = create_server(app, host=host, port=port, threads=PANEL_THREADS,
                                     ident="gtb", clear_untrusted_proxy_headers=True)
        self.url = f"http://{host}:{port}/"
        self._thread = threading.Thread(target=self._server.run, name="panel", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close every socket from the server's own loop (closing them from this thread
        would pull them from under its select), then wait for the loop to end. A server
        never started only has its sockets to close."""
        from waitress import wasyncore

        if self._thread.ident is None:
            wasyncore.close_all(self._server._map)
            return

        def close_all() -> None:
            # waitress keeps its channels in the server's socket map (``_map``).
            wasyncore.close_all(self._server._map)
            self._server.task_dispatcher.shutdown()

        self._server.trigger.pull_trigger(close_all)
        self._thread.join(timeout=5)
