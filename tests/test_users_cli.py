"""``gtb users`` through click's test runner on a real store file: each change lands in the
store with its line in the audit log (actor « gtb users »), and a refused one says why on
stderr, exits with 2 and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from werkzeug.security import check_password_hash

from gtb.cli import main
from gtb.store import Store
from gtb.store.accounts import TOKEN_DAYS_MAX
from web.auth import hash_token

PASSWORD = "correct horse battery"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store with an admin, marie (operator), and a token of marie's."""
    path = tmp_path / "gtb.sqlite"
    assert gtb("add", "admin", "--role", "admin", db=path, input=PASSWORD).exit_code == 0
    assert gtb("add", "marie", "--role", "operator", db=path, input=PASSWORD).exit_code == 0
    assert gtb("token", "marie", "--label", "relevés", db=path).exit_code == 0
    return path


def gtb(*args: str, db: Path, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["users", *args, "--db", str(db)], input=input)


def refused(result: Result, why: str) -> None:
    assert result.exit_code == 2, result.output
    assert f"{why}; nothing was changed" in result.stderr
    assert result.stdout == ""


def log(db: Path) -> list[tuple[str, str, str, str | None]]:
    """The audit log's lines, oldest first: kind, actor, message in English, reason."""
    with Store(db) as store:
        return [(e.kind, e.actor, e.message_en or "", e.reason)
                for e in reversed(store.audit.events(limit=1000))]


def test_list_shows_the_accounts_and_their_tokens(db: Path) -> None:
    gtb("disable", "marie", db=db)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(main, ["users", "list", "--db", str(db)])
    assert result.exit_code == 0, result.output
    accounts, tokens = result.stdout.split("Jetons d'API")
    assert "admin" in accounts and "marie" in accounts and "opérateur" in accounts
    assert "désactivé" in accounts and "actif" in accounts
    assert "relevés" in tokens and "marie" in tokens and "actif" in tokens
    assert "jamais" not in tokens  # a new token expires


def test_disable_then_enable_an_account(db: Path) -> None:
    assert gtb("disable", "Marie", db=db).exit_code == 0  # names regardless of case
    with Store(db) as store:
        marie = store.accounts.user("marie")
        assert marie is not None and marie.disabled
    refused(gtb("disable", "marie", db=db), "Account marie is already disabled")
    assert gtb("enable", "marie", db=db).exit_code == 0
    refused(gtb("enable", "marie", db=db), "Account marie is already enabled")
    assert log(db)[-2:] == [
        ("user_disabled", "gtb users", "Account marie disabled", "ligne de commande"),
        ("user_enabled", "gtb users", "Account marie enabled", "ligne de commande")]


def test_a_disabled_accounts_tokens_stop_working(db: Path) -> None:
    result = gtb("token", "marie", "--label", "supervision", db=db)
    text = result.stdout.strip()
    with Store(db) as store:
        [token] = [t for t in store.accounts.tokens() if t.label == "supervision"]
        assert store.accounts.token_user(hash_token(text), at=token.created_at) is not None
    gtb("disable", "marie", db=db)
    with Store(db) as store:
        assert store.accounts.token_user(hash_token(text), at=token.created_at) is None


def test_passwd_reads_standard_input_and_refuses_a_short_password(db: Path) -> None:
    assert gtb("passwd", "marie", db=db, input="a new long password\n").exit_code == 0
    with Store(db) as store:
        marie = store.accounts.user("marie")
        assert marie is not None
        assert check_password_hash(marie.password_hash, "a new long password")
    refused(gtb("passwd", "marie", db=db, input="short\n"),
            "A password has at least 10 characters")
    refused(gtb("passwd", "paul", db=db, input="a new long password\n"),
            "Unknown account: paul")
    with Store(db) as store:
        assert store.accounts.user("marie") == marie
    assert [line[:3] for line in log(db) if line[0] == "password_changed"] == [
        ("password_changed", "gtb users", "Password of marie changed")]


def test_a_token_has_its_label_and_expiry_and_is_printed_once(db: Path) -> None:
    result = gtb("token", "marie", "--label", "compteurs", "--days", "30", db=db)
    assert result.exit_code == 0
    text = result.stdout.strip()
    assert text.startswith("gtb_") and "\n" not in text  # the token alone: $(gtb users token)
    with Store(db) as store:
        token = store.accounts.tokens()[-1]
        assert token.label == "compteurs" and token.user == "marie"
        assert token.expires_at is not None
        assert token.expires_at - token.created_at == timedelta(days=30)
        assert store.accounts.token_user(hash_token(text), at=token.created_at) is not None
    assert f"token {token.id} for marie" in result.stderr
    assert log(db)[-1][:3] == ("token_added", "gtb users",
                               f"API token {token.id} 'compteurs' made for marie, valid for "
                               "30 days")
    assert gtb("token", "admin", db=db).exit_code == 0
    with Store(db) as store:
        token = store.accounts.tokens()[0]  # admin's, listed first
        assert token.expires_at is not None
        assert token.expires_at - token.created_at == timedelta(days=365)


@pytest.mark.parametrize(("args", "why"), [
    (["--days", "0"], f"A token works for 1 to {TOKEN_DAYS_MAX} days, not 0"),
    (["--days", str(TOKEN_DAYS_MAX + 1)], f"not {TOKEN_DAYS_MAX + 1}"),
    (["--label", " "], "The token's label says what it is for, in 1 to 120 characters"),
    (["--label", "x" * 121], "in 1 to 120 characters"),
])
def test_a_token_that_would_not_do_is_refused(db: Path, args: list[str], why: str) -> None:
    before = log(db)
    refused(gtb("token", "marie", *args, db=db), why)
    assert log(db) == before
    with Store(db) as store:
        assert len(store.accounts.tokens()) == 1


def test_revoke_a_token(db: Path) -> None:
    with Store(db) as store:
        [token] = store.accounts.tokens()
    result = gtb("revoke-token", str(token.id), db=db)
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        revoked = store.accounts.token(token.id)
        assert revoked is not None and revoked.revoked_at is not None
    assert log(db)[-1][:3] == ("token_revoked", "gtb users",
                               f"API token {token.id} 'relevés' of marie revoked")
    refused(gtb("revoke-token", str(token.id), db=db), f"API token {token.id} is already revoked")
    refused(gtb("revoke-token", "99", db=db), "Unknown API token: 99")
    refused(gtb("revoke-token", str(2**70), db=db), f"Unknown API token: {2**70}")


def test_an_unknown_account_or_store_changes_nothing(db: Path, tmp_path: Path) -> None:
    before = log(db)
    for command in ("disable", "enable", "token"):
        refused(gtb(command, "paul", db=db), "Unknown account: paul")
    assert log(db) == before
    missing = tmp_path / "elsewhere.sqlite"
    refused(gtb("disable", "marie", db=missing), f"no store at {missing} (--db)")
    assert not missing.exists()


def test_add_refuses_a_short_password_before_making_the_store(tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite"
    refused(gtb("add", "marie", "--role", "admin", db=db, input="short\n"),
            "A password has at least 10 characters")
    assert not db.exists()


def test_add_refuses_a_name_taken(db: Path) -> None:
    before = log(db)
    refused(gtb("add", "MARIE", "--role", "admin", db=db, input=PASSWORD),
            "Account MARIE already exists")
    assert log(db) == before
