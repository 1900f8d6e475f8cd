"""The ``gtb`` command. Each theme's commands live in a module of their own; the engine's
parts are wired together in one place, ``gtb.cli.wiring``."""

from __future__ import annotations

import click

from gtb.cli.bench import bench
from gtb.cli.data import export_command, savings_command
from gtb.cli.engine import demo, run
from gtb.cli.site import check, sim
from gtb.cli.users import users


@click.group()
@click.version_option(package_name="gtb")
def main() -> None:
    """GTB: building energy management for the public buildings of French communes."""


for command in (check, sim, run, demo, export_command, savings_command, users, bench):
    main.add_command(command)
