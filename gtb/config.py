"""Site file (YAML) -> ``gtb.model.Site``, with every error located in the file.

``gtb.site_yaml`` reads the file into a tree, within limits (a regular file of at most
5 MB, UTF-8, at most 32 levels deep), with ruamel.yaml (YAML 1.2): unlike PyYAML it
keeps ``18:45`` and ``off`` as text. pydantic checks each field; the cross-checks below
(duplicate ids, two points on one register, a zone without a temperature...) run on the
raw tree as well, so that one run reports every error at once, each as
``FILE:LINE: path.to.field: message``.

A valid file is read once by ruamel's libyaml-based safe loader, several times faster than
its round-trip loader on a syndicate's thousands of points; only a file with errors has
its events read again, for the line of each error (at an alias, the line using it).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gtb.model import ComfortLevels, SafetyBounds, Site
from gtb.model.calendar import LIGHTING_KINDS
from gtb.model.learning import LearningSettings, LearningTuning
from gtb.model.lorawan import WT101_COMMAND
from gtb.model.points import (
    BUILDING_ROLES,
    CABINET_ROLES,
    EQUIPMENT_ROLES,
    REGISTER_WIDTH,
    ZONE_ROLES,
    Role,
)
from gtb.site_yaml import (
    Loc,
    Place,
    SiteError,
    SiteFileError,
    load_tree,
    read_text,
    value_lines,
)

__all__ = ["SiteError", "SiteFileError", "cross_check", "load_site", "parse_site",
           "point_lines"]

_MAX_MESSAGE = 300
"""A message longer than this is cut: a validator may quote a value of megabytes."""


def load_site(path: str | Path) -> Site:
    """Read and validate a site file; raise ``SiteFileError`` listing every problem."""
    path = Path(path)
    return parse_site(read_text(path), str(path))


def parse_site(text: str, name: str = "<site>") -> Site:
    """Validate site-file text; ``name`` is used in error messages."""
    tree = load_tree(text, name)
    if not isinstance(tree, Mapping):
        found = "empty" if tree is None else f"a {_kind(tree)}"
        raise SiteFileError([SiteError(name, 1, "", f"the file is {found}: a site file is a "
                                       "mapping of keys (id:, name:, buildings:…)")])

    located: list[tuple[Loc, str]] = []
    site: Site | None = None
    try:
        site = Site.model_validate(tree)
    except ValidationError as exc:
        located.extend(_pydantic_errors(exc, tree))
    located.extend(cross_check(tree))
    if located:
        places = value_lines(text, [loc for loc, _ in located])
        errors = [_locate(name, tree, places, loc, message) for loc, message in located]
        errors = sorted(set(errors), key=lambda e: (e.line, e.path, e.message))
        raise SiteFileError(errors)
    assert site is not None
    return site


def point_lines(path: str | Path) -> dict[str, int]:
    """The line of every point of a valid site file, by its key (``building.zone.point``,
    as ``Site.points`` names it): where a person fixes what the devices contradict."""
    text = read_text(Path(path))
    tree = load_tree(text, str(path))
    keys: dict[Loc, str] = {}

    def add(prefix: str, container: Any, loc: Loc) -> None:
        for index, point in _items(container.get("points")):
            keys[(*loc, "points", index)] = f"{prefix}.{point.get('id')}"

    for b, building in _items(tree.get("buildings")):
        add(str(building.get("id")), building, ("buildings", b))
        for z, zone in _items(building.get("zones")):
            add(f"{building.get('id')}.{zone.get('id')}", zone, ("buildings", b, "zones", z))
    for group in ("cabinets", "equipment"):
        for i, item in _items(tree.get(group)):
            add(str(item.get("id")), item, (group, i))
    places = value_lines(text, keys)
    return {key: places[loc].line for loc, key in keys.items() if loc in places}


def _kind(node: object) -> str:
    return "list" if isinstance(node, list) else f"single value ({type(node).__name__})"


# --- turning locations into lines and readable paths --------------------------------------


def _pydantic_errors(exc: ValidationError, tree: Any) -> Iterator[tuple[Loc, str]]:
    errors = exc.errors(include_url=False)
    inner = {tuple(error["loc"])[:n] for error in errors for n in range(len(error["loc"]))}
    for error in errors:
        if error["type"] == "too_short" and tuple(error["loc"]) in inner:
            continue  # "at least 1 item after validation, not 0": its items are wrong
        loc = _without_union_tags(tree, tuple(error["loc"]))
        kind = error["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "required key is missing"
        else:
            message = error["msg"].removeprefix("Value error, ")
        if len(message) > _MAX_MESSAGE:
            message = f"{message[:_MAX_MESSAGE]}… ({len(message):,} characters)"
        yield loc, message


def _without_union_tags(tree: Any, loc: Loc) -> Loc:
    """pydantic puts the discriminator value (``bacnet``) in the path; the file has none."""
    node, kept = tree, []
    for part in loc:
        if isinstance(node, Mapping) and isinstance(part, str) and part not in node and (
            node.get("protocol") == part
        ):
            continue
        kept.append(part)
        node = _child(node, part)
    return tuple(kept)


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, Mapping) and part in node:
        return node[part]
    if isinstance(node, Sequence) and not isinstance(node, str) and isinstance(part, int):
        return node[part] if 0 <= part < len(node) else None
    return None


def _locate(
    name: str, tree: Any, places: Mapping[Loc, Place], loc: Loc, message: str
) -> SiteError:
    """The line of the deepest part of ``loc`` present in the file, and a readable path."""
    place, node, words = Place(1), tree, []
    for depth, part in enumerate(loc, 1):
        place = places.get(loc[:depth], place)
        child = _child(node, part)
        if isinstance(part, int):
            label = child.get("id") if isinstance(child, Mapping) else None
            words.append(f"[{label}]" if isinstance(label, str) else f"[{part}]")
        else:
            words.append(f".{part}" if words else str(part))
        node = child
    if place.anchor_line is not None:
        message = f"{message} (through the alias on this line; its anchor is on line " \
                  f"{place.anchor_line})"
    return SiteError(name, place.line, "".join(words), message)


# --- cross-checks on the raw tree ---------------------------------------------------------


def cross_check(tree: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """Checks across fields: ids, registers, roles, comfort order, a zone's learning
    settings over the site's. Tolerates bad entries."""
    seen_containers: dict[str, Loc] = {}
    points: list[tuple[Loc, Mapping[str, Any]]] = []
    site_comfort = _mapping(tree.get("comfort"))
    site_bounds = _mapping(tree.get("bounds"))
    site_learning = _valid_learning(tree.get("learning", {}))

    for b, building in _items(tree.get("buildings")):
        loc: Loc = ("buildings", b)
        yield from _unique_id(building, loc, seen_containers, "building, cabinet or equipment")
        yield from _container_points(building, loc, BUILDING_ROLES, "a building", points)
        zone_ids: dict[str, Loc] = {}
        for z, zone in _items(building.get("zones")):
            zloc: Loc = (*loc, "zones", z)
            yield from _unique_id(zone, zloc, zone_ids, "zone")
            yield from _container_points(zone, zloc, ZONE_ROLES, "a zone", points)
            yield from _exactly_one(zone, zloc, Role.ZONE_TEMPERATURE, "zone")
            yield from _comfort_order(zone, zloc, site_comfort, site_bounds)
            yield from _learning_over_site(zone, zloc, site_learning)
    for c, cabinet in _items(tree.get("cabinets")):
        loc = ("cabinets", c)
        yield from _unique_id(cabinet, loc, seen_containers, "building, cabinet or equipment")
        yield from _container_points(cabinet, loc, CABINET_ROLES, "a cabinet", points)
        yield from _exactly_one(cabinet, loc, Role.CABINET_RELAY, "cabinet")
        roles = {_text(point, "role") for _, point in _items(cabinet.get("points"))}
        if cabinet.get("dimming") and Role.DIMMING_LEVEL not in roles:
            yield (*loc, "dimming"), "dimming needs a dimming_level point in the cabinet"
    buildings = {_text(b, "id") for _, b in _items(tree.get("buildings"))}
    for e, item in _items(tree.get("equipment")):
        loc = ("equipment", e)
        yield from _unique_id(item, loc, seen_containers, "building, cabinet or equipment")
        yield from _container_points(item, loc, EQUIPMENT_ROLES, "equipment", points)
        yield from _exactly_one(item, loc, Role.EQUIPMENT_RELAY, "piece of equipment")
        where = item.get("building")
        if isinstance(where, str) and where not in buildings:
            yield (*loc, "building"), f"no building {where!r} in this site"
    yield from _comfort_order(tree, (), {}, {})
    yield from _shared_registers(points)
    yield from _bacnet_devices(points)
    yield from _mqtt_broker(points, tree)
    yield from _lorawan_devices(points, tree)
    yield from _agenda_scopes(tree)


