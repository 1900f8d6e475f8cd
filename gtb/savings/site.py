"""The site's figures: each heating meter's baseline, savings and losses of efficiency
with what they mean, each lighting cabinet's savings, their sums per building and in all,
and the path to the décret tertiaire's target, against the baseline period (by default the
twelve months before the engine took over); the same figures over a month of the period."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from typing import Any

from gtb.model import Building, Site
from gtb.savings.baseline import Baseline, Days, SavingsError, fit_baseline
from gtb.savings.criteria import Criterion, accepted, criteria
from gtb.savings.lighting import CabinetSavings, cabinet_savings
from gtb.savings.readings import building_days, cabinet_days, heating_meters
from gtb.savings.reporting import EfficiencyLoss, Savings, efficiency_losses, savings
from gtb.savings.rounding import round_kwh
from gtb.savings.tariffs import DEFAULT_TARIFFS, Tariffs
from gtb.savings.totals import Figure, MonthTotal, monthly_totals
from gtb.savings.trajectory import SiteTrajectory, site_trajectory
from gtb.store import Store
from gtb.texts import Reason

# --- the site's figures ------------------------------------------------------------------

BASELINE_DAYS = 365
"""CalTRACK 2.2.1: a baseline of a year."""
MIN_BASELINE_DAYS = 300
MAX_MISSING_FRACTION = 0.10


@dataclass(frozen=True)
class BuildingSavings:
    """One heating meter of one building: its baseline, its savings and what they mean."""

    building: str
    name: str
    meter: str
    kind: str
    baseline: Baseline
    savings: Savings
    explanation_fr: str
    explanation_en: str
    losses: tuple[EfficiencyLoss, ...] = ()
    missing_days: int = 0

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        """ASHRAE Guideline 14's criteria, acceptance then calibration."""
        return criteria(self.baseline, self.savings)

    @property
    def accepted(self) -> bool:
        """Whether Guideline 14 accepts the savings (whole-building, performance path)."""
        return accepted(self.criteria)

    def as_dict(self) -> dict[str, Any]:
        return {"building": self.building, "name": self.name, "meter": self.meter,
                "kind": self.kind, "baseline": self.baseline.as_dict(),
                "guideline14": {"accepted": self.accepted,
                                "criteria": [c.as_dict() for c in self.criteria]},
                "savings": self.savings.as_dict(), "explanation_fr": self.explanation_fr,
                "explanation_en": self.explanation_en, "missing_days": self.missing_days,
                "losses": [loss.as_dict() for loss in self.losses]}


@dataclass(frozen=True)
class Excluded:
    """A meter left out of the figures, and why."""

    building: str
    meter: str
    reason_en: str
    reason_fr: str

    def as_dict(self) -> dict[str, str]:
        return {"building": self.building, "meter": self.meter, "reason_en": self.reason_en,
                "reason_fr": self.reason_fr}


@dataclass(frozen=True)
class SpanSavings:
    """The heating meters' and the lighting cabinets' savings over a span of days (the
    whole period, or a month of it), summed per building and in all."""

    start: date
    end: date
    meters: tuple[tuple[BuildingSavings, Savings], ...]
    """Each heating meter (with its baseline and its figures over the whole period) and its
    savings over the span."""
    cabinets: tuple[CabinetSavings, ...]
    tariffs: Tariffs

    def _meter_figures(self, building: str | None) -> list[Figure]:
        return [Figure.of_meter(s, self.tariffs.rate(m.kind, m.building))
                for m, s in self.meters if building is None or m.building == building]

    def building(self, building: str) -> Figure | None:
        """The building's heating meters summed; None when it has none."""
        figures = self._meter_figures(building)
        return Figure.total(figures) if figures else None

    @property
    def heating(self) -> Figure:
        """The heating meters summed."""
        return Figure.total(self._meter_figures(None))

    @property
    def lighting(self) -> Figure:
        """The lighting cabinets summed."""
        return Figure.total(map(Figure.of_cabinet, self.cabinets))

    @property
    def total(self) -> Figure:
        """The heating meters and the lighting cabinets summed: each kind's uncertainties
        added, the two kinds' combined as independent (``gtb.savings.totals``)."""
        return Figure.independent([self.heating, self.lighting])

    def months(self, building: str | None = None) -> list[MonthTotal]:
        """The heating meters' monthly totals, the building's or the site's."""
        return monthly_totals(s for m, s in self.meters
                              if building is None or m.building == building)


