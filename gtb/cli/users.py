"""``gtb users``: accounts of the web panel and API tokens of scripts."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gtb.cli.common import console, errors
from gtb.clock import RealClock
from gtb.store import Store
from gtb.store.accounts import UserRole


@click.group()
def users() -> None:
    """Accounts of the web panel and API tokens of scripts."""


_DB = click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
                   default=Path("var/gtb.sqlite"), show_default=True, help="the engine's store")


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice([r.value for r in UserRole]), required=True,
              help="viewer (elected officials), operator (building managers), admin")
@_DB
def users_add(name: str, role: str, db: Path) -> None:
    """Create an account; the password is asked, or read from standard input."""
    from gtb.store.errors import ConflictError
    from web.auth import MIN_PASSWORD, hash_password

    if sys.stdin.isatty():
        password = click.prompt("mot de passe", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < MIN_PASSWORD:
        errors.print(f"[red]a password has at least {MIN_PASSWORD} characters; "
                     "nothing was created[/red]")
        sys.exit(2)
    db.parent.mkdir(parents=True, exist_ok=True)
    with Store(db) as store:
        try:
            store.accounts.add_user(name, hash_password(password), role, at=RealClock().now())
        except (ConflictError, ValueError) as exc:
            errors.print(f"[red]{exc}; nothing was created[/red]")
            sys.exit(2)
        store.audit.record(RealClock().now(), "user_added", "gtb users",
                           f"Compte {name} créé ({role})", reason="ligne de commande",
                           message_en=f"Account {name} created ({role})",
                           reason_en="command line")
    console.print(f"[green]{name}: {role}[/green] in {db}")


@users.command("token")
@click.argument("name")
@click.option("--label", default="script", show_default=True, help="what the token is for")
@_DB
def users_token(name: str, label: str, db: Path) -> None:
    """Make an API token for NAME (same role as the account); it is shown once."""
    from gtb.store.errors import NotFoundError
    from web.auth import hash_token, new_token

    token = new_token()
    with Store(db) as store:
        try:
            store.accounts.add_token(name, hash_token(token), label, at=RealClock().now())
        except NotFoundError as exc:
            errors.print(f"[red]{exc}[/red]")
            sys.exit(2)
        store.audit.record(RealClock().now(), "token_added", "gtb users",
                           f"Jeton d'API « {label} » créé pour {name}",
                           reason="ligne de commande",
                           message_en=f"API token '{label}' made for {name}",
                           reason_en="command line")
    click.echo(token)
