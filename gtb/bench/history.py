"""``gtb bench history``: shipping the store to a local InfluxDB 1.x, measured.

The site is the engine bench's: 5,000 points on 50 buildings. Two figures:

- ``points_per_s``: one million samples (200 ticks of the 5,000 points) wait in the store;
  one shipping pass sends them all through the v1 API, and the rate is samples over the
  pass's wall time (reading the store, writing line protocol, InfluxDB's answers);
- ``drain_1h_outage_s``: InfluxDB is stopped while an hour of ticks (60 × 5,000 samples,
  a tick a minute) piles up; it is started again, and the time is that of the passes that
  empty the backlog.

InfluxDB is Debian's ``influxd``, started on a free loopback port in a temporary folder
and stopped at the end. Filling the store is not timed.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.progress import Progress

from gtb.bench.engine import bench_site_yaml
from gtb.bench.servers import LocalInfluxDB1
from gtb.clock import SimulatedClock, monotonic
from gtb.config import parse_site
from gtb.influx import InfluxSettings, Shipper
from gtb.model import Site
from gtb.store import Store
from gtb.store.samples import Sample

START = datetime(2026, 1, 12, 0, 0, tzinfo=UTC)
DATABASE = "gtb_bench"


def bench_history(samples: int = 1_000_000, outage_ticks: int = 60,
                  progress: Progress | None = None) -> dict[str, Any]:
    site = parse_site(bench_site_yaml(50), "bench.yaml")
    keys = [ref.key for ref in site.points()]
    ticks = -(-samples // len(keys))
    with tempfile.TemporaryDirectory(prefix="gtb-bench-history-") as folder, \
            LocalInfluxDB1() as server:
        server.create_database(DATABASE)
        settings = InfluxSettings(url=server.url, api="v1", database=DATABASE)
        store = Store(Path(folder) / "gtb.sqlite")
        try:
            _fill(store, keys, START, ticks, progress, "store: 1 million samples")
            shipped, rate = _ship_all(store, site, settings, progress)
            drain = _drain_after_outage(store, site, settings, server, keys, ticks,
                                        outage_ticks, progress)
            [[_, archived]] = server.query("SELECT count(value) FROM temperature",
                                           DATABASE)[0]["values"]
        finally:
            store.close()
    expected = len([k for k in keys if k.endswith(".temperature")]) * (ticks + outage_ticks)
    return {
        "site_points": len(keys),
        "samples": shipped,
        "points_per_s": round(rate),
        "outage_ticks": outage_ticks,
        "outage_samples": outage_ticks * len(keys),
        "drain_1h_outage_s": round(drain, 2),
        "archived_check": {"temperature_samples": archived, "expected": expected},
        "influxdb": "Debian influxd 1.x on loopback, API v1",
        "batch_size": settings.batch_size,
    }


def _fill(store: Store, keys: list[str], start: datetime, ticks: int,
          progress: Progress | None, label: str) -> None:
    task = progress.add_task(label, total=ticks) if progress else None
    for tick in range(ticks):
        at = start + timedelta(minutes=tick)
        store.samples.write(Sample(key, at, 19.0 + (tick + n) % 40 / 10)
                            for n, key in enumerate(keys))
        if progress is not None and task is not None:
            progress.advance(task)
    if progress is not None and task is not None:
        progress.remove_task(task)


def _ship_all(store: Store, site: Site, settings: InfluxSettings,
              progress: Progress | None) -> tuple[int, float]:
    """Samples shipped by one pass over the whole backlog, and per second."""
    backlog = store.shipping.backlog()["samples"]
    task = progress.add_task("InfluxDB: shipping", total=backlog) if progress else None

    said = 0

    def advanced(_: str) -> None:
        # The shipper says the backlog once, then a line per batch: counted, not queried,
        # so that the timed pass does no more than shipping.
        nonlocal said
        said += 1
        if progress is not None and task is not None:
            progress.update(task, completed=min(backlog, (said - 1) * settings.batch_size))

    shipper = Shipper(store, site, settings, SimulatedClock(START), progress=advanced)
    began = monotonic()
    report = shipper.ship()
    elapsed = monotonic() - began
    shipper.close()
    if report.waiting:
        raise RuntimeError(f"shipping stopped: {report.error}")
    if progress is not None and task is not None:
        progress.remove_task(task)
    return report.samples, report.samples / elapsed


def _drain_after_outage(store: Store, site: Site, settings: InfluxSettings,
                        server: LocalInfluxDB1, keys: list[str], ticks: int, outage_ticks: int,
                        progress: Progress | None) -> float:
    now = [0.0]
    clock = SimulatedClock(START + timedelta(minutes=ticks))
    shipper = Shipper(store, site, settings, clock, now=lambda: now[0])
    server.stop()
    _fill(store, keys, clock.now(), outage_ticks, progress, "store: an hour of outage")
    if not shipper.ship().waiting:
        raise RuntimeError("shipping went through while InfluxDB was stopped")
    server.start()
    now[0] += 3600  # past any backoff: the next pass goes at once
    began = monotonic()
    while sum(store.shipping.backlog().values()):
        report = shipper.ship()
        if report.waiting:
            raise RuntimeError(f"the drain stopped: {report.error}")
    elapsed = monotonic() - began
    shipper.close()
    return elapsed