@dataclass(frozen=True)
class SiteSavings:
    """The site's figures over [start, end]: per heating meter, per lighting cabinet, in
    all (``span``: the sums, the uncertainty combining the meters' independent ones), and
    the path to the décret tertiaire's target (``trajectory``, None without a heating
    meter)."""

    start: date
    end: date
    baseline_period: tuple[date, date]
    buildings: list[BuildingSavings]
    cabinets: list[CabinetSavings]
    confidence: float = 0.9
    excluded: list[Excluded] = field(default_factory=list)
    tariffs: Tariffs = DEFAULT_TARIFFS
    trajectory: SiteTrajectory | None = None

    @property
    def span(self) -> SpanSavings:
        """The figures over the whole period, to sum."""
        return SpanSavings(self.start, self.end, tuple((b, b.savings) for b in self.buildings),
                           tuple(self.cabinets), self.tariffs)

    @property
    def avoided_kwh(self) -> float:
        return self.span.total.kwh

    @property
    def avoided_eur(self) -> float:
        return self.span.total.eur

    @property
    def avoided_co2_kg(self) -> float:
        return self.span.total.co2

    @property
    def uncertainty_kwh(self) -> float:
        return self.span.total.kwh_u

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(),
            "baseline_period": [d.isoformat() for d in self.baseline_period],
            "confidence": self.confidence,
            "avoided_kwh": round_kwh(self.avoided_kwh), "avoided_eur": round(self.avoided_eur, 2),
            "avoided_co2_kg": round(self.avoided_co2_kg, 1),
            "uncertainty_kwh": round_kwh(self.uncertainty_kwh),
            "buildings": [b.as_dict() for b in self.buildings],
            "cabinets": [c.as_dict() for c in self.cabinets],
            "excluded": [e.as_dict() for e in self.excluded],
            "tariffs": self.tariffs.as_dict(),
            "trajectory": None if self.trajectory is None else self.trajectory.as_dict(),
        }


def engine_start(store: Store, tz: tzinfo) -> date | None:
    """The local day the engine first started on this store (its first « Moteur démarré »)."""
    started = store.audit.first("engine", "Moteur démarré")
    return None if started is None else started.ts.astimezone(tz).date()


def baseline_before(engine: date) -> tuple[date, date]:
    """The baseline period by default: the ``BASELINE_DAYS`` before the engine took over on
    the day ``engine``."""
    return engine - timedelta(days=BASELINE_DAYS), engine - timedelta(days=1)


def default_baseline_period(store: Store, site: Site) -> tuple[date, date]:
    """The twelve months (365 days) before the engine took over."""
    first = engine_start(store, site.tz)
    if first is None:
        raise SavingsError(
            "the store's audit log has no engine start (« Moteur démarré »): give the "
            "baseline period (--baseline-from, --baseline-to)",
            fr="le journal du stockage n'a pas de démarrage du moteur : donnez la période "
               "de référence")
    return baseline_before(first)


def check_baseline(days: Days, first: date, last: date, what: str) -> None:
    """CalTRACK 2.2.1: a baseline of a year, at most 10 % of its days missing (here at
    least 300 days long)."""
    length = (last - first).days + 1
    missing = length - len(days)
    if length < MIN_BASELINE_DAYS:
        raise SavingsError(
            f"{what}: the baseline period {first} to {last} is {length} days; CalTRACK asks "
            f"for a year (at least {MIN_BASELINE_DAYS} days here)",
            fr=f"{what} : la période de référence du {first:%d/%m/%Y} au {last:%d/%m/%Y} "
               f"dure {length} jours ; il en faut une année (au moins {MIN_BASELINE_DAYS})")
    if missing > MAX_MISSING_FRACTION * length:
        raise SavingsError(
            f"{what}: {missing} of the baseline's {length} days have no data (more than "
            f"{MAX_MISSING_FRACTION:.0%}, CalTRACK's limit)",
            fr=f"{what} : {missing} des {length} jours de la référence n'ont pas de données "
               f"(plus de {_pct(MAX_MISSING_FRACTION)})")


