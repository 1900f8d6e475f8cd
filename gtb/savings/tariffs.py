"""What a kWh costs a commune and what it emits: the rates that turn avoided kWh into euros
and kilograms of CO2e (docs/savings.md, "Tariffs and emission factors").

A rate is per kWh of *final energy as bought*: electricity as metered, gas in kWh PCS (as
billed), fuel oil and wood in kWh PCI. A ``heating`` meter counts heat delivered to the
emitters, not energy bought: its kWh are turned into the energy bought through the
building's heat supply (a gas boiler of seasonal efficiency 0.85 by default, a heat pump
of seasonal COP 3, a heat network at 1.0). Meter kinds map to energies as ``rate`` says.

The French defaults below are sourced, and dated; prices move every month, so a commune
should put its own contract's prices in a tariffs file (``load_tariffs``, YAML):

    # tariffs.yaml: € TTC and kg CO2e per kWh of final energy as bought
    energies:
      electricity: {eur_per_kwh: 0.21, kg_co2e_per_kwh: 0.055}
      gas: {eur_per_kwh: 0.095}            # keys left out keep their default
    heating: {energy: gas, efficiency: 0.85}   # the site's usual heat supply
    buildings:                                  # buildings heated otherwise
      mediatheque: {energy: electricity, efficiency: 3.0}   # heat pump, seasonal COP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML, YAMLError

Energy = Literal["electricity", "gas", "heat_network", "fuel_oil", "wood"]
ENERGIES: tuple[Energy, ...] = ("electricity", "gas", "heat_network", "fuel_oil", "wood")


@dataclass(frozen=True)
class Rate:
    """Euros (TTC) and kg CO2e of one kWh."""

    eur_per_kwh: float
    kg_co2e_per_kwh: float

    def scaled(self, factor: float) -> Rate:
        return Rate(self.eur_per_kwh * factor, self.kg_co2e_per_kwh * factor)


@dataclass(frozen=True)
class HeatSupply:
    """Where a building's heat comes from: ``efficiency`` kWh of heat per kWh bought
    (seasonal efficiency of a boiler, seasonal COP of a heat pump)."""

    energy: Energy = "gas"
    efficiency: float = 0.85


NO_RATE = Rate(0.0, 0.0)
"""Water meters and anything else that is not energy."""

DEFAULT_RATES: dict[Energy, Rate] = {
    # Price: CRE's proposal for the regulated tariff (TRVE) from 1 February 2025, 239 €/MWh
    # TTC on average (BFM TV, 16 January 2025); small communes (fewer than 10 agents and
    # 2 M€ of revenue) may still have it, the others buy on the market (verify the
    # contract). CO2e: ADEME Base Carbone "mix de consommation - moyen", the factor the
    # Base Carbone asks for in greenhouse-gas reports (not the per-use factors): 55 g in
    # 2021 as reported by adimas.paris, 73 g in 2022 (verify the current year's value).
    "electricity": Rate(0.239, 0.055),
    # Price: CRE's "prix repère" of gas for heating (6-300 MWh/year), 0.1033 €/kWh TTC
    # in October 2025, 0.102 in December 2025 (winter-energies.fr, moneyvox.fr), per kWh
    # PCS as billed. CO2e: 0.227 kg/kWh PCI (ADEME Base Carbone, DPE of 31 March 2021;
    # CGDD "Les facteurs d'émission de gaz à effet de serre"), times PCI/PCS = 0.901.
    "gas": Rate(0.103, 0.205),
    # Heat networks differ one from another: 116 g/kWh was the 2017 average (CGDD page
    # above); take the network's own figure (arrêté DPE, annexe on heat networks).
    # Price: no national reference found (verify with the network's operator).
    "heat_network": Rate(0.10, 0.116),
    # CO2e: 0.324 kg/kWh PCI (Base Carbone, DPE 2021, CGDD). Price: about 1.10 € per litre
    # of about 10 kWh (verify).
    "fuel_oil": Rate(0.11, 0.324),
    # CO2e: 0.030 kg/kWh for logs and pellets (DPE 2021, CGDD). Price (verify).
    "wood": Rate(0.08, 0.030),
}

DEFAULT_SOURCES: dict[str, str] = {
    "electricity": "prix : CRE, TRVE au 1er février 2025 (239 €/MWh TTC, à vérifier selon le "
                   "contrat) ; CO2e : ADEME Base Carbone, mix moyen de consommation "
                   "(55 g/kWh en 2021, à vérifier pour l'année)",
    "gas": "prix : CRE, prix repère chauffage, octobre 2025 (0,1033 €/kWh PCS TTC) ; CO2e : "
           "ADEME Base Carbone / DPE 2021, 0,227 kg/kWh PCI soit 0,205 kg/kWh PCS",
    "heat_network": "CO2e : moyenne 2017 des réseaux de chaleur (CGDD), à remplacer par celle "
                    "du réseau ; prix à vérifier",
    "fuel_oil": "CO2e : ADEME Base Carbone / DPE 2021 (0,324 kg/kWh PCI) ; prix à vérifier",
    "wood": "CO2e : DPE 2021 (0,030 kg/kWh) ; prix à vérifier",
}


@dataclass(frozen=True)
class Tariffs:
    """Rates per energy, and the heat supply of the site and of particular buildings."""

    energies: Mapping[Energy, Rate] = field(default_factory=lambda: dict(DEFAULT_RATES))
    heating: HeatSupply = HeatSupply()
    buildings: Mapping[str, HeatSupply] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SOURCES))

    def supply(self, building: str | None) -> HeatSupply:
        return self.buildings.get(building or "", self.heating)

    def energy(self, meter_kind: str, building: str | None = None) -> Energy | None:
        """The energy bought for what a meter of this kind counts (None: not energy)."""
        if meter_kind in ("electricity", "lighting"):
            return "electricity"
        if meter_kind == "gas":
            return "gas"
        if meter_kind == "heating":
            return self.supply(building).energy
        return None

    def rate(self, meter_kind: str, building: str | None = None) -> Rate:
        """The rate of one kWh counted by a meter of this kind in this building."""
        if meter_kind in ("electricity", "lighting"):
            return self.energies["electricity"]
        if meter_kind == "gas":
            return self.energies["gas"]
        if meter_kind == "heating":
            supply = self.supply(building)
            return self.energies[supply.energy].scaled(1.0 / supply.efficiency)
        return NO_RATE

    def as_dict(self) -> dict[str, Any]:
        return {
            "energies": {name: {"eur_per_kwh": rate.eur_per_kwh,
                                "kg_co2e_per_kwh": rate.kg_co2e_per_kwh}
                         for name, rate in self.energies.items()},
            "heating": {"energy": self.heating.energy, "efficiency": self.heating.efficiency},
            "buildings": {b: {"energy": s.energy, "efficiency": s.efficiency}
                          for b, s in self.buildings.items()},
            "sources": dict(self.sources),
        }


DEFAULT_TARIFFS = Tariffs()


class TariffsError(ValueError):
    """A tariffs file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _RateFile(_Strict):
    eur_per_kwh: float | None = Field(default=None, ge=0, le=10)
    kg_co2e_per_kwh: float | None = Field(default=None, ge=0, le=5)
    source: str | None = None


