"""One headline per period that an elected official can read aloud: the kWh, euros and CO2e
saved (or used in excess) at equal weather, in one story.

- a figure whose interval contains zero is « not demonstrated », and nothing beside it is
  said to be saved;
- kWh, euros and CO2e that do not agree in sign get one sentence saying why, by energy
  carrier (gas heating used more while electric lighting saved: a kWh of gas and one of
  electricity neither cost nor emit the same);
- a building or a commune that used more says so plainly, with what the engine knows of
  the period (``Causes``: losses of efficiency it detected, fault alarms, setpoint
  overrides, agenda events), or that the cause is unknown.

The words are the catalogue's (``savings.*`` codes of ``gtb.texts.catalogue``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from gtb.model import Building, Site
from gtb.model.calendar import AgendaEntry
from gtb.model.points import Role
from gtb.savings.reporting import EfficiencyLoss
from gtb.savings.rounding import rounded
from gtb.savings.site import SpanSavings
from gtb.savings.totals import Figure
from gtb.store import Store
from gtb.store.audit import Alarm
from gtb.store.control import Override, ProgrammeVersion
from gtb.texts import Reason

HISTORY_LIMIT = 100_000
"""Alarms, overrides and programme versions read back to find those of a period."""


@dataclass(frozen=True)
class Causes:
    """What the engine knows of a period that can make a building use more: the losses of
    efficiency it detected, the fault alarms raised, the setpoint overrides and the
    programmes changed in the panel (more comfort), and the agenda's events (more
    occupancy)."""

    losses: tuple[EfficiencyLoss, ...] = ()
    alarms: int = 0
    overrides: int = 0
    programmes: int = 0
    events: int = 0

    def reasons(self) -> list[Reason]:
        found = [Reason.of("savings.cause.loss", first=loss.start, last=loss.end,
                           kwh=loss.excess_kwh) for loss in self.losses]
        for code, count in (("alarms", self.alarms), ("overrides", self.overrides),
                            ("programmes", self.programmes), ("events", self.events)):
            if count:
                found.append(Reason.of(f"savings.cause.{code}", count=count))
        return found


@dataclass(frozen=True)
class _Records:
    """What the store holds of a period's causes, read once for all its headlines (the
    commune's and each building's)."""

    alarms: list[Alarm]
    overrides: list[Override]
    programmes: dict[str, list[ProgrammeVersion]]
    """Each zone's saved versions, by ``building.zone``."""
    entries: list[AgendaEntry]


def _records(store: Store, site: Site, first: date, last: date) -> _Records:
    return _Records(
        store.alarms.history(limit=HISTORY_LIMIT),
        store.overrides.history(limit=HISTORY_LIMIT),
        {f"{b.id}.{z.id}": store.programmes.history(f"{b.id}.{z.id}", limit=HISTORY_LIMIT)
         for b in site.buildings for z in b.zones},
        [*site.agenda, *(s.entry for s in store.agenda.entries(start=first, end=last))])


def known_causes(store: Store, site: Site, span: SpanSavings, building: str | None,
                 first: date, last: date) -> Causes:
    """What the store says of ``first`` to ``last`` (local days) for the building (None: the
    whole site): the losses of efficiency found on its meters over the span, its alarms
    raised, its setpoint overrides begun, its zones' programmes saved, its agenda events."""
    return _causes(_records(store, site, first, last), site, span, building, first, last)


def _causes(records: _Records, site: Site, span: SpanSavings, building: str | None,
            first: date, last: date) -> Causes:
    tz = site.tz
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)

    def ours(b: str | None) -> bool:
        return building is None or b == building

    losses = tuple(loss for meter, _ in span.meters if ours(meter.building)
                   for loss in meter.losses if loss.end >= first and loss.start <= last)
    alarms = sum(1 for a in records.alarms if start <= a.raised_at < end and ours(a.building))
    setpoints = {ref.key: ref.building.id for ref in site.points()
                 if ref.role is Role.HEATING_SETPOINT and ref.building is not None}
    overrides = sum(1 for o in records.overrides
                    if o.point in setpoints and start <= o.start < end
                    and ours(setpoints[o.point]))
    buildings = [b for b in site.buildings if ours(b.id)]
    programmes = sum(1 for b in buildings for z in b.zones
                     for v in records.programmes[f"{b.id}.{z.id}"]
                     if start <= v.saved_at < end)
    events = sum(1 for e in records.entries if e.kind == "event" and e.start is not None
                 and e.end is not None and e.start < end.replace(tzinfo=None)
                 and e.end > start.replace(tzinfo=None)
                 and any(e.applies_to(b.id, z.id) for b in buildings for z in b.zones))
    return Causes(losses, alarms, overrides, programmes, events)