def _text(node: Mapping[str, Any], key: str) -> str | None:
    """The text at ``key``, None for anything else (a list is no id; pydantic says so)."""
    value = node.get(key)
    return value if isinstance(value, str) else None


def _scalars_only(*values: Any) -> bool:
    """Whether each value is a scalar, fit to compare and to use as a key: a binding's
    list or mapping where a host or a number stands is pydantic's to report."""
    return all(value is None or isinstance(value, str | int | float) for value in values)


def _mapping(node: Any) -> Mapping[str, Any]:
    return node if isinstance(node, Mapping) else {}


def _items(node: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    if isinstance(node, Sequence) and not isinstance(node, str):
        for index, item in enumerate(node):
            if isinstance(item, Mapping):
                yield index, item


def _unique_id(
    item: Mapping[str, Any], loc: Loc, seen: dict[str, Loc], what: str
) -> Iterator[tuple[Loc, str]]:
    ident = item.get("id")
    if not isinstance(ident, str):
        return
    if ident in seen:
        yield (*loc, "id"), f"duplicate {what} id {ident!r} (first at {_dotted(seen[ident])})"
    else:
        seen[ident] = loc


def _container_points(
    container: Mapping[str, Any],
    loc: Loc,
    allowed: frozenset[Role],
    where: str,
    points: list[tuple[Loc, Mapping[str, Any]]],
) -> Iterator[tuple[Loc, str]]:
    ids: dict[str, Loc] = {}
    for p, point in _items(container.get("points")):
        ploc: Loc = (*loc, "points", p)
        yield from _unique_id(point, ploc, ids, "point")
        role = point.get("role")
        if isinstance(role, str) and role in set(Role) and Role(role) not in allowed:
            names = ", ".join(sorted(allowed))
            yield (*ploc, "role"), f"role {role} cannot stand in {where} (allowed: {names})"
        points.append((ploc, point))


def _exactly_one(
    container: Mapping[str, Any], loc: Loc, role: Role, what: str
) -> Iterator[tuple[Loc, str]]:
    count = sum(1 for _, point in _items(container.get("points")) if point.get("role") == role)
    if count != 1:
        found = "none" if count == 0 else f"{count}"
        yield (*loc, "points"), f"a {what} needs exactly one {role} point, found {found}"


def _comfort_order(
    item: Mapping[str, Any],
    loc: Loc,
    site_comfort: Mapping[str, Any],
    site_bounds: Mapping[str, Any],
) -> Iterator[tuple[Loc, str]]:
    """frost floor <= frost protection <= reduced <= comfort <= ceiling, as they apply here."""
    if "comfort" not in item and "bounds" not in item:
        return
    comfort = {**ComfortLevels().model_dump(), **site_comfort, **_mapping(item.get("comfort"))}
    bounds = {**SafetyBounds().model_dump(), **site_bounds, **_mapping(item.get("bounds"))}
    chain = [
        ("bounds.frost_floor", bounds["frost_floor"]),
        ("comfort.frost_protection", comfort["frost_protection"]),
        ("comfort.reduced", comfort["reduced"]),
        ("comfort.comfort", comfort["comfort"]),
        ("bounds.setpoint_ceiling", bounds["setpoint_ceiling"]),
    ]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for _, v in chain):
        return
    for (low_name, low), (high_name, high) in itertools.pairwise(chain):
        if low > high:
            key = "comfort" if "comfort" in item else "bounds"
            yield (*loc, key), (
                f"{low_name} ({low}) must not be above {high_name} ({high})"
            )


