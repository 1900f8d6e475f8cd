"""Debian's Mosquitto, started by the simulation on loopback: the broker on which the
virtual commune's LoRaWAN network server publishes when the site file has one (``mqtt:``)
on a loopback address (``gtb sim``, ``gtb demo``, ``make run``), and the process under
the tests' broker with its password file, access list and TLS (``tests/mosquitto_rig.py``).

The process is started with a configuration written in a directory of the caller's, and
stopped with it: ``local_broker`` stops it on leaving, whatever ends the block (Ctrl-C, an
error). What can go wrong is said before anything else happens: Mosquitto not installed,
the port already taken, the broker exiting or not listening (with the end of its log).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from gtb.model import Site
from gtb.model.mqtt import MqttBroker
from gtb.texts import Reason

MOSQUITTO = Path("/usr/sbin/mosquitto")
SETPRIV = Path("/usr/bin/setpriv")
"""util-linux's setpriv: Mosquitto is run under ``--pdeathsig TERM``, so that the kernel
stops it if the process that started it dies without stopping it (SIGKILL, a crash).
The signal follows the thread that started it: start it from the main thread."""
STARTUP_TIMEOUT_S = 15.0
"""How long Mosquitto may take to listen on its ports before the start gives up."""


class BrokerError(RuntimeError):
    """The broker could not be started; ``reason`` says why, in French and English."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.en)
        self.reason = reason


class MosquittoProcess:
    """Mosquitto run with the configuration file ``config``, which makes it listen on
    ``ports`` of 127.0.0.1 and log to ``log``; ``start`` returns once it listens on all of
    them, ``stop`` ends it (a later ``start`` starts it again on the same ports)."""

    def __init__(self, config: Path, ports: Sequence[int], log: Path) -> None:
        self.config, self.ports, self.log = config, tuple(ports), log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not MOSQUITTO.exists():
            raise BrokerError(Reason.of("broker.missing", path=str(MOSQUITTO)))
        taken = [port for port in self.ports if _listening(port)]
        if taken:
            raise BrokerError(Reason.of("broker.port_taken", port=taken[0]))
        watched = [str(SETPRIV), "--pdeathsig", "TERM"] if SETPRIV.exists() else []
        self.process = subprocess.Popen([*watched, str(MOSQUITTO), "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self._wait_listening()
        except BaseException:  # a failure, or Ctrl-C while it starts: never left running
            self.stop()
            raise

    def _wait_listening(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(Reason.of("broker.exited", log=self._log_tail()))
            if all(_listening(port) for port in self.ports):
                return
            time.sleep(0.02)
        raise BrokerError(Reason.of("broker.not_listening", seconds=STARTUP_TIMEOUT_S,
                                    log=self._log_tail()))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-1000:].strip()
        except OSError:
            return ""


def plain_loopback(broker: MqttBroker | None) -> bool:
    """A broker on a loopback address without TLS: the simulation's own, which it starts
    and publishes on (one elsewhere, or with TLS, is a real broker of the site's)."""
    if broker is None or broker.tls:
        return False
    try:
        return ipaddress.ip_address(broker.host).is_loopback
    except ValueError:
        return False


def with_mqtt_port(site: Site, port: int | None) -> Site:
    """The site with its broker on ``port`` (``--mqtt-port``), for the simulation's devices
    and the engine alike; the site as it is without a port or a broker."""
    if port is None or site.mqtt is None:
        return site
    return site.model_copy(update={"mqtt": site.mqtt.model_copy(update={"port": port})})


@contextlib.contextmanager
def site_broker(site: Site) -> Iterator[MosquittoProcess | None]:
    """The simulation's own broker for ``site`` where it has one (``plain_loopback``), on
    the site's port; None, and nothing started, where it does not."""
    if site.mqtt is None or not plain_loopback(site.mqtt):
        yield None
        return
    with local_broker(site.mqtt.port or 1883) as broker:
        yield broker


@contextlib.contextmanager
def local_broker(port: int, directory: Path | None = None) -> Iterator[MosquittoProcess]:
    """Mosquitto listening on 127.0.0.1:``port``, anonymous clients allowed (loopback
    only), with persistence on, so that a restart keeps the clients' sessions and their
    queued messages; its configuration, store and log in ``directory`` (a temporary one
    by default, removed after). Stopped on leaving, however the block ends."""
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="gtb-mosquitto-")))
        directory.mkdir(parents=True, exist_ok=True)
        config, log = directory / "mosquitto.conf", directory / "mosquitto.log"
        config.write_text(
            "user root\n"  # as root, Mosquitto would become `mosquitto`, who cannot read tmp
            f"listener {port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {directory}/\n"
            f"log_dest file {log}\n", encoding="utf-8")
        broker = MosquittoProcess(config, [port], log)
        try:
            broker.start()
            yield broker
        finally:
            broker.stop()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0
