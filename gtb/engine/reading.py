"""Reading every point, and judging what was read: ok, stale or failed, and why.

The drivers read all devices at once, batched per device. A value is not believable when
it is NaN, infinite or outside the point's physical range; a point without a believable
value this tick is stale while its last good value is recent enough to serve
(``stale_after_s``), failed after that. The samples say which, with the reason. A value
that came in a message (MQTT) is sampled at its arrival, read again at each tick until the
next message replaces it (the store keeps one sample per point and time); the driver says
when it is too old to be believed.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gtb.model import PointRef
from gtb.model.points import Quality
from gtb.store.samples import Sample
from protocols.base import Driver, Pending, Reading


@dataclass
class Snapshot:
    """What the engine knows of every point at this tick: its value (the last good one
    while stale, None when failed) and its quality."""

    values: dict[str, float | None] = field(default_factory=dict)
    quality: dict[str, Quality] = field(default_factory=dict)
    implausible: dict[str, float] = field(default_factory=dict)
    """What a device answered for a point that cannot be believed (NaN, out of range):
    the device answers, but a command point reading so was lost (a restart)."""
    pending: dict[str, Pending] = field(default_factory=dict)
    """Commands the devices were sent and have not yet reported (a LoRaWAN device's,
    until its uplink after next): what the point reads meanwhile is not a loss of them."""

    def good(self, key: str) -> float | None:
        """The point's value read this tick, None unless its quality is ok."""
        return self.values.get(key) if self.quality.get(key) is Quality.OK else None

    def answered(self, key: str) -> bool:
        """Whether the point's device answered for it this tick, believably or not."""
        return self.quality.get(key) is Quality.OK or key in self.implausible

    def counts(self) -> dict[Quality, int]:
        counted = dict.fromkeys(Quality, 0)
        for quality in self.quality.values():
            counted[quality] += 1
        return counted


@dataclass
class _PointMemory:
    """The last good value of a point, which serves while the point is stale."""

    value: float | None = None
    at: datetime | None = None


class PointReader:
    """Reads the points of every protocol through its driver and judges the readings."""

    def __init__(self, refs: Mapping[str, PointRef], drivers: Mapping[str, Driver],
                 stale_after_s: float) -> None:
        self._refs = refs
        self._drivers = drivers
        self._stale_after = timedelta(seconds=stale_after_s)
        self._by_protocol: dict[str, list[PointRef]] = defaultdict(list)
        for ref in refs.values():
            self._by_protocol[ref.binding.protocol].append(ref)
        missing = set(self._by_protocol) - set(drivers)
        if missing:
            raise ValueError(f"no driver for {', '.join(sorted(missing))} points")
        self._memory = {key: _PointMemory() for key in refs}
        self._error_of: dict[str, str] = {}

    async def read(self) -> dict[str, Reading]:
        results = await asyncio.gather(*(
            self._drivers[protocol].read(refs) for protocol, refs in self._by_protocol.items()
        ))
        readings: dict[str, Reading] = {}
        for result in results:
            readings.update(result)
        return readings

    def judge(self, now: datetime, readings: Mapping[str, Reading]
              ) -> tuple[list[Sample], Snapshot]:
        """Every point's sample (with its quality, and why when not ok) and the snapshot
        the rest of the tick decides on."""
        snapshot = Snapshot()
        samples = []
        for key, ref in self._refs.items():
            reading = readings.get(key) or Reading.failed(f"{key}: no reading")
            if reading.pending is not None:
                snapshot.pending[key] = reading.pending
            error = reading.error
            if reading.value is not None:
                error = implausible(ref, reading.value)
            memory = self._memory[key]
            if error is None:
                assert reading.value is not None
                memory.value, memory.at = reading.value, now
                snapshot.values[key], snapshot.quality[key] = reading.value, Quality.OK
                samples.append(Sample(key, reading.at or now, reading.value))
                continue
            if memory.at is not None and now - memory.at <= self._stale_after:
                snapshot.values[key], snapshot.quality[key] = memory.value, Quality.STALE
                samples.append(Sample(key, now, memory.value, Quality.STALE, error))
            else:
                snapshot.values[key], snapshot.quality[key] = None, Quality.FAILED
                samples.append(Sample(key, now, None, Quality.FAILED, error))
            self._error_of[key] = error
            if reading.value is not None:
                snapshot.implausible[key] = reading.value
        return samples, snapshot

    def cause(self, key: str) -> str:
        """Why a point failed, for an alarm that lasts: without the driver's "next attempt
        in N s", true only at the tick it was said."""
        return self._error_of.get(key, "?").split("; next attempt in")[0]


def implausible(ref: PointRef, value: float) -> str | None:
    """Why a value read from a device cannot be believed, or None if it can.

    A NaN, an infinity or a value outside the point's physical range is a fault of the
    sensor or the device, not a measurement: nothing is decided on it.
    """
    if not math.isfinite(value):
        return f"{ref.key}: the device sent {value}, not a number"
    low, high = ref.point.physical_range
    if not low <= value <= high:
        unit = ref.point.si_unit
        return (f"{ref.key}: {value:g} {unit} is outside the physical range "
                f"{low:g}..{high:g} {unit}")
    return None
