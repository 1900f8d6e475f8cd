"""The savings pages, for elected officials: what the engine saved in kWh, euros and CO2,
per commune and per building, this month and since it took over, each figure with its
uncertainty; the monthly bars of the metered consumption against the baseline; the path
towards the décret tertiaire's targets; the public lighting per cabinet; a page per
building with the quality of its baseline; and a printable monthly report.

The figures are ``gtb.savings``'s (IPMVP option C with CalTRACK's daily model, ASHRAE
Guideline 14's checks; their sums, month by month, per building and in all; the décret
tertiaire's path; their rounding to what the uncertainty allows), computed on request from
the store: this module arranges them for the pages and draws. Computing them reads two years
of hourly rollups, about half a second: they are kept for the day, per store revision
(``SavingsCache``), and recomputed when the history they rest on changes.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from flask import Blueprint, current_app, render_template, request
from flask.blueprints import BlueprintSetupState

from gtb.i18n import MONTHS_EN, MONTHS_EN_SHORT, MONTHS_FR, MONTHS_FR_SHORT
from gtb.model import Building, Site
from gtb.model.points import Role
from gtb.savings.baseline import SavingsError
from gtb.savings.headline import Headlines, span_headlines
from gtb.savings.lighting import CabinetSavings
from gtb.savings.readings import heating_meters
from gtb.savings.rounding import rounded
from gtb.savings.site import (
    BASELINE_DAYS,
    BuildingSavings,
    Excluded,
    SiteSavings,
    baseline_before,
    engine_start,
    month_savings,
    site_savings,
)
from gtb.savings.totals import Figure, MonthTotal, month_end
from gtb.savings.trajectory import Trajectory, subject_to_decree
from gtb.store.accounts import UserRole
from gtb.texts import Reason
from web import i18n
from web.auth import role_required
from web.charts import LineChart, bar_chart, line_chart
from web.panel import ActionError, Panel, panel

bp = Blueprint("savings", __name__)

EN: dict[str, str] = {
    # Navigation and titles
    "Économies": "Savings",
    "Économies d'énergie": "Energy savings",
    "Rapport mensuel des économies": "Monthly savings report",
    "Rapport mensuel des économies d'énergie": "Monthly energy savings report",
    "Rapport mensuel": "Monthly report",
    "Rapport mensuel à imprimer": "Monthly report to print",
    "Afficher": "Show",
    "Imprimer": "Print",
    "Mois": "Month",
    # The overview
    "Ce que le pilotage du chauffage et de l'éclairage public a fait économiser à la "
    "commune depuis que le moteur a pris la main, le":
        "What the control of heating and public lighting has saved the commune since the "
        "engine took over, on",
    "Chiffres arrêtés au": "Figures up to",
    "inclus": "included",
    "Chiffres du": "Figures from",
    "La commune": "The commune",
    "Ce mois-ci": "This month",
    "Depuis le démarrage du moteur": "Since the engine took over",
    "Chauffage de la commune, mois par mois : mesuré et référence":
        "The commune's heating, month by month: metered and baseline",
    ", chauffage mois par mois : mesuré et référence":
        ", heating month by month: metered and baseline",
    "Par bâtiment": "Per building",
    "Pas de chiffres pour ce bâtiment.": "No figures for this building.",
    "Il n'a pas de compteur de chauffage.": "It has no heating meter.",
    "Détail et qualité de la référence": "Details and quality of the baseline",
    "Éclairage public, par armoire": "Public lighting, per cabinet",
    "soumis au décret tertiaire": "subject to the décret tertiaire",
    # A figure and its uncertainty
    "évités": "avoided",
    "de plus que la référence": "more than the baseline",
    "d'écart avec la référence": "of difference from the baseline",
    "de confiance": "confidence",
    "de la consommation attendue": "of the expected consumption",
    "économie acceptée (ASHRAE Guideline 14)": "saving accepted (ASHRAE Guideline 14)",
    "chiffre indicatif (ASHRAE Guideline 14 : incertitude trop grande)":
        "an indication (ASHRAE Guideline 14: uncertainty too large)",
    "Ces totaux comptent le chauffage des bâtiments et l'éclairage public.":
        "These totals count the buildings' heating and the public lighting.",
    "économisés": "saved",
    "dépensés en plus": "spent over",
    "émis en plus": "emitted over",
    # The bars
    "Pour chaque mois, à gauche ce que la référence prévoyait sans le pilotage, à droite ce "
    "qui a été mesuré, en kWh ; les chiffres sont dans le tableau qui suit.":
        "For each month, on the left what the baseline expected without the engine, on the "
        "right what was metered, in kWh; the figures are in the table that follows.",
    "référence": "baseline",
    "mesuré": "metered",
    "Référence : la consommation attendue sans le pilotage, à météo égale":
        "Baseline: the consumption expected without the engine, at equal weather",
    "Mesuré": "Metered",
    "Les chiffres du graphique": "The chart's figures",
    "Référence (kWh)": "Baseline (kWh)",
    "Mesuré (kWh)": "Metered (kWh)",
    "Évités (kWh)": "Avoided (kWh)",
    "Évités (%)": "Avoided (%)",
    # The décret tertiaire
    "Trajectoire du décret tertiaire": "Path of the décret tertiaire",
    "À météo égale, le chauffage des bâtiments suivis a consommé":
        "At equal weather, the heating of the buildings followed used",
    "de moins": "less",
    "de plus": "more",
    "que pendant l'année de référence": "than during the reference year",
    "sur la période du": "over the period from",
    "L'objectif de 2030 est déjà atteint : il reste à le tenir, puis à viser −50 % en 2040.":
        "The 2030 target is already reached: it remains to hold it, then to aim at −50 % "
        "in 2040.",
    "Sur un chemin régulier vers −40 % en 2030, il faudrait en être à":
        "On a steady path to −40 % in 2030, it should stand at",
    "la commune est en avance sur ce chemin.": "the commune is ahead of this path.",
    "la commune est en retard sur ce chemin.": "the commune is behind this path.",
    "Il reste": "There remain",
    "points à gagner d'ici 2030.": "points to gain by 2030.",
    "En pointillés, le chemin régulier de l'année de référence (100 %) à l'objectif de 2030 "
    "(60 %) ; en trait plein, la consommation de chauffage de la commune à météo égale, en % "
    "de l'année de référence ; les chiffres sont dans le tableau qui suit.":
        "Dashed, the steady path from the reference year (100 %) to the 2030 target "
        "(60 %); solid, the commune's heating consumption at equal weather, in % of the "
        "reference year; the figures are in the table that follows.",
    "Chemin vers −40 % en 2030": "Path to −40 % in 2030",
    "La commune, à météo égale": "The commune, at equal weather",
    "Consommation de chauffage en % de l'année de référence, à météo égale":
        "Heating consumption in % of the reference year, at equal weather",
    "% de la référence": "% of the reference",
    "objectif": "target",
    "Le décret tertiaire demande −40 % en 2030, −50 % en 2040 et −60 % en 2050 par rapport "
    "à une année de référence, et s'impose aux bâtiments de 1 000 m² et plus":
        "The décret tertiaire asks for −40 % in 2030, −50 % in 2040 and −60 % in 2050 "
        "against a reference year, and binds buildings of 1,000 m² or more",
    "aucun ici": "none here",
    "pour les autres, il sert de repère. Ce repère porte sur le chauffage que suit le "
    "moteur ; la déclaration annuelle sur OPERAT compte toutes les énergies du bâtiment.":
        "for the others, it is a landmark. This landmark covers the heating the engine "
        "follows; the yearly declaration on OPERAT counts all the building's energies.",
    # Public lighting
    "Éclairage public : comparé à l'ancien fonctionnement, allumé toute la nuit à pleine "
    "puissance": "Public lighting: against the former operation, lit all night at full power",
    "Ancien fonctionnement (kWh)": "Former operation (kWh)",
    "estimé : heures allumées × puissance": "estimated: hours lit × power",
    "Pas de relevé de l'éclairage public sur cette période.":
        "No reading of the public lighting over this period.",
    # The quality of a baseline
    "Qualité de la référence": "Quality of the baseline",
    "Année de référence": "Reference year",
    "jours de relevés": "days of readings",
    "Le chauffage démarre": "Heating starts",
    "sous": "below",
    "dehors, en moyenne sur la journée": "outdoors, as a daily mean",
    "la consommation ne dépend pas de la météo": "the consumption does not depend on the "
                                                 "weather",
    "Part expliquée par la météo et le calendrier (R²)":
        "Share explained by the weather and the calendar (R²)",
    "Écart jour par jour, CV(RMSE)": "Day-by-day error, CV(RMSE)",
    "À 68 % de confiance, l'incertitude de l'économie est inférieure à la moitié de "
    "l'économie : l'ASHRAE Guideline 14 accepte ce chiffre.":
        "At 68 % confidence, the saving's uncertainty is less than half the saving: ASHRAE "
        "Guideline 14 accepts this figure.",
    "À 68 % de confiance, l'incertitude est d'au moins la moitié de l'économie, ou rien "
    "n'est économisé : l'ASHRAE Guideline 14 n'accepte pas ce chiffre, qui reste indicatif.":
        "At 68 % confidence, the uncertainty is half the saving or more, or nothing is "
        "saved: ASHRAE Guideline 14 does not accept this figure, which remains an "
        "indication.",
    "Détails pour l'auditeur": "Details for the auditor",
    "Aucune part fixe n'est négative (CalTRACK 2.0, 3.4.3.2) : quand la droite des jours "
    "chauffés, prolongée, passerait sous zéro (un artefact d'extrapolation, pas une "
    "consommation), la part fixe de ce type de jour est tenue à 0 et le reste ajusté sans "
    "elle. La pente de chauffage n'est gardée que positive et significative (p < 0,1, "
    "CalTRACK) ; sinon la référence ne dépend pas de la météo.":
        "No fixed part is negative (CalTRACK 2.0, 3.4.3.2): where the line of the heated "
        "days, extended, would go below zero (an artefact of extrapolation, not a "
        "consumption), that type of day's fixed part is held at 0 and the rest fitted "
        "without it. The heating slope is kept only when positive and significant (p < 0.1, "
        "CalTRACK); otherwise the baseline does not depend on the weather.",
    "Pente de chauffage, p-valeur": "Heating slope, p-value",
    "ajusté": "adjusted",
    "Biais jour par jour, NMBE": "Day-by-day bias, NMBE",
    "nul par construction sur les jours où le modèle est ajusté, tant que chaque type de "
    "jour garde sa part fixe":
        "zero by construction on the days the model is fitted on, as long as every type of "
        "day keeps its fixed part",
    "Autocorrélation des résidus": "Autocorrelation of the residuals",
    "Critères de l'ASHRAE Guideline 14 : ceux qui acceptent une économie, puis ceux du "
    "calage d'une simulation, pour information":
        "ASHRAE Guideline 14's criteria: those that accept a saving, then those of the "
        "calibration of a simulation, for information",
    "Critère": "Criterion",
    "Valeur": "Value",
    "Tenu": "Met",
    "oui": "yes",
    "non": "no",
    "Sources : CalTRACK 2.0 (modèle journalier, sections 3.2 à 3.4 ; incertitude, section "
    "4.3.2.4) et "
    "CalTRACK 1.0 (p < 0,1) ; ASHRAE Guideline 14-2014 (bâtiment entier : incertitude sous "
    "50 % de l'économie à 68 % ; calage d'une simulation : CV(RMSE) 15 % et NMBE 5 % "
    "mensuels, 30 % et 10 % horaires).":
        "Sources: CalTRACK 2.0 (daily model, sections 3.2 to 3.4; uncertainty, section 4.3.2.4) "
        "and CalTRACK "
        "1.0 (p < 0.1); ASHRAE Guideline 14-2014 (whole building: uncertainty under 50 % of "
        "the saving at 68 %; calibration of a simulation: CV(RMSE) 15 % and NMBE 5 % "
        "monthly, 30 % and 10 % hourly).",
    "La référence, jour par jour : une part fixe selon le type de jour, plus une part par "
    "degré-jour de froid": "The baseline, day by day: a fixed part by type of day, plus a "
                           "part per degree-day of cold",
    "Type de jour": "Type of day",
    "Part fixe (kWh par jour)": "Fixed part (kWh per day)",
    "Par degré-jour (kWh)": "Per degree-day (kWh)",
    "mêmes valeurs que": "same values as",
    "jour ouvert": "open day",
    "jour férié ou de vacances": "public or school holiday",
    "jour fermé (week-end, fermeture)": "closed day (weekend, closure)",
    "jour d'événement": "event day",
    "Dérives repérées": "Losses of efficiency found",
    "Aucune : pas de suite de jours au-dessus de la référence au-delà de son incertitude.":
        "None: no run of days above the baseline beyond its uncertainty.",
    # No baseline yet
    "Pas encore de référence : les économies ne peuvent pas encore être chiffrées":
        "No baseline yet: the savings cannot be counted yet",
    "Pour chiffrer une économie, il faut savoir ce que les bâtiments auraient consommé sans "
    "le pilotage. Cette référence s'établit sur une année entière de relevés avant que le "
    "moteur ne prenne la main : la consommation de chauffage de chaque jour et la "
    "température extérieure, pour au moins 9 jours sur 10 de l'année (un hiver et un été).":
        "To count a saving, one must know what the buildings would have used without the "
        "engine. This baseline is set on a whole year of readings before the engine takes "
        "over: each day's heating consumption and the outdoor temperature, for at least 9 "
        "days in 10 of the year (a winter and a summer).",
    "Le moteur n'a pas encore pris la main : la référence sera l'année qui précède son "
    "démarrage, et les premiers chiffres paraîtront ici le lendemain.":
        "The engine has not taken over yet: the baseline will be the year before it starts, "
        "and the first figures will show here the day after.",
    "Le moteur a pris la main le": "The engine took over on",
    "l'année de référence va donc du": "the reference year therefore runs from",
    "Relevés de chauffage dans le stockage sur les 365 derniers jours":
        "Heating readings in the store over the last 365 days",
    "jours": "days",
    "depuis le": "since",
    # The monthly report
    "Pas de rapport pour ce mois": "No report for this month",
    "et les chiffres sont arrêtés au": "and the figures run up to",
    "choisissez un mois de": "choose a month from",
    "à": "to",
    "Période du rapport": "Period of the report",
    "Le moteur pilote les bâtiments depuis le": "The engine has run the buildings since",
    # How to read the figures
    "Comment lire ces chiffres": "How to read these figures",
    "La référence": "The baseline",
    "Pour savoir ce qui a été économisé, il faut savoir ce qui aurait été consommé sans le "
    "pilotage. Pendant l'année qui a précédé le démarrage du moteur":
        "To know what was saved, one must know what would have been used without the "
        "engine. During the year before the engine started",
    "nous avons observé comment chaque bâtiment consommait selon le froid et selon le jour "
    ": jour d'ouverture, week-end, vacances, jour férié. Cette année d'observation donne la "
    "référence : la consommation attendue de chaque jour, sans le pilotage.":
        "we watched how each building used energy with the cold and with the day: open "
        "day, weekend, holidays, public holiday. This year of watching gives the baseline: "
        "the consumption expected each day, without the engine.",
    "Pourquoi tenir compte de la météo": "Why the weather is taken into account",
    "Un hiver doux fait baisser la facture sans le moindre effort, un hiver rude la fait "
    "monter. Comparer simplement cette année à l'an dernier mélangerait donc la météo et "
    "les économies. La référence est recalculée avec la météo réelle de chaque jour (les "
    "degrés-jours) et le calendrier réel : l'écart qui reste entre la référence et la "
    "mesure est dû au pilotage.":
        "A mild winter lowers the bill without any effort, a harsh one raises it. Simply "
        "comparing this year with last year would mix the weather and the savings. The "
        "baseline is computed again with each day's real weather (the degree-days) and the "
        "real calendar: the difference left between the baseline and the meter is due to "
        "the engine.",
    "L'incertitude": "The uncertainty",
    "La référence est un modèle : elle ne prévoit pas chaque jour exactement. « 12 400 kWh "
    "évités ± 1 900 kWh (90 % de confiance) » veut dire que l'économie réelle a 9 chances "
    "sur 10 d'être comprise entre 10 500 et 14 300 kWh. Quand l'incertitude est plus grande "
    "que l'économie, l'économie n'est pas démontrée : le chiffre est signalé.":
        "The baseline is a model: it does not predict each day exactly. \"12,400 kWh "
        "avoided ± 1,900 kWh (90 % confidence)\" means that the real saving has 9 chances "
        "in 10 of lying between 10,500 and 14,300 kWh. When the uncertainty is larger than "
        "the saving, the saving is not shown: the figure says so.",
    "La qualité de la référence": "The quality of the baseline",
    "Nous jugeons chaque économie selon l'ASHRAE Guideline 14, la règle qui fait autorité "
    "pour mesurer des économies d'énergie sur le compteur d'un bâtiment entier : "
    "l'économie est acceptée quand son incertitude, à 68 % de confiance, est inférieure à "
    "la moitié de l'économie ; sinon, le chiffre est indicatif. Le détail de chaque bâtiment "
    "donne, pour l'auditeur, le modèle et chaque critère avec son seuil et sa source.":
        "We judge each saving by ASHRAE Guideline 14, the standard rule for measuring "
        "energy savings on a whole building's meter: the saving is accepted when its "
        "uncertainty, at 68 % confidence, is less than half the saving; otherwise the "
        "figure is an indication. Each building's details give the auditor the model and "
        "each criterion with its threshold and source.",
    "Les euros et le CO2": "Euros and CO2",
    "Les kWh évités sont convertis en euros et en CO2e aux tarifs et facteurs d'émission "
    "suivants ; pour le chauffage, les kWh de chaleur comptés par le compteur sont ramenés "
    "à l'énergie achetée par le rendement de la chaudière.":
        "The avoided kWh are turned into euros and CO2e at the following prices and "
        "emission factors; for heating, the kWh of heat the meter counts are turned into "
        "the energy bought through the boiler's efficiency.",
    "Rendement du chauffage": "Heating efficiency",
    "électricité": "electricity",
    "gaz": "gas",
    "réseau de chaleur": "heat network",
    "fioul": "fuel oil",
    "bois": "wood",
    "La méthode": "The method",
    "Protocole international IPMVP, option C (compteur du bâtiment entier), avec le modèle "
    "journalier de CalTRACK : consommation du jour = une part fixe selon le type de jour + "
    "une part proportionnelle aux degrés-jours au-dessous de la température où le bâtiment "
    "commence à chauffer. L'éclairage public est comparé à son ancien fonctionnement : "
    "allumé du coucher au lever du soleil, à pleine puissance.":
        "The international IPMVP protocol, option C (whole-building meter), with "
        "CalTRACK's daily model: a day's consumption = a fixed part by type of day + a part "
        "in proportion to the degree-days below the temperature at which the building "
        "starts heating. Public lighting is compared with its former operation: lit from "
        "sunset to sunrise, at full power.",
}
"""English of this blueprint's own texts (the shared ones are in web.i18n)."""

