"""The client's address behind a reverse proxy or a tunnel, believed only from proxies the
commune names (``--panel-trusted-proxies``).

Sign-in limits and audit lines need the address of the person, not of the proxy in front
of the panel; but anyone can send an ``X-Forwarded-For`` header. So the header is read
only when the direct peer is a trusted proxy, and then only up to the first address of
the chain that is not one: the right-most untrusted address is the client (the ones to
its left were written by whoever the client is, and may be forged). The app below sees
the result as ``REMOTE_ADDR`` and no forwarding header at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Network = IPv4Network | IPv6Network

FORWARDING_HEADERS = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_BY",
                      "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PROTO")
"""Removed before the app sees the request: nothing in it may believe them by mistake."""


def parse_networks(text: str) -> tuple[Network, ...]:
    """``127.0.0.1,10.0.0.0/8, ::1`` -> networks; a bad entry is a ValueError naming it."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"« {entry} » is not an address or a network "
                             "(e.g. 127.0.0.1, 10.0.0.0/8, ::1)") from None
    return tuple(networks)


def client_address(peer: str, forwarded_for: str, trusted: Iterable[Network]) -> str:
    """The client's address: ``peer`` itself unless it is a trusted proxy; then the
    right-most address of ``forwarded_for`` that is not trusted (the left-most if all are;
    the last good one if an entry is not an address)."""
    networks = tuple(trusted)

    def is_trusted(address: IPv4Address | IPv6Address) -> bool:
        return any(address in network for network in networks)

    client = peer
    try:
        hop = ip_address(peer)
    except ValueError:
        return peer
    for entry in reversed([part.strip() for part in forwarded_for.split(",")]):
        if not is_trusted(hop):
            break
        try:
            hop = ip_address(entry)
        except ValueError:
            break
        client = str(hop)
    return client


class ClientAddress:
    """WSGI middleware: ``REMOTE_ADDR`` becomes the client's address (``client_address``)
    and the forwarding headers go."""

    def __init__(self, app: WSGIApplication, trusted: Iterable[Network]) -> None:
        self._app = app
        self._trusted = tuple(trusted)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        forwarded_for = environ.get("HTTP_X_FORWARDED_FOR", "")
        for header in FORWARDING_HEADERS:
            environ.pop(header, None)
        environ["REMOTE_ADDR"] = client_address(environ.get("REMOTE_ADDR", ""), forwarded_for,
                                                self._trusted)
        return self._app(environ, start_response)
