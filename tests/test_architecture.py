"""The house rules of docs/architecture.md, checked on the code itself: imports point one
way, and nothing but the clock reads the system time.

Every import of the project's own modules is read from the sources (``ast``), at module
level and inside functions alike, so that a lazy import cannot hide from the rule."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gtb", "controllers", "protocols", "web")


def _modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


def _imports(path: Path) -> set[str]:
    """The project's modules ``path`` imports (``from gtb import outlook`` counts as
    ``gtb.outlook``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module not in PACKAGES:
                found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES}


MODULES = dict(_modules())
IMPORTS = {name: _imports(path) for name, path in MODULES.items()}


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


VOCABULARY = ("gtb.model", "gtb.texts", "gtb.i18n", "gtb.clock")
RULES: dict[str, tuple[str, ...]] = {
    "gtb.texts": ("gtb.texts", "gtb.i18n"),
    "gtb.i18n": (),
    "gtb.clock": (),
    "gtb.model": ("gtb.model", "gtb.texts"),
    "controllers": ("controllers", *VOCABULARY),
    "protocols": ("protocols", "gtb.model", "gtb.texts"),
    "gtb.store": ("gtb.store", *VOCABULARY),
    "gtb.savings": ("gtb.savings", "gtb.store", "controllers", *VOCABULARY),
    "gtb.engine": ("gtb.engine", "gtb.store", "gtb.savings", "gtb.influx", "controllers",
                   "protocols.base", *VOCABULARY),
    "gtb.sim": ("gtb.sim", "gtb.store", "gtb.engine.efficiency", "gtb.savings", "controllers",
                "protocols", "gtb.config", *VOCABULARY),
    "web": ("web", "gtb.store", "gtb.savings", "gtb.export", "gtb.export_guide", "gtb.archive",
            *VOCABULARY),
    "gtb.archive": ("gtb.archive", *VOCABULARY),
}
"""What each part may import of the project (docs/architecture.md); parts not listed
(``gtb.cli``, ``gtb.bench``, ``gtb.config``, ``gtb.influx``, ``gtb.export``,
``gtb.export_guide``) are checked by the rule on ``gtb.bench`` only."""


@pytest.mark.parametrize("part", sorted(RULES))
def test_each_part_imports_only_what_it_may(part: str) -> None:
    allowed = RULES[part]
    broken = {
        module: sorted(name for name in imported
                       if not _within(name, allowed) and name.split(".")[0] in PACKAGES)
        for module, imported in IMPORTS.items()
        if _within(module, (part,))
    }
    broken = {module: names for module, names in broken.items() if names}
    assert broken == {}, f"{part} may import only {allowed}"


def test_nothing_imports_the_benchmarks_but_the_command_line() -> None:
    users = sorted(module for module, imported in IMPORTS.items()
                   if any(_within(name, ("gtb.bench",)) for name in imported)
                   and not _within(module, ("gtb.bench", "gtb.cli")))
    assert users == []


def test_only_the_clock_reads_the_system_time() -> None:
    readers = []
    for name, path in MODULES.items():
        if name == "gtb.clock":
            continue
        text = path.read_text(encoding="utf-8")
        for call in ("datetime.now(", "datetime.utcnow(", "time.time()", "date.today("):
            if call in text:
                readers.append(f"{name}: {call}")
    assert readers == []


def test_the_rules_see_the_imports_they_judge() -> None:
    """The rules are only as good as the import reader: it sees a lazy import inside a
    function, and ``from gtb import x`` as ``gtb.x``."""
    assert "protocols.bacnet" in IMPORTS["gtb.cli.wiring"]
    assert "gtb.engine.outlook" in IMPORTS["gtb.engine.status"]
