"""Debian's Mosquitto, started by the tests on loopback: a password file, an access list,
a plain listener and a TLS one whose certificate is signed by a CA made at test time. The
process is run as the simulation runs its own broker (``gtb.sim.broker``)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from gtb.sim.broker import MosquittoProcess
from gtb.sim.devices import free_loopback_port

MOSQUITTO_PASSWD = Path("/usr/bin/mosquitto_passwd")

ENGINE_USER, ENGINE_PASSWORD = "gtb", "mot-de-passe-du-moteur"
DEVICE_USER, DEVICE_PASSWORD = "passerelle", "mot-de-passe-passerelle"
DENIED_TOPIC = "secret/compteur"
"""A topic the engine's user may not read (the access list gives it site/# and the
network servers' application/# and v3/# only)."""

_ACL = f"""\
user {ENGINE_USER}
topic readwrite site/#
topic readwrite application/#
topic readwrite v3/#

user {DEVICE_USER}
topic readwrite #
"""


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA (EC P-256) in ``directory``: its certificate and key."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def make_server_cert(directory: Path, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by ``ca``: its file and key."""
    cert, key, csr = (directory / "broker.crt", directory / "broker.key",
                      directory / "broker.csr")
    extensions = directory / "broker.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                          "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                          "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n",
                          encoding="utf-8")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
             "-out", cert, "-days", "2", "-extfile", extensions)
    return cert, key


@dataclass
class Mosquitto:
    """A broker on two free loopback ports (``port`` plain, ``tls_port`` TLS), both asking
    for a user and password; ``restart`` keeps the ports, ``stop`` leaves it down. Made
    ``persistent``, it keeps its clients' sessions (subscriptions, queued QoS 1 messages)
    on disk across a restart, as a site's broker must (docs/lorawan.md, « The broker »)."""

    directory: Path
    port: int
    tls_port: int
    ca_file: Path

    def __post_init__(self) -> None:
        self.process = MosquittoProcess(self.directory / "mosquitto.conf",
                                        (self.port, self.tls_port),
                                        self.directory / "mosquitto.log")

    @classmethod
    def make(cls, directory: Path, *, persistent: bool = False) -> Mosquitto:
        directory.mkdir(parents=True, exist_ok=True)
        ca = make_ca(directory, "ca-du-test")
        server = make_server_cert(directory, ca)
        passwords = directory / "passwd"
        for user, password in ((ENGINE_USER, ENGINE_PASSWORD), (DEVICE_USER, DEVICE_PASSWORD)):
            subprocess.run([str(MOSQUITTO_PASSWD), "-b", *(["-c"] if user == ENGINE_USER else []),
                            str(passwords), user, password], check=True, capture_output=True)
        acl = directory / "acl"
        acl.write_text(_ACL, encoding="utf-8")
        broker = cls(directory, free_loopback_port(), free_loopback_port(), ca[0])
        (directory / "mosquitto.conf").write_text(
            "user root\n"  # as root, Mosquitto would become `mosquitto`, who cannot read tmp
            "per_listener_settings false\nallow_anonymous false\n"
            + (f"persistence true\npersistence_location {directory}/\n" if persistent
               else "persistence false\n") +
            f"password_file {passwords}\nacl_file {acl}\n"
            f"log_dest file {directory / 'mosquitto.log'}\n"
            f"listener {broker.port} 127.0.0.1\n"
            f"listener {broker.tls_port} 127.0.0.1\n"
            f"cafile {ca[0]}\ncertfile {server[0]}\nkeyfile {server[1]}\n",
            encoding="utf-8")
        return broker

    def start(self) -> None:
        self.process.start()

    def stop(self) -> None:
        self.process.stop()

    def restart(self) -> None:
        self.process.restart()