DAY_TYPES = {"school": "jour ouvert", "holiday": "jour férié ou de vacances",
             "closed": "jour fermé (week-end, fermeture)", "event": "jour d'événement"}
"""The baseline's day types (``gtb.savings.baseline.DAY_TYPES``) as an elected official says
them."""
ENERGIES = {"electricity": "électricité", "gas": "gaz", "heat_network": "réseau de chaleur",
            "fuel_oil": "fioul", "wood": "bois"}


# -- what the pages show ---------------------------------------------------------------------


@dataclass(frozen=True)
class BuildingView:
    """One building: its heating meters' figures since the engine took over (``meters``,
    ``total``) and over the month (``month``), the meters left out and why, its monthly
    bars."""

    building: Building
    meters: list[BuildingSavings]
    excluded: list[Excluded]
    total: Figure | None
    month: Figure | None
    bars: list[MonthTotal]

    @property
    def subject_to_decree(self) -> bool:
        return subject_to_decree(self.building)


@dataclass(frozen=True)
class SiteView:
    """Everything the savings pages show of the site, over the period since the engine
    took over (``result``, the décret tertiaire's path included) and over one month of it
    (``month_start`` to ``month_end``), with each period's headlines."""

    result: SiteSavings
    month_start: date
    month_end: date
    buildings: list[BuildingView]
    month_cabinets: tuple[CabinetSavings, ...]
    total: Figure
    month: Figure
    bars: list[MonthTotal]
    total_headlines: Headlines
    month_headlines: Headlines

    def building(self, building_id: str) -> BuildingView:
        return next(b for b in self.buildings if b.building.id == building_id)


