"""The engine's embedded store: SQLite in WAL mode, where the engine and the panel meet.

Everything the engine reads or decides lands here before anything else happens to it:
samples with their quality, hourly rollups, the audit log, alarms, overrides, weekly
programmes, the agenda, what zones learned, accounts. The panel reads and writes the same
file, from the same process or another.

``Store`` is a small facade over one file (``gtb.store.database``): it opens it, brings
its schema up to date, and holds one room per kind of data, each with the records it
stores and the queries it answers:

- ``samples`` (raw samples with their quality) and ``rollups`` (hourly, daily, monthly);
- ``audit`` (the audit log) and ``alarms``;
- ``overrides``, ``programmes`` and ``learning`` (``gtb.store.control``), ``agenda``;
- ``accounts`` (users and API tokens), ``sessions`` (the panel's sign-ins) and
  ``sign_ins`` (failed sign-ins and the locks they cause);
- ``shipping`` (InfluxDB watermarks and set-aside lines);
- ``downlinks`` (each LoRaWAN device's downlinks per day, its budget's count);
- ``status`` (what the engine shows the panel).

Rooms that must write together (a status with its samples, an agenda change with its
audit line) share the file's transaction.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from gtb.store.accounts import Accounts
from gtb.store.agenda import Agenda
from gtb.store.audit import Alarms, AuditLog
from gtb.store.control import Learning, Overrides, Programmes
from gtb.store.database import Database
from gtb.store.downlinks import Downlinks
from gtb.store.migrations import MIGRATIONS, Migration
from gtb.store.rollups import Rollups
from gtb.store.samples import Samples
from gtb.store.sessions import Sessions, SignIns
from gtb.store.shipping import Shipping
from gtb.store.status import StatusBoard


class Store:
    """One SQLite file holding everything the engine records, room by room."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self.db = Database(path, busy_timeout, migrations)
        self.samples = Samples(self.db)
        self.rollups = Rollups(self.db)
        self.audit = AuditLog(self.db)
        self.alarms = Alarms(self.db)
        self.overrides = Overrides(self.db)
        self.programmes = Programmes(self.db)
        self.learning = Learning(self.db)
        self.agenda = Agenda(self.db)
        self.accounts = Accounts(self.db)
        self.sessions = Sessions(self.db)
        self.sign_ins = SignIns(self.db)
        self.shipping = Shipping(self.db)
        self.status = StatusBoard(self.db, self.samples)
        self.downlinks = Downlinks(self.db)

    @property
    def path(self) -> Path:
        return self.db.path

    @property
    def schema_version(self) -> int:
        return self.db.schema_version

    def close(self) -> None:
        """Close every thread's connection; call it once no thread uses the store any more."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
