"""The learners' tuning from the site file (``learning:``, ``LearningSettings``): each key
changes what it says, a zone's keys beat the site's, and the engine and the season
harness hand every zone its own. Site-file errors are in test_config.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from controllers.heating import HeatingDecision, Learning, learned_decision, programme_decision
from controllers.learning import ZoneLearner
from controllers.occupancy import ArrivalForecast
from controllers.schedule import FrenchCalendar, occupation
from controllers.thermal import ThermalModel
from gtb.clock import SimulatedClock
from gtb.config import parse_site
from gtb.engine.decisions import Decider
from gtb.engine.journal import Journal
from gtb.engine.reading import Snapshot
from gtb.model import ComfortLevels, Site, Zone
from gtb.model.calendar import Programme
from gtb.model.learning import DEFAULT_LEARNING, LearningSettings
from gtb.model.points import HeatingLevel, Quality
from gtb.sim.season import FixedProgramme, Learned, Observations, Sensors
from gtb.sim.world import VirtualCommune
from gtb.store import Store
from gtb.texts import Reason
from tests.test_thermal_learning import first_order_history

PARIS = ZoneInfo("Europe/Paris")
CALENDAR = FrenchCalendar("B")
LEVELS = ComfortLevels()
OFFICE = Programme(mon=("08:00-17:30",), tue=("08:00-17:30",), wed=("08:00-17:30",),
                   thu=("08:00-17:30",), fri=("08:00-17:30",))
# Warms 16 -> 19 °C at 2 °C outside in about seven hours: every cap binds.
SLOW = ThermalModel(k=0.05, g=1.2, g_warmup=1.2, g_after_long_absence=1.0,
                    warmup_error_minutes=5.0, samples=500,
                    fitted_at=datetime(2026, 1, 1, tzinfo=UTC))


def at(hour: int, minute: int = 0, day: int = 13) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=PARIS)  # Tuesday 13 January


def with_learning(text: str, site: str | None = None, bureaux: str | None = None) -> str:
    """The demo site file with a ``learning:`` section for the site and for the town
    hall's offices (``bureaux``), each given as a YAML flow mapping."""
    if site is not None:
        text = text.replace("school_zone: B\n", f"school_zone: B\nlearning: {site}\n", 1)
    if bureaux is not None:
        name = "        name: Bureaux du secrétariat\n"
        assert name in text
        text = text.replace(name, f"{name}        learning: {bureaux}\n", 1)
    return text


def zone(site: Site, building: str, zone_id: str) -> Zone:
    return next(z for b in site.buildings if b.id == building for z in b.zones
                if z.id == zone_id)


def test_without_a_learning_section_every_zone_has_the_defaults(demo_site: Site) -> None:
    assert demo_site.learning == DEFAULT_LEARNING == LearningSettings()
    assert all(demo_site.learning_of(z) is DEFAULT_LEARNING
               for b in demo_site.buildings for z in b.zones)
    # The values the controllers had as constants before they became settings.
    assert DEFAULT_LEARNING.max_preheat(False) == timedelta(hours=3)
    assert DEFAULT_LEARNING.max_preheat(True) == timedelta(hours=12)
    assert DEFAULT_LEARNING.fixed_preheat(False) == timedelta(hours=2)
    assert DEFAULT_LEARNING.fixed_preheat(True) == timedelta(hours=4)
    assert DEFAULT_LEARNING.history == timedelta(weeks=16)
    assert DEFAULT_LEARNING.thermal_window == timedelta(days=28)


def test_a_zone_key_beats_the_site_key_and_the_others_stay_the_site_s(
        demo_site_text: str) -> None:
    site = parse_site(with_learning(demo_site_text, "{fixed_preheat_hours: 1, "
                                    "max_preheat_hours: 2, half_life_days: 21}",
                                    "{fixed_preheat_hours: 3}"))
    offices = site.learning_of(zone(site, "mairie", "bureaux"))
    reception = site.learning_of(zone(site, "mairie", "accueil"))
    assert offices.fixed_preheat_hours == 3.0 and reception.fixed_preheat_hours == 1.0
    assert offices.max_preheat_hours == reception.max_preheat_hours == 2.0
    assert offices.half_life_days == reception.half_life_days == 21.0
    assert offices.programme_prior_days == DEFAULT_LEARNING.programme_prior_days


def learn_two_mondays(learner: ZoneLearner) -> ArrivalForecast:
    """Staff in from 07:30 on two Mondays; the forecast for the third one, at 05:00."""
    for day in (12, 19):
        start = at(7, 30, day)
        for step in range(0, 4 * 60, 5):
            learner.record_presence(start + timedelta(minutes=step), True)
    learner.refit(at(0, 5, 20))
    return learner.next_arrival(at(5, 0, 26))


def test_a_programme_weighing_two_days_outweighs_two_mondays(demo_site_text: str) -> None:
    default = learn_two_mondays(Learned(parse_site(demo_site_text)).learners["mairie.bureaux"])
    assert default.basis == "learned" and default.similar_days == 2
    assert default.start == at(7, 30, 26)
    site = parse_site(with_learning(demo_site_text, "{programme_prior_days: 2}"))
    cautious = learn_two_mondays(Learned(site).learners["mairie.bureaux"])
    assert cautious.basis == "programme" and cautious.start == at(8, 30, 26)
    # The newer Monday weighs 1, the one before 0.71 (half-life 14 days).
    assert "les jours observés pèsent 1,7 jour, le programme 2,0" in cautious.reason.fr


