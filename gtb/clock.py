"""The one source of "now".

Every other module asks a ``Clock``; none reads the system time. This is what lets the
virtual commune run a heating season in seconds, and tests step through a daylight-saving
night by hand.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the engine, the simulator and the scheduler need to know about time."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class RealClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def monotonic() -> float:
    """Seconds from an arbitrary origin that never jumps: for measuring durations."""
    return time.monotonic()


def cpu_seconds() -> float:
    """CPU time used by this process so far: what a benchmark charges to the code."""
    return time.process_time()


class SimulatedClock:
    """Simulated time: accelerated by ``speed`` against the wall clock, or stepped by hand.

    With ``speed=None`` time stands still until ``advance`` is called, and ``sleep``
    advances it at once: a loop then runs as fast as the machine allows, which is what
    benchmarks and tests want. With a speed, one real second is ``speed`` simulated
    seconds, which is what the demo wants.
    """

    def __init__(self, start: datetime, speed: float | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware start time")
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self._origin = start.astimezone(UTC)
        self._offset = timedelta(0)
        self._speed = speed
        self._real_origin = monotonic()

    @property
    def speed(self) -> float | None:
        return self._speed

    def now(self) -> datetime:
        now = self._origin + self._offset
        if self._speed is not None:
            now += timedelta(seconds=(monotonic() - self._real_origin) * self._speed)
        return now

    def advance(self, seconds: float) -> datetime:
        """Move time forward by hand (allowed at any speed); returns the new now."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._offset += timedelta(seconds=seconds)
        return self.now()

    async def sleep(self, seconds: float) -> None:
        if self._speed is None:
            self.advance(max(0.0, seconds))
            await asyncio.sleep(0)
        else:
            await asyncio.sleep(max(0.0, seconds) / self._speed)
