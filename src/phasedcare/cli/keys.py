"""``phasedcare keys``: manage the key-encryption keys."""

from __future__ import annotations

import typer

from phasedcare.cli.app import HomeOption, app
from phasedcare.cli.output import console, reporting_errors
from phasedcare.config import load_settings

__all__: list[str] = []

keys_app = typer.Typer(help="Manage the keys that protect the ledger.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def keys_rotate(home: HomeOption = None) -> None:
    """Make a new KEK current and rewrap every case key; records are not touched."""
    from phasedcare.bootstrap import rotate_keys  # noqa: PLC0415 - keep `phasedcare --help` fast

    with reporting_errors():
        kek_id, count = rotate_keys(load_settings(home=home))
    console.print(f"KEK {kek_id} is current; rewrapped {count} case keys", soft_wrap=True)
