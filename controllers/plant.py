"""Whether a building's plant (its boiler or heat pump) should be enabled, and why.

An enabled boiler that no zone draws from still loses heat through its casing and flue
(its standby losses, a percent or two of its rated output, docs/heating.md): it should be
off when no zone needs heat, and on as soon as one does. A zone needs heat when:

- it is at comfort or reduced and below its setpoint plus ``DEMAND_MARGIN_K`` (its
  thermostat is, or soon will be, drawing heat to hold it); once the plant is on, it
  stays on until every such zone is ``RELEASE_MARGIN_K`` above its setpoint, so that a
  zone hovering at its threshold does not cycle the plant;
- at any level, it is within ``FROST_MARGIN_K`` of its frost floor (what frost
  protection holds it at: its frost-protection level, 8 °C by default, never below the
  safety floor; ``FROST_RELEASE_MARGIN_K`` once on), or its temperature is unknown (a
  failed sensor could hide a zone freezing): frost protection, which nothing holds back,
  neither a minimum off time nor a person's order.

Pure: the zones' levels, setpoints, temperatures and floors in, a decision out. Its
reasons name the zone that asks, not its temperature of the moment: a command is logged
when what its reason says changes, not at every tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gtb.model import Site, Zone
from gtb.model.points import HeatingLevel
from gtb.texts import Reason

DEMAND_MARGIN_K = 0.5
"""A zone at comfort or reduced below its setpoint plus this needs heat: a zone at its
setpoint still draws heat to stay there."""
RELEASE_MARGIN_K = 1.0
"""An enabled plant goes off only when every zone at comfort or reduced is this far above
its setpoint (the sun, the occupants, a warm day): no heat drawn for a while."""
FROST_MARGIN_K = 2.0
"""A zone within this of its frost floor needs the plant at once, whatever its level: the
plant takes some minutes to deliver heat, and the floor must hold."""
FROST_RELEASE_MARGIN_K = 3.0
"""Kept on for frost protection, the plant is released once every zone is this far above
its floor (unless it needs heat otherwise)."""


@dataclass(frozen=True)
class ZoneNeed:
    """What the plant decision needs of one zone of the building."""

    zone: str
    """The zone's name, for the reason."""
    level: HeatingLevel
    setpoint: float | None
    """°C, the one written (None: the zone has no setpoint point)."""
    temperature: float | None
    """°C, the last good reading (None: unknown)."""
    frost_floor: float
    """°C, what frost protection holds the zone at: its frost-protection level, never
    below the site's safety floor."""


@dataclass(frozen=True)
class PlantDecision:
    on: bool
    frost: bool
    """Frost protection asks for the plant: nothing may hold it off."""
    reason: Reason


def plant_decision(zones: Sequence[ZoneNeed], was_on: bool) -> PlantDecision:
    """The plant's state from its zones; ``was_on`` is its state now (the hysteresis)."""
    frost_margin = FROST_RELEASE_MARGIN_K if was_on else FROST_MARGIN_K
    for zone in zones:
        if zone.temperature is None:
            return PlantDecision(True, True, Reason.of("plant.unknown", zone=zone.zone))
        if zone.temperature < zone.frost_floor + frost_margin:
            return PlantDecision(True, True, Reason.of("plant.frost", zone=zone.zone,
                                                       floor=zone.frost_floor))
    margin = RELEASE_MARGIN_K if was_on else DEMAND_MARGIN_K
    for zone in zones:
        assert zone.temperature is not None
        if (zone.level in (HeatingLevel.COMFORT, HeatingLevel.REDUCED)
                and zone.setpoint is not None
                and zone.temperature < zone.setpoint + margin):
            return PlantDecision(True, False, Reason.of(
                "plant.heat", zone=zone.zone, level=zone.level.label, setpoint=zone.setpoint))
    return PlantDecision(False, False, Reason.of("plant.idle"))


def frost_floor(site: Site, zone: Zone) -> float:
    """What frost protection holds a zone at: its frost-protection level, never below the
    site's (or zone's) safety floor."""
    return max(site.comfort_of(zone).frost_protection, site.bounds_of(zone).frost_floor)
