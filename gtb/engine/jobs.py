"""The engine's background jobs, on APScheduler 3.11: the tick, hourly rollups, learning,
InfluxDB shipping, retention, the daily check for losses of efficiency and the weather
forecast (``gtb.engine.forecast``).

APScheduler counts real seconds; the jobs themselves ask the engine's clock what time it
is. With a simulated clock running ``speed`` times faster, intervals are divided by the
speed, so a simulated hour of ticks takes ``3600 / speed`` real seconds. Every job
coalesces missed runs and never overlaps itself; an exception in a job is an event in the
audit log, and the next run goes ahead. Jobs that are plain functions (rollups, shipping,
retention, the forecast) run in the scheduler's worker threads, so that a slow disk, a
slow InfluxDB or a slow weather service never holds up the tick, which runs on the event
loop.

The efficiency check (``gtb.engine.efficiency``) runs once a day, at the first pass after 01:00
local time: yesterday's hours are rolled up, then each heating meter is compared with its
baseline; a meter without a baseline yet is left alone, silently.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, timedelta

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from rich.console import Console

from gtb.clock import Clock
from gtb.engine import Engine
from gtb.influx import Shipper
from gtb.store import Store
from gtb.texts import Reason

FIVE_YEARS = timedelta(days=5 * 366)


@dataclass(frozen=True)
class Retention:
    """How long the store keeps what (docs/history.md). Raw samples serve the engine's
    learning and the detailed charts; the hourly rollups, per point and so per functional
    zone, are the BACS decree's hourly data, kept at least five years; monthly totals are
    kept for ever. Raw samples that InfluxDB has not yet received are kept until it has."""

    raw: timedelta = timedelta(days=90)
    hourly: timedelta = timedelta(days=6 * 366)

    def __post_init__(self) -> None:
        if self.raw < timedelta(days=1):
            raise ValueError(f"raw samples must be kept at least a day, not {self.raw}")
        if self.hourly < FIVE_YEARS:
            raise ValueError("hourly rollups must be kept at least five years (BACS decree), "
                             f"not {self.hourly.days} days")
        if self.hourly < self.raw:
            raise ValueError("hourly rollups cannot be kept shorter than raw samples")


SHIP_EVERY_S = 10.0
"""Seconds of the engine's clock between two shipping passes."""


class _QuietCancellation(logging.Filter):
    """A job cancelled because the program stops is not a failure: APScheduler would log
    it with its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


def start_jobs(engine: Engine, store: Store, clock: Clock, *, speed: float = 1.0,
               console: Console | None = None, retention: Retention = Retention(),
               shipper: Shipper | None = None) -> AsyncIOScheduler:
    """Schedule the engine's jobs and start the scheduler on the running event loop."""
    executors = logging.getLogger("apscheduler.executors.default")
    if not any(isinstance(f, _QuietCancellation) for f in executors.filters):
        executors.addFilter(_QuietCancellation())
    scheduler = AsyncIOScheduler(timezone=UTC)
    options = {"coalesce": True, "max_instances": 1}
    tick_s = engine.settings.tick_s / speed
    scheduler.add_job(engine.tick, "interval", seconds=tick_s, id="tick",
                      misfire_grace_time=max(1, int(tick_s)), **options)

    def rollup() -> None:
        hour = clock.now().replace(minute=0, second=0, microsecond=0)
        store.rollups.compute(hour - timedelta(hours=2), hour)

    def retention_job() -> None:
        now = clock.now()
        today = now.astimezone(engine.site.tz).date()
        store.samples.delete_before(now - retention.raw, keep_unshipped=shipper is not None)
        # This month and the last are recorded before any of their hours can go.
        store.rollups.keep_monthly(today.replace(day=1) - timedelta(days=1), today, engine.site.tz)
        store.rollups.delete_before(now - retention.hourly)

    scheduler.add_job(rollup, "interval", seconds=3600 / speed, id="rollup",
                      misfire_grace_time=max(1, int(600 / speed)), **options)
    # The nightly refit runs at the first check after local midnight.
    scheduler.add_job(engine.learn, "interval", seconds=900 / speed, id="learning",
                      misfire_grace_time=max(1, int(900 / speed)), **options)
    scheduler.add_job(retention_job, "interval", seconds=86400 / speed, id="retention",
                      misfire_grace_time=max(1, int(3600 / speed)), **options)
    from gtb.engine.efficiency import EfficiencyWatch  # scipy.stats: a third of a second to import

    watch = EfficiencyWatch(store, engine.site)

    def efficiency() -> None:
        watch.daily(clock.now())

    scheduler.add_job(efficiency, "interval", seconds=900 / speed, id="efficiency",
                      misfire_grace_time=max(1, int(900 / speed)), **options)
    service = engine.site.forecast
    if service is not None:
        # At once (a job without a trigger runs now), then every refresh_minutes.
        scheduler.add_job(engine.forecasts.refresh, id="forecast-first", **options)
        refresh_s = service.refresh_minutes * 60 / speed
        scheduler.add_job(engine.forecasts.refresh, "interval", seconds=refresh_s,
                          id="forecast", misfire_grace_time=max(1, int(refresh_s)), **options)
    if shipper is not None:
        ship_s = max(1.0, SHIP_EVERY_S / speed)
        scheduler.add_job(shipper.ship, "interval", seconds=ship_s, id="influx",
                          misfire_grace_time=max(1, int(ship_s)), **options)

    def on_error(event: JobExecutionEvent) -> None:
        if isinstance(event.exception, asyncio.CancelledError):
            return  # stopped with the program, not a failure
        message = Reason.of("job.failed", job=event.job_id, error=repr(event.exception))
        store.audit.log(clock.now(), "job_error", "engine", message, Reason.of("job.retry"))
        if console is not None:
            console.print(f"[red]{message.fr}[/red]")

    scheduler.add_listener(on_error, EVENT_JOB_ERROR)
    scheduler.start()
    return scheduler
