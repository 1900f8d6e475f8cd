"""Public lighting is compared with its former timetable, dusk to dawn at full power, with
the uncertainty of that comparison (docs/savings.md, « Public lighting »)."""

from __future__ import annotations

import math
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

FORMER_HOURS_UNCERTAINTY = 0.05
"""The former timetable's hours, estimated from sunset and sunrise: a photocell switches a
little after the one and before the other (about 4,100 h a year where the sun gives 4,287
at 50.4° N: 4.4 %)."""
POWER_UNCERTAINTY = 0.05
"""The cabinet's nominal power against what its lamps and drivers draw."""
METER_UNCERTAINTY = 0.02
"""An energy meter of class B (MID, ±1 % at reference conditions), doubled for its current
transformers and field conditions."""

@dataclass(frozen=True)
class CabinetSavings:
    """A lighting cabinet against its former timetable, dusk to dawn at full power, over
    the days it has metered data; ``source`` says how it was metered (``meter``: its
    energy meter; ``relay``: the engine's lit hours times its power, an upper bound when
    it dims). ``uncertainty_kwh`` (and its euros and CO2e) bounds the avoided kWh: the
    estimate of the former operation and the metering (``cabinet_savings``)."""

    cabinet: str
    former_kwh: float
    metered_kwh: float
    avoided_kwh: float
    avoided_eur: float
    avoided_co2_kg: float
    name: str = ""
    days: int = 0
    source: str = "meter"
    uncertainty_kwh: float = 0.0
    uncertainty_eur: float = 0.0
    uncertainty_co2_kg: float = 0.0

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
                "avoided_co2_kg": round(self.avoided_co2_kg, 1),
                "uncertainty_kwh": round_kwh(self.uncertainty_kwh)}


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
    them, with the uncertainty of the difference. The former kWh are hours x power, each
    uncertain (``FORMER_HOURS_UNCERTAINTY``, ``POWER_UNCERTAINTY``); metered by a meter,
    the kWh carry its own (``METER_UNCERTAINTY``), independent of those; estimated from the
    relay, they are lit hours x the same power, whose error then scales the avoided kWh
    alone. Each is a bound taken at the result's confidence, combined in quadrature."""
    hours = sum(dark_hours(site.latitude, site.longitude, site.tz, day) for day in metered)
    former = hours * cabinet.power_kw
    used = float(sum(metered.values()))
    avoided = former - used
    if source == "meter":
        u = math.hypot(former * math.hypot(FORMER_HOURS_UNCERTAINTY, POWER_UNCERTAINTY),
                       used * METER_UNCERTAINTY)
    else:
        u = math.hypot(former * FORMER_HOURS_UNCERTAINTY, abs(avoided) * POWER_UNCERTAINTY)
    return CabinetSavings(cabinet.id, former, used, avoided, avoided * rate.eur_per_kwh,
                          avoided * rate.kg_co2e_per_kwh, cabinet.name, len(metered), source,
                          u, u * rate.eur_per_kwh, u * rate.kg_co2e_per_kwh)
