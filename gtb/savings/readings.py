"""Where the days come from: each local day's kWh of a meter or a lighting cabinet and the
outdoor extremes, read from the store, or daily readings imported from a CSV file (for a
baseline older than the engine's own data)."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Mapping
from datetime import date, time, timedelta, tzinfo
from pathlib import Path

from controllers.lighting import wall_instant
from gtb.model import Building, Cabinet, Site
from gtb.model.points import Role
from gtb.savings.baseline import DayRecord, Days, SavingsError, day_types, find_building
from gtb.store import Store

# --- reading the store -----------------------------------------------------------------

END_OF_DAY_HOUR = 22
"""An index is a day's end-of-day index when it was read in the day's last two hours."""
MIN_TEMPERATURE_HOURS = 12
"""CalTRACK 2.2.2.3: a day's temperature needs at least half its hours."""


def _period(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def meter_days(store: Store, key: str, first: date, last: date, tz: tzinfo
               ) -> dict[date, float]:
    """kWh of each local day from first to last of a cumulative meter: the end-of-day index
    minus the day before's. A day without both indexes, or whose index went down (a meter
    replaced), has no figure."""
    rollups = store.rollups.hourly(key, wall_instant(first - timedelta(days=1), time(), tz),
                           wall_instant(last + timedelta(days=1), time(), tz))
    ends: dict[date, float] = {}
    for rollup in rollups:
        local = rollup.hour.astimezone(tz)
        if local.hour >= END_OF_DAY_HOUR:
            ends[local.date()] = rollup.last
    result = {}
    for day in _period(first, last):
        today, before = ends.get(day), ends.get(day - timedelta(days=1))
        if today is not None and before is not None and today >= before:
            result[day] = today - before
    return result


def _temperatures(store: Store, key: str, first: date, last: date, tz: tzinfo
                  ) -> dict[date, tuple[float, float]]:
    return {a.day: (a.min, a.max) for a in store.rollups.daily(key, first, last, tz)
            if a.hours >= MIN_TEMPERATURE_HOURS}


def outdoor_point(site: Site, building: Building | str | None = None) -> str:
    """The outdoor temperature point of the building, else the site's first one."""
    refs = [ref for ref in site.points() if ref.role is Role.OUTDOOR_TEMPERATURE]
    own = [ref for ref in refs if building is not None and ref.building is not None
           and ref.building.id == (building if isinstance(building, str) else building.id)]
    if not (own or refs):
        raise SavingsError(f"site {site.id} has no outdoor_temperature point: degree-days "
                           "need one", fr=f"le site {site.id} n'a pas de point de température "
                           "extérieure : les degrés-jours en ont besoin")
    return (own or refs)[0].key


WEATHER_KINDS = ("heating", "gas")
"""Meter kinds whose savings are weather-normalised per building."""


def heating_meters(site: Site, building: Building) -> list[str]:
    """The building's heating and gas meters (its own, else its zones')."""
    refs = [ref for ref in site.points() if ref.building is not None
            and ref.building.id == building.id and ref.role is Role.ENERGY_METER
            and ref.point.meter in WEATHER_KINDS]
    own = [ref.key for ref in refs if ref.zone is None]
    return own or [ref.key for ref in refs]


def building_days(store: Store, site: Site, building: Building | str, start: date, end: date,
                  *, meter: str | None = None,
                  readings: Mapping[date, float] | None = None,
                  weather: Mapping[date, tuple[float, float]] | None = None) -> Days:
    """Local days from start to end (included) of one heating meter (``meter``, a point
    key; default: the sum of the building's heating meters) with the outdoor extremes and
    day types. ``readings`` replaces the store's kWh (an imported CSV), ``weather`` its
    temperatures. Days without kWh or temperatures are skipped: ``Days.missing`` lists
    them."""
    b = find_building(site, building)
    tz = site.tz
    if readings is None:
        keys = [meter] if meter is not None else heating_meters(site, b)
        if not keys:
            raise SavingsError(f"building {b.id} has no heating meter",
                               fr=f"le bâtiment {b.name} n'a pas de compteur de chauffage")
        per_meter = [meter_days(store, key, start, end, tz) for key in keys]
        kwh = {d: sum(m[d] for m in per_meter) for d in per_meter[0]
               if all(d in m for m in per_meter)}
    else:
        kwh = {d: v for d, v in readings.items() if start <= d <= end}
    temperatures = dict(weather or {})
    if not all(d in temperatures for d in kwh):
        stored = _temperatures(store, outdoor_point(site, b), start, end, tz)
        temperatures = {**stored, **temperatures}
    agenda = [*site.agenda, *(s.entry for s in store.agenda.entries(start=start,
                                                            end=end + timedelta(days=1)))]
    usable = [d for d in _period(start, end) if d in kwh and d in temperatures]
    kinds = day_types(site, b, usable, agenda=agenda)
    records = [DayRecord(d, kwh[d], *temperatures[d], kinds[d]) for d in usable]
    used = set(usable)
    return Days(records, [d for d in _period(start, end) if d not in used])


def cabinet_days(store: Store, site: Site, cabinet: Cabinet, start: date, end: date
                 ) -> tuple[dict[date, float], str]:
    """kWh of each local day of a cabinet: from its energy meter if it has one, else its
    relay's lit hours times its power; and which of the two."""
    tz = site.tz
    keys = {point.role: f"{cabinet.id}.{point.id}" for point in cabinet.points}
    if Role.ENERGY_METER in keys:
        return meter_days(store, keys[Role.ENERGY_METER], start, end, tz), "meter"
    if Role.CABINET_RELAY not in keys:
        return {}, "relay"
    lit = {a.day: a.sum_of_means * cabinet.power_kw
           for a in store.rollups.daily(keys[Role.CABINET_RELAY], start, end, tz)
           if a.hours >= 20}
    return lit, "relay"


# --- imported readings ---------------------------------------------------------------------

def load_baseline_csv(path: str | Path) -> tuple[dict[str, list[tuple[date, float]]],
                                                  dict[date, tuple[float, float]]]:
    """Daily kWh per meter, and the daily outdoor minimum and maximum, from a CSV file
    (docs/savings.md): a header with ``meter``, ``date`` (YYYY-MM-DD) and either ``kwh``
    (the day's consumption) or ``index_kwh`` (the meter's reading at the end of the day,
    turned into differences of consecutive days); optionally ``tmin`` and ``tmax`` (°C, for
    a baseline older than the engine's own outdoor sensor). Comma or semicolon separated (a
    semicolon allows decimal commas); lines starting with '#' are comments."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SavingsError(f"{path}: cannot read: {exc}",
                           fr=f"{path} : lecture impossible : {exc}") from None
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise SavingsError(f"{path}: no data", fr=f"{path} : aucune donnée")
    delimiter = ";" if ";" in lines[0] else ","
    reader = csv.DictReader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    columns = set(reader.fieldnames or [])
    value = "kwh" if "kwh" in columns else "index_kwh"
    needed = {"meter", "date", value}
    if not needed <= columns:
        raise SavingsError(
            f"{path}: the header needs meter, date and kwh (or index_kwh), not "
            f"{', '.join(reader.fieldnames or [])}",
            fr=f"{path} : l'en-tête doit avoir meter, date et kwh (ou index_kwh)")
    values: dict[str, dict[date, float]] = defaultdict(dict)
    weather: dict[date, tuple[float, float]] = {}
    for line, row in enumerate(reader, start=2):
        try:
            day = date.fromisoformat((row["date"] or "").strip())
            values[(row["meter"] or "").strip()][day] = _number(row[value], delimiter)
            if row.get("tmin") and row.get("tmax"):
                weather[day] = (_number(row["tmin"], delimiter), _number(row["tmax"], delimiter))
        except (ValueError, TypeError) as exc:
            raise SavingsError(f"{path}:{line}: {exc}", fr=f"{path}:{line} : {exc}") from None
    if value == "kwh":
        return {m: sorted(v.items()) for m, v in values.items()}, weather
    daily = {}
    for meter, indexes in values.items():
        daily[meter] = [(d, i - indexes[d - timedelta(days=1)]) for d, i in sorted(indexes.items())
                        if d - timedelta(days=1) in indexes
                        and i >= indexes[d - timedelta(days=1)]]
    return daily, weather


def _number(text: str | None, delimiter: str) -> float:
    cleaned = (text or "").strip().replace("\u202f", "").replace(" ", "")
    if delimiter == ";":
        cleaned = cleaned.replace(",", ".")
    number = float(cleaned)
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return number
