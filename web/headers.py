"""Security headers on every answer of the panel: pages, the API's JSON, errors, redirects
and static files alike, so that no route can be left without them.

The Content-Security-Policy lets the browser run and style only what the panel serves from
its own ``/static``: no inline script, no ``on…=`` handler, no ``<style>`` nor ``style=""``
(CSSOM writes from the panel's scripts, as uPlot makes, stay allowed). Injected markup
that slipped past the templates' escaping would then do nothing. The panel is never framed
(clickjacking of its override buttons), sends no address to other sites, and its pages and
answers are never kept in a cache: they carry a commune's live state and a CSRF token.

HSTS is sent only when the panel is configured for HTTPS (``secure_cookies``): sent over
plain HTTP it would be ignored, and behind a proxy without TLS it would lock people out.
"""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

ALWAYS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # The full address to the panel's own pages, nothing to other sites: a page's address
    # names buildings and zones.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

HSTS = "max-age=31536000"
"""A year, this host only: the panel does not speak for other names of the commune's domain."""


def init_app(app: Flask, *, https: bool) -> None:
    """Add the headers to every answer; ``https``: the panel is only reached over HTTPS."""

    @app.after_request
    def secure(response: Response) -> Response:
        response.headers.update(ALWAYS)
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        if https:
            response.headers["Strict-Transport-Security"] = HSTS
        return response
