"""What the commands show on a terminal: the engine's zones and outputs, the savings and
the path to the décret tertiaire's target."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table

from gtb.cli.common import console
from gtb.engine import Engine
from gtb.i18n import number_fr, short_day
from gtb.model import Site
from gtb.store import Store
from gtb.store.status import OutputStatus, ZoneStatus
from gtb.texts import Reason

if TYPE_CHECKING:
    from gtb.savings.headline import Headlines
    from gtb.savings.site import SiteSavings
    from gtb.savings.trajectory import SiteTrajectory, Trajectory


def status_view(engine: Engine, store: Store) -> Group:
    """The zones, then the lighting cabinets and scheduled outputs, as of the last tick."""
    return status_tables(engine.site, engine.clock.now(), engine.zones(), engine.outputs(),
                         len(store.alarms.active()))


def status_tables(site: Site, now: datetime, zones: Iterable[ZoneStatus],
                  outputs: Iterable[OutputStatus], alarms: int) -> Group:
    """The zones, then the lighting cabinets and scheduled outputs, in French: what the
    panel's overview says, with its decimal comma."""
    table = Table(title="Éclairage public et équipements programmés")
    for column in ("", "état", "pourquoi"):
        table.add_column(column)
    for output in outputs:
        if output.kind == "circuit":
            continue
        on, off = ("allumé", "éteint") if output.kind == "cabinet" else ("en marche", "arrêt")
        state = on if output.on else off
        if output.on and output.level is not None and output.level < 100:
            state += f" {number_fr(output.level, 0)} %"
        table.add_row(output.name, state, output.reason.fr)
    return Group(zone_table(site, now, zones, alarms), table)


def zone_table(site: Site, now: datetime, zones: Iterable[ZoneStatus], alarms: int) -> Table:
    """The zones as the engine last saw them: temperature, mode (« dérogation » while an
    override holds), setpoint and why."""
    local = now.astimezone(site.tz)
    table = Table(title=f"{site.name} — {short_day(local)} {local:%d/%m/%Y %H:%M} — "
                        f"{alarms} alarme{'s' if alarms != 1 else ''}")
    for column in ("zone", "temp. °C", "mode", "consigne °C", "pourquoi"):
        table.add_column(column)
    buildings = {b.id: b.name for b in site.buildings}
    for zone in zones:
        shown = "—" if zone.temperature is None else number_fr(zone.temperature)
        if zone.quality != "ok":
            shown += f" ({Reason.of(f'quality.{zone.quality}').fr})"
        setpoint = "—" if zone.setpoint is None else number_fr(zone.setpoint)
        table.add_row(f"{buildings[zone.building]} / {zone.name}", shown, zone.mode_label.fr,
                      setpoint, zone.reason.fr)
    return table


