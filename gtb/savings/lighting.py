"""Public lighting is compared with its former timetable, dusk to dawn at full power."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from controllers.lighting import sun_times, wall_instant
from gtb.model import Cabinet, Site
from gtb.savings.rounding import round_fraction, round_kwh
from gtb.savings.tariffs import Rate

# --- public lighting ---------------------------------------------------------------------

@dataclass(frozen=True)
class CabinetSavings:
    """A lighting cabinet against its former timetable, dusk to dawn at full power, over
    the days it has metered data; ``source`` says how it was metered (``meter``: its
    energy meter; ``relay``: the engine's lit hours times its power, an upper bound when
    it dims)."""

    cabinet: str
    former_kwh: float
    metered_kwh: float
    avoided_kwh: float
    avoided_eur: float
    avoided_co2_kg: float
    name: str = ""
    days: int = 0
    source: str = "meter"

    @property
    def fraction(self) -> float:
        return self.avoided_kwh / self.former_kwh if self.former_kwh > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"cabinet": self.cabinet, "name": self.name, "days": self.days,
                "source": self.source, "former_kwh": round_kwh(self.former_kwh),
                "metered_kwh": round_kwh(self.metered_kwh),
                "avoided_kwh": round_kwh(self.avoided_kwh),
                "fraction": round_fraction(self.fraction),
                "avoided_eur": round(self.avoided_eur, 2),
                "avoided_co2_kg": round(self.avoided_co2_kg, 1)}


def dark_hours(latitude: float, longitude: float, tz: ZoneInfo, day: date) -> float:
    """Hours of the local day ``day`` before sunrise and after sunset: what a cabinet lit
    dusk to dawn burns that day (23 and 25 h days included)."""
    sun = sun_times(latitude, longitude, tz, day)
    midnight = wall_instant(day, time(), tz)
    next_midnight = wall_instant(day + timedelta(days=1), time(), tz)
    night = ((sun.sunrise.astimezone(UTC) - midnight)
             + (next_midnight - sun.sunset.astimezone(UTC)))
    return night.total_seconds() / 3600.0


def cabinet_savings(site: Site, cabinet: Cabinet, metered: Mapping[date, float], rate: Rate,
                    *, source: str = "meter") -> CabinetSavings:
    """The former timetable's kWh on the days of ``metered`` (kWh per local day) against
    them."""
    former = sum(dark_hours(site.latitude, site.longitude, site.tz, day)
                 for day in metered) * cabinet.power_kw
    used = float(sum(metered.values()))
    avoided = former - used
    return CabinetSavings(cabinet.id, former, used, avoided, avoided * rate.eur_per_kwh,
                          avoided * rate.kg_co2e_per_kwh, cabinet.name, len(metered), source)
