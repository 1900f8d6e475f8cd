"""``gtb users``: accounts of the web panel and API tokens of scripts.

Each change goes through ``web.account_changes``, as the admin page's do, and is a line of
the audit log with the actor « gtb users ». A refused change says why on stderr, changes
nothing and exits with 2. Times are shown in UTC: the command reads no site file.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import click
from rich.table import Table

from gtb.cli.common import console, errors
from gtb.clock import RealClock
from gtb.store import Store
from gtb.store.accounts import TOKEN_DAYS, TOKEN_DAYS_MAX, UserRole
from gtb.texts import Reason


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
    from web import account_changes

    password = _read_password()
    with _refusals():
        account_changes.check_password(password)  # before the store is made
    db.parent.mkdir(parents=True, exist_ok=True)
    with _changing(db, create=True) as store:
        account_changes.add_user(store, name, password, role,
                                 by=account_changes.Actor.command_line(), at=RealClock().now())
    console.print(f"[green]{name}: {role}[/green] in {db}")


@users.command("list")
@_DB
def users_list(db: Path) -> None:
    """Every account (role, state, creation) and every API token (id, label, dates, state)."""
    with _changing(db) as store:
        now = RealClock().now()
        accounts = Table(title="Comptes (UTC)")
        for column in ("nom", "rôle", "état", "créé"):
            accounts.add_column(column, overflow="fold")
        for user in store.accounts.users():
            accounts.add_row(user.name, Reason.of(f"role.{user.role.value}").fr,
                             "désactivé" if user.disabled else "actif", _utc(user.created_at))
        tokens = Table(title="Jetons d'API (UTC)")
        for column in ("n°", "compte", "libellé", "créé", "expire", "dernier usage", "état"):
            tokens.add_column(column, overflow="fold")  # never hide a label
        for token in store.accounts.tokens():
            state = {"live": "actif", "expired": "expiré",
                     "revoked": f"révoqué {_utc(token.revoked_at)}"}[token.state(now)]
            tokens.add_row(str(token.id), token.user, token.label, _utc(token.created_at),
                           _utc(token.expires_at, "jamais"), _utc(token.last_used_at),
                           state)
    console.print(accounts, tokens)


@users.command("disable")
@click.argument("name")
@_DB
def users_disable(name: str, db: Path) -> None:
    """Disable NAME: it can no longer sign in, its sessions end, its tokens stop working."""
    _set_disabled(name, True, db)


@users.command("enable")
@click.argument("name")
@_DB
def users_enable(name: str, db: Path) -> None:
    """Enable NAME again (its tokens, unless revoked or expired, work again)."""
    _set_disabled(name, False, db)


@users.command("passwd")
@click.argument("name")
@_DB
def users_passwd(name: str, db: Path) -> None:
    """Change NAME's password (asked twice, or read from standard input); NAME's sessions
    end."""
    from web import account_changes

    password = _read_password()
    with _changing(db) as store:
        account_changes.change_password(store, name, password,
                                        by=account_changes.Actor.command_line(),
                                        at=RealClock().now())
    console.print(f"[green]{name}: password changed[/green]")


@users.command("token")
@click.argument("name")
@click.option("--label", default="script", show_default=True, help="what the token is for")
@click.option("--days", type=int, default=TOKEN_DAYS, show_default=True,
              help=f"how long the token works (1 to {TOKEN_DAYS_MAX} days)")
@_DB
def users_token(name: str, label: str, days: int, db: Path) -> None:
    """Make an API token for NAME (same role as the account); it is shown once."""
    from web import account_changes

    with _changing(db) as store:
        token, text = account_changes.add_token(store, name, label, days=days,
                                                by=account_changes.Actor.command_line(),
                                                at=RealClock().now())
    errors.print(f"token {token.id} for {token.user}, until {_utc(token.expires_at)} UTC")
    click.echo(text)


@users.command("revoke-token")
@click.argument("token_id", metavar="ID", type=int)
@_DB
def users_revoke_token(token_id: int, db: Path) -> None:
    """Revoke the API token ID (see ``gtb users list``): it stops working at once."""
    from web import account_changes

    with _changing(db) as store:
        token = account_changes.revoke_token(store, token_id,
                                             by=account_changes.Actor.command_line(),
                                             at=RealClock().now())
    console.print(f"[green]token {token.id} « {token.label} » of {token.user} revoked[/green]")


def _set_disabled(name: str, disabled: bool, db: Path) -> None:
    from web import account_changes

    with _changing(db) as store:
        account_changes.set_disabled(store, name, disabled,
                                     by=account_changes.Actor.command_line(),
                                     at=RealClock().now())
    console.print(f"[green]{name}: {'disabled' if disabled else 'enabled'}[/green]")


@contextmanager
def _changing(db: Path, *, create: bool = False) -> Iterator[Store]:
    """The store at ``db`` (made only if ``create``), for changes that may be refused."""
    if not create and not db.is_file():
        _refuse(f"no store at {db} (--db)")
    with Store(db) as store, _refusals():
        yield store


@contextmanager
def _refusals() -> Iterator[None]:
    """A refused change ends the command with its reason on stderr and exit code 2."""
    from web.panel import ActionError

    try:
        yield
    except ActionError as exc:
        _refuse(exc.en.rstrip("."))


def _refuse(why: str) -> NoReturn:
    errors.print(f"[red]{why}; nothing was changed[/red]", highlight=False)
    sys.exit(2)


def _read_password() -> str:
    """Asked twice on a terminal, else the first line of standard input (scripts)."""
    if sys.stdin.isatty():
        password: str = click.prompt("mot de passe", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\n")


def _utc(moment: datetime | None, none: str = "—") -> str:
    return none if moment is None else f"{moment:%Y-%m-%d %H:%M}"
