"""Drive one zone with the learning controller, without the engine.

The zone is the town hall's offices of the virtual commune; the controller sees only
what a real one would (air and outdoor temperatures, the valve, the presence sensor) and
starts with no history. Run it with::

    .venv/bin/python docs/examples/learning_zone.py [WEEKS]

It prints, for each morning, when the heating went to comfort, when the first person
arrived, the temperature then, and the reason the controller gave.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from controllers.learning import ZoneLearner
from controllers.schedule import FrenchCalendar
from gtb.config import load_site
from gtb.model.points import HeatingLevel
from gtb.sim.world import VirtualCommune

SITE = Path(__file__).resolve().parents[2] / "sites" / "demo-commune.yaml"
ZONE = "mairie.bureaux"
STEP = timedelta(minutes=15)
FIRST_MONDAY = datetime(2026, 1, 5, tzinfo=ZoneInfo("Europe/Paris"))


@dataclass(frozen=True)
class Morning:
    day: str
    comfort_from: str | None
    first_arrival: str | None
    temperature_at_arrival: float | None
    reason: str
    night: str | None = None
    """The level the zone was at at 03:00 (``HeatingLevel``'s value)."""


def fresh_learner() -> ZoneLearner:
    """The offices' controller, knowing only the site file."""
    site = load_site(SITE)
    building = next(b for b in site.buildings if b.id == "mairie")
    zone = next(z for z in building.zones if z.id == "bureaux")
    return ZoneLearner(site.programme_of(building, zone), building.use,
                       FrenchCalendar(site.school_zone, site.alsace_moselle),
                       site.comfort_of(zone), site.tz, settings=site.learning_of(zone))


def run(weeks: int = 6, start: datetime = FIRST_MONDAY) -> list[Morning]:
    return learner_after(weeks, start)[1]


def learner_after(weeks: int, start: datetime = FIRST_MONDAY
                  ) -> tuple[ZoneLearner, list[Morning]]:
    """Drive the offices for ``weeks`` from an empty history: the learner, and the mornings."""
    site = load_site(SITE)
    tz = site.tz
    learner = fresh_learner()
    world = VirtualCommune(site, start, seed=7, step_s=300)
    mornings: list[Morning] = []
    now, end = start, start + timedelta(weeks=weeks)
    comfort_from = arrival = reason = night = None
    arrival_temperature = None
    while now < end:
        state = world.zone_state(ZONE)
        outdoor = world.read("mairie.temp-ext")
        decision = learner.decide(now, indoor=state.air_temperature, outdoor=outdoor,
                                  present=state.presence)
        world.write(f"{ZONE}.consigne", decision.setpoint)
        local = now.astimezone(tz)
        if local.hour == 3 and local.minute == 0:
            night = decision.level.value
        if local.hour < 12 and decision.level is HeatingLevel.COMFORT and comfort_from is None:
            comfort_from, reason = f"{local:%H:%M}", decision.reason.fr
        if local.hour < 12 and state.occupants and arrival is None:
            arrival, arrival_temperature = f"{local:%H:%M}", state.air_temperature
        now += STEP
        world.advance_to(now)
        after = world.zone_state(ZONE)
        learner.observe(now, indoor=after.air_temperature, outdoor=outdoor,
                        heating=after.valve, present=after.presence)
        if now.astimezone(tz).date() != local.date():  # midnight: learn, note the morning
            learner.refit(now)
            if local.weekday() < 5:
                mornings.append(Morning(f"{local:%a %d/%m}", comfort_from, arrival,
                                        arrival_temperature, reason or "", night))
            comfort_from = arrival = reason = night = None
            arrival_temperature = None
    return learner, mornings


if __name__ == "__main__":
    for morning in run(int(sys.argv[1]) if len(sys.argv) > 1 else 6):
        warm = ("—" if morning.temperature_at_arrival is None
                else f"{morning.temperature_at_arrival:.1f} °C")
        print(f"{morning.day}  nuit {morning.night or '—':<16}  "
              f"confort dès {morning.comfort_from or '—':>5}  "
              f"arrivée {morning.first_arrival or '—':>5}  {warm:>8}  {morning.reason}")
