"""Site files: the shipped ones are valid, and every class of error is located by line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gtb.cli import main
from gtb.config import SiteError, SiteFileError, load_site, parse_site, point_lines
from gtb.model.learning import LearningSettings
from gtb.model.points import HEATING_MODES, Role

from .conftest import DEMO_SITE, ROOT


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) >= occurrence, f"{needle!r} not in the text"
    return hits[occurrence - 1]


def errors_of(text: str) -> list[SiteError]:
    with pytest.raises(SiteFileError) as caught:
        parse_site(text, "site.yaml")
    return caught.value.errors


def replace_once(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize("name", ["demo-commune.yaml", "example-annotated.yaml"])
def test_shipped_site_files_are_valid(name: str) -> None:
    site = load_site(ROOT / "sites" / name)
    keys = [ref.key for ref in site.points()]
    assert len(keys) == len(set(keys))
    for building in site.buildings:
        for zone in building.zones:
            roles = [p.role for p in zone.points]
            assert roles.count(Role.ZONE_TEMPERATURE) == 1


def test_the_annotated_example_documents_every_learning_key_with_its_default() -> None:
    site = load_site(ROOT / "sites" / "example-annotated.yaml")
    assert site.learning == LearningSettings()
    assert site.learning.model_fields_set == set(LearningSettings.model_fields)


def test_demo_commune_has_what_the_issue_describes() -> None:
    site = load_site(DEMO_SITE)
    uses = {b.use for b in site.buildings}
    assert {"mairie", "ecole", "gymnase", "mediatheque"} <= uses
    assert all(2 <= len(b.zones) <= 6 for b in site.buildings)
    assert len(site.cabinets) == 3
    protocol_of = {ref.owner: ref.binding.protocol for ref in site.points()}
    assert protocol_of["mairie"] == protocol_of["ecole"] == "modbus"
    assert protocol_of["gymnase"] == protocol_of["mediatheque"] == "bacnet"
    assert all(protocol_of[c.id] == "bacnet" for c in site.cabinets)
    # Comfort levels default to the French rules.
    assert (site.comfort.comfort, site.comfort.reduced, site.comfort.frost_protection) == (
        19.0, 16.0, 8.0)


def test_yaml_1_2_keeps_times_and_words_as_text(demo_site_text: str) -> None:
    """PyYAML would read 18:45 as 1125 (sexagesimal); the programme must stay text."""
    site = parse_site(demo_site_text)
    gym = next(b for b in site.buildings if b.id == "gymnase")
    assert gym.programme is not None
    assert "18:00-22:00" in gym.programme.mon
    assert str(gym.programme.periods(0)[-1]) == "18:00-22:00"


def test_unknown_key_is_reported_on_its_line(demo_site_text: str) -> None:
    text = replace_once(demo_site_text, "floor_area_m2: 420", "floor_area_m2: 420\n    colour: red")
    [error] = errors_of(text)
    assert error.line == line_of(text, "colour: red")
    assert error.path == "buildings[mairie].colour"
    assert "unknown key" in error.message
    assert str(error).startswith(f"site.yaml:{error.line}: buildings[mairie].colour: ")


def test_duplicate_point_id(demo_site_text: str) -> None:
    text = replace_once(demo_site_text, "{id: vanne, role: valve", "{id: consigne, role: valve")
    [error] = errors_of(text)
    assert error.line == line_of(text, "{id: consigne, role: valve")
    assert "duplicate point id 'consigne'" in error.message
    assert error.path == "buildings[mairie].zones[accueil].points[consigne].id"


def test_two_points_on_one_register(demo_site_text: str) -> None:
    # The bureaux valve moved onto the accueil valve's input register 10.
    text = replace_once(demo_site_text, "table: input_register, address: 11,",
                        "table: input_register, address: 10,")
    [error] = errors_of(text)
    assert error.line == line_of(text, "table: input_register, address: 10,", occurrence=2)
    assert "input_register 10 is already used by buildings[0].zones[0].points[2]" in error.message


def test_overlapping_32_bit_registers(demo_site_text: str) -> None:
    # The école's float32 temperatures take two registers: 0-1, 2-3. A point at 1 overlaps.
    text = replace_once(demo_site_text, "table: input_register, address: 2, data_type: float32",
                        "table: input_register, address: 1, data_type: float32")
    [error] = errors_of(text)
    assert error.line == line_of(text, "address: 1, data_type: float32")
    assert "input_register 1 is already used" in error.message


def test_bacnet_priority_outside_1_to_16(demo_site_text: str) -> None:
    needle = "object_type: analogValue, object_instance: 1}"
    text = replace_once(demo_site_text, needle, needle[:-1] + ", priority: 17}")
    [error] = errors_of(text)
    assert error.line == line_of(text, "priority: 17")
    assert error.path == "buildings[gymnase].zones[salle].points[consigne].binding.priority"
    assert "less than or equal to 16" in error.message


def test_zone_without_temperature(demo_site_text: str) -> None:
    needle = "{id: temperature, role: zone_temperature, binding: {protocol: bacnet"
    text = replace_once(demo_site_text, needle, needle.replace("zone_temperature", "co2"))
    [error] = errors_of(text)
    assert error.path == "buildings[gymnase].zones[salle].points"
    assert error.message == "a zone needs exactly one zone_temperature point, found none"
    lines = text.splitlines()
    salle = line_of(text, "name: Salle de sport")
    assert error.line == next(n for n in range(salle, len(lines)) if "points:" in lines[n - 1])


def test_unknown_timezone(demo_site_text: str) -> None:
    text = replace_once(demo_site_text, "timezone: Europe/Paris", "timezone: Europe/Lile")
    [error] = errors_of(text)
    assert error.line == line_of(text, "timezone:")
    assert "unknown timezone 'Europe/Lile'" in error.message


def test_every_error_is_reported_at_once(demo_site_text: str) -> None:
    text = replace_once(demo_site_text, "timezone: Europe/Paris", "timezone: Mars/Olympus")
    text = replace_once(text, "floor_area_m2: 420", "floor_area_m2: -3")
    text = replace_once(text, "{id: vanne, role: valve", "{id: consigne, role: valve")
    text = replace_once(text, "object_instance: 10}}", "object_instance: 10, priority: 0}}")
    errors = errors_of(text)
    messages = " | ".join(e.message for e in errors)
    assert len(errors) == 4, messages
    assert [e.line for e in errors] == sorted(e.line for e in errors)
    assert "unknown timezone" in messages and "greater than 0" in messages
    assert "duplicate point id" in messages and "greater than or equal to 1" in messages


def test_command_on_a_read_only_object(demo_site_text: str) -> None:
    text = replace_once(demo_site_text, "object_type: analogValue, object_instance: 1}",
                        "object_type: analogInput, object_instance: 9}")
    [error] = errors_of(text)
    assert "role heating_setpoint is a command but analogInput cannot be written" in error.message
    assert error.path == "buildings[gymnase].zones[salle].points[consigne]"


def test_role_must_fit_the_kind_of_object(demo_site_text: str) -> None:
    text = replace_once(demo_site_text, "object_type: binaryInput, object_instance: 1}",
                        "object_type: analogInput, object_instance: 99}")
    [error] = errors_of(text)
    assert "role occupancy is binary; analogInput is not a binary… object" in error.message
    assert error.line == line_of(text, "object_instance: 99}")


def test_role_in_the_wrong_place(demo_site_text: str) -> None:
    text = replace_once(demo_site_text, "{id: chaudiere, role: plant_enable",
                        "{id: chaudiere, role: lighting_relay")
    [error] = errors_of(text)
    assert "role lighting_relay cannot stand in a building" in error.message
    assert error.line == line_of(text, "role: lighting_relay")


def test_comfort_levels_out_of_order(demo_site_text: str) -> None:
    text = replace_once(demo_site_text, "school_zone: B", "school_zone: B\ncomfort: {comfort: 22}")
    [error] = errors_of(text)
    assert "comfort.comfort (22) must not be above bounds.setpoint_ceiling (21.0)" in error.message
    assert error.line == line_of(text, "comfort: {comfort: 22}")


def test_non_finite_numbers_are_refused_where_they_are_written(demo_site_text: str) -> None:
    """``.nan`` and ``.inf`` are YAML floats; a NaN would pass every bound unseen."""
    text = replace_once(demo_site_text, "school_zone: B",
                        "school_zone: B\ncomfort: {comfort: .nan}\nbounds: {frost_floor: -.inf}")
    text = replace_once(text, "address: 30, data_type: int16, scale: 0.1}",
                        "address: 30, data_type: int16, scale: .inf}")
    errors = errors_of(text)
    found = {(e.path, e.line) for e in errors if "finite number" in e.message}
    assert found == {
        ("comfort.comfort", line_of(text, "comfort: {comfort: .nan}")),
        ("bounds.frost_floor", line_of(text, "bounds: {frost_floor: -.inf}")),
        ("buildings[mairie].points[temp-ext].binding.scale", line_of(text, "scale: .inf}")),
    }
    assert all(str(e).startswith(f"site.yaml:{e.line}: {e.path}: ") for e in errors
               if "finite number" in e.message)


def test_learning_values_out_of_range_are_located(demo_site_text: str) -> None:
    text = replace_once(demo_site_text, "school_zone: B",
                        "school_zone: B\nlearning:\n  programme_prior_days: 2\n  half_life_days: 0")
    offices = "        name: Bureaux du secrétariat\n"
    text = replace_once(text, offices,
                        f"{offices}        learning: {{max_preheat_hours: 30, colour: red}}\n")
    errors = errors_of(text)
    assert [(e.line, e.path) for e in errors] == [
        (line_of(text, "half_life_days: 0"), "learning.half_life_days"),
        (line_of(text, "max_preheat_hours: 30"),
         "buildings[mairie].zones[bureaux].learning.colour"),
        (line_of(text, "max_preheat_hours: 30"),
         "buildings[mairie].zones[bureaux].learning.max_preheat_hours"),
    ]
    assert "greater than or equal to 1" in errors[0].message
    assert errors[1].message == "unknown key"
    assert "less than or equal to 12" in errors[2].message
    assert str(errors[0]).startswith(f"site.yaml:{errors[0].line}: learning.half_life_days: ")


def test_learning_settings_that_contradict_each_other(demo_site_text: str) -> None:
    text = replace_once(demo_site_text, "school_zone: B",
                        "school_zone: B\nlearning: {max_preheat_after_long_absence_hours: 2}")
    [error] = errors_of(text)
    assert error.line == line_of(text, "learning: {") and error.path == "learning"
    assert ("max_preheat_after_long_absence_hours (2) must not be below max_preheat_hours (3)"
            in error.message)
    # Valid on its own, a zone's key must still fit the site's other keys.
    text = replace_once(demo_site_text, "school_zone: B",
                        "school_zone: B\nlearning: {max_preheat_after_long_absence_hours: 6}")
    offices = "        name: Bureaux du secrétariat\n"
    text = replace_once(text, offices, f"{offices}        learning: {{max_preheat_hours: 8}}\n")
    [error] = errors_of(text)
    assert error.line == line_of(text, "max_preheat_hours: 8")
    assert error.path == "buildings[mairie].zones[bureaux].learning"
    assert ("max_preheat_after_long_absence_hours (6) must not be below max_preheat_hours (8)"
            in error.message)


def test_programme_period_errors(demo_site_text: str) -> None:
    text = replace_once(demo_site_text, 'sat: ["09:00-12:00"]', 'sat: ["12:00-09:00", "8h-9h"]')
    errors = errors_of(text)
    assert {e.line for e in errors} == {line_of(text, "12:00-09:00")}
    messages = " ".join(e.message for e in errors)
    assert "ends before it starts" in messages and "'8h-9h' is not HH:MM-HH:MM" in messages


def test_duplicate_yaml_key_and_syntax_error(demo_site_text: str) -> None:
    text = replace_once(
        demo_site_text, "floor_area_m2: 420", "floor_area_m2: 420\n    floor_area_m2: 430"
    )
    [error] = errors_of(text)
    assert error.line == line_of(text, "floor_area_m2: 430")
    assert "duplicate key" in error.message
    broken = replace_once(demo_site_text, "name: Mairie", "name: [Mairie")
    [error] = errors_of(broken)
    assert error.message.startswith("YAML: ")
    assert line_of(broken, "name: [Mairie") <= error.line <= line_of(broken, "name: [Mairie") + 2


def test_modbus_type_must_fit_its_table(demo_site_text: str) -> None:
    text = replace_once(demo_site_text, "table: coil, address: 0, data_type: bool",
                        "table: coil, address: 0, data_type: uint16")
    [error] = errors_of(text)
    assert "data_type uint16 does not fit table coil" in error.message


def test_heating_modes_are_the_four_of_the_decree() -> None:
    # Décret 2023-444: comfort, reduced, frost protection and off.
    assert list(HEATING_MODES.values()) == ["comfort", "reduced", "frost_protection", "off"]


def test_gtb_check_exit_codes(tmp_path: Path, demo_site_text: str) -> None:
    runner = CliRunner()
    good = tmp_path / "good.yaml"
    good.write_text(demo_site_text, encoding="utf-8")
    result = runner.invoke(main, ["check", str(good)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    assert ("1 scheduled output, 120 points on 3 Modbus and 5 BACnet devices and 4 LoRaWAN "
            "devices through 127.0.0.1:") in result.output

    bad = tmp_path / "bad.yaml"
    bad.write_text(replace_once(demo_site_text, "school_zone: B", "school_zone: D"), "utf-8")
    result = runner.invoke(main, ["check", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:{line_of(bad.read_text(), 'school_zone: D')}: school_zone:" in result.output

    missing = runner.invoke(main, ["check", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_an_error_through_an_alias_is_on_the_line_using_it(demo_site_text: str) -> None:
    """The value behind an alias is the anchor's, but the mistake is using it there."""
    text = replace_once(demo_site_text, "school_zone: B", "school_zone: B\n"
                        "comfort: &chaud {comfort: 25, reduced: 16, frost_protection: 8}\n"
                        "bounds: {setpoint_ceiling: 26}")
    text = replace_once(text, "area_m2: 90", "area_m2: 90\n        comfort: *chaud")
    errors = [e for e in errors_of(text) if "above 24 °C" in e.message]
    assert [(e.path, e.line) for e in errors] == [
        ("comfort.comfort", line_of(text, "comfort: &chaud")),
        ("buildings[mairie].zones[accueil].comfort.comfort", line_of(text, "comfort: *chaud")),
    ]
    assert errors[1].message.endswith(
        f"(through the alias on this line; its anchor is on line {errors[0].line})")


