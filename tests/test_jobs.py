"""The scheduled jobs on an accelerated clock: ticks, hourly rollups, and a failing job."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from gtb.clock import SimulatedClock
from gtb.engine import Engine
from gtb.engine.jobs import start_jobs
from gtb.influx import InfluxSettings, Shipper
from gtb.model import Site
from gtb.sim.runner import VirtualSite
from gtb.store import Store
from protocols.bacnet import BacnetDriver
from protocols.modbus import ModbusDriver

from .conftest import DEVICE_TIMEOUT_S, free_port

SPEED = 3600.0  # a simulated hour per real second: a tick every 17 ms, rollups every second
START = datetime(2026, 1, 12, 6, 0, tzinfo=ZoneInfo("Europe/Paris"))
POINT = "mairie.accueil.temperature"


def _engine(site: Site, tmp_path: Path) -> tuple[SimulatedClock, Store, Engine]:
    """An engine on the demo commune's drivers, its store and its clock (accelerated)."""
    clock = SimulatedClock(START, speed=SPEED)
    store = Store(tmp_path / "gtb.sqlite")
    def now() -> float:
        return clock.now().timestamp()

    drivers = {"modbus": ModbusDriver(now=now, timeout_s=DEVICE_TIMEOUT_S),
               "bacnet": BacnetDriver(now=now, timeout_s=DEVICE_TIMEOUT_S,
                                      port=free_port(socket.SOCK_DGRAM))}
    return clock, store, Engine(site, store, drivers, clock)


async def until(condition: Callable[[], bool], within_s: float = 60.0) -> None:
    """Wait for ``condition`` (polled): how long it takes is the machine's business;
    ``within_s`` only ends a wait for something that never comes."""
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < within_s, "it never came"
        await asyncio.sleep(0.05)


def test_ticks_and_rollups_run_and_a_failing_job_is_an_event(
    demo_site: Site, tmp_path: Path
) -> None:
    async def body() -> None:
        clock, store, engine = _engine(demo_site, tmp_path)

        def ticks() -> int:
            return len(store.samples.read(POINT, START, clock.now()))

        async with VirtualSite(demo_site, clock, seed=2).serving(sync_s=0.02):
            await engine.start()
            scheduler = start_jobs(engine, store, clock, speed=SPEED)
            try:
                assert scheduler.get_job("efficiency") is not None  # daily: test_efficiency
                await until(lambda: bool(store.rollups.hourly(POINT, START, clock.now())))
                hours = store.rollups.hourly(POINT, START, clock.now())
                assert all(h.count >= 1 for h in hours), "hourly rollups ran"

                # The disk fills up: the rollup fails, the ticks go on.
                def disk_full(start: datetime, end: datetime) -> int:
                    raise OSError("disque plein")

                store.rollups.compute = disk_full  # type: ignore[method-assign]
                ticked = ticks()
                await until(lambda: bool(store.audit.events(kind="job_error")))
                [failure, *_] = store.audit.events(kind="job_error")
                assert "« rollup » a échoué" in failure.message
                assert "disque plein" in failure.message
                await until(lambda: ticks() > ticked + 5)
            finally:
                scheduler.shutdown(wait=False)
                await engine.stop()
                store.close()

    asyncio.run(asyncio.wait_for(body(), 120))


class StuckWriter:
    """Stands in for an InfluxDB that does not answer a batch until the test lets it (a
    fake writer: the point is a server stuck for as long as the test needs, which a real
    one cannot be made to do on demand)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.batches = 0

    def write(self, body: str, precision: str) -> None:
        self.entered.set()
        self.release.wait(timeout=120)
        self.batches += 1

    def close(self) -> None:
        pass


def test_a_slow_influxdb_does_not_hold_up_the_ticks(demo_site: Site, tmp_path: Path) -> None:
    async def body() -> None:
        clock, store, engine = _engine(demo_site, tmp_path)
        writer = StuckWriter()
        settings = InfluxSettings(url="http://127.0.0.1:9", api="v1", database="gtb",
                                  batch_size=50)
        shipper = Shipper(store, demo_site, settings, clock, writer=writer)

        def ticks() -> int:
            return len(store.samples.read(POINT, START, clock.now()))

        async with VirtualSite(demo_site, clock, seed=2).serving(sync_s=0.02):
            await engine.start()
            scheduler = start_jobs(engine, store, clock, speed=SPEED, shipper=shipper)
            try:
                await until(writer.entered.is_set)  # shipping is stuck in InfluxDB...
                ticked = ticks()
                await until(lambda: ticks() > ticked + 20)  # ... and the ticks go on
                assert writer.batches == 0 and not writer.release.is_set()
            finally:
                writer.release.set()
                scheduler.shutdown(wait=False)
                await engine.stop()
                store.close()

    asyncio.run(asyncio.wait_for(body(), 120))
