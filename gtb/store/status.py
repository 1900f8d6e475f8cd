"""The engine's status for the panel: each zone and output as of the last tick, each
cabinet's night and the holidays ahead.

These records are the contract between the engine and everything that shows what it
does (the panel, the API, the benchmarks, the command line): the engine writes them, the
others read them back, all through the types defined here. They are kept as JSON, one
row a record, and replaced as a whole kind at a time: the zones and outputs after every
tick (with the samples of each zone's decided level, in the same commit), the nights and
holidays when they move on.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from typing import ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from gtb.model.points import HeatingLevel, Quality, Source
from gtb.store.database import Database, Room, epoch
from gtb.store.samples import Sample, Samples
from gtb.texts import Reason


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StatusRecord(_Record):
    """A row of the status table: validated when written and when read."""

    KIND: ClassVar[str]

    @property
    def key(self) -> str:
        """The record's key in the table, unique across kinds."""
        raise NotImplementedError


class ZoneStatus(StatusRecord):
    """What a person wants to see of a zone: where it is, what it does, and why."""

    KIND: ClassVar[str] = "zone"

    building: str
    zone: str
    name: str
    """The zone's name (the site file's)."""
    at: datetime
    """The tick this was decided at."""
    temperature: float | None
    """°C, the last good value (None: failed)."""
    quality: Quality
    level: HeatingLevel
    setpoint: float | None
    """°C, the one written (a person's override when one holds)."""
    reason: Reason
    degraded: bool
    """The temperature has failed: the programme without optimisation."""
    source: Source = "controller"
    """Who decided the setpoint: the controller, a person's override, or safety."""
    actor: str = "engine"
    occupied: bool | None = None
    """What the presence detector says now (None: no detector, or no good reading)."""
    learning: bool = True
    next_arrival: datetime | None = None
    """Start of the next occupied period the engine expects, or of the one under way."""
    next_arrival_end: datetime | None = None
    next_arrival_reason: Reason | None = None
    period_end: datetime | None = None
    """When the programme's current period ends, or the next begins."""
    held_by_priority: int | None = None
    """A local command at this BACnet priority, above the engine's, holds the zone's
    setpoint or mode: the engine stands back until it is relinquished (None: nobody)."""
    forecast: Literal["forecast", "persistence"] | None = None
    """Where the outdoor temperature to come is taken from: a weather service's forecast,
    or persistence (the outdoor temperature now, held); None: no outdoor reading."""
    waiting: Reason | None = None
    """The setpoint sent and not yet reported applied by the device (a LoRaWAN valve's,
    until its uplink after next): what, when, and when the report is expected."""

    @property
    def key(self) -> str:
        return f"{self.building}.{self.zone}"

    @property
    def mode(self) -> str:
        """The mode people read: ``override`` while a person's override holds the setpoint
        (``level`` stays the programme's, which beside the override's setpoint would
        mislead), else the level."""
        return "override" if self.source == "override" else self.level.value

    @property
    def mode_label(self) -> Reason:
        """``mode`` in words: « dérogation », or the level's."""
        return Reason.of("mode.override") if self.source == "override" else self.level.label

    @property
    def arrival_under_way(self) -> bool:
        """Whether the occupied period the engine expects had begun at this tick: people
        are then told until when it lasts, not when it began."""
        # The store keeps the tick's time to the second; a period starting "now" does not.
        return (self.next_arrival is not None
                and self.next_arrival.replace(microsecond=0) <= self.at)


OutputKind = Literal["cabinet", "circuit", "equipment", "plant"]


class OutputStatus(StatusRecord):
    """A lighting cabinet, a zone's lighting circuit, a piece of equipment or a building's
    plant (boiler, heat pump): on or off, at what level, and why."""

    KIND: ClassVar[str] = "output"

    kind: OutputKind
    id: str
    """The cabinet's or equipment's id, the zone's ``building.zone`` for a circuit, the
    building's id for a plant."""
    name: str
    at: datetime
    on: bool
    level: float | None = None
    """% of full power, for a dimmed cabinet."""
    reason: Reason
    source: Source = "controller"
    """Who decided: the controller, a person's order on the relay, or safety (a minimum
    time, a plant kept on for frost protection)."""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


class NightStep(_Record):
    """Part of a night at one level (0: off), in the site's local time."""

    start: datetime
    end: datetime
    level: float
    reason: Reason