def headline(span: SpanSavings, causes: Causes, confidence: float,
             building: Building | None = None) -> Reason:
    """The period's story in one to three sentences: the building's heating, or (None) the
    commune's heating and public lighting."""
    if building is None:
        figure, subject = span.total, Reason.of("savings.subject.commune")
    else:
        figure = span.building(building.id) or Figure.total([])
        subject = Reason.of("savings.subject.building", name=building.name)
    kwh, kwh_u, _ = rounded(figure.kwh, figure.kwh_u)
    if not figure.significant:
        return Reason.of("savings.not_demonstrated", gap=abs(kwh), u=kwh_u,
                         confidence=confidence)
    eur = rounded(figure.eur, figure.eur_u).value
    co2 = rounded(figure.co2, figure.co2_u).value
    saved = figure.kwh > 0
    main = Reason.of("savings.saved" if saved else "savings.more", subject=subject,
                     kwh=abs(kwh), u=kwh_u, confidence=confidence,
                     eur=Reason.of(f"savings.eur.{'saved' if eur >= 0 else 'more'}",
                                   eur=abs(eur)),
                     co2=_co2(co2))
    parts = [main]
    if (eur > 0) != saved or (co2 > 0) != saved:
        parts.append(_why_they_differ(span, None if building is None else building.id))
    if not saved:
        found = causes.reasons()
        parts.append(Reason.of("savings.causes", causes=found) if found
                     else Reason.of("savings.cause.unknown"))
    return Reason.of("savings.sentences", parts=parts)


def _co2(kg: float) -> Reason:
    """CO2e saved or emitted over, in tonnes from one tonne as the pages' figures show it."""
    way = "saved" if kg >= 0 else "more"
    if abs(kg) >= 1000:
        return Reason.of(f"savings.co2.{way}_t", co2=abs(kg) / 1000)
    return Reason.of(f"savings.co2.{way}", co2=abs(kg))


def _why_they_differ(span: SpanSavings, building: str | None) -> Reason:
    """kWh, euros and CO2e disagree: what each energy carrier did, and what a kWh of each
    costs and emits."""
    by_energy: dict[tuple[str, str], float] = defaultdict(float)
    for meter, s in span.meters:
        if building is None or meter.building == building:
            energy = span.tariffs.energy(meter.kind, meter.building) or "electricity"
            by_energy[("heating", energy)] += s.avoided_kwh
    if building is None:
        for cabinet in span.cabinets:
            by_energy[("lighting", "electricity")] += cabinet.avoided_kwh
    carriers = [Reason.of(f"savings.carrier.{use}.{'saved' if kwh >= 0 else 'more'}",
                          energy=Reason.of(f"savings.energy.{energy}"), kwh=abs(kwh))
                for (use, energy), kwh in by_energy.items()]
    used = {energy for _, energy in by_energy}
    rates = [Reason.of("savings.rate", energy=Reason.of(f"savings.energy_of.{energy}"),
                       cents=100 * rate.eur_per_kwh, grams=1000 * rate.kg_co2e_per_kwh)
             for energy, rate in span.tariffs.energies.items() if energy in used]
    return Reason.of("savings.differ", carriers=carriers, rates=rates)


@dataclass(frozen=True)
class Headlines:
    """The commune's headline and each building's with heating figures, over one span."""

    commune: Reason
    buildings: dict[str, Reason]

    def as_dict(self) -> dict[str, object]:
        return {"fr": self.commune.fr, "en": self.commune.en,
                "buildings": {b: {"fr": r.fr, "en": r.en} for b, r in self.buildings.items()}}


def span_headlines(store: Store, site: Site, span: SpanSavings, confidence: float
                   ) -> Headlines:
    """The headlines of ``span``: the commune's, then each building's that has a heating
    meter with figures, with the causes the store knows of."""
    records = _records(store, site, span.start, span.end)
    commune = headline(span, _causes(records, site, span, None, span.start, span.end),
                       confidence)
    buildings = {b.id: headline(span, _causes(records, site, span, b.id, span.start,
                                              span.end), confidence, b)
                 for b in site.buildings if span.building(b.id) is not None}
    return Headlines(commune, buildings)
