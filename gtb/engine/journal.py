"""The engine's lines in the audit log: what it did, about which point or zone, and why."""

from __future__ import annotations

from collections.abc import Mapping

from gtb.clock import Clock
from gtb.model import Building, PointRef, Zone
from gtb.store import Store
from gtb.texts import Reason


class Journal:
    """Writes the engine's audit lines, in French and English, stamped with the clock."""

    def __init__(self, store: Store, clock: Clock, site: str) -> None:
        self._store = store
        self._clock = clock
        self._site = site

    def event(self, kind: str, message: Reason, reason: Reason, *,
              ref: PointRef | None = None, zone: tuple[Building, Zone] | None = None,
              actor: str = "engine", data: Mapping[str, object] | None = None) -> None:
        """An audit line about a point (``ref``), a zone, or the site."""
        where = (where_of(ref) if zone is None
                 else {"building": zone[0].id, "zone": zone[1].id, "point": None})
        self._store.audit.log(self._clock.now(), kind, actor, message, reason,
                              site=self._site, data=data, **where)


def where_of(ref: PointRef | None) -> dict[str, str | None]:
    """The building, zone and point an event or an alarm is about."""
    return {
        "building": ref.building.id if ref and ref.building else None,
        "zone": ref.zone.id if ref and ref.zone else None,
        "point": ref.key if ref else None,
    }
