"""The systemd unit (deploy/gtb.service): systemd itself reads it (``systemd-analyze
verify``, where systemd is installed), and what the stop relies on is checked by reading
it. No service is installed or started here."""

from __future__ import annotations

import configparser
import shutil
import subprocess

import pytest

from gtb.cli.wiring import STOP_DRAIN_S
from gtb.influx import InfluxSettings

from .conftest import ROOT

UNIT = ROOT / "deploy" / "gtb.service"


def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd's keys keep their case
    parser.read(UNIT, encoding="utf-8")
    return parser["Service"]


def test_the_unit_runs_the_engine_unprivileged_and_stops_it_in_order() -> None:
    unit = service()
    assert unit["User"] == "gtb" and unit["Group"] == "gtb"
    assert unit["ExecStart"].split()[:2] == ["/opt/gtb/.venv/bin/gtb", "run"]
    assert unit["EnvironmentFile"].lstrip("-") == "/etc/gtb/gtb.env"
    assert unit["WorkingDirectory"] == "/var/lib/gtb" and "/var/lib/gtb/" in unit["ExecStart"]
    assert unit["Restart"] == "on-failure"
    assert unit["KillSignal"] == "SIGTERM"
    # The last shipping pass and a batch under way, and twice as much again for the tick
    # under way and the releases (a dead device's take its timeout).
    assert int(unit["TimeoutStopSec"]) >= 3 * (STOP_DRAIN_S + InfluxSettings("http://x",
                                                                          bucket="b").timeout_s)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd not installed")
def test_systemd_reads_the_unit_without_complaint() -> None:
    result = subprocess.run(["systemd-analyze", "verify", str(UNIT)], capture_output=True,
                            text=True, timeout=60)
    # The venv's gtb is not installed in /opt/gtb here: the one complaint allowed.
    complaints = [line for line in (result.stdout + result.stderr).splitlines()
                  if line.strip() and "/opt/gtb/.venv/bin/gtb is not executable" not in line]
    assert not complaints, complaints