def site_savings(store: Store, site: Site, start: date, end: date, *,
                 baseline: tuple[date, date] | None = None,
                 tariffs: Tariffs = DEFAULT_TARIFFS, confidence: float = 0.9,
                 method: str = "costic",
                 readings: Mapping[str, Sequence[tuple[date, float]]] | None = None,
                 weather: Mapping[date, tuple[float, float]] | None = None) -> SiteSavings:
    """The site's savings from start to end (local dates, included) against the baseline
    period (default: the twelve months before the engine's first start). ``readings``
    (from ``load_baseline_csv``) replace the store's baseline kWh of the meters they name,
    ``weather`` (from the same file) its baseline temperatures. A meter whose baseline
    cannot be fitted is listed in ``excluded``; SavingsError when nothing has data."""
    if end < start:
        raise SavingsError(f"the period {start} to {end} is empty",
                           fr=f"la période du {start:%d/%m/%Y} au {end:%d/%m/%Y} est vide")
    if baseline is None:
        baseline = (_readings_span(readings) if readings and engine_start(store, site.tz) is None
                    else default_baseline_period(store, site))
    first, last = baseline
    if last < first:
        raise SavingsError(f"the baseline period {first} to {last} is empty",
                           fr="la période de référence est vide")
    if last >= start:
        raise SavingsError(
            f"the baseline period must end before the reporting period: {last} >= {start}",
            fr="la période de référence doit finir avant la période étudiée")
    results: list[BuildingSavings] = []
    excluded: list[Excluded] = []
    for b in site.buildings:
        for key in heating_meters(site, b):
            try:
                results.append(_building_savings(
                    store, site, b, key, (start, end), (first, last), tariffs, confidence,
                    method, readings, weather))
            except SavingsError as exc:
                excluded.append(Excluded(b.id, key, str(exc), exc.fr))
    cabinets = _cabinets(store, site, start, end, tariffs)
    if not results and not cabinets:
        reasons = "; ".join(e.reason_en for e in excluded) or "no heating meter, no cabinet"
        raise SavingsError(f"no figures for {start} to {end}: {reasons}",
                           fr="aucun chiffre pour cette période : "
                              + ("; ".join(e.reason_fr for e in excluded)
                                 or "ni compteur de chauffage ni armoire"))
    path = site_trajectory(site, (first, last), [(r.building, r.savings) for r in results],
                           start, end)
    return SiteSavings(start, end, (first, last), results, cabinets, confidence=confidence,
                       excluded=excluded, tariffs=tariffs, trajectory=path)


def month_savings(store: Store, site: Site, result: SiteSavings, first: date, last: date
                  ) -> SpanSavings:
    """The savings of ``first`` to ``last`` (within the result's period) with the baselines
    already fitted: the same figures as ``site_savings`` over those days, without reading
    the baseline year again. A meter without a day of data there has nothing metered and
    nothing expected."""
    meters = []
    for meter in result.buildings:
        days = building_days(store, site, meter.building, first, last, meter=meter.meter)
        meters.append((meter, savings(meter.baseline, days, confidence=result.confidence,
                                      rate=result.tariffs.rate(meter.kind, meter.building))
                       if days else _nothing(first, last, result.confidence)))
    return SpanSavings(first, last, tuple(meters),
                       tuple(_cabinets(store, site, first, last, result.tariffs)),
                       result.tariffs)


def _cabinets(store: Store, site: Site, first: date, last: date, tariffs: Tariffs
              ) -> list[CabinetSavings]:
    """Each lighting cabinet with metered days from ``first`` to ``last``, against its
    former timetable."""
    found = []
    for cabinet in site.cabinets:
        metered, source = cabinet_days(store, site, cabinet, first, last)
        if metered:
            found.append(cabinet_savings(site, cabinet, metered, tariffs.rate("lighting"),
                                         source=source))
    return found


def _nothing(first: date, last: date, confidence: float) -> Savings:
    """Savings over days without data: nothing metered, nothing expected."""
    return Savings(first, last, 0, 0.0, 0.0, 0.0, 0.0, None, 0.0, confidence, 0.0, 0.0, 0.0,
                   ())


