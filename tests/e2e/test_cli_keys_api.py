"""``phasedcare keys api``: create a key (token shown once), list keys, revoke one."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phasedcare.bootstrap import api_keys_of
from phasedcare.cli.app import app
from phasedcare.config import load_settings
from phasedcare.domain.actors import Actor
from phasedcare.errors import NotAuthorised

VT = "u-vt-01@vt-ijsselland:professional"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised home, made once for this module."""
    folder = tmp_path_factory.mktemp("template") / "home"
    result = CliRunner().invoke(app, ["init", "--home", str(folder)])
    assert result.exit_code == 0, result.stderr
    return folder


@pytest.fixture
def home(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the template home, named by PHASEDCARE_HOME."""
    folder = tmp_path / "home"
    shutil.copytree(template, folder)
    monkeypatch.setenv("PHASEDCARE_HOME", str(folder))
    return folder


def run(*args: str, code: int = 0) -> tuple[str, str]:
    """Run ``phasedcare keys api ...`` in-process; assert the exit code; stdout and stderr."""
    result = CliRunner().invoke(app, ["keys", "api", *args])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout, result.stderr


def create(actor: str = VT, *extra: str) -> dict[str, str]:
    """Create a key with --json; what it prints (the token included)."""
    out, _ = run("create", "--actor", actor, *extra, "--json")
    created: dict[str, str] = json.loads(out)
    return created


def authenticate(home: Path, token: str) -> Actor:
    """The actor the home's API keys authenticate ``token`` as."""
    with api_keys_of(load_settings(home=home)) as keys:
        return keys.authenticate(token)


def test_create_prints_the_key_id_and_its_token_once_with_a_warning(home: Path) -> None:
    """The token is printed with the key id, a warning says it is shown once, and it works."""
    out, err = run("create", "--actor", VT, "--label", "case system")
    key_id = out.split()[2]
    token = out.split("token: ")[1].strip()
    assert out.startswith(f"API key {key_id} for {VT}\n")
    assert token.startswith(f"pck_{key_id}_")
    assert "shown only now" in err
    assert str(authenticate(home, token)) == VT


def test_list_shows_keys_but_never_a_token_or_its_hash(home: Path) -> None:
    """Table and JSON list id, actor, label, created and revoked, and nothing of the token."""
    created = create(VT, "--label", "case system")
    table, _ = run("list")
    listed, _ = run("list", "--json")
    secret = created["token"].split("_", 2)[2]  # after pck_<key id>_: the secret may hold "_"
    digest = hashlib.sha256(created["token"].encode()).hexdigest()
    expected = {k: created[k] for k in ("key_id", "actor", "label", "created_at")}
    assert json.loads(listed) == [{**expected, "revoked_at": None}]
    assert all(created["key_id"] in text and VT in text for text in (table, listed))
    assert all(s not in text for s in (secret, digest, "token") for text in (table, listed))


def test_the_database_holds_a_keyed_hash_of_the_token_only(home: Path) -> None:
    """The api_keys row keeps a keyed digest of the token, not its SHA-256; the token is in
    no column."""
    token = create()["token"]
    with sqlite3.connect(home / "phasedcare.db") as db:
        (row,) = db.execute("select * from api_keys").fetchall()
    assert hashlib.sha256(token.encode()).digest() not in row
    assert any(isinstance(value, bytes) and len(value) == 32 for value in row)
    assert all(token.split("_", 2)[2] not in str(value) for value in row)


def test_a_revoked_key_is_listed_as_revoked_and_refused(home: Path) -> None:
    """Revoking prints the key and its actor; list shows when; the token no longer works."""
    created = create()
    out, _ = run("revoke", created["key_id"])
    (listed,) = json.loads(run("list", "--json")[0])
    assert out.strip() == f"API key {created['key_id']} of {VT} is revoked"
    assert listed["revoked_at"] is not None
    with pytest.raises(NotAuthorised):
        authenticate(home, created["token"])


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (("revoke", "0123456789abcdef"), 4, "error: no API key 0123456789abcdef"),
        (
            ("create", "--actor", "u-x@nowhere:professional"),
            3,
            "error: u-x@nowhere:professional is not authorised: organisation nowhere is unknown",
        ),
        (("create", "--actor", "u-x"), 2, "error: actor 'u-x' is not of the form"),
        (("create", "--actor", VT, "--label", "x" * 101), 2, "error: an API key label is"),
    ],
)
def test_refusals_are_one_line_with_an_exit_code(
    home: Path, args: tuple[str, ...], code: int, error: str
) -> None:
    """Unknown key, organisation outside the policy, bad actor or label: one error line."""
    out, err = run(*args, code=code)
    assert (out, err.startswith(error), len(err.strip().splitlines())) == ("", True, 1)
    assert json.loads(run("list", "--json")[0]) == []


def test_an_uninitialised_home_asks_for_init(tmp_path: Path) -> None:
    """Without a database the commands say to run phasedcare init and exit 7."""
    _, err = run("list", "--home", str(tmp_path / "none"), code=7)
    assert "run phasedcare init" in err
