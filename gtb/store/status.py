"""The engine's status for the panel: each zone and output as of the last tick, each
cabinet's night and the holidays ahead."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gtb.store.database import Database, epoch, to_json, utc
from gtb.store.samples import Sample, Samples


@dataclass(frozen=True)
class Status:
    """What the engine said of a zone or an output after the tick at ``at``."""

    key: str
    kind: str
    data: Mapping[str, Any]
    at: datetime


class StatusBoard:
    """What the engine shows of each zone and output, and what lies ahead."""

    def __init__(self, db: Database, samples: Samples) -> None:
        self._db = db
        self._samples = samples

    def save(self, at: datetime, records: Mapping[str, tuple[str, Mapping[str, Any]]],
                    *, replace: Collection[str] = ("zone", "output"),
                    samples: Iterable[Sample] = ()) -> None:
        """Replace the status of the kinds ``replace`` by ``records``: ``key -> (kind,
        data)``. The engine writes its zones and outputs (kinds ``zone``, ``output``) at
        the end of each tick, with the samples of what it decided (``samples``, in the
        same transaction: one commit), and what lies ahead (``night``, ``holidays``:
        gtb.engine.outlook) when it changes."""
        ts = epoch(at, "status time")
        strays = sorted({kind for kind, _ in records.values()} - set(replace))
        if strays:
            raise ValueError(f"status of kinds {strays} given to replace {sorted(replace)}")
        rows = [(key, kind, to_json(data, f"status of {key}"), ts)
                for key, (kind, data) in records.items()]
        kinds = sorted(set(replace))
        batch = list(samples)
        with self._db.write() as conn:
            ids = self._samples.insert(conn, batch)
            conn.execute(f"DELETE FROM status WHERE kind IN ({', '.join('?' * len(kinds))})",
                         kinds)
            conn.executemany("INSERT INTO status (key, kind, data, at) VALUES (?, ?, ?, ?)",
                             rows)
        self._samples.remember(ids)

    def read(self, kind: str | None = None) -> dict[str, Status]:
        """The engine's last status of each zone or output (all kinds when None), in the
        order it wrote them."""
        where, params = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        rows = self._db.conn().execute(
            f"SELECT key, kind, data, at FROM status {where} ORDER BY rowid", params)
        return {row["key"]: Status(row["key"], row["kind"], json.loads(row["data"]),
                                   utc(row["at"])) for row in rows}