def _valid_learning(node: Any) -> LearningSettings | None:
    """The site's learning settings; None when they are wrong (pydantic says where)."""
    try:
        return LearningSettings.model_validate(node)
    except ValidationError:
        return None


def _learning_over_site(
    zone: Mapping[str, Any], loc: Loc, site: LearningSettings | None
) -> Iterator[tuple[Loc, str]]:
    """A zone's ``learning:`` keys in place of the site's must still hold together (a
    zone's pre-heat cap above the site's cap after a long absence). Checked only when
    both sections are valid on their own: pydantic reports what is wrong in each, once."""
    node = zone.get("learning")
    if site is None or not isinstance(node, Mapping):
        return
    try:
        own = LearningTuning.model_validate(node)
    except ValidationError:
        return
    try:
        site.overridden_by(own)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            yield (*loc, "learning"), error["msg"].removeprefix("Value error, ")


def _shared_registers(points: list[tuple[Loc, Mapping[str, Any]]]) -> Iterator[tuple[Loc, str]]:
    """Two points on one Modbus register (or overlapping 32-bit pairs), or one BACnet object."""
    taken: dict[tuple[Any, ...], Loc] = {}
    slots: list[tuple[Any, ...]]
    for loc, point in points:
        binding = _mapping(point.get("binding"))
        protocol = binding.get("protocol")
        if protocol == "modbus":
            address, width = binding.get("address"), REGISTER_WIDTH.get(
                str(binding.get("data_type", "uint16")), 1
            )
            if not isinstance(address, int):
                continue
            base = (
                "modbus", binding.get("host"), binding.get("port", 502), binding.get("unit", 1),
                binding.get("table"),
            )
            if not _scalars_only(*base):
                continue
            slots = [(*base, address + i) for i in range(width)]
            label = f"{binding.get('table')} {address}"
        elif protocol == "bacnet":
            slots = [(
                "bacnet", binding.get("address"), binding.get("network"), binding.get("mac"),
                binding.get("object_type"),
                binding.get("object_instance"), binding.get("property", "presentValue"),
            )]
            if not _scalars_only(*slots[0]):
                continue
            label = f"{binding.get('object_type')} {binding.get('object_instance')}"
        else:
            continue
        for slot in slots:
            if slot in taken and taken[slot] != loc:
                yield (*loc, "binding"), f"{label} is already used by {_dotted(taken[slot])}"
                break
        for slot in slots:
            taken.setdefault(slot, loc)


