"""InfluxDB-compatible servers from Debian's packages, started on loopback for the history
benchmark and the tests: ``influxd`` (package ``influxdb``, 1.x) and ``victoria-metrics``
(which takes InfluxDB's v1 and v2 write APIs). Each runs in a folder of its own, on free
loopback ports, and is stopped when its ``with`` block ends; ``stop()`` and ``start()`` in
between simulate an outage on the same data.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlencode

import urllib3

from gtb.sim.devices import free_loopback_port as free_port

_HTTP = urllib3.PoolManager(timeout=urllib3.Timeout(total=30.0), retries=False)


class ServerError(RuntimeError):
    """The server could not be started, or answered a query with an error."""


class _LocalServer:
    program = ""
    package = ""

    def __init__(self, folder: Path | None = None) -> None:
        binary = shutil.which(self.program) or f"/usr/bin/{self.program}"
        if not Path(binary).exists():
            raise ServerError(f"{self.program} is not installed: apt-get install {self.package}"
                              " (make test installs it)")
        self.binary = binary
        self._own_folder = folder is None
        self.folder = Path(tempfile.mkdtemp(prefix=f"gtb-{self.program}-")) if folder is None \
            else folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout_s: float = 30.0) -> None:
        if self._process is not None:
            return
        log = (self.folder / "server.log").open("ab")
        self._process = subprocess.Popen(self.command(), stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServerError(f"{self.program} exited with {self._process.returncode}; "
                                  f"see {self.folder / 'server.log'}")
            if self._ready():
                return
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"{self.program} did not answer on {self.url} within {timeout_s} s")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None

    def _ready(self) -> bool:
        try:
            return _HTTP.request("GET", self.url + self._ping, timeout=1.0).status in (200, 204)
        except urllib3.exceptions.HTTPError:
            return False

    _ping = "/ping"


class LocalInfluxDB1(_LocalServer):
    """Debian's InfluxDB 1.x, HTTP API only, nothing reported outside."""

    program = "influxd"
    package = "influxdb"

    def command(self) -> list[str]:
        config = self.folder / "influxdb.conf"
        rpc = free_port()
        config.write_text(f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"
[meta]
  dir = "{self.folder / 'meta'}"
[data]
  dir = "{self.folder / 'data'}"
  wal-dir = "{self.folder / 'wal'}"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  max-body-size = 0
[logging]
  level = "warn"
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
""")
        return [self.binary, "run", "-config", str(config)]

    def query(self, statement: str, database: str | None = None) -> list[dict[str, Any]]:
        """Run InfluxQL; returns the series of the first result (empty when none)."""
        params = {"q": statement, "epoch": "s"}
        if database is not None:
            params["db"] = database
        response = _HTTP.request("POST", f"{self.url}/query?{urlencode(params)}")
        body = json.loads(response.data or b"{}")
        if response.status != 200 or "error" in body:
            raise ServerError(f"{statement}: HTTP {response.status} {body}")
        result = body["results"][0]
        if "error" in result:
            raise ServerError(f"{statement}: {result['error']}")
        series: list[dict[str, Any]] = result.get("series", [])
        return series

    def create_database(self, name: str) -> None:
        self.query(f'CREATE DATABASE "{name}"')


class LocalVictoriaMetrics(_LocalServer):
    """Debian's VictoriaMetrics, which takes InfluxDB line protocol on /write and
    /api/v2/write (``measurement_field`` becomes the metric name, tags its labels; a
    string field becomes a metric of zeros). Duplicates are kept, so a point sent twice
    shows."""

    program = "victoria-metrics"
    package = "victoria-metrics"
    _ping = "/health"

    def command(self) -> list[str]:
        return [self.binary, f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.folder / 'data'}", "-retentionPeriod=100y",
                "-search.latencyOffset=0s", "-loggerLevel=ERROR"]

    def export(self, metric: str) -> list[dict[str, Any]]:
        """Every series of ``metric`` with all its values and timestamps (ms)."""
        _HTTP.request("GET", f"{self.url}/internal/force_flush")
        response = _HTTP.request(
            "POST", f"{self.url}/api/v1/export",
            fields={"match[]": metric, "start": "0"}, encode_multipart=False)
        if response.status != 200:
            raise ServerError(f"export {metric}: HTTP {response.status} {response.data[:200]!r}")
        return [json.loads(line) for line in response.data.splitlines() if line.strip()]