@dataclass(frozen=True)
class NoFigures:
    """Why there are no figures yet, and what is needed."""

    engine: date | None
    baseline: tuple[date, date] | None
    reasons: list[tuple[str, str]]
    """(French, English) of each meter's or the whole computation's refusal."""
    history_days: int
    history_since: date | None


def _site_view(p: Panel, result: SiteSavings, first: date, last: date) -> SiteView:
    """The figures of ``gtb.savings`` arranged as the pages show them: the commune, then
    each building, since the engine took over and over the month ``first`` to ``last``."""
    whole, month = result.span, month_savings(p.store, p.site, result, first, last)
    buildings = [BuildingView(b, [m for m in result.buildings if m.building == b.id],
                              [e for e in result.excluded if e.building == b.id],
                              whole.building(b.id), month.building(b.id), whole.months(b.id))
                 for b in p.site.buildings]
    return SiteView(result, first, last, buildings, month.cabinets, whole.total, month.total,
                    whole.months(),
                    span_headlines(p.store, p.site, whole, result.confidence),
                    span_headlines(p.store, p.site, month, result.confidence))


# -- computing once a day --------------------------------------------------------------------

_T = TypeVar("_T")


class SavingsCache:
    """Figures kept for one key, (local day, store revision): a new day or a change in the
    history they rest on starts afresh. Two requests at once may both compute; the
    figures are the same."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Hashable = None
        self._values: dict[Hashable, Any] = {}

    def get(self, key: Hashable, part: Hashable, compute: Callable[[], _T]) -> _T:
        with self._lock:
            if key != self._key:
                self._key, self._values = key, {}
            if part in self._values:
                found: _T = self._values[part]
                return found
        value = compute()
        with self._lock:
            if key == self._key:
                self._values[part] = value
        return value


@bp.record_once
def _cache(state: BlueprintSetupState) -> None:
    state.app.extensions["gtb_savings"] = SavingsCache()


def _history_points(p: Panel) -> list[str]:
    """The points the figures read: heating meters, outdoor temperatures, and each
    cabinet's meter (else its relay)."""
    keys = [key for b in p.site.buildings for key in heating_meters(p.site, b)]
    keys += [ref.key for ref in p.site.points() if ref.role is Role.OUTDOOR_TEMPERATURE]
    for cabinet in p.site.cabinets:
        roles = {point.role: f"{cabinet.id}.{point.id}" for point in cabinet.points}
        key = roles.get(Role.ENERGY_METER, roles.get(Role.CABINET_RELAY))
        if key is not None:
            keys.append(key)
    return keys


