"""Each LoRaWAN device's downlinks per local day: the budget a public network allows (about
ten a day) is the day's, not the process's, so an engine restarted at noon does not spend
it again. One row a device and day, counted up as each downlink is published."""

from __future__ import annotations

from datetime import date

from gtb.store.database import Room


class Downlinks(Room):
    """How many downlinks each device was sent, per local day of the site."""

    def sent(self, device: str, day: date) -> int:
        """The device's downlinks published on ``day``."""
        row = self._db.conn().execute(
            "SELECT sent FROM downlinks WHERE device = ? AND day = ?",
            (device, day.isoformat())).fetchone()
        return 0 if row is None else int(row[0])

    def add(self, device: str, day: date) -> int:
        """Count one more downlink on ``day``; returns the day's count."""
        with self._db.write() as conn:
            (sent,) = conn.execute(
                "INSERT INTO downlinks (device, day, sent) VALUES (?, ?, 1) "
                "ON CONFLICT (device, day) DO UPDATE SET sent = sent + 1 RETURNING sent",
                (device, day.isoformat())).fetchone()
        return int(sent)