class Night(StatusRecord):
    """A cabinet's programmed night (without the agenda and orders), in local time, from
    its first switch-on to its last switch-off; ``sunrise`` is the next morning's."""

    KIND: ClassVar[str] = "night"

    cabinet: str
    at: datetime
    """When the engine published it."""
    night: date
    sunset: datetime
    sunrise: datetime
    steps: tuple[NightStep, ...]

    @property
    def key(self) -> str:
        return f"night:{self.cabinet}"

    @property
    def on_at(self) -> datetime | None:
        return next((s.start for s in self.steps if s.level > 0), None)

    @property
    def off_at(self) -> datetime | None:
        return next((s.end for s in reversed(self.steps) if s.level > 0), None)


class Holiday(_Record):
    """A public holiday (one day) or the school holidays of the site's zone (a range)."""

    first: date
    last: date
    name: Reason
    school: bool
    estimated: bool = False
    """School holidays beyond the official data, from the rules (right to within a week)."""


class Holidays(StatusRecord):
    """The public and school holidays that touch the year from ``today``, by first day."""

    KIND: ClassVar[str] = "holidays"

    at: datetime
    """When the engine published them."""
    today: date
    holidays: tuple[Holiday, ...]

    @property
    def key(self) -> str:
        return "holidays"


_R = TypeVar("_R", bound=StatusRecord)


class StatusBoard(Room):
    """What the engine shows of each zone and output, and what lies ahead."""

    def __init__(self, db: Database, samples: Samples) -> None:
        super().__init__(db)
        self._samples = samples
        self._read_before: dict[str, StatusRecord] = {}
        """Records read before, by their JSON: the panel reads the same rows every few
        seconds between two ticks, and a row unchanged need not be validated again."""

    def save(self, at: datetime, zones: Iterable[ZoneStatus], outputs: Iterable[OutputStatus],
             *, samples: Iterable[Sample] = ()) -> None:
        """Replace every zone's and output's status, with the samples of what the engine
        decided (each zone's level) in the same transaction: one commit a tick."""
        self._replace(at, (ZoneStatus.KIND, OutputStatus.KIND), [*zones, *outputs], samples)

    def save_outlook(self, at: datetime, nights: Iterable[Night], holidays: Holidays) -> None:
        """Replace each cabinet's night and the holidays ahead."""
        self._replace(at, (Night.KIND, Holidays.KIND), [*nights, holidays])

    def zones(self, keys: Collection[str] | None = None) -> dict[str, ZoneStatus]:
        """Each zone's status by ``building.zone`` (those of ``keys`` only, when given), in
        the order the engine wrote them."""
        return {r.key: r for r in self._read(ZoneStatus, keys)}

    def outputs(self) -> dict[str, OutputStatus]:
        """Each output's status by ``kind:id``, in the order the engine wrote them."""
        return {r.key: r for r in self._read(OutputStatus)}

    def nights(self) -> dict[str, Night]:
        """Each cabinet's night, by cabinet id."""
        return {r.cabinet: r for r in self._read(Night)}

    def holidays(self) -> Holidays | None:
        """The holidays ahead; None until the engine has published them."""
        return next(iter(self._read(Holidays)), None)

    def _replace(self, at: datetime, kinds: Sequence[str], records: Sequence[StatusRecord],
                 samples: Iterable[Sample] = ()) -> None:
        ts = epoch(at, "status time")
        strays = sorted({r.KIND for r in records} - set(kinds))
        if strays:
            raise ValueError(f"status of kinds {strays} given to replace {sorted(kinds)}")
        rows = [(r.key, r.KIND, r.model_dump_json(), ts) for r in records]
        batch = list(samples)
        with self._db.write() as conn:
            ids = self._samples.insert(conn, batch)
            conn.execute(f"DELETE FROM status WHERE kind IN ({', '.join('?' * len(kinds))})",
                         list(kinds))
            conn.executemany("INSERT INTO status (key, kind, data, at) VALUES (?, ?, ?, ?)",
                             rows)
        self._samples.remember(ids)

    def _read(self, record: type[_R], keys: Collection[str] | None = None) -> list[_R]:
        query, params = "SELECT data FROM status WHERE kind = ?", [record.KIND]
        if keys is not None:
            query += f" AND key IN ({', '.join('?' * len(keys))})"
            params.extend(keys)
        rows = self._db.conn().execute(query + " ORDER BY rowid", params).fetchall()
        if len(self._read_before) > _KEPT:
            self._read_before.clear()
        found = []
        for (data,) in rows:
            known = self._read_before.get(data)
            if not isinstance(known, record):
                known = self._read_before[data] = record.model_validate_json(data)
            found.append(known)
        return found


_KEPT = 4096
"""Records kept read (a site's zones and outputs over a few ticks)."""
