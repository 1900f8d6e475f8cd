"""A corpus of broken site files: each gives its own error at its line, through
``load_site`` and through ``gtb check`` (exit 2, the error on stderr), never a traceback.

The files are in ``tests/site-corpus/``, one case each, made from one valid site with one
change; the cases that cannot be committed (a FIFO, a directory, a device, 50 MB, 50,000
levels, random bytes) are made here at run time."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from gtb.cli import main
from gtb.config import SiteFileError, load_site
from gtb.site_yaml import MAX_BYTES

CORPUS = Path(__file__).parent / "site-corpus"

EXPECTED: dict[str, tuple[int, str]] = {
    # file: (line, what the error says there); line 0: the file as a whole
    "address-is-a-map.yaml": (26, 'binding.address: Input should be a valid string'),
    "agenda-end-before-start.yaml": (29, 'end 2026-03-12 17:00 is not after start 2026-03-12'),
    "agenda-offset.yaml": (32, "start: 2026-03-12T18:30:00+01:00 has an offset: write the site's"),
    "agenda-unknown-zone.yaml": (31, "no zone 'cave' in building 'mairie'"),
    "alias-bad-host.yaml": (26, "binding.host: 'http://evil/' is neither an IP address nor a host"),
    "alias-comfort.yaml": (20, 'comfort.comfort: Input should be less than or equal to 26 (thr'),
    "bacnet-broadcast.yaml": (26, "binding.address: 255.255.255.255 is not a device's address"),
    "bacnet-instance-too-big.yaml": (26, 'binding.device_instance: Input should be less than or'),
    "bacnet-ipv6.yaml": (26, 'binding.address: address must be IP:port with a port from 1 to'),
    "bacnet-no-port.yaml": (26, 'binding.address: address must be IP:port with a port from 1 to'),
    "bacnet-not-an-ip.yaml": (26, "binding.address: 'not-an-ip' is not an IPv4 address (e.g."),
    "bacnet-octet-300.yaml": (26, "binding.address: '192.0.2.300' is not an IPv4 address (e.g."),
    "bacnet-port-0.yaml": (26, 'binding.address: address must be IP:port with a port from 1 to'),
    "bacnet-port-70000.yaml": (26, 'binding.address: address must be IP:port with a port from 1'),
    "bacnet-priority-0.yaml": (27, 'binding.priority: Input should be greater than or equal to 1'),
    "bacnet-url.yaml": (26, 'binding.address: address must be IP:port with a port from 1 to'),
    "bad-date.yaml": (32, 'start: Input should be a valid datetime or date, day value is outside'),
    "bad-id.yaml": (9, "id: String should match pattern '^[a-z0-9][a-z0-9_-]*$'"),
    "bad-indent.yaml": (11, 'YAML: mapping values are not allowed in this context'),
    "big-unknown-value.yaml": (12, 'notes: unknown key'),
    "billion-laughs.yaml": (11, 'more than 1,000,000 values (an alias counts for what it'),
    "c1-control.yaml": (17, 'character U+0090 at column 19 is a control character, which YAML'),
    "ceiling-99.yaml": (7, 'bounds.setpoint_ceiling: Input should be less than or equal to 28'),
    "ceiling-below-comfort.yaml": (6, 'comfort: comfort.comfort (19) must not be above'),
    "comfort-25-no-reason.yaml": (6, 'comfort.comfort: comfort 25 °C is above 24 °C: lower it,'),
    "comfort-99.yaml": (6, 'comfort.comfort: Input should be less than or equal to 26'),
    "comfort-above-26-with-reason.yaml": (6, 'comfort.comfort: Input should be less than or'),
    "comfort-reason-blank.yaml": (6, 'comfort.reason: String should have at least 3 characters'),
    "complex-key.yaml": (9, "('a', 'b'): Keys should be strings"),
    "control-char-plain.yaml": (17, 'character U+001B at column 18 is a control character, which'),
    "control-char-quoted.yaml": (30, 'character U+0007 at column 20 is a control character,'),
    "deep-alias.yaml": (7, 'nested deeper than 32 levels through alias *a (anchored at line 6)'),
    "deep-block.yaml": (38, 'nested deeper than 32 levels (a site file needs 9)'),
    "deep-flow.yaml": (6, 'nested deeper than 32 levels (a site file needs 9)'),
    "del-char.yaml": (17, 'character U+007F at column 18 is a control character, which YAML does'),
    "duplicate-anchor.yaml": (7, 'YAML: found duplicate anchor; first occurrence on line 6,'),
    "duplicate-building.yaml": (28, "id: duplicate building, cabinet or equipment id 'mairie'"),
    "duplicate-key.yaml": (12, 'YAML: found duplicate key "use" with value "ecole" (original'),
    "duplicate-point-id.yaml": (24, "id: duplicate point id 'temperature' (first at"),
    "empty.yaml": (1, 'the file is empty: a site file is a mapping of keys (id:, name:,'),
    "float-tag-text.yaml": (18, "YAML: cannot read 'soixante' as float: could not convert string"),
    "frost-above-reduced.yaml": (6, 'comfort: comfort.frost_protection (11) must not be above'),
    "frost-floor-15.yaml": (7, 'bounds.frost_floor: Input should be less than or equal to 12'),
    "frost-floor-minus-50.yaml": (7, 'bounds.frost_floor: Input should be greater than or equal'),
    "frost-protection-2.yaml": (6, 'comfort.frost_protection: Input should be greater than or'),
    "host-is-a-list.yaml": (22, 'binding.host: Input should be a valid string'),
    "huge-integer.yaml": (12, 'YAML: cannot read'),
    "id-is-a-list.yaml": (9, 'id: Input should be a valid string'),
    "kind-is-a-list.yaml": (29, "kind: Input should be 'event', 'closure', 'day', 'lights_on' or"),
    "latin1.yaml": (2, 'not UTF-8 at byte 34 (0xc9): save the file as UTF-8 (a Latin-1 « é » is'),
    "latitude-out.yaml": (3, 'latitude: Input should be less than or equal to 90'),
    "long-bad-host.yaml": (22, "binding.host: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    "missing-key.yaml": (1, 'school_zone: required key is missing'),
    "misspelt-key.yaml": (12, 'floor_area: unknown key'),
    "modbus-float-past-end.yaml": (22, 'binding: float32 at 65535 runs past register 65535'),
    "modbus-host-empty.yaml": (22, "binding.host: '' is neither an IP address nor a host name"),
    "modbus-host-numeric-tld.yaml": (22, "binding.host: '192.0.2.999' is neither an IP address"),
    "modbus-host-path.yaml": (22, "binding.host: 'gateway/modbus' is neither an IP address nor a"),
    "modbus-host-port.yaml": (22, "binding.host: '192.0.2.10:502' is neither an IP address nor a"),
    "modbus-host-space.yaml": (22, "binding.host: 'passerelle mairie' is neither an IP address"),
    "modbus-host-underscore.yaml": (22, "binding.host: 'passerelle_mairie.local' is neither an"),
    "modbus-host-zero.yaml": (22, "binding.host: 0.0.0.0 is not a device's address (unspecified,"),
    "modbus-port-0.yaml": (22, 'binding.port: Input should be greater than 0'),
    "modbus-port-65536.yaml": (22, 'binding.port: Input should be less than 65536'),
    "modbus-register-70000.yaml": (23, 'binding.address: Input should be less than or equal to'),
    "modbus-register-negative.yaml": (23, 'binding.address: Input should be greater than or'),
    "modbus-unit-300.yaml": (22, 'binding.unit: Input should be less than or equal to 247'),
    "modbus-url-host.yaml": (22, "binding.host: 'http://evil/' is neither an IP address nor a"),
    "nan-comfort.yaml": (6, 'comfort.comfort: Input should be a finite number'),
    "nul-byte.yaml": (10, 'NUL byte at byte 223: a binary file, not YAML text'),
    "only-comment.yaml": (1, 'the file is empty: a site file is a mapping of keys (id:, name:,'),
    "period-25h.yaml": (14, "period '13:30-25:00' is not HH:MM-HH:MM (e.g. 08:00-12:30)"),
    "period-backwards.yaml": (14, "period '17:30-13:30' ends before it starts"),
    "period-overlap.yaml": (14, 'programme.mon: periods 08:30-12:00 and 11:30-17:30 overlap'),
    "python-tag.yaml": (10, 'YAML: could not determine a constructor for the tag'),
    "reduced-above-comfort.yaml": (6, 'comfort: comfort.reduced (20) must not be above'),
    "tab-indent.yaml": (10, 'YAML: found a tab character that violates indentation'),
    "top-list.yaml": (1, 'the file is a list: a site file is a mapping of keys (id:, name:,'),
    "top-scalar.yaml": (1, 'the file is a single value (str): a site file is a mapping of keys'),
    "two-documents.yaml": (34, 'YAML: expected a single document in the stream on line 1, but'),
    "unclosed-flow.yaml": (32, "YAML: did not find expected ',' or ']'"),
    "undefined-alias.yaml": (12, 'YAML: found undefined alias'),
    "unknown-key.yaml": (12, 'couleur: unknown key'),
    "unknown-tag.yaml": (10, "YAML: could not determine a constructor for the tag '!secret'"),
    "unknown-timezone.yaml": (6, "timezone: unknown timezone 'Europe/Lutece' (expected e.g."),
    "utf16.yaml": (1, "UTF-16 text (it starts with UTF-16's byte-order mark): save the file as"),
    "wrong-type-list.yaml": (10, 'name: Input should be a valid string'),
    "wrong-type-number.yaml": (18, 'area_m2: Input should be a valid number, unable to parse'),
    "zone-comfort-25.yaml": (20, 'comfort.comfort: comfort 25 °C is above 24 °C: lower it, or'),
    "zone-frost-floor-1.yaml": (19, 'bounds.frost_floor: Input should be greater than or equal'),
}


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


def _sparse_50_mb(path: Path) -> Path:
    with path.open("wb") as file:
        file.truncate(50_000_000)
    return path


def _just_too_large(path: Path) -> Path:
    path.write_bytes(b"# " + b"x" * (MAX_BYTES - 2) + b"\n")
    return path


def _nested_50_000(path: Path) -> Path:
    """Deep enough to crash ruamel's C composer (SIGSEGV) were it not checked first."""
    path.write_text("id: x\nx: " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    return path


def _large_unknown_key(path: Path) -> Path:
    """Under the size limit: read, refused as an unknown key, the value left out."""
    valid = (CORPUS / "unknown-key.yaml").read_text(encoding="utf-8")
    path.write_text(valid + 'notes: "' + "x" * 4_900_000 + '"\n', encoding="utf-8")
    return path


MADE: dict[str, tuple[Callable[[Path], Path], int, str]] = {
    "fifo": (_fifo, 0, "a named pipe (FIFO), not a regular file"),
    "directory": (_directory, 0, "a directory, not a regular file"),
    "device": (lambda _: Path("/dev/zero"), 0, "a device, not a regular file"),
    "missing": (lambda path: path, 0, "cannot read: No such file or directory"),
    "50-mb": (_sparse_50_mb, 0, "larger than 5,000,000 bytes"),
    "5-mb-and-a-byte": (_just_too_large, 0, "larger than 5,000,000 bytes"),
    "nested-50000": (_nested_50_000, 2, "nested deeper than 32 levels"),
    "large-unknown-key": (_large_unknown_key, 35, "notes: unknown key"),
}


def _expected_line(path: Path, line: int, says: str) -> re.Pattern[str]:
    where = f"{re.escape(str(path))}:{line}: " if line else f"{re.escape(str(path))}: "
    return re.compile(f"^{where}.*{re.escape(says)}", re.MULTILINE)


def _errors_of(path: Path) -> str:
    with pytest.raises(SiteFileError) as caught:
        load_site(path)
    assert all(len(str(error)) < 600 for error in caught.value.errors)
    return str(caught.value)


def _checked(path: Path) -> str:
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    return result.stderr


def test_the_corpus_is_the_table() -> None:
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(EXPECTED)
    assert len(EXPECTED) + len(MADE) >= 60


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_broken_file_is_refused_at_its_line(name: str) -> None:
    path = CORPUS / name
    assert _expected_line(path, *EXPECTED[name]).search(_errors_of(path))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_gtb_check_prints_the_error_and_exits_2(name: str) -> None:
    path = CORPUS / name
    assert _expected_line(path, *EXPECTED[name]).search(_checked(path))


@pytest.mark.parametrize("name", sorted(MADE))
def test_files_made_at_run_time_are_refused_without_blocking(name: str, tmp_path: Path) -> None:
    make, line, says = MADE[name]
    path = make(tmp_path / f"{name}.yaml")
    assert _expected_line(path, line, says).search(_errors_of(path))
    assert _expected_line(path, line, says).search(_checked(path))


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_are_a_file_level_error(seed: int, tmp_path: Path) -> None:
    """Bytes as an attacker or a broken disk gives them: NUL, not UTF-8, or a YAML error,
    each with its line; the generator is seeded so that a failure can be replayed."""
    path = tmp_path / "random.yaml"
    path.write_bytes(random.Random(seed).randbytes(4096))
    errors = _errors_of(path)
    assert re.match(rf"{re.escape(str(path))}:\d+: (NUL byte|not UTF-8|character U\+|YAML)",
                    errors), errors
