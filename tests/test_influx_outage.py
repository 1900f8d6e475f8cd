"""An InfluxDB outage while the engine runs the virtual commune: Debian's InfluxDB 1.x is
stopped for twelve minutes of the engine's time, then started again on the same data; every
sample and every event must arrive, once. Shipping runs in a worker thread after each tick,
as the scheduler runs it."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from gtb.bench.servers import LocalInfluxDB1
from gtb.influx import ALARM_KEY, InfluxSettings, Shipper
from gtb.model import Site
from gtb.store import Store

from .engine_rig import MONDAY_3AM, rig, run

DB = "gtb"


def test_every_sample_and_event_arrives_once_after_an_outage(
    demo_site: Site, tmp_path: Path
) -> None:
    async def body() -> None:
        with LocalInfluxDB1() as server:
            server.create_database(DB)
            settings = InfluxSettings(url=server.url, api="v1", database=DB, timeout_s=2.0,
                                      batch_size=200)
            async with rig(demo_site, tmp_path / "gtb.sqlite") as r:
                lines: list[str] = []
                shipper = Shipper(r.store, demo_site, settings, r.clock,
                                  progress=lines.append, now=lambda: r.clock.now().timestamp())

                async def minute() -> None:
                    await r.tick()
                    await asyncio.to_thread(shipper.ship)

                for _ in range(5):
                    await minute()
                assert r.store.shipping.backlog() == {"samples": 0, "events": 0}

                server.stop()
                for _ in range(12):
                    await minute()
                alarm = r.store.alarms.active()[ALARM_KEY]
                assert "ne répond pas" in alarm.message and "rien n'est perdu" in alarm.message
                waiting = r.store.shipping.backlog()["samples"]
                assert waiting >= 12 * len(list(demo_site.points()))

                server.start()
                for _ in range(10):
                    await minute()
                    if sum(r.store.shipping.backlog().values()) == 0:
                        break
                assert r.store.shipping.backlog() == {"samples": 0, "events": 0}
                assert ALARM_KEY not in r.store.alarms.active()
                assert any("envoyés" in line for line in lines), "the drain shows progress"
                assert_same_history(r.store, server, MONDAY_3AM - timedelta(hours=1),
                                    r.clock.now() + timedelta(hours=1))

    run(body)


def assert_same_history(store: Store, server: LocalInfluxDB1, start: datetime,
                        end: datetime) -> None:
    """Every stored sample and event is in InfluxDB, at its time, and nothing else is."""
    stored: Counter[tuple[str, int]] = Counter()
    for point in store.samples.latest_all():
        for sample in store.samples.read(point, start, end):
            stored[(point, int(sample.ts.timestamp()))] += 1
    archived: Counter[tuple[str, int]] = Counter()
    for measurement in server.query("SHOW MEASUREMENTS", DB)[0]["values"]:
        name = measurement[0]
        if name in ("event", "command"):
            continue
        for series in server.query(f'SELECT * FROM "{name}" GROUP BY point', DB):
            for row in series["values"]:
                archived[(series["tags"]["point"], row[0])] += 1
    assert archived == stored
    assert len(stored) > 2000

    ids: set[int] = set()
    for name in ("event", "command"):
        for series in server.query(f'SELECT "id" FROM "{name}"', DB):
            ids.update(row[1] for row in series["values"])
    recorded = {e.id for e in store.audit.events(limit=100_000)}
    assert ids == recorded
