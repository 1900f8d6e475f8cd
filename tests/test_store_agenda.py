"""The agenda in the store: the panel's events, closures and day exceptions, audited."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gtb.model.calendar import AgendaEntry
from gtb.store import Store
from gtb.store.errors import NotFoundError
from gtb.store.migrations import MIGRATIONS

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
COUNCIL = {"kind": "event", "label": "Conseil municipal", "scope": ["mairie.salle-du-conseil"],
           "start": "2026-03-12 18:30", "end": "2026-03-12 22:30"}
INVENTORY = AgendaEntry(kind="closure", label="Inventaire", scope=("mediatheque",),
                        start=datetime(2026, 3, 16), end=datetime(2026, 3, 19))
BRIDGE = AgendaEntry(kind="day", label="Pont de l'Ascension", first=date(2026, 5, 15))
MARKET_LIGHTS = AgendaEntry(kind="lights_on", label="Marché de Noël", scope=("ep-centre",),
                            start=datetime(2026, 12, 12, 16), end=datetime(2026, 12, 13, 1))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "gtb.sqlite") as opened:
        yield opened


def test_a_version_4_file_gains_the_agenda_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "gtb.sqlite"
    with Store(path, migrations=MIGRATIONS[:4]) as old:
        assert old.schema_version == 4
        old.learning.switch("mairie.accueil", False, at=NOW, who="marie")
    with sqlite3.connect(path) as raw:
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    assert "agenda" not in tables
    with Store(path) as new:
        assert new.schema_version == len(MIGRATIONS)
        assert new.learning.switches() == {"mairie.accueil": False}
        assert new.agenda.entries() == [] and new.agenda.revision() == 0
        new.agenda.add(COUNCIL, at=NOW, who="marie")
        assert [e.entry.label for e in new.agenda.entries()] == ["Conseil municipal"]


def test_a_version_5_agenda_takes_lighting_entries_and_keeps_its_entries(
    tmp_path: Path
) -> None:
    path = tmp_path / "gtb.sqlite"
    with Store(path, migrations=MIGRATIONS[:5]) as old:
        assert old.schema_version == 5
    # Rows as the program of version 5 wrote them (today's writes the audit line's English
    # too, which that schema has no column for).
    row = ("INSERT INTO agenda (kind, label, entry, lo, hi, revision, created_at, created_by,"
           " updated_at, updated_by) VALUES (?, ?, ?, ?, ?, 1, 0, 'marie', 0, 'marie')")
    council = AgendaEntry.model_validate(COUNCIL)
    with sqlite3.connect(path) as raw:
        kept = raw.execute(row, ("event", council.label, council.model_dump_json(),
                                 "2026-03-12T18:30:00", "2026-03-12T22:30:00")).lastrowid
        with pytest.raises(sqlite3.IntegrityError):
            raw.execute(row, ("lights_on", MARKET_LIGHTS.label, MARKET_LIGHTS.model_dump_json(),
                              "2026-12-12T16:00:00", "2026-12-13T01:00:00"))
    raw.close()
    assert kept is not None
    with Store(path) as new:
        assert new.schema_version == len(MIGRATIONS)
        assert new.agenda.get(kept).entry.label == "Conseil municipal"
        new.agenda.add(MARKET_LIGHTS, at=NOW, who="maire")
        assert [e.entry.kind for e in new.agenda.entries()] == ["event", "lights_on"]


def test_add_update_delete_are_kept_and_audited(store: Store) -> None:
    council = store.agenda.add(COUNCIL, at=NOW, who="marie")
    inventory = store.agenda.add(INVENTORY, at=NOW, who="paul")
    stored = store.agenda.get(council)
    assert stored.entry == AgendaEntry.model_validate(COUNCIL)
    assert (stored.created_by, stored.created_at, stored.updated_by) == ("marie", NOW, "marie")
    revision = store.agenda.revision()

    later = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    moved = {**COUNCIL, "start": "2026-03-13 18:30", "end": "2026-03-13 23:00"}
    updated = store.agenda.update(council, moved, at=later, who="paul")
    assert updated.entry.start == datetime(2026, 3, 13, 18, 30)
    assert (updated.created_by, updated.updated_by, updated.updated_at) == ("marie", "paul", later)
    assert store.agenda.revision() > revision

    store.agenda.delete(inventory, at=later, who="marie")
    with pytest.raises(NotFoundError, match=f"no agenda entry with id {inventory}"):
        store.agenda.get(inventory)
    with pytest.raises(NotFoundError):
        store.agenda.delete(inventory, at=later, who="marie")
    assert [e.id for e in store.agenda.entries()] == [council]

    log = store.audit.events(kind="agenda", limit=10)
    assert [(e.actor, e.message) for e in reversed(log)] == [
        ("marie", "Agenda : ajout de « Conseil municipal »"),
        ("paul", "Agenda : ajout de « Inventaire »"),
        ("paul", "Agenda : modification de « Conseil municipal »"),
        ("marie", "Agenda : suppression de « Inventaire »"),
    ]
    change = log[1].data
    assert change["id"] == council
    assert change["before"]["start"] == "2026-03-12T18:30:00"
    assert change["entry"]["start"] == "2026-03-13T18:30:00"
    assert log[0].data["entry"]["label"] == "Inventaire"
    assert log[1].reason == ("événement du 2026-03-13 18:30:00 au 2026-03-13 23:00:00 "
                             "(mairie.salle-du-conseil)")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({**COUNCIL, "end": "2026-03-12 17:00"},
         "invalid agenda entry: entry: end .* is not after"),
        ({"kind": "day", "label": "x", "first": "2026-05-15", "periods": ["9h-12h"]},
         r"invalid agenda entry: periods.0: period '9h-12h' is not HH:MM-HH:MM"),
        ({**COUNCIL, "kind": "meeting"}, "invalid agenda entry: kind: Input should be"),
        ({**COUNCIL, "colour": "red"}, "invalid agenda entry: colour: Extra inputs"),
        ("Conseil", "an agenda entry must be a mapping"),
    ],
)
def test_invalid_input_is_refused_and_changes_nothing(
    store: Store, bad: object, message: str
) -> None:
    council = store.agenda.add(COUNCIL, at=NOW, who="marie")
    revision, events = store.agenda.revision(), len(store.audit.events(limit=100))
    with pytest.raises(ValueError, match=message):
        store.agenda.add(bad, at=NOW, who="marie")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        store.agenda.update(council, bad, at=NOW, who="marie")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="agenda author must be a non-empty text"):
        store.agenda.add(COUNCIL, at=NOW, who=" ")
    with pytest.raises(ValueError, match="naive"):
        store.agenda.add(COUNCIL, at=datetime(2026, 3, 1), who="marie")
    assert store.agenda.revision() == revision
    assert len(store.audit.events(limit=100)) == events
    assert store.agenda.get(council).entry == AgendaEntry.model_validate(COUNCIL)


def test_entries_are_listed_by_overlap_with_a_range_and_by_zone(store: Store) -> None:
    council = store.agenda.add(COUNCIL, at=NOW, who="marie")
    inventory = store.agenda.add(INVENTORY, at=NOW, who="marie")
    bridge = store.agenda.add(BRIDGE, at=NOW, who="marie")

    def ids(**query: object) -> list[int]:
        return [e.id for e in store.agenda.entries(**query)]  # type: ignore[arg-type]

    assert ids() == [council, inventory, bridge]  # by start
    # Half-open ranges: the council ends at 22:30 and the inventory ends on the 19th.
    assert ids(start=datetime(2026, 3, 12, 22, 30)) == [inventory, bridge]
    assert ids(start=datetime(2026, 3, 12, 22, 29)) == [council, inventory, bridge]
    assert ids(start=date(2026, 3, 13), end=date(2026, 3, 16)) == []
    assert ids(start=date(2026, 3, 18), end=date(2026, 3, 19)) == [inventory]
    assert ids(start=date(2026, 3, 19), end=date(2026, 5, 15)) == []  # the bridge starts then
    assert ids(start=datetime(2026, 5, 15, 23, 59), end=date(2026, 6, 1)) == [bridge]
    assert ids(zone="mairie.salle-du-conseil") == [council, bridge]
    assert ids(zone="mediatheque.lecture") == [inventory, bridge]
    assert ids(zone="ecole.maternelle", end=date(2026, 4, 1)) == []
    with pytest.raises(ValueError, match="wall-clock"):
        store.agenda.entries(start=NOW)
