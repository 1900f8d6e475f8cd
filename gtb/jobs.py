"""The engine's background jobs, on APScheduler 3.11: the tick, hourly rollups, retention.

APScheduler counts real seconds; the jobs themselves ask the engine's clock what time it
is. With a simulated clock running ``speed`` times faster, intervals are divided by the
speed, so a simulated hour of ticks takes ``3600 / speed`` real seconds. Every job
coalesces missed runs and never overlaps itself; an exception in a job is an event in the
audit log, and the next run goes ahead.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from rich.console import Console

from gtb.clock import Clock
from gtb.engine import Engine
from gtb.store import Store

RAW_RETENTION = timedelta(days=90)
"""Raw samples are kept this long; hourly rollups are kept (see the store)."""


def start_jobs(engine: Engine, store: Store, clock: Clock, *, speed: float = 1.0,
               console: Console | None = None) -> AsyncIOScheduler:
    """Schedule the engine's jobs and start the scheduler on the running event loop."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    options = {"coalesce": True, "max_instances": 1}
    tick_s = engine.settings.tick_s / speed
    scheduler.add_job(engine.tick, "interval", seconds=tick_s, id="tick",
                      misfire_grace_time=max(1, int(tick_s)), **options)

    def rollup() -> None:
        hour = clock.now().replace(minute=0, second=0, microsecond=0)
        store.rollup(hour - timedelta(hours=2), hour)

    def retention() -> None:
        store.delete_samples_before(clock.now() - RAW_RETENTION)

    scheduler.add_job(rollup, "interval", seconds=3600 / speed, id="rollup",
                      misfire_grace_time=max(1, int(600 / speed)), **options)
    # The nightly refit runs at the first check after local midnight.
    scheduler.add_job(engine.learn, "interval", seconds=900 / speed, id="learning",
                      misfire_grace_time=max(1, int(900 / speed)), **options)
    scheduler.add_job(retention, "interval", seconds=86400 / speed, id="retention",
                      misfire_grace_time=max(1, int(3600 / speed)), **options)

    def on_error(event: JobExecutionEvent) -> None:
        if isinstance(event.exception, asyncio.CancelledError):
            return  # stopped with the program, not a failure
        message = f"La tâche « {event.job_id} » a échoué : {event.exception!r}"
        store.record_event(clock.now(), "job_error", "engine", message,
                           reason="erreur interne; la tâche reprendra à son prochain passage")
        if console is not None:
            console.print(f"[red]{message}[/red]")

    scheduler.add_listener(on_error, EVENT_JOB_ERROR)
    scheduler.start()
    return scheduler