def print_savings(result: SiteSavings, headlines: Headlines) -> None:
    """The commune's headline, then a table per heating meter (its building's headline,
    ASHRAE Guideline 14's criteria named) and one for the lighting cabinets, in French;
    the total with how its uncertainty was summed; the path to the décret tertiaire's
    target."""
    def kwh(value: float) -> str:
        return f"{number_fr(value, 0)} kWh"

    def share(value: float | None) -> str:
        """A fraction as a percentage, never « −0,0 % »."""
        return "—" if value is None else f"{number_fr(round(100 * value, 1) + 0.0)} %"

    pct = f"{100 * result.confidence:.0f} %"
    console.print(f"Économies du {result.start:%d/%m/%Y} au {result.end:%d/%m/%Y}, référence du "
                  f"{result.baseline_period[0]:%d/%m/%Y} au {result.baseline_period[1]:%d/%m/%Y}",
                  style="bold", highlight=False)
    console.print(headlines.commune.fr, highlight=False)
    for b in result.buildings:
        s, m = b.savings, b.baseline
        table = Table(title=f"{b.name} — {b.meter}", show_header=False, title_justify="left")
        table.add_column("", no_wrap=True)
        table.add_column("", justify="right", no_wrap=True)
        balance = "sans" if m.balance_c is None else f"{number_fr(m.balance_c)} °C"
        rows = [
            ("mesuré", kwh(s.actual_kwh)),
            ("référence, même météo et calendrier", kwh(s.baseline_kwh)),
            ("évité", f"{kwh(s.avoided_kwh)} ({number_fr(100 * s.fraction)} %)"),
            (f"incertitude à {pct}", f"± {kwh(s.uncertainty_kwh)}"),
            ("euros évités", f"{number_fr(s.avoided_eur, 0)} €"),
            ("CO2e évité", f"{number_fr(s.avoided_co2_kg, 0)} kg"),
            ("DJU de la période", number_fr(s.hdd, 0)),
            ("température d'équilibre", balance),
            ("pente de chauffage, p-valeur (CalTRACK : < 0,1)",
             "—" if m.slope_p_value is None else "< 0,001" if m.slope_p_value < 0.001
             else number_fr(m.slope_p_value, 3)),
            ("R²", number_fr(m.r2, 2)),
        ]
        for label, value in rows:
            table.add_row(label, value)
        console.print(table)
        for criterion in b.criteria:
            console.print(f"{Reason.of(f'savings.criterion.{criterion.code}').fr} : "
                          f"{share(criterion.value)}, {'oui' if criterion.met else 'non'}",
                          highlight=False)
        if b.building in headlines.buildings:
            console.print(headlines.buildings[b.building].fr, highlight=False)
        console.print(b.explanation_fr, highlight=False)
        for loss in b.losses:
            console.print(f"[yellow]{loss.explanation_fr}[/yellow]", highlight=False)
    if result.cabinets:
        table = Table(title="Éclairage public, contre l'ancien horaire (du coucher au lever du "
                            "soleil, pleine puissance)", title_justify="left")
        for column in ("armoire", "mesure", "ancien horaire", "mesuré", f"évité (± à {pct})",
                       "€", "kg CO2e"):
            table.add_column(column, justify="left" if column in ("armoire", "mesure")
                             else "right")
        for c in result.cabinets:
            table.add_row(c.cabinet, "compteur" if c.source == "meter" else "relais",
                          kwh(c.former_kwh), kwh(c.metered_kwh),
                          f"{number_fr(c.avoided_kwh, 0)} ± {kwh(c.uncertainty_kwh)}",
                          number_fr(c.avoided_eur, 0),
                          number_fr(c.avoided_co2_kg, 0))
        console.print(table)
        console.print(Reason.of("savings.lighting_uncertainty").fr, highlight=False)
    console.print(f"Total : {kwh(result.avoided_kwh)} évités ± {kwh(result.uncertainty_kwh)} "
                  f"({pct}), {number_fr(result.avoided_eur, 0)} €, "
                  f"{number_fr(result.avoided_co2_kg, 0)} kg de CO2e.", style="bold",
                  highlight=False)
    console.print(Reason.of("savings.sum").fr, highlight=False)
    if result.trajectory is not None:
        print_trajectory(result.trajectory)


def print_trajectory(decree: SiteTrajectory) -> None:
    """Where the commune and each building the décret tertiaire binds stand against its 2030
    target, in the words and figures of the panel's savings page, then what it covers."""
    from gtb.savings.trajectory import DECREE_AREA_M2, GOAL_YEAR, TARGETS

    def pct(value: float) -> str:
        """A whole percentage, never « −0 % »."""
        return f"{number_fr(0.0 if round(value) == 0 else value, 0)} %"

    targets = [f"−{cut} % en {year}" for year, cut in TARGETS]
    rows: tuple[tuple[str, Callable[[Trajectory], str]], ...] = (
        ("période", lambda t: f"{t.window[0]:%d/%m/%Y} – {t.window[1]:%d/%m/%Y}"),
        ("consommation",
         lambda t: f"{pct(abs(t.reduction))} {'de moins' if t.reduction >= 0 else 'de plus'}"),
        ("il faudrait en être à", lambda t: f"−{pct(t.needed)}"),
        ("situation", lambda t: f"objectif de {GOAL_YEAR} atteint" if t.reached else
         f"en {'avance' if t.ahead else 'retard'} sur ce chemin"),
        (f"d'ici {GOAL_YEAR}", lambda t: f"à tenir, puis {targets[1]}" if t.reached else
         f"{number_fr(t.remaining, 0)} points à gagner"),
    )
    first, last = decree.commune.reference
    table = Table(title=f"Trajectoire du décret tertiaire, sur un chemin régulier vers "
                        f"{targets[0]} : le chauffage à météo égale, par rapport à l'année "
                        f"de référence (du {first:%d/%m/%Y} au {last:%d/%m/%Y})",
                  title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("La commune")
    for b in decree.buildings:
        table.add_column(f"{b.name}\n{number_fr(b.floor_area_m2, 0)} m²")
    paths = [decree.commune, *(b.trajectory for b in decree.buildings)]
    for label, cell in rows:
        table.add_row(label, *map(cell, paths))
    console.print(table)
    subject = ", ".join(b.name for b in decree.buildings) or "aucun ici"
    console.print(f"Le décret tertiaire demande {', '.join(targets[:-1])} et {targets[-1]} par "
                  "rapport à une année de référence, et s'impose aux bâtiments de "
                  f"{number_fr(DECREE_AREA_M2, 0)} m² et plus ({subject}) ; pour les autres, il "
                  "sert de repère. Ce repère porte sur le chauffage que suit le moteur ; la "
                  "déclaration annuelle sur OPERAT compte toutes les énergies du bâtiment.",
                  highlight=False)