def test_a_comfort_above_24_degrees_needs_its_reason(demo_site_text: str) -> None:
    warm = "school_zone: B\ncomfort: {comfort: 25}\nbounds: {setpoint_ceiling: 26}"
    [error] = errors_of(replace_once(demo_site_text, "school_zone: B", warm))
    assert "comfort 25 °C is above 24 °C" in error.message and "`reason:`" in error.message
    said = warm.replace("{comfort: 25}", '{comfort: 25, reason: "Crèche, moins de 3 ans"}')
    site = parse_site(replace_once(demo_site_text, "school_zone: B", said))
    assert (site.comfort.comfort, site.comfort.reason) == (25, "Crèche, moins de 3 ans")


@pytest.mark.parametrize("host", ["passerelle.mairie.local", "gtb-modbus", "2001:db8::10",
                                  "192.0.2.10"])
def test_a_modbus_host_is_an_ip_address_or_a_host_name(demo_site_text: str, host: str) -> None:
    text = demo_site_text.replace("host: 127.0.0.1,", f"host: '{host}',")
    assert {ref.binding.endpoint[1].rsplit(":", 1)[0] for ref in parse_site(text).points()
            if ref.binding.protocol == "modbus"} == {host}


def test_point_lines_names_the_line_of_every_point() -> None:
    text = DEMO_SITE.read_text(encoding="utf-8")
    lines = point_lines(DEMO_SITE)
    assert len(lines) == len(list(load_site(DEMO_SITE).points()))
    assert lines["mairie.chaudiere"] == line_of(text, "- {id: chaudiere")
    assert lines["mairie.accueil.temperature"] == line_of(text, "- {id: temperature")
