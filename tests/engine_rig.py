"""The engine on the virtual commune, for tests: its store, the commune's devices on free
loopback ports, and a stepped simulated clock that each test moves by hand. Its Modbus and
BACnet devices only (``conftest.wired``): LoRaWAN devices publish when they want, through
a broker, which the engine reads without waiting (tests/test_sim_radio.py)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gtb.clock import SimulatedClock
from gtb.engine import Engine, EngineSettings, TickReport
from gtb.model import Site
from gtb.sim.devices import DeviceServer
from gtb.sim.runner import VirtualSite
from gtb.store import Store
from protocols.bacnet import BacnetDriver
from protocols.modbus import ModbusDriver

from .conftest import DEVICE_TIMEOUT_S, free_port

PARIS = ZoneInfo("Europe/Paris")
MONDAY_3AM = datetime(2026, 1, 12, 3, 0, tzinfo=PARIS)
SETTINGS = EngineSettings(tick_s=60.0, stale_after_s=180.0, refresh_s=6 * 3600.0)


@dataclass
class Rig:
    """An engine, the virtual commune it runs, its store, and the clock they share."""

    engine: Engine
    virtual: VirtualSite
    store: Store
    clock: SimulatedClock

    async def tick(self, after_s: float = 60.0) -> TickReport:
        """Let ``after_s`` simulated seconds pass, the physics catch up, then run a tick."""
        self.clock.advance(after_s)
        self.virtual.sync()
        report = await self.engine.tick()
        self.virtual.sync()  # commands written by the tick reach the physics
        return report

    def server(self, prefix: str) -> DeviceServer:
        return next(s for s in self.virtual.servers if s.keys[0].startswith(prefix))

    def events(self, kind: str) -> list[str]:
        return [e.message for e in self.store.audit.events(kind=kind, limit=1000)]


@contextlib.asynccontextmanager
async def rig(
    site: Site, db: Path, start: datetime = MONDAY_3AM, engine_site: Site | None = None,
    settings: EngineSettings = SETTINGS,
    bacnet_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> AsyncIterator[Rig]:
    site, engine_site = site.wired(), None if engine_site is None else engine_site.wired()
    clock = SimulatedClock(start)
    virtual = VirtualSite(site, clock, seed=5, bacnet_options=bacnet_options)
    store = Store(db)
    drivers = {
        "modbus": ModbusDriver(now=lambda: clock.now().timestamp(), timeout_s=DEVICE_TIMEOUT_S),
        "bacnet": BacnetDriver(now=lambda: clock.now().timestamp(),
                               port=free_port(socket.SOCK_DGRAM), timeout_s=DEVICE_TIMEOUT_S),
    }
    engine = Engine(engine_site or site, store, drivers, clock, settings)
    # The background sync stays out of the way: the tests sync by hand, at known times.
    async with virtual.serving(sync_s=3600):
        await engine.start()
        try:
            yield Rig(engine, virtual, store, clock)
        finally:
            await engine.stop()
            store.close()


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 300))
