"""Following one LoRaWAN device's uplinks: which to take, which were lost, when the next is due.

What reaches the engine is not the radio's clean sequence. The same uplink can arrive
twice (two integrations, an MQTT redelivery, two gateways when a server does not
deduplicate); an older uplink can arrive after a newer one and must not overwrite its
values; a device that rejoins starts its frame counter again from 0, and its next uplinks
are new even though their counters are small. Uplinks lost on the air leave gaps in the
frame counter. And a device that stays silent is only known to be dead by its uplinks that
did not come: a class A device is stale when it misses its expected uplinks, not when a
poll fails. Pure: every moment is passed in.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import datetime, timedelta
from enum import Enum

from protocols.lorawan import Uplink

LATE_ALLOWANCE = 0.5
"""The share of an interval an expected uplink may come late before it counts as missed:
a device's jitter (often up to 10 % of the interval, and the lateness of two intervals
adds up) stays well inside it, so one lost uplink with a late next one is not two missed.
Two missed (stale) is then 2.5 intervals after the last uplink heard, 1.5 after the first
that did not come."""


class Verdict(Enum):
    """What to do with an uplink that arrived."""

    NEW = "new"
    """The newest of its device: its values are the current ones."""
    RESET = "reset"
    """The first of a new frame-counter sequence (a rejoin or a reset): current as well."""
    DUPLICATE = "duplicate"
    """An uplink already taken, arriving again: drop it."""
    LATE = "late"
    """Older than one already taken (out of order): keep it as history at most, never
    let it overwrite the newer values."""

    @property
    def current(self) -> bool:
        return self in (Verdict.NEW, Verdict.RESET)


REMEMBERED = 64
"""Frame counters remembered to recognise duplicates and late arrivals: hours of uplinks."""

LATE_WINDOW = 16
"""Without the network server's time, an older counter at most this far behind the newest
is a late arrival; further behind, the device started again."""


class UplinkTracker:
    """One device's frame counters and uplink times.

    ``interval`` is how often the device sends (its configured uplink interval).
    ``same_uplink`` is how far apart the network server's times of one uplink published
    twice may be: the same counter further apart is a new sequence that reached it again.
    The counts (``lost``, ``duplicates``, ``late``, ``resets``) are since the tracker began.
    """

    def __init__(self, interval: timedelta, same_uplink: timedelta = timedelta(minutes=1)):
        if interval <= timedelta(0):
            raise ValueError(f"an uplink interval must be positive, not {interval}")
        self.interval = interval
        self.same_uplink = same_uplink
        self.last_f_cnt: int | None = None
        self.last_sent: datetime | None = None
        self.last_arrival: datetime | None = None
        self.lost = 0
        """Uplinks missing from the counters' sequence (late arrivals taken back out)."""
        self.duplicates = 0
        self.late = 0
        self.resets = 0
        self._seen: OrderedDict[int, datetime | None] = OrderedDict()
        self._missing: set[int] = set()
        self._rejoined = False

    def resume(self, arrival: datetime) -> None:
        """An uplink heard before the engine restarted (its values kept by the store):
        staleness and the next expected uplink count from it. Its frame counter is not
        known, so the next uplink starts the sequence."""
        if self.last_arrival is None or arrival > self.last_arrival:
            self.last_arrival = arrival

    def joined(self) -> None:
        """The network server said the device joined again: its next uplink starts a new
        frame-counter sequence, whatever its counter."""
        self._rejoined = True

    def observe(self, uplink: Uplink) -> Verdict:
        """Judge an uplink of this device, and remember it when it is current."""
        seen, missing = self._seen, self._missing
        f_cnt, sent = uplink.f_cnt, uplink.sent_at
        if self.last_f_cnt is None or self._rejoined:
            return self._start(uplink, first=self.last_f_cnt is None)
        if f_cnt in seen:
            if self._same_moment(seen[f_cnt], sent):
                self.duplicates += 1
                return Verdict.DUPLICATE
            return self._start(uplink, first=False)
        if f_cnt > self.last_f_cnt and not self._before_last(sent):
            gap = range(self.last_f_cnt + 1, f_cnt)
            self.lost += len(gap)
            missing.update(gap[-REMEMBERED:])
            self._take(uplink)
            return Verdict.NEW
        if f_cnt > self.last_f_cnt or self._older(uplink):
            self.late += 1
            self._remember(f_cnt, sent)
            if f_cnt in missing:
                missing.discard(f_cnt)
                self.lost -= 1
            return Verdict.LATE
        return self._start(uplink, first=False)

    def next_expected(self) -> datetime | None:
        """When the next uplink is due to arrive; ``None`` before the first."""
        if self.last_arrival is None:
            return None
        return self.last_arrival + self.interval

    def missed(self, now: datetime) -> int:
        """How many expected uplinks have not arrived by ``now`` since the last one. An
        uplink counts as missed once ``LATE_ALLOWANCE`` of an interval has passed beyond its
        moment: devices add jitter to their interval (so that neighbours do not collide),
        and a late uplink is not a lost one."""
        if self.last_arrival is None or now <= self.last_arrival:
            return 0
        return max(0, math.floor((now - self.last_arrival) / self.interval - LATE_ALLOWANCE))

    def stale(self, now: datetime, allowed: int = 1) -> bool:
        """Whether the device has missed more than ``allowed`` expected uplinks: one lost
        on the air is usual (a few % are), two in a row are not."""
        return self.missed(now) > allowed

    def stale_from(self, allowed: int = 1) -> datetime | None:
        """The moment from which the device is ``stale`` if nothing arrives before it;
        ``None`` before its first uplink."""
        if self.last_arrival is None:
            return None
        return self.last_arrival + self.interval * (allowed + 1 + LATE_ALLOWANCE)

    def _start(self, uplink: Uplink, first: bool) -> Verdict:
        self._seen.clear()
        self._missing.clear()
        self._rejoined = False
        if not first:
            self.resets += 1
        self._take(uplink)
        return Verdict.NEW if first else Verdict.RESET

    def _take(self, uplink: Uplink) -> None:
        self._remember(uplink.f_cnt, uplink.sent_at)
        self._missing = {f_cnt for f_cnt in self._missing
                         if f_cnt > uplink.f_cnt - REMEMBERED}
        self.last_f_cnt = uplink.f_cnt
        self.last_sent = uplink.sent_at
        self.last_arrival = uplink.received_at

    def _remember(self, f_cnt: int, sent: datetime | None) -> None:
        self._seen[f_cnt] = sent
        while len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)

    def _same_moment(self, earlier: datetime | None, later: datetime | None) -> bool:
        if earlier is None or later is None:
            return True
        return abs(later - earlier) <= self.same_uplink

    def _before_last(self, sent: datetime | None) -> bool:
        """Whether the network server sent this uplink before the newest one taken: a
        late arrival from before a reset carries a larger counter than the new sequence."""
        return (sent is not None and self.last_sent is not None
                and sent < self.last_sent - self.same_uplink)

    def _older(self, uplink: Uplink) -> bool:
        """Whether an uplink with a smaller counter is a late one rather than a new
        sequence: the network server's time says so when both have one."""
        assert self.last_f_cnt is not None
        if uplink.sent_at is not None and self.last_sent is not None:
            return uplink.sent_at <= self.last_sent
        return self.last_f_cnt - uplink.f_cnt <= LATE_WINDOW
