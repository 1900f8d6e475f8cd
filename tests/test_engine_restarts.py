"""Devices that restart: the engine writes their commands again on the first tick they
answer, whatever they came back holding, over real Modbus and BACnet stacks on loopback.

A restart is ``VirtualSite.power_cycle``: the device comes back with the building's own
commands, or with a value no point may hold (what a controller that lost its
configuration shows). Each test fails on an engine that waits for a good reading, two
ticks, or the refresh (six hours in the rig) to write again.
"""

from __future__ import annotations

from pathlib import Path

from gtb.model import Site

from .engine_rig import Rig, rig, run


def commands_of(r: Rig, prefix: str) -> dict[str, float]:
    """What the device holds of each point the engine commands."""
    server = r.server(prefix)
    commanded = {e.point for e in r.store.audit.events(kind="command", limit=1000)}
    return {key: server.commanded(key) for key in server.keys if key in commanded}


def restorations(r: Rig) -> list[tuple[str | None, str]]:
    return [(e.point, e.reason) for e in r.store.audit.events(kind="command", limit=1000)
            if e.message.endswith("de nouveau")]


def test_a_command_read_back_out_of_range_is_written_again_at_once(
    demo_site: Site, tmp_path: Path
) -> None:
    async def body() -> None:
        async with rig(demo_site, tmp_path / "gtb.sqlite") as r:
            await r.tick()
            await r.tick()
            wanted = commands_of(r, "ecole")
            assert wanted["ecole.maternelle.consigne"] == 8.0  # frost protection at 03:00
            # The school's controller restarts between two ticks and holds -1000 °C (no
            # silence the engine could see), its other setpoints at comfort.
            await r.virtual.power_cycle(r.server("ecole"),
                                        held={"ecole.maternelle.consigne": -1000.0})
            assert commands_of(r, "ecole") != wanted
            report = await r.tick()
            assert commands_of(r, "ecole") == wanted
            assert report.writes == len(wanted)
            assert all("hors plage" in reason for _, reason in restorations(r))
            assert {point for point, _ in restorations(r)} == set(wanted)
            # Restored, nothing more to write.
            assert (await r.tick()).writes == 0

    run(body)


def test_a_device_back_after_a_silence_gets_its_commands_at_once(
    demo_site: Site, tmp_path: Path
) -> None:
    async def body() -> None:
        async with rig(demo_site, tmp_path / "gtb.sqlite") as r:
            await r.tick()
            wanted = commands_of(r, "gymnase")
            gym = r.server("gymnase")
            await gym.stop()
            report = await r.tick(after_s=30)
            assert report.stale == len(gym.keys)
            # It comes back 30 s later with its own defaults: valid values, written a
            # minute ago, so only the silence says it may have lost them.
            await r.virtual.power_cycle(gym)
            assert commands_of(r, "gymnase") != wanted
            await r.tick(after_s=30)
            assert commands_of(r, "gymnase") == wanted
            restored = restorations(r)
            assert {point for point, _ in restored} == set(wanted)
            assert all("répond de nouveau" in reason for _, reason in restored)

    run(body)