def test_the_history_kept_and_the_thermal_window_are_the_zone_s() -> None:
    history = first_order_history(0.12, 4.0, days=10)
    later = history[-1].time + timedelta(days=2, hours=22)  # nearly three days on

    def learner(settings: LearningSettings) -> ZoneLearner:
        zone = ZoneLearner(OFFICE, "mairie", CALENDAR, LEVELS, PARIS, settings=settings)
        for o in history:
            zone.observe(o.time, indoor=o.indoor, outdoor=o.outdoor, heating=o.heating,
                         present=False)
        zone.refit(later)
        return zone

    assert learner(DEFAULT_LEARNING).thermal is not None
    # Three days back from then hold two hours of a night: too little to fit.
    short = learner(LearningSettings(history_weeks=4, thermal_window_days=3))
    assert short.thermal is None
    assert short.occupancy.keep == timedelta(weeks=4)


def slow_decision(now: datetime, settings: LearningSettings) -> HeatingDecision:
    """A slow zone at 16 °C, 2 °C outside, people learned to arrive at 08:00."""
    forecast = ArrivalForecast(at(8), None, 0.95, "learned", 12, Reason("appris", "learned"))
    return learned_decision(occupation(OFFICE, CALENDAR, "mairie", now), now, LEVELS,
                            Learning(forecast, SLOW, 16.0, 2.0), None, settings)


def test_a_smaller_preheat_cap_shortens_the_learned_preheat() -> None:
    assert slow_decision(at(5, 30), DEFAULT_LEARNING).level is HeatingLevel.COMFORT  # 3 h
    short = LearningSettings(max_preheat_hours=1)
    assert slow_decision(at(5, 30), short).level is HeatingLevel.REDUCED
    assert slow_decision(at(7, 1), short).level is HeatingLevel.COMFORT


def test_a_shorter_fixed_preheat_starts_the_programme_later() -> None:
    def fixed(now: datetime, settings: LearningSettings) -> HeatingDecision:
        return programme_decision(occupation(OFFICE, CALENDAR, "mairie", now), now, LEVELS,
                                  settings)

    one_hour = LearningSettings(fixed_preheat_hours=1)
    assert fixed(at(6, 30), DEFAULT_LEARNING).level is HeatingLevel.COMFORT  # 2 h
    assert fixed(at(6, 30), one_hour).level is HeatingLevel.REDUCED
    assert fixed(at(7, 0), one_hour).level is HeatingLevel.COMFORT


def test_a_wider_comfort_band_stops_earlier() -> None:
    forecast = ArrivalForecast(at(8), at(17, 30), 0.95, "learned", 12,
                               Reason("appris", "learned"))
    now = at(16, 30)

    def decision(settings: LearningSettings) -> float:
        return learned_decision(occupation(OFFICE, CALENDAR, "mairie", now), now, LEVELS,
                                Learning(forecast, SLOW, 19.0, 2.0, present=True), None,
                                settings).setpoint

    # Left to cool, the zone loses about 0.8 K in the hour left: it coasts at comfort - 1 K.
    assert decision(DEFAULT_LEARNING) == 19.0
    assert decision(LearningSettings(comfort_band_k=1.0)) == 18.0


@pytest.fixture
def per_zone_site(demo_site_text: str) -> Site:
    """A site whose fixed pre-heat is 1 h, except 3 h in the town hall's offices."""
    return parse_site(with_learning(demo_site_text, "{fixed_preheat_hours: 1}",
                                    "{fixed_preheat_hours: 3}"))


def test_the_engine_gives_each_zone_its_settings(per_zone_site: Site, tmp_path: Path) -> None:
    """Temperatures failed: every zone follows its programme, with its fixed pre-heat."""
    now = at(6)  # the town hall opens at 08:30
    store = Store(tmp_path / "gtb.sqlite")
    decider = Decider(per_zone_site, store, Journal(store, SimulatedClock(now), "test"),
                      CALENDAR)
    assert decider.learners["mairie.bureaux"].settings.fixed_preheat_hours == 3.0
    keys = [ref.key for ref in per_zone_site.points()]
    failed = Snapshot(dict.fromkeys(keys), dict.fromkeys(keys, Quality.FAILED))
    zones = decider.decide(now, failed).zones
    assert zones["mairie.bureaux"].level is HeatingLevel.COMFORT
    assert zones["mairie.accueil"].level is HeatingLevel.REDUCED


def test_the_season_harness_gives_each_zone_its_settings(per_zone_site: Site) -> None:
    now = at(6)
    world = VirtualCommune(per_zone_site, now)
    commands = FixedProgramme(per_zone_site).setpoints(
        now, Observations(world, Sensors(per_zone_site), now))
    assert commands["mairie.bureaux"].level is HeatingLevel.COMFORT
    assert commands["mairie.accueil"].level is HeatingLevel.REDUCED
    learners = Learned(per_zone_site).learners
    assert learners["mairie.bureaux"].settings.fixed_preheat_hours == 3.0
    assert learners["mairie.accueil"].settings.fixed_preheat_hours == 1.0
