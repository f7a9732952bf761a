"""``phasedcare keys``: manage the key-encryption keys and the API keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from phasedcare.cli.app import HomeOption, JsonOption, app, parse_actor
from phasedcare.cli.output import console, emit_json, listing, reporting_errors, say
from phasedcare.config import load_settings

if TYPE_CHECKING:
    from phasedcare.service.api_keys import ApiKeys
    from phasedcare.service.ports import ApiKey

__all__: list[str] = []

keys_app = typer.Typer(help="Manage the keys that protect the ledger.", no_args_is_help=True)
api_app = typer.Typer(
    help="API keys: a token per key, scoped to one actor, revocable.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
keys_app.add_typer(api_app, name="api")

_SHOWN_ONCE = (
    "This token is shown only now: it is stored as a hash and cannot be shown again. "
    "Give it to the client that acts as this actor; revoke the key and create another "
    "if it is lost."
)


@keys_app.command("rotate")
def keys_rotate(home: HomeOption = None) -> None:
    """Make a new KEK current and rewrap every case key; records are not touched."""
    from phasedcare.bootstrap import rotate_keys  # noqa: PLC0415 - keep `phasedcare --help` fast

    with reporting_errors():
        kek_id, count = rotate_keys(load_settings(home=home))
    console.print(f"KEK {kek_id} is current; rewrapped {count} case keys", soft_wrap=True)


@contextmanager
def _api_keys(home: Path | None) -> Iterator[ApiKeys]:
    """The API keys of the configured home's database (closed afterwards): the key folder and
    the database must be the policy's region's, as for every engine."""
    # keep `phasedcare --help` fast: the store and the service load only when asked for
    from phasedcare.bootstrap import api_keys_of  # noqa: PLC0415

    with reporting_errors(), api_keys_of(load_settings(home=home)) as keys:
        yield keys


def _public(key: ApiKey) -> dict[str, Any]:
    """What may be shown of a key: never its token, nor the token's hash."""
    return {
        "key_id": key.key_id,
        "actor": key.actor,
        "label": key.label,
        "created_at": key.created_at.isoformat(timespec="seconds"),
        "revoked_at": None
        if key.revoked_at is None
        else key.revoked_at.isoformat(timespec="seconds"),
    }


@api_app.command("create")
def api_create(
    actor: Annotated[
        str,
        typer.Option(
            "--actor",
            help="Who the key acts as, user@organisation:role (the organisation must be "
            "in the policy).",
        ),
    ],
    label: Annotated[
        str, typer.Option(help="What the key is for, e.g. the client's name (no personal data).")
    ] = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key for one actor; its token is shown once, now."""
    who = parse_actor(actor)
    with _api_keys(home) as keys:
        key, token = keys.create(who, label=label)
    if as_json:
        emit_json({**_public(key), "token": token})
    else:
        say(f"API key {key.key_id} for {key.actor}\ntoken: {token}")
    typer.echo(f"warning: {_SHOWN_ONCE}", err=True)


@api_app.command("list")
def api_list(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Every API key, revoked ones included (never a token or its hash)."""
    with _api_keys(home) as keys:
        found = [_public(k) for k in keys.list()]
    listing(
        found,
        as_json=as_json,
        title=f"{len(found)} API keys",
        columns=["key", "actor", "label", "created", "revoked"],
        row=lambda k: [k["key_id"], k["actor"], k["label"], k["created_at"], k["revoked_at"]],
        style=lambda row: "" if row[4] is None else "dim",
    )


@api_app.command("revoke")
def api_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, as `keys api list` shows it.")],
    home: HomeOption = None,
) -> None:
    """Revoke an API key for good: its token is refused from now on."""
    with _api_keys(home) as keys:
        key = keys.revoke(key_id)
    say(f"API key {key.key_id} of {key.actor} is revoked")
