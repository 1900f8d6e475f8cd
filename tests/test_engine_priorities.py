"""The engine on BACnet devices as they are on real sites: a person who commands a point at
a higher priority than the engine's, a device that rounds what it is sent, a device that
does not keep it. The devices are the simulated commune's (real bacpypes3 devices over
loopback), the engine its own (``tests/engine_rig.py``)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from gtb.engine.writing import REWRITES_PER_HOUR
from gtb.model import PointRef, Site
from gtb.model.points import BacnetBinding
from protocols.bacnet import BacnetDriver

from .engine_rig import Rig, rig, run

SETPOINT = "gymnase.salle.consigne"


def at_priority(ref: PointRef, priority: int) -> PointRef:
    """The same object, commanded at another priority: what a local front-end does."""
    binding = ref.point.binding.model_copy(update={"priority": priority})
    return dataclasses.replace(ref, point=ref.point.model_copy(update={"binding": binding}))


def person(r: Rig) -> BacnetDriver:
    """A front-end's BACnet client. The engine's own client serves for it (two BAC0
    applications cannot live in one process: stopping one cancels the other's tasks);
    what reaches the device is a real WriteProperty at priority 8 all the same."""
    driver = r.engine.drivers["bacnet"]
    assert isinstance(driver, BacnetDriver)
    return driver


def override(r: Rig, key: str, value: float) -> None:
    now = r.clock.now()
    r.store.overrides.add(key, value, start=now, until=now + timedelta(days=1), who="marie",
                          why="essai", at=now)


def test_a_command_at_a_higher_priority_holds_the_point_until_relinquished(
    demo_site: Site, tmp_path: Path
) -> None:
    async def body() -> None:
        async with rig(demo_site, tmp_path / "gtb.sqlite") as r:
            ref = r.engine.refs[SETPOINT]
            override(r, SETPOINT, 20.0)
            for _ in range(3):
                await r.tick()
            assert r.virtual.world.read(SETPOINT) == 20.0
            gym = r.server("gymnase")
            local = at_priority(ref, 8)
            await person(r).write(local, 23.0)
            before = gym.traffic()
            for _ in range(6):
                await r.tick()
            # The person's value holds, the engine wrote nothing more, and said why.
            assert r.virtual.world.read(SETPOINT) == 23.0
            assert (gym.traffic() - before).writes == 0
            held = [m for m in r.events("command") if "Commande locale prioritaire" in m]
            assert held == [f"Commande locale prioritaire sur {SETPOINT} (priorité 8)"]
            [zone] = [z for z in r.engine.zones() if z.key == "gymnase.salle"]
            assert zone.held_by_priority == 8
            stored = r.store.status.zones()
            assert stored["gymnase.salle"].held_by_priority == 8
            slots = await person(r).priority_array(ref)
            assert slots[7] == 23.0 and slots[9] == 20.0
            # Relinquished: the engine takes the point back, and says so.
            await person(r).release(local)
            for _ in range(3):
                await r.tick()
            assert r.virtual.world.read(SETPOINT) == 20.0
            assert f"{SETPOINT} : le moteur reprend la main" in r.events("command")
            [zone] = [z for z in r.engine.zones() if z.key == "gymnase.salle"]
            assert zone.held_by_priority is None

    run(body)


def test_a_device_that_rounds_a_setpoint_is_not_written_again_and_again(
    demo_site: Site, tmp_path: Path
) -> None:
    binding = demo_site.point(SETPOINT).binding
    assert isinstance(binding, BacnetBinding)
    options = {binding.address: {"resolution": 0.5}}

    async def body() -> None:
        async with rig(demo_site, tmp_path / "gtb.sqlite", bacnet_options=options) as r:
            for _ in range(3):
                await r.tick()
            override(r, SETPOINT, 19.3)
            await r.tick()
            assert r.virtual.world.read(SETPOINT) == 19.5  # the device keeps half degrees
            gym = r.server("gymnase")
            before = gym.writes_by_point()[SETPOINT]
            for _ in range(12):
                await r.tick()
            # (the gym's boiler may switch for the override's heat: its writes are its own)
            assert gym.writes_by_point()[SETPOINT] == before
            assert not any(k.startswith("rewrite:") for k in r.store.alarms.active())

    run(body)


def test_a_point_written_again_and_again_raises_an_alarm(
    demo_site: Site, tmp_path: Path
) -> None:
    async def body() -> None:
        async with rig(demo_site, tmp_path / "gtb.sqlite") as r:
            ref = r.engine.refs[SETPOINT]
            override(r, SETPOINT, 21.0)
            await r.tick()
            # Something on the device drops the engine's command every minute.
            for _ in range(4 * REWRITES_PER_HOUR):
                await person(r).release(ref)
                await r.tick()
            alarm = r.store.alarms.active().get(f"rewrite:{SETPOINT}")
            assert alarm is not None
            assert alarm.message.startswith(f"{SETPOINT} réécrit")
            # It keeps what it is sent again: the alarm ends once an hour has passed.
            for _ in range(62):
                await r.tick()
            assert f"rewrite:{SETPOINT}" not in r.store.alarms.active()

    run(body)