def _bacnet_devices(points: list[tuple[Loc, Mapping[str, Any]]]) -> Iterator[tuple[Loc, str]]:
    """One BACnet device per address (a router's address and the device's network and
    MAC behind it), and one address per device instance."""
    instance_of: dict[Any, tuple[Any, Loc]] = {}
    address_of: dict[Any, tuple[Any, Loc]] = {}
    for loc, point in points:
        binding = _mapping(point.get("binding"))
        if binding.get("protocol") != "bacnet":
            continue
        address, instance = binding.get("address"), binding.get("device_instance")
        if not _scalars_only(address, instance, binding.get("network"), binding.get("mac")):
            continue
        if binding.get("network") is not None:
            address = f"{address} network {binding.get('network')} MAC {binding.get('mac')}"
        known = instance_of.setdefault(address, (instance, loc))
        if known[0] != instance:
            yield (*loc, "binding", "device_instance"), (
                f"{address} is device {known[0]} at {_dotted(known[1])}, not {instance}"
            )
        known = address_of.setdefault(instance, (address, loc))
        if known[0] != address:
            yield (*loc, "binding", "address"), (
                f"device {instance} is at {known[0]} in {_dotted(known[1])}, not {address}"
            )


def _mqtt_broker(points: list[tuple[Loc, Mapping[str, Any]]],
                 tree: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """MQTT points need the site's broker: said at each of them, where the reader looks."""
    if "mqtt" in tree:
        return
    for loc, point in points:
        if _mapping(point.get("binding")).get("protocol") == "mqtt":
            yield (*loc, "binding", "protocol"), (
                "an MQTT point needs the site's broker: add `mqtt:` with its host at the "
                "top of the file (see docs/lorawan.md)")


def _lorawan_devices(points: list[tuple[Loc, Mapping[str, Any]]],
                     tree: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """LoRaWAN devices have unique ids and names, need the site's broker, and each
    LoRaWAN point names one of them; a command point's downlink is one its device's codec
    can encode."""
    devices: dict[str, Loc] = {}
    codecs = {_text(device, "id"): device.get("codec", "server")
              for _, device in _items(tree.get("lorawan"))}
    names: dict[tuple[Any, ...], str] = {}
    for d, device in _items(tree.get("lorawan")):
        loc: Loc = ("lorawan", d)
        yield from _unique_id(device, loc, devices, "LoRaWAN device")
        if "mqtt" not in tree:
            yield (*loc, "id"), ("a LoRaWAN device needs the site's broker: add `mqtt:` "
                                 "with its host at the top of the file (see docs/lorawan.md)")
        name = tuple(device.get(key) for key in ("network_server", "application", "dev_eui",
                                                 "device_id"))
        if _scalars_only(*name):
            key = tuple(str(part).lower() if part is not None else None for part in name)
            if key in names:
                yield (*loc, "id"), (f"the same device as {names[key]}: two entries would "
                                     "share its uplinks")
            names.setdefault(key, str(device.get("id")))
    for loc, point in points:
        binding = _mapping(point.get("binding"))
        named = binding.get("device")
        if binding.get("protocol") != "lorawan" or not isinstance(named, str):
            continue
        if named not in devices:
            yield (*loc, "binding", "device"), (
                f"no LoRaWAN device {named!r} in the site's `lorawan:`"
                + (f" (known: {', '.join(sorted(devices))})" if devices else ""))
        elif binding.get("command_field") is not None:
            yield from _lorawan_command(binding, codecs[named], (*loc, "binding"))


def _lorawan_command(binding: Mapping[str, Any], codec: Any,
                     loc: Loc) -> Iterator[tuple[Loc, str]]:
    if codec == "milesight-wt101":
        if binding.get("command_field") != WT101_COMMAND:
            yield (*loc, "command_field"), (f"the WT101's codec encodes {WT101_COMMAND} "
                                            "only")
        if binding.get("command_port") is not None:
            yield (*loc, "command_port"), "the WT101's codec sends on its own port (85)"
    elif binding.get("command_port") is None:
        yield (*loc, "command_field"), ("a downlink the network server's codec encodes "
                                        "needs its command_port (the FPort, 1..223)")


def _agenda_scopes(tree: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """Every name an agenda entry's scope gives exists in the file: a building, a
    ``building.zone`` or a piece of equipment; for lighting entries, a cabinet."""
    zones = {
        _text(building, "id"): {_text(zone, "id") for _, zone in _items(building.get("zones"))}
        for _, building in _items(tree.get("buildings"))
    }
    cabinets = {_text(cabinet, "id") for _, cabinet in _items(tree.get("cabinets"))}
    equipment = {_text(item, "id") for _, item in _items(tree.get("equipment"))}
    for a, entry in _items(tree.get("agenda")):
        scope = entry.get("scope")
        if not isinstance(scope, Sequence) or isinstance(scope, str):
            continue
        lighting = _text(entry, "kind") in LIGHTING_KINDS
        for s, key in enumerate(scope):
            if not isinstance(key, str):
                continue
            loc: Loc = ("agenda", a, "scope", s)
            building, _, zone = key.partition(".")
            if lighting:
                if key not in cabinets:
                    yield loc, f"no lighting cabinet {key!r} in this site"
            elif not zone and key in equipment:
                continue
            elif building not in zones:
                yield loc, f"no building or equipment {building!r} in this site"
            elif zone and zone not in zones[building]:
                yield loc, f"no zone {zone!r} in building {building!r}"


def _dotted(loc: Loc) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