def _building_savings(store: Store, site: Site, b: Building, key: str,
                      reporting: tuple[date, date], base: tuple[date, date],
                      tariffs: Tariffs, confidence: float, method: str,
                      readings: Mapping[str, Sequence[tuple[date, float]]] | None,
                      weather: Mapping[date, tuple[float, float]] | None) -> BuildingSavings:
    ref = site.point(key)
    label = f"« {ref.point.name or key} » ({b.name})"
    imported = None if readings is None or key not in readings else dict(readings[key])
    before = building_days(store, site, b, *base, meter=key, readings=imported, weather=weather)
    if imported and not before:
        raise SavingsError(
            f"{label}: no outdoor temperature for the imported baseline days: add tmin and "
            "tmax columns to the CSV file",
            fr=f"{label} : pas de température extérieure pour les jours importés : ajoutez "
               "les colonnes tmin et tmax au fichier CSV")
    check_baseline(before, *base, label)
    model = fit_baseline(before, method=method)
    after = building_days(store, site, b, *reporting, meter=key)
    if not after:
        raise SavingsError(f"{label}: no day with data from {reporting[0]} to {reporting[1]}",
                           fr=f"{label} : aucun jour avec des données sur la période")
    kind = ref.point.meter or "heating"
    result = savings(model, after, confidence=confidence, rate=tariffs.rate(kind, b.id))
    losses = efficiency_losses(model, after, building=b.id, meter=key, label=label)
    said = _explain(label, model, result, losses, len(after.missing))
    return BuildingSavings(b.id, b.name, key, kind, model, result, said.fr, said.en,
                           tuple(losses), len(after.missing))


def _explain(label: str, model: Baseline, result: Savings,
             losses: Sequence[EfficiencyLoss], missing: int) -> Reason:
    """What the figures mean, for an elected official, in the catalogue's words: the
    losses of efficiency found in the period are told apart, with what the figure would
    have been without them."""
    s = result
    if not s.significant:  # the interval contains zero: nothing saved, nothing in excess
        verdict = Reason.of("savings.explanation.unclear", gap=abs(s.avoided_kwh),
                            u=s.uncertainty_kwh, confidence=s.confidence)
    elif s.avoided_kwh > 0:
        verdict = Reason.of("savings.explanation.saved", kwh=s.avoided_kwh,
                            pct=100 * s.fraction, u=s.uncertainty_kwh, confidence=s.confidence,
                            eur=s.avoided_eur, co2=s.avoided_co2_kg)
    else:
        verdict = Reason.of("savings.explanation.more", kwh=-s.avoided_kwh,
                            u=s.uncertainty_kwh, confidence=s.confidence)
    parts = [Reason.of("savings.explanation", label=label, actual=s.actual_kwh, start=s.start,
                       end=s.end, hdd=s.hdd, base_start=model.start, base_end=model.end,
                       expected=s.baseline_kwh, verdict=verdict)]
    lost = sum(loss.excess_kwh for loss in losses)
    if lost > 0:
        without = s.avoided_kwh + lost
        parts.append(Reason.of(
            f"savings.explanation.losses_{'saved' if without >= 0 else 'more'}",
            spans=[Reason.of("savings.span", first=loss.start, last=loss.end)
                   for loss in losses], lost=lost, without=abs(without)))
    if s.significant and s.avoided_kwh > 0 and not accepted(criteria(model, s)):
        parts.append(Reason.of("savings.explanation.indicative"))
    if missing:
        parts.append(Reason.of("savings.explanation.missing", count=missing))
    return Reason.of("savings.sentences", parts=parts)


def _readings_span(readings: Mapping[str, Sequence[tuple[date, float]]]) -> tuple[date, date]:
    days = [d for values in readings.values() for d, _ in values]
    if not days:
        raise SavingsError("the imported readings hold no day",
                           fr="les relevés importés n'ont aucun jour")
    return min(days), max(days)


def _pct(fraction: float) -> str:
    """``0.9`` -> ``90 %`` (French puts a space before the sign)."""
    return f"{100 * fraction:.0f} %"
