"""Shared fixtures: the demo commune moved to free loopback ports, so tests never clash."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gtb.config import parse_site
from gtb.model import Site
from gtb.sim.devices import free_loopback_port, relocate_ports
from tests.mosquitto_rig import Mosquitto

ROOT = Path(__file__).resolve().parent.parent
DEMO_SITE = ROOT / "sites" / "demo-commune.yaml"


DEVICE_TIMEOUT_S = 2.0
"""The drivers' timeout against the virtual commune's devices on loopback: they answer in
milliseconds, and this leaves room for a loaded 2-core machine that stalls the process."""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A free port on 127.0.0.1, TCP or (``socket.SOCK_DGRAM``) UDP."""
    return free_loopback_port(udp=kind == socket.SOCK_DGRAM)


@pytest.fixture
def demo_site_text() -> str:
    """The demo commune's site file with free ports, as text (to write or to edit)."""
    return relocate_ports(DEMO_SITE.read_text(encoding="utf-8"))


@pytest.fixture
def demo_site(demo_site_text: str) -> Site:
    """The demo commune on free loopback ports, its Modbus and BACnet devices only
    (``wired``): the engine's tests on it need no broker. The whole of it, with its
    LoRaWAN devices on the air, is ``demo_site_on_air``."""
    return parse_site(demo_site_text, "demo-commune.yaml").wired()


@pytest.fixture
def demo_site_on_air(demo_site_text: str) -> Site:
    """The demo commune on free loopback ports (its broker's too), as its file has it."""
    return parse_site(demo_site_text, "demo-commune.yaml")


@pytest.fixture
def relit_church_site(demo_site_text: str, tmp_path: Path) -> Path:
    """The demo commune with its church's lights relit at 05:00, against the arrêté on
    light nuisance (heritage lighting may not come on again after 1:00)."""
    path = tmp_path / "relit-church.yaml"
    path.write_text(demo_site_text.replace('cut_off: "23:00-sunrise"   # heritage',
                                           'cut_off: "23:30-05:00"   # heritage'),
                    encoding="utf-8")
    return path


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """Debian's Mosquitto on free loopback ports, with a password file, an access list and
    a TLS listener whose certificate a CA made for the test signed (``tests.mosquitto_rig``);
    stopped at the end of the test."""
    broker = Mosquitto.make(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
