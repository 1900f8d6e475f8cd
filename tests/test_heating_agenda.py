"""A zone under the agenda (``controllers.agenda``): the pre-heat toward an event is the
learned optimal start where a thermal model exists, the fixed early start otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from controllers.learning import ZoneLearner
from controllers.schedule import FrenchCalendar
from controllers.thermal import ThermalModel
from gtb.model import ComfortLevels
from gtb.model.calendar import AgendaEntry, Programme
from gtb.model.points import HeatingLevel

PARIS = ZoneInfo("Europe/Paris")
LEVELS = ComfortLevels()
CALENDAR = FrenchCalendar("B")
OFFICE = Programme(mon=("08:00-17:30",), tue=("08:00-17:30",), wed=("08:00-17:30",),
                   thu=("08:00-17:30",), fri=("08:00-17:30",))
FITTED = datetime(2026, 1, 1, tzinfo=UTC)
FAST = ThermalModel(k=0.05, g=5.0, g_warmup=5.0, g_after_long_absence=4.0,
                    warmup_error_minutes=3.0, samples=500, fitted_at=FITTED, warmups=12,
                    warmup_error_after_long_absence_minutes=4.0)
"""Warms 16 -> 19 °C at 2 °C outside in under an hour, from a cold structure too."""
SLOW = ThermalModel(k=0.05, g=1.2, g_warmup=1.2, g_after_long_absence=1.0,
                    warmup_error_minutes=5.0, samples=500, fitted_at=FITTED, warmups=12,
                    warmup_error_after_long_absence_minutes=6.0)
"""Needs hours for the same."""
TOURNAMENT = AgendaEntry(kind="event", label="Tournoi de badminton",
                         start=datetime(2026, 1, 18, 9, 0), end=datetime(2026, 1, 18, 18, 0))
"""Sunday 18 January 2026, 09:00-18:00; the programme has nothing on Sundays."""
SUNDAY_NINE = datetime(2026, 1, 18, 9, 0, tzinfo=PARIS)


def zone(model: ThermalModel | None) -> ZoneLearner:
    learner = ZoneLearner(OFFICE, "mairie", CALENDAR, LEVELS, PARIS)
    learner.thermal = model
    return learner


def before(minutes: int) -> datetime:
    return SUNDAY_NINE - timedelta(minutes=minutes)


def test_a_learned_preheat_toward_an_event_starts_later_on_a_fast_zone_earlier_on_a_slow_one(
) -> None:
    def comfort_from(model: ThermalModel | None) -> int:
        """Minutes before the event the zone is first asked for comfort (15-min steps)."""
        learner = zone(model)
        for minutes in range(6 * 60, -1, -15):
            decision = learner.decide(before(minutes), indoor=16.0, outdoor=2.0,
                                      present=False, agenda=(TOURNAMENT,))
            if decision.level is HeatingLevel.COMFORT:
                return minutes
        raise AssertionError("never pre-heated")

    fixed = comfort_from(None)
    assert fixed == 120  # the fixed early start: 2 h, Friday's end is not 48 h before
    fast, slow = comfort_from(FAST), comfort_from(SLOW)
    # Just in time, with its margin (set back to frost protection before: the slower
    # warm-up of a cold structure).
    warmup = FAST.warmup_minutes(16.0, 19.0, 2.0, after_long_absence=True)
    assert warmup + 20 - 15 < fast <= warmup + 20 < fixed  # the first step after its start
    assert fixed < slow <= 180  # earlier, within the learned pre-heat's cap


def test_the_preheat_toward_an_event_names_it_and_the_setback_before_it_too() -> None:
    learner = zone(FAST)
    waiting = learner.decide(before(120), indoor=16.0, outdoor=2.0, present=False,
                             agenda=(TOURNAMENT,))
    assert waiting.level is not HeatingLevel.COMFORT and waiting.planned is not None
    assert waiting.reason.fr.startswith("Inoccupé (Tournoi de badminton dimanche 18/01 à "
                                        "09:00) : ")
    started = learner.decide(before(45), indoor=16.0, outdoor=2.0, present=False,
                             agenda=(TOURNAMENT,))
    assert started.level is HeatingLevel.COMFORT
    assert started.preheat is not None and started.preheat.agenda
    assert started.reason.fr == "Préchauffage démarré à 08:15 pour Tournoi de badminton (09:00)"
    assert started.reason.en == "Preheat started at 08:15 for Tournoi de badminton (09:00)"
    assert (started.reason.details("fr") or "").startswith("arrivée connue par l'agenda ; ")
    # Under way, the event decides: comfort, and the reason says why.
    during = learner.decide(SUNDAY_NINE + timedelta(hours=2), indoor=19.0, outdoor=2.0,
                            present=True, agenda=(TOURNAMENT,))
    assert during.level is HeatingLevel.COMFORT
    assert during.reason.fr == ("Occupé (Tournoi de badminton) jusqu'à 18:00 : confort "
                                "19,0 °C")


def test_without_a_thermal_model_the_fixed_early_start_applies_to_an_event() -> None:
    learner = zone(None)
    assert learner.decide(before(125), indoor=16.0, outdoor=2.0, present=False,
                          agenda=(TOURNAMENT,)).level is HeatingLevel.REDUCED
    fixed = learner.decide(before(120), indoor=16.0, outdoor=2.0, present=False,
                           agenda=(TOURNAMENT,))
    assert fixed.level is HeatingLevel.COMFORT
    assert fixed.reason.fr == "Préchauffage fixe de 2 h : occupation prévue à 09:00"
    # Learning switched off, with a model: the same.
    learner = zone(FAST)
    learner.learning = False
    assert learner.decide(before(120), indoor=16.0, outdoor=2.0, present=False,
                          agenda=(TOURNAMENT,)).reason.code == "heating.fixed_preheat"


def test_a_closure_is_a_setback_whatever_was_learned() -> None:
    works = AgendaEntry(kind="closure", label="Travaux", start=datetime(2026, 1, 13, 0, 0),
                        end=datetime(2026, 1, 14, 0, 0))
    tuesday = datetime(2026, 1, 13, 10, 0, tzinfo=PARIS)
    learner = zone(FAST)
    assert learner.decide(tuesday, indoor=19.0, outdoor=2.0, present=False
                          ).level is HeatingLevel.COMFORT
    closed = learner.decide(tuesday, indoor=19.0, outdoor=2.0, present=False, agenda=(works,))
    assert closed.level is HeatingLevel.REDUCED
    assert closed.reason.fr.startswith("Inoccupé (Travaux, ")
