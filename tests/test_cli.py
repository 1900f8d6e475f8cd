"""The commands as a person runs them: real processes, stopped with Ctrl-C, or with
SIGTERM as kill and systemd stop them."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from gtb.bench.servers import LocalInfluxDB1
from gtb.clock import RealClock, SimulatedClock, monotonic
from gtb.model import PointRef, Site
from gtb.model.calendar import Programme
from gtb.model.points import BacnetBinding, Role
from gtb.sim.runner import VirtualSite
from gtb.store import Store
from protocols.bacnet import BacnetDriver

from .conftest import ROOT, free_port

GTB = [sys.executable, "-m", "gtb.cli"]
ENV = {"COLUMNS": "200", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
"""The commands' environment: this checkout's code, whatever the venv has installed."""


def run_until(args: list[str], cwd: Path, done: Callable[[str], bool],
              within_s: float = 180.0) -> subprocess.CompletedProcess[str]:
    """Start a command, wait until what it printed says ``done`` (a condition, not a
    time: a busy machine only makes it take longer), interrupt it as Ctrl-C does, and
    collect its output. ``within_s`` only bounds a command that never gets there."""
    out = cwd / "stdout.txt"
    with out.open("w", encoding="utf-8") as stdout:
        process = subprocess.Popen(args, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE,
                                   text=True, env=ENV)
    began = time.monotonic()
    try:
        while not done(out.read_text(encoding="utf-8")):
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() - began < within_s, out.read_text(encoding="utf-8")[-2000:]
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(args, process.returncode,
                                       out.read_text(encoding="utf-8"), err)


RELEASED = ("points libérés (rendus à l'automate en BACnet, laissés à leur dernière valeur "
            "en Modbus)")
"""How the stop's line says what releasing did, per protocol."""


