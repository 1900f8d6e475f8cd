"""Bindings that cannot work, found on the devices: ``gtb check --live`` and the engine's
start ask the simulated commune's devices (real Modbus TCP and BACnet/IP over loopback)
about a site file that is valid but wrong for them."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from pathlib import Path

from gtb.clock import SimulatedClock
from gtb.config import parse_site
from gtb.model import Site
from gtb.model.points import BacnetBinding, Severity
from gtb.sim.runner import VirtualSite
from gtb.store import Store

from .conftest import DEVICE_TIMEOUT_S, ROOT, free_port
from .engine_rig import MONDAY_3AM, rig, run

SETPOINT = "gymnase.salle.consigne"


def edit_line(text: str, *, having: tuple[str, ...], old: str, new: str) -> tuple[str, int]:
    """The text with ``old`` replaced on the one line that has all of ``having``, and
    that line's number."""
    lines = text.splitlines(keepends=True)
    [number] = [n for n, line in enumerate(lines, 1) if all(h in line for h in having)]
    assert old in lines[number - 1], lines[number - 1]
    lines[number - 1] = lines[number - 1].replace(old, new, 1)
    return "".join(lines), number


def wrong_site(text: str) -> tuple[str, dict[str, int]]:
    """The demo commune's file with four bindings its devices contradict, and the line of
    each: a Modbus register beyond the device's map, a BACnet object the device lacks,
    a valve (served in percent) read as a temperature, a temperature whose range
    excludes what the device holds."""
    lines: dict[str, int] = {}
    text, lines["mairie.accueil.vanne"] = edit_line(
        text, having=("role: valve,", "table: input_register, address: 10,"), old="address: 10,",
        new="address: 900,")
    text, lines["gymnase.salle.vanne"] = edit_line(
        text, having=("device_instance: 1001, object_type: analogInput, object_instance: 11}}",),
        old="object_instance: 11}", new="object_instance: 99}")
    text, lines["gymnase.vestiaires.vanne"] = edit_line(
        text, having=("device_instance: 1001, object_type: analogInput, object_instance: 12}}",),
        old="role: valve,", new="role: measurement, unit: °C,")
    text, lines["mediatheque.lecture.temperature"] = edit_line(
        text, having=("zone_temperature", "device_instance: 1002, object_type: analogInput, "
                      "object_instance: 1}}"),
        old="role: zone_temperature,", new="role: zone_temperature, range: [30, 40],")
    return text, lines


def plain_setpoint(text: str) -> dict[str, dict[str, object]]:
    """The gym's device serves its setpoint as an analog value without a priority array."""
    binding = parse_site(text).point(SETPOINT).binding
    assert isinstance(binding, BacnetBinding)
    return {binding.address: {"plain": [SETPOINT]}}


