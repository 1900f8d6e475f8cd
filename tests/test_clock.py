"""The clock: the one source of now, real or simulated."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gtb.clock import RealClock, SimulatedClock

PARIS = ZoneInfo("Europe/Paris")


def test_real_clock_is_aware_utc() -> None:
    now = RealClock().now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


def test_stepped_clock_stands_still_until_advanced() -> None:
    start = datetime(2026, 1, 12, 6, 0, tzinfo=PARIS)
    clock = SimulatedClock(start)
    assert clock.now() == start and clock.now().tzinfo is UTC
    assert clock.advance(90) == start + timedelta(seconds=90)
    asyncio.run(clock.sleep(3600))
    assert clock.now() == start + timedelta(seconds=3690)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_stepped_clock_crosses_a_daylight_saving_night_in_utc() -> None:
    # 2026-03-29 in Paris: 02:00 local does not exist, the day has 23 hours.
    clock = SimulatedClock(datetime(2026, 3, 29, 0, 0, tzinfo=PARIS))
    clock.advance(24 * 3600)
    assert clock.now().astimezone(PARIS) == datetime(2026, 3, 30, 1, 0, tzinfo=PARIS)


def test_accelerated_clock_runs_faster_than_the_wall() -> None:
    start = datetime(2026, 1, 12, tzinfo=UTC)
    clock = SimulatedClock(start, speed=3600.0)
    asyncio.run(clock.sleep(1800))  # half a simulated hour: half a real second
    elapsed = (clock.now() - start).total_seconds()
    assert 1800 <= elapsed < 1800 + 3600  # allow a loaded machine up to one more real second


def test_clock_rejects_naive_start_and_bad_speed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimulatedClock(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="positive"):
        SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC), speed=0)