def events(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return list(conn.execute("SELECT kind, message FROM events ORDER BY id"))


def test_gtb_demo_runs_the_commune_and_stops_cleanly(tmp_path: Path, demo_site_text: str) -> None:
    site = tmp_path / "demo.yaml"
    site.write_text(demo_site_text, encoding="utf-8")
    db = tmp_path / "demo.sqlite"
    panel = free_port()

    def ticked(said: str) -> bool:
        """The panel is up and every setpoint and mode was commanded at least once."""
        try:
            return "panneau web" in said and sum(
                kind == "command" for kind, _ in events(db)) >= 14
        except sqlite3.OperationalError:  # the store not made yet
            return False

    result = run_until([*GTB, "demo", "--site", str(site), "--speed", "600", "--no-history",
                        "--db", str(db), "--bacnet-port", str(free_port(2)),
                        "--panel-port", str(panel)], tmp_path, ticked)
    assert result.returncode == 0, result.stderr
    assert "Marchiennes-le-Vert" in result.stdout
    assert f"nouveau stockage {db}, vide" in result.stdout
    assert not list(tmp_path.glob("demo-history-*"))  # no simulated past made
    assert f"panneau web : http://127.0.0.1:{panel}/" in result.stdout
    for account in ("elu", "gestionnaire", "admin"):  # random passwords, printed
        assert account in result.stdout
    assert "Préchauffage" in result.stdout or "Inoccupé" in result.stdout or (
        "Occupé" in result.stdout)
    assert "Traceback" not in result.stderr
    kinds = [kind for kind, _ in events(db)]
    assert kinds[0] == "engine" and kinds[-1] == "engine"
    assert events(db)[-1][1] == "Moteur arrêté"


TABLE_OF_PASSWORDS = "Comptes de la démo (mots de passe"
"""The title of the table of new accounts and their passwords."""


def _commands(db: Path) -> int:
    """The engine's commands in the store so far (0 while it is not made yet)."""
    try:
        return sum(kind == "command" for kind, _ in events(db))
    except sqlite3.OperationalError:
        return 0


def _samples(db: Path, key: str) -> list[tuple[int, float]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return list(conn.execute("SELECT s.ts, s.value FROM samples s JOIN points p "
                                 "ON p.id = s.point_id WHERE p.key = ? ORDER BY s.ts", (key,)))


def test_gtb_demo_takes_up_where_it_stopped_unless_asked_afresh(
    tmp_path: Path, demo_site_text: str, demo_site: Site
) -> None:
    """What people did in the panel (here written in the store as the panel writes it) is
    there after a restart: the override in force, the programme edited, the accounts with
    their passwords; the clock goes on from the stop, the devices hold what the engine
    last wrote (no setpoint back at the building's default for a tick: no spike in the
    charts), the meters count on. ``--afresh`` forgets it all."""
    site = tmp_path / "demo.yaml"
    site.write_text(demo_site_text, encoding="utf-8")
    db = tmp_path / "demo.sqlite"
    args = [*GTB, "demo", "--site", str(site), "--speed", "600", "--no-history", "--db", str(db),
            "--bacnet-port", str(free_port(2)), "--panel-port", str(free_port())]
    first = run_until(args, tmp_path, lambda said: "panneau web" in said and _commands(db) >= 14)
    assert first.returncode == 0, first.stderr
    assert TABLE_OF_PASSWORDS in first.stdout

    setpoint, zone = "mairie.accueil.consigne", "mairie.accueil"
    setpoints = [ref.key for ref in demo_site.points() if ref.role is Role.HEATING_SETPOINT]
    meters = [ref.key for ref in demo_site.points() if ref.role is Role.ENERGY_METER]
    before = {key: _samples(db, key) for key in setpoints + meters}
    with Store(db) as store:
        [stopped] = store.audit.events(kind="engine", limit=1)
        assert stopped.message == "Moteur arrêté"
        store.overrides.add(setpoint, 20.5, start=stopped.ts,
                            until=stopped.ts + timedelta(days=2), who="gestionnaire",
                            why="réunion du CCAS", at=stopped.ts)
        edited = Programme(mon=("07:00-12:00",), wed=("14:00-18:00",))
        store.programmes.save(zone, edited, at=stopped.ts, who="gestionnaire")
        [elu] = [user for user in store.accounts.users() if user.name == "elu"]

    def overridden(said: str) -> bool:
        return "panneau web" in said and _samples(db, setpoint)[-1][1] == 20.5

    again = run_until(args, tmp_path, overridden)
    assert again.returncode == 0, again.stderr
    assert TABLE_OF_PASSWORDS not in again.stdout
    assert "comptes de la démo conservés, avec leurs mots de passe : elu, gestionnaire, " \
           "admin" in again.stdout
    assert f"stockage {db} conservé : la démo reprend le" in again.stdout
    with Store(db) as store:
        started = store.audit.events(kind="engine", since=stopped.ts, limit=10)
        assert [e.message for e in reversed(started)] == [
            "Moteur arrêté", "Moteur démarré", "Moteur arrêté"]
        assert store.status.zones()[zone].source == "override"
        current = store.programmes.current(zone)
        assert current is not None and current.programme == edited
        assert store.accounts.user("elu") == elu  # the same password hash
    for key, samples in before.items():
        after = [(ts, value) for ts, value in _samples(db, key) if ts > samples[-1][0]]
        # The clock went on from the stop: nothing after it was written over.
        assert _samples(db, key)[: len(samples)] == samples, key
        assert after and after[0][0] >= stopped.ts.timestamp(), key
        if key in meters:  # counted on, at most the plants' 100 kW since the last index
            hours = (after[0][0] - samples[-1][0]) / 3600
            assert samples[-1][1] <= after[0][1] <= samples[-1][1] + 100 * hours, key
        else:  # the first reading after the start is what the device held at the stop
            assert after[0][1] == samples[-1][1], (key, samples[-2:], after[:2])

    fresh = run_until([*args, "--afresh"], tmp_path,
                      lambda said: "panneau web" in said and _commands(db) >= 14)
    assert fresh.returncode == 0, fresh.stderr
    assert f"nouveau stockage {db}, vide" in fresh.stdout and TABLE_OF_PASSWORDS in fresh.stdout
    with Store(db) as store:
        assert store.overrides.history() == [] and store.programmes.current(zone) is None
        assert [e.message for e in store.audit.events(kind="engine")][-1] == "Moteur démarré"
        assert store.accounts.user("elu") != elu


def test_gtb_run_on_devices_that_are_not_there_raises_alarms(
    tmp_path: Path, demo_site_text: str
) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(demo_site_text, encoding="utf-8")  # free ports: nothing listens there
    db = tmp_path / "gtb.sqlite"
    def alarmed(_: str) -> bool:
        """Every device has its alarm (the live table is printed at the stop only, when
        the output is a file: the store says when)."""
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                return conn.execute("SELECT COUNT(*) FROM alarms WHERE cleared_at IS NULL "
                                    "AND key LIKE 'device:%'").fetchone()[0] >= 12
        except sqlite3.OperationalError:  # not made yet, or its tables not yet
            return False

    result = run_until([*GTB, "run", str(site), "--db", str(db),
                        "--bacnet-port", str(free_port(2)), "--no-panel"], tmp_path, alarmed)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as conn:
        alarms = [row[0] for row in conn.execute("SELECT key FROM alarms WHERE cleared_at IS NULL")]
    # Its eight Modbus and BACnet devices, and its four LoRaWAN devices (the salle des
    # fêtes', the river gauge), whose broker is not there either.
    assert len([key for key in alarms if key.startswith("device:")]) == 12
    assert len([key for key in alarms if key.startswith("device:lorawan:")]) == 4
    # Beside them, the real clock decides one more: at the hours when the crèche's plant
    # is off by its own clock, its zone (at frost protection, its sensor lost) has no heat.
    assert all(key.startswith("device:") or key == "no_heat:creche.chaudiere"
               for key in alarms), alarms
    assert f"{len(alarms)} alarmes" in result.stdout
    assert result.stdout.endswith("┘\narrêté\n")  # the table's last frame ends its line


def test_check_reports_a_lighting_programme_that_breaks_the_arrete(
    relit_church_site: Path
) -> None:
    result = subprocess.run([*GTB, "check", str(relit_church_site)], capture_output=True,
                            text=True, env={**ENV, "COLUMNS": "300"},
                            timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ep-eglise: 365 night(s) of the coming year break the arrêté" in result.stdout
    assert "rallumée à 05:00" in result.stdout
    assert "ep-centre" not in result.stdout.split("valid")[1]


def test_a_panel_port_already_taken_is_a_clear_error(tmp_path: Path, demo_site_text: str
                                                     ) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(demo_site_text, encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # It stops by itself, before the engine starts: no time to wait for.
        result = subprocess.run([*GTB, "run", str(site), "--db", str(tmp_path / "gtb.sqlite"),
                                 "--bacnet-port", str(free_port(2)), "--panel-port", str(port)],
                                cwd=tmp_path, capture_output=True, text=True, timeout=120,
                                env=ENV)
    assert result.returncode == 1
    assert f"the web panel cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not events(tmp_path / "gtb.sqlite"), "the engine started"


def test_sigterm_stops_gtb_run_as_ctrl_c_does(tmp_path: Path, demo_site_text: str,
                                             demo_site: Site) -> None:
    """kill, systemd and supervisors stop with SIGTERM: the points must be handed back to
    the devices (their priority slots empty again, read over BACnet) and the stop's events
    must reach InfluxDB, as with Ctrl-C; the virtual commune runs here, gtb run in its own
    process."""
    site = tmp_path / "site.yaml"
    site.write_text(demo_site_text, encoding="utf-8")
    db = tmp_path / "gtb.sqlite"
    bacnet = [ref for ref in demo_site.points()
              if isinstance(ref.binding, BacnetBinding) and ref.point.writable]
    commanded: list[PointRef] = []

    async def scenario(influx: LocalInfluxDB1) -> int:
        nonlocal commanded
        virtual = VirtualSite(demo_site, SimulatedClock(RealClock().now(), speed=1.0))
        driver = BacnetDriver(now=monotonic, port=free_port(socket.SOCK_DGRAM))
        async with virtual.serving():
            await driver.start()
            with (tmp_path / "stdout.txt").open("w", encoding="utf-8") as out:
                process = await asyncio.create_subprocess_exec(
                    *GTB, "run", str(site), "--db", str(db), "--no-panel",
                    "--bacnet-port", str(free_port(socket.SOCK_DGRAM)),
                    "--influx-url", influx.url, "--influx-api", "v1",
                    "--influx-database", "gtb", cwd=tmp_path, stdout=out,
                    stderr=asyncio.subprocess.PIPE, env=ENV)
            try:
                # The first tick records its commands, then writes them: each slot fills.
                while not (commanded := [ref for ref in bacnet if ref.key in written(db)]) or (
                        not all([await held(driver, ref) for ref in commanded])):
                    assert process.returncode is None, await process.communicate()
                    await asyncio.sleep(0.2)
                process.send_signal(signal.SIGTERM)
                _, err = await asyncio.wait_for(process.communicate(), 60)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            assert "Traceback" not in err.decode(), err.decode()
            for ref in commanded:
                assert await driver.priority_array(ref) == [None] * 16, ref.key
            await driver.stop()
        assert process.returncode is not None
        return process.returncode

    with LocalInfluxDB1() as influx:
        influx.create_database("gtb")
        returncode = asyncio.run(asyncio.wait_for(scenario(influx), 180))
        assert returncode == 0
        stopped = influx.query('SELECT "message", "reason" FROM "event" WHERE kind = \'engine\'',
                               "gtb")[0]["values"]
        assert stopped[-1][1:] == ["Moteur arrêté", RELEASED], "shipped at the stop"
    said = (tmp_path / "stdout.txt").read_text(encoding="utf-8")
    assert "SIGTERM : arrêt du moteur" in said
    assert "InfluxDB à l'arrêt : " in said and " 0 attendent le prochain démarrage" in said
    with sqlite3.connect(db) as conn:
        last = conn.execute("SELECT kind, message, reason FROM events WHERE kind = 'engine' "
                            "ORDER BY id DESC LIMIT 1").fetchone()
        released = {row[0] for row in conn.execute(
            "SELECT point FROM events WHERE kind = 'command' AND reason LIKE 'arrêt du moteur%'")}
        backlog = conn.execute("SELECT COUNT(*) FROM events WHERE id > (SELECT position FROM "
                               "shipped WHERE stream = 'events')").fetchone()[0]
    assert last == ("engine", "Moteur arrêté", RELEASED)
    assert len(commanded) >= 10 and {ref.key for ref in commanded} <= released
    assert backlog == 0, "the stop's events went to InfluxDB before the store closed"


def written(db: Path) -> set[str]:
    """The points the engine has commanded so far (its command events)."""
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(db) as conn:
            return {row[0] for row in conn.execute(
                "SELECT point FROM events WHERE kind = 'command'")}
    except sqlite3.OperationalError:  # the engine is still making the schema
        return set()


async def held(driver: BacnetDriver, ref: PointRef) -> bool:
    """Whether the point's slot at its binding's priority holds a command."""
    assert isinstance(ref.binding, BacnetBinding)
    return (await driver.priority_array(ref))[ref.binding.priority - 1] is not None
