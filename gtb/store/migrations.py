"""The store's schema, one step at a time.

Append only: a file records how many steps it has had (``PRAGMA user_version``), and
opening it runs the steps it lacks. Never edit a step that has shipped; add the next one.
"""

from __future__ import annotations

from collections.abc import Sequence

Migration = Sequence[str]
"""The SQL statements of one schema step, run in one transaction."""


def _agenda_table(name: str, kinds: tuple[str, ...]) -> str:
    """The agenda table's definition, with the kinds of entry it accepts."""
    accepted = ", ".join(f"'{kind}'" for kind in kinds)
    return f"""CREATE TABLE {name} (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ({accepted})),
            label TEXT NOT NULL,
            entry TEXT NOT NULL,
            lo TEXT NOT NULL,
            hi TEXT NOT NULL CHECK (hi > lo),
            revision INTEGER NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            updated_by TEXT NOT NULL,
            deleted_at INTEGER,
            deleted_by TEXT
        )"""


MIGRATIONS: tuple[Migration, ...] = (
    # 1: time series
    (
        "CREATE TABLE points (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE)",
        """CREATE TABLE samples (
            point_id INTEGER NOT NULL REFERENCES points (id),
            ts INTEGER NOT NULL,
            value REAL,
            quality TEXT NOT NULL CHECK (quality IN ('ok', 'stale', 'failed')),
            error TEXT,
            CHECK (value IS NOT NULL OR quality = 'failed'),
            PRIMARY KEY (point_id, ts)
        ) WITHOUT ROWID""",
        """CREATE TABLE hourly (
            point_id INTEGER NOT NULL REFERENCES points (id),
            hour INTEGER NOT NULL CHECK (hour % 3600 = 0),
            count INTEGER NOT NULL CHECK (count > 0),
            total REAL NOT NULL,
            min REAL NOT NULL,
            max REAL NOT NULL,
            last REAL NOT NULL,
            first_ts INTEGER NOT NULL,
            last_ts INTEGER NOT NULL,
            PRIMARY KEY (point_id, hour)
        ) WITHOUT ROWID""",
    ),
    # 2: audit log, overrides, weekly programmes, users
    (
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            ts INTEGER NOT NULL,
            kind TEXT NOT NULL,
            actor TEXT NOT NULL,
            site TEXT,
            building TEXT,
            zone TEXT,
            point TEXT,
            message TEXT NOT NULL,
            reason TEXT,
            data TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX events_ts ON events (ts)",
        """CREATE TABLE overrides (
            id INTEGER PRIMARY KEY,
            point TEXT NOT NULL,
            value REAL NOT NULL,
            start INTEGER NOT NULL,
            until INTEGER NOT NULL CHECK (until > start),
            who TEXT NOT NULL,
            why TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            cancelled_at INTEGER,
            cancelled_by TEXT,
            cancel_reason TEXT
        )""",
        "CREATE INDEX overrides_until ON overrides (until)",
        """CREATE TABLE schedules (
            zone TEXT NOT NULL,
            version INTEGER NOT NULL,
            programme TEXT NOT NULL,
            saved_at INTEGER NOT NULL,
            saved_by TEXT NOT NULL,
            PRIMARY KEY (zone, version)
        )""",
        """CREATE TABLE users (
            name TEXT PRIMARY KEY COLLATE NOCASE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
            created_at INTEGER NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
        )""",
    ),
    # 3: alarms, so that they survive a restart of the engine
    (
        """CREATE TABLE alarms (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
            message TEXT NOT NULL,
            building TEXT,
            zone TEXT,
            point TEXT,
            raised_at INTEGER NOT NULL,
            cleared_at INTEGER,
            acknowledged_at INTEGER,
            acknowledged_by TEXT
        )""",
        "CREATE UNIQUE INDEX alarms_active ON alarms (key) WHERE cleared_at IS NULL",
    ),
    # 4: what each zone has learned, and whether it may learn
    (
        """CREATE TABLE zone_learning (
            zone TEXT PRIMARY KEY,
            enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
            model TEXT NOT NULL DEFAULT '{}',
            fitted_at INTEGER,
            changed_at INTEGER NOT NULL,
            changed_by TEXT NOT NULL
        )""",
    ),
    # 5: the agenda: events, closures and day exceptions edited in the panel
    (
        _agenda_table("agenda", ("event", "closure", "day")),
        "CREATE INDEX agenda_hi ON agenda (hi) WHERE deleted_at IS NULL",
    ),
    # 6: lighting entries in the agenda (SQLite changes a CHECK by copying the table)
    (
        _agenda_table("agenda_v6", ("event", "closure", "day", "lights_on", "lights_off")),
        "INSERT INTO agenda_v6 SELECT * FROM agenda",
        "DROP TABLE agenda",
        "ALTER TABLE agenda_v6 RENAME TO agenda",
        "CREATE INDEX agenda_hi ON agenda (hi) WHERE deleted_at IS NULL",
    ),
    # 7: shipping to InfluxDB (what is still to ship, how far it went, what it refused),
    # and monthly totals that outlive the hourly rollups
    (
        # Every sample written, replaced ones again, in write order; AUTOINCREMENT so that a
        # log emptied by shipping never hands out a sequence number already shipped.
        """CREATE TABLE sample_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            point_id INTEGER NOT NULL,
            ts INTEGER NOT NULL
        )""",
        """CREATE TRIGGER sample_logged AFTER INSERT ON samples BEGIN
            INSERT INTO sample_log (point_id, ts) VALUES (NEW.point_id, NEW.ts);
        END""",
        "INSERT INTO sample_log (point_id, ts) SELECT point_id, ts FROM samples ORDER BY ts",
        """CREATE TABLE shipped (
            stream TEXT PRIMARY KEY CHECK (stream IN ('samples', 'events')),
            position INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )""",
        """CREATE TABLE set_aside (
            id INTEGER PRIMARY KEY,
            stream TEXT NOT NULL CHECK (stream IN ('samples', 'events')),
            line TEXT NOT NULL,
            error TEXT NOT NULL,
            at INTEGER NOT NULL
        )""",
        """CREATE TABLE monthly (
            point_id INTEGER NOT NULL REFERENCES points (id),
            month TEXT NOT NULL CHECK (month GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]'),
            days INTEGER NOT NULL,
            hours INTEGER NOT NULL,
            count INTEGER NOT NULL CHECK (count > 0),
            total REAL NOT NULL,
            min REAL NOT NULL,
            max REAL NOT NULL,
            sum_of_means REAL NOT NULL,
            PRIMARY KEY (point_id, month)
        ) WITHOUT ROWID""",
    ),
    # 8: what the engine shows of each zone and output after its last tick (the panel
    # reads it), and the API tokens of scripts
    (
        """CREATE TABLE status (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('zone', 'output')),
            data TEXT NOT NULL,
            at INTEGER NOT NULL
        )""",
        """CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            user TEXT NOT NULL COLLATE NOCASE REFERENCES users (name),
            token_hash TEXT NOT NULL UNIQUE,
            label TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        )""",
    ),
    # 9: the status also holds what lies ahead (each cabinet's night, the holidays); the
    # engine rewrites it all, so the table is remade rather than copied
    (
        "DROP TABLE status",
        """CREATE TABLE status (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('zone', 'output', 'night', 'holidays')),
            data TEXT NOT NULL,
            at INTEGER NOT NULL
        )""",
    ),
    # 10: the English of the audit log and of alarms, for the panel in English (older
    # lines have none: they are shown in French)
    (
        "ALTER TABLE events ADD COLUMN message_en TEXT",
        "ALTER TABLE events ADD COLUMN reason_en TEXT",
        "ALTER TABLE alarms ADD COLUMN message_en TEXT",
    ),
    # 11: the status as typed records (gtb.store.status): rows of the earlier shape are
    # dropped, and the engine writes them anew at its next tick
    (
        "DELETE FROM status",
    ),
    # 12: API tokens expire, and say when they were last used (a token made before has no
    # expiry: NULL, shown as such to the admin, who may revoke it)
    (
        "ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER",
        "ALTER TABLE api_tokens ADD COLUMN last_used_at INTEGER",
    ),
    # 13: the panel's sessions, ended by the server (sign-out, an account changed), and
    # the failed sign-ins that lock an account or an address for a while
    (
        """CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            id_hash TEXT NOT NULL UNIQUE,
            user TEXT NOT NULL COLLATE NOCASE REFERENCES users (name),
            created_at INTEGER NOT NULL,
            last_seen_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL CHECK (expires_at > created_at),
            idle_s INTEGER NOT NULL CHECK (idle_s > 0),
            ended_at INTEGER,
            address TEXT NOT NULL,
            user_agent TEXT NOT NULL
        )""",
        "CREATE INDEX sessions_of_user ON sessions (user, ended_at)",
        """CREATE TABLE sign_in_failures (
            id INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            name TEXT NOT NULL COLLATE NOCASE,
            address TEXT NOT NULL
        )""",
        "CREATE INDEX sign_in_failures_by_name ON sign_in_failures (name, at)",
        "CREATE INDEX sign_in_failures_by_address ON sign_in_failures (address, at)",
        "CREATE INDEX sign_in_failures_by_time ON sign_in_failures (at)",
        """CREATE TABLE sign_in_locks (
            id INTEGER PRIMARY KEY,
            scope TEXT NOT NULL CHECK (scope IN ('account', 'address')),
            key TEXT NOT NULL COLLATE NOCASE,
            since INTEGER NOT NULL,
            until INTEGER NOT NULL CHECK (until > since)
        )""",
        "CREATE INDEX sign_in_locks_by_key ON sign_in_locks (scope, key, until)",
    ),
    # 14: each LoRaWAN device's downlinks per local day, so that a restart does not spend
    # the day's budget again
    (
        """CREATE TABLE downlinks (
            device TEXT NOT NULL,
            day TEXT NOT NULL,
            sent INTEGER NOT NULL CHECK (sent > 0),
            PRIMARY KEY (device, day)
        ) WITHOUT ROWID""",
    ),
)
