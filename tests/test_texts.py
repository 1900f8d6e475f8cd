"""Reason codes and their words (``gtb.texts``): every code the program says is in the
catalogue, both languages ask for the same facts, and a reason reads the same after the
store has kept it."""

from __future__ import annotations

import ast
import string
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from gtb.texts import Reason, reads_alike, render, said
from gtb.texts.catalogue import CATALOGUE, WRITERS

ROOT = Path(__file__).resolve().parent.parent
PARIS = ZoneInfo("Europe/Paris")


def _codes_said() -> dict[str, str]:
    """Every literal code given to ``Reason.of`` in the program, with where."""
    found: dict[str, str] = {}
    for package in ("gtb", "controllers", "protocols", "web"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "of" and isinstance(node.func.value, ast.Name)
                        and node.func.value.id == "Reason" and node.args
                        and isinstance(node.args[0], ast.Constant)):
                    found[node.args[0].value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_every_code_the_program_says_has_its_words() -> None:
    said_ = _codes_said()
    assert len(said_) > 80, "the reader finds the codes"
    missing = {code: where for code, where in said_.items()
               if code not in CATALOGUE and code not in WRITERS}
    assert missing == {}


@pytest.mark.parametrize("code", sorted(set(CATALOGUE) - {"said"}))
def test_french_and_english_ask_for_the_same_facts(code: str) -> None:
    """(Except ``said``: what a person or a device said, in each language given.)"""
    fr, en = CATALOGUE[code]
    fields = [{name for _, name, _, _ in string.Formatter().parse(text) if name}
              for text in (fr, en)]
    assert fields[0] == fields[1]


def test_a_reason_reads_the_same_after_the_store_kept_it() -> None:
    now = datetime(2026, 1, 12, 5, 52, tzinfo=PARIS)
    reason = Reason.of(
        "heating.preheat", at=now, start=now, arrival=now.replace(hour=8), late=0.0,
        detail=Reason.of("heating.preheat_detail", days=5,
                         estimate=Reason.of("duration", minutes=128.0), outdoor=-1.25,
                         source=Reason.of("outdoor.forecast"), margin=20.0, power=1.0))
    kept = TypeAdapter(Reason).validate_json(TypeAdapter(Reason).dump_json(reason))
    detail = kept.params["detail"]
    assert kept == reason and isinstance(detail, Reason)
    assert isinstance(detail.params["estimate"], Reason)
    assert kept.fr == "Préchauffage démarré à 05:52 pour l'arrivée prévue à 08:52"
    assert kept.en == "Preheat started at 05:52 for the arrival expected at 08:52"
    assert kept.details("fr") == (
        "arrivée apprise sur 5 jours semblables ; montée estimée à 2 h 08 par -1,2 °C "
        "extérieurs (prévision), à 100 % de la puissance ; marge 20 min")


def test_moments_read_relative_to_when_the_reason_was_given() -> None:
    now = datetime(2026, 1, 12, 22, 0, tzinfo=PARIS)  # a Monday

    def until(moment: datetime) -> tuple[str, str]:
        reason = Reason.of("heating.until", at=now, start=moment)
        return reason.fr, reason.en
    assert until(now.replace(hour=23)) == ("jusqu'à 23:00", "until 23:00")
    assert until(datetime(2026, 1, 13, 8, tzinfo=PARIS)) == ("jusqu'à demain 08:00",
                                                              "until tomorrow 08:00")
    assert until(datetime(2026, 1, 15, 8, tzinfo=PARIS)) == ("jusqu'à jeudi 15/01 08:00",
                                                              "until Thursday 15/01 08:00")


def test_lists_what_people_said_and_codes_this_program_does_not_know() -> None:
    listed = Reason.of("device.silent", device=said("automate"), cause="timeout",
                       consequences=[Reason.of("consequence.degraded"),
                                     Reason.of("consequence.held", names="Église")])
    assert listed.fr == ("automate ne répond plus : timeout — zones en mode dégradé ; Église : "
                         "dernier état maintenu par l'appareil, rétabli dès qu'il répond")
    assert listed.en.startswith("automate does not answer: timeout — zones in degraded mode; ")
    assert render(Reason.of("from.a.newer.program", x=1), "fr") == "from.a.newer.program"
    assert said("fuite de gaz").en == "fuite de gaz"
    assert Reason.of("agenda.day", lo=str(date(2026, 5, 1)), hi=str(date(2026, 5, 1)),
                     where=Reason.of("agenda.whole_site")).en == (
        "special days from 2026-05-01 to 2026-05-01 (the whole site)")


def test_decisions_made_anew_the_same_day_read_alike() -> None:
    """The engine logs a command when what its reason says changes: a decision made again a
    minute later says the same; across midnight « demain 08:00 » becomes « 08:00 »."""
    def unoccupied(at: datetime, start: datetime) -> Reason:
        return Reason.of("heating.unoccupied", setpoint=16.0,
                         when=Reason.of("heating.until", at=at, start=start))
    night = datetime(2026, 1, 12, 23, 58, tzinfo=PARIS)
    morning = datetime(2026, 1, 13, 8, tzinfo=PARIS)
    assert reads_alike(unoccupied(night, morning),
                       unoccupied(night + timedelta(minutes=1), morning))
    assert not reads_alike(unoccupied(night, morning),
                           unoccupied(night + timedelta(minutes=3), morning))
    assert not reads_alike(unoccupied(night, morning),
                           unoccupied(night, morning + timedelta(minutes=15)))
    # Another day, the same words (no moment in them): alike.
    assert reads_alike(Reason.of("lighting.daylight", at=night),
                       Reason.of("lighting.daylight", at=morning))