class _SupplyFile(_Strict):
    energy: Energy
    efficiency: float = Field(gt=0, le=8, description="seasonal efficiency or COP")


class _TariffsFile(_Strict):
    energies: dict[Energy, _RateFile] = {}
    heating: _SupplyFile | None = None
    buildings: dict[str, _SupplyFile] = {}


def load_tariffs(path: str | Path, base: Tariffs = DEFAULT_TARIFFS) -> Tariffs:
    """Read a tariffs file (YAML, see the module docstring); what it leaves out keeps the
    values of ``base``."""
    path = Path(path)
    try:
        data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TariffsError(f"{path}: cannot read the tariffs file: {exc}") from None
    except YAMLError as exc:
        raise TariffsError(f"{path}: not valid YAML: {exc}") from None
    try:
        parsed = _TariffsFile.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}"
            for e in exc.errors(include_url=False))
        raise TariffsError(f"{path}: {problems}") from None
    energies = dict(base.energies)
    sources = dict(base.sources)
    for name, given in parsed.energies.items():
        old = energies[name]
        energies[name] = Rate(
            old.eur_per_kwh if given.eur_per_kwh is None else given.eur_per_kwh,
            old.kg_co2e_per_kwh if given.kg_co2e_per_kwh is None else given.kg_co2e_per_kwh)
        sources[name] = given.source or f"{path.name} (fichier de tarifs de la commune)"
    heating = base.heating if parsed.heating is None else HeatSupply(
        parsed.heating.energy, parsed.heating.efficiency)
    buildings = {**base.buildings, **{
        b: HeatSupply(s.energy, s.efficiency) for b, s in parsed.buildings.items()}}
    return Tariffs(energies, heating, buildings, sources)
