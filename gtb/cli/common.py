"""What every command shares: the consoles, reading a site file, the demo's site."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from gtb.config import SiteFileError, load_site
from gtb.model import Site

DEMO_SITE = Path(__file__).resolve().parents[2] / "sites" / "demo-commune.yaml"


console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def load_or_exit(path: Path) -> Site:
    """The site of ``path``; else every error of the file on stderr, and exit 2."""
    try:
        return load_site(path)
    except SiteFileError as exc:
        for error in exc.errors:
            errors.print(str(error), markup=False, highlight=False)
        noun = "error" if len(exc.errors) == 1 else "errors"
        errors.print(f"[red]{path}: {len(exc.errors)} {noun}[/red]")
        sys.exit(2)


def count(n: int, noun: str) -> str:
    """« 1 zone », « 3 zones »."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def echo_json(result: dict[str, Any]) -> None:
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))


def quiet_bac0() -> None:
    """BAC0 logs every start-up step at INFO: keep warnings and errors only."""
    import BAC0

    BAC0.log_level(logger="warning", stdout="warning", stderr="critical", log_file="warning",
                   log_this=False)
