"""InfluxDB outages, against Debian's InfluxDB 1.x stopped and started again on the same
data. While the engine runs the virtual commune: every sample and every event must arrive,
once (shipping runs in a worker thread after each tick, as the scheduler runs it). Across
restarts of the engine: the outage and its alarm are the same, kept current, and cleared
when InfluxDB is back. After a long backoff: the drain starts within 30 s of InfluxDB's
return. When the engine stops: a last pass, whatever the backoff says.

The shipper's backoff and probes take their time from a clock moved by hand, so that half
an hour of outage takes a second and nothing depends on the machine's speed."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from gtb.bench.servers import LocalInfluxDB1
from gtb.clock import SimulatedClock
from gtb.engine.jobs import SHIP_EVERY_S
from gtb.i18n import number_fr
from gtb.influx import ALARM_KEY, InfluxSettings, Shipper, ShipReport, V1Writer
from gtb.model import Site
from gtb.store import Store
from gtb.store.samples import Sample

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
                await minute()
                assert r.store.shipping.backlog()["samples"] == 0, "drained at the first pass"
                await minute()  # and the outage's end, said by the event influx_up
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
    assert len(stored) > 1500  # 19 ticks of the commune's points

    ids: set[int] = set()
    for name in ("event", "command"):
        for series in server.query(f'SELECT "id" FROM "{name}"', DB):
            ids.update(row[1] for row in series["values"])
    recorded = {e.id for e in store.audit.events(limit=100_000)}
    assert ids == recorded


class Outage:
    """A store, a stopped-and-started InfluxDB 1.x, the engine's clock and the shipper's
    (seconds moved by hand), and a tick's samples at will."""

    def __init__(self, site: Site, store: Store, server: LocalInfluxDB1) -> None:
        self.site, self.store, self.server = site, store, server
        self.clock = SimulatedClock(MONDAY_3AM)
        self.seconds = 0.0
        self.settings = InfluxSettings(url=server.url, api="v1", database=DB, timeout_s=2.0)

    def shipper(self, **more: object) -> Shipper:
        """A shipper as a newly started engine makes it, on the same store."""
        return Shipper(self.store, self.site, self.settings, self.clock,
                       now=lambda: self.seconds, **more)  # type: ignore[arg-type]

    def later(self, seconds: float) -> None:
        """Time passes, and the engine records a tick's samples."""
        self.clock.advance(seconds)
        self.seconds += seconds
        self.store.samples.write([Sample(ref.key, self.clock.now(), 20.0)
                                  for ref in self.site.points()])

    def waiting(self) -> int:
        return sum(self.store.shipping.backlog().values())


def outage(site: Site, tmp_path: Path, test: Callable[[Outage], None]) -> None:
    with LocalInfluxDB1() as server, Store(tmp_path / "gtb.sqlite") as store:
        server.create_database(DB)
        test(Outage(site, store, server))


def test_an_outage_outlives_a_restart_and_its_alarm_clears_when_influxdb_is_back(
    demo_site: Site, tmp_path: Path
) -> None:
    def test(o: Outage) -> None:
        first = o.shipper()
        o.later(60)
        assert not first.ship().waiting
        o.server.stop()
        o.later(60)
        assert first.ship().waiting
        o.later(360)
        assert first.ship().waiting
        alarm = o.store.alarms.active()[ALARM_KEY]
        assert f"{number_fr(o.waiting(), 0)} points attendent" in alarm.message
        first.close()

        # The engine restarts while InfluxDB is still away, and the backlog grows.
        second = o.shipper()
        for _ in range(5):
            o.later(60)
        assert second.ship().waiting
        grown = o.waiting()
        assert grown > 5 * len(list(o.site.points()))
        again = o.store.alarms.active()[ALARM_KEY]
        assert (again.id, again.raised_at) == (alarm.id, alarm.raised_at), "the same alarm"
        assert f"{number_fr(grown, 0)} points attendent" in again.message, "kept current"
        assert f"{grown:,} points wait" in (again.message_en or "")
        assert f"depuis {o.store.audit.events(kind='influx_down')[0].ts:%d/%m %H:%M}" in (
            again.message)
        assert len(o.store.audit.events(kind="influx_down")) == 1, "one outage, said once"
        second.close()

        # It restarts again, and InfluxDB is back before its first pass.
        o.server.start()
        third = o.shipper()
        assert not third.ship().waiting
        assert o.store.shipping.backlog()["samples"] == 0
        assert ALARM_KEY not in o.store.alarms.active()
        assert [(a.id, a.cleared_at is not None) for a in o.store.alarms.history()] == [
            (alarm.id, True)]
        assert len(o.store.audit.events(kind="influx_up")) == 1
        third.close()

    outage(demo_site, tmp_path, test)


class CountingWriter(V1Writer):
    """InfluxDB 1.x's real writer, noting when (on the shipper's clock) each write is tried."""

    def __init__(self, settings: InfluxSettings, now: Callable[[], float]) -> None:
        super().__init__(settings)
        self.now = now
        self.tried: list[float] = []

    def write(self, body: str, precision: Literal["s", "us"]) -> None:
        self.tried.append(self.now())
        super().write(body, precision)


def test_the_drain_starts_within_30_s_of_influxdb_return_after_a_long_backoff(
    demo_site: Site, tmp_path: Path
) -> None:
    def test(o: Outage) -> None:
        writer = CountingWriter(o.settings, lambda: o.seconds)
        sender = o.shipper(writer=writer)

        def scheduled() -> ShipReport:
            """A pass as the scheduler runs them, one every SHIP_EVERY_S."""
            o.later(SHIP_EVERY_S)
            return sender.ship()

        o.server.stop()
        down = [scheduled() for _ in range(180)]  # half an hour
        gaps = [b - a for a, b in zip(writer.tried, writer.tried[1:], strict=False)]
        assert gaps[-1] >= 250, f"the backoff has grown to its longest: {gaps}"
        assert len(writer.tried) <= 15, "a failed probe is no write"
        probes = sum(report.probed for report in down)
        assert 60 <= probes <= 1800 / 15, "a ping every 15 to 20 s (a pass every 10 s)"

        tries = len(writer.tried)
        while len(writer.tried) == tries:  # just after a write failed: 5 min of backoff
            assert scheduled().waiting
        o.server.start()
        back = o.seconds
        report = scheduled()
        while report.waiting:
            report = scheduled()
        assert o.seconds - back <= 30, "the drain starts within 30 s of the return"
        assert report.probed and report.samples > 0
        assert o.store.shipping.backlog()["samples"] == 0
        assert ALARM_KEY not in o.store.alarms.active()
        sender.close()

    outage(demo_site, tmp_path, test)


def test_the_last_pass_at_a_stop_goes_whatever_the_backoff_and_keeps_what_cannot(
    demo_site: Site, tmp_path: Path
) -> None:
    def test(o: Outage) -> None:
        sender = o.shipper()
        o.server.stop()
        o.later(60)
        assert sender.ship().waiting  # backing off from now on: the clock stands still
        waiting = o.waiting()
        assert sender.drain(10.0).waiting
        assert o.waiting() == waiting, "InfluxDB away: all of it waits for the next start"
        o.server.start()
        assert sender.ship() == ShipReport(), "stopping: the scheduler's passes are over"
        report = sender.drain(10.0)
        assert not report.waiting and report.samples == len(list(o.site.points()))
        assert o.store.shipping.backlog()["samples"] == 0
        sender.close()

    outage(demo_site, tmp_path, test)