def _revision(p: Panel, today: date) -> Hashable:
    """What the figures up to yesterday rest on: the raw samples and hourly rollups of their
    points before today (counted: a few milliseconds), the agenda (day types) and the
    day. A late or replayed reading adds a sample; retention drops some, once a day."""
    midnight = datetime.combine(today, time(), p.site.tz)
    epoch = datetime(1970, 1, 2, tzinfo=UTC)
    counts = [(p.store.rollups.count(key, epoch, midnight),
               p.store.samples.count(key, epoch, midnight)) for key in _history_points(p)]
    return today, p.store.agenda.revision(), tuple(counts)


@dataclass(frozen=True)
class Period:
    """The reporting period, from the day the engine took over to yesterday."""

    today: date
    engine: date | None
    revision: Hashable

    @property
    def end(self) -> date:
        return self.today - timedelta(days=1)


def _period(p: Panel) -> Period:
    today = p.local(p.now()).date()
    return Period(today, engine_start(p.store, p.site.tz), _revision(p, today))


def _figures(p: Panel, period: Period, month: date, end: date | None = None
             ) -> SiteView | NoFigures:
    """The site's figures since the engine took over up to ``end`` (by default the period's
    end: yesterday), and over ``month`` (its days within them), or why there are none."""
    cache: SavingsCache = current_app.extensions["gtb_savings"]
    if period.engine is None:
        return _no_figures(p, period, [])
    if period.end < period.engine:
        return _no_figures(p, period, [(
            "Le moteur a pris la main aujourd'hui : les premiers chiffres paraîtront demain.",
            "The engine took over today: the first figures will show tomorrow.")])
    engine, last_day = period.engine, min(end or period.end, period.end)

    def compute() -> SiteSavings | SavingsError:
        try:
            return site_savings(p.store, p.site, engine, last_day)
        except SavingsError as exc:
            return exc

    result = cache.get(period.revision, ("site", engine, last_day), compute)
    if isinstance(result, SavingsError):
        return _no_figures(p, period, [(result.fr, str(result))])
    if not result.buildings:
        return _no_figures(p, period, [(e.reason_fr, e.reason_en) for e in result.excluded])
    first, last = max(month, engine), min(month_end(month), last_day)
    return cache.get(period.revision, ("view", first, last, last_day),
                     lambda: _site_view(p, result, first, last))


