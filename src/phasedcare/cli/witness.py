"""``phasedcare witness``: what another organisation runs to witness an operator's ledger.

``init`` makes a state folder with a cosigning key, ``pull`` fetches the operator's latest
checkpoint, checks it extends the one held and cosigns it, ``status`` shows what is held. A
rollback or fork exits 1 with what was held and what was served (both kept as evidence).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from phasedcare.cli.app import JsonOption, app
from phasedcare.cli.output import console, emit_json, fail, reporting_errors, table

if TYPE_CHECKING:
    from phasedcare.service.witnessing import PullResult, WitnessState

__all__: list[str] = []

witness_app = typer.Typer(
    help="Witness another organisation's ledger: keep and cosign its checkpoints.",
    no_args_is_help=True,
)
app.add_typer(witness_app, name="witness")

StateOption = Annotated[
    Path,
    typer.Option("--state", envvar="PHASEDCARE_WITNESS_STATE", help="The witness's state folder."),
]

EXIT_INCONSISTENT = 1
"""A rollback or fork: the served checkpoint does not extend the one the witness holds."""

EXIT_REFUSED = 5
"""The operator served something that is not a checkpoint its key signed."""

EXIT_UNAVAILABLE = 7
"""The operator's API did not answer (or answered with an error): try again later."""


def _now() -> datetime:
    return datetime.now(UTC)


def _state(folder: Path) -> WitnessState:
    from phasedcare.service.witnessing import WitnessState  # noqa: PLC0415 - httpx only here

    with reporting_errors():
        return WitnessState(folder)


@witness_app.command("init")
def witness_init(
    state: StateOption,
    name: Annotated[
        str,
        typer.Option(
            help="The witness's key name, a schema-less URL of your organisation "
            "(e.g. inspectie.example/witness); no spaces or plus signs."
        ),
    ],
) -> None:
    """Create the state folder (0700) and its Ed25519 cosigning key; print its verifier key."""
    from phasedcare.service.witnessing import WitnessState  # noqa: PLC0415 - httpx only here

    with reporting_errors():
        created = WitnessState.create(state, name=name)
    console.print(f"witness {created.name} in {state}", soft_wrap=True, markup=False)
    console.print(created.vkey, soft_wrap=True, markup=False, highlight=False)


def _show(label: str, note_body: str) -> None:
    console.print(label, markup=False)
    for line in note_body.splitlines():
        console.print(f"  {line}", soft_wrap=True, markup=False, highlight=False)


def _report(result: PullResult, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "outcome": result.outcome,
                "consistent": result.consistent,
                "detail": result.detail,
                "served": {"size": result.served.size, "note": result.served.text},
                "held": None
                if result.held is None
                else {"size": result.held.size, "note": result.held.text},
                "evidence": None if result.evidence is None else str(result.evidence),
                "cosigned_note": result.cosigned_note,
            }
        )
        return
    console.print(result.detail, soft_wrap=True, markup=False, highlight=False)
    if not result.consistent:
        assert result.held is not None  # noqa: S101 - an inconsistency is against a held one
        _show("held:", result.held.text)
        _show("served:", result.served.text)
        console.print(f"evidence kept in {result.evidence}", soft_wrap=True, markup=False)


@witness_app.command("pull")
def witness_pull(
    state: StateOption,
    url: Annotated[str, typer.Option(help="The operator's API base URL, e.g. https://host.")],
    vkey: Annotated[
        str,
        typer.Option(
            help="The operator's checkpoint verifier key (`phasedcare audit public-key` "
            "prints it, last), obtained from the operator out of band."
        ),
    ],
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="PHASEDCARE_WITNESS_API_KEY",
            help="An auditor's API key of the operator's region (better: the environment).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch the operator's latest checkpoint; check it extends the held one; cosign it.

    Exit 1 on a rollback or fork (the evidence is kept in the state folder), 5 when the
    operator serves something its key did not sign, 7 when it does not answer.
    """
    from phasedcare.service.witnessing import (  # noqa: PLC0415 - httpx only here
        OperatorUnavailable,
        WitnessRefused,
        pull,
    )

    witness = _state(state)
    with reporting_errors():
        try:
            result = pull(witness, url=url, vkey=vkey, api_key=api_key, clock=_now)
        except OperatorUnavailable as exc:
            fail(exc.message, EXIT_UNAVAILABLE)
        except WitnessRefused as exc:
            fail(exc.message, EXIT_REFUSED)
    _report(result, as_json)
    if not result.consistent:
        raise typer.Exit(EXIT_INCONSISTENT)


@witness_app.command("status")
def witness_status(state: StateOption, as_json: JsonOption = False) -> None:
    """The witness's verifier key, and per log: the checkpoint held, how many, any evidence."""
    witness = _state(state)
    with reporting_errors():
        logs = witness.statuses()
    if as_json:
        emit_json({"name": witness.name, "vkey": witness.vkey, "logs": [asdict(g) for g in logs]})
        return
    console.print(f"witness {witness.name}", soft_wrap=True, markup=False)
    console.print(witness.vkey, soft_wrap=True, markup=False, highlight=False)
    table(
        f"{len(logs)} logs witnessed",
        ["origin", "size", "root", "extensions", "checkpoints", "cosigned", "evidence"],
        [
            [
                log.origin,
                log.size,
                log.root,
                "; ".join(log.extensions),
                log.checkpoints,
                "yes" if log.cosigned else "NO",
                ", ".join(log.evidence) or "none",
            ]
            for log in logs
        ],
        style=lambda row: "bold red" if row[6] != "none" else "",
    )