def check_live(path: Path, virtual: VirtualSite) -> tuple[int, str, str]:
    """``gtb check --live`` on ``path`` while ``virtual`` serves its devices: the exit code,
    the standard output and error."""
    async def body() -> tuple[int, str, str]:
        async with virtual.serving(sync_s=3600):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gtb.cli", "check", "--live", str(path),
                "--bacnet-port", str(free_port(socket.SOCK_DGRAM)), cwd=ROOT,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={"COLUMNS": "400", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
            out, err = await process.communicate()
            assert process.returncode is not None
            return process.returncode, out.decode(), err.decode()

    return asyncio.run(asyncio.wait_for(body(), 90))


def test_check_live_reports_each_binding_the_devices_contradict_at_its_line(
    demo_site_text: str, tmp_path: Path
) -> None:
    served = parse_site(demo_site_text, "served.yaml")
    text, lines = wrong_site(demo_site_text)
    lines[SETPOINT] = next(n for n, line in enumerate(text.splitlines(), 1)
                           if "id: consigne" in line and "device_instance: 1001" in line)
    path = tmp_path / "wrong.yaml"
    path.write_text(text, encoding="utf-8")
    virtual = VirtualSite(served, SimulatedClock(MONDAY_3AM),
                          bacnet_options=plain_setpoint(demo_site_text))
    code, out, err = check_live(path, virtual)
    assert code == 2, out + err
    located = re.compile(rf"{re.escape(str(path))}:\d+: ")
    problems = [line for line in err.splitlines() if located.match(line)]
    assert {line.split(": ")[1] for line in problems} == set(lines), err
    for line in problems:
        key = line.split(": ")[1]
        assert line.startswith(f"{path}:{lines[key]}: {key}: "), line
    said = {line.split(": ")[1]: line for line in problems}
    assert "illegal" in said["mairie.accueil.vanne"].lower()
    assert "unknown-object" in said["gymnase.salle.vanne"]
    assert "is in percent, the point in °C" in said["gymnase.vestiaires.vanne"]
    assert "outside the physical range 30..40 °C" in said["mediatheque.lecture.temperature"]
    assert "has no priority array" in said[SETPOINT]
    assert "5 binding problems" in err


def test_check_live_passes_a_site_its_devices_agree_with(
    demo_site_text: str, tmp_path: Path
) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(demo_site_text, encoding="utf-8")
    virtual = VirtualSite(parse_site(demo_site_text), SimulatedClock(MONDAY_3AM))
    code, out, err = check_live(path, virtual)
    assert code == 0, out + err
    # Its LoRaWAN devices (the salle des fêtes, the river gauge) are not asked.
    assert "105 bindings checked on 8 devices, as the file says" in out


def test_the_engine_refuses_to_command_what_it_could_not_release(
    demo_site_text: str, tmp_path: Path
) -> None:
    served = parse_site(demo_site_text, "served.yaml")
    text, lines = wrong_site(demo_site_text)
    engine_site = parse_site(text, "wrong.yaml")

    async def body() -> None:
        async with rig(served, tmp_path / "gtb.sqlite", engine_site=engine_site,
                       bacnet_options=plain_setpoint(demo_site_text)) as r:
            gym = r.server("gymnase")
            before = gym.commanded(SETPOINT)
            r.store.overrides.add(SETPOINT, before + 2.5, start=r.clock.now(),
                                  until=r.clock.now().replace(year=2027), who="marie",
                                  why="essai", at=r.clock.now())
            for _ in range(3):
                await r.tick()
            assert gym.commanded(SETPOINT) == before, "never written"
            alarms = r.store.alarms.active()
            refused = alarms[f"binding:{SETPOINT}"]
            assert refused.severity is Severity.CRITICAL
            assert refused.message.startswith(f"{SETPOINT} ne sera pas commandé")
            for key in lines:
                assert alarms[f"binding:{key}"].severity is Severity.WARNING
            # The other command points of the same device are written as usual.
            [changing_rooms] = [z for z in r.engine.zones() if z.key == "gymnase.vestiaires"]
            assert gym.commanded("gymnase.vestiaires.consigne") == changing_rooms.setpoint
        store = Store(tmp_path / "gtb.sqlite")
        said = [e.message for e in store.audit.events(kind="command", limit=1000)]
        store.close()
        assert not [m for m in said if m.startswith(SETPOINT)], "never written nor released"

    run(body)


def test_a_device_that_cannot_be_reached_says_nothing_of_its_bindings(
    demo_site: Site
) -> None:
    """Nothing listens on the commune's ports: every device goes unchecked (one finding
    each, saying why), and no binding is called wrong for it."""
    from gtb.engine.bindings import check_bindings
    from protocols.bacnet import BacnetDriver
    from protocols.modbus import ModbusDriver

    async def body() -> None:
        clock = SimulatedClock(MONDAY_3AM)
        drivers = {
            "modbus": ModbusDriver(now=lambda: clock.now().timestamp(), timeout_s=DEVICE_TIMEOUT_S),
            "bacnet": BacnetDriver(now=lambda: clock.now().timestamp(), timeout_s=DEVICE_TIMEOUT_S,
                                   port=free_port(socket.SOCK_DGRAM)),
        }
        for driver in drivers.values():
            await driver.start()
        try:
            findings = await check_bindings(demo_site.points(), drivers)
        finally:
            for driver in drivers.values():
                await driver.stop()
        devices = {ref.binding.endpoint for ref in demo_site.points()}
        assert len(findings) == len(devices)
        assert all(finding.unchecked for finding in findings), findings
        modbus = [f for f in findings if demo_site.point(f.key).binding.protocol == "modbus"]
        assert modbus and all("connection refused" in f.message for f in modbus)

    run(body)