def _no_figures(p: Panel, period: Period, reasons: list[tuple[str, str]]) -> NoFigures:
    """How much history the store has for the first heating meter, over the last year."""
    meters = [key for b in p.site.buildings for key in heating_meters(p.site, b)]
    days = (p.store.rollups.daily(meters[0], period.today - timedelta(days=BASELINE_DAYS),
                          period.end, p.site.tz) if meters else [])
    baseline = None if period.engine is None else baseline_before(period.engine)
    return NoFigures(period.engine, baseline, reasons, len(days),
                     days[0].day if days else None)


# -- pages -----------------------------------------------------------------------------------


def _context(site: Site, **values: Any) -> dict[str, Any]:
    """What every savings template needs besides its figures."""
    english = i18n.lang() == "en"

    def meter_name(key: str) -> str:
        return site.point(key).point.name or key

    def month_name(month: date) -> str:
        return f"{(MONTHS_EN if english else MONTHS_FR)[month.month - 1]} {month.year}"

    def month_short(month: date) -> str:
        return (MONTHS_EN_SHORT if english else MONTHS_FR_SHORT)[month.month - 1]

    def say(reason: Reason) -> str:
        return reason.text("en" if english else "fr")

    def said(code: str, **params: Any) -> str:
        return say(Reason.of(code, **params))

    return {"month_name": month_name, "month_short": month_short, "rounded": rounded,
            "say": say, "said": said, "story": _story,
            "day": lambda d: d.strftime("%d/%m/%Y"), "bar_chart": bar_chart,
            "trajectory_chart": _trajectory_chart,
            "day_types": DAY_TYPES, "energies": ENERGIES, "finite": math.isfinite, "upto": _upto,
            "meter_name": meter_name, "site": site,
            # French puts a space before a colon or a semicolon (non-breaking: the sign never
            # starts a line), English does not.
            "colon": ":" if english else "\u00a0:", "semicolon": ";" if english else "\u00a0;",
            **values}


def _story(headlines: Headlines, building: str | None = None) -> Reason | None:
    """A period's headline: the building's (None when it has no figures), else the
    commune's."""
    return headlines.commune if building is None else headlines.buildings.get(building)


def _upto(rows: Sequence[MonthTotal], month: date) -> list[MonthTotal]:
    """The report's bars: the twelve months up to its own."""
    return [row for row in rows if row.month <= month][-12:]


def _trajectory_chart(t: Trajectory) -> LineChart:
    """The décret tertiaire's steady path and the consumption, drawn."""
    return line_chart(t.target_line, t.actual_line)


@bp.route("/savings")
@role_required(UserRole.VIEWER)
def index() -> Any:
    p = panel()
    period = _period(p)
    figures = _figures(p, period, period.end.replace(day=1))
    return render_template("savings.html", **_context(p.site, figures=figures, period=period))


@bp.route("/savings/report")
@role_required(UserRole.VIEWER)
def report() -> Any:
    p = panel()
    period = _period(p)
    month = _month(request.args.get("month", ""), period)
    in_period = (period.engine is not None
                 and period.engine.replace(day=1) <= month <= period.end)
    # A month outside the period has nothing to compute: the page says which months have.
    # A report is fixed to its month: « since the engine took over » ends with it, so that
    # a reprint gives the same figures.
    figures = (_figures(p, period, month, month_end(month)) if in_period
               else _figures(p, period, period.end.replace(day=1)))
    return render_template("savings_report.html", **_context(
        p.site, figures=figures, period=period, month=month, in_period=in_period))


@bp.route("/savings/<building_id>")
@role_required(UserRole.VIEWER)
def building(building_id: str) -> Any:
    p = panel()
    found = p.building(building_id)
    period = _period(p)
    figures = _figures(p, period, period.end.replace(day=1))
    view = figures.building(found.id) if isinstance(figures, SiteView) else None
    return render_template("savings_building.html", **_context(
        p.site, figures=figures, period=period, building=found, view=view))


def _month(text: str, period: Period) -> date:
    """The report's month, ``YYYY-MM``; by default the last complete one (the current one
    when the engine took over this month)."""
    if not text:
        complete = period.today.replace(day=1) - timedelta(days=1)
        current = period.end.replace(day=1)
        if period.engine is not None and complete < period.engine:
            return current
        return complete.replace(day=1)
    try:
        month = datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError:
        raise ActionError(f"« {text} » n'est pas un mois (AAAA-MM, par exemple 2026-01).",
                          f"'{text}' is not a month (YYYY-MM, for example 2026-01).") from None
    return month
